/* cli_check_config.c - `seam check-config -c FILE`: validate a config the
 * way `seam run` would, without connecting to anything. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "cli_common.h"
#include "err.h"
#include "runtime.h"

int seam_cli_check_config(int argc, char **argv)
{
        static const struct option opts[] = {
                {"config", required_argument, NULL, 'c'},
                {"embedded-broker", no_argument, NULL, 'e'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *path = NULL;
        int embedded = 0, c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c': path = optarg; break;
                case 'e': embedded = 1; break;
                case 'h':
                        printf("usage: seam check-config -c FILE [--embedded-broker]\n"
                               "Loads the config, every plugin and its config block, and\n"
                               "checks every librdkafka property; connects to nothing.\n");
                        return SEAM_EXIT_OK;
                default: return SEAM_EXIT_USAGE;
                }
        }
        if (!path || optind != argc) {
                fprintf(stderr, "usage: seam check-config -c FILE [--embedded-broker]\n");
                return SEAM_EXIT_USAGE;
        }
        struct seam_config *cfg;
        int code = seam_cli_load_config(path, &cfg);
        if (code)
                return code;
        char err[2048];
        int rc = seam_runtime_check(cfg, embedded || cfg->embedded_broker, err, sizeof(err));
        if (rc) {
                fprintf(stderr, "seam: %s\n", err);
                seam_config_destroy(cfg);
                return seam_err_exit_code(rc);
        }
        printf("%s: OK (%zu consumer%s)\n", path, cfg->consumer_count,
               cfg->consumer_count == 1 ? "" : "s");
        for (size_t i = 0; i < cfg->consumer_count; i++) {
                const struct seam_consumer_config *cc = &cfg->consumers[i];
                printf("  %s: plugin %s, group %s, %zu topic(s), %d workers\n", cc->name,
                       cc->plugin, cc->group_id, cc->topic_count, cc->workers);
        }
        seam_config_destroy(cfg);
        return SEAM_EXIT_OK;
}
