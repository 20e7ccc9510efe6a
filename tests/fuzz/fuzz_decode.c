/* fuzz_decode - framing + bounded resolving decode of arbitrary bytes.
 *
 * Input: one byte choosing a schema pair of fuzz_schemas.h, then a message
 * value (Confluent framing + Avro body). Besides "no crash, no leak, no
 * undefined behaviour", every body we accept must give a value that
 * re-encodes and decodes again to the same bytes, and for the pairs marked
 * compare_avro_c, Avro C's own decoder must agree with ours on it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "avro_decode.h"
#include "fuzz_schemas.h"
#include "wire.h"

struct ready {
        struct seam_avro_schema *w;
        struct seam_avro_schema *r;
        struct seam_avro_plan *plan;  /* writer -> reader */
        struct seam_avro_plan *again; /* reader -> reader */
        avro_value_iface_t *iface;
};

static struct ready ready[FUZZ_PAIR_COUNT];

static void die(const char *what, const char *err)
{
        fprintf(stderr, "fuzz_decode: %s: %s\n", what, err);
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        char err[512];

        for (size_t i = 0; i < FUZZ_PAIR_COUNT; i++) {
                const struct fuzz_pair *p = &fuzz_pairs[i];
                struct ready *r = &ready[i];
                if (seam_avro_schema_parse(p->writer, strlen(p->writer), &r->w,
                                           err, sizeof(err)) ||
                    seam_avro_schema_parse(p->reader, strlen(p->reader), &r->r,
                                           err, sizeof(err)) ||
                    seam_avro_plan_new(r->w, r->r, &r->plan, err,
                                       sizeof(err)) ||
                    seam_avro_plan_new(r->r, r->r, &r->again, err,
                                       sizeof(err)))
                        die("setup", err);
                r->iface =
                    avro_generic_class_from_schema(seam_avro_schema_avro(r->r));
                if (!r->iface)
                        die("setup", avro_strerror());
        }
        return 0;
}

/* Avro C's encoding of a value, malloc'ed. */
static uint8_t *encode(avro_value_t *v, size_t *len)
{
        avro_writer_t w;
        uint8_t *buf;

        if (avro_value_sizeof(v, len))
                die("sizeof", avro_strerror());
        buf = malloc(*len ? *len : 1);
        if (!buf)
                die("encode", "out of memory");
        w = avro_writer_memory((const char *)buf, (int64_t)*len);
        if (avro_value_write(w, v))
                die("encode", avro_strerror());
        avro_writer_free(w);
        return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* Small enough for 4 KiB inputs to reach: defaults amplify. */
        struct seam_avro_limits lim = {64, 20000, 3000};
        const uint8_t *body;
        size_t body_len, len1, len2;
        uint8_t *enc1, *enc2;
        struct ready *p;
        avro_value_t v, v2;
        uint32_t id;
        char err[512];
        char *json;
        int rc;

        if (size < 1)
                return 0;
        p = &ready[data[0] % FUZZ_PAIR_COUNT];
        if (seam_wire_parse(data + 1, size - 1, &id, &body, &body_len, err,
                            sizeof(err))) {
                if (strncmp(err, "framing: ", 9))
                        die("framing message", err);
                return 0;
        }
        if (avro_generic_value_new(p->iface, &v))
                die("value", avro_strerror());
        rc = seam_avro_decode(p->plan, body, body_len, &lim, &v, err,
                              sizeof(err));
        if (rc) {
                if (strncmp(err, "decode: ", 8))
                        die("decode message", err);
                avro_value_decref(&v);
                return 0;
        }
        /* Rendering fails on strings that are not UTF-8; it must not
         * crash. */
        if (avro_value_to_json(&v, 1, &json) == 0)
                free(json);
        enc1 = encode(&v, &len1);
        if (avro_generic_value_new(p->iface, &v2))
                die("value", avro_strerror());
        if (seam_avro_decode(p->again, enc1, len1, NULL, &v2, err,
                             sizeof(err)))
                die("re-decoding our own value", err);
        enc2 = encode(&v2, &len2);
        if (len1 != len2 || memcmp(enc1, enc2, len1))
                die("round trip", "re-encoded bytes differ");
        free(enc2);
        if (fuzz_pairs[data[0] % FUZZ_PAIR_COUNT].compare_avro_c) {
                avro_reader_t rd =
                    avro_reader_memory((const char *)body, (int64_t)body_len);
                avro_value_reset(&v2);
                if (avro_value_read(rd, &v2))
                        die("Avro C refused a body we accepted",
                            avro_strerror());
                avro_reader_free(rd);
                enc2 = encode(&v2, &len2);
                if (len1 != len2 || memcmp(enc1, enc2, len1))
                        die("Avro C", "decoded a different value");
                free(enc2);
        }
        free(enc1);
        avro_value_decref(&v2);
        avro_value_decref(&v);
        return 0;
}
