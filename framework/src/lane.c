#include "lane.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

struct lane *seam_lane_new(const char *topic, int32_t partition)
{
        struct lane *l = calloc(1, sizeof(*l));
        if (!l)
                return NULL;
        l->topic = strdup(topic);
        l->tracker = seam_tracker_new();
        if (!l->topic || !l->tracker) {
                seam_lane_destroy(l);
                return NULL;
        }
        l->partition = partition;
        l->committed = -1;
        l->commit_sent = -1;
        l->low_watermark = -1;
        l->high_watermark = -1;
        l->first_fetched = -1;
        l->restore_offset = -1;
        l->dlq_schema_id = -1;
        return l;
}

void seam_lane_destroy(struct lane *l)
{
        if (!l)
                return;
        while (l->qcount)
                rd_kafka_message_destroy(seam_lane_pop(l));
        free(l->q);
        free(l->dlq_message);
        seam_tracker_destroy(l->tracker);
        free(l->topic);
        free(l);
}

int seam_lane_push(struct lane *l, rd_kafka_message_t *rkm)
{
        if (l->qcount == l->qcap) {
                size_t ncap = l->qcap ? l->qcap * 2 : 64;
                rd_kafka_message_t **n = malloc(ncap * sizeof(*n));
                if (!n)
                        return SEAM_ERR_NOMEM;
                for (size_t i = 0; i < l->qcount; i++)
                        n[i] = l->q[(l->qhead + i) % l->qcap];
                free(l->q);
                l->q = n;
                l->qcap = ncap;
                l->qhead = 0;
        }
        l->q[(l->qhead + l->qcount) % l->qcap] = rkm;
        l->qcount++;
        return 0;
}

rd_kafka_message_t *seam_lane_head(const struct lane *l)
{
        return l->qcount ? l->q[l->qhead] : NULL;
}

rd_kafka_message_t *seam_lane_pop(struct lane *l)
{
        if (!l->qcount)
                return NULL;
        rd_kafka_message_t *m = l->q[l->qhead];
        l->qhead = (l->qhead + 1) % l->qcap;
        l->qcount--;
        return m;
}

rd_kafka_message_t **seam_lane_drop(struct lane *l, int keep_head, size_t *n)
{
        size_t keep = keep_head && l->qcount ? 1 : 0;
        *n = l->qcount - keep;
        if (!*n)
                return NULL;
        rd_kafka_message_t **out = malloc(*n * sizeof(*out));
        if (!out) {
                /* Out of memory: destroy in place (under the lock, rare). */
                while (l->qcount > keep)
                        rd_kafka_message_destroy(l->q[(l->qhead + --l->qcount) % l->qcap]);
                *n = 0;
                return NULL;
        }
        for (size_t i = 0; i < *n; i++)
                out[i] = l->q[(l->qhead + keep + i) % l->qcap];
        l->qcount = keep;
        return out;
}

struct lane *seam_lane_table_find(const struct lane_table *t, const char *topic,
                                  int32_t partition)
{
        for (size_t i = 0; i < t->count; i++) {
                struct lane *l = t->items[i];
                if (l->partition == partition && !strcmp(l->topic, topic))
                        return l;
        }
        return NULL;
}

int seam_lane_table_add(struct lane_table *t, struct lane *l)
{
        if (t->count == t->cap) {
                size_t ncap = t->cap ? t->cap * 2 : 16;
                struct lane **n = realloc(t->items, ncap * sizeof(*n));
                if (!n)
                        return SEAM_ERR_NOMEM;
                t->items = n;
                t->cap = ncap;
        }
        t->items[t->count++] = l;
        return 0;
}

void seam_lane_table_remove(struct lane_table *t, struct lane *l)
{
        for (size_t i = 0; i < t->count; i++) {
                if (t->items[i] == l) {
                        t->items[i] = t->items[--t->count];
                        return;
                }
        }
}

void seam_lane_table_free(struct lane_table *t)
{
        free(t->items);
        t->items = NULL;
        t->count = t->cap = 0;
}
