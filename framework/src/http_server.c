#include "http_server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "err.h"
#include "log.h"
#include "metrics.h"

#define CHECK_NAME_MAX 64
#define WHY_MAX 256
#define HEALTH_BODY_MAX 4096

struct check {
        enum seam_health_kind kind;
        char name[CHECK_NAME_MAX];
        seam_health_check_fn fn;
        void *arg;
};

struct seam_http_server {
        struct MHD_Daemon *daemon;
        struct seam_metrics *metrics;
        int port;
        pthread_mutex_t lock; /* the checks */
        struct check *checks;
        size_t ncheck, capcheck;
        /* The last libmicrohttpd error, so a failed start can say why
         * ("Address already in use") instead of only "cannot start". */
        char last_error[256];
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
        struct seam_http_server *s = cls;
        char msg[sizeof(s->last_error)];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
                msg[--n] = '\0';
        memcpy(s->last_error, msg, n + 1);
        seam_log_limited("http-server", 10000, SEAM_LOG_WARN, NULL, "http: %s", msg);
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
                               const char *type, char *body, size_t len,
                               int owned)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(
            len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
        if (!r) {
                if (owned)
                        free(body);
                return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        /* Probes and scrapes must see the current state, never a cache. */
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        enum MHD_Result ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn,
                                    unsigned status, const char *text)
{
        return respond(conn, status, "text/plain; charset=utf-8", (char *)text,
                       strlen(text), 0);
}

/* Runs every check of `kind`; the body is "ok\n" or one "name: why" line
 * per failing check. Returns the number of failing checks. */
static int run_checks(struct seam_http_server *s, enum seam_health_kind kind,
                      char *body, size_t cap)
{
        int failing = 0;
        size_t len = 0;
        body[0] = '\0';
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->ncheck; i++) {
                struct check *c = &s->checks[i];
                char why[WHY_MAX] = "";
                if (c->kind != kind || c->fn(c->arg, why, sizeof(why)) == 0)
                        continue;
                failing++;
                why[sizeof(why) - 1] = '\0';
                /* One line per check, whatever the check wrote. */
                for (char *p = why; *p; p++)
                        if (*p == '\n' || *p == '\r')
                                *p = ' ';
                if (len < cap) {
                        int n = snprintf(body + len, cap - len, "%s: %s\n", c->name,
                                         why[0] ? why : "failing");
                        len = n < 0 ? cap : len + (size_t)n;
                }
        }
        pthread_mutex_unlock(&s->lock);
        if (!failing)
                snprintf(body, cap, "ok\n");
        return failing;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
        struct seam_http_server *s = cls;
        int is_metrics = !strcmp(url, "/metrics");
        int is_health = !strcmp(url, "/healthz");
        int is_ready = !strcmp(url, "/readyz");

        if (!is_metrics && !is_health && !is_ready)
                return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
        /* Answered on the first call, before any request body is read:
         * libmicrohttpd then discards the body and closes the connection. */
        if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
                return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                                    "method not allowed\n");
        if (is_metrics) {
                if (!s->metrics)
                        return respond_text(conn, MHD_HTTP_NOT_FOUND, "no metrics\n");
                size_t len;
                char *text = seam_metrics_render(s->metrics, &len);
                if (!text)
                        return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                            "out of memory\n");
                return respond(conn, MHD_HTTP_OK, SEAM_METRICS_CONTENT_TYPE, text,
                               len, 1);
        }
        char body[HEALTH_BODY_MAX];
        int failing = run_checks(s, is_health ? SEAM_HEALTH_LIVENESS : SEAM_HEALTH_READINESS,
                                 body, sizeof(body));
        return respond_text(conn, failing ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
                            body);
}

int seam_http_server_start(const char *bind_addr, int port,
                           struct seam_metrics *metrics,
                           struct seam_http_server **out, char *errstr,
                           size_t errstr_size)
{
        struct addrinfo hints = {0}, *ai = NULL;
        struct sockaddr_storage sa;
        const char *addr = bind_addr && *bind_addr ? bind_addr : "127.0.0.1";

        *out = NULL;
        if (port < 0 || port > 65535) {
                snprintf(errstr, errstr_size, "http: invalid port %d", port);
                return SEAM_ERR_INVALID;
        }
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        int gai = getaddrinfo(addr, NULL, &hints, &ai);
        if (gai != 0 || !ai) {
                snprintf(errstr, errstr_size, "http: cannot use bind address '%s': %s",
                         addr, gai ? gai_strerror(gai) : "no address");
                return SEAM_ERR_INVALID;
        }
        memset(&sa, 0, sizeof(sa));
        memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
        int ipv6 = ai->ai_family == AF_INET6;
        freeaddrinfo(ai);
        if (ipv6)
                ((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)port);
        else
                ((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)port);

        struct seam_http_server *s = calloc(1, sizeof(*s));
        if (!s) {
                snprintf(errstr, errstr_size, "http: out of memory");
                return SEAM_ERR_NOMEM;
        }
        pthread_mutex_init(&s->lock, NULL);
        s->metrics = metrics;
        /* epoll where available: select() would fail on descriptors past
         * FD_SETSIZE, which a process with many broker connections reaches.
         * Limits and a timeout so idle or slow clients cannot pile up.
         * Dual stack so that "::" also takes IPv4, as "everywhere" means. */
        unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
                         (ipv6 ? MHD_USE_DUAL_STACK : 0);
        s->daemon = MHD_start_daemon(
            flags, (uint16_t)port, NULL, NULL, handle, s,
            /* The logger first, or earlier options log to stderr. */
            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)10, MHD_OPTION_END);
        if (!s->daemon) {
                snprintf(errstr, errstr_size, "http: cannot listen on %s port %d: %s",
                         addr, port, s->last_error[0] ? s->last_error : strerror(errno));
                seam_http_server_stop(s);
                return SEAM_ERR_IO;
        }
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
        s->port = info ? info->port : port;
        *out = s;
        return 0;
}

int seam_http_server_port(const struct seam_http_server *s)
{
        return s ? s->port : -1;
}

int seam_http_server_add_check(struct seam_http_server *s,
                               enum seam_health_kind kind, const char *name,
                               seam_health_check_fn check, void *arg)
{
        int ret = 0;
        if (!s || !check || !name || !*name || strlen(name) >= CHECK_NAME_MAX ||
            (kind != SEAM_HEALTH_LIVENESS && kind != SEAM_HEALTH_READINESS))
                return SEAM_ERR_INVALID;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->ncheck; i++)
                if (s->checks[i].kind == kind && !strcmp(s->checks[i].name, name))
                        ret = SEAM_ERR_INVALID;
        if (!ret && s->ncheck == s->capcheck) {
                size_t cap = s->capcheck ? s->capcheck * 2 : 8;
                struct check *c = realloc(s->checks, cap * sizeof(*c));
                if (c) {
                        s->checks = c;
                        s->capcheck = cap;
                } else {
                        ret = SEAM_ERR_NOMEM;
                }
        }
        if (!ret) {
                struct check *c = &s->checks[s->ncheck++];
                c->kind = kind;
                snprintf(c->name, sizeof(c->name), "%s", name);
                c->fn = check;
                c->arg = arg;
        }
        pthread_mutex_unlock(&s->lock);
        return ret;
}

int seam_http_server_remove_check(struct seam_http_server *s,
                                  enum seam_health_kind kind, const char *name)
{
        int ret = SEAM_ERR_NOTFOUND;
        if (!s || !name)
                return SEAM_ERR_INVALID;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->ncheck; i++) {
                if (s->checks[i].kind == kind && !strcmp(s->checks[i].name, name)) {
                        /* Keeps the order: probes list failures as registered. */
                        memmove(&s->checks[i], &s->checks[i + 1],
                                (s->ncheck - i - 1) * sizeof(s->checks[0]));
                        s->ncheck--;
                        ret = 0;
                        break;
                }
        }
        pthread_mutex_unlock(&s->lock);
        return ret;
}

void seam_http_server_stop(struct seam_http_server *s)
{
        if (!s)
                return;
        if (s->daemon)
                MHD_stop_daemon(s->daemon);
        pthread_mutex_destroy(&s->lock);
        free(s->checks);
        free(s);
}
