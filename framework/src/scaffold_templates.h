/* scaffold_templates.h - the files `seam plugin new` writes: a plugin
 * source that reads every top-level field of the team's Avro record, its
 * CMakeLists.txt (find_package(Seam)), README, sample config and an offline
 * test for `seam plugin test`. Rendering only; cli_plugin_new.c validates
 * the arguments and writes the files. */
#ifndef SEAM_SCAFFOLD_TEMPLATES_H
#define SEAM_SCAFFOLD_TEMPLATES_H

#include <stddef.h>

#include <avro.h>

/* Longest plugin name and top-level field name the scaffold accepts. */
#define SEAM_SCAFFOLD_NAME_MAX 64
#define SEAM_SCAFFOLD_FIELD_MAX 200

/* What the files are rendered from; everything borrowed. */
struct seam_scaffold {
        const char *name;        /* the plugin name, see seam_scaffold_check_name */
        const char *schema_text; /* the .avsc exactly as given */
        size_t schema_len;
        avro_schema_t record;    /* its top-level record (parsed and validated) */
        const char *subject;     /* registry subject of the writers */
        int version;             /* the subject version NAME.avsc corresponds to */
        const char *topic;
};

/* 0 if `name` can name a plugin and prefix its C identifiers:
 * [a-z][a-z0-9_]*, at most SEAM_SCAFFOLD_NAME_MAX characters, not a C
 * keyword or a predefined macro, not starting with "seam" or "avro" (the
 * host's and Avro C's prefixes). Else SEAM_ERR_INVALID and why in `err`. */
int seam_scaffold_check_name(const char *name, char *err, size_t errlen);

/* 0 if every top-level field of `record` can be rendered (names not longer
 * than SEAM_SCAFFOLD_FIELD_MAX, at least one field); else SEAM_ERR_INVALID
 * and why. */
int seam_scaffold_check_record(avro_schema_t record, char *err, size_t errlen);

/* The number of files of a scaffold; the path of file `i` inside the
 * plugin folder (e.g. "test/input.jsonl") and whether it is executable
 * (0, or SEAM_ERR_INVALID for i out of range); and file `i` rendered: its
 * path, mode and text (malloc'ed, NUL-terminated, `*len` bytes; free it),
 * 0 or SEAM_ERR_NOMEM. */
size_t seam_scaffold_file_count(void);
int seam_scaffold_path(const struct seam_scaffold *s, size_t i, char *path,
                       size_t pathlen, int *executable);
int seam_scaffold_render(const struct seam_scaffold *s, size_t i, char *path,
                         size_t pathlen, int *executable, char **text,
                         size_t *len);

#endif
