/* fixture_dup_recorder.c - loader fixture: a different file that registers
 * the plugin name "recorder", already taken by recorder.so. */
#include "seam/plugin.h"

static seam_result handle(void *state, const seam_msg *msg)
{
        (void)state;
        (void)msg;
        return SEAM_OK;
}

static int init(seam_ctx *ctx, const struct seam_host_api *api, void **state)
{
        (void)ctx;
        (void)api;
        *state = 0;
        return 0;
}

static const struct seam_plugin dup = {
        SEAM_PLUGIN_HEADER,
        .name = "recorder",
        .version = "0",
        .init = init,
        .handle = handle,
};

SEAM_PLUGIN_DEFINE(dup)
