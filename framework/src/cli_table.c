/* cli_table.c - the subcommands `seam` knows; add one line per command. */
#include "cli.h"

#include <stddef.h>

const struct seam_cli_command seam_cli_commands[] = {
        {"run", seam_cli_run},
        {"check-config", seam_cli_check_config},
        {"demo", seam_cli_demo},
        {"schema", seam_cli_schema},
        {"lag", seam_cli_lag},
        {"lag-exporter", seam_cli_lag_exporter},
        {"plugin", seam_cli_plugin},
        {"dlq", seam_cli_dlq},
        {"replay", seam_cli_replay},
        {NULL, NULL},
};
