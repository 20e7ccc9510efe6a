/* fixture_bad_abi.c - loader fixture: claims plugin ABI major 99. */
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
        *state = NULL;
        return 0;
}

static const struct seam_plugin bad_abi = {
        .abi_version = (99u << 16) | 0u,
        .struct_size = sizeof(struct seam_plugin),
        .name = "fixture_bad_abi",
        .version = "0",
        .init = init,
        .handle = handle,
};

SEAM_PLUGIN_DEFINE(bad_abi)
