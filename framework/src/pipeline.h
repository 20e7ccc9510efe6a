/* pipeline.h - the fixed stages one message goes through, shared by the
 * consumer's workers and the offline plugin harness: frame, schema and
 * decode (format avro), the idempotency key and dedup check (or the
 * transactional inbox), then the plugin's handle(). What happens with the
 * outcome (retry timing, dead-lettering, committing) is the caller's. */
#ifndef SEAM_PIPELINE_H
#define SEAM_PIPELINE_H

#include "config.h"
#include "dedup.h"
#include "host_api.h"
#include "schema_stage.h"
#include "seam/plugin.h"

/* Infrastructure trouble outside the plugin (registry or dedup store
 * unreachable): the message is fine, so it waits and is tried again, never
 * dead-lettered and never counted as an attempt. Not a plugin result. */
#define SEAM_TRANSIENT ((seam_result)100)
/* Already applied (idempotency key recorded): skipped, plugin not called. */
#define SEAM_DUPLICATE ((seam_result)101)

struct seam_pipeline {
        const struct seam_plugin *def;
        void *plugin_state;
        const struct seam_consumer_config *cc;
        struct seam_schema_stage *schema_stage; /* NULL: format raw */
        struct seam_dedup *dedup;               /* NULL: no dedup store */
        const char *scope;                      /* the consumer group */
        struct seam_metric *check_latency;      /* may be NULL */
};

struct seam_outcome {
        seam_result result;       /* a plugin result, SEAM_TRANSIENT or SEAM_DUPLICATE */
        const char *poison_class; /* for SEAM_POISON: framing schema decode handler */
        const char *transient_cause; /* for SEAM_TRANSIENT: "registry" or "dedup" */
        char message[1024];
        int64_t schema_id;        /* -1: unknown */
};

/* Runs the stages on `m`; `slot` is the calling thread's reader value. On
 * success of the decode stage, m->value points into the slot. With
 * `reprocess` the dedup store's "already applied" is ignored (a replay
 * with --reprocess); the inbox ignores it (its mark is part of the
 * effect). */
void seam_pipeline_run(const struct seam_pipeline *p, struct seam_msg *m,
                       struct seam_decode_slot *slot, int reprocess,
                       struct seam_outcome *out);

#endif
