/* avro_schema.c - schema JSON: validated here, then parsed by Avro C.
 *
 * The validation walks the JSON with the same namespace rules as Avro C's
 * parser (lang/c/src/schema.c, 1.11.1), so each named definition found here
 * is the one Avro C builds; the table of them is how resolution later finds
 * field defaults, aliases and enum defaults that Avro C does not keep. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_plan.h"
#include "err.h"

/* Deeper schemas are not written by people; the bound keeps Avro C's and
 * our recursive walks far from the stack limit. */
#define SCHEMA_MAX_DEPTH 128
/* Hundreds is a large schema; the bound keeps plan-time work (linear
 * lookups per named type) and recursion (a chain of records, each holding
 * the previous one) small on hostile registry answers. */
#define SCHEMA_MAX_NAMED 1000
/* Bytes a value may take before holding any data (see check_buildable). */
#define SCHEMA_MAX_INLINE (16u << 20)
#define FIELD_COST 64 /* an upper bound of Avro C's per-field instance */

struct vctx {
        struct seam_avro_named *named;
        size_t count;
        size_t cap;
        json_t *index; /* full name -> index into named */
        char *err;
        size_t errlen;
};

static int vfail(struct vctx *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int vfail(struct vctx *v, const char *fmt, ...)
{
        va_list ap;
        int n = snprintf(v->err, v->errlen, "schema: ");

        if (n < 0 || (size_t)n >= v->errlen)
                return SEAM_ERR_INVALID;
        va_start(ap, fmt);
        vsnprintf(v->err + n, v->errlen - (size_t)n, fmt, ap);
        va_end(ap);
        return SEAM_ERR_INVALID;
}

static int is_ident(const char *s, size_t len)
{
        if (len == 0)
                return 0;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            c == '_';
                if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
                        return 0;
        }
        return 1;
}

/* Dot-separated identifiers; every part non-empty. */
static int is_fullname(const char *s)
{
        const char *part = s;

        for (;;) {
                const char *dot = strchr(part, '.');
                size_t len = dot ? (size_t)(dot - part) : strlen(part);
                if (!is_ident(part, len))
                        return 0;
                if (!dot)
                        return 1;
                part = dot + 1;
        }
}

static const char *const primitive_names[] = {
    "null", "boolean", "int", "long", "float", "double", "bytes", "string"};

static int is_primitive(const char *s)
{
        size_t n = sizeof(primitive_names) / sizeof(*primitive_names);

        for (size_t i = 0; i < n; i++)
                if (!strcmp(s, primitive_names[i]))
                        return 1;
        return 0;
}

/* Avro C's qualify_name(): a name without a dot is in `ns`. */
static char *qualify(const char *name, const char *ns)
{
        size_t nl = strlen(name);
        char *out;

        if (!ns || strchr(name, '.'))
                return strdup(name);
        size_t sl = strlen(ns);
        out = malloc(sl + nl + 2);
        if (!out)
                return NULL;
        memcpy(out, ns, sl);
        out[sl] = '.';
        memcpy(out + sl + 1, name, nl + 1);
        return out;
}

static const struct seam_avro_named *find_named(const struct seam_avro_named *n,
                                                const json_t *index,
                                                const char *fullname)
{
        json_t *i = json_object_get(index, fullname);

        return i ? &n[json_integer_value(i)] : NULL;
}

/* Registers a named definition. *ns_out is its namespace (malloc'ed, NULL
 * for none) for its fields; *fullname_out is borrowed from the table. */
static int define_named(struct vctx *v, json_t *def, const char *kind,
                        const char *parent_ns, char **ns_out,
                        const char **fullname_out)
{
        json_t *jname = json_object_get(def, "name");
        json_t *jns = json_object_get(def, "namespace");
        const char *name;
        char *ns = NULL;
        char *full;

        *ns_out = NULL;
        if (!json_is_string(jname))
                return vfail(v, "%s without a \"name\" string", kind);
        name = json_string_value(jname);
        if (!is_fullname(name))
                return vfail(v, "%s name \"%s\" is not a valid Avro name", kind,
                             name);
        if (jns && !json_is_string(jns))
                return vfail(v, "%s %s: \"namespace\" must be a string", kind,
                             name);
        if (strchr(name, '.')) {
                ns = strndup(name, (size_t)(strrchr(name, '.') - name));
                if (!ns)
                        return SEAM_ERR_NOMEM;
        } else if (jns) {
                const char *s = json_string_value(jns);
                if (*s && !is_fullname(s))
                        return vfail(v, "%s %s: namespace \"%s\" is not valid",
                                     kind, name, s);
                if (*s && !(ns = strdup(s)))
                        return SEAM_ERR_NOMEM;
        } else if (parent_ns) {
                if (!(ns = strdup(parent_ns)))
                        return SEAM_ERR_NOMEM;
        }
        full = qualify(name, ns);
        if (!full) {
                free(ns);
                return SEAM_ERR_NOMEM;
        }
        if (find_named(v->named, v->index, full) ||
            v->count >= SCHEMA_MAX_NAMED) {
                if (v->count >= SCHEMA_MAX_NAMED)
                        vfail(v, "more than %d named types",
                              SCHEMA_MAX_NAMED);
                else
                        vfail(v, "type %s is defined twice", full);
                free(full);
                free(ns);
                return SEAM_ERR_INVALID;
        }
        if (v->count == v->cap) {
                size_t cap = v->cap ? v->cap * 2 : 8;
                struct seam_avro_named *n =
                    realloc(v->named, cap * sizeof(*n));
                if (!n) {
                        free(full);
                        free(ns);
                        return SEAM_ERR_NOMEM;
                }
                v->named = n;
                v->cap = cap;
        }
        if (json_object_set_new(v->index, full,
                                json_integer((json_int_t)v->count))) {
                free(full);
                free(ns);
                return SEAM_ERR_NOMEM;
        }
        v->named[v->count].fullname = full;
        v->named[v->count].def = def;
        v->count++;
        *ns_out = ns;
        *fullname_out = full;
        return 0;
}

static int check_aliases(struct vctx *v, const json_t *owner, const char *what)
{
        json_t *aliases = json_object_get(owner, "aliases");
        size_t i;
        json_t *a;

        if (!aliases)
                return 0;
        if (!json_is_array(aliases))
                return vfail(v, "%s: \"aliases\" must be an array", what);
        json_array_foreach(aliases, i, a)
        {
                if (!json_is_string(a) || !is_fullname(json_string_value(a)))
                        return vfail(v, "%s: alias %zu is not a valid name",
                                     what, i);
        }
        return 0;
}

/* `key` receives a string that tells union branches apart: the type name
 * for unnamed types, the full name for named ones (borrowed). */
static int vtype(struct vctx *v, json_t *j, const char *ns, int depth,
                 const char **key);

static int vrecord(struct vctx *v, json_t *j, const char *ns, int depth,
                   const char **key)
{
        json_t *fields = json_object_get(j, "fields");
        json_t *seen = NULL;
        char *rns;
        const char *full;
        size_t i;
        json_t *f;
        int rc = define_named(v, j, "record", ns, &rns, &full);

        if (rc)
                return rc;
        if (!(seen = json_object())) {
                rc = SEAM_ERR_NOMEM;
                goto out;
        }
        *key = full;
        if ((rc = check_aliases(v, j, full)))
                goto out;
        if (!json_is_array(fields)) {
                rc = vfail(v, "record %s without a \"fields\" array", full);
                goto out;
        }
        json_array_foreach(fields, i, f)
        {
                json_t *fname = json_object_get(f, "name");
                json_t *ftype = json_object_get(f, "type");
                const char *fkey;

                if (!json_is_object(f)) {
                        rc = vfail(v, "record %s: field %zu is not an object",
                                   full, i);
                        goto out;
                }
                if (!json_is_string(fname) ||
                    !is_ident(json_string_value(fname),
                              json_string_length(fname))) {
                        rc = vfail(v, "record %s: field %zu has no valid "
                                   "\"name\"", full, i);
                        goto out;
                }
                if (json_object_get(seen, json_string_value(fname))) {
                        rc = vfail(v, "record %s: field %s appears twice",
                                   full, json_string_value(fname));
                        goto out;
                }
                if (json_object_set(seen, json_string_value(fname),
                                    json_true())) {
                        rc = SEAM_ERR_NOMEM;
                        goto out;
                }
                if (!ftype) {
                        rc = vfail(v, "record %s: field %s has no \"type\"",
                                   full, json_string_value(fname));
                        goto out;
                }
                if ((rc = check_aliases(v, f, json_string_value(fname))))
                        goto out;
                if ((rc = vtype(v, ftype, rns, depth + 1, &fkey)))
                        goto out;
        }
out:
        json_decref(seen);
        free(rns);
        return rc;
}

static int venum(struct vctx *v, json_t *j, const char *ns, const char **key)
{
        json_t *symbols = json_object_get(j, "symbols");
        json_t *dflt = json_object_get(j, "default");
        json_t *seen;
        char *ens;
        const char *full;
        size_t i;
        json_t *s;
        int rc = define_named(v, j, "enum", ns, &ens, &full);

        if (rc)
                return rc;
        free(ens);
        *key = full;
        if ((rc = check_aliases(v, j, full)))
                return rc;
        if (!json_is_array(symbols) || json_array_size(symbols) == 0)
                return vfail(v, "enum %s needs a non-empty \"symbols\" array",
                             full);
        if (dflt && !json_is_string(dflt))
                return vfail(v, "enum %s: \"default\" must be a symbol", full);
        if (!(seen = json_object()))
                return SEAM_ERR_NOMEM;
        json_array_foreach(symbols, i, s)
        {
                const char *sym = json_string_value(s);
                if (!sym || !is_ident(sym, json_string_length(s)))
                        rc = vfail(v, "enum %s: symbol %zu is not a valid "
                                   "name", full, i);
                else if (json_object_get(seen, sym))
                        rc = vfail(v, "enum %s: symbol %s appears twice", full,
                                   sym);
                else if (json_object_set(seen, sym, json_true()))
                        rc = SEAM_ERR_NOMEM;
                if (rc)
                        break;
        }
        if (!rc && dflt && !json_object_get(seen, json_string_value(dflt)))
                rc = vfail(v, "enum %s: default \"%s\" is not one of its "
                           "symbols", full, json_string_value(dflt));
        json_decref(seen);
        return rc;
}

static int vfixed(struct vctx *v, json_t *j, const char *ns, const char **key)
{
        json_t *size = json_object_get(j, "size");
        char *fns;
        const char *full;
        int rc = define_named(v, j, "fixed", ns, &fns, &full);

        if (rc)
                return rc;
        free(fns);
        *key = full;
        if ((rc = check_aliases(v, j, full)))
                return rc;
        /* Avro C takes any integer, negative ones included, and allocates
         * the size with every value. */
        if (!json_is_integer(size) || json_integer_value(size) < 0 ||
            json_integer_value(size) > SCHEMA_MAX_INLINE)
                return vfail(v, "fixed %s: \"size\" must be an integer from 0 "
                             "to %u", full, SCHEMA_MAX_INLINE);
        return 0;
}

static int vunion(struct vctx *v, json_t *j, const char *ns, int depth)
{
        size_t n = json_array_size(j), i, k;
        const char **keys;
        int rc = 0;

        if (n == 0)
                return vfail(v, "a union needs at least one branch");
        keys = calloc(n, sizeof(*keys));
        if (!keys)
                return SEAM_ERR_NOMEM;
        for (i = 0; i < n && !rc; i++) {
                json_t *b = json_array_get(j, i);
                if (json_is_array(b)) {
                        rc = vfail(v, "a union may not contain a union");
                        break;
                }
                if ((rc = vtype(v, b, ns, depth + 1, &keys[i])))
                        break;
                for (k = 0; k < i; k++)
                        if (!strcmp(keys[k], keys[i])) {
                                rc = vfail(v, "union has two branches of "
                                           "type %s", keys[i]);
                                break;
                        }
        }
        free(keys);
        return rc;
}

static int vtype(struct vctx *v, json_t *j, const char *ns, int depth,
                 const char **key)
{
        const char *type;

        if (depth > SCHEMA_MAX_DEPTH)
                return vfail(v, "nested deeper than %d levels",
                             SCHEMA_MAX_DEPTH);
        if (json_is_array(j)) {
                *key = "union";
                return vunion(v, j, ns, depth);
        }
        if (json_is_object(j)) {
                json_t *t = json_object_get(j, "type");
                if (!json_is_string(t))
                        return vfail(v, "\"type\" must be a string");
                type = json_string_value(t);
                if (!strcmp(type, "record"))
                        return vrecord(v, j, ns, depth, key);
                if (!strcmp(type, "enum"))
                        return venum(v, j, ns, key);
                if (!strcmp(type, "fixed"))
                        return vfixed(v, j, ns, key);
                if (!strcmp(type, "array") || !strcmp(type, "map")) {
                        const char *member =
                            type[0] == 'a' ? "items" : "values";
                        json_t *sub = json_object_get(j, member);
                        const char *subkey;
                        *key = type[0] == 'a' ? "array" : "map";
                        if (!sub)
                                return vfail(v, "%s without \"%s\"", type,
                                             member);
                        return vtype(v, sub, ns, depth + 1, &subkey);
                }
        } else if (json_is_string(j)) {
                type = json_string_value(j);
        } else {
                return vfail(v, "a type must be a string, an object or an "
                             "array");
        }
        if (is_primitive(type)) {
                *key = type;
                return 0;
        }
        /* A reference to a named type defined earlier. */
        {
                char *full = qualify(type, ns);
                const struct seam_avro_named *n;
                if (!full)
                        return SEAM_ERR_NOMEM;
                n = find_named(v->named, v->index, full);
                free(full);
                if (!n)
                        return vfail(v, "unknown type \"%s\"", type);
                *key = n->fullname;
        }
        return 0;
}

static void free_named(struct seam_avro_named *n, size_t count)
{
        for (size_t i = 0; i < count; i++)
                free(n[i].fullname);
        free(n);
}

/* ---- helpers shared with the resolver --------------------------------- */

avro_schema_t seam_avro_deref(avro_schema_t s)
{
        while (is_avro_link(s))
                s = avro_schema_link_target(s);
        return s;
}

const char *seam_avro_type_name(avro_schema_t s)
{
        s = seam_avro_deref(s);
        switch (avro_typeof(s)) {
        case AVRO_STRING: return "string";
        case AVRO_BYTES: return "bytes";
        case AVRO_INT32: return "int";
        case AVRO_INT64: return "long";
        case AVRO_FLOAT: return "float";
        case AVRO_DOUBLE: return "double";
        case AVRO_BOOLEAN: return "boolean";
        case AVRO_NULL: return "null";
        case AVRO_ARRAY: return "array";
        case AVRO_MAP: return "map";
        case AVRO_UNION: return "union";
        case AVRO_RECORD:
        case AVRO_ENUM:
        case AVRO_FIXED: return avro_schema_name(s);
        default: return "?";
        }
}

/* ---- values that cannot be built --------------------------------------- */

/* A record reaching itself through record-typed fields alone has no finite
 * value, and Avro C's generic value for it recurses until the stack runs
 * out (its link values create their target eagerly). Records are collected
 * first, then the record-to-record field graph is searched for a cycle
 * (white/grey/black depth-first search).
 *
 * Without cycles, nesting can still multiply: ten records of ten fields of
 * the previous one are 10^10 fields, from a few hundred bytes of JSON.
 * Avro C allocates a record's fields and a fixed's bytes with the value,
 * before any data, so each record's inline size is bounded. (Unions, arrays
 * and maps allocate only when filled; the decoder's budgets bound that.) */
struct recs {
        avro_schema_t *r;
        unsigned char *color;
        size_t *size; /* inline size, 0: not computed yet */
        size_t count;
        size_t cap;
};

static long rec_index(const struct recs *rs, avro_schema_t r)
{
        for (size_t i = 0; i < rs->count; i++)
                if (rs->r[i] == r)
                        return (long)i;
        return -1;
}

static int collect(struct recs *rs, avro_schema_t s)
{
        size_t i, n;
        int rc;

        if (is_avro_link(s))
                return 0; /* its target is collected where it is defined */
        switch (avro_typeof(s)) {
        case AVRO_RECORD:
                if (rec_index(rs, s) >= 0)
                        return 0;
                if (rs->count == rs->cap) {
                        size_t cap = rs->cap ? rs->cap * 2 : 8;
                        avro_schema_t *r = realloc(rs->r, cap * sizeof(*r));
                        unsigned char *c;
                        size_t *sz;
                        if (!r)
                                return SEAM_ERR_NOMEM;
                        rs->r = r;
                        c = realloc(rs->color, cap);
                        if (!c)
                                return SEAM_ERR_NOMEM;
                        rs->color = c;
                        sz = realloc(rs->size, cap * sizeof(*sz));
                        if (!sz)
                                return SEAM_ERR_NOMEM;
                        rs->size = sz;
                        rs->cap = cap;
                }
                rs->color[rs->count] = 0;
                rs->size[rs->count] = 0;
                rs->r[rs->count++] = s;
                n = avro_schema_record_size(s);
                for (i = 0; i < n; i++)
                        if ((rc = collect(
                                 rs, avro_schema_record_field_get_by_index(
                                         s, (int)i))))
                                return rc;
                return 0;
        case AVRO_ARRAY: return collect(rs, avro_schema_array_items(s));
        case AVRO_MAP: return collect(rs, avro_schema_map_values(s));
        case AVRO_UNION:
                n = avro_schema_union_size(s);
                for (i = 0; i < n; i++)
                        if ((rc = collect(rs, avro_schema_union_branch(
                                                  s, (int)i))))
                                return rc;
                return 0;
        default: return 0;
        }
}

/* 1 if a cycle is reachable from record i. */
static int cycle_from(struct recs *rs, size_t i)
{
        avro_schema_t r = rs->r[i];
        size_t n = avro_schema_record_size(r);

        rs->color[i] = 1;
        for (size_t k = 0; k < n; k++) {
                avro_schema_t t = seam_avro_deref(
                    avro_schema_record_field_get_by_index(r, (int)k));
                long j;
                if (!is_avro_record(t) || (j = rec_index(rs, t)) < 0)
                        continue;
                if (rs->color[j] == 1)
                        return 1;
                if (rs->color[j] == 0 && cycle_from(rs, (size_t)j))
                        return 1;
        }
        rs->color[i] = 2;
        return 0;
}

static size_t sat_add(size_t a, size_t b)
{
        return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* Bytes a generic value of `s` allocates before holding data; only called
 * once the record graph is known to be acyclic. */
static size_t inline_size(struct recs *rs, avro_schema_t s)
{
        size_t total = FIELD_COST, n;
        long i;

        s = seam_avro_deref(s);
        if (is_avro_fixed(s))
                return (size_t)avro_schema_fixed_size(s);
        if (!is_avro_record(s) || (i = rec_index(rs, s)) < 0)
                return 0;
        if (rs->size[i])
                return rs->size[i];
        n = avro_schema_record_size(s);
        for (size_t k = 0; k < n; k++) {
                avro_schema_t f =
                    avro_schema_record_field_get_by_index(s, (int)k);
                total = sat_add(total,
                                sat_add(FIELD_COST, inline_size(rs, f)));
        }
        rs->size[i] = total;
        return total;
}

static int check_buildable(avro_schema_t s, struct vctx *v)
{
        struct recs rs = {0};
        int rc = collect(&rs, s);

        for (size_t i = 0; !rc && i < rs.count; i++) {
                if (rs.color[i] == 0 && cycle_from(&rs, i))
                        rc = vfail(v, "record %s contains itself through "
                                   "fields that are neither unions, arrays "
                                   "nor maps (it has no finite value)",
                                   avro_schema_name(rs.r[i]));
        }
        for (size_t i = 0; !rc && i < rs.count; i++) {
                size_t n = inline_size(&rs, rs.r[i]);
                if (n > SCHEMA_MAX_INLINE)
                        rc = vfail(v, "record %s nests so many fields that "
                                   "a value of it takes %s%zu bytes before "
                                   "any data (at most %u)",
                                   avro_schema_name(rs.r[i]),
                                   n == SIZE_MAX ? "over " : "", n,
                                   SCHEMA_MAX_INLINE);
        }
        if (rc == SEAM_ERR_NOMEM)
                snprintf(v->err, v->errlen, "schema: out of memory");
        free(rs.r);
        free(rs.color);
        free(rs.size);
        return rc;
}

int seam_avro_schema_parse(const char *json, size_t len,
                           struct seam_avro_schema **out, char *err,
                           size_t errlen)
{
        struct vctx v = {.err = err, .errlen = errlen};
        struct seam_avro_schema *s;
        json_error_t jerr;
        json_t *root;
        const char *key;
        int rc;

        *out = NULL;
        if (!json || len > SEAM_AVRO_SCHEMA_MAX_LEN)
                return vfail(&v, "schema text of %zu bytes (at most %u)", len,
                             SEAM_AVRO_SCHEMA_MAX_LEN);
        root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
        if (!root)
                return vfail(&v, "invalid JSON at line %d column %d: %s",
                             jerr.line, jerr.column, jerr.text);
        if (!(v.index = json_object())) {
                json_decref(root);
                snprintf(err, errlen, "schema: out of memory");
                return SEAM_ERR_NOMEM;
        }
        rc = vtype(&v, root, NULL, 0, &key);
        if (rc) {
                if (rc == SEAM_ERR_NOMEM)
                        snprintf(err, errlen, "schema: out of memory");
                goto fail;
        }
        s = calloc(1, sizeof(*s));
        if (!s) {
                rc = SEAM_ERR_NOMEM;
                snprintf(err, errlen, "schema: out of memory");
                goto fail;
        }
        if (avro_schema_from_json_length(json, len, &s->avro)) {
                /* Our validation should have caught everything Avro C
                 * refuses; say whose message this is if not. */
                rc = vfail(&v, "Avro C: %s", avro_strerror());
                free(s);
                goto fail;
        }
        if ((rc = check_buildable(s->avro, &v))) {
                avro_schema_decref(s->avro);
                free(s);
                goto fail;
        }
        s->root = root;
        s->named = v.named;
        s->named_count = v.count;
        s->index = v.index;
        *out = s;
        return 0;
fail:
        free_named(v.named, v.count);
        json_decref(v.index);
        json_decref(root);
        return rc;
}

avro_schema_t seam_avro_schema_avro(const struct seam_avro_schema *s)
{
        return s->avro;
}

void seam_avro_schema_destroy(struct seam_avro_schema *s)
{
        if (!s)
                return;
        avro_schema_decref(s->avro);
        free_named(s->named, s->named_count);
        json_decref(s->index);
        json_decref(s->root);
        free(s);
}

const json_t *seam_avro_schema_def(const struct seam_avro_schema *s,
                                   avro_schema_t named)
{
        const char *name = avro_schema_name(named);
        const char *ns = avro_schema_namespace(named);
        const struct seam_avro_named *n;
        char *full;

        if (!name)
                return NULL;
        full = qualify(name, ns);
        if (!full)
                return NULL;
        n = find_named(s->named, s->index, full);
        free(full);
        return n ? n->def : NULL;
}

size_t seam_avro_path_push(struct seam_avro_path *p, const char *fmt, ...)
{
        size_t saved = p->len;
        size_t room = sizeof(p->text) - p->len;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(p->text + p->len, room, fmt, ap);
        va_end(ap);
        if (n > 0)
                p->len += (size_t)n < room ? (size_t)n : room - 1;
        return saved;
}

void seam_avro_path_pop(struct seam_avro_path *p, size_t saved)
{
        p->len = saved;
        p->text[saved] = '\0';
}
