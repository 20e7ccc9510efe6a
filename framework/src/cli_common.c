#include "cli_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "log.h"

int seam_cli_load_config(const char *path, struct seam_config **out)
{
        char err[2048];
        if (seam_config_load(path, out, err, sizeof(err)) != 0) {
                fprintf(stderr, "seam: config error: %s\n", err);
                return SEAM_EXIT_CONFIG;
        }
        return 0;
}

int seam_cli_setup_log(const struct seam_config *cfg, const char *format, const char *level)
{
        enum seam_log_format f = SEAM_LOG_JSON;
        seam_log_level l = SEAM_LOG_INFO;
        const char *fs = format ? format : cfg ? cfg->log_format : NULL;
        const char *ls = level ? level : cfg ? cfg->log_level : NULL;
        if (fs && seam_log_parse_format(fs, &f) < 0) {
                fprintf(stderr, "seam: --log-format: expected json or logfmt, got \"%s\"\n", fs);
                return SEAM_EXIT_USAGE;
        }
        if (ls && seam_log_parse_level(ls, &l) < 0) {
                fprintf(stderr, "seam: --log-level: expected debug, info, warn or error, got \"%s\"\n", ls);
                return SEAM_EXIT_USAGE;
        }
        seam_log_setup(f, l);
        return 0;
}

int seam_cli_parse_long(const char *s, long min, long max, long *out)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                return -1;
        *out = v;
        return 0;
}

int seam_cli_append(const char ***arr, size_t *n, const char *v)
{
        const char **a = realloc(*arr, (*n + 1) * sizeof(*a));
        if (!a)
                return -1;
        a[(*n)++] = v;
        *arr = a;
        return 0;
}
