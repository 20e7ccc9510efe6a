/* fixture_newer_minor.c - loader fixture: built against a newer minor of
 * ABI 1 with a bigger struct (entries appended later). The host must accept
 * it and read only the fields it knows. */
#include "seam/plugin.h"

struct seam_plugin_future {
        struct seam_plugin base;
        void (*appended_later)(void);
};

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

static const struct seam_plugin_future future = {
        .base = {
                .abi_version = (SEAM_ABI_MAJOR << 16) | (SEAM_ABI_MINOR + 5),
                .struct_size = sizeof(struct seam_plugin_future),
                .name = "fixture_newer_minor",
                .version = "9",
                .init = init,
                .handle = handle,
        },
};

SEAM_PLUGIN_EXPORT const struct seam_plugin *seam_plugin_entry(void);
SEAM_PLUGIN_EXPORT const struct seam_plugin *seam_plugin_entry(void)
{
        return &future.base;
}
