/* registry_local.c - the repo's schemas/ folder as a registry.
 *
 *   schemas/manifest.yaml           subject, version -> stable id
 *   schemas/<subject>/v<N>.avsc     one immutable file per released version
 *
 * Everything is loaded and checked at open, so a bad folder stops `seam` at
 * start with a message naming the file instead of poisoning messages later:
 * every file parses as Avro, ids and (subject, version) pairs are unique,
 * versions are numbered 1..n without gaps, and the files and the manifest
 * match one to one. */
#define SEAM_REGISTRY_BACKEND
#include "registry.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "err.h"

/* Bounds for what is read from the folder; far above any real schema. */
#define MAX_FILE_BYTES (1024 * 1024)
#define MAX_ENTRIES 100000
#define MAX_VERSION 1000000
#define MAX_SUBJECT_LEN 200
#define MANIFEST_NAME "manifest.yaml"

/* ---- manifest ---- */

void seam_manifest_destroy(struct seam_manifest *m)
{
        if (!m)
                return;
        for (size_t i = 0; i < m->count; i++)
                free(m->entries[i].subject);
        free(m->entries);
        free(m);
}

/* Subjects become folder names, so they are held to Kafka's topic
 * alphabet (a subject is a topic name plus "-value" or a record name). */
static int subject_ok(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > MAX_SUBJECT_LEN || s[0] == '.')
                return 0;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
                        return 0;
        }
        return 1;
}

/* A plain decimal in [min, max]; no sign, no spaces, no leading zeros. */
static int parse_uint(const char *s, long long min, long long max, long long *out)
{
        if (!*s || (s[0] == '0' && s[1]))
                return -1;
        long long v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -1;
                v = v * 10 + (*p - '0');
                if (v > max)
                        return -1;
        }
        if (v < min)
                return -1;
        *out = v;
        return 0;
}

static int line_of(const yaml_node_t *n)
{
        return (int)n->start_mark.line + 1;
}

static const char *scalar(const yaml_node_t *n)
{
        return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int parse_entry(yaml_document_t *doc, yaml_node_t *item, const char *name,
                       struct seam_manifest_entry *e, char *err, size_t errlen)
{
        e->line = line_of(item);
        if (item->type != YAML_MAPPING_NODE) {
                seam_errf(err, errlen,
                        "%s:%d: schemas[]: expected a mapping {subject, version, id}", name,
                        e->line);
                return SEAM_ERR_CONFIG;
        }
        int have_version = 0, have_id = 0;
        for (yaml_node_pair_t *p = item->data.mapping.pairs.start;
             p < item->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(doc, p->key);
                yaml_node_t *v = yaml_document_get_node(doc, p->value);
                const char *key = scalar(k);
                const char *val = scalar(v);
                int line = v ? line_of(v) : e->line;
                if (!key) {
                        seam_errf(err, errlen, "%s:%d: schemas[]: keys must be plain names", name,
                                e->line);
                        return SEAM_ERR_CONFIG;
                }
                if (!val) {
                        seam_errf(err, errlen, "%s:%d: schemas[].%s: expected a scalar", name, line,
                                key);
                        return SEAM_ERR_CONFIG;
                }
                long long num = 0;
                if (!strcmp(key, "subject")) {
                        if (e->subject) {
                                seam_errf(err, errlen, "%s:%d: schemas[].subject given twice",
                                        name, line);
                                return SEAM_ERR_CONFIG;
                        }
                        if (!subject_ok(val)) {
                                seam_errf(err, errlen,
                                        "%s:%d: schemas[].subject: '%.*s' is not a usable subject "
                                        "name (1-%d characters of A-Z a-z 0-9 . _ -, not "
                                        "starting with '.')",
                                        name, line, 64, val, MAX_SUBJECT_LEN);
                                return SEAM_ERR_CONFIG;
                        }
                        if (!(e->subject = strdup(val)))
                                return SEAM_ERR_NOMEM;
                } else if (!strcmp(key, "version")) {
                        if (have_version || parse_uint(val, 1, MAX_VERSION, &num)) {
                                seam_errf(err, errlen,
                                        "%s:%d: schemas[].version: expected one integer 1..%d, "
                                        "found '%.*s'",
                                        name, line, MAX_VERSION, 32, val);
                                return SEAM_ERR_CONFIG;
                        }
                        e->version = (int)num;
                        have_version = 1;
                } else if (!strcmp(key, "id")) {
                        /* Confluent ids are signed 32-bit on the wire side
                         * of every client; stay in their range. */
                        if (have_id || parse_uint(val, 1, INT32_MAX, &num)) {
                                seam_errf(err, errlen,
                                        "%s:%d: schemas[].id: expected one integer 1..%d, found "
                                        "'%.*s'",
                                        name, line, INT32_MAX, 32, val);
                                return SEAM_ERR_CONFIG;
                        }
                        e->id = (uint32_t)num;
                        have_id = 1;
                } else {
                        seam_errf(err, errlen,
                                "%s:%d: schemas[].%.*s: unknown key (expected subject, version, "
                                "id)",
                                name, line, 64, key);
                        return SEAM_ERR_CONFIG;
                }
        }
        if (!e->subject || !have_version || !have_id) {
                seam_errf(err, errlen, "%s:%d: schemas[]: missing %s", name, e->line,
                        !e->subject ? "subject" : !have_version ? "version" : "id");
                return SEAM_ERR_CONFIG;
        }
        return 0;
}

static int check_entries(const struct seam_manifest *m, const char *name, char *err,
                         size_t errlen);

static int parse_doc(yaml_document_t *doc, const char *name, struct seam_manifest *m,
                     char *err, size_t errlen)
{
        yaml_node_t *root = yaml_document_get_root_node(doc);
        if (!root || root->type != YAML_MAPPING_NODE) {
                seam_errf(err, errlen, "%s:%d: expected a mapping with the key 'schemas'", name,
                        root ? line_of(root) : 1);
                return SEAM_ERR_CONFIG;
        }
        yaml_node_t *list = NULL;
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
             p < root->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(doc, p->key);
                const char *key = scalar(k);
                if (!key || strcmp(key, "schemas")) {
                        seam_errf(err, errlen, "%s:%d: %.*s: unknown key (expected 'schemas')",
                                name, k ? line_of(k) : 1, 64, key ? key : "(not a scalar)");
                        return SEAM_ERR_CONFIG;
                }
                if (list) {
                        seam_errf(err, errlen, "%s:%d: schemas: given twice", name, line_of(k));
                        return SEAM_ERR_CONFIG;
                }
                list = yaml_document_get_node(doc, p->value);
        }
        if (!list || list->type != YAML_SEQUENCE_NODE) {
                seam_errf(err, errlen, "%s:%d: schemas: expected a list of {subject, version, id}",
                        name, list ? line_of(list) : line_of(root));
                return SEAM_ERR_CONFIG;
        }
        size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
        if (n > MAX_ENTRIES) {
                seam_errf(err, errlen, "%s: more than %d schemas", name, MAX_ENTRIES);
                return SEAM_ERR_CONFIG;
        }
        m->entries = n ? calloc(n, sizeof(*m->entries)) : NULL;
        if (n && !m->entries)
                return SEAM_ERR_NOMEM;
        for (size_t i = 0; i < n; i++) {
                yaml_node_t *item = yaml_document_get_node(doc, list->data.sequence.items.start[i]);
                m->count = i + 1; /* so destroy frees a half-filled entry */
                if (!item) {
                        seam_errf(err, errlen, "%s: schemas[%zu]: unreadable entry", name, i);
                        return SEAM_ERR_CONFIG;
                }
                int rc = parse_entry(doc, item, name, &m->entries[i], err, errlen);
                if (rc == SEAM_ERR_NOMEM)
                        seam_errf(err, errlen, "out of memory");
                if (rc)
                        return rc;
        }
        return check_entries(m, name, err, errlen);
}

static int cmp_by_id(const void *a, const void *b)
{
        const struct seam_manifest_entry *x = *(const struct seam_manifest_entry *const *)a;
        const struct seam_manifest_entry *y = *(const struct seam_manifest_entry *const *)b;
        if (x->id != y->id)
                return x->id < y->id ? -1 : 1;
        return (x->line > y->line) - (x->line < y->line);
}

static int cmp_by_subject(const void *a, const void *b)
{
        const struct seam_manifest_entry *x = *(const struct seam_manifest_entry *const *)a;
        const struct seam_manifest_entry *y = *(const struct seam_manifest_entry *const *)b;
        int c = strcmp(x->subject, y->subject);
        if (c)
                return c;
        if (x->version != y->version)
                return x->version < y->version ? -1 : 1;
        return (x->line > y->line) - (x->line < y->line);
}

/* Ids and (subject, version) unique, versions 1..n per subject. Sorted
 * views keep this O(n log n): the manifest is also fuzzed. */
static int check_entries(const struct seam_manifest *m, const char *name, char *err,
                         size_t errlen)
{
        if (m->count < 1)
                return 0;
        const struct seam_manifest_entry **v = malloc(m->count * sizeof(*v));
        if (!v) {
                seam_errf(err, errlen, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        int rc = 0;
        for (size_t i = 0; i < m->count; i++)
                v[i] = &m->entries[i];
        qsort(v, m->count, sizeof(*v), cmp_by_id);
        for (size_t i = 1; i < m->count && !rc; i++) {
                if (v[i]->id == v[i - 1]->id) {
                        seam_errf(err, errlen,
                                "%s:%d: id %u is already used on line %d (%s v%d); ids are "
                                "unique and never reused",
                                name, v[i]->line, v[i]->id, v[i - 1]->line, v[i - 1]->subject,
                                v[i - 1]->version);
                        rc = SEAM_ERR_CONFIG;
                }
        }
        qsort(v, m->count, sizeof(*v), cmp_by_subject);
        for (size_t i = 0; i < m->count && !rc; i++) {
                int first = i == 0 || strcmp(v[i]->subject, v[i - 1]->subject);
                int expected = first ? 1 : v[i - 1]->version + 1;
                if (!first && v[i]->version == v[i - 1]->version) {
                        seam_errf(err, errlen, "%s:%d: %s v%d is already listed on line %d", name,
                                v[i]->line, v[i]->subject, v[i]->version, v[i - 1]->line);
                        rc = SEAM_ERR_CONFIG;
                } else if (v[i]->version != expected) {
                        /* A gap means a released version was deleted, which
                         * breaks every message written with it. */
                        seam_errf(err, errlen,
                                "%s:%d: %s v%d: versions are numbered 1, 2, 3... without "
                                "gaps; v%d is missing",
                                name, v[i]->line, v[i]->subject, v[i]->version, expected);
                        rc = SEAM_ERR_CONFIG;
                }
        }
        free(v);
        return rc;
}

int seam_manifest_parse(const char *yaml, size_t len, const char *name,
                        struct seam_manifest **out, char *err, size_t errlen)
{
        *out = NULL;
        struct seam_manifest *m = calloc(1, sizeof(*m));
        if (!m) {
                seam_errf(err, errlen, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        yaml_parser_t parser;
        yaml_document_t doc;
        if (!yaml_parser_initialize(&parser)) {
                free(m);
                seam_errf(err, errlen, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
        if (!yaml_parser_load(&parser, &doc)) {
                seam_errf(err, errlen, "%s:%d: %s", name, (int)parser.problem_mark.line + 1,
                        parser.problem ? parser.problem : "YAML syntax error");
                yaml_parser_delete(&parser);
                free(m);
                return SEAM_ERR_CONFIG;
        }
        int rc;
        if (!yaml_document_get_root_node(&doc)) {
                seam_errf(err, errlen, "%s: empty; expected 'schemas:' with a list", name);
                rc = SEAM_ERR_CONFIG;
        } else {
                rc = parse_doc(&doc, name, m, err, errlen);
        }
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        if (rc) {
                seam_manifest_destroy(m);
                return rc;
        }
        *out = m;
        return 0;
}

/* ---- the folder ---- */

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
        FILE *f = fopen(path, "rb");
        if (!f) {
                seam_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
                return SEAM_ERR_CONFIG;
        }
        char *buf = malloc(MAX_FILE_BYTES + 1);
        if (!buf) {
                fclose(f);
                seam_errf(err, errlen, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        size_t n = fread(buf, 1, MAX_FILE_BYTES + 1, f);
        int bad = ferror(f);
        fclose(f);
        if (bad) {
                free(buf);
                seam_errf(err, errlen, "%s: read error", path);
                return SEAM_ERR_CONFIG;
        }
        if (n > MAX_FILE_BYTES) {
                free(buf);
                seam_errf(err, errlen, "%s: larger than %d bytes", path, MAX_FILE_BYTES);
                return SEAM_ERR_CONFIG;
        }
        buf[n] = '\0';
        *out = buf;
        *len = n;
        return 0;
}

/* "v<N>.avsc" with N a version as the manifest spells it; 0 if not. */
static int version_of(const char *fname)
{
        size_t n = strlen(fname);
        if (n < 7 || fname[0] != 'v' || strcmp(fname + n - 5, ".avsc"))
                return 0;
        char digits[16];
        if (n - 6 >= sizeof(digits))
                return 0;
        memcpy(digits, fname + 1, n - 6);
        digits[n - 6] = '\0';
        long long v;
        return parse_uint(digits, 1, MAX_VERSION, &v) ? 0 : (int)v;
}

static const struct seam_manifest_entry *manifest_find(const struct seam_manifest *m,
                                                       const char *subject, int version)
{
        for (size_t i = 0; i < m->count; i++) {
                if (!strcmp(m->entries[i].subject, subject) &&
                    (version == 0 || m->entries[i].version == version))
                        return &m->entries[i];
        }
        return NULL;
}

static int skip_name(const struct dirent *d)
{
        return d->d_name[0] != '.'; /* dotfiles (.gitkeep) are not content */
}

/* Every file in the folder must be accounted for by the manifest: a schema
 * file nobody registered is almost always a forgotten manifest line. */
static int check_folder(const char *dir, const struct seam_manifest *m, char *err,
                        size_t errlen)
{
        struct dirent **top = NULL;
        int n = scandir(dir, &top, skip_name, alphasort);
        if (n < 0) {
                seam_errf(err, errlen, "%s: cannot list: %s", dir, strerror(errno));
                return SEAM_ERR_CONFIG;
        }
        int rc = 0;
        char path[PATH_MAX], file[PATH_MAX];
        for (int i = 0; i < n && !rc; i++) {
                const char *name = top[i]->d_name;
                struct stat st;
                if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
                    stat(path, &st) != 0) {
                        seam_errf(err, errlen, "%s/%s: cannot stat: %s", dir, name,
                                strerror(errno));
                        rc = SEAM_ERR_CONFIG;
                        break;
                }
                if (!S_ISDIR(st.st_mode)) {
                        if (!strcmp(name, MANIFEST_NAME) || !strcmp(name, "README.md"))
                                continue;
                        seam_errf(err, errlen,
                                "%s: unexpected file (this folder holds %s, README.md and one "
                                "folder per subject)",
                                path, MANIFEST_NAME);
                        rc = SEAM_ERR_CONFIG;
                        break;
                }
                if (!manifest_find(m, name, 0)) {
                        seam_errf(err, errlen, "%s/: subject folder without any entry in %s/%s",
                                path, dir, MANIFEST_NAME);
                        rc = SEAM_ERR_CONFIG;
                        break;
                }
                struct dirent **files = NULL;
                int nf = scandir(path, &files, skip_name, alphasort);
                if (nf < 0) {
                        seam_errf(err, errlen, "%s: cannot list: %s", path, strerror(errno));
                        rc = SEAM_ERR_CONFIG;
                        break;
                }
                for (int j = 0; j < nf && !rc; j++) {
                        const char *fname = files[j]->d_name;
                        int version = version_of(fname);
                        if (snprintf(file, sizeof(file), "%s/%s", path, fname) >=
                            (int)sizeof(file)) {
                                seam_errf(err, errlen, "%s/%s: path too long", path, fname);
                                rc = SEAM_ERR_CONFIG;
                        } else if (!version) {
                                seam_errf(err, errlen,
                                        "%s: unexpected file (versions are named v1.avsc, "
                                        "v2.avsc, ...)",
                                        file);
                                rc = SEAM_ERR_CONFIG;
                        } else if (!manifest_find(m, name, version)) {
                                seam_errf(err, errlen,
                                        "%s: no entry in %s/%s (add {subject: %s, version: %d, "
                                        "id: <a new id>})",
                                        file, dir, MANIFEST_NAME, name, version);
                                rc = SEAM_ERR_CONFIG;
                        }
                }
                for (int j = 0; j < nf; j++)
                        free(files[j]);
                free(files);
        }
        for (int i = 0; i < n; i++)
                free(top[i]);
        free(top);
        return rc;
}

static int local_fetch_id(void *impl, struct seam_registry *reg, uint32_t id,
                          struct seam_schema **out, char *err, size_t errlen)
{
        seam_errf(err, errlen, "schema id %u is not in %s/%s", id, (const char *)impl,
                MANIFEST_NAME);
        return SEAM_ERR_NOTFOUND;
}

static const struct seam_registry_ops local_ops = {
        .fetch_id = local_fetch_id,
        .destroy = free,
};

int seam_registry_local_open(struct seam_registry *reg,
                             const struct seam_registry_options *opts, char *err,
                             size_t errlen)
{
        if (!opts->dir || !*opts->dir) {
                seam_errf(err, errlen, "local registry: no schemas folder given");
                return SEAM_ERR_CONFIG;
        }
        char *dir = strdup(opts->dir);
        if (!dir) {
                seam_errf(err, errlen, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        size_t dl = strlen(dir);
        while (dl > 1 && dir[dl - 1] == '/')
                dir[--dl] = '\0';
        seam_registry_set_backend(reg, &local_ops, dir);

        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, MANIFEST_NAME) >= (int)sizeof(path)) {
                seam_errf(err, errlen, "%s: path too long", dir);
                return SEAM_ERR_CONFIG;
        }
        char *text = NULL;
        size_t len = 0;
        int rc = read_file(path, &text, &len, err, errlen);
        if (rc)
                return rc;
        struct seam_manifest *m = NULL;
        rc = seam_manifest_parse(text, len, path, &m, err, errlen);
        free(text);
        if (rc)
                return rc;
        if ((rc = check_folder(dir, m, err, errlen)) != 0)
                goto out;

        for (size_t i = 0; i < m->count; i++) {
                const struct seam_manifest_entry *e = &m->entries[i];
                char file[PATH_MAX];
                struct stat st;
                if (snprintf(file, sizeof(file), "%s/%s/v%d.avsc", dir, e->subject,
                             e->version) >= (int)sizeof(file) ||
                    stat(file, &st) != 0) {
                        seam_errf(err, errlen, "%s:%d: %s v%d: %s does not exist", path, e->line,
                                e->subject, e->version, file);
                        rc = SEAM_ERR_CONFIG;
                        goto out;
                }
                if ((rc = read_file(file, &text, &len, err, errlen)) != 0)
                        goto out;
                struct seam_schema_ref ref = {.subject = e->subject, .version = e->version};
                struct seam_schema *s = NULL;
                char why[512];
                rc = seam_schema_new(e->id, text, len, &ref, 1, 1, &s, why, sizeof(why));
                free(text);
                if (rc) {
                        seam_errf(err, errlen, "%s: %s", file, why);
                        rc = rc == SEAM_ERR_NOMEM ? rc : SEAM_ERR_CONFIG;
                        goto out;
                }
                if ((rc = seam_registry_preload(reg, s)) != 0) {
                        seam_errf(err, errlen, "%s: cannot index id %u: %s", file, e->id,
                                seam_err_str(rc));
                        goto out;
                }
        }
out:
        seam_manifest_destroy(m);
        return rc;
}
