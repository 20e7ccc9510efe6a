/* log.h - the one structured logger of the process: JSON lines (default) or
 * logfmt, on stderr. Thread-safe; each line is written with one write(2) so
 * lines from threads never interleave. Lines about a message carry consumer,
 * topic, partition, offset and correlation_id. */
#ifndef SEAM_LOG_H
#define SEAM_LOG_H

#include <stdint.h>

#include "seam/plugin.h" /* seam_log_level */

enum seam_log_format { SEAM_LOG_JSON = 0, SEAM_LOG_LOGFMT = 1 };

/* What a line is about; every field is optional (NULL / -1). */
struct seam_log_ctx {
        const char *consumer;
        const char *plugin;
        const char *topic;
        int32_t partition; /* -1: none */
        int64_t offset;    /* -1: none */
        const char *correlation_id;
};

#define SEAM_LOG_CTX_NONE                                                      \
        ((struct seam_log_ctx){NULL, NULL, NULL, -1, -1, NULL})

void seam_log_setup(enum seam_log_format format, seam_log_level min_level);
int seam_log_parse_format(const char *s, enum seam_log_format *out);
int seam_log_parse_level(const char *s, seam_log_level *out);
int seam_log_enabled(seam_log_level level);

void seam_log(seam_log_level level, const struct seam_log_ctx *ctx,
              const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like seam_log, but at most one line per `key` every `interval_ms`; the
 * next line that gets through says how many were suppressed. For errors that
 * repeat in a loop (broker down). */
void seam_log_limited(const char *key, int64_t interval_ms,
                      seam_log_level level, const struct seam_log_ctx *ctx,
                      const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define seam_log_info(...) seam_log(SEAM_LOG_INFO, NULL, __VA_ARGS__)
#define seam_log_warn(...) seam_log(SEAM_LOG_WARN, NULL, __VA_ARGS__)
#define seam_log_error(...) seam_log(SEAM_LOG_ERROR, NULL, __VA_ARGS__)
#define seam_log_debug(...) seam_log(SEAM_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
