/* avro_decode.c - running a plan (avro_resolve.c) over an Avro binary body.
 *
 * The rules that make hostile input harmless, all checked before anything
 * is allocated or copied: every length against the bytes remaining, every
 * varint for overflow with unsigned arithmetic, every enum and union index
 * against its range, nesting against max_depth, item counts (skipped ones
 * too) against max_elements, materialized bytes against max_bytes, and the
 * body is consumed exactly.
 *
 * On failure the error path is assembled while unwinding: each record,
 * array and map level adds its segment, so the success path pays nothing
 * for it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_plan.h"
#include "err.h"

/* Path segments kept for a message; deeper paths keep the outer ones. */
#define SEG_CAP 48

enum seg_kind { SEG_FIELD, SEG_INDEX, SEG_KEY };

struct seg {
        uint8_t kind;
        const char *s; /* field name, or key bytes in the body */
        size_t n;      /* index, or key length */
};

struct dctx {
        const uint8_t *p;
        const uint8_t *end;
        size_t elements_left;
        size_t bytes_left;
        size_t depth;
        size_t max_depth;
        char *heap; /* scratch for strings longer than `small` */
        size_t heap_cap;
        size_t seg_count;
        struct seg segs[SEG_CAP];
        char detail[256];
        char small[512];
};

void seam_avro_limits_default(struct seam_avro_limits *l)
{
        l->max_depth = SEAM_AVRO_DEFAULT_MAX_DEPTH;
        l->max_elements = SEAM_AVRO_DEFAULT_MAX_ELEMENTS;
        l->max_bytes = SEAM_AVRO_DEFAULT_MAX_BYTES;
}

static int fail(struct dctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noinline, cold));

static int fail(struct dctx *c, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
        va_end(ap);
        return SEAM_ERR_INVALID;
}

static int nomem(struct dctx *c) __attribute__((noinline, cold));

static int nomem(struct dctx *c)
{
        snprintf(c->detail, sizeof(c->detail),
                 "Avro C could not allocate the value");
        return SEAM_ERR_NOMEM;
}

static void seg_add(struct dctx *c, uint8_t kind, const char *s, size_t n)
{
        struct seg *g = &c->segs[c->seg_count % SEG_CAP];

        g->kind = kind;
        g->s = s;
        g->n = n;
        c->seg_count++;
}

static inline size_t remaining(const struct dctx *c)
{
        return (size_t)(c->end - c->p);
}

static int varint_slow(struct dctx *c, uint64_t *out)
{
        uint64_t v = 0;

        for (unsigned shift = 0; c->p < c->end; shift += 7) {
                uint8_t b = *c->p++;
                if (shift == 63 && b > 1)
                        return fail(c, b & 0x80 ? "varint longer than 10 "
                                                  "bytes"
                                                : "varint overflows 64 bits");
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *out = v;
                        return 0;
                }
        }
        return fail(c, "truncated varint at the end of the body");
}

static inline int rd_varint(struct dctx *c, uint64_t *out)
{
        if (c->p < c->end && *c->p < 0x80) {
                *out = *c->p++;
                return 0;
        }
        return varint_slow(c, out);
}

static inline int64_t zigzag(uint64_t u)
{
        /* u >> 1 fits in int64_t, and -(0 or 1) is 0 or all ones: no
         * signed overflow anywhere. */
        return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static inline int rd_long(struct dctx *c, int64_t *v)
{
        uint64_t u;
        int rc = rd_varint(c, &u);

        *v = zigzag(u);
        return rc;
}

static inline int rd_int(struct dctx *c, int32_t *v)
{
        const uint8_t *start = c->p;
        uint64_t u;
        int rc = rd_varint(c, &u);

        if (rc)
                return rc;
        if (u > UINT32_MAX || c->p - start > 5)
                return fail(c, "int varint out of the 32-bit range");
        *v = (int32_t)zigzag(u);
        return 0;
}

/* A string, bytes or map key length: not negative, not past the end. */
static inline int rd_len(struct dctx *c, const char *what, size_t *n)
{
        int64_t v;
        int rc = rd_long(c, &v);

        *n = 0;
        if (rc)
                return rc;
        if (v < 0)
                return fail(c, "negative %s length %lld", what, (long long)v);
        if ((uint64_t)v > remaining(c))
                return fail(c, "%s length %lld exceeds the %zu bytes "
                            "remaining", what, (long long)v, remaining(c));
        *n = (size_t)v;
        return 0;
}

static inline int rd_fixed_bytes(struct dctx *c, size_t n, const char *what)
{
        if (n > remaining(c))
                return fail(c, "%s needs %zu bytes, %zu remaining", what, n,
                            remaining(c));
        return 0;
}

static inline uint32_t le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
               (uint32_t)p[3] << 24;
}

static inline int rd_float(struct dctx *c, float *f)
{
        uint32_t u;

        if (remaining(c) < 4)
                return fail(c, "float needs 4 bytes, %zu remaining",
                            remaining(c));
        u = le32(c->p);
        memcpy(f, &u, 4);
        c->p += 4;
        return 0;
}

static inline int rd_double(struct dctx *c, double *d)
{
        uint64_t u;

        if (remaining(c) < 8)
                return fail(c, "double needs 8 bytes, %zu remaining",
                            remaining(c));
        u = (uint64_t)le32(c->p) | (uint64_t)le32(c->p + 4) << 32;
        memcpy(d, &u, 8);
        c->p += 8;
        return 0;
}

static inline int rd_boolean(struct dctx *c, int *b)
{
        if (c->p == c->end)
                return fail(c, "boolean needs 1 byte, 0 remaining");
        if (*c->p > 1)
                return fail(c, "boolean byte 0x%02x is neither 0 nor 1",
                            *c->p);
        *b = *c->p++;
        return 0;
}

static inline int charge_bytes(struct dctx *c, size_t n)
{
        if (n > c->bytes_left)
                return fail(c, "%zu bytes exceed the message's byte budget "
                            "(%zu left)", n, c->bytes_left);
        c->bytes_left -= n;
        return 0;
}

/* A NUL-terminated copy of n bytes at c->p (Avro C stores strings and map
 * keys with a terminator it counts in their size). */
static char *scratch(struct dctx *c, size_t n)
{
        char *buf = c->small;

        if (n + 1 > sizeof(c->small)) {
                if (n + 1 > c->heap_cap) {
                        char *h = realloc(c->heap, n + 1);
                        if (!h)
                                return NULL;
                        c->heap = h;
                        c->heap_cap = n + 1;
                }
                buf = c->heap;
        }
        memcpy(buf, c->p, n);
        buf[n] = '\0';
        return buf;
}

static int enter(struct dctx *c)
{
        if (++c->depth > c->max_depth)
                return fail(c, "nested deeper than %zu levels", c->max_depth);
        return 0;
}

/* Record fields count as elements too: a record of null fields takes no
 * bytes, and nested records multiply (ten levels of ten such fields are
 * 10^10 fields), so bytes alone do not bound the work. */
static int enter_record(struct dctx *c, size_t fields)
{
        if (fields > c->elements_left)
                return fail(c, "record of %zu fields exceeds the element "
                            "budget (%zu left)", fields, c->elements_left);
        c->elements_left -= fields;
        return enter(c);
}

/* One block header of an array or map. *count is 0 at the end; *size is
 * the block's byte size when the writer gave one (negative count), else
 * SIZE_MAX. */
static int rd_block(struct dctx *c, const char *what, uint64_t *count,
                    size_t *size)
{
        int64_t v;
        int rc = rd_long(c, &v);

        if (rc)
                return rc;
        *size = SIZE_MAX;
        if (v < 0) {
                int64_t bytes;
                /* Negating in unsigned arithmetic covers INT64_MIN. */
                *count = -(uint64_t)v;
                if ((rc = rd_long(c, &bytes)))
                        return rc;
                if (bytes < 0 || (uint64_t)bytes > remaining(c))
                        return fail(c, "%s block byte size %lld is outside "
                                    "the %zu bytes remaining", what,
                                    (long long)bytes, remaining(c));
                *size = (size_t)bytes;
        } else {
                *count = (uint64_t)v;
        }
        if (*count > c->elements_left)
                return fail(c, "%s block of %llu items exceeds the element "
                            "budget (%zu left)", what,
                            (unsigned long long)*count, c->elements_left);
        c->elements_left -= (size_t)*count;
        return 0;
}

static int check_block_size(struct dctx *c, const char *what, size_t size,
                            const uint8_t *start)
{
        if (size != SIZE_MAX && (size_t)(c->p - start) != size)
                return fail(c, "%s block declared %zu bytes but its items "
                            "took %zu", what, size, (size_t)(c->p - start));
        return 0;
}

static int rd_enum(struct dctx *c, const struct seam_avro_node *n, size_t *idx)
{
        int64_t v;
        int rc = rd_long(c, &v);

        if (rc)
                return rc;
        if (v < 0 || (uint64_t)v >= n->u.enm.count)
                return fail(c, "enum index %lld out of range (%zu symbols)",
                            (long long)v, n->u.enm.count);
        *idx = (size_t)v;
        return 0;
}

static int rd_branch(struct dctx *c, const struct seam_avro_node *n,
                     size_t *idx)
{
        int64_t v;
        int rc = rd_long(c, &v);

        if (rc)
                return rc;
        if (v < 0 || (uint64_t)v >= n->u.wunion.count)
                return fail(c, "union index %lld out of range (%zu branches)",
                            (long long)v, n->u.wunion.count);
        *idx = (size_t)v;
        return 0;
}

/* ---- skipping (writer fields the reader does not have) ----------------- */

static int skip(struct dctx *c, const struct seam_avro_node *n)
{
        uint64_t count;
        size_t len, size, idx;
        int64_t l;
        int32_t i;
        int rc = 0, b;

        switch (n->op) {
        case SEAM_OP_NULL: return 0;
        case SEAM_OP_BOOLEAN: return rd_boolean(c, &b);
        case SEAM_OP_INT: return rd_int(c, &i);
        case SEAM_OP_LONG: return rd_long(c, &l);
        case SEAM_OP_FLOAT:
        case SEAM_OP_DOUBLE:
                len = n->op == SEAM_OP_FLOAT ? 4 : 8;
                if ((rc = rd_fixed_bytes(c, len, n->op == SEAM_OP_FLOAT
                                                     ? "float"
                                                     : "double")))
                        return rc;
                c->p += len;
                return 0;
        case SEAM_OP_STRING:
        case SEAM_OP_BYTES:
                if ((rc = rd_len(c, n->op == SEAM_OP_STRING ? "string"
                                                            : "bytes",
                                 &len)))
                        return rc;
                c->p += len;
                return 0;
        case SEAM_OP_FIXED:
                if ((rc = rd_fixed_bytes(c, n->u.fixed_size, "fixed")))
                        return rc;
                c->p += n->u.fixed_size;
                return 0;
        case SEAM_OP_ENUM: return rd_enum(c, n, &idx);
        case SEAM_OP_WUNION:
                if ((rc = rd_branch(c, n, &idx)))
                        return rc;
                return skip(c, n->u.wunion.branches[idx]);
        case SEAM_OP_RECORD:
                if ((rc = enter_record(c, n->u.rec.step_count)))
                        return rc;
                for (size_t k = 0; k < n->u.rec.step_count; k++) {
                        if ((rc = skip(c, n->u.rec.steps[k].node))) {
                                seg_add(c, SEG_FIELD, n->u.rec.steps[k].name,
                                        0);
                                return rc;
                        }
                }
                c->depth--;
                return 0;
        case SEAM_OP_ARRAY:
        case SEAM_OP_MAP: {
                const char *what = n->op == SEAM_OP_ARRAY ? "array" : "map";
                size_t index = 0;
                if ((rc = enter(c)))
                        return rc;
                for (;;) {
                        if ((rc = rd_block(c, what, &count, &size)))
                                return rc;
                        if (count == 0)
                                break;
                        if (size != SIZE_MAX) {
                                /* The writer told us how far to jump. */
                                c->p += size;
                                index += (size_t)count;
                                continue;
                        }
                        for (uint64_t k = 0; k < count; k++, index++) {
                                const uint8_t *key = NULL;
                                len = 0;
                                if (n->op == SEAM_OP_MAP) {
                                        if ((rc = rd_len(c, "map key", &len)))
                                                return rc;
                                        key = c->p;
                                        c->p += len;
                                }
                                if ((rc = skip(c, n->u.items))) {
                                        if (key)
                                                seg_add(c, SEG_KEY,
                                                        (const char *)key, len);
                                        else
                                                seg_add(c, SEG_INDEX, NULL,
                                                        index);
                                        return rc;
                                }
                        }
                }
                c->depth--;
                return 0;
        }
        default: return fail(c, "internal: skip op %d", n->op);
        }
}

/* ---- decoding into the reader's value ---------------------------------- */

static int dec(struct dctx *c, const struct seam_avro_node *n,
               avro_value_t *v);

static int dec_record(struct dctx *c, const struct seam_avro_node *n,
                      avro_value_t *v)
{
        avro_value_t child;
        int rc;

        if ((rc = enter_record(c, n->u.rec.step_count)))
                return rc;
        for (size_t k = 0; k < n->u.rec.step_count; k++) {
                const struct seam_avro_step *s = &n->u.rec.steps[k];
                if (s->reader_index < 0) {
                        rc = skip(c, s->node);
                } else if (avro_value_get_by_index(v, (size_t)s->reader_index,
                                                   &child, NULL)) {
                        rc = nomem(c);
                } else {
                        rc = dec(c, s->node, &child);
                }
                if (rc) {
                        seg_add(c, SEG_FIELD, s->name, 0);
                        return rc;
                }
        }
        for (size_t k = 0; k < n->u.rec.fill_count; k++) {
                const struct seam_avro_fill *f = &n->u.rec.fills[k];
                if (f->elements > c->elements_left ||
                    f->bytes > c->bytes_left) {
                        rc = fail(c, "the default exceeds the message's "
                                  "element or byte budget");
                } else if (avro_value_get_by_index(v, (size_t)f->reader_index,
                                                   &child, NULL) ||
                           seam_avro_default_apply(f->value, &child)) {
                        rc = nomem(c);
                }
                if (rc) {
                        seg_add(c, SEG_FIELD, f->name, 0);
                        return rc;
                }
                c->elements_left -= f->elements;
                c->bytes_left -= f->bytes;
        }
        c->depth--;
        return 0;
}

static int dec_array(struct dctx *c, const struct seam_avro_node *n,
                     avro_value_t *v)
{
        avro_value_t child;
        uint64_t count;
        size_t size, index = 0;
        int rc;

        if ((rc = enter(c)))
                return rc;
        for (;;) {
                const uint8_t *start;
                if ((rc = rd_block(c, "array", &count, &size)))
                        return rc;
                if (count == 0)
                        break;
                start = c->p;
                for (uint64_t k = 0; k < count; k++, index++) {
                        if (avro_value_append(v, &child, NULL))
                                rc = nomem(c);
                        else
                                rc = dec(c, n->u.items, &child);
                        if (rc) {
                                seg_add(c, SEG_INDEX, NULL, index);
                                return rc;
                        }
                }
                if ((rc = check_block_size(c, "array", size, start)))
                        return rc;
        }
        c->depth--;
        return 0;
}

static int dec_map(struct dctx *c, const struct seam_avro_node *n,
                   avro_value_t *v)
{
        avro_value_t child;
        uint64_t count;
        size_t size, len;
        int rc, is_new;

        if ((rc = enter(c)))
                return rc;
        for (;;) {
                const uint8_t *start;
                if ((rc = rd_block(c, "map", &count, &size)))
                        return rc;
                if (count == 0)
                        break;
                start = c->p;
                for (uint64_t k = 0; k < count; k++) {
                        const char *key;
                        const uint8_t *raw;
                        if ((rc = rd_len(c, "map key", &len)) ||
                            (rc = charge_bytes(c, len)))
                                return rc;
                        raw = c->p;
                        /* Avro C keys are C strings: a NUL would silently
                         * truncate the key and merge entries. */
                        if (memchr(raw, 0, len))
                                return fail(c, "map key contains a NUL byte");
                        if (!(key = scratch(c, len)))
                                return nomem(c);
                        c->p += len;
                        if (avro_value_add(v, key, &child, NULL, &is_new))
                                rc = nomem(c);
                        else if (!is_new && avro_value_reset(&child))
                                rc = nomem(c);
                        else
                                rc = dec(c, n->u.items, &child);
                        if (rc) {
                                seg_add(c, SEG_KEY, (const char *)raw, len);
                                return rc;
                        }
                }
                if ((rc = check_block_size(c, "map", size, start)))
                        return rc;
        }
        c->depth--;
        return 0;
}

static int dec(struct dctx *c, const struct seam_avro_node *n,
               avro_value_t *v)
{
        avro_value_t child;
        size_t len, idx;
        int64_t l;
        int32_t i;
        float f;
        double d;
        char *s;
        int rc, b;

        switch (n->op) {
        case SEAM_OP_NULL:
                /* A reset generic null holds nothing to set. */
                return 0;
        case SEAM_OP_BOOLEAN:
                if ((rc = rd_boolean(c, &b)))
                        return rc;
                return avro_value_set_boolean(v, b) ? nomem(c) : 0;
        case SEAM_OP_INT:
                if ((rc = rd_int(c, &i)))
                        return rc;
                return avro_value_set_int(v, i) ? nomem(c) : 0;
        case SEAM_OP_INT_LONG:
                if ((rc = rd_int(c, &i)))
                        return rc;
                return avro_value_set_long(v, i) ? nomem(c) : 0;
        case SEAM_OP_INT_FLOAT:
                if ((rc = rd_int(c, &i)))
                        return rc;
                return avro_value_set_float(v, (float)i) ? nomem(c) : 0;
        case SEAM_OP_INT_DOUBLE:
                if ((rc = rd_int(c, &i)))
                        return rc;
                return avro_value_set_double(v, i) ? nomem(c) : 0;
        case SEAM_OP_LONG:
                if ((rc = rd_long(c, &l)))
                        return rc;
                return avro_value_set_long(v, l) ? nomem(c) : 0;
        case SEAM_OP_LONG_FLOAT:
                if ((rc = rd_long(c, &l)))
                        return rc;
                return avro_value_set_float(v, (float)l) ? nomem(c) : 0;
        case SEAM_OP_LONG_DOUBLE:
                if ((rc = rd_long(c, &l)))
                        return rc;
                return avro_value_set_double(v, (double)l) ? nomem(c) : 0;
        case SEAM_OP_FLOAT:
                if ((rc = rd_float(c, &f)))
                        return rc;
                return avro_value_set_float(v, f) ? nomem(c) : 0;
        case SEAM_OP_FLOAT_DOUBLE:
                if ((rc = rd_float(c, &f)))
                        return rc;
                return avro_value_set_double(v, f) ? nomem(c) : 0;
        case SEAM_OP_DOUBLE:
                if ((rc = rd_double(c, &d)))
                        return rc;
                return avro_value_set_double(v, d) ? nomem(c) : 0;
        case SEAM_OP_STRING:
                if ((rc = rd_len(c, "string", &len)) ||
                    (rc = charge_bytes(c, len)))
                        return rc;
                if (!(s = scratch(c, len)))
                        return nomem(c);
                c->p += len;
                return avro_value_set_string_len(v, s, len + 1) ? nomem(c) : 0;
        case SEAM_OP_BYTES:
                if ((rc = rd_len(c, "bytes", &len)) ||
                    (rc = charge_bytes(c, len)))
                        return rc;
                rc = avro_value_set_bytes(v, (void *)c->p, len);
                c->p += len;
                return rc ? nomem(c) : 0;
        case SEAM_OP_FIXED:
                len = n->u.fixed_size;
                if ((rc = rd_fixed_bytes(c, len, "fixed")) ||
                    (rc = charge_bytes(c, len)))
                        return rc;
                rc = avro_value_set_fixed(v, (void *)c->p, len);
                c->p += len;
                return rc ? nomem(c) : 0;
        case SEAM_OP_ENUM:
                if ((rc = rd_enum(c, n, &idx)))
                        return rc;
                return avro_value_set_enum(v, n->u.enm.map[idx]) ? nomem(c)
                                                                 : 0;
        case SEAM_OP_ARRAY: return dec_array(c, n, v);
        case SEAM_OP_MAP: return dec_map(c, n, v);
        case SEAM_OP_RECORD: return dec_record(c, n, v);
        case SEAM_OP_WUNION:
                if ((rc = rd_branch(c, n, &idx)))
                        return rc;
                return dec(c, n->u.wunion.branches[idx], v);
        case SEAM_OP_RUNION:
                if (avro_value_set_branch(v, n->u.runion.branch, &child))
                        return nomem(c);
                return dec(c, n->u.runion.sub, &child);
        default: return fail(c, "internal: decode op %d", n->op);
        }
}

/* ---- the message -------------------------------------------------------- */

struct out {
        char *buf;
        size_t cap;
        size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
        if (o->len + 1 >= o->cap)
                return;
        if (n > o->cap - 1 - o->len)
                n = o->cap - 1 - o->len;
        memcpy(o->buf + o->len, s, n);
        o->len += n;
        o->buf[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
        put(o, s, strlen(s));
}

static void compose(const struct dctx *c, const struct seam_avro_plan *plan,
                    char *err, size_t errlen)
{
        struct out o = {err, errlen, 0};
        size_t n = c->seg_count;
        size_t keep = n < SEG_CAP ? n : SEG_CAP;
        char tmp[64];

        if (!err || errlen == 0)
                return;
        err[0] = '\0';
        puts_(&o, "decode: ");
        puts_(&o, plan->root_name);
        for (size_t k = 0; k < keep; k++) {
                const struct seg *g = &c->segs[(n - 1 - k) % SEG_CAP];
                switch (g->kind) {
                case SEG_FIELD:
                        puts_(&o, ".");
                        puts_(&o, g->s);
                        break;
                case SEG_INDEX:
                        snprintf(tmp, sizeof(tmp), "[%zu]", g->n);
                        puts_(&o, tmp);
                        break;
                case SEG_KEY: {
                        /* Key bytes come from the network: printable
                         * ASCII only, and not too many. */
                        size_t m = g->n < 40 ? g->n : 40;
                        puts_(&o, "[\"");
                        for (size_t q = 0; q < m; q++) {
                                char ch = g->s[q];
                                if (ch < 0x20 || ch > 0x7e || ch == '"' ||
                                    ch == '\\')
                                        ch = '?';
                                put(&o, &ch, 1);
                        }
                        puts_(&o, g->n > m ? "...\"]" : "\"]");
                        break;
                }
                }
        }
        if (n > SEG_CAP)
                puts_(&o, "...");
        puts_(&o, ": ");
        puts_(&o, c->detail);
}

int seam_avro_decode(const struct seam_avro_plan *plan, const void *body,
                     size_t len, const struct seam_avro_limits *limits,
                     avro_value_t *out, char *err, size_t errlen)
{
        static const uint8_t empty[1];
        struct seam_avro_limits dl;
        struct dctx c;
        int rc;

        if (!limits) {
                seam_avro_limits_default(&dl);
                limits = &dl;
        }
        if (!plan || !out || (!body && len)) {
                snprintf(err, errlen, "decode: invalid arguments");
                return SEAM_ERR_INVALID;
        }
        if (avro_value_get_schema(out) != plan->reader) {
                snprintf(err, errlen, "decode: the value was not created "
                         "from the plan's reader schema");
                return SEAM_ERR_INVALID;
        }
        if (avro_value_reset(out)) {
                snprintf(err, errlen, "decode: could not reset the value");
                return SEAM_ERR_NOMEM;
        }
        c.p = body ? body : empty;
        c.end = c.p + len;
        c.elements_left = limits->max_elements;
        c.bytes_left = limits->max_bytes;
        c.depth = 0;
        c.max_depth = limits->max_depth;
        c.heap = NULL;
        c.heap_cap = 0;
        c.seg_count = 0;
        c.detail[0] = '\0';
        rc = dec(&c, plan->root, out);
        if (!rc && c.p != c.end)
                rc = fail(&c, "%zu trailing bytes after the value",
                          remaining(&c));
        if (rc)
                compose(&c, plan, err, errlen);
        free(c.heap);
        return rc;
}
