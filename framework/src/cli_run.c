/* cli_run.c - `seam run -c FILE [--embedded-broker]`: run the consumers of a
 * config until SIGTERM/SIGINT, then drain and exit. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"
#include "err.h"
#include "log.h"
#include "runtime.h"

static void run_usage(FILE *out)
{
        fprintf(out,
                "usage: seam run -c FILE [--embedded-broker] [--log-format json|logfmt]\n"
                "                [--log-level debug|info|warn|error]\n"
                "\n"
                "Runs every consumer of the config until SIGTERM or SIGINT, then stops\n"
                "fetching, lets running handlers finish, commits and exits 0.\n"
                "  -c, --config FILE     the YAML config (see README, Config reference)\n"
                "  --embedded-broker     start the in-process mock cluster and point every\n"
                "                        consumer at it (same as seam.embedded_broker: true)\n");
}

int seam_cli_run(int argc, char **argv)
{
        static const struct option opts[] = {
                {"config", required_argument, NULL, 'c'},
                {"embedded-broker", no_argument, NULL, 'e'},
                {"log-format", required_argument, NULL, 'f'},
                {"log-level", required_argument, NULL, 'l'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *path = NULL, *log_format = NULL, *log_level = NULL;
        int embedded = 0, c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c': path = optarg; break;
                case 'e': embedded = 1; break;
                case 'f': log_format = optarg; break;
                case 'l': log_level = optarg; break;
                case 'h': run_usage(stdout); return SEAM_EXIT_OK;
                default: run_usage(stderr); return SEAM_EXIT_USAGE;
                }
        }
        if (!path || optind != argc) {
                fprintf(stderr, "seam run: %s\n", path ? "unexpected argument" : "-c FILE is required");
                run_usage(stderr);
                return SEAM_EXIT_USAGE;
        }

        /* Before any thread exists, so only the main thread takes signals. */
        seam_signals_block();
        struct seam_config *cfg;
        int code = seam_cli_load_config(path, &cfg);
        if (code)
                return code;
        if ((code = seam_cli_setup_log(cfg, log_format, log_level))) {
                seam_config_destroy(cfg);
                return code;
        }
        char err[2048];
        struct seam_runtime *rt = NULL;
        int rc = seam_runtime_open(cfg, embedded, &rt, err, sizeof(err));
        if (!rc)
                rc = seam_runtime_start(rt, err, sizeof(err));
        if (rc) {
                seam_log_error("%s", err);
                fprintf(stderr, "seam: %s\n", err);
                seam_runtime_destroy(rt);
                seam_config_destroy(cfg);
                return seam_err_exit_code(rc);
        }
        code = seam_runtime_wait(rt, NULL, NULL);
        seam_runtime_destroy(rt);
        if (code != SEAM_EXIT_DRAIN_TIMEOUT)
                seam_config_destroy(cfg);
        seam_log_info("exit %d", code);
        return code;
}
