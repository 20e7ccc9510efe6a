/* gen_corpus - writes the seed corpora of the fuzz targets:
 * corpus/fuzz_decode/pairN_K (selector byte + Confluent-framed body encoded
 * by Avro C from the samples of fuzz_schemas.h) and corpus/fuzz_schema/
 * (the schemas themselves and a few more). Run it by hand after changing
 * fuzz_schemas.h:  fuzz_gen_corpus tests/fuzz/corpus */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <jansson.h>

#include "avro_decode.h"
#include "fuzz_schemas.h"
#include "wire.h"

static const char *const extra_schemas[] = {
    "\"string\"",
    "[\"null\",\"long\",{\"type\":\"enum\",\"name\":\"E\","
    "\"symbols\":[\"A\",\"B\"],\"default\":\"A\"}]",
    "{\"type\":\"record\",\"name\":\"D\",\"namespace\":\"a.b\","
    "\"aliases\":[\"Old\",\"x.Older\"],\"fields\":["
    "{\"name\":\"i\",\"type\":\"int\",\"default\":1,\"aliases\":[\"j\"]},"
    "{\"name\":\"by\",\"type\":\"bytes\",\"default\":\"\\u00ff\"},"
    "{\"name\":\"u\",\"type\":[\"string\",\"null\"],\"default\":\"x\"},"
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\","
    "\"logicalType\":\"timestamp-millis\"},\"default\":0},"
    "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"c.F\","
    "\"fields\":[{\"name\":\"again\",\"type\":[\"null\",\"a.b.D\"],"
    "\"default\":null}]},\"default\":{}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"c.F\"},"
    "\"default\":{\"k\":{\"again\":null}}}]}",
};

static void die(const char *what)
{
        fprintf(stderr, "gen_corpus: %s\n", what);
        exit(1);
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

static avro_schema_t deref(avro_schema_t s)
{
        while (is_avro_link(s))
                s = avro_schema_link_target(s);
        return s;
}

/* Unions as {"branch type name": value} or null. */
static void from_json(avro_value_t *v, const json_t *j)
{
        avro_schema_t s = deref(avro_value_get_schema(v));
        avro_value_t child;
        unsigned char buf[256];
        const char *key;
        json_t *item;
        size_t i, n;
        int rc = 0;

        switch (avro_value_get_type(v)) {
        case AVRO_NULL: rc = avro_value_set_null(v); break;
        case AVRO_BOOLEAN: rc = avro_value_set_boolean(v, json_is_true(j)); break;
        case AVRO_INT32:
                rc = avro_value_set_int(v, (int32_t)json_integer_value(j));
                break;
        case AVRO_INT64: rc = avro_value_set_long(v, json_integer_value(j)); break;
        case AVRO_FLOAT:
                rc = avro_value_set_float(v, (float)json_number_value(j));
                break;
        case AVRO_DOUBLE: rc = avro_value_set_double(v, json_number_value(j)); break;
        case AVRO_STRING:
                rc = avro_value_set_string_len(v, json_string_value(j),
                                               json_string_length(j) + 1);
                break;
        case AVRO_BYTES:
        case AVRO_FIXED:
                if (json_string_length(j) >= sizeof(buf))
                        die("sample string too long");
                n = latin1(json_string_value(j), json_string_length(j), buf);
                rc = avro_value_get_type(v) == AVRO_BYTES
                         ? avro_value_set_bytes(v, buf, n)
                         : avro_value_set_fixed(v, buf, n);
                break;
        case AVRO_ENUM:
                rc = avro_value_set_enum(
                    v, avro_schema_enum_get_by_name(s, json_string_value(j)));
                break;
        case AVRO_ARRAY:
                json_array_foreach(j, i, item)
                {
                        if (avro_value_append(v, &child, NULL))
                                die("append");
                        from_json(&child, item);
                }
                break;
        case AVRO_MAP:
                json_object_foreach((json_t *)j, key, item)
                {
                        if (avro_value_add(v, key, &child, NULL, NULL))
                                die("add");
                        from_json(&child, item);
                }
                break;
        case AVRO_RECORD:
                for (i = 0; i < avro_schema_record_size(s); i++) {
                        json_t *fv = json_object_get(
                            j, avro_schema_record_field_name(s, (int)i));
                        if (!fv)
                                continue;
                        if (avro_value_get_by_index(v, i, &child, NULL))
                                die("field");
                        from_json(&child, fv);
                }
                break;
        case AVRO_UNION: {
                const char *want = "null";
                json_t *inner = (json_t *)j;
                int found = -1;
                if (!json_is_null(j)) {
                        json_object_foreach((json_t *)j, key, item)
                        {
                                want = key;
                                inner = item;
                        }
                }
                for (i = 0; i < avro_schema_union_size(s); i++) {
                        avro_schema_t b =
                            deref(avro_schema_union_branch(s, (int)i));
                        const char *name =
                            is_avro_record(b) || is_avro_enum(b) ||
                                    is_avro_fixed(b)
                                ? avro_schema_name(b)
                                : avro_schema_type_name(b);
                        if (!strcmp(name, want))
                                found = (int)i;
                }
                if (found < 0 || avro_value_set_branch(v, found, &child))
                        die("union branch");
                from_json(&child, inner);
                break;
        }
        default: die("type");
        }
        if (rc)
                die(avro_strerror());
}

static void write_file(const char *dir, const char *name, const void *buf,
                       size_t len)
{
        char path[1024];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (!(f = fopen(path, "wb")) || fwrite(buf, 1, len, f) != len ||
            fclose(f))
                die(path);
}

int main(int argc, char **argv)
{
        char dir[900], name[64], err[512];
        uint8_t body[4096], framed[4200];
        size_t flen;

        if (argc != 2)
                die("usage: fuzz_gen_corpus CORPUS_DIR");
        for (size_t i = 0; i < FUZZ_PAIR_COUNT; i++) {
                const struct fuzz_pair *p = &fuzz_pairs[i];
                struct seam_avro_schema *w;
                avro_value_iface_t *iface;
                if (seam_avro_schema_parse(p->writer, strlen(p->writer), &w,
                                           err, sizeof(err)))
                        die(err);
                iface = avro_generic_class_from_schema(seam_avro_schema_avro(w));
                for (size_t k = 0; k < 3 && p->samples[k]; k++) {
                        json_error_t jerr;
                        json_t *j = json_loads(p->samples[k],
                                               JSON_DECODE_ANY | JSON_ALLOW_NUL,
                                               &jerr);
                        avro_value_t v;
                        avro_writer_t wr;
                        if (!j)
                                die(jerr.text);
                        if (avro_generic_value_new(iface, &v))
                                die("value");
                        from_json(&v, j);
                        wr = avro_writer_memory((const char *)body,
                                                sizeof(body));
                        if (avro_value_write(wr, &v))
                                die(avro_strerror());
                        framed[0] = (uint8_t)i;
                        if (seam_wire_frame((uint32_t)i + 1, body,
                                            (size_t)avro_writer_tell(wr),
                                            framed + 1, sizeof(framed) - 1,
                                            &flen))
                                die("frame");
                        snprintf(dir, sizeof(dir), "%s/fuzz_decode", argv[1]);
                        snprintf(name, sizeof(name), "pair%zu_%zu", i, k);
                        write_file(dir, name, framed, flen + 1);
                        avro_writer_free(wr);
                        avro_value_decref(&v);
                        json_decref(j);
                }
                avro_value_iface_decref(iface);
                seam_avro_schema_destroy(w);
                snprintf(dir, sizeof(dir), "%s/fuzz_schema", argv[1]);
                snprintf(name, sizeof(name), "pair%zu_writer.json", i);
                write_file(dir, name, p->writer, strlen(p->writer));
                snprintf(name, sizeof(name), "pair%zu_reader.json", i);
                write_file(dir, name, p->reader, strlen(p->reader));
        }
        for (size_t i = 0; i < sizeof(extra_schemas) / sizeof(*extra_schemas);
             i++) {
                struct seam_avro_schema *s;
                if (seam_avro_schema_parse(extra_schemas[i],
                                           strlen(extra_schemas[i]), &s, err,
                                           sizeof(err)))
                        die(err);
                seam_avro_schema_destroy(s);
                snprintf(dir, sizeof(dir), "%s/fuzz_schema", argv[1]);
                snprintf(name, sizeof(name), "extra%zu.json", i);
                write_file(dir, name, extra_schemas[i],
                           strlen(extra_schemas[i]));
        }
        return 0;
}
