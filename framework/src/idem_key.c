#include "idem_key.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

/* Bytes as key text: kept when printable ASCII, else hex with a prefix, so
 * two different byte strings never map to the same key. */
static int bytes_key(const void *v, size_t len, char *out, size_t outlen)
{
        const unsigned char *b = v;
        int printable = 1;
        for (size_t i = 0; i < len && printable; i++)
                printable = b[i] >= 0x20 && b[i] < 0x7f;
        if (printable && strncmp((const char *)b, "hex:", len < 4 ? len : 4)) {
                if (len + 1 > outlen)
                        return -1;
                memcpy(out, b, len);
                out[len] = '\0';
                return 0;
        }
        if (4 + 2 * len + 1 > outlen)
                return -1;
        memcpy(out, "hex:", 4);
        for (size_t i = 0; i < len; i++)
                snprintf(out + 4 + 2 * i, 3, "%02x", b[i]);
        return 0;
}

static int field_key(const char *path, const avro_value_t *root, char *out, size_t outlen,
                     char *err, size_t errlen)
{
        avro_value_t cur = *root, next;
        char name[256];
        const char *p = path;
        while (*p) {
                size_t n = strcspn(p, ".");
                if (n == 0 || n >= sizeof(name)) {
                        snprintf(err, errlen, "idempotency key field \"%s\": bad path", path);
                        return SEAM_ERR_INVALID;
                }
                memcpy(name, p, n);
                name[n] = '\0';
                p += n + (p[n] == '.');
                if (avro_value_get_type(&cur) == AVRO_UNION &&
                    avro_value_get_current_branch(&cur, &next) == 0)
                        cur = next;
                if (avro_value_get_type(&cur) != AVRO_RECORD ||
                    avro_value_get_by_name(&cur, name, &next, NULL) != 0) {
                        snprintf(err, errlen, "idempotency key field \"%s\": no field %s", path,
                                 name);
                        return SEAM_ERR_INVALID;
                }
                cur = next;
        }
        if (avro_value_get_type(&cur) == AVRO_UNION &&
            avro_value_get_current_branch(&cur, &next) == 0)
                cur = next;
        const char *s;
        const void *b;
        size_t len;
        int32_t i32;
        int64_t i64;
        int idx;
        switch (avro_value_get_type(&cur)) {
        case AVRO_STRING:
                avro_value_get_string(&cur, &s, &len);
                if (len == 0 || len - 1 == 0)
                        break;
                if (bytes_key(s, len - 1, out, outlen))
                        goto too_long;
                return 0;
        case AVRO_BYTES:
                avro_value_get_bytes(&cur, &b, &len);
                if (!len)
                        break;
                if (bytes_key(b, len, out, outlen))
                        goto too_long;
                return 0;
        case AVRO_FIXED:
                avro_value_get_fixed(&cur, &b, &len);
                if (bytes_key(b, len, out, outlen))
                        goto too_long;
                return 0;
        case AVRO_INT32:
                avro_value_get_int(&cur, &i32);
                snprintf(out, outlen, "%" PRId32, i32);
                return 0;
        case AVRO_INT64:
                avro_value_get_long(&cur, &i64);
                snprintf(out, outlen, "%" PRId64, i64);
                return 0;
        case AVRO_ENUM:
                avro_value_get_enum(&cur, &idx);
                s = avro_schema_enum_get(avro_value_get_schema(&cur), idx);
                snprintf(out, outlen, "%s", s ? s : "");
                return 0;
        default:
                break;
        }
        snprintf(err, errlen, "idempotency key field \"%s\" is null, empty or not a "
                              "string/bytes/int/long/enum",
                 path);
        return SEAM_ERR_INVALID;
too_long:
        snprintf(err, errlen, "idempotency key field \"%s\" is longer than %d bytes", path,
                 SEAM_IDEM_KEY_MAX);
        return SEAM_ERR_INVALID;
}

int seam_idem_key(const struct seam_consumer_config *cc, const struct seam_msg *m, char *out,
                  size_t outlen, char *err, size_t errlen)
{
        if (outlen > SEAM_IDEM_KEY_MAX + 1)
                outlen = SEAM_IDEM_KEY_MAX + 1;
        if (cc->key_field) {
                if (!m->value) {
                        snprintf(err, errlen, "idempotency key field \"%s\": no decoded record",
                                 cc->key_field);
                        return SEAM_ERR_INVALID;
                }
                return field_key(cc->key_field, m->value, out, outlen, err, errlen);
        }
        if (cc->key_header) {
                rd_kafka_headers_t *h = m->headers;
                const void *v;
                size_t len;
                if (!m->headers_read && m->rkm && rd_kafka_message_headers(m->rkm, &h))
                        h = NULL;
                if (!h || rd_kafka_header_get_last(h, cc->key_header, &v, &len) || !v || !len) {
                        snprintf(err, errlen, "idempotency key header \"%s\" is missing or empty",
                                 cc->key_header);
                        return SEAM_ERR_INVALID;
                }
                if (bytes_key(v, len, out, outlen)) {
                        snprintf(err, errlen, "idempotency key header \"%s\" is longer than %d bytes",
                                 cc->key_header, SEAM_IDEM_KEY_MAX);
                        return SEAM_ERR_INVALID;
                }
                return 0;
        }
        snprintf(out, outlen, "%s/%d/%lld", m->d.topic, (int)m->d.partition,
                 (long long)m->d.offset);
        return 0;
}
