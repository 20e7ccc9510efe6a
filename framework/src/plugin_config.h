/* plugin_config.h - a plugin's `config:` block checked against the keys the
 * plugin declares (struct seam_config_key): unknown keys, wrong types and
 * missing required keys are config errors naming file, line and key; then
 * defaults are applied and the values are parsed once, for the getters of
 * the host API. */
#ifndef SEAM_PLUGIN_CONFIG_H
#define SEAM_PLUGIN_CONFIG_H

#include <stdint.h>

#include "config.h"
#include "seam/plugin.h"

struct seam_plugin_config_value {
        const struct seam_config_key *key;
        char *text; /* NULL if absent and no default */
        int64_t i;
        double d;
        int b;
};

struct seam_plugin_config {
        struct seam_plugin_config_value *values;
        size_t count;
};

/* `where` names the block in messages, e.g. "consumers[0].config". */
int seam_plugin_config_build(const struct seam_plugin *def,
                             const struct seam_kv_list *block,
                             const char *file, const char *where,
                             int block_line, struct seam_plugin_config *out,
                             char *errstr, size_t errstr_size);

void seam_plugin_config_free(struct seam_plugin_config *pc);

/* The value of `key` if declared with `type` and set (or defaulted). */
const struct seam_plugin_config_value *
seam_plugin_config_get(const struct seam_plugin_config *pc, const char *key,
                       seam_config_type type);

/* Parse helpers shared with the YAML config: return 0 or -1. */
int seam_parse_int64(const char *s, int64_t *out);
int seam_parse_bool(const char *s, int *out);
int seam_parse_double(const char *s, double *out);

#endif
