/* fixture_no_entry.c - loader fixture: a shared object without the
 * seam_plugin_entry symbol. */
#include "seam/plugin.h"

SEAM_PLUGIN_EXPORT int fixture_not_a_plugin(void);
SEAM_PLUGIN_EXPORT int fixture_not_a_plugin(void)
{
        return 42;
}
