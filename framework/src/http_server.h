/* http_server.h - the embedded HTTP server (libmicrohttpd) of the process:
 *
 *   GET /metrics  the metrics registry, text format 0.0.4
 *   GET /healthz  liveness:  200 "ok\n", or 503 listing the failing checks
 *   GET /readyz   readiness: the same for the readiness checks
 *
 * Anything else is 404; another method on those paths is 405 (HEAD is
 * served as GET). Requests are answered on one internal thread.
 */
#ifndef SEAM_HTTP_SERVER_H
#define SEAM_HTTP_SERVER_H

#include <stddef.h>

struct seam_metrics;
struct seam_http_server;

enum seam_health_kind {
        SEAM_HEALTH_LIVENESS = 0,  /* /healthz: failing means "restart me" */
        SEAM_HEALTH_READINESS = 1  /* /readyz: failing means "no traffic" */
};

/* A named health check: returns 0 when passing; non-zero when failing,
 * after writing a short reason (one line, NUL-terminated, at most whylen
 * bytes) to `why`. Called on the server thread at every probe, with the
 * server's check list locked: it must be quick and must not add or remove
 * checks. */
typedef int (*seam_health_check_fn)(void *arg, char *why, size_t whylen);

/* Start listening on bind_addr:port (bind_addr a numeric IPv4/IPv6 address
 * or a host name resolving to one; NULL means 127.0.0.1). It binds to that
 * address only; "0.0.0.0" or "::" listen everywhere. port 0 picks a free
 * port (see seam_http_server_port). `metrics` is borrowed and must outlive
 * the server; NULL serves 404 on /metrics. On success returns 0 and sets
 * *out; on failure returns a negative seam_err and writes the reason to
 * errstr. */
int seam_http_server_start(const char *bind_addr, int port,
                           struct seam_metrics *metrics,
                           struct seam_http_server **out, char *errstr,
                           size_t errstr_size);

/* The port actually listened on. */
int seam_http_server_port(const struct seam_http_server *s);

/* Add a check under a name unique within its kind (copied; at most 63
 * bytes). With no checks of a kind the probe answers 200, so register a
 * readiness check before anything can be ready. SEAM_ERR_INVALID on a
 * duplicate or bad name. Thread-safe, also while serving. */
int seam_http_server_add_check(struct seam_http_server *s,
                               enum seam_health_kind kind, const char *name,
                               seam_health_check_fn check, void *arg);
/* Remove a check; once this returns it is not running and will not run
 * again, so its arg may be freed. SEAM_ERR_NOTFOUND if absent. */
int seam_http_server_remove_check(struct seam_http_server *s,
                                  enum seam_health_kind kind, const char *name);

/* Stop serving (in-flight requests are closed) and free. Accepts NULL. */
void seam_http_server_stop(struct seam_http_server *s);

#endif
