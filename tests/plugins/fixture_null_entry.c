/* fixture_null_entry.c - loader fixture: the entry returns NULL. */
#include <stddef.h>

#include "seam/plugin.h"

SEAM_PLUGIN_EXPORT const struct seam_plugin *seam_plugin_entry(void);
SEAM_PLUGIN_EXPORT const struct seam_plugin *seam_plugin_entry(void)
{
        return NULL;
}
