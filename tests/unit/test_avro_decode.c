/* The bounded resolving decoder: values written by Avro C's own encoder come
 * back equal (same schema) or resolved (evolved schemas, defaults); hostile
 * bodies are refused with a message naming the field path; incompatible
 * schema pairs are refused at plan time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <jansson.h>

#include "avro_decode.h"
#include "check.h"
#include "err.h"

/* ---- helpers ------------------------------------------------------------ */

static struct seam_avro_schema *schema(const char *json)
{
        struct seam_avro_schema *s = NULL;
        char err[512] = "";
        int rc = seam_avro_schema_parse(json, strlen(json), &s, err,
                                        sizeof(err));
        CHECKF(rc == 0, "%s\n  in %s", err, json);
        return s;
}

static avro_schema_t deref(avro_schema_t s)
{
        while (is_avro_link(s))
                s = avro_schema_link_target(s);
        return s;
}

static const char *branch_name(avro_schema_t s)
{
        s = deref(s);
        if (is_avro_record(s) || is_avro_enum(s) || is_avro_fixed(s))
                return avro_schema_name(s);
        return avro_schema_type_name(s);
}

static size_t latin1(const char *s, size_t len, unsigned char *out)
{
        size_t o = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c >= 0x80)
                        c = (unsigned char)(((c & 0x1f) << 6) |
                                            ((unsigned char)s[++i] & 0x3f));
                out[o++] = c;
        }
        return o;
}

/* Fill a generic value from JSON (unions as {"type": value} or null, as in
 * Avro's JSON encoding; bytes and fixed as ISO-8859-1 strings). */
static void from_json(avro_value_t *v, const json_t *j)
{
        avro_schema_t s = deref(avro_value_get_schema(v));
        avro_value_t child;
        unsigned char buf[256];
        const char *key;
        json_t *item;
        size_t i;

        switch (avro_value_get_type(v)) {
        case AVRO_NULL: CHECK(avro_value_set_null(v) == 0); break;
        case AVRO_BOOLEAN:
                CHECK(avro_value_set_boolean(v, json_is_true(j)) == 0);
                break;
        case AVRO_INT32:
                CHECK(avro_value_set_int(v, (int32_t)json_integer_value(j)) ==
                      0);
                break;
        case AVRO_INT64:
                CHECK(avro_value_set_long(v, json_integer_value(j)) == 0);
                break;
        case AVRO_FLOAT:
                CHECK(avro_value_set_float(v, (float)json_number_value(j)) ==
                      0);
                break;
        case AVRO_DOUBLE:
                CHECK(avro_value_set_double(v, json_number_value(j)) == 0);
                break;
        case AVRO_STRING:
                CHECK(avro_value_set_string_len(v, json_string_value(j),
                                                json_string_length(j) + 1) ==
                      0);
                break;
        case AVRO_BYTES:
                CHECK(json_string_length(j) < sizeof(buf));
                CHECK(avro_value_set_bytes(
                          v, buf,
                          latin1(json_string_value(j), json_string_length(j),
                                 buf)) == 0);
                break;
        case AVRO_FIXED:
                CHECK(json_string_length(j) < sizeof(buf));
                CHECK(avro_value_set_fixed(
                          v, buf,
                          latin1(json_string_value(j), json_string_length(j),
                                 buf)) == 0);
                break;
        case AVRO_ENUM: {
                int idx = avro_schema_enum_get_by_name(s, json_string_value(j));
                CHECK(idx >= 0);
                CHECK(avro_value_set_enum(v, idx) == 0);
                break;
        }
        case AVRO_ARRAY:
                json_array_foreach(j, i, item)
                {
                        CHECK(avro_value_append(v, &child, NULL) == 0);
                        from_json(&child, item);
                }
                break;
        case AVRO_MAP:
                json_object_foreach((json_t *)j, key, item)
                {
                        CHECK(avro_value_add(v, key, &child, NULL, NULL) == 0);
                        from_json(&child, item);
                }
                break;
        case AVRO_RECORD:
                for (i = 0; i < avro_schema_record_size(s); i++) {
                        const char *name =
                            avro_schema_record_field_name(s, (int)i);
                        json_t *fv = json_object_get(j, name);
                        if (!fv)
                                continue;
                        CHECK(avro_value_get_by_index(v, i, &child, NULL) ==
                              0);
                        from_json(&child, fv);
                }
                break;
        case AVRO_UNION: {
                const char *want = "null";
                json_t *inner = (json_t *)j;
                int found = -1;
                if (!json_is_null(j)) {
                        CHECK(json_is_object(j) && json_object_size(j) == 1);
                        json_object_foreach((json_t *)j, key, item)
                        {
                                want = key;
                                inner = item;
                        }
                }
                for (i = 0; i < avro_schema_union_size(s); i++)
                        if (!strcmp(branch_name(avro_schema_union_branch(
                                        s, (int)i)),
                                    want))
                                found = (int)i;
                CHECKF(found >= 0, "no union branch %s", want);
                CHECK(avro_value_set_branch(v, found, &child) == 0);
                from_json(&child, inner);
                break;
        }
        default: CHECK(!"unexpected type");
        }
}

struct val {
        avro_value_iface_t *iface;
        avro_value_t v;
};

static void val_new(struct val *x, avro_schema_t s)
{
        x->iface = avro_generic_class_from_schema(s);
        CHECK(x->iface);
        CHECK(avro_generic_value_new(x->iface, &x->v) == 0);
}

static void val_free(struct val *x)
{
        avro_value_decref(&x->v);
        avro_value_iface_decref(x->iface);
}

static void val_from_json(struct val *x, avro_schema_t s, const char *json)
{
        json_error_t jerr;
        json_t *j = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        CHECKF(j, "test JSON: %s: %s", jerr.text, json);
        val_new(x, s);
        from_json(&x->v, j);
        json_decref(j);
}

/* Avro C's encoder: the reference for what a writer puts on the wire. */
static size_t encode(avro_schema_t s, const char *json, uint8_t *buf,
                     size_t cap)
{
        struct val x;
        avro_writer_t w = avro_writer_memory((const char *)buf, (int64_t)cap);
        size_t len;

        val_from_json(&x, s, json);
        CHECKF(avro_value_write(w, &x.v) == 0, "encode: %s", avro_strerror());
        len = (size_t)avro_writer_tell(w);
        avro_writer_free(w);
        val_free(&x);
        return len;
}

static char *to_json(avro_value_t *v)
{
        char *s = NULL;
        CHECK(avro_value_to_json(v, 1, &s) == 0);
        return s;
}

static void check_equal(avro_value_t *got, avro_value_t *want)
{
        if (!avro_value_equal(got, want)) {
                char *g = to_json(got), *w = to_json(want);
                fprintf(stderr, "got:  %s\nwant: %s\n", g, w);
                free(g);
                free(w);
                CHECK(!"values differ");
        }
}

static struct seam_avro_plan *plan(struct seam_avro_schema *w,
                                   struct seam_avro_schema *r)
{
        struct seam_avro_plan *p = NULL;
        char err[512] = "";
        CHECKF(seam_avro_plan_new(w, r, &p, err, sizeof(err)) == 0, "%s", err);
        return p;
}

/* Every proper prefix of a valid body fails cleanly (each in an exact-size
 * heap copy, so a read past the end is an ASan error), and so does the body
 * with a byte appended. */
static void check_truncations(struct seam_avro_plan *p, avro_value_t *out,
                              const uint8_t *body, size_t len)
{
        char err[512];
        for (size_t k = 0; k < len; k++) {
                uint8_t *copy = malloc(k ? k : 1);
                memcpy(copy, body, k);
                err[0] = '\0';
                int rc = seam_avro_decode(p, copy, k, NULL, out, err,
                                          sizeof(err));
                CHECKF(rc == SEAM_ERR_INVALID, "prefix %zu of %zu decoded", k,
                       len);
                CHECK_CONTAINS(err, "decode: ");
                free(copy);
        }
        uint8_t *longer = malloc(len + 1);
        memcpy(longer, body, len);
        longer[len] = 0;
        err[0] = '\0';
        CHECK_EQ_INT(seam_avro_decode(p, longer, len + 1, NULL, out, err,
                                      sizeof(err)),
                     SEAM_ERR_INVALID);
        CHECK_CONTAINS(err, "1 trailing bytes after the value");
        free(longer);
}

/* Write `wvalue` with writer schema `wjson`, decode it into `rjson`, expect
 * `expected` (in the reader schema). */
static void resolve_case(const char *wjson, const char *rjson,
                         const char *wvalue, const char *expected)
{
        struct seam_avro_schema *ws = schema(wjson), *rs = schema(rjson);
        struct seam_avro_plan *p = plan(ws, rs);
        avro_schema_t r = seam_avro_schema_avro(rs);
        struct val out, want;
        uint8_t buf[4096];
        size_t len = encode(seam_avro_schema_avro(ws), wvalue, buf,
                            sizeof(buf));
        char err[512] = "";
        int rc;

        val_new(&out, r);
        rc = seam_avro_decode(p, buf, len, NULL, &out.v, err, sizeof(err));
        CHECKF(rc == 0, "%s\n  writer %s\n  reader %s", err, wjson, rjson);
        val_from_json(&want, r, expected);
        check_equal(&out.v, &want.v);
        /* Decoding into a used value gives the same result. */
        CHECK_EQ_INT(seam_avro_decode(p, buf, len, NULL, &out.v, err,
                                      sizeof(err)),
                     0);
        check_equal(&out.v, &want.v);
        check_truncations(p, &out.v, buf, len);
        val_free(&want);
        val_free(&out);
        seam_avro_plan_destroy(p);
        seam_avro_schema_destroy(ws);
        seam_avro_schema_destroy(rs);
}

static void plan_fails(const char *wjson, const char *rjson,
                       const char *needle)
{
        struct seam_avro_schema *ws = schema(wjson), *rs = schema(rjson);
        struct seam_avro_plan *p = (void *)1;
        char err[512] = "";

        CHECK_EQ_INT(seam_avro_plan_new(ws, rs, &p, err, sizeof(err)),
                     SEAM_ERR_INVALID);
        CHECK(p == NULL);
        CHECK_CONTAINS(err, needle);
        seam_avro_schema_destroy(ws);
        seam_avro_schema_destroy(rs);
}

/* Decode hand-made bytes (writer == reader unless rjson) and expect an
 * error containing `needle`. */
static void decode_fails_lim(const char *wjson, const char *rjson,
                             const uint8_t *body, size_t len,
                             const struct seam_avro_limits *lim,
                             const char *needle)
{
        struct seam_avro_schema *ws = schema(wjson);
        struct seam_avro_schema *rs = rjson ? schema(rjson) : ws;
        struct seam_avro_plan *p = plan(ws, rs);
        uint8_t *copy = malloc(len ? len : 1);
        struct val out;
        char err[512] = "";

        memcpy(copy, body, len);
        val_new(&out, seam_avro_schema_avro(rs));
        CHECK_EQ_INT(seam_avro_decode(p, copy, len, lim, &out.v, err,
                                      sizeof(err)),
                     SEAM_ERR_INVALID);
        CHECK_CONTAINS(err, needle);
        val_free(&out);
        free(copy);
        seam_avro_plan_destroy(p);
        if (rs != ws)
                seam_avro_schema_destroy(rs);
        seam_avro_schema_destroy(ws);
}

static void decode_fails(const char *wjson, const uint8_t *body, size_t len,
                         const char *needle)
{
        decode_fails_lim(wjson, NULL, body, len, NULL, needle);
}

/* ---- round trips -------------------------------------------------------- */

static const char ALL_TYPES[] =
    "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"n\",\"type\":\"null\"},"
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"by\",\"type\":\"bytes\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Suit\","
    "\"symbols\":[\"HEARTS\",\"SPADES\",\"CLUBS\"]}},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"Md5\","
    "\"size\":4}},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"string\",\"Suit\"]},"
    "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"Inner\","
    "\"fields\":[{\"name\":\"x\",\"type\":\"int\"},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"map\",\"values\":\"Md5\"}}}]}},"
    "{\"name\":\"s2\",\"type\":\"string\"}]}";

static void test_roundtrip_all_types(void)
{
        const char *v1 =
            "{\"n\":null,\"b\":true,\"i\":-2147483648,"
            "\"l\":-9223372036854775807,\"f\":1.5,\"d\":-2.25e300,"
            "\"by\":\"\\u0000\\u00ff\\u0001\",\"s\":\"h\\u00e9llo\","
            "\"e\":\"CLUBS\",\"fx\":\"\\u00de\\u00ad\\u00be\\u00ef\","
            "\"a\":[0,1,-1,9223372036854775807],"
            "\"m\":{\"k1\":\"v1\",\"\":\"empty key\"},"
            "\"u\":{\"Suit\":\"SPADES\"},"
            "\"r\":{\"x\":2147483647,\"tags\":[{\"a\":\"abcd\"},{}]},"
            "\"s2\":\"\"}";
        const char *v2 =
            "{\"n\":null,\"b\":false,\"i\":0,\"l\":0,\"f\":0,\"d\":0,"
            "\"by\":\"\",\"s\":\"\",\"e\":\"HEARTS\",\"fx\":\"aaaa\","
            "\"a\":[],\"m\":{},\"u\":null,\"r\":{\"x\":-1,\"tags\":[]},"
            "\"s2\":\"x\"}";
        const char *v3 =
            "{\"n\":null,\"b\":true,\"i\":63,\"l\":64,\"f\":-0.0,\"d\":1e-300,"
            "\"by\":\"0123456789\",\"s\":\"a\",\"e\":\"SPADES\","
            "\"fx\":\"wxyz\",\"a\":[8191,8192,-8193],"
            "\"m\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"},"
            "\"u\":{\"string\":\"in union\"},"
            "\"r\":{\"x\":64,\"tags\":[{\"q\":\"1234\",\"r\":\"5678\"}]},"
            "\"s2\":\"y\"}";
        resolve_case(ALL_TYPES, ALL_TYPES, v1, v1);
        resolve_case(ALL_TYPES, ALL_TYPES, v2, v2);
        resolve_case(ALL_TYPES, ALL_TYPES, v3, v3);
}

static void test_roundtrip_primitives_at_root(void)
{
        resolve_case("\"int\"", "\"int\"", "-1", "-1");
        resolve_case("\"long\"", "\"long\"", "-9223372036854775808",
                     "-9223372036854775808");
        resolve_case("\"string\"", "\"string\"", "\"x\"", "\"x\"");
        resolve_case("\"boolean\"", "\"boolean\"", "true", "true");
        resolve_case("[\"null\",\"int\"]", "[\"null\",\"int\"]",
                     "{\"int\":5}", "{\"int\":5}");
        resolve_case("{\"type\":\"array\",\"items\":\"string\"}",
                     "{\"type\":\"array\",\"items\":\"string\"}",
                     "[\"a\",\"b\"]", "[\"a\",\"b\"]");
}

/* A string longer than the decoder's stack scratch takes the heap path. */
static void test_roundtrip_long_string(void)
{
        char value[4200], expected[4200];
        char big[1501];

        memset(big, 'q', 1500);
        big[1500] = '\0';
        snprintf(value, sizeof(value), "{\"s\":\"%s\",\"m\":{\"%s\":1}}", big,
                 big);
        memcpy(expected, value, sizeof(value));
        resolve_case("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                     "{\"name\":\"s\",\"type\":\"string\"},"
                     "{\"name\":\"m\",\"type\":{\"type\":\"map\","
                     "\"values\":\"int\"}}]}",
                     "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                     "{\"name\":\"s\",\"type\":\"string\"},"
                     "{\"name\":\"m\",\"type\":{\"type\":\"map\","
                     "\"values\":\"int\"}}]}",
                     value, expected);
}

/* Avro C's own decoder agrees with ours on the same bytes. */
static void test_matches_avro_c_reader(void)
{
        struct seam_avro_schema *s = schema(ALL_TYPES);
        avro_schema_t a = seam_avro_schema_avro(s);
        struct seam_avro_plan *p = plan(s, s);
        const char *v =
            "{\"n\":null,\"b\":true,\"i\":7,\"l\":-7,\"f\":0.25,\"d\":3.5,"
            "\"by\":\"xy\",\"s\":\"s\",\"e\":\"CLUBS\",\"fx\":\"1234\","
            "\"a\":[5],\"m\":{\"k\":\"v\"},\"u\":{\"string\":\"z\"},"
            "\"r\":{\"x\":1,\"tags\":[{\"k\":\"abcd\"}]},\"s2\":\"w\"}";
        uint8_t buf[1024];
        size_t len = encode(a, v, buf, sizeof(buf));
        struct val ours, theirs;
        avro_reader_t rd = avro_reader_memory((const char *)buf, (int64_t)len);
        char err[256];

        val_new(&ours, a);
        val_new(&theirs, a);
        CHECK(avro_value_read(rd, &theirs.v) == 0);
        CHECK_EQ_INT(seam_avro_decode(p, buf, len, NULL, &ours.v, err,
                                      sizeof(err)),
                     0);
        check_equal(&ours.v, &theirs.v);
        avro_reader_free(rd);
        val_free(&ours);
        val_free(&theirs);
        seam_avro_plan_destroy(p);
        seam_avro_schema_destroy(s);
}

/* ---- resolution --------------------------------------------------------- */

static void rec1(char *out, size_t cap, const char *type)
{
        snprintf(out, cap,
                 "{\"type\":\"record\",\"name\":\"P\",\"fields\":["
                 "{\"name\":\"v\",\"type\":%s},"
                 "{\"name\":\"after\",\"type\":\"int\"}]}",
                 type);
}

static void test_promotions(void)
{
        static const struct {
                const char *w, *r, *wv, *rv;
        } cases[] = {
            {"\"int\"", "\"long\"", "-5", "-5"},
            {"\"int\"", "\"float\"", "16777216", "16777216"},
            {"\"int\"", "\"double\"", "-2147483648", "-2147483648"},
            {"\"long\"", "\"float\"", "1099511627776", "1099511627776"},
            {"\"long\"", "\"double\"", "-9007199254740992",
             "-9007199254740992"},
            {"\"float\"", "\"double\"", "0.5", "0.5"},
            {"\"string\"", "\"bytes\"", "\"ab\\u00e9\"",
             "\"ab\\u00c3\\u00a9\""},
            {"\"bytes\"", "\"string\"", "\"\\u00c3\\u00a9t\\u00c3\\u00a9\"",
             "\"\\u00e9t\\u00e9\""},
        };
        char w[512], r[512], wv[128], rv[128];

        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                rec1(w, sizeof(w), cases[i].w);
                rec1(r, sizeof(r), cases[i].r);
                snprintf(wv, sizeof(wv), "{\"v\":%s,\"after\":42}",
                         cases[i].wv);
                snprintf(rv, sizeof(rv), "{\"v\":%s,\"after\":42}",
                         cases[i].rv);
                resolve_case(w, r, wv, rv);
        }
        /* Promotions inside arrays, maps and unions. */
        resolve_case("{\"type\":\"array\",\"items\":\"int\"}",
                     "{\"type\":\"array\",\"items\":\"double\"}", "[1,2]",
                     "[1,2]");
        resolve_case("{\"type\":\"map\",\"values\":\"float\"}",
                     "{\"type\":\"map\",\"values\":\"double\"}",
                     "{\"a\":0.25}", "{\"a\":0.25}");
        resolve_case("[\"null\",\"int\"]", "[\"null\",\"long\"]",
                     "{\"int\":3}", "{\"long\":3}");
}

static const char W_ORDER[] =
    "{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"shop.v1\","
    "\"fields\":["
    "{\"name\":\"id\",\"type\":\"long\"},"
    "{\"name\":\"legacy\",\"type\":{\"type\":\"record\",\"name\":\"Old\","
    "\"fields\":[{\"name\":\"xs\",\"type\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"map\",\"values\":[\"null\",\"string\"]}}},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"OldE\","
    "\"symbols\":[\"X\",\"Y\"]}},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F3\","
    "\"size\":3}},"
    "{\"name\":\"fl\",\"type\":\"float\"},{\"name\":\"db\",\"type\":\"double\"},"
    "{\"name\":\"bo\",\"type\":\"boolean\"},{\"name\":\"n\",\"type\":\"null\"},"
    "{\"name\":\"i\",\"type\":\"int\"},{\"name\":\"by\",\"type\":\"bytes\"}"
    "]}},"
    "{\"name\":\"name\",\"type\":\"string\"},"
    "{\"name\":\"total\",\"type\":\"int\"}]}";

/* Reader: `legacy` removed, `name` renamed via alias, `total` promoted,
 * and a field of every kind added with a default. */
static const char R_ORDER[] =
    "{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"shop.v2\","
    "\"fields\":["
    "{\"name\":\"id\",\"type\":\"long\"},"
    "{\"name\":\"customer\",\"type\":\"string\",\"aliases\":[\"name\"]},"
    "{\"name\":\"total\",\"type\":\"double\"},"
    "{\"name\":\"d_null\",\"type\":\"null\",\"default\":null},"
    "{\"name\":\"d_bool\",\"type\":\"boolean\",\"default\":true},"
    "{\"name\":\"d_int\",\"type\":\"int\",\"default\":-7},"
    "{\"name\":\"d_long\",\"type\":\"long\",\"default\":9007199254740993},"
    "{\"name\":\"d_float\",\"type\":\"float\",\"default\":1.25},"
    "{\"name\":\"d_double\",\"type\":\"double\",\"default\":2},"
    "{\"name\":\"d_bytes\",\"type\":\"bytes\","
    "\"default\":\"\\u00ff\\u0001A\"},"
    "{\"name\":\"d_string\",\"type\":\"string\",\"default\":\"none\"},"
    "{\"name\":\"d_enum\",\"type\":{\"type\":\"enum\",\"name\":\"Status\","
    "\"symbols\":[\"NEW\",\"DONE\"]},\"default\":\"DONE\"},"
    "{\"name\":\"d_fixed\",\"type\":{\"type\":\"fixed\",\"name\":\"Two\","
    "\"size\":2},\"default\":\"\\u0001\\u00fe\"},"
    "{\"name\":\"d_array\",\"type\":{\"type\":\"array\",\"items\":\"int\"},"
    "\"default\":[1,2,3]},"
    "{\"name\":\"d_map\",\"type\":{\"type\":\"map\",\"values\":\"long\"},"
    "\"default\":{\"a\":1}},"
    "{\"name\":\"d_record\",\"type\":{\"type\":\"record\",\"name\":\"Addr\","
    "\"fields\":[{\"name\":\"city\",\"type\":\"string\"},"
    "{\"name\":\"zip\",\"type\":\"string\",\"default\":\"00000\"}]},"
    "\"default\":{\"city\":\"Paris\"}},"
    "{\"name\":\"d_union_null\",\"type\":[\"null\",\"string\"],"
    "\"default\":null},"
    "{\"name\":\"d_union_str\",\"type\":[\"string\",\"null\"],"
    "\"default\":\"first\"},"
    "{\"name\":\"d_nested\",\"type\":{\"type\":\"array\",\"items\":\"Addr\"},"
    "\"default\":[{\"city\":\"A\",\"zip\":\"1\"},{\"city\":\"B\"}]}]}";

static void test_evolution(void)
{
        const char *wv =
            "{\"id\":12,\"legacy\":{\"xs\":[{\"k\":{\"string\":\"v\"},"
            "\"z\":null},{}],\"e\":\"Y\",\"fx\":\"abc\",\"fl\":1,\"db\":2,"
            "\"bo\":true,\"n\":null,\"i\":-3,\"by\":\"qq\"},"
            "\"name\":\"Ann\",\"total\":250}";
        const char *rv =
            "{\"id\":12,\"customer\":\"Ann\",\"total\":250,\"d_null\":null,"
            "\"d_bool\":true,\"d_int\":-7,\"d_long\":9007199254740993,"
            "\"d_float\":1.25,\"d_double\":2,\"d_bytes\":\"\\u00ff\\u0001A\","
            "\"d_string\":\"none\",\"d_enum\":\"DONE\","
            "\"d_fixed\":\"\\u0001\\u00fe\",\"d_array\":[1,2,3],"
            "\"d_map\":{\"a\":1},"
            "\"d_record\":{\"city\":\"Paris\",\"zip\":\"00000\"},"
            "\"d_union_null\":null,\"d_union_str\":{\"string\":\"first\"},"
            "\"d_nested\":[{\"city\":\"A\",\"zip\":\"1\"},"
            "{\"city\":\"B\",\"zip\":\"00000\"}]}";
        resolve_case(W_ORDER, R_ORDER, wv, rv);
}

static void test_record_and_field_aliases(void)
{
        /* The reader renamed the record (alias keeps the old name) and a
         * field; another writer field has the alias's name as its real
         * name elsewhere: names win over aliases. */
        resolve_case(
            "{\"type\":\"record\",\"name\":\"Person\",\"fields\":["
            "{\"name\":\"fname\",\"type\":\"string\"},"
            "{\"name\":\"age\",\"type\":\"int\"}]}",
            "{\"type\":\"record\",\"name\":\"Human\",\"namespace\":\"x.y\","
            "\"aliases\":[\"old.Person\"],\"fields\":["
            "{\"name\":\"age\",\"type\":\"long\",\"aliases\":[\"fname\"]},"
            "{\"name\":\"first_name\",\"type\":\"string\","
            "\"aliases\":[\"fname\"]}]}",
            "{\"fname\":\"Bo\",\"age\":30}", "{\"age\":30,\"first_name\":\"Bo\"}");
        /* Full name and unqualified name both match. */
        resolve_case("{\"type\":\"record\",\"name\":\"a.b.R\",\"fields\":["
                     "{\"name\":\"x\",\"type\":\"int\"}]}",
                     "{\"type\":\"record\",\"name\":\"c.R\",\"fields\":["
                     "{\"name\":\"x\",\"type\":\"int\"}]}",
                     "{\"x\":1}", "{\"x\":1}");
}

static void test_enums(void)
{
        const char *w = "{\"type\":\"enum\",\"name\":\"E\","
                        "\"symbols\":[\"A\",\"B\",\"C\"]}";
        const char *r = "{\"type\":\"enum\",\"name\":\"E\","
                        "\"symbols\":[\"C\",\"UNKNOWN\",\"A\",\"B\"],"
                        "\"default\":\"UNKNOWN\"}";
        const char *r2 = "{\"type\":\"enum\",\"name\":\"E\","
                         "\"symbols\":[\"B\",\"UNKNOWN\"],"
                         "\"default\":\"UNKNOWN\"}";
        resolve_case(w, r, "\"A\"", "\"A\"");
        resolve_case(w, r, "\"C\"", "\"C\"");
        resolve_case(w, r2, "\"A\"", "\"UNKNOWN\"");
        resolve_case(w, r2, "\"B\"", "\"B\"");
        resolve_case(w, r2, "\"C\"", "\"UNKNOWN\"");
}

static void test_unions(void)
{
        const char *rec = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                          "{\"name\":\"a\",\"type\":\"int\"}]}";
        const char *rec2 = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                           "{\"name\":\"a\",\"type\":\"long\"},"
                           "{\"name\":\"b\",\"type\":\"int\",\"default\":5}]}";
        char w[512], r[512];

        /* writer plain -> reader union */
        resolve_case("\"string\"", "[\"null\",\"string\"]", "\"s\"",
                     "{\"string\":\"s\"}");
        /* exact type preferred over an earlier promotable branch */
        resolve_case("\"int\"", "[\"long\",\"int\"]", "4", "{\"int\":4}");
        /* else the first promotable branch */
        resolve_case("\"int\"", "[\"null\",\"string\",\"double\",\"long\"]",
                     "4", "{\"double\":4}");
        /* writer union -> reader plain: every branch resolves */
        resolve_case("[\"int\",\"long\"]", "\"long\"", "{\"int\":9}", "9");
        resolve_case("[\"int\",\"long\"]", "\"long\"", "{\"long\":-9}", "-9");
        /* writer union -> reader union, branches reordered */
        resolve_case("[\"null\",\"string\",\"int\"]",
                     "[\"int\",\"string\",\"null\"]", "{\"string\":\"q\"}",
                     "{\"string\":\"q\"}");
        resolve_case("[\"null\",\"string\",\"int\"]",
                     "[\"int\",\"string\",\"null\"]", "null", "null");
        /* records inside unions resolve too */
        snprintf(w, sizeof(w), "[\"null\",%s]", rec);
        snprintf(r, sizeof(r), "[\"null\",%s]", rec2);
        resolve_case(w, r, "{\"R\":{\"a\":1}}", "{\"R\":{\"a\":1,\"b\":5}}");
        resolve_case(rec, r, "{\"a\":2}", "{\"R\":{\"a\":2,\"b\":5}}");
}

static const char NESTED[] =
    "{\"type\":\"record\",\"name\":\"Top\",\"fields\":["
    "{\"name\":\"groups\",\"type\":{\"type\":\"map\",\"values\":"
    "{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"Leaf\","
    "\"fields\":[{\"name\":\"k\",\"type\":\"string\"},"
    "{\"name\":\"kids\",\"type\":{\"type\":\"array\",\"items\":\"Leaf\"}}"
    "]}}}}]}";

static void test_nested_and_recursive(void)
{
        const char *v =
            "{\"groups\":{\"g1\":[{\"k\":\"a\",\"kids\":[{\"k\":\"b\","
            "\"kids\":[]},{\"k\":\"c\",\"kids\":[{\"k\":\"d\",\"kids\":[]}]}]}],"
            "\"g2\":[]}}";
        resolve_case(NESTED, NESTED, v, v);
}

static void test_map_duplicate_keys(void)
{
        /* Two entries with the same key (hand-made; Avro C's encoder cannot
         * produce it): the last one wins and does not accumulate. */
        struct seam_avro_schema *s =
            schema("{\"type\":\"map\",\"values\":{\"type\":\"array\","
                   "\"items\":\"int\"}}");
        struct seam_avro_plan *p = plan(s, s);
        const uint8_t body[] = {4, 2, 'k', 2, 2, 0, 2, 'k', 2, 4, 0, 0};
        struct val out, want;
        char err[256];

        val_new(&out, seam_avro_schema_avro(s));
        CHECK_EQ_INT(seam_avro_decode(p, body, sizeof(body), NULL, &out.v,
                                      err, sizeof(err)),
                     0);
        val_from_json(&want, seam_avro_schema_avro(s), "{\"k\":[2]}");
        check_equal(&out.v, &want.v);
        val_free(&out);
        val_free(&want);
        seam_avro_plan_destroy(p);
        seam_avro_schema_destroy(s);
}

static void test_negative_block_counts(void)
{
        /* Writers may prefix a block with -count and its byte size. */
        const char *w = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                        "{\"name\":\"skipme\",\"type\":{\"type\":\"array\","
                        "\"items\":\"int\"}},"
                        "{\"name\":\"a\",\"type\":{\"type\":\"array\","
                        "\"items\":\"int\"}}]}";
        const char *r = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                        "{\"name\":\"a\",\"type\":{\"type\":\"array\","
                        "\"items\":\"int\"}}]}";
        /* skipme: block -2 items (3 bytes): 1, 300; end. a: -3 items in
         * 3 bytes: 1,2,3; then 1 item: 4; end. */
        const uint8_t body[] = {3, 6, 2, 0xd8, 0x04, 0, 5, 6, 2, 4, 6,
                                2, 8, 0};
        struct seam_avro_schema *ws = schema(w), *rs = schema(r);
        struct seam_avro_plan *p = plan(ws, rs);
        struct val out, want;
        char err[256] = "";

        val_new(&out, seam_avro_schema_avro(rs));
        CHECKF(seam_avro_decode(p, body, sizeof(body), NULL, &out.v, err,
                                sizeof(err)) == 0,
               "%s", err);
        val_from_json(&want, seam_avro_schema_avro(rs), "{\"a\":[1,2,3,4]}");
        check_equal(&out.v, &want.v);
        check_truncations(p, &out.v, body, sizeof(body));
        val_free(&out);
        val_free(&want);
        seam_avro_plan_destroy(p);
        seam_avro_schema_destroy(ws);
        seam_avro_schema_destroy(rs);

        /* A declared size that does not match the items. */
        const uint8_t bad[] = {0, 5, 4, 2, 4, 6, 0};
        decode_fails(w, bad, sizeof(bad),
                     "R.a: array block declared 2 bytes but its items took 3");
}

/* ---- hostile input ------------------------------------------------------ */

static const char ITEMS[] =
    "{\"type\":\"record\",\"name\":\"order\",\"fields\":["
    "{\"name\":\"items\",\"type\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"record\",\"name\":\"Item\",\"fields\":["
    "{\"name\":\"sku\",\"type\":\"string\"}]}}}]}";

static void test_huge_lengths(void)
{
        /* 1e9 zigzag-encoded: 2e9 = 0x80 0xa8 0xd6 0xb9 0x07. */
        const uint8_t s9[] = {0x80, 0xa8, 0xd6, 0xb9, 0x07, 'a', 'b', 'c', 'd'};
        const uint8_t items[] = {8, 2, 'a', 2, 'b', 2, 'c', 0x80, 0xa8, 0xd6,
                                 0xb9, 0x07, 1, 2, 3, 4, 5, 6, 7};

        decode_fails("\"string\"", s9, sizeof(s9),
                     "decode: string: string length 1000000000 exceeds the 4 "
                     "bytes remaining");
        decode_fails("\"bytes\"", s9, sizeof(s9),
                     "bytes length 1000000000 exceeds the 4 bytes remaining");
        decode_fails(ITEMS, items, sizeof(items),
                     "decode: order.items[3].sku: string length 1000000000 "
                     "exceeds the 7 bytes remaining");
        /* The same when the field is skipped (not in the reader). */
        decode_fails_lim(ITEMS,
                         "{\"type\":\"record\",\"name\":\"order\","
                         "\"fields\":[]}",
                         items, sizeof(items), NULL,
                         "decode: order.items[3].sku: string length "
                         "1000000000 exceeds the 7 bytes remaining");
        decode_fails_lim("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                         "{\"name\":\"b\",\"type\":\"bytes\"}]}",
                         "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}",
                         s9, sizeof(s9), NULL,
                         "decode: R.b: bytes length 1000000000 exceeds the 4 "
                         "bytes remaining");
        /* Map key lengths and fixed sizes too. */
        const uint8_t mk[] = {2, 0x80, 0xa8, 0xd6, 0xb9, 0x07, 0};
        decode_fails("{\"type\":\"map\",\"values\":\"int\"}", mk, sizeof(mk),
                     "map key length 1000000000 exceeds the 1 bytes "
                     "remaining");
        const uint8_t fx[] = {1, 2, 3};
        decode_fails("{\"type\":\"fixed\",\"name\":\"F\",\"size\":16}", fx,
                     sizeof(fx), "fixed needs 16 bytes, 3 remaining");
}

static void test_negative_lengths(void)
{
        const uint8_t neg1[] = {0x01, 'a'};
        const uint8_t negbig[] = {0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0x01};

        decode_fails("\"string\"", neg1, sizeof(neg1),
                     "negative string length -1");
        decode_fails("\"bytes\"", neg1, sizeof(neg1), "negative bytes length");
        decode_fails("\"string\"", negbig, sizeof(negbig),
                     "negative string length -9223372036854775808");
        const uint8_t mk[] = {2, 0x03, 0};
        decode_fails("{\"type\":\"map\",\"values\":\"int\"}", mk, sizeof(mk),
                     "negative map key length -2");
        /* A negative byte size in a block header. */
        const uint8_t nb[] = {1, 1, 0};
        decode_fails("{\"type\":\"array\",\"items\":\"int\"}", nb, sizeof(nb),
                     "array block byte size -1 is outside");
}

static void test_bad_indexes(void)
{
        const char *e = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                        "{\"name\":\"e\",\"type\":{\"type\":\"enum\","
                        "\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}}]}";
        const uint8_t e5[] = {10};
        const uint8_t eneg[] = {1};
        const uint8_t u3[] = {6};
        const uint8_t uneg[] = {3};
        const uint8_t ubig[] = {0xfe, 0xff, 0xff, 0xff, 0x0f};

        decode_fails(e, e5, 1, "R.e: enum index 5 out of range (3 symbols)");
        decode_fails(e, eneg, 1, "enum index -1 out of range");
        decode_fails("[\"null\",\"int\",\"string\"]", u3, 1,
                     "union index 3 out of range (3 branches)");
        decode_fails("[\"null\",\"int\"]", uneg, 1,
                     "union index -2 out of range");
        decode_fails("[\"null\",\"int\"]", ubig, sizeof(ubig),
                     "union index 2147483647 out of range");
        /* Skipped enums and unions are checked as well. */
        decode_fails_lim(e,
                         "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}",
                         e5, 1, NULL, "R.e: enum index 5 out of range");
        /* A boolean is 0 or 1. */
        const uint8_t b2[] = {2};
        decode_fails("\"boolean\"", b2, 1, "boolean byte 0x02 is neither");
}

static void test_varints(void)
{
        const uint8_t v11[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0xff, 0xff, 0x01};
        const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0x02};
        const uint8_t trunc[] = {0xff, 0xff};
        const uint8_t int6[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
        const uint8_t int33[] = {0x80, 0x80, 0x80, 0x80, 0x10};
        const uint8_t max64[] = {0xfe, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0x01};

        decode_fails("\"long\"", v11, sizeof(v11),
                     "varint longer than 10 bytes");
        decode_fails("\"long\"", over, sizeof(over),
                     "varint overflows 64 bits");
        decode_fails("\"long\"", trunc, sizeof(trunc), "truncated varint");
        decode_fails("\"int\"", int6, sizeof(int6),
                     "int varint out of the 32-bit range");
        decode_fails("\"int\"", int33, sizeof(int33),
                     "int varint out of the 32-bit range");
        /* The largest 10-byte varint is INT64_MAX, decoded without any
         * signed overflow (UBSan watches this test). */
        resolve_case("\"long\"", "\"long\"", "9223372036854775807",
                     "9223372036854775807");
        struct seam_avro_schema *s = schema("\"long\"");
        struct seam_avro_plan *p = plan(s, s);
        struct val out;
        int64_t l = 0;
        char err[256];
        val_new(&out, seam_avro_schema_avro(s));
        CHECK_EQ_INT(seam_avro_decode(p, max64, sizeof(max64), NULL, &out.v,
                                      err, sizeof(err)),
                     0);
        CHECK(avro_value_get_long(&out.v, &l) == 0);
        CHECK(l == INT64_MAX);
        val_free(&out);
        seam_avro_plan_destroy(p);
        seam_avro_schema_destroy(s);
}

static void test_trailing_bytes(void)
{
        const uint8_t b[] = {2, 'x', 0, 0, 0};
        decode_fails("\"string\"", b, sizeof(b),
                     "decode: string: 3 trailing bytes after the value");
        const uint8_t n[] = {0};
        decode_fails("\"null\"", n, 1, "1 trailing bytes");
}

static void test_depth_bomb(void)
{
        const char *node = "{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
                           "{\"name\":\"next\",\"type\":[\"null\",\"Node\"]}]}";
        uint8_t body[200];
        size_t n = 0;
        struct seam_avro_limits lim;

        /* 100 levels: union branch 1 each, then null. */
        for (int i = 0; i < 100; i++)
                body[n++] = 2;
        body[n++] = 0;
        decode_fails(node, body, n, "nested deeper than 64 levels");
        decode_fails(node, body, n, "decode: Node.next.next.next");
        /* With the limit raised it decodes. */
        seam_avro_limits_default(&lim);
        lim.max_depth = 200;
        {
                struct seam_avro_schema *s = schema(node);
                struct seam_avro_plan *p = plan(s, s);
                struct val out;
                char err[256] = "";
                val_new(&out, seam_avro_schema_avro(s));
                CHECKF(seam_avro_decode(p, body, n, &lim, &out.v, err,
                                        sizeof(err)) == 0,
                       "%s", err);
                val_free(&out);
                seam_avro_plan_destroy(p);
                seam_avro_schema_destroy(s);
        }
        /* Nested arrays count too, and skipping is bounded as well. */
        const char *arr = "{\"type\":\"record\",\"name\":\"A\",\"fields\":["
                          "{\"name\":\"a\",\"type\":{\"type\":\"array\","
                          "\"items\":{\"type\":\"array\",\"items\":{\"type\":"
                          "\"array\",\"items\":\"int\"}}}}]}";
        const uint8_t nest[] = {2, 2, 2, 2, 0, 0, 0};
        lim.max_depth = 3;
        decode_fails_lim(arr, NULL, nest, sizeof(nest), &lim,
                         "A.a[0][0]: nested deeper than 3 levels");
        decode_fails_lim(arr, "{\"type\":\"record\",\"name\":\"A\",\"fields\":[]}",
                         nest, sizeof(nest), &lim,
                         "A.a[0][0]: nested deeper than 3 levels");
}

static void test_element_bomb(void)
{
        const char *nulls = "{\"type\":\"array\",\"items\":\"null\"}";
        /* Block count 1e9 (zigzag 2e9) of 0-byte items, then the end. */
        const uint8_t bomb[] = {0x80, 0xa8, 0xd6, 0xb9, 0x07, 0};
        decode_fails(nulls, bomb, sizeof(bomb),
                     "array block of 1000000000 items exceeds the element "
                     "budget (1000000 left)");
        /* The budget is per message, across blocks and nesting. */
        struct seam_avro_limits lim;
        seam_avro_limits_default(&lim);
        lim.max_elements = 10;
        const uint8_t blocks[] = {12, 12, 0};
        decode_fails_lim(nulls, NULL, blocks, sizeof(blocks), &lim,
                         "array block of 6 items exceeds the element budget "
                         "(4 left)");
        /* INT64_MIN as a block count, negated without overflow. */
        const uint8_t minc[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0x01, 0x00, 0};
        decode_fails(nulls, minc, sizeof(minc),
                     "array block of 9223372036854775808 items exceeds");
        /* Skipped arrays and maps are charged too. */
        decode_fails_lim("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                         "{\"name\":\"x\",\"type\":{\"type\":\"map\","
                         "\"values\":\"null\"}}]}",
                         "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}",
                         bomb, sizeof(bomb), NULL,
                         "R.x: map block of 1000000000 items exceeds");
}

/* Records L1..Ln, each of ten fields of the previous one, L0 = null: a
 * value of Ln is 10^n fields and zero bytes. */
static void nested_schema(char *out, size_t cap, int levels)
{
        size_t n = 0;

        n += (size_t)snprintf(out + n, cap - n, "[");
        for (int l = 1; l <= levels; l++) {
                n += (size_t)snprintf(out + n, cap - n,
                                      "%s{\"type\":\"record\",\"name\":\"L%d\","
                                      "\"fields\":[",
                                      l > 1 ? "," : "", l);
                for (int f = 0; f < 10; f++) {
                        char type[16];
                        if (l == 1)
                                snprintf(type, sizeof(type), "\"null\"");
                        else
                                snprintf(type, sizeof(type), "\"L%d\"", l - 1);
                        n += (size_t)snprintf(out + n, cap - n,
                                              "%s{\"name\":\"f%d\",\"type\":%s}",
                                              f ? "," : "", f, type);
                }
                n += (size_t)snprintf(out + n, cap - n, "]}");
        }
        snprintf(out + n, cap - n, "]");
        CHECK(n + 2 < cap);
}

static void test_zero_byte_field_bomb(void)
{
        char w[8192];
        struct seam_avro_limits lim;
        /* Union branch 3 (L4): 10^4 null fields in 1 byte. */
        const uint8_t body[] = {6};

        nested_schema(w, sizeof(w), 4);
        seam_avro_limits_default(&lim);
        lim.max_elements = 1000;
        decode_fails_lim(w, NULL, body, sizeof(body), &lim,
                         "decode: union.f0.f8.f9: record of 10 fields exceeds "
                         "the element budget");
        /* Skipping (the reader lacks the branch's field) is bounded too. */
        {
                char ww[8300], rr[256];
                snprintf(ww, sizeof(ww),
                         "{\"type\":\"record\",\"name\":\"T\",\"fields\":["
                         "{\"name\":\"x\",\"type\":%s}]}",
                         w);
                snprintf(rr, sizeof(rr),
                         "{\"type\":\"record\",\"name\":\"T\",\"fields\":[]}");
                decode_fails_lim(ww, rr, body, sizeof(body), &lim,
                                 "decode: T.x.f0.f8.f8: record of 10 fields "
                                 "exceeds the element budget (9 left)");
        }
        /* Within the default budget it decodes: 11,110 fields, 1 byte. */
        struct seam_avro_schema *s = schema(w);
        struct seam_avro_plan *p = plan(s, s);
        struct val out;
        char err[256] = "";
        val_new(&out, seam_avro_schema_avro(s));
        CHECKF(seam_avro_decode(p, body, sizeof(body), NULL, &out.v, err,
                                sizeof(err)) == 0,
               "%s", err);
        val_free(&out);
        seam_avro_plan_destroy(p);
        seam_avro_schema_destroy(s);
}

/* A writer record without fields (0 bytes) in an array, read by a reader
 * that adds a field with a large default: the defaults are charged. */
static void test_default_amplification(void)
{
        const char *w = "{\"type\":\"array\",\"items\":{\"type\":\"record\","
                        "\"name\":\"E\",\"fields\":[]}}";
        const char *r = "{\"type\":\"array\",\"items\":{\"type\":\"record\","
                        "\"name\":\"E\",\"fields\":[{\"name\":\"pad\","
                        "\"type\":\"string\",\"default\":"
                        "\"0123456789012345678901234567890123456789\"}]}}";
        const uint8_t body[] = {0xc8, 0x01, 0}; /* 100 items */
        struct seam_avro_limits lim;

        seam_avro_limits_default(&lim);
        lim.max_bytes = 1000;
        decode_fails_lim(w, r, body, sizeof(body), &lim,
                         "array[25].pad: the default exceeds the message's element "
                         "or byte budget");
        /* And string bytes from the body are charged as well. */
        lim.max_bytes = 3;
        const uint8_t s[] = {8, 'a', 'b', 'c', 'd'};
        decode_fails_lim("\"string\"", NULL, s, sizeof(s), &lim,
                         "4 bytes exceed the message's byte budget (3 left)");
}

static void test_map_key_nul(void)
{
        const uint8_t b[] = {2, 4, 'a', 0, 2, 0};
        decode_fails("{\"type\":\"map\",\"values\":\"int\"}", b, sizeof(b),
                     "map key contains a NUL byte");
}

static void test_wrong_value_and_args(void)
{
        const char *rec = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                          "{\"name\":\"a\",\"type\":\"int\"}]}";
        struct seam_avro_schema *s = schema(rec);
        struct seam_avro_schema *other = schema(rec);
        struct seam_avro_plan *p = plan(s, s);
        struct val out;
        char err[256];
        const uint8_t b[] = {2};

        /* A value of an equal but different schema object is refused: the
         * plan's field indexes are only valid for its own reader. */
        val_new(&out, seam_avro_schema_avro(other));
        CHECK_EQ_INT(seam_avro_decode(p, b, 1, NULL, &out.v, err, sizeof(err)),
                     SEAM_ERR_INVALID);
        CHECK_CONTAINS(err, "not created from the plan's reader schema");
        val_free(&out);
        val_new(&out, seam_avro_schema_avro(s));
        CHECK_EQ_INT(seam_avro_decode(p, NULL, 1, NULL, &out.v, err,
                                      sizeof(err)),
                     SEAM_ERR_INVALID);
        /* An empty body is a valid null, and an invalid int. */
        CHECK_EQ_INT(seam_avro_decode(p, NULL, 0, NULL, &out.v, err,
                                      sizeof(err)),
                     SEAM_ERR_INVALID);
        CHECK_CONTAINS(err, "truncated varint");
        val_free(&out);
        seam_avro_plan_destroy(p);
        seam_avro_schema_destroy(s);
        seam_avro_schema_destroy(other);

        struct seam_avro_schema *n = schema("\"null\"");
        p = plan(n, n);
        val_new(&out, seam_avro_schema_avro(n));
        CHECK_EQ_INT(seam_avro_decode(p, NULL, 0, NULL, &out.v, err,
                                      sizeof(err)),
                     0);
        val_free(&out);
        seam_avro_plan_destroy(p);
        seam_avro_schema_destroy(n);
}

/* The plan outlives the schemas it was built from. */
static void test_plan_owns_references(void)
{
        struct seam_avro_schema *ws = schema(W_ORDER), *rs = schema(R_ORDER);
        struct seam_avro_plan *p = plan(ws, rs);
        avro_schema_t r = seam_avro_plan_reader(p);
        struct val out;
        uint8_t buf[1024];
        size_t len = encode(seam_avro_schema_avro(ws),
                            "{\"id\":1,\"legacy\":{\"xs\":[],\"e\":\"X\","
                            "\"fx\":\"abc\",\"fl\":1,\"db\":2,\"bo\":false,"
                            "\"n\":null,\"i\":1,\"by\":\"\"},\"name\":\"N\","
                            "\"total\":1}",
                            buf, sizeof(buf));
        char err[256] = "";

        seam_avro_schema_destroy(ws);
        val_new(&out, r);
        seam_avro_schema_destroy(rs);
        CHECKF(seam_avro_decode(p, buf, len, NULL, &out.v, err, sizeof(err)) ==
                   0,
               "%s", err);
        val_free(&out);
        seam_avro_plan_destroy(p);
        seam_avro_plan_destroy(NULL);
        seam_avro_schema_destroy(NULL);
}

/* ---- incompatible pairs ------------------------------------------------- */

static void test_incompatible(void)
{
        char w[512], r[512];

        rec1(w, sizeof(w), "\"string\"");
        rec1(r, sizeof(r), "\"int\"");
        plan_fails(w, r, "resolve: P.v: the writer's string cannot be read as "
                         "the reader's int");
        plan_fails("\"long\"", "\"int\"", "resolve: int: the writer's long");
        plan_fails("\"double\"", "\"float\"", "cannot be read");
        plan_fails(
            "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
            "{\"name\":\"a\",\"type\":\"int\"}]}",
            "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
            "{\"name\":\"a\",\"type\":\"int\"},"
            "{\"name\":\"b\",\"type\":\"string\"}]}",
            "resolve: R.b: the reader's field is not in the writer's record R "
            "and has no default");
        plan_fails("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\","
                   "\"B\"]}",
                   "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}",
                   "resolve: E: the writer's enum symbol B is not in the "
                   "reader's enum E, which has no default");
        plan_fails("{\"type\":\"fixed\",\"name\":\"F\",\"size\":16}",
                   "{\"type\":\"fixed\",\"name\":\"F\",\"size\":8}",
                   "fixed F has size 16 in the writer and 8 in the reader");
        plan_fails("{\"type\":\"record\",\"name\":\"A\",\"fields\":[]}",
                   "{\"type\":\"record\",\"name\":\"B\",\"fields\":[]}",
                   "the writer's record A cannot be read as the reader's "
                   "record B");
        /* Paths through arrays, maps and unions. */
        plan_fails(ITEMS,
                   "{\"type\":\"record\",\"name\":\"order\",\"fields\":["
                   "{\"name\":\"items\",\"type\":{\"type\":\"array\","
                   "\"items\":{\"type\":\"record\",\"name\":\"Item\","
                   "\"fields\":[{\"name\":\"sku\",\"type\":\"long\"}]}}}]}",
                   "resolve: order.items[].sku: the writer's string");
        plan_fails("{\"type\":\"map\",\"values\":\"string\"}",
                   "{\"type\":\"map\",\"values\":[\"null\",\"int\"]}",
                   "resolve: map{}: the writer's string matches no branch "
                   "of the reader's union");
        /* A writer union with one branch the reader cannot take. */
        plan_fails("[\"null\",\"string\"]", "\"string\"",
                   "the writer's null cannot be read");
        /* A bad default is found when the default is needed. */
        plan_fails("{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}",
                   "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                   "{\"name\":\"x\",\"type\":\"int\",\"default\":\"1\"}]}",
                   "resolve: R.x: default: type int needs an integer "
                   "within 32 bits");
        plan_fails("{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}",
                   "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                   "{\"name\":\"x\",\"type\":[\"null\",\"int\"],"
                   "\"default\":1}]}",
                   "resolve: R.x: default: type null needs null");
        plan_fails("{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}",
                   "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                   "{\"name\":\"x\",\"type\":\"bytes\","
                   "\"default\":\"\\u0100\"}]}",
                   "code points 0-255");
        plan_fails("{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}",
                   "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                   "{\"name\":\"x\",\"type\":{\"type\":\"record\","
                   "\"name\":\"In\",\"fields\":[{\"name\":\"y\","
                   "\"type\":\"int\"}]},\"default\":{}}]}",
                   "resolve: R.x.y: default: the record default has no value");
        /* A record whose default refers to itself forever. */
        plan_fails("{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}",
                   "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                   "{\"name\":\"x\",\"type\":{\"type\":\"record\","
                   "\"name\":\"Loop\",\"fields\":[{\"name\":\"again\","
                   "\"type\":[\"Loop\",\"null\"],\"default\":{}}]},"
                   "\"default\":{}}]}",
                   "nested deeper than 64 levels");
}

/* ---- schema parsing ----------------------------------------------------- */

static void schema_fails(const char *json, const char *needle)
{
        struct seam_avro_schema *s = (void *)1;
        char err[512] = "";
        CHECK_EQ_INT(seam_avro_schema_parse(json, strlen(json), &s, err,
                                            sizeof(err)),
                     SEAM_ERR_INVALID);
        CHECK(s == NULL);
        CHECK_CONTAINS(err, needle);
}

static void test_schema_validation(void)
{
        schema_fails("{", "invalid JSON");
        schema_fails("42", "a type must be");
        schema_fails("\"nope\"", "unknown type \"nope\"");
        schema_fails("{\"type\":\"record\",\"name\":\"1x\",\"fields\":[]}",
                     "not a valid Avro name");
        schema_fails("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                     "{\"name\":\"a\",\"type\":\"int\"},"
                     "{\"name\":\"a\",\"type\":\"int\"}]}",
                     "field a appears twice");
        schema_fails("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                     "{\"name\":7,\"type\":\"int\"}]}",
                     "field 0 has no valid \"name\"");
        schema_fails("{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}",
                     "\"size\" must be an integer");
        schema_fails("[\"int\",[\"null\"]]", "may not contain a union");
        schema_fails("[\"int\",\"int\"]", "two branches of type int");
        schema_fails("[]", "at least one branch");
        schema_fails("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[]}",
                     "non-empty \"symbols\"");
        schema_fails("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],"
                     "\"default\":\"B\"}",
                     "default \"B\" is not one of its symbols");
        schema_fails("[{\"type\":\"record\",\"name\":\"R\",\"fields\":[]},"
                     "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}]",
                     "type R is defined twice");
        schema_fails("{\"type\":\"record\",\"name\":\"Loop\",\"fields\":["
                     "{\"name\":\"x\",\"type\":\"int\"},"
                     "{\"name\":\"again\",\"type\":{\"type\":\"record\","
                     "\"name\":\"Mid\",\"fields\":[{\"name\":\"back\","
                     "\"type\":\"Loop\"}]}}]}",
                     "contains itself through fields that are neither");
        /* Inputs on which Avro C 1.11.1 itself fails (found by fuzzing its
         * parser directly; tests/fuzz/corpus/fuzz_schema/regress_avroc_*):
         * a record whose field is the record itself (its generic value
         * recurses until the stack overflows), a name defined twice (its
         * parser leaks), a name starting with a dot (accepted by it). */
        schema_fails("{\"type\":\"record\",\"name\":\"Ev\",\"fields\":["
                     "{\"name\":\"fm\",\"type\":{\"type\":\"map\",\"values\":"
                     "{\"type\":\"fixed\",\"name\":\"d\",\"size\":3}}},"
                     "{\"name\":\"es\",\"type\":{\"type\":\"Ev\",\"fieitems\":"
                     "{\"type\":\"enum\",\"name\":\"Color\",\"symrols\":"
                     "[\"BLUE\",\"OTHER\",\"RED\"],\"default\":\"OTHER\"}}}]}",
                     "record Ev contains itself");
        schema_fails("[{\"type\":\"enum\",\"name\":\"F\",\"symbols\":[\"A\"]},"
                     "{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}]",
                     "type F is defined twice");
        schema_fails("{\"type\":\"fixed\",\"name\":\".d\",\"size\":3}",
                     "fixed name \".d\" is not a valid Avro name");
        /* Too much to allocate before any data: a value of L8 would be
         * 10^8 fields; a fixed of 1.6 GB (found by fuzz_schema: Avro C
         * allocated it for the value, out of memory; corpus
         * regress_oom_huge_fixed.json). */
        {
                char nest[16384];
                nested_schema(nest, sizeof(nest), 8);
                schema_fails(nest, "record L6 nests so many fields that a "
                                   "value of it takes");
        }
        schema_fails("{\"type\":\"record\",\"name\":\"Orer\","
                     "\"namerpace\":\"spv@\",\"fields\":[{\"name\":\"ull\","
                     "\"type\":{\"type\":\"fixed\",\"name\":\"R2\","
                     "\"size\":1626793423},\"dault\":\"\\u00ffalse1\"}]}",
                     "fixed R2: \"size\" must be an integer from 0 to "
                     "16777216");
        /* Deeply nested arrays. */
        char deep[8192];
        size_t n = 0;
        for (int i = 0; i < 200; i++)
                n += (size_t)snprintf(deep + n, sizeof(deep) - n,
                                      "{\"type\":\"array\",\"items\":");
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "\"int\"");
        for (int i = 0; i < 200; i++)
                deep[n++] = '}';
        deep[n] = '\0';
        schema_fails(deep, "nested deeper than 128 levels");
        /* Namespaces: a reference is looked up in the enclosing one. */
        struct seam_avro_schema *s =
            schema("{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\","
                   "\"fields\":[{\"name\":\"e\",\"type\":{\"type\":\"enum\","
                   "\"name\":\"E\",\"symbols\":[\"X\"]}},"
                   "{\"name\":\"e2\",\"type\":\"E\"},"
                   "{\"name\":\"e3\",\"type\":\"a.b.E\"}]}");
        seam_avro_schema_destroy(s);
}

int main(void)
{
        TEST_RUN(test_roundtrip_all_types);
        TEST_RUN(test_roundtrip_primitives_at_root);
        TEST_RUN(test_roundtrip_long_string);
        TEST_RUN(test_matches_avro_c_reader);
        TEST_RUN(test_promotions);
        TEST_RUN(test_evolution);
        TEST_RUN(test_record_and_field_aliases);
        TEST_RUN(test_enums);
        TEST_RUN(test_unions);
        TEST_RUN(test_nested_and_recursive);
        TEST_RUN(test_map_duplicate_keys);
        TEST_RUN(test_negative_block_counts);
        TEST_RUN(test_huge_lengths);
        TEST_RUN(test_negative_lengths);
        TEST_RUN(test_bad_indexes);
        TEST_RUN(test_varints);
        TEST_RUN(test_trailing_bytes);
        TEST_RUN(test_depth_bomb);
        TEST_RUN(test_element_bomb);
        TEST_RUN(test_zero_byte_field_bomb);
        TEST_RUN(test_default_amplification);
        TEST_RUN(test_map_key_nul);
        TEST_RUN(test_wrong_value_and_args);
        TEST_RUN(test_plan_owns_references);
        TEST_RUN(test_incompatible);
        TEST_RUN(test_schema_validation);
        return 0;
}
