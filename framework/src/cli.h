/* cli.h - the table of `seam` subcommands. Each lives in its own cli_*.c
 * file and receives argv starting at the subcommand name. Returns a process
 * exit code (enum seam_exit). */
#ifndef SEAM_CLI_H
#define SEAM_CLI_H

#include "seam/plugin.h"

struct seam_cli_command {
        const char *name;
        int (*run)(int argc, char **argv);
};

extern const struct seam_cli_command seam_cli_commands[];

int seam_cli_run(int argc, char **argv);
int seam_cli_check_config(int argc, char **argv);
int seam_cli_demo(int argc, char **argv);
int seam_cli_schema(int argc, char **argv);
int seam_cli_lag(int argc, char **argv);
int seam_cli_lag_exporter(int argc, char **argv);
int seam_cli_plugin(int argc, char **argv);
int seam_cli_plugin_test(int argc, char **argv);
int seam_cli_plugin_new(int argc, char **argv);
int seam_cli_dlq(int argc, char **argv);
int seam_cli_replay(int argc, char **argv);

#endif
