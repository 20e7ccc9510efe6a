/* kafka_conf.h - librdkafka configuration of one consumer instance, built
 * from the YAML config. Properties pass straight to librdkafka and its own
 * error text is shown on a bad key or value. The settings the guarantees
 * rest on (no auto commit, no auto offset store) are forced, and a config
 * that tries to turn them on is refused rather than silently overridden. */
#ifndef SEAM_KAFKA_CONF_H
#define SEAM_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>

#include "config.h"

/* Builds a consumer conf for cfg->consumers[idx]. `bootstrap_override`
 * (the embedded broker) replaces bootstrap.servers when not NULL. On success
 * *out is owned by the caller (rd_kafka_new takes it). */
int seam_kafka_consumer_conf(const struct seam_config *cfg, size_t idx,
                             const char *bootstrap_override,
                             rd_kafka_conf_t **out, char *errstr,
                             size_t errstr_size);

/* librdkafka's syslog-style level to ours. */
int seam_kafka_log_level(int syslog_level);

/* Routes librdkafka's log and error callbacks to the seam logger (with the
 * consumer name, rate-limited). The handle's opaque, if set, must point to a
 * struct whose FIRST member is a `const char *` naming the handle in logs. */
void seam_kafka_conf_route_logs(rd_kafka_conf_t *conf);

#endif
