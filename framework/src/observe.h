/* observe.h - the process's metrics families and its HTTP endpoints
 * (/metrics, /healthz, /readyz), built over a runtime's instances. See
 * docs/metrics.md for every name. */
#ifndef SEAM_OBSERVE_H
#define SEAM_OBSERVE_H

#include "config.h"
#include "metrics.h"

struct seam_runtime;
struct seam_observer;

/* Registers the process-level families on `metrics` (partition gauges read
 * from the runtime's instances at scrape time, readiness, and the families
 * of subsystems that report through them) and, when cfg->http_port > 0,
 * starts the HTTP server. One observer per process. */
int seam_observer_new(const struct seam_config *cfg, struct seam_runtime *rt,
                      struct seam_metrics *metrics, struct seam_observer **out,
                      char *errstr, size_t errstr_size);
/* The port the HTTP server listens on, or -1 without a server. */
int seam_observer_port(const struct seam_observer *o);
/* 1 if every readiness check passes. */
int seam_observer_ready(struct seam_observer *o, char *why, size_t whylen);
void seam_observer_destroy(struct seam_observer *o); /* accepts NULL */

#endif
