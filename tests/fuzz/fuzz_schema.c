/* fuzz_schema - arbitrary bytes as schema JSON: parsed and validated
 * (seam_avro_schema_parse, which hands what it accepts to Avro C's parser),
 * then resolved both ways against fixed schemas and against itself, and, as
 * a reader, instantiated as an Avro C generic value and decoded into, which
 * also runs the reader's defaults.
 *
 * Input longer than 16 KiB is ignored: registry schemas are parsed once
 * each, and size is not where the bugs are. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "avro_decode.h"
#include "fuzz_schemas.h"

#define MAX_INPUT 16384

static struct seam_avro_schema *fixed[FUZZ_PAIR_COUNT * 2];

static void die(const char *what, const char *err)
{
        fprintf(stderr, "fuzz_schema: %s: %s\n", what, err);
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        char err[512];

        for (size_t i = 0; i < FUZZ_PAIR_COUNT * 2; i++) {
                const char *j = i % 2 ? fuzz_pairs[i / 2].reader
                                      : fuzz_pairs[i / 2].writer;
                if (seam_avro_schema_parse(j, strlen(j), &fixed[i], err,
                                           sizeof(err)))
                        die("setup", err);
        }
        return 0;
}

static void try_plan(const struct seam_avro_schema *w,
                     const struct seam_avro_schema *r)
{
        struct seam_avro_plan *p = NULL;
        char err[512];
        int rc = seam_avro_plan_new(w, r, &p, err, sizeof(err));

        if (rc == 0 && !p)
                die("plan", "success without a plan");
        if (rc && strncmp(err, "resolve: ", 9))
                die("plan message", err);
        seam_avro_plan_destroy(p);
}

/* Decode a few bytes of the input into a value of the schema. */
static void try_decode(const struct seam_avro_schema *s, const uint8_t *data,
                       size_t size)
{
        struct seam_avro_limits lim = {32, 2000, 1u << 16};
        struct seam_avro_plan *p = NULL;
        avro_value_iface_t *iface;
        avro_value_t v;
        char err[512];
        char *json;

        if (seam_avro_plan_new(s, s, &p, err, sizeof(err)))
                return;
        iface = avro_generic_class_from_schema(seam_avro_schema_avro(s));
        if (!iface)
                die("a parsed schema has no value class", avro_strerror());
        if (avro_generic_value_new(iface, &v))
                die("value", avro_strerror());
        for (size_t n = 0; n <= size && n <= 64; n += 8) {
                if (seam_avro_decode(p, data + size - n, n, &lim, &v, err,
                                     sizeof(err)) == 0 &&
                    avro_value_to_json(&v, 1, &json) == 0)
                        free(json);
        }
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        seam_avro_plan_destroy(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct seam_avro_schema *s = NULL;
        char err[512];

        if (size > MAX_INPUT)
                return 0;
        if (seam_avro_schema_parse((const char *)data, size, &s, err,
                                   sizeof(err))) {
                if (s)
                        die("parse", "failure with a schema");
                if (strncmp(err, "schema: ", 8))
                        die("parse message", err);
                return 0;
        }
        for (size_t i = 0; i < FUZZ_PAIR_COUNT * 2; i++) {
                try_plan(s, fixed[i]);
                try_plan(fixed[i], s);
        }
        try_plan(s, s);
        try_decode(s, data, size);
        seam_avro_schema_destroy(s);
        return 0;
}
