/* fixture_small_struct.c - loader fixture: struct_size smaller than ABI 1.0
 * (a corrupt or hand-rolled header). */
#include "seam/plugin.h"

static const struct seam_plugin small_struct = {
        .abi_version = SEAM_ABI_VERSION,
        .struct_size = 8,
        .name = "fixture_small_struct",
};

SEAM_PLUGIN_DEFINE(small_struct)
