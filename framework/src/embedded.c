#include "embedded.h"

#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "kafka_conf.h"

struct seam_embedded {
        const char *log_name; /* FIRST: see seam_kafka_conf_route_logs */
        rd_kafka_t *rk;       /* owns the mock cluster */
        rd_kafka_mock_cluster_t *mcluster;
};

int seam_embedded_start(int broker_count, struct seam_embedded **out,
                        char *errstr, size_t errstr_size)
{
        struct seam_embedded *e = calloc(1, sizeof(*e));
        if (!e)
                return SEAM_ERR_NOMEM;
        e->log_name = "embedded-broker";
        char num[16], rderr[512];
        snprintf(num, sizeof(num), "%d", broker_count);
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        seam_kafka_conf_route_logs(conf);
        rd_kafka_conf_set_opaque(conf, e);
        if (rd_kafka_conf_set(conf, "test.mock.num.brokers", num, rderr, sizeof(rderr)) ||
            !(e->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr)))) {
                rd_kafka_conf_destroy(conf);
                snprintf(errstr, errstr_size, "embedded broker: %s", rderr);
                free(e);
                return SEAM_ERR_KAFKA;
        }
        e->mcluster = rd_kafka_handle_mock_cluster(e->rk);
        if (!e->mcluster) {
                snprintf(errstr, errstr_size, "embedded broker: no mock cluster");
                seam_embedded_stop(e);
                return SEAM_ERR_KAFKA;
        }
        *out = e;
        return 0;
}

const char *seam_embedded_bootstraps(const struct seam_embedded *e)
{
        return rd_kafka_mock_cluster_bootstraps(e->mcluster);
}

rd_kafka_mock_cluster_t *seam_embedded_cluster(const struct seam_embedded *e)
{
        return e->mcluster;
}

int seam_embedded_create_topic(struct seam_embedded *e, const char *topic,
                               int partitions, char *errstr, size_t errstr_size)
{
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(e->mcluster, topic, partitions, 1);
        if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                snprintf(errstr, errstr_size, "embedded broker: create topic %s: %s", topic,
                         rd_kafka_err2str(err));
                return SEAM_ERR_KAFKA;
        }
        return 0;
}

void seam_embedded_stop(struct seam_embedded *e)
{
        if (!e)
                return;
        if (e->rk)
                rd_kafka_destroy(e->rk);
        free(e);
}
