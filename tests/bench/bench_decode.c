/* bench_decode - our bounded decoder against Avro C's own, on the same
 * records in the same run.
 *
 * Encodes N records (default 200,000, about 100 bytes each: strings, ints, a
 * nested record, an array, an enum, a union) with Avro C, then decodes all
 * of them into the same generic reader value type
 *   (a) with Avro C: avro_value_read through avro_resolved_writer_new,
 *   (b) with seam_avro_plan_new + seam_avro_decode,
 * checks that both give equal values, and prints records/s, ns/record, the
 * ratio and peak RSS. Each side runs 3 times; the best run counts.
 *
 * Usage: bench_decode [N] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <avro.h>

#include "avro_decode.h"

static const char SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"bench\","
    "\"fields\":["
    "{\"name\":\"id\",\"type\":\"long\"},"
    "{\"name\":\"customer\",\"type\":\"string\"},"
    "{\"name\":\"email\",\"type\":\"string\"},"
    "{\"name\":\"qty\",\"type\":\"int\"},"
    "{\"name\":\"price_cents\",\"type\":\"long\"},"
    "{\"name\":\"status\",\"type\":{\"type\":\"enum\",\"name\":\"Status\","
    "\"symbols\":[\"NEW\",\"PAID\",\"SHIPPED\",\"DONE\"]}},"
    "{\"name\":\"address\",\"type\":{\"type\":\"record\",\"name\":\"Addr\","
    "\"fields\":[{\"name\":\"street\",\"type\":\"string\"},"
    "{\"name\":\"city\",\"type\":\"string\"},"
    "{\"name\":\"zip\",\"type\":\"int\"}]}},"
    "{\"name\":\"items\",\"type\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"record\",\"name\":\"Item\",\"fields\":["
    "{\"name\":\"sku\",\"type\":\"string\"},"
    "{\"name\":\"n\",\"type\":\"int\"}]}}},"
    "{\"name\":\"note\",\"type\":[\"null\",\"string\"]}]}";

static void die(const char *what, const char *detail)
{
        fprintf(stderr, "bench_decode: %s: %s\n", what, detail);
        exit(1);
}

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void)
{
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return ru.ru_maxrss;
}

static void set_str(avro_value_t *rec, size_t idx, const char *s)
{
        avro_value_t f;
        if (avro_value_get_by_index(rec, idx, &f, NULL) ||
            avro_value_set_string(&f, s))
                die("fill", avro_strerror());
}

static void set_int(avro_value_t *rec, size_t idx, int32_t v)
{
        avro_value_t f;
        if (avro_value_get_by_index(rec, idx, &f, NULL) ||
            avro_value_set_int(&f, v))
                die("fill", avro_strerror());
}

static void set_long(avro_value_t *rec, size_t idx, int64_t v)
{
        avro_value_t f;
        if (avro_value_get_by_index(rec, idx, &f, NULL) ||
            avro_value_set_long(&f, v))
                die("fill", avro_strerror());
}

/* Record i, varied so that the data is not one repeated message. */
static void fill(avro_value_t *v, size_t i)
{
        char buf[64];
        avro_value_t f, item, branch;

        avro_value_reset(v);
        set_long(v, 0, (int64_t)i * 7919);
        snprintf(buf, sizeof(buf), "customer-%zu", i % 5000);
        set_str(v, 1, buf);
        snprintf(buf, sizeof(buf), "c%zu@example.com", i % 5000);
        set_str(v, 2, buf);
        set_int(v, 3, (int32_t)(i % 17) + 1);
        set_long(v, 4, (int64_t)(i % 100000) * 13);
        if (avro_value_get_by_index(v, 5, &f, NULL) ||
            avro_value_set_enum(&f, (int)(i % 4)))
                die("fill", avro_strerror());
        if (avro_value_get_by_index(v, 6, &f, NULL))
                die("fill", avro_strerror());
        snprintf(buf, sizeof(buf), "%zu Main Street", i % 999);
        set_str(&f, 0, buf);
        set_str(&f, 1, i % 2 ? "Paris" : "Lyon");
        set_int(&f, 2, (int32_t)(75000 + i % 100));
        if (avro_value_get_by_index(v, 7, &f, NULL))
                die("fill", avro_strerror());
        for (size_t k = 0; k < 1 + i % 3; k++) {
                if (avro_value_append(&f, &item, NULL))
                        die("fill", avro_strerror());
                snprintf(buf, sizeof(buf), "SKU-%05zu", (i + k) % 40000);
                set_str(&item, 0, buf);
                set_int(&item, 1, (int32_t)k + 1);
        }
        if (avro_value_get_by_index(v, 8, &f, NULL) ||
            avro_value_set_branch(&f, i % 4 == 0 ? 1 : 0, &branch))
                die("fill", avro_strerror());
        if (i % 4 == 0 && avro_value_set_string(&branch, "leave at door"))
                die("fill", avro_strerror());
}

struct data {
        uint8_t *buf;
        size_t *off; /* record i is buf[off[i] .. off[i+1]) */
        size_t n;
};

static void encode_all(avro_schema_t s, struct data *d)
{
        avro_value_iface_t *iface = avro_generic_class_from_schema(s);
        avro_value_t v;
        size_t cap = d->n * 160, used = 0;
        avro_writer_t w;

        d->buf = malloc(cap);
        d->off = malloc((d->n + 1) * sizeof(size_t));
        if (!iface || !d->buf || !d->off ||
            avro_generic_value_new(iface, &v))
                die("encode", "out of memory");
        w = avro_writer_memory((const char *)d->buf, (int64_t)cap);
        for (size_t i = 0; i < d->n; i++) {
                d->off[i] = used;
                fill(&v, i);
                if (avro_value_write(w, &v))
                        die("encode", avro_strerror());
                used = (size_t)avro_writer_tell(w);
        }
        d->off[d->n] = used;
        avro_writer_free(w);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
}

static double run_avro_c(avro_schema_t ws, avro_schema_t rs,
                         const struct data *d, avro_value_t *out)
{
        avro_value_iface_t *rw = avro_resolved_writer_new(ws, rs);
        avro_reader_t rd = avro_reader_memory((const char *)d->buf, 1);
        avro_value_t resolved;
        double t0;

        if (!rw || avro_resolved_writer_new_value(rw, &resolved))
                die("Avro C resolver", avro_strerror());
        avro_resolved_writer_set_dest(&resolved, out);
        t0 = now_s();
        for (size_t i = 0; i < d->n; i++) {
                avro_reader_memory_set_source(
                    rd, (const char *)d->buf + d->off[i],
                    (int64_t)(d->off[i + 1] - d->off[i]));
                avro_value_reset(out);
                if (avro_value_read(rd, &resolved))
                        die("Avro C decode", avro_strerror());
        }
        t0 = now_s() - t0;
        avro_reader_free(rd);
        avro_value_decref(&resolved);
        avro_value_iface_decref(rw);
        return t0;
}

static double run_seam(const struct seam_avro_plan *p, const struct data *d,
                       avro_value_t *out)
{
        char err[512];
        double t0 = now_s();

        for (size_t i = 0; i < d->n; i++) {
                if (seam_avro_decode(p, d->buf + d->off[i],
                                     d->off[i + 1] - d->off[i], NULL, out, err,
                                     sizeof(err)))
                        die("seam decode", err);
        }
        return now_s() - t0;
}

/* Both decoders give the same value for a sample of the records. */
static void cross_check(avro_schema_t ws, avro_schema_t rs,
                        const struct seam_avro_plan *p, const struct data *d,
                        avro_value_iface_t *iface)
{
        avro_value_iface_t *rw = avro_resolved_writer_new(ws, rs);
        avro_value_t a, b, resolved;
        char err[512];

        if (avro_generic_value_new(iface, &a) ||
            avro_generic_value_new(iface, &b) ||
            avro_resolved_writer_new_value(rw, &resolved))
                die("cross-check", avro_strerror());
        avro_resolved_writer_set_dest(&resolved, &a);
        for (size_t i = 0; i < d->n; i += 997) {
                size_t len = d->off[i + 1] - d->off[i];
                avro_reader_t rd = avro_reader_memory(
                    (const char *)d->buf + d->off[i], (int64_t)len);
                avro_value_reset(&a);
                if (avro_value_read(rd, &resolved))
                        die("cross-check", avro_strerror());
                avro_reader_free(rd);
                if (seam_avro_decode(p, d->buf + d->off[i], len, NULL, &b, err,
                                     sizeof(err)))
                        die("cross-check", err);
                if (!avro_value_equal(&a, &b))
                        die("cross-check", "the decoders disagree");
        }
        avro_value_decref(&resolved);
        avro_value_iface_decref(rw);
        avro_value_decref(&a);
        avro_value_decref(&b);
}

int main(int argc, char **argv)
{
        struct data d = {.n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000};
        struct seam_avro_schema *ws, *rs;
        struct seam_avro_plan *plan;
        avro_value_iface_t *iface;
        avro_value_t out;
        double best_a = 1e30, best_b = 1e30;
        long rss_encoded;
        char err[512];

        if (d.n == 0)
                die("usage", "bench_decode [N>0]");
        /* Writer and reader are parsed separately, as they are in the
         * host (one from the registry, one from the consumer's config). */
        if (seam_avro_schema_parse(SCHEMA, sizeof(SCHEMA) - 1, &ws, err,
                                   sizeof(err)) ||
            seam_avro_schema_parse(SCHEMA, sizeof(SCHEMA) - 1, &rs, err,
                                   sizeof(err)) ||
            seam_avro_plan_new(ws, rs, &plan, err, sizeof(err)))
                die("setup", err);
        encode_all(seam_avro_schema_avro(ws), &d);
        rss_encoded = peak_rss_kb();
        iface = avro_generic_class_from_schema(seam_avro_schema_avro(rs));
        if (!iface || avro_generic_value_new(iface, &out))
                die("setup", avro_strerror());
        cross_check(seam_avro_schema_avro(ws), seam_avro_schema_avro(rs), plan,
                    &d, iface);

        for (int round = 0; round < 3; round++) {
                double a = run_avro_c(seam_avro_schema_avro(ws),
                                      seam_avro_schema_avro(rs), &d, &out);
                double b = run_seam(plan, &d, &out);
                if (a < best_a)
                        best_a = a;
                if (b < best_b)
                        best_b = b;
        }

        printf("records: %zu, %.1f bytes each on average\n", d.n,
               (double)d.off[d.n] / (double)d.n);
        printf("avro-c  (avro_value_read + resolved writer): %10.0f "
               "records/s  %7.1f ns/record\n",
               (double)d.n / best_a, best_a * 1e9 / (double)d.n);
        printf("seam    (seam_avro_decode):                  %10.0f "
               "records/s  %7.1f ns/record\n",
               (double)d.n / best_b, best_b * 1e9 / (double)d.n);
        printf("ratio: seam is %.2fx the speed of avro-c\n", best_a / best_b);
        printf("peak RSS: %ld KiB after encoding, %ld KiB after decoding "
               "(both decoders reuse one reader value)\n",
               rss_encoded, peak_rss_kb());

        avro_value_decref(&out);
        avro_value_iface_decref(iface);
        seam_avro_plan_destroy(plan);
        seam_avro_schema_destroy(ws);
        seam_avro_schema_destroy(rs);
        free(d.buf);
        free(d.off);
        return 0;
}
