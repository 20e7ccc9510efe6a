/* avro_decode.h - bounded Avro binary decoding with schema resolution.
 *
 * Avro C parses schemas and provides the avro_value_t a plugin reads, but
 * its binary decoder is not safe on hostile input (1.11.1: a 1e9 string
 * length in a 9-byte message is allocated and leaked, out-of-range enum
 * indexes are accepted, trailing bytes go unnoticed, read_long overflows a
 * signed integer) and its resolver refuses a reader field that the writer
 * lacks even when the field has a default. So the bytes are decoded here:
 * the writer schema is walked over the buffer with every length checked
 * against the bytes remaining, and the result is resolved into a generic
 * value of the reader schema following the Avro specification's rules.
 *
 * Usage: parse each schema once (seam_avro_schema_parse), compile one plan
 * per (writer, reader) pair (seam_avro_plan_new, cacheable), then decode
 * any number of messages with it, from any number of threads.
 */
#ifndef SEAM_AVRO_DECODE_H
#define SEAM_AVRO_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

/* Largest schema text seam_avro_schema_parse accepts. */
#define SEAM_AVRO_SCHEMA_MAX_LEN (4u << 20)

/* A parsed schema: Avro C's schema plus what Avro C 1.11 drops while
 * parsing and resolution needs (field defaults, aliases, enum defaults),
 * taken from the same JSON text. Immutable once parsed; thread-safe to
 * share. */
struct seam_avro_schema;

/* Parse and validate schema JSON (`len` bytes, no NUL needed). Stricter
 * than Avro C where Avro C would misbehave: invalid or duplicate names
 * (it leaks), negative fixed sizes, unions in unions, a record containing
 * itself without a union, array or map between (its generic value
 * overflows the stack), nesting deeper than 128 levels, more than 1000
 * named types, values that would allocate over 16 MiB before holding data
 * (fixed sizes, fields multiplied by nested records). A schema arrives from
 * a registry over the network, so it is input, too. On error returns
 * SEAM_ERR_INVALID (or SEAM_ERR_NOMEM) with a message. */
int seam_avro_schema_parse(const char *json, size_t len,
                           struct seam_avro_schema **out, char *err,
                           size_t errlen);
/* Avro C's view of the schema; borrowed, lives as long as `s`. Use it to
 * create reader values (avro_generic_class_from_schema). */
avro_schema_t seam_avro_schema_avro(const struct seam_avro_schema *s);
void seam_avro_schema_destroy(struct seam_avro_schema *s);

/* Per-message budgets; a message exceeding one is rejected, not truncated. */
struct seam_avro_limits {
        size_t max_depth;    /* nested records, arrays and maps */
        size_t max_elements; /* array items, map entries and record
                                fields, skipped or not, defaults
                                included */
        size_t max_bytes;    /* string/bytes/fixed bytes materialized into
                                the value, defaults included */
};

#define SEAM_AVRO_DEFAULT_MAX_DEPTH 64
#define SEAM_AVRO_DEFAULT_MAX_ELEMENTS 1000000
#define SEAM_AVRO_DEFAULT_MAX_BYTES (64u << 20)

void seam_avro_limits_default(struct seam_avro_limits *l);

/* A compiled resolution of a writer schema into a reader schema. */
struct seam_avro_plan;

/* Compile the resolution of `writer` into `reader` under the Avro
 * specification's rules (names and aliases, promotions, unions, enum
 * defaults, field defaults). Fails with SEAM_ERR_INVALID and a message
 * naming the field path when some data of the writer could not be read
 * with the reader: this is also the compatibility check of `seam schema
 * check`. A writer union branch, or a writer enum symbol, that the reader
 * cannot take makes the pair incompatible even if no message uses it.
 * The plan keeps its own references; both schemas may be destroyed after.
 * The reader's defaults are built here, so a bad default is reported here
 * (only for fields the writer lacks: a default is read only then). */
int seam_avro_plan_new(const struct seam_avro_schema *writer,
                       const struct seam_avro_schema *reader,
                       struct seam_avro_plan **out, char *err, size_t errlen);
void seam_avro_plan_destroy(struct seam_avro_plan *plan);
/* The reader schema of the plan (borrowed); `out` of seam_avro_decode must
 * be a generic value created from exactly this schema object. */
avro_schema_t seam_avro_plan_reader(const struct seam_avro_plan *plan);

/* Decode one Avro binary body (no framing) written with the plan's writer
 * schema into `out`, which is reset first. `limits` may be NULL for the
 * defaults. The whole body must be consumed. On failure returns
 * SEAM_ERR_INVALID with a message naming the field path, e.g.
 * "decode: Order.items[3].sku: string length 1000000000 exceeds the 7 bytes
 * remaining", and leaves `out` partially filled (reset it or drop it);
 * SEAM_ERR_NOMEM if Avro C could not allocate. Thread-safe for distinct
 * `out` values. */
int seam_avro_decode(const struct seam_avro_plan *plan, const void *body,
                     size_t len, const struct seam_avro_limits *limits,
                     avro_value_t *out, char *err, size_t errlen);

#endif
