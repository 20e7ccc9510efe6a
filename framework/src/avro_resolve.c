/* avro_resolve.c - compiling the resolution of a writer schema into a reader
 * schema (the "Schema Resolution" section of the Avro specification) into a
 * plan that avro_decode.c runs over the bytes.
 *
 * Everything that depends only on the two schemas is decided here, once:
 * field matching by name and alias, promotions, union branch choices, enum
 * symbol mapping, and the reader's defaults for the fields the writer lacks
 * (converted by avro_default.c).
 *
 * Union branches and enum symbols are decided strictly: a writer branch or
 * symbol the reader cannot take fails the plan even if no message uses it,
 * as Java's SchemaCompatibility does; the same plan answers `seam schema
 * check`, and a consumer learns of the mismatch at the first message of
 * that writer instead of at the first message that happens to use it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_plan.h"
#include "err.h"

struct memo {
        avro_schema_t w;
        avro_schema_t r; /* NULL: skipping */
        struct seam_avro_node *node;
};

struct builder {
        struct seam_avro_plan *plan;
        const struct seam_avro_schema *reader;
        struct memo *memo;
        size_t memo_count;
        size_t memo_cap;
        struct seam_avro_path path;
        char *err;
        size_t errlen;
};

static int bfail(struct builder *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bfail(struct builder *b, const char *fmt, ...)
{
        va_list ap;
        int n = snprintf(b->err, b->errlen, "resolve: %s: ", b->path.text);

        if (n < 0 || (size_t)n >= b->errlen)
                return SEAM_ERR_INVALID;
        va_start(ap, fmt);
        vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
        va_end(ap);
        return SEAM_ERR_INVALID;
}

static int bnomem(struct builder *b)
{
        snprintf(b->err, b->errlen, "resolve: %s: out of memory", b->path.text);
        return SEAM_ERR_NOMEM;
}

/* "record Order", "enum Suit", "string": how messages name a type. */
static const char *describe(avro_schema_t s, char *buf, size_t cap)
{
        const char *kind = NULL;

        s = seam_avro_deref(s);
        switch (avro_typeof(s)) {
        case AVRO_RECORD: kind = "record"; break;
        case AVRO_ENUM: kind = "enum"; break;
        case AVRO_FIXED: kind = "fixed"; break;
        default: return seam_avro_type_name(s);
        }
        snprintf(buf, cap, "%s %s", kind, avro_schema_name(s));
        return buf;
}

static struct seam_avro_node *node_new(struct builder *b, uint8_t op)
{
        struct seam_avro_plan *p = b->plan;
        struct seam_avro_node *n;

        if (p->node_count == p->node_cap) {
                size_t cap = p->node_cap ? p->node_cap * 2 : 16;
                struct seam_avro_node **v =
                    realloc(p->nodes, cap * sizeof(*v));
                if (!v)
                        return NULL;
                p->nodes = v;
                p->node_cap = cap;
        }
        n = calloc(1, sizeof(*n));
        if (!n)
                return NULL;
        n->op = op;
        p->nodes[p->node_count++] = n;
        return n;
}

static struct seam_avro_node *memo_find(struct builder *b, avro_schema_t w,
                                        avro_schema_t r)
{
        for (size_t i = 0; i < b->memo_count; i++)
                if (b->memo[i].w == w && b->memo[i].r == r)
                        return b->memo[i].node;
        return NULL;
}

static int memo_add(struct builder *b, avro_schema_t w, avro_schema_t r,
                    struct seam_avro_node *node)
{
        if (b->memo_count == b->memo_cap) {
                size_t cap = b->memo_cap ? b->memo_cap * 2 : 16;
                struct memo *m = realloc(b->memo, cap * sizeof(*m));
                if (!m)
                        return SEAM_ERR_NOMEM;
                b->memo = m;
                b->memo_cap = cap;
        }
        b->memo[b->memo_count++] = (struct memo){w, r, node};
        return 0;
}

/* The reader names a writer's named type by its (unqualified) name or by
 * one of its aliases; namespaces are not compared, as in Java's
 * SchemaCompatibility, so moving a type between namespaces is compatible. */
static int names_match(struct builder *b, avro_schema_t w, avro_schema_t r)
{
        const char *wn = avro_schema_name(w);
        const json_t *def = seam_avro_schema_def(b->reader, r);
        json_t *aliases = def ? json_object_get(def, "aliases") : NULL;
        size_t i;
        json_t *a;

        if (!strcmp(wn, avro_schema_name(r)))
                return 1;
        json_array_foreach(aliases, i, a)
        {
                const char *s = json_string_value(a);
                const char *dot = s ? strrchr(s, '.') : NULL;
                if (s && !strcmp(dot ? dot + 1 : s, wn))
                        return 1;
        }
        return 0;
}

static int promotable(avro_type_t w, avro_type_t r)
{
        switch (w) {
        case AVRO_INT32:
                return r == AVRO_INT64 || r == AVRO_FLOAT || r == AVRO_DOUBLE;
        case AVRO_INT64: return r == AVRO_FLOAT || r == AVRO_DOUBLE;
        case AVRO_FLOAT: return r == AVRO_DOUBLE;
        case AVRO_STRING: return r == AVRO_BYTES;
        case AVRO_BYTES: return r == AVRO_STRING;
        default: return 0;
        }
}

/* The reader union branch a (non-union) writer type resolves to: the first
 * branch of the same type (and name, for named types), else the first one
 * the writer's type promotes to. -1 if none. */
static int pick_branch(struct builder *b, avro_schema_t w, avro_schema_t ru)
{
        size_t n = avro_schema_union_size(ru);
        avro_type_t wt = avro_typeof(w);

        for (size_t i = 0; i < n; i++) {
                avro_schema_t rb =
                    seam_avro_deref(avro_schema_union_branch(ru, (int)i));
                if (avro_typeof(rb) != wt)
                        continue;
                if (!is_avro_named_type(rb) || names_match(b, w, rb))
                        return (int)i;
        }
        for (size_t i = 0; i < n; i++) {
                avro_schema_t rb =
                    seam_avro_deref(avro_schema_union_branch(ru, (int)i));
                if (promotable(wt, avro_typeof(rb)))
                        return (int)i;
        }
        return -1;
}

static int primitive_op(avro_type_t w, avro_type_t r)
{
        switch (w) {
        case AVRO_NULL: return r == AVRO_NULL ? SEAM_OP_NULL : -1;
        case AVRO_BOOLEAN: return r == AVRO_BOOLEAN ? SEAM_OP_BOOLEAN : -1;
        case AVRO_INT32:
                switch (r) {
                case AVRO_INT32: return SEAM_OP_INT;
                case AVRO_INT64: return SEAM_OP_INT_LONG;
                case AVRO_FLOAT: return SEAM_OP_INT_FLOAT;
                case AVRO_DOUBLE: return SEAM_OP_INT_DOUBLE;
                default: return -1;
                }
        case AVRO_INT64:
                switch (r) {
                case AVRO_INT64: return SEAM_OP_LONG;
                case AVRO_FLOAT: return SEAM_OP_LONG_FLOAT;
                case AVRO_DOUBLE: return SEAM_OP_LONG_DOUBLE;
                default: return -1;
                }
        case AVRO_FLOAT:
                return r == AVRO_FLOAT    ? SEAM_OP_FLOAT
                       : r == AVRO_DOUBLE ? SEAM_OP_FLOAT_DOUBLE
                                          : -1;
        case AVRO_DOUBLE: return r == AVRO_DOUBLE ? SEAM_OP_DOUBLE : -1;
        case AVRO_STRING:
        case AVRO_BYTES:
                return r == AVRO_STRING  ? SEAM_OP_STRING
                       : r == AVRO_BYTES ? SEAM_OP_BYTES
                                         : -1;
        default: return -1;
        }
}

static int build(struct builder *b, avro_schema_t w, avro_schema_t r,
                 struct seam_avro_node **out);

/* ---- the writer/reader walk -------------------------------------------- */

static int build_skip(struct builder *b, avro_schema_t w,
                      struct seam_avro_node **out)
{
        struct seam_avro_node *n;
        size_t count, i;
        int rc;

        switch (avro_typeof(w)) {
        case AVRO_NULL: n = node_new(b, SEAM_OP_NULL); break;
        case AVRO_BOOLEAN: n = node_new(b, SEAM_OP_BOOLEAN); break;
        case AVRO_INT32: n = node_new(b, SEAM_OP_INT); break;
        case AVRO_INT64: n = node_new(b, SEAM_OP_LONG); break;
        case AVRO_FLOAT: n = node_new(b, SEAM_OP_FLOAT); break;
        case AVRO_DOUBLE: n = node_new(b, SEAM_OP_DOUBLE); break;
        case AVRO_STRING: n = node_new(b, SEAM_OP_STRING); break;
        case AVRO_BYTES: n = node_new(b, SEAM_OP_BYTES); break;
        case AVRO_FIXED:
                if (!(n = node_new(b, SEAM_OP_FIXED)))
                        break;
                n->u.fixed_size = (size_t)avro_schema_fixed_size(w);
                break;
        case AVRO_ENUM:
                if (!(n = node_new(b, SEAM_OP_ENUM)))
                        break;
                n->u.enm.count =
                    (size_t)avro_schema_enum_number_of_symbols(w);
                break;
        case AVRO_ARRAY:
        case AVRO_MAP:
                n = node_new(b, is_avro_array(w) ? SEAM_OP_ARRAY
                                                 : SEAM_OP_MAP);
                if (!n)
                        break;
                *out = n;
                return build(b,
                             is_avro_array(w) ? avro_schema_array_items(w)
                                              : avro_schema_map_values(w),
                             NULL, &n->u.items);
        case AVRO_UNION:
                count = avro_schema_union_size(w);
                if (!(n = node_new(b, SEAM_OP_WUNION)))
                        break;
                *out = n;
                n->u.wunion.branches =
                    calloc(count, sizeof(*n->u.wunion.branches));
                if (!n->u.wunion.branches)
                        return bnomem(b);
                n->u.wunion.count = count;
                for (i = 0; i < count; i++)
                        if ((rc = build(b, avro_schema_union_branch(w, (int)i),
                                        NULL, &n->u.wunion.branches[i])))
                                return rc;
                return 0;
        case AVRO_RECORD:
                if (!(n = node_new(b, SEAM_OP_RECORD)))
                        break;
                *out = n;
                if (memo_add(b, w, NULL, n))
                        return bnomem(b);
                count = avro_schema_record_size(w);
                n->u.rec.steps =
                    calloc(count ? count : 1, sizeof(*n->u.rec.steps));
                if (!n->u.rec.steps)
                        return bnomem(b);
                n->u.rec.step_count = count;
                for (i = 0; i < count; i++) {
                        struct seam_avro_step *s = &n->u.rec.steps[i];
                        s->reader_index = -1;
                        s->name = avro_schema_record_field_name(w, (int)i);
                        rc = build(b,
                                   avro_schema_record_field_get_by_index(
                                       w, (int)i),
                                   NULL, &s->node);
                        if (rc)
                                return rc;
                }
                return 0;
        default:
                return bfail(b, "unsupported writer type %d", avro_typeof(w));
        }
        if (!n)
                return bnomem(b);
        *out = n;
        return 0;
}

static int field_index_by_alias(const json_t *rfields, const char *wname,
                                const unsigned char *taken)
{
        size_t k, i;
        json_t *f, *a;

        json_array_foreach(rfields, k, f)
        {
                if (taken[k])
                        continue;
                json_array_foreach(json_object_get(f, "aliases"), i, a)
                {
                        if (!strcmp(json_string_value(a), wname))
                                return (int)k;
                }
        }
        return -1;
}

static int build_record(struct builder *b, avro_schema_t w, avro_schema_t r,
                        struct seam_avro_node *n)
{
        const json_t *rdef = seam_avro_schema_def(b->reader, r);
        json_t *rfields = rdef ? json_object_get(rdef, "fields") : NULL;
        size_t wn = avro_schema_record_size(w);
        size_t rn = avro_schema_record_size(r);
        unsigned char *taken = calloc(rn ? rn : 1, 1);
        int *target = calloc(wn ? wn : 1, sizeof(int));
        size_t i, fills = 0;
        int rc = 0;

        n->u.rec.steps = calloc(wn ? wn : 1, sizeof(*n->u.rec.steps));
        if (!taken || !target || !n->u.rec.steps) {
                rc = bnomem(b);
                goto out;
        }
        n->u.rec.step_count = wn;
        /* Names first, then aliases, so an alias never takes a reader field
         * from the writer field that has its very name. */
        for (i = 0; i < wn; i++) {
                int j = avro_schema_record_field_get_index(
                    r, avro_schema_record_field_name(w, (int)i));
                target[i] = j;
                if (j >= 0)
                        taken[j] = 1;
        }
        for (i = 0; i < wn; i++) {
                if (target[i] >= 0 || !rfields)
                        continue;
                target[i] = field_index_by_alias(
                    rfields, avro_schema_record_field_name(w, (int)i), taken);
                if (target[i] >= 0)
                        taken[target[i]] = 1;
        }
        for (i = 0; i < wn && !rc; i++) {
                struct seam_avro_step *s = &n->u.rec.steps[i];
                avro_schema_t wt =
                    avro_schema_record_field_get_by_index(w, (int)i);
                size_t saved;

                s->reader_index = target[i];
                if (target[i] < 0) {
                        s->name = avro_schema_record_field_name(w, (int)i);
                        saved = seam_avro_path_push(&b->path, ".%s", s->name);
                        rc = build(b, wt, NULL, &s->node);
                } else {
                        s->name = avro_schema_record_field_name(r, target[i]);
                        saved = seam_avro_path_push(&b->path, ".%s", s->name);
                        rc = build(b, wt,
                                   avro_schema_record_field_get_by_index(
                                       r, target[i]),
                                   &s->node);
                }
                if (!rc)
                        seam_avro_path_pop(&b->path, saved);
        }
        if (rc)
                goto out;
        for (i = 0; i < rn; i++)
                fills += !taken[i];
        n->u.rec.fills = calloc(fills ? fills : 1, sizeof(*n->u.rec.fills));
        if (!n->u.rec.fills) {
                rc = bnomem(b);
                goto out;
        }
        for (i = 0; i < rn && !rc; i++) {
                struct seam_avro_fill *f;
                json_t *dflt;
                size_t saved;

                if (taken[i])
                        continue;
                f = &n->u.rec.fills[n->u.rec.fill_count++];
                f->reader_index = (int32_t)i;
                f->name = avro_schema_record_field_name(r, (int)i);
                saved = seam_avro_path_push(&b->path, ".%s", f->name);
                dflt = json_object_get(json_array_get(rfields, i), "default");
                if (!dflt) {
                        rc = bfail(b, "the reader's field is not in the "
                                   "writer's record %s and has no default",
                                   avro_schema_name(w));
                        break;
                }
                rc = seam_avro_default_new(
                    b->reader, avro_schema_record_field_get_by_index(r, (int)i),
                    dflt, b->path.text, &f->value, &f->elements, &f->bytes, b->err,
                    b->errlen);
                if (!rc)
                        seam_avro_path_pop(&b->path, saved);
        }
out:
        free(taken);
        free(target);
        return rc;
}

static int build_enum(struct builder *b, avro_schema_t w, avro_schema_t r,
                      struct seam_avro_node *n)
{
        const json_t *rdef = seam_avro_schema_def(b->reader, r);
        json_t *jdflt = rdef ? json_object_get(rdef, "default") : NULL;
        int dflt = jdflt ? avro_schema_enum_get_by_name(
                               r, json_string_value(jdflt))
                         : -1;
        size_t count = (size_t)avro_schema_enum_number_of_symbols(w);

        n->u.enm.map = calloc(count, sizeof(int));
        if (!n->u.enm.map)
                return bnomem(b);
        n->u.enm.count = count;
        for (size_t i = 0; i < count; i++) {
                const char *sym = avro_schema_enum_get(w, (int)i);
                int j = avro_schema_enum_get_by_name(r, sym);
                if (j < 0)
                        j = dflt;
                if (j < 0)
                        return bfail(b, "the writer's enum symbol %s is not "
                                     "in the reader's enum %s, which has no "
                                     "default", sym, avro_schema_name(r));
                n->u.enm.map[i] = j;
        }
        return 0;
}

static int build(struct builder *b, avro_schema_t w, avro_schema_t r,
                 struct seam_avro_node **out)
{
        struct seam_avro_node *n;
        avro_type_t wt, rt;
        size_t saved;
        int op, rc;

        w = seam_avro_deref(w);
        r = r ? seam_avro_deref(r) : NULL;
        if (is_avro_named_type(w) && (n = memo_find(b, w, r))) {
                *out = n;
                return 0;
        }
        if (!r)
                return build_skip(b, w, out);
        wt = avro_typeof(w);
        rt = avro_typeof(r);
        if (wt == AVRO_UNION) {
                size_t count = avro_schema_union_size(w);
                if (!(n = node_new(b, SEAM_OP_WUNION)))
                        return bnomem(b);
                *out = n;
                n->u.wunion.branches =
                    calloc(count, sizeof(*n->u.wunion.branches));
                if (!n->u.wunion.branches)
                        return bnomem(b);
                n->u.wunion.count = count;
                for (size_t i = 0; i < count; i++)
                        if ((rc = build(b, avro_schema_union_branch(w, (int)i),
                                        r, &n->u.wunion.branches[i])))
                                return rc;
                return 0;
        }
        if (rt == AVRO_UNION) {
                int j = pick_branch(b, w, r);
                if (j < 0)
                        return bfail(b, "the writer's %s matches no branch of "
                                     "the reader's union",
                                     seam_avro_type_name(w));
                if (!(n = node_new(b, SEAM_OP_RUNION)))
                        return bnomem(b);
                *out = n;
                n->u.runion.branch = j;
                return build(b, w, avro_schema_union_branch(r, j),
                             &n->u.runion.sub);
        }
        if ((op = primitive_op(wt, rt)) >= 0) {
                if (!(n = node_new(b, (uint8_t)op)))
                        return bnomem(b);
                *out = n;
                return 0;
        }
        if (wt != rt || (is_avro_named_type(w) && !names_match(b, w, r))) {
                char d1[160], d2[160];
                return bfail(b, "the writer's %s cannot be read as the "
                             "reader's %s", describe(w, d1, sizeof(d1)),
                             describe(r, d2, sizeof(d2)));
        }
        switch (wt) {
        case AVRO_RECORD:
                if (!(n = node_new(b, SEAM_OP_RECORD)))
                        return bnomem(b);
                *out = n;
                if (memo_add(b, w, r, n))
                        return bnomem(b);
                return build_record(b, w, r, n);
        case AVRO_ENUM:
                if (!(n = node_new(b, SEAM_OP_ENUM)))
                        return bnomem(b);
                *out = n;
                if (memo_add(b, w, r, n))
                        return bnomem(b);
                return build_enum(b, w, r, n);
        case AVRO_FIXED:
                if (avro_schema_fixed_size(w) != avro_schema_fixed_size(r))
                        return bfail(b, "fixed %s has size %lld in the writer "
                                     "and %lld in the reader",
                                     avro_schema_name(r),
                                     (long long)avro_schema_fixed_size(w),
                                     (long long)avro_schema_fixed_size(r));
                if (!(n = node_new(b, SEAM_OP_FIXED)))
                        return bnomem(b);
                *out = n;
                n->u.fixed_size = (size_t)avro_schema_fixed_size(w);
                return memo_add(b, w, r, n) ? bnomem(b) : 0;
        case AVRO_ARRAY:
        case AVRO_MAP:
                if (!(n = node_new(b, wt == AVRO_ARRAY ? SEAM_OP_ARRAY
                                                       : SEAM_OP_MAP)))
                        return bnomem(b);
                *out = n;
                saved = seam_avro_path_push(&b->path, wt == AVRO_ARRAY ? "[]" : "{}");
                rc = wt == AVRO_ARRAY
                         ? build(b, avro_schema_array_items(w),
                                 avro_schema_array_items(r), &n->u.items)
                         : build(b, avro_schema_map_values(w),
                                 avro_schema_map_values(r), &n->u.items);
                if (!rc)
                        seam_avro_path_pop(&b->path, saved);
                return rc;
        default:
                return bfail(b, "unsupported writer type %s",
                             seam_avro_type_name(w));
        }
}

static void node_free(struct seam_avro_node *n)
{
        switch (n->op) {
        case SEAM_OP_RECORD:
                for (size_t i = 0; i < n->u.rec.fill_count; i++) {
                        seam_avro_default_free(n->u.rec.fills[i].value);
                }
                free(n->u.rec.steps);
                free(n->u.rec.fills);
                break;
        case SEAM_OP_WUNION: free(n->u.wunion.branches); break;
        case SEAM_OP_ENUM: free(n->u.enm.map); break;
        default: break;
        }
        free(n);
}

void seam_avro_plan_destroy(struct seam_avro_plan *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->node_count; i++)
                node_free(p->nodes[i]);
        free(p->nodes);
        free(p->root_name);
        if (p->writer)
                avro_schema_decref(p->writer);
        if (p->reader)
                avro_schema_decref(p->reader);
        free(p);
}

int seam_avro_plan_new(const struct seam_avro_schema *writer,
                       const struct seam_avro_schema *reader,
                       struct seam_avro_plan **out, char *err, size_t errlen)
{
        struct builder b = {.reader = reader, .err = err, .errlen = errlen};
        struct seam_avro_plan *p = calloc(1, sizeof(*p));
        avro_schema_t r = reader->avro;
        int rc;

        *out = NULL;
        if (!p) {
                snprintf(err, errlen, "resolve: out of memory");
                return SEAM_ERR_NOMEM;
        }
        b.plan = p;
        p->writer = avro_schema_incref(writer->avro);
        p->reader = avro_schema_incref(r);
        p->root_name = strdup(seam_avro_type_name(r));
        if (!p->root_name) {
                seam_avro_plan_destroy(p);
                snprintf(err, errlen, "resolve: out of memory");
                return SEAM_ERR_NOMEM;
        }
        seam_avro_path_push(&b.path, "%s", p->root_name);
        rc = build(&b, writer->avro, r, &p->root);
        free(b.memo);
        if (rc) {
                seam_avro_plan_destroy(p);
                return rc;
        }
        *out = p;
        return 0;
}

avro_schema_t seam_avro_plan_reader(const struct seam_avro_plan *plan)
{
        return plan->reader;
}
