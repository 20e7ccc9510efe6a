#include "plugin_config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int seam_parse_int64(const char *s, int64_t *out)
{
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end)
                return -1;
        *out = v;
        return 0;
}

int seam_parse_bool(const char *s, int *out)
{
        if (!strcmp(s, "true")) {
                *out = 1;
                return 0;
        }
        if (!strcmp(s, "false")) {
                *out = 0;
                return 0;
        }
        return -1;
}

int seam_parse_double(const char *s, double *out)
{
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || *end || !isfinite(v))
                return -1;
        *out = v;
        return 0;
}

static const char *type_name(seam_config_type t)
{
        switch (t) {
        case SEAM_CONFIG_STRING: return "a string";
        case SEAM_CONFIG_INT: return "an integer";
        case SEAM_CONFIG_BOOL: return "true or false";
        case SEAM_CONFIG_DOUBLE: return "a number";
        }
        return "a value";
}

static int parse_value(struct seam_plugin_config_value *v)
{
        switch (v->key->type) {
        case SEAM_CONFIG_STRING: return 0;
        case SEAM_CONFIG_INT: return seam_parse_int64(v->text, &v->i);
        case SEAM_CONFIG_BOOL: return seam_parse_bool(v->text, &v->b);
        case SEAM_CONFIG_DOUBLE: return seam_parse_double(v->text, &v->d);
        }
        return -1;
}

static void list_keys(const struct seam_config_key *keys, char *buf, size_t len)
{
        size_t n = 0;
        buf[0] = '\0';
        for (const struct seam_config_key *k = keys; k && k->name; k++) {
                int w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "", k->name);
                if (w < 0 || (size_t)w >= len - n)
                        break;
                n += (size_t)w;
        }
        if (!n)
                snprintf(buf, len, "(none: this plugin takes no config)");
}

int seam_plugin_config_build(const struct seam_plugin *def,
                             const struct seam_kv_list *block,
                             const char *file, const char *where,
                             int block_line, struct seam_plugin_config *out,
                             char *errstr, size_t errstr_size)
{
        const struct seam_config_key *keys = def->config_keys;
        size_t nkeys = 0;
        while (keys && keys[nkeys].name)
                nkeys++;
        memset(out, 0, sizeof(*out));

        for (size_t i = 0; i < block->count; i++) {
                const struct seam_kv *kv = &block->items[i];
                size_t k = 0;
                while (k < nkeys && strcmp(keys[k].name, kv->key))
                        k++;
                if (k == nkeys) {
                        char valid[512];
                        list_keys(keys, valid, sizeof(valid));
                        snprintf(errstr, errstr_size,
                                 "%s:%d: %s.%s: unknown key for plugin '%s'; "
                                 "valid keys: %s",
                                 file, kv->line, where, kv->key, def->name, valid);
                        return SEAM_ERR_CONFIG;
                }
        }

        out->values = calloc(nkeys ? nkeys : 1, sizeof(*out->values));
        if (!out->values)
                return SEAM_ERR_NOMEM;
        out->count = nkeys;
        for (size_t k = 0; k < nkeys; k++) {
                struct seam_plugin_config_value *v = &out->values[k];
                const struct seam_kv *kv = seam_kv_find(block, keys[k].name);
                v->key = &keys[k];
                if (kv)
                        v->text = strdup(kv->value);
                else if (keys[k].default_value)
                        v->text = strdup(keys[k].default_value);
                if (!v->text) {
                        if (kv || keys[k].default_value) {
                                seam_plugin_config_free(out);
                                return SEAM_ERR_NOMEM;
                        }
                        if (keys[k].required) {
                                snprintf(errstr, errstr_size,
                                         "%s:%d: %s.%s: required by plugin "
                                         "'%s' (%s), missing",
                                         file, block_line, where, keys[k].name,
                                         def->name,
                                         keys[k].description ? keys[k].description : type_name(keys[k].type));
                                seam_plugin_config_free(out);
                                return SEAM_ERR_CONFIG;
                        }
                        continue;
                }
                if (parse_value(v) < 0) {
                        snprintf(errstr, errstr_size,
                                 "%s:%d: %s.%s: expected %s, got \"%s\"%s", file,
                                 kv ? kv->line : block_line, where, keys[k].name,
                                 type_name(keys[k].type), v->text,
                                 kv ? "" : " (the plugin's own default)");
                        seam_plugin_config_free(out);
                        return SEAM_ERR_CONFIG;
                }
        }
        return 0;
}

void seam_plugin_config_free(struct seam_plugin_config *pc)
{
        if (!pc)
                return;
        for (size_t i = 0; i < pc->count; i++)
                free(pc->values[i].text);
        free(pc->values);
        pc->values = NULL;
        pc->count = 0;
}

const struct seam_plugin_config_value *
seam_plugin_config_get(const struct seam_plugin_config *pc, const char *key,
                       seam_config_type type)
{
        for (size_t i = 0; i < pc->count; i++) {
                const struct seam_plugin_config_value *v = &pc->values[i];
                if (!strcmp(v->key->name, key))
                        return v->key->type == type && v->text ? v : NULL;
        }
        return NULL;
}
