/* wire.h - the Confluent wire format of a Kafka message value: magic byte 0,
 * a 4-byte big-endian schema id, then the Avro binary body. */
#ifndef SEAM_WIRE_H
#define SEAM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define SEAM_WIRE_MAGIC 0
#define SEAM_WIRE_HEADER_LEN 5

/* Split a framed payload. On success *schema_id is the id and *body points
 * into `buf` (borrowed, valid as long as `buf` is); an empty body is valid
 * (a schema of type null encodes to zero bytes). Returns SEAM_ERR_INVALID
 * with a message in `err` for a NULL or short payload or a wrong magic
 * byte. Thread-safe. */
int seam_wire_parse(const void *buf, size_t len, uint32_t *schema_id,
                    const uint8_t **body, size_t *body_len, char *err,
                    size_t errlen);

/* Write the 5-byte header and `body` into `out` (capacity `cap`); *out_len
 * is set to the framed length. Returns SEAM_ERR_INVALID if `cap` is too
 * small. For tests and tools. */
int seam_wire_frame(uint32_t schema_id, const void *body, size_t body_len,
                    uint8_t *out, size_t cap, size_t *out_len);

#endif
