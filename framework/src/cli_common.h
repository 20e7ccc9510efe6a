/* cli_common.h - what the subcommands share: loading the config named by
 * -c with a clear error, and setting up the logger from it. */
#ifndef SEAM_CLI_COMMON_H
#define SEAM_CLI_COMMON_H

#include <stdint.h>

#include "config.h"

/* Loads `path`; on error prints it to stderr and returns the exit code
 * (SEAM_EXIT_CONFIG), else 0. */
int seam_cli_load_config(const char *path, struct seam_config **out);

/* Applies log_format/log_level from the config, unless overridden by the
 * --log-format/--log-level values given (NULL: not given). Returns an exit
 * code (0 ok). */
int seam_cli_setup_log(const struct seam_config *cfg, const char *format, const char *level);

/* A decimal integer in min..max, the whole string; 0 or -1. */
int seam_cli_parse_long(const char *s, long min, long max, long *out);
/* Epoch milliseconds, or ISO-8601 YYYY-MM-DD[THH:MM[:SS[.fff]](Z|+HH:MM|-HH:MM)]
 * (a time of day needs its zone: local time would depend on the operator's
 * TZ). 0, or -1 with *why set. */
int seam_cli_parse_time(const char *s, int64_t *out, const char **why);

/* -X key=value into a NULL-terminated key, value, ... list of malloc'ed
 * strings; -1 if there is no '=' (or no key), or out of memory. */
int seam_cli_add_prop(char ***props, size_t *count, const char *kv);

/* Appends a borrowed string to a growing array (repeated options); 0 or -1. */
int seam_cli_append(const char ***arr, size_t *n, const char *v);

#endif
