/* schema_stage.h - the frame, schema and decode stages of the pipeline for
 * one consumer instance (format avro): Confluent framing, the writer schema
 * by id from the registry, the subject check, and the bounded decode
 * resolved into the consumer's reader schema (the anti-corruption layer:
 * the plugin only ever sees its own model). Thread-safe. */
#ifndef SEAM_SCHEMA_STAGE_H
#define SEAM_SCHEMA_STAGE_H

#include <avro.h>
#include <stdint.h>

#include "config.h"
#include "registry.h"

struct seam_schema_stage;

enum seam_stage_result {
        SEAM_STAGE_OK = 0,
        SEAM_STAGE_POISON = 1,   /* class and message say why */
        SEAM_STAGE_TRANSIENT = 2 /* registry unreachable, id not cached */
};

/* Per worker thread: a value of the reader schema, reused message after
 * message. */
struct seam_decode_slot {
        avro_value_t value;
        int ready;
};

/* `cc` and `reg` are borrowed. The reader schema is resolved lazily (an
 * http registry may be down at start), so this only fails on bad config:
 * an unreadable or invalid reader_file. */
int seam_schema_stage_new(const struct seam_consumer_config *cc, struct seam_registry *reg,
                          struct seam_schema_stage **out, char *errstr, size_t errstr_size);
void seam_schema_stage_destroy(struct seam_schema_stage *s); /* accepts NULL */

/* Runs frame → schema → decode on a payload. On SEAM_STAGE_OK the slot's
 * value holds the record; *schema_id is set once the framing parsed (else
 * -1). On POISON, *error_class is "framing", "schema" or "decode" and `msg`
 * says why, naming the field path for decode errors. */
enum seam_stage_result seam_schema_stage_run(struct seam_schema_stage *s, const void *payload,
                                             size_t len, struct seam_decode_slot *slot,
                                             int64_t *schema_id, const char **error_class,
                                             char *msg, size_t msglen);

void seam_decode_slot_release(struct seam_decode_slot *slot);

#endif
