/* runtime.h - one seam process: the loaded plugins, the optional embedded
 * broker and the consumer instances of a config, with signal handling and
 * a bounded shutdown. Used by `seam run` and `seam demo`. */
#ifndef SEAM_RUNTIME_H
#define SEAM_RUNTIME_H

#include <stddef.h>

#include "config.h"
#include "consumer.h"
#include "embedded.h"

struct seam_runtime;

/* Blocks SIGTERM/SIGINT in the calling thread; call first, before any
 * thread (librdkafka's included) is created, so every thread inherits the
 * mask and only seam_runtime_wait() receives them. */
void seam_signals_block(void);

/* Validates everything that can be checked without connecting: plugins
 * load, their config blocks match their declared keys, librdkafka accepts
 * every property. Used by check-config and at the start of open. */
int seam_runtime_check(const struct seam_config *cfg, int embedded,
                       char *errstr, size_t errstr_size);

/* Loads plugins, starts the embedded broker when `embedded` (or the config
 * says so) and creates the instances; nothing is consumed yet. `cfg` must
 * outlive the runtime. */
int seam_runtime_open(const struct seam_config *cfg, int embedded,
                      struct seam_runtime **out, char *errstr,
                      size_t errstr_size);

/* Runs every plugin's init() and starts consuming. */
int seam_runtime_start(struct seam_runtime *rt, char *errstr, size_t errstr_size);

/* Blocks until SIGTERM/SIGINT, until `done(arg)` returns true (polled every
 * 100 ms; may be NULL), or until every instance stopped by itself (FATAL).
 * Then drains every instance, bounded by shutdown_timeout_ms, and returns
 * the process exit code (enum seam_exit). A second signal exits at once. */
int seam_runtime_wait(struct seam_runtime *rt, int (*done)(void *arg), void *arg);

void seam_runtime_destroy(struct seam_runtime *rt); /* accepts NULL */

struct seam_embedded *seam_runtime_embedded(struct seam_runtime *rt);
size_t seam_runtime_instance_count(const struct seam_runtime *rt);
struct seam_instance *seam_runtime_instance(struct seam_runtime *rt, size_t i);
struct seam_metrics *seam_runtime_metrics(struct seam_runtime *rt);
/* The schema registry, or NULL when no consumer is of format avro. */
struct seam_registry *seam_runtime_registry(struct seam_runtime *rt);
/* The metrics/health port, or -1 when no HTTP server runs. */
int seam_runtime_http_port(const struct seam_runtime *rt);

#endif
