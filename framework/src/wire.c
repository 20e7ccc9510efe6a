#include "wire.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

int seam_wire_parse(const void *buf, size_t len, uint32_t *schema_id,
                    const uint8_t **body, size_t *body_len, char *err,
                    size_t errlen)
{
        const uint8_t *p = buf;

        if (!p || len == 0) {
                snprintf(err, errlen, "framing: empty payload (a Confluent "
                         "framed value has at least %d bytes)",
                         SEAM_WIRE_HEADER_LEN);
                return SEAM_ERR_INVALID;
        }
        if (p[0] != SEAM_WIRE_MAGIC) {
                snprintf(err, errlen, "framing: magic byte is 0x%02x, "
                         "expected 0x00 (not Confluent wire format)", p[0]);
                return SEAM_ERR_INVALID;
        }
        if (len < SEAM_WIRE_HEADER_LEN) {
                snprintf(err, errlen, "framing: payload of %zu bytes is "
                         "shorter than the %d-byte header", len,
                         SEAM_WIRE_HEADER_LEN);
                return SEAM_ERR_INVALID;
        }
        *schema_id = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 8 | (uint32_t)p[4];
        *body = p + SEAM_WIRE_HEADER_LEN;
        *body_len = len - SEAM_WIRE_HEADER_LEN;
        return 0;
}

int seam_wire_frame(uint32_t schema_id, const void *body, size_t body_len,
                    uint8_t *out, size_t cap, size_t *out_len)
{
        if (cap < SEAM_WIRE_HEADER_LEN ||
            body_len > cap - SEAM_WIRE_HEADER_LEN)
                return SEAM_ERR_INVALID;
        out[0] = SEAM_WIRE_MAGIC;
        out[1] = (uint8_t)(schema_id >> 24);
        out[2] = (uint8_t)(schema_id >> 16);
        out[3] = (uint8_t)(schema_id >> 8);
        out[4] = (uint8_t)schema_id;
        if (body_len)
                memcpy(out + SEAM_WIRE_HEADER_LEN, body, body_len);
        *out_len = SEAM_WIRE_HEADER_LEN + body_len;
        return 0;
}
