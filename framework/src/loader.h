/* loader.h - finds, opens and checks plugin shared objects.
 *
 * A plugin is refused, with a message naming the file and the reason, when:
 * it cannot be found or dlopen()ed; it does not export seam_plugin_entry; the
 * entry returns NULL; its ABI major differs from the host's; its struct is
 * smaller than the ABI it claims; a required callback or the name is missing;
 * or another, different file already registered the same plugin name. */
#ifndef SEAM_LOADER_H
#define SEAM_LOADER_H

#include <stddef.h>

#include "seam/plugin.h"

struct seam_loaded_plugin {
        char *path;                    /* resolved file path */
        void *dl;                      /* dlopen handle */
        const struct seam_plugin *def; /* from the entry symbol */
};

/* Set of loaded plugins; loading the same file twice returns the same entry. */
struct seam_plugin_set;

struct seam_plugin_set *seam_plugin_set_new(void);
/* dlclose()s everything; call after every instance using them closed. */
void seam_plugin_set_destroy(struct seam_plugin_set *set); /* accepts NULL */

/* Load `spec`: a path if it contains '/', else NAME looked up as NAME.so in
 * `dirs`, then in $SEAM_PLUGIN_PATH (':'-separated), then next to the
 * executable (./plugins, ../lib/seam/plugins). On success *out is owned by
 * the set. */
int seam_plugin_set_load(struct seam_plugin_set *set, const char *spec,
                         char *const *dirs, size_t dir_count,
                         const struct seam_loaded_plugin **out, char *errstr,
                         size_t errstr_size);

#endif
