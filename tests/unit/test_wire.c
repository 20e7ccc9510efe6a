/* Confluent framing: the header is split exactly, and anything that is not
 * a framed value is refused with a message that says why. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "wire.h"

static void test_parse_valid(void)
{
        const uint8_t msg[] = {0x00, 0x12, 0x34, 0x56, 0x78, 0xaa, 0xbb};
        const uint8_t *body = NULL;
        size_t body_len = 0;
        uint32_t id = 0;
        char err[256] = "";

        CHECK_EQ_INT(seam_wire_parse(msg, sizeof(msg), &id, &body, &body_len,
                                     err, sizeof(err)),
                     0);
        CHECK_EQ_INT(id, 0x12345678u);
        CHECK(body == msg + 5);
        CHECK_EQ_INT(body_len, 2);
}

static void test_parse_header_only(void)
{
        /* A schema of type null encodes to no bytes at all. */
        const uint8_t msg[] = {0x00, 0xff, 0xff, 0xff, 0xff};
        const uint8_t *body = NULL;
        size_t body_len = 99;
        uint32_t id = 0;
        char err[256] = "";

        CHECK_EQ_INT(seam_wire_parse(msg, sizeof(msg), &id, &body, &body_len,
                                     err, sizeof(err)),
                     0);
        CHECK_EQ_INT(id, 0xffffffffu);
        CHECK_EQ_INT(body_len, 0);
}

static void test_parse_errors(void)
{
        const uint8_t msg[] = {0x00, 0x00, 0x00, 0x00, 0x01, 0x02};
        const uint8_t bad_magic[] = {0x01, 0x00, 0x00, 0x00, 0x01, 0x02};
        const uint8_t json[] = "{\"a\":1}";
        const uint8_t *body;
        size_t body_len;
        uint32_t id;
        char err[256];

        err[0] = '\0';
        CHECK_EQ_INT(seam_wire_parse(NULL, 10, &id, &body, &body_len, err,
                                     sizeof(err)),
                     SEAM_ERR_INVALID);
        CHECK_CONTAINS(err, "empty payload");
        err[0] = '\0';
        CHECK_EQ_INT(seam_wire_parse(msg, 0, &id, &body, &body_len, err,
                                     sizeof(err)),
                     SEAM_ERR_INVALID);
        CHECK_CONTAINS(err, "empty payload");
        for (size_t len = 1; len < 5; len++) {
                err[0] = '\0';
                CHECK_EQ_INT(seam_wire_parse(msg, len, &id, &body, &body_len,
                                             err, sizeof(err)),
                             SEAM_ERR_INVALID);
                CHECK_CONTAINS(err, "shorter than the 5-byte header");
        }
        err[0] = '\0';
        CHECK_EQ_INT(seam_wire_parse(bad_magic, sizeof(bad_magic), &id, &body,
                                     &body_len, err, sizeof(err)),
                     SEAM_ERR_INVALID);
        CHECK_CONTAINS(err, "magic byte is 0x01");
        err[0] = '\0';
        CHECK_EQ_INT(seam_wire_parse(json, sizeof(json) - 1, &id, &body,
                                     &body_len, err, sizeof(err)),
                     SEAM_ERR_INVALID);
        CHECK_CONTAINS(err, "magic byte is 0x7b");
        /* A tiny error buffer truncates, never overflows. */
        char tiny[8];
        CHECK_EQ_INT(seam_wire_parse(bad_magic, 1, &id, &body, &body_len,
                                     tiny, sizeof(tiny)),
                     SEAM_ERR_INVALID);
        CHECK_EQ_INT(strlen(tiny), 7);
}

static void test_frame_roundtrip(void)
{
        const uint8_t body[] = {1, 2, 3};
        uint8_t out[16];
        size_t out_len = 0;
        const uint8_t *b;
        size_t blen;
        uint32_t id;
        char err[256];

        CHECK_EQ_INT(seam_wire_frame(0x01020304u, body, sizeof(body), out,
                                     sizeof(out), &out_len),
                     0);
        CHECK_EQ_INT(out_len, 8);
        CHECK(memcmp(out, "\x00\x01\x02\x03\x04\x01\x02\x03", 8) == 0);
        CHECK_EQ_INT(seam_wire_parse(out, out_len, &id, &b, &blen, err,
                                     sizeof(err)),
                     0);
        CHECK_EQ_INT(id, 0x01020304u);
        CHECK_EQ_INT(blen, 3);
        CHECK(memcmp(b, body, 3) == 0);
        CHECK_EQ_INT(seam_wire_frame(7, body, sizeof(body), out, 7, &out_len),
                     SEAM_ERR_INVALID);
        CHECK_EQ_INT(seam_wire_frame(7, NULL, 0, out, 4, &out_len),
                     SEAM_ERR_INVALID);
        CHECK_EQ_INT(seam_wire_frame(7, NULL, 0, out, 5, &out_len), 0);
        CHECK_EQ_INT(out_len, 5);
}

int main(void)
{
        TEST_RUN(test_parse_valid);
        TEST_RUN(test_parse_header_only);
        TEST_RUN(test_parse_errors);
        TEST_RUN(test_frame_roundtrip);
        return 0;
}
