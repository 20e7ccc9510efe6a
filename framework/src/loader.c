#include "loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

struct seam_plugin_set {
        struct seam_loaded_plugin **items; /* stable addresses for callers */
        size_t count;
};

struct seam_plugin_set *seam_plugin_set_new(void)
{
        return calloc(1, sizeof(struct seam_plugin_set));
}

void seam_plugin_set_destroy(struct seam_plugin_set *set)
{
        if (!set)
                return;
        for (size_t i = 0; i < set->count; i++) {
                /* Keep plugins mapped under ASan so leak reports can still
                 * symbolize frames inside them. */
                if (!getenv("SEAM_NO_DLCLOSE"))
                        dlclose(set->items[i]->dl);
                free(set->items[i]->path);
                free(set->items[i]);
        }
        free(set->items);
        free(set);
}

static int file_exists(const char *path)
{
        return access(path, R_OK) == 0;
}

static int try_dir(const char *dir, const char *name, char *out, size_t outlen)
{
        int n = snprintf(out, outlen, "%s/%s.so", dir, name);
        return n > 0 && (size_t)n < outlen && file_exists(out);
}

/* Directory of the running executable, for plugins shipped beside it. */
static int exe_dir(char *out, size_t outlen)
{
        ssize_t n = readlink("/proc/self/exe", out, outlen - 1);
        if (n <= 0)
                return -1;
        out[n] = '\0';
        char *slash = strrchr(out, '/');
        if (!slash)
                return -1;
        *slash = '\0';
        return 0;
}

static int resolve(const char *spec, char *const *dirs, size_t dir_count,
                   char *out, size_t outlen, char *errstr, size_t errstr_size)
{
        if (strchr(spec, '/')) {
                if (!file_exists(spec)) {
                        snprintf(errstr, errstr_size, "plugin file %s: not found or not readable", spec);
                        return SEAM_ERR_PLUGIN;
                }
                snprintf(out, outlen, "%s", spec);
                return 0;
        }
        for (size_t i = 0; i < dir_count; i++)
                if (try_dir(dirs[i], spec, out, outlen))
                        return 0;
        const char *env = getenv("SEAM_PLUGIN_PATH");
        if (env) {
                char *copy = strdup(env), *save = NULL;
                for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                        if (*d && try_dir(d, spec, out, outlen)) {
                                free(copy);
                                return 0;
                        }
                }
                free(copy);
        }
        char exe[PATH_MAX - 32], dir[PATH_MAX];
        if (exe_dir(exe, sizeof(exe)) == 0) {
                snprintf(dir, sizeof(dir), "%s/plugins", exe);
                if (try_dir(dir, spec, out, outlen))
                        return 0;
                snprintf(dir, sizeof(dir), "%s/../lib/seam/plugins", exe);
                if (try_dir(dir, spec, out, outlen))
                        return 0;
        }
        snprintf(errstr, errstr_size,
                 "plugin '%s': no %s.so on the plugin path (seam.plugin_path, "
                 "$SEAM_PLUGIN_PATH, or the plugins folder beside seam)",
                 spec, spec);
        return SEAM_ERR_PLUGIN;
}

/* The size of struct seam_plugin at ABI 1.0: the host reads nothing past it
 * from a 1.0 plugin. */
#define SEAM_PLUGIN_MIN_SIZE                                                   \
        (offsetof(struct seam_plugin, close) + sizeof(void (*)(void *)))

static int check_def(const char *path, const struct seam_plugin *def,
                     char *errstr, size_t errstr_size)
{
        if (!def) {
                snprintf(errstr, errstr_size, "plugin %s: seam_plugin_entry() returned NULL", path);
                return SEAM_ERR_PLUGIN;
        }
        uint32_t major = SEAM_ABI_VERSION_MAJOR(def->abi_version);
        if (major != SEAM_ABI_MAJOR) {
                snprintf(errstr, errstr_size,
                         "plugin %s: built for plugin ABI %u.%u, this seam "
                         "supports ABI %d.x (rebuild the plugin against this "
                         "seam's headers)",
                         path, major, SEAM_ABI_VERSION_MINOR(def->abi_version),
                         SEAM_ABI_MAJOR);
                return SEAM_ERR_PLUGIN;
        }
        if (def->struct_size < SEAM_PLUGIN_MIN_SIZE) {
                snprintf(errstr, errstr_size,
                         "plugin %s: struct seam_plugin is %u bytes, smaller "
                         "than the %zu of ABI %d.0 (corrupt or not built with "
                         "SEAM_PLUGIN_HEADER)",
                         path, def->struct_size, (size_t)SEAM_PLUGIN_MIN_SIZE,
                         SEAM_ABI_MAJOR);
                return SEAM_ERR_PLUGIN;
        }
        if (!def->name || !*def->name) {
                snprintf(errstr, errstr_size, "plugin %s: has no name", path);
                return SEAM_ERR_PLUGIN;
        }
        if (!def->init || !def->handle) {
                snprintf(errstr, errstr_size, "plugin %s (%s): missing %s callback",
                         path, def->name, !def->init ? "init" : "handle");
                return SEAM_ERR_PLUGIN;
        }
        return 0;
}

int seam_plugin_set_load(struct seam_plugin_set *set, const char *spec,
                         char *const *dirs, size_t dir_count,
                         const struct seam_loaded_plugin **out, char *errstr,
                         size_t errstr_size)
{
        char path[PATH_MAX], real[PATH_MAX];
        int err = resolve(spec, dirs, dir_count, path, sizeof(path), errstr, errstr_size);
        if (err)
                return err;
        if (!realpath(path, real))
                snprintf(real, sizeof(real), "%s", path);
        for (size_t i = 0; i < set->count; i++) {
                if (!strcmp(set->items[i]->path, real)) {
                        *out = set->items[i];
                        return 0;
                }
        }
        dlerror();
        void *dl = dlopen(real, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
                snprintf(errstr, errstr_size, "plugin %s: cannot load: %s", real, dlerror());
                return SEAM_ERR_PLUGIN;
        }
        seam_plugin_entry_fn entry;
        /* POSIX: a data pointer from dlsym converts to a function pointer. */
        *(void **)(&entry) = dlsym(dl, SEAM_PLUGIN_ENTRY_SYMBOL);
        if (!entry) {
                snprintf(errstr, errstr_size,
                         "plugin %s: does not export the symbol %s (define it "
                         "with SEAM_PLUGIN_DEFINE)",
                         real, SEAM_PLUGIN_ENTRY_SYMBOL);
                dlclose(dl);
                return SEAM_ERR_PLUGIN;
        }
        const struct seam_plugin *def = entry();
        if ((err = check_def(real, def, errstr, errstr_size))) {
                dlclose(dl);
                return err;
        }
        for (size_t i = 0; i < set->count; i++) {
                if (!strcmp(set->items[i]->def->name, def->name)) {
                        snprintf(errstr, errstr_size,
                                 "plugin %s: duplicate plugin name '%s', "
                                 "already loaded from %s",
                                 real, def->name, set->items[i]->path);
                        dlclose(dl);
                        return SEAM_ERR_PLUGIN;
                }
        }
        struct seam_loaded_plugin **items =
            realloc(set->items, (set->count + 1) * sizeof(*items));
        struct seam_loaded_plugin *lp = calloc(1, sizeof(*lp));
        char *pathcopy = strdup(real);
        if (!items || !lp || !pathcopy) {
                if (items)
                        set->items = items;
                free(lp);
                free(pathcopy);
                dlclose(dl);
                snprintf(errstr, errstr_size, "plugin %s: out of memory", real);
                return SEAM_ERR_NOMEM;
        }
        set->items = items;
        *lp = (struct seam_loaded_plugin){pathcopy, dl, def};
        set->items[set->count++] = lp;
        *out = lp;
        return 0;
}
