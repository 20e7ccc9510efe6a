#include "pipeline.h"

#include <stdio.h>

void seam_pipeline_run(const struct seam_pipeline *p, struct seam_msg *m,
                       struct seam_decode_slot *slot, struct seam_outcome *out)
{
        out->schema_id = -1;
        out->poison_class = NULL;
        out->message[0] = '\0';
        if (p->schema_stage) {
                const char *cls = NULL;
                enum seam_stage_result r =
                    seam_schema_stage_run(p->schema_stage, m->d.payload, m->d.len, slot,
                                          &out->schema_id, &cls, out->message, sizeof(out->message));
                m->schema_id = out->schema_id;
                if (r == SEAM_STAGE_TRANSIENT) {
                        out->result = SEAM_TRANSIENT;
                        return;
                }
                if (r == SEAM_STAGE_POISON) {
                        out->result = SEAM_POISON;
                        out->poison_class = cls;
                        return;
                }
                m->value = &slot->value;
        }
        out->result = p->def->handle(p->plugin_state, m);
        out->poison_class = "handler";
        snprintf(out->message, sizeof(out->message), "%s", m->error ? m->error : "no reason given");
}
