#include "kafka_util.h"

#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "kafka_conf.h"

rd_kafka_t *seam_kafka_tool_handle(rd_kafka_type_t type, const char *bootstrap,
                                   const char *const *props, const char *group,
                                   char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char rderr[512];
        seam_kafka_conf_route_logs(conf);
        if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, rderr, sizeof(rderr)) ||
            (group && rd_kafka_conf_set(conf, "group.id", group, rderr, sizeof(rderr))) ||
            (type == RD_KAFKA_CONSUMER &&
             rd_kafka_conf_set(conf, "enable.auto.commit", "false", rderr, sizeof(rderr)))) {
                snprintf(errstr, errstr_size, "kafka: %s", rderr);
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        for (int i = 0; props && props[i]; i += 2) {
                if (rd_kafka_conf_set(conf, props[i], props[i + 1], rderr, sizeof(rderr))) {
                        snprintf(errstr, errstr_size, "kafka: %s: %s", props[i], rderr);
                        rd_kafka_conf_destroy(conf);
                        return NULL;
                }
        }
        rd_kafka_t *rk = rd_kafka_new(type, conf, rderr, sizeof(rderr));
        if (!rk) {
                snprintf(errstr, errstr_size, "kafka: %s", rderr);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

int seam_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md;
        if (!rkt)
                return SEAM_ERR_KAFKA;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
        rd_kafka_topic_destroy(rkt);
        if (err)
                return err == RD_KAFKA_RESP_ERR__TIMED_OUT ? SEAM_ERR_TIMEOUT : SEAM_ERR_KAFKA;
        int n = SEAM_ERR_NOTFOUND;
        if (md->topic_cnt == 1 && !md->topics[0].err)
                n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        return n;
}

int seam_kafka_committed(const char *bootstrap, const char *const *props, const char *group,
                         const char *topic, int n, int64_t *out, int timeout_ms,
                         char *errstr, size_t errstr_size)
{
        rd_kafka_t *rk = seam_kafka_tool_handle(RD_KAFKA_CONSUMER, bootstrap, props, group,
                                                errstr, errstr_size);
        if (!rk)
                return SEAM_ERR_KAFKA;
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
        for (int p = 0; p < n; p++)
                rd_kafka_topic_partition_list_add(list, topic, p);
        rd_kafka_resp_err_t err = rd_kafka_committed(rk, list, timeout_ms);
        int rc = 0;
        if (err) {
                snprintf(errstr, errstr_size, "committed offsets of group %s: %s", group,
                         rd_kafka_err2str(err));
                rc = err == RD_KAFKA_RESP_ERR__TIMED_OUT ? SEAM_ERR_TIMEOUT : SEAM_ERR_KAFKA;
        }
        for (int p = 0; !rc && p < n; p++) {
                const rd_kafka_topic_partition_t *e = &list->elems[p];
                out[p] = e->err || e->offset < 0 ? -1 : e->offset;
        }
        rd_kafka_topic_partition_list_destroy(list);
        rd_kafka_destroy(rk);
        return rc;
}

int seam_kafka_high_watermarks(rd_kafka_t *rk, const char *topic, int n, int64_t *out,
                               int timeout_ms, char *errstr, size_t errstr_size)
{
        for (int p = 0; p < n; p++) {
                int64_t lo, hi;
                rd_kafka_resp_err_t err =
                    rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, timeout_ms);
                if (err) {
                        snprintf(errstr, errstr_size, "watermarks of %s[%d]: %s", topic, p,
                                 rd_kafka_err2str(err));
                        return SEAM_ERR_KAFKA;
                }
                out[p] = hi;
        }
        return 0;
}
