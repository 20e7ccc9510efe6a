/* embedded.h - the embedded broker: librdkafka's in-process mock cluster
 * (rdkafka_mock.h), for the demo, laptops and the integration tests. It
 * listens on 127.0.0.1 ports; any librdkafka client can use its bootstrap
 * address. Data lives in memory (about 5 MiB per partition). */
#ifndef SEAM_EMBEDDED_H
#define SEAM_EMBEDDED_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

struct seam_embedded;

int seam_embedded_start(int broker_count, struct seam_embedded **out,
                        char *errstr, size_t errstr_size);
const char *seam_embedded_bootstraps(const struct seam_embedded *e);
rd_kafka_mock_cluster_t *seam_embedded_cluster(const struct seam_embedded *e);
/* Creates a topic; an existing topic is not an error. */
int seam_embedded_create_topic(struct seam_embedded *e, const char *topic,
                               int partitions, char *errstr,
                               size_t errstr_size);
void seam_embedded_stop(struct seam_embedded *e); /* accepts NULL */

#endif
