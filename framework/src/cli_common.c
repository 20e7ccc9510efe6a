#include "cli_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- time ---------------------------------------------------------------- */

/* Smallest accepted epoch milliseconds: smaller is seconds given by mistake. */
#define MIN_EPOCH_MS 100000000000LL

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil): no timegm, no TZ environment involved. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
        y -= m <= 2;
        const int64_t era = (y >= 0 ? y : y - 399) / 400;
        const unsigned yoe = (unsigned)(y - era * 400);
        const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char **s, int n, int *out)
{
        int v = 0;
        for (int k = 0; k < n; k++) {
                char c = (*s)[k];
                if (c < '0' || c > '9')
                        return -1;
                v = v * 10 + (c - '0');
        }
        *s += n;
        *out = v;
        return 0;
}

int seam_cli_parse_time(const char *s, int64_t *out, const char **why)
{
        size_t n = strlen(s);
        *why = "expected ISO-8601 (2026-11-22T10:00:00Z) or epoch milliseconds";
        if (n > 0 && strspn(s, "0123456789") == n) {
                if (n > 15)
                        return -1;
                int64_t v = strtoll(s, NULL, 10);
                if (v < MIN_EPOCH_MS) {
                        *why = "looks like epoch seconds: give milliseconds";
                        return -1;
                }
                *out = v;
                return 0;
        }
        int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
        if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' ||
            digits(&s, 2, &d))
                return -1;
        int64_t offset_min = 0;
        if (*s == 'T' || *s == 't') {
                s++;
                if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi))
                        return -1;
                if (*s == ':') {
                        s++;
                        if (digits(&s, 2, &sec))
                                return -1;
                        if (*s == '.') {
                                s++;
                                int scale = 100, k = 0;
                                for (; *s >= '0' && *s <= '9'; s++, k++) {
                                        ms += (*s - '0') * scale;
                                        scale /= 10;
                                }
                                if (k == 0 || k > 9)
                                        return -1;
                        }
                }
                if (*s == 'Z' || *s == 'z') {
                        s++;
                } else if (*s == '+' || *s == '-') {
                        int sign = *s++ == '-' ? -1 : 1, oh, om;
                        if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) ||
                            oh > 23 || om > 59)
                                return -1;
                        offset_min = sign * (oh * 60 + om);
                } else {
                        *why = "a time of day needs its zone (Z or +HH:MM)";
                        return -1;
                }
        }
        if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59)
                return -1;
        static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
                return -1;
        int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
                       mi * 60 + sec - offset_min * 60;
        *out = secs * 1000 + ms;
        return 0;
}


int seam_cli_add_prop(char ***props, size_t *count, const char *kv)
{
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv)
                return -1;
        char **p = realloc(*props, (*count + 3) * sizeof(*p));
        if (!p)
                return -1;
        *props = p;
        p[*count] = strndup(kv, (size_t)(eq - kv));
        p[*count + 1] = strdup(eq + 1);
        p[*count + 2] = NULL;
        if (!p[*count] || !p[*count + 1]) {
                free(p[*count]);
                free(p[*count + 1]);
                p[*count] = NULL;
                return -1;
        }
        *count += 2;
        return 0;
}
