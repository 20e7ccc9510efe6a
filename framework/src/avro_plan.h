/* avro_plan.h - internals shared by avro_schema.c (parsing), avro_resolve.c
 * (compiling a plan), avro_default.c (reader defaults) and avro_decode.c
 * (running a plan). Not for other files: use avro_decode.h. */
#ifndef SEAM_AVRO_PLAN_H
#define SEAM_AVRO_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>
#include <jansson.h>

#include "avro_decode.h"

/* One named type (record, enum, fixed) as written in the schema JSON, so
 * resolution can read what Avro C does not keep. */
struct seam_avro_named {
        char *fullname;
        json_t *def; /* borrowed from seam_avro_schema.root */
};

struct seam_avro_schema {
        avro_schema_t avro;
        json_t *root;
        struct seam_avro_named *named;
        size_t named_count;
        json_t *index; /* object: full name -> index into `named` */
};

/* The JSON definition of a named Avro C schema node, or NULL. */
const json_t *seam_avro_schema_def(const struct seam_avro_schema *s,
                                   avro_schema_t named);

/* The target of a chain of links (recursive references). */
avro_schema_t seam_avro_deref(avro_schema_t s);
/* "int", "array", a named type's name: for messages. */
const char *seam_avro_type_name(avro_schema_t s);

/* A field path being built for error messages ("order.items[3].sku").
 * Zero-initialised it is empty; a path too long for the buffer is cut,
 * which only shortens messages. */
struct seam_avro_path {
        char text[512];
        size_t len;
};

/* Appends a segment; returns the length to restore with _pop. */
size_t seam_avro_path_push(struct seam_avro_path *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void seam_avro_path_pop(struct seam_avro_path *p, size_t saved);

struct seam_avro_dflt;

/* Check the JSON default of a reader field against its type `type` and
 * convert it (avro_default.c). `where` is the field's path for messages
 * ("resolve: <where>...: default: ..."). *elements and *bytes are what
 * applying it costs against a message's limits. */
int seam_avro_default_new(const struct seam_avro_schema *reader,
                          avro_schema_t type, const json_t *json,
                          const char *where, struct seam_avro_dflt **out,
                          size_t *elements, size_t *bytes, char *err,
                          size_t errlen);
void seam_avro_default_free(struct seam_avro_dflt *d);
/* Fill a reset value of the default's type; an errno value on failure. */
int seam_avro_default_apply(const struct seam_avro_dflt *d, avro_value_t *v);

/* What a node does with the writer's bytes. Reading nodes convert into the
 * reader's type; skipping nodes (built with no reader) interpret the same
 * codes as the writer's type (STRING and BYTES meaning the writer's string
 * and bytes) and only validate and advance. */
enum seam_avro_op {
        SEAM_OP_NULL,
        SEAM_OP_BOOLEAN,
        SEAM_OP_INT,        /* int -> int */
        SEAM_OP_INT_LONG,
        SEAM_OP_INT_FLOAT,
        SEAM_OP_INT_DOUBLE,
        SEAM_OP_LONG,       /* long -> long */
        SEAM_OP_LONG_FLOAT,
        SEAM_OP_LONG_DOUBLE,
        SEAM_OP_FLOAT,      /* float -> float */
        SEAM_OP_FLOAT_DOUBLE,
        SEAM_OP_DOUBLE,
        SEAM_OP_STRING,     /* string or bytes -> string */
        SEAM_OP_BYTES,      /* string or bytes -> bytes */
        SEAM_OP_FIXED,
        SEAM_OP_ENUM,
        SEAM_OP_ARRAY,
        SEAM_OP_MAP,
        SEAM_OP_RECORD,
        SEAM_OP_WUNION,     /* writer union: pick the writer's branch */
        SEAM_OP_RUNION      /* reader union: set the resolved branch */
};

struct seam_avro_node;

/* One writer field, in writer order. */
struct seam_avro_step {
        struct seam_avro_node *node;
        int32_t reader_index; /* -1: not in the reader, skipped */
        const char *name;     /* for error paths; owned by a schema */
};

/* A reader default, checked against the reader's type and converted
 * once. */
struct seam_avro_dflt {
        avro_type_t type;
        union {
                int boolean;
                int32_t i;
                int64_t l;
                float f;
                double d;
                int symbol; /* enum index */
                struct {
                        char *buf; /* NUL-terminated */
                        size_t len;
                } bytes;        /* string, bytes, fixed */
                struct {
                        struct seam_avro_dflt *items;
                        char **keys; /* maps only */
                        size_t count;
                } list;         /* array items, map values, record fields */
                struct {
                        struct seam_avro_dflt *value;
                        int branch;
                } branch;       /* union */
        } u;
};

/* One reader field the writer lacks, filled from its default. */
struct seam_avro_fill {
        int32_t reader_index;
        const char *name;
        struct seam_avro_dflt *value;
        size_t elements; /* what applying it costs against the limits */
        size_t bytes;
};

struct seam_avro_node {
        uint8_t op;
        union {
                struct {
                        struct seam_avro_step *steps;
                        size_t step_count;
                        struct seam_avro_fill *fills;
                        size_t fill_count;
                } rec;
                struct seam_avro_node *items; /* array items, map values */
                struct {
                        struct seam_avro_node **branches;
                        size_t count;
                } wunion;
                struct {
                        struct seam_avro_node *sub;
                        int branch;
                } runion;
                struct {
                        int *map; /* writer index -> reader index; NULL
                                     when skipping */
                        size_t count; /* writer symbols */
                } enm;
                size_t fixed_size;
        } u;
};

struct seam_avro_plan {
        struct seam_avro_node *root;
        avro_schema_t writer; /* held references */
        avro_schema_t reader;
        char *root_name;      /* first segment of error paths */
        struct seam_avro_node **nodes; /* every node, owned */
        size_t node_count;
        size_t node_cap;
};

#endif
