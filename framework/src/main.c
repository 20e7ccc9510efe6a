/* main.c - the `seam` command: dispatches to one subcommand per file
 * (cli_*.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "err.h"

static void usage(FILE *out)
{
        fprintf(out,
                "usage: seam COMMAND [OPTIONS]\n"
                "\n"
                "commands:\n"
                "  run -c FILE [--embedded-broker]   run the consumers of a config\n"
                "  check-config -c FILE              validate a config without connecting\n"
                "  demo                              run the demo on the embedded broker\n"
                "  schema check|register|get         Avro contract checks and the registry\n"
                "  lag --group G --bootstrap H:P     committed/end offset and lag of consumer groups\n"
                "  lag-exporter --group G ...        serve that lag as Prometheus metrics\n"
                "  plugin new NAME --schema F.avsc   generate a plugin folder\n"
                "  plugin test PLUGIN.so ...         run a plugin offline on JSON-lines input\n"
                "  dlq inspect|replay TOPIC          list or re-publish dead-lettered records\n"
                "  replay -c FILE --consumer NAME .. reset a stopped group's offsets to reprocess\n"
                "  version                           print the version\n"
                "\n"
                "Run `seam COMMAND --help` for the options of one command.\n");
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                usage(stderr);
                return SEAM_EXIT_USAGE;
        }
        const char *cmd = argv[1];
        for (const struct seam_cli_command *c = seam_cli_commands; c->name; c++) {
                if (!strcmp(cmd, c->name))
                        return c->run(argc - 1, argv + 1);
        }
        if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
                usage(stdout);
                return SEAM_EXIT_OK;
        }
        if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
                printf("seam %s (plugin ABI %d.%d)\n", SEAM_VERSION, SEAM_ABI_MAJOR,
                       SEAM_ABI_MINOR);
                return SEAM_EXIT_OK;
        }
        fprintf(stderr, "seam: unknown command '%s'\n\n", cmd);
        usage(stderr);
        return SEAM_EXIT_USAGE;
}
