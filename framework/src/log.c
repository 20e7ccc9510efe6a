#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static enum seam_log_format log_format = SEAM_LOG_JSON;
static seam_log_level log_min_level = SEAM_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void seam_log_setup(enum seam_log_format format, seam_log_level min_level)
{
        log_format = format;
        log_min_level = min_level;
}

int seam_log_parse_format(const char *s, enum seam_log_format *out)
{
        if (!strcmp(s, "json"))
                *out = SEAM_LOG_JSON;
        else if (!strcmp(s, "logfmt"))
                *out = SEAM_LOG_LOGFMT;
        else
                return -1;
        return 0;
}

int seam_log_parse_level(const char *s, seam_log_level *out)
{
        for (int i = 0; i < 4; i++) {
                if (!strcmp(s, level_names[i])) {
                        *out = (seam_log_level)i;
                        return 0;
                }
        }
        return -1;
}

int seam_log_enabled(seam_log_level level)
{
        return level >= log_min_level;
}

/* A bounded line buffer: appends are truncated, never overflow. */
struct line {
        char buf[4096];
        size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
        size_t room = sizeof(l->buf) - 2 - l->len; /* keep '\n' + NUL */
        if (n > room)
                n = room;
        memcpy(l->buf + l->len, s, n);
        l->len += n;
}

static void puts_raw(struct line *l, const char *s)
{
        put(l, s, strlen(s));
}

/* JSON string escaping (RFC 8259); logfmt quotes values that need it with
 * the same escapes, which logfmt parsers accept. */
static void put_escaped(struct line *l, const char *s, int quote_always)
{
        int needs_quote = quote_always || !*s;
        for (const char *p = s; *p && !needs_quote; p++)
                if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20)
                        needs_quote = 1;
        if (needs_quote)
                put(l, "\"", 1);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                char esc[8];
                switch (*p) {
                case '"': put(l, "\\\"", 2); break;
                case '\\': put(l, "\\\\", 2); break;
                case '\n': put(l, "\\n", 2); break;
                case '\r': put(l, "\\r", 2); break;
                case '\t': put(l, "\\t", 2); break;
                default:
                        if (*p < 0x20) {
                                snprintf(esc, sizeof(esc), "\\u%04x", *p);
                                puts_raw(l, esc);
                        } else {
                                put(l, (const char *)p, 1);
                        }
                }
        }
        if (needs_quote)
                put(l, "\"", 1);
}

static void field_str(struct line *l, int *first, const char *k, const char *v)
{
        if (log_format == SEAM_LOG_JSON) {
                puts_raw(l, *first ? "{\"" : ",\"");
                puts_raw(l, k);
                puts_raw(l, "\":");
                put_escaped(l, v, 1);
        } else {
                if (!*first)
                        put(l, " ", 1);
                puts_raw(l, k);
                put(l, "=", 1);
                put_escaped(l, v, 0);
        }
        *first = 0;
}

static void field_int(struct line *l, int *first, const char *k, long long v)
{
        char num[32];
        snprintf(num, sizeof(num), "%lld", v);
        if (log_format == SEAM_LOG_JSON) {
                puts_raw(l, *first ? "{\"" : ",\"");
                puts_raw(l, k);
                puts_raw(l, "\":");
                puts_raw(l, num);
        } else {
                if (!*first)
                        put(l, " ", 1);
                puts_raw(l, k);
                put(l, "=", 1);
                puts_raw(l, num);
        }
        *first = 0;
}

static void vlog(seam_log_level level, const struct seam_log_ctx *ctx,
                 const char *fmt, va_list ap)
{
        struct line l = {.len = 0};
        int first = 1;
        char ts[40], msg[3072];
        int64_t now_ms = seam_wall_ms();
        time_t secs = (time_t)(now_ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(now_ms % 1000));
        vsnprintf(msg, sizeof(msg), fmt, ap);

        field_str(&l, &first, "ts", ts);
        field_str(&l, &first, "level", level_names[level]);
        if (ctx) {
                if (ctx->consumer)
                        field_str(&l, &first, "consumer", ctx->consumer);
                if (ctx->plugin)
                        field_str(&l, &first, "plugin", ctx->plugin);
                if (ctx->topic)
                        field_str(&l, &first, "topic", ctx->topic);
                if (ctx->partition >= 0)
                        field_int(&l, &first, "partition", ctx->partition);
                if (ctx->offset >= 0)
                        field_int(&l, &first, "offset", ctx->offset);
                if (ctx->correlation_id)
                        field_str(&l, &first, "correlation_id",
                                  ctx->correlation_id);
        }
        field_str(&l, &first, "msg", msg);
        if (log_format == SEAM_LOG_JSON)
                put(&l, "}", 1);
        l.buf[l.len++] = '\n';
        /* One write per line: atomic for pipes up to PIPE_BUF and in
         * practice for files opened O_APPEND, so threads never interleave. */
        ssize_t w = write(STDERR_FILENO, l.buf, l.len);
        (void)w;
}

void seam_log(seam_log_level level, const struct seam_log_ctx *ctx,
              const char *fmt, ...)
{
        if (!seam_log_enabled(level))
                return;
        va_list ap;
        va_start(ap, fmt);
        vlog(level, ctx, fmt, ap);
        va_end(ap);
}

#define RATE_SLOTS 64

static struct {
        char key[64];
        int64_t last_ms;
        unsigned suppressed;
} rate_slots[RATE_SLOTS];
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;

void seam_log_limited(const char *key, int64_t interval_ms,
                      seam_log_level level, const struct seam_log_ctx *ctx,
                      const char *fmt, ...)
{
        if (!seam_log_enabled(level))
                return;
        int64_t now = seam_mono_ms();
        unsigned suppressed = 0;
        int emit = 1;
        pthread_mutex_lock(&rate_lock);
        unsigned h = 5381;
        for (const char *p = key; *p; p++)
                h = h * 33 + (unsigned char)*p;
        /* A hash slot per key; two keys sharing a slot only share a budget,
         * which errs on the side of fewer lines, never more. */
        unsigned slot = h % RATE_SLOTS;
        if (strncmp(rate_slots[slot].key, key, sizeof(rate_slots[slot].key) - 1) == 0 &&
            now - rate_slots[slot].last_ms < interval_ms) {
                rate_slots[slot].suppressed++;
                emit = 0;
        } else {
                snprintf(rate_slots[slot].key, sizeof(rate_slots[slot].key), "%s", key);
                suppressed = rate_slots[slot].suppressed;
                rate_slots[slot].suppressed = 0;
                rate_slots[slot].last_ms = now;
        }
        pthread_mutex_unlock(&rate_lock);
        if (!emit)
                return;
        char msg[3072];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (suppressed)
                seam_log(level, ctx, "%s (%u similar lines suppressed)", msg,
                         suppressed);
        else
                seam_log(level, ctx, "%s", msg);
}
