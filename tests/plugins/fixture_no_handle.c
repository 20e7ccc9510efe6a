/* fixture_no_handle.c - loader fixture: no handle callback. */
#include "seam/plugin.h"

static int init(seam_ctx *ctx, const struct seam_host_api *api, void **state)
{
        (void)ctx;
        (void)api;
        *state = 0;
        return 0;
}

static const struct seam_plugin no_handle = {
        SEAM_PLUGIN_HEADER,
        .name = "fixture_no_handle",
        .version = "0",
        .init = init,
};

SEAM_PLUGIN_DEFINE(no_handle)
