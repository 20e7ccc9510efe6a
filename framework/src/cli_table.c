/* cli_table.c - the subcommands `seam` knows; add one line per command. */
#include "cli.h"

#include <stddef.h>

const struct seam_cli_command seam_cli_commands[] = {
        {"run", seam_cli_run},
        {"check-config", seam_cli_check_config},
        {"demo", seam_cli_demo},
        {"schema", seam_cli_schema},
        {NULL, NULL},
};
