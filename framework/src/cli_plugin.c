/* cli_plugin.c - `seam plugin new|test`: the plugin developer's commands.
 * `new` writes a plugin folder from a schema (cli_plugin_new.c), `test`
 * runs a plugin offline through the pipeline (harness.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "err.h"

int seam_cli_plugin(int argc, char **argv)
{
        if (argc >= 2 && !strcmp(argv[1], "test"))
                return seam_cli_plugin_test(argc - 1, argv + 1);
        if (argc >= 2 && !strcmp(argv[1], "new"))
                return seam_cli_plugin_new(argc - 1, argv + 1);
        fprintf(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
                "usage: seam plugin new NAME --schema FILE.avsc [--dir DIR] [--force]\n"
                "       seam plugin test PLUGIN.so --config FILE.yaml --input FILE.jsonl "
                "[--expect FILE]\n");
        return argc >= 2 && !strcmp(argv[1], "--help") ? SEAM_EXIT_OK : SEAM_EXIT_USAGE;
}
