/* noop.c - benchmark plugin: handle() does nothing and returns SEAM_OK, so a
 * benchmark measures the host alone (tests/bench/bench_consume.c).
 *
 * Optional timing marks, for the benchmark to measure from the first
 * handled message rather than from process start (the group join would
 * otherwise dominate a short run). With `stamp_file` set it appends, each
 * with one write(2), the CLOCK_MONOTONIC time in microseconds:
 *   first US\n   when handle() is called the first time
 *   done US\n    when handle() has been called `expect` times
 * The cost per message is one relaxed atomic increment, and only when
 * `expect` is set.
 *
 * Config keys:
 *   stamp_file   path of the marks file (default: none, no marks)
 *   expect       message count that writes the `done` mark (default 0: none)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "seam/plugin.h"

struct noop {
        int fd; /* -1: no marks */
        int64_t expect;
        atomic_int first_seen;
        atomic_llong handled;
};

static const struct seam_config_key noop_keys[] = {
        {"stamp_file", SEAM_CONFIG_STRING, NULL, 0, "append first/done timing marks here"},
        {"expect", SEAM_CONFIG_INT, "0", 0, "handled count that writes the done mark"},
        {NULL, 0, NULL, 0, NULL},
};

static void noop_mark(int fd, const char *what)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        char line[64];
        int n = snprintf(line, sizeof(line), "%s %lld\n", what,
                         (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000);
        /* A lost mark shows up as a benchmark timeout, not as a bad number. */
        if (n > 0 && write(fd, line, (size_t)n) != n)
                return;
}

static int noop_init(seam_ctx *ctx, const struct seam_host_api *api, void **state)
{
        struct noop *p = calloc(1, sizeof(*p));
        if (!p)
                return -1;
        p->fd = -1;
        const char *path;
        if (api->config_string(ctx, "stamp_file", &path) == 0 && *path) {
                p->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (p->fd < 0) {
                        api->log(ctx, NULL, SEAM_LOG_ERROR, "cannot open %s: %s", path,
                                 strerror(errno));
                        free(p);
                        return -1;
                }
        }
        api->config_int(ctx, "expect", &p->expect);
        *state = p;
        return 0;
}

static seam_result noop_handle(void *state, const seam_msg *msg)
{
        struct noop *p = state;
        (void)msg;
        if (p->fd < 0)
                return SEAM_OK;
        if (!atomic_load_explicit(&p->first_seen, memory_order_relaxed) &&
            !atomic_exchange(&p->first_seen, 1))
                noop_mark(p->fd, "first");
        if (p->expect > 0 &&
            atomic_fetch_add_explicit(&p->handled, 1, memory_order_relaxed) + 1 == p->expect)
                noop_mark(p->fd, "done");
        return SEAM_OK;
}

static void noop_close(void *state)
{
        struct noop *p = state;
        if (!p)
                return;
        if (p->fd >= 0)
                close(p->fd);
        free(p);
}

static const struct seam_plugin noop_plugin = {
        SEAM_PLUGIN_HEADER,
        .name = "noop",
        .version = "1.0.0",
        .config_keys = noop_keys,
        .init = noop_init,
        .handle = noop_handle,
        .close = noop_close,
};

SEAM_PLUGIN_DEFINE(noop_plugin)
