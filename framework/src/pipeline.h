/* pipeline.h - the fixed stages one message goes through, shared by the
 * consumer's workers and the offline plugin harness: frame, schema and
 * decode (format avro), then the plugin's handle(). What happens with the
 * outcome (retry timing, dead-lettering, committing) is the caller's. */
#ifndef SEAM_PIPELINE_H
#define SEAM_PIPELINE_H

#include "host_api.h"
#include "schema_stage.h"
#include "seam/plugin.h"

/* Infrastructure trouble before the handler (registry unreachable): the
 * message is fine, so it waits and is tried again, never dead-lettered and
 * never counted as an attempt. Not a plugin result. */
#define SEAM_TRANSIENT ((seam_result)100)

struct seam_pipeline {
        const struct seam_plugin *def;
        void *plugin_state;
        struct seam_schema_stage *schema_stage; /* NULL: format raw */
};

struct seam_outcome {
        seam_result result;       /* a plugin result or SEAM_TRANSIENT */
        const char *poison_class; /* for SEAM_POISON: framing schema decode handler */
        char message[1024];
        int64_t schema_id;        /* -1: unknown */
};

/* Runs the stages on `m`; `slot` is the calling thread's reader value. On
 * success of the decode stage, m->value points into the slot. */
void seam_pipeline_run(const struct seam_pipeline *p, struct seam_msg *m,
                       struct seam_decode_slot *slot, struct seam_outcome *out);

#endif
