#include "pipeline.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "idem_key.h"
#include "inbox.h"
#include "metrics.h"

static void transient(struct seam_outcome *out, const char *cause, const char *fmt,
                      const char *detail)
{
        out->result = SEAM_TRANSIENT;
        out->transient_cause = cause;
        snprintf(out->message, sizeof(out->message), fmt, detail);
}

/* handle() inside the inbox transaction: mark + side effect (+ offset) are
 * committed together or not at all. */
static void run_inbox(const struct seam_pipeline *p, struct seam_msg *m, struct seam_outcome *out)
{
        char err[512];
        int dup = 0;
        struct seam_inbox_tx *tx = NULL;
        int64_t t0 = seam_mono_ns();
        int rc = seam_inbox_begin(p->dedup, p->scope, m->idempotency_key, seam_wall_ms(), &tx, &dup,
                                  err, sizeof(err));
        seam_histogram_observe(p->check_latency, (double)(seam_mono_ns() - t0) / 1e9);
        if (rc == SEAM_ERR_INVALID) {
                out->result = SEAM_POISON; /* the key itself is unusable */
                out->poison_class = "decode";
                snprintf(out->message, sizeof(out->message), "idempotency key: %s", err);
                return;
        }
        if (rc) {
                transient(out, "dedup", "inbox: %s", err);
                return;
        }
        if (dup) {
                out->result = SEAM_DUPLICATE;
                return;
        }
        m->inbox_tx = tx;
        out->result = p->def->handle(p->plugin_state, m);
        m->inbox_tx = NULL;
        if (out->result != SEAM_OK) {
                seam_inbox_rollback(tx);
                return;
        }
        if (p->cc->inbox_store_offsets &&
            seam_inbox_store_offset(tx, p->scope, m->d.topic, m->d.partition, m->d.offset + 1, err,
                                    sizeof(err))) {
                seam_inbox_rollback(tx);
                transient(out, "dedup", "inbox: storing the offset: %s", err);
                return;
        }
        if (seam_inbox_commit(tx, err, sizeof(err)))
                transient(out, "dedup", "inbox: commit: %s", err); /* rolled back: run again */
}

/* handle() between a claim of the key and its release; the mark becomes
 * durable at the next flush, before the offsets are committed. */
static void run_deduplicated(const struct seam_pipeline *p, struct seam_msg *m, int reprocess,
                             struct seam_outcome *out)
{
        char err[512];
        int64_t t0 = seam_mono_ns();
        int c = seam_dedup_claim(p->dedup, p->scope, m->idempotency_key, err, sizeof(err));
        seam_histogram_observe(p->check_latency, (double)(seam_mono_ns() - t0) / 1e9);
        if (c == SEAM_ERR_INVALID) {
                out->result = SEAM_POISON; /* the key itself is unusable */
                out->poison_class = "decode";
                snprintf(out->message, sizeof(out->message), "idempotency key: %s", err);
                return;
        }
        if (c < 0) {
                transient(out, "dedup", "idempotency store: %s", err);
                return;
        }
        if (c == SEAM_DEDUP_BUSY) {
                /* Another partition is handling the same business event right
                 * now; whichever finishes first decides. */
                transient(out, "dedup", "%s", "the same idempotency key is being handled on "
                                                "another partition; waiting for it");
                return;
        }
        if (c == SEAM_DEDUP_SEEN && !reprocess) {
                out->result = SEAM_DUPLICATE;
                return;
        }
        out->result = p->def->handle(p->plugin_state, m);
        if (c == SEAM_DEDUP_NEW)
                seam_dedup_release(p->dedup, p->scope, m->idempotency_key, out->result == SEAM_OK);
}

void seam_pipeline_run(const struct seam_pipeline *p, struct seam_msg *m,
                       struct seam_decode_slot *slot, int reprocess,
                       struct seam_outcome *out)
{
        out->schema_id = -1;
        out->poison_class = NULL;
        out->transient_cause = NULL;
        out->message[0] = '\0';
        if (p->schema_stage) {
                const char *cls = NULL;
                enum seam_stage_result r =
                    seam_schema_stage_run(p->schema_stage, m->d.payload, m->d.len, slot,
                                          &out->schema_id, &cls, out->message, sizeof(out->message));
                m->schema_id = out->schema_id;
                if (r == SEAM_STAGE_TRANSIENT) {
                        out->result = SEAM_TRANSIENT;
                        out->transient_cause = "registry";
                        return;
                }
                if (r == SEAM_STAGE_POISON) {
                        out->result = SEAM_POISON;
                        out->poison_class = cls;
                        return;
                }
                m->value = &slot->value;
        }
        if (seam_idem_key(p->cc, m, m->idempotency_key, sizeof(m->idempotency_key), out->message,
                          sizeof(out->message))) {
                /* No usable key: the record cannot be deduplicated. */
                out->result = SEAM_POISON;
                out->poison_class = "decode";
                return;
        }
        if (p->dedup && p->cc->inbox)
                run_inbox(p, m, out);
        else if (p->dedup)
                run_deduplicated(p, m, reprocess, out);
        else
                out->result = p->def->handle(p->plugin_state, m);
        if (out->result == SEAM_TRANSIENT || out->result == SEAM_DUPLICATE ||
            (out->result == SEAM_POISON && out->poison_class))
                return;
        out->poison_class = "handler";
        snprintf(out->message, sizeof(out->message), "%s", m->error ? m->error : "no reason given");
}
