/* harness.c - `seam plugin test`: runs a plugin offline, without a broker,
 * through the same pipeline stages as production (frame, schema, decode,
 * handle, with retries run to exhaustion at once), and prints one outcome
 * per input record; with --expect it compares them and exits 1 on a
 * mismatch, so teams test plugins in CI.
 *
 * Input: JSON lines, each
 *   {"value": {...record as JSON...}  |  "value_base64": "...raw bytes...",
 *    "key": "k", "headers": {"name": "text"}, "topic": "t", "partition": 0,
 *    "offset": 7, "timestamp": 1700000000000, "schema_id": 3}
 * "value" is encoded with the writer schema (--writer FILE, else the
 * consumer's reader schema) and Confluent-framed; "value_base64" is passed
 * as it is (to test framing and decode failures).
 * Output lines: OFFSET OUTCOME [CLASS] attempts=N: reason */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avro_decode.h"
#include "avro_json.h"
#include "clock.h"
#include "dedup.h"
#include "cli.h"
#include "cli_common.h"
#include "err.h"
#include "host_api.h"
#include "loader.h"
#include "log.h"
#include "pipeline.h"
#include "plugin_config.h"
#include "registry.h"
#include "schema_stage.h"
#include "wire.h"

#define HARNESS_MAX_VALUE (1u << 20)

struct harness {
        struct seam_config *cfg;
        const struct seam_consumer_config *cc;
        size_t cc_index;
        struct seam_plugin_set *plugins;
        const struct seam_loaded_plugin *plugin;
        struct seam_plugin_config pcfg;
        struct seam_ctx ctx;
        struct seam_registry *reg;
        char tmpdir[256];
        struct seam_schema_stage *stage;
        struct seam_pipeline pipeline;
        struct seam_dedup *dedup;
        char dedup_dir[256];
        const struct seam_schema *writer; /* for "value" lines */
        avro_value_iface_t *writer_iface;
        int initialised;
};

static void usage(FILE *out)
{
        fprintf(out,
                "usage: seam plugin test PLUGIN.so --config FILE.yaml --input FILE.jsonl\n"
                "                        [--expect FILE] [--consumer NAME] [--writer FILE.avsc]\n"
                "                        [--postgres DSN]\n"
                "Runs the plugin offline through the production pipeline (frame, schema,\n"
                "decode, handle; RETRY is retried at once up to retry_max_attempts) and\n"
                "prints one line per record: OFFSET OUTCOME [CLASS] attempts=N: reason.\n"
                "OUTCOME is OK, DUPLICATE (idempotency key seen before; with a dedup store\n"
                "configured a fresh temporary one is used, or for an inbox the --postgres\n"
                "database), DEAD_LETTER (with its class) or FATAL. With --expect, each\n"
                "line of FILE (OFFSET OUTCOME [CLASS]) must match; exit 1 if not.\n");
}

static int read_text(const char *path, char **out, size_t *len)
{
        FILE *f = fopen(path, "rb");
        if (!f)
                return -1;
        size_t cap = 4096, n = 0, r;
        char *buf = malloc(cap);
        while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
                n += r;
                if (n + 1 == cap) {
                        char *nb = realloc(buf, cap * 2);
                        if (!nb) {
                                free(buf);
                                buf = NULL;
                                break;
                        }
                        buf = nb;
                        cap *= 2;
                }
        }
        fclose(f);
        if (!buf)
                return -1;
        buf[n] = '\0';
        *out = buf;
        if (len)
                *len = n;
        return 0;
}

/* A throwaway local registry holding the writer schema under the
 * consumer's first subject, for configs whose registry is not a local
 * folder (an http registry cannot be reached offline). */
static int temp_registry(struct harness *h, const char *writer_json, char *err, size_t errlen)
{
        const char *tmp = getenv("TMPDIR");
        snprintf(h->tmpdir, sizeof(h->tmpdir), "%s/seam-harness-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(h->tmpdir)) {
                snprintf(err, errlen, "cannot create a temporary directory");
                h->tmpdir[0] = '\0';
                return SEAM_ERR_IO;
        }
        const char *subject = h->cc->subjects[0];
        char path[1600];
        snprintf(path, sizeof(path), "%s/%s", h->tmpdir, subject);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/%s/v1.avsc", h->tmpdir, subject);
        FILE *f = fopen(path, "w");
        if (!f || fputs(writer_json, f) < 0 || fclose(f)) {
                snprintf(err, errlen, "cannot write the temporary registry in %s", h->tmpdir);
                return SEAM_ERR_IO;
        }
        snprintf(path, sizeof(path), "%s/manifest.yaml", h->tmpdir);
        f = fopen(path, "w");
        if (!f || fprintf(f, "schemas:\n  - {subject: \"%s\", version: 1, id: 1}\n", subject) < 0 ||
            fclose(f)) {
                snprintf(err, errlen, "cannot write the temporary registry in %s", h->tmpdir);
                return SEAM_ERR_IO;
        }
        struct seam_registry_options o;
        seam_registry_options_init(&o);
        o.type = SEAM_REGISTRY_LOCAL;
        o.dir = h->tmpdir;
        return seam_registry_new(&o, &h->reg, err, errlen);
}

static void remove_temp_registry(struct harness *h)
{
        if (!h->tmpdir[0])
                return;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s/v1.avsc", h->tmpdir, h->cc->subjects[0]);
        unlink(path);
        snprintf(path, sizeof(path), "%s/%s", h->tmpdir, h->cc->subjects[0]);
        rmdir(path);
        snprintf(path, sizeof(path), "%s/manifest.yaml", h->tmpdir);
        unlink(path);
        rmdir(h->tmpdir);
}

/* The registry and writer schema for format avro. */
static int setup_schemas(struct harness *h, const char *writer_file, char *err, size_t errlen)
{
        const struct seam_consumer_config *cc = h->cc;
        char inner[1024];
        int local = !strcmp(h->cfg->registry_type, "local");
        struct seam_registry_options o;
        seam_registry_options_init(&o);
        o.type = SEAM_REGISTRY_LOCAL;
        o.dir = h->cfg->registry_dir;
        /* Offline: the configured local folder when it exists and no writer
         * file is forced, else a temporary one. */
        if (local && !writer_file && access(h->cfg->registry_dir, R_OK) == 0 &&
            seam_registry_new(&o, &h->reg, inner, sizeof(inner)) == 0) {
                int rc = cc->reader_subject
                             ? seam_registry_by_subject(h->reg, cc->reader_subject, cc->reader_version,
                                                        &h->writer, inner, sizeof(inner))
                             : seam_registry_by_subject(h->reg, cc->subjects[0], -1, &h->writer,
                                                        inner, sizeof(inner));
                if (rc) {
                        snprintf(err, errlen, "writer schema: %s", inner);
                        return SEAM_ERR_CONFIG;
                }
        } else {
                const char *wf = writer_file ? writer_file : cc->reader_file;
                char *json;
                if (!wf) {
                        snprintf(err, errlen,
                                 "no local schemas folder to take the writer schema from: pass "
                                 "--writer FILE.avsc or use schema.reader_file");
                        return SEAM_ERR_USAGE;
                }
                if (read_text(wf, &json, NULL)) {
                        snprintf(err, errlen, "cannot read %s", wf);
                        return SEAM_ERR_CONFIG;
                }
                int rc = temp_registry(h, json, inner, sizeof(inner));
                free(json);
                if (rc || seam_registry_by_id(h->reg, 1, &h->writer, inner, sizeof(inner))) {
                        snprintf(err, errlen, "writer schema %s: %s", wf, inner);
                        return SEAM_ERR_CONFIG;
                }
        }
        h->writer_iface = avro_generic_class_from_schema(h->writer->avro);
        if (!h->writer_iface || seam_schema_stage_new(cc, h->reg, &h->stage, inner, sizeof(inner))) {
                snprintf(err, errlen, "%s:%d: schema: %s", h->cfg->path, cc->line, inner);
                return SEAM_ERR_CONFIG;
        }
        return 0;
}

/* Encodes and frames a JSON record with the writer schema (or `schema_id`
 * of the registry when given). */
static int encode_value(struct harness *h, json_t *value, json_t *schema_id, uint8_t *out,
                        size_t cap, size_t *len, char *err, size_t errlen)
{
        const struct seam_schema *w = h->writer;
        avro_value_iface_t *iface = h->writer_iface;
        int own_iface = 0;
        if (schema_id) {
                if (!json_is_integer(schema_id) ||
                    seam_registry_by_id(h->reg, (uint32_t)json_integer_value(schema_id), &w, err,
                                        errlen))
                        return SEAM_ERR_INVALID;
                iface = avro_generic_class_from_schema(w->avro);
                own_iface = 1;
        }
        avro_value_t v;
        if (!iface || avro_generic_value_new(iface, &v)) {
                snprintf(err, errlen, "cannot create a value of the writer schema");
                return SEAM_ERR_NOMEM;
        }
        int rc = seam_avro_from_json(value, &v, err, errlen);
        uint8_t *body = malloc(HARNESS_MAX_VALUE);
        if (!rc && body) {
                avro_writer_t wr = avro_writer_memory((char *)body, HARNESS_MAX_VALUE);
                if (avro_value_write(wr, &v) ||
                    seam_wire_frame(w->id, body, (size_t)avro_writer_tell(wr), out, cap, len)) {
                        snprintf(err, errlen, "value does not encode (too large?)");
                        rc = SEAM_ERR_INVALID;
                }
                avro_writer_free(wr);
        }
        free(body);
        avro_value_decref(&v);
        if (own_iface)
                avro_value_iface_decref(iface);
        return rc;
}

static size_t base64_decode(const char *in, uint8_t *out, size_t cap, int *bad)
{
        static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        uint32_t acc = 0;
        int bits = 0;
        size_t n = 0;
        *bad = 0;
        for (const char *p = in; *p && *p != '='; p++) {
                const char *c = strchr(tbl, *p);
                if (!c || !*p) {
                        *bad = 1;
                        return 0;
                }
                acc = (acc << 6) | (uint32_t)(c - tbl);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (n == cap) {
                                *bad = 1;
                                return 0;
                        }
                        out[n++] = (uint8_t)(acc >> bits);
                }
        }
        return n;
}

/* Runs one record; prints its outcome line into `line`. Returns 1 if the
 * plugin said FATAL (the instance would stop). */
static int run_record(struct harness *h, json_t *rec, long index, char *line, size_t linelen)
{
        uint8_t *payload = malloc(HARNESS_MAX_VALUE + 5);
        size_t len = 0;
        char err[1024] = "";
        json_t *value = json_object_get(rec, "value");
        json_t *raw = json_object_get(rec, "value_base64");
        json_t *off = json_object_get(rec, "offset");
        int64_t offset = json_is_integer(off) ? json_integer_value(off) : index;
        int rc = 0;
        if (!payload) {
                snprintf(line, linelen, "%lld ERROR: out of memory", (long long)offset);
                return 0;
        }
        if (raw) {
                int bad;
                len = json_is_string(raw) ? base64_decode(json_string_value(raw), payload,
                                                          HARNESS_MAX_VALUE, &bad)
                                          : 0;
                if (!json_is_string(raw) || bad) {
                        snprintf(err, sizeof(err), "value_base64 is not base64");
                        rc = -1;
                }
        } else if (value && h->stage) {
                rc = encode_value(h, value, json_object_get(rec, "schema_id"), payload,
                                  HARNESS_MAX_VALUE + 5, &len, err, sizeof(err));
        } else if (value) {
                /* format raw: a JSON value is passed as its text. */
                char *text = json_is_string(value) ? strdup(json_string_value(value))
                                                   : json_dumps(value, JSON_COMPACT);
                len = text ? strlen(text) : 0;
                if (len > HARNESS_MAX_VALUE)
                        len = HARNESS_MAX_VALUE;
                memcpy(payload, text ? text : "", len);
                free(text);
        }
        if (rc) {
                snprintf(line, linelen, "%lld ERROR input: %s", (long long)offset, err);
                free(payload);
                return 0;
        }

        json_t *key = json_object_get(rec, "key");
        json_t *topic = json_object_get(rec, "topic");
        json_t *partition = json_object_get(rec, "partition");
        json_t *ts = json_object_get(rec, "timestamp");
        struct seam_msg_data d = {
                .topic = json_is_string(topic) ? json_string_value(topic) : h->cc->topics[0],
                .partition = json_is_integer(partition) ? (int32_t)json_integer_value(partition) : 0,
                .offset = offset,
                .timestamp = json_is_integer(ts) ? json_integer_value(ts) : seam_wall_ms(),
                .key = json_is_string(key) ? json_string_value(key) : NULL,
                .key_len = json_is_string(key) ? json_string_length(key) : 0,
                .payload = payload,
                .len = len,
        };
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(8);
        const char *hname;
        json_t *hval;
        json_object_foreach(json_object_get(rec, "headers"), hname, hval) {
                if (json_is_string(hval))
                        rd_kafka_header_add(hdrs, hname, -1, json_string_value(hval),
                                            (ssize_t)json_string_length(hval));
        }

        struct seam_decode_slot slot = {0};
        struct seam_outcome o;
        uint32_t attempts = 0;
        const char *outcome = "OK", *cls = "";
        for (;;) {
                struct seam_msg m;
                seam_msg_init_data(&m, &d, hdrs, &h->ctx, attempts);
                seam_pipeline_run(&h->pipeline, &m, &slot, 0, &o);
                /* Marks durable at once, as before a commit in production. */
                char ferr[256];
                if (h->dedup && !h->cc->inbox)
                        seam_dedup_flush(h->dedup, seam_wall_ms(), ferr, sizeof(ferr));
                seam_msg_release(&m);
                if (o.result == SEAM_TRANSIENT) {
                        outcome = "TRANSIENT"; /* offline this cannot pass */
                        break;
                }
                if (o.result == SEAM_DUPLICATE) {
                        outcome = "DUPLICATE";
                        break;
                }
                if (!strcmp(o.poison_class ? o.poison_class : "", "handler") || o.result == SEAM_OK)
                        attempts++;
                if (o.result == SEAM_RETRY && attempts < (uint32_t)h->cc->retry_max_attempts)
                        continue;
                if (o.result == SEAM_OK) {
                        outcome = "OK";
                } else if (o.result == SEAM_RETRY) {
                        outcome = "DEAD_LETTER";
                        cls = "retries_exhausted";
                } else if (o.result == SEAM_POISON) {
                        outcome = "DEAD_LETTER";
                        cls = o.poison_class;
                } else {
                        outcome = "FATAL";
                }
                break;
        }
        seam_decode_slot_release(&slot);
        rd_kafka_headers_destroy(hdrs);
        free(payload);
        if (o.result == SEAM_OK || o.result == SEAM_DUPLICATE)
                snprintf(line, linelen, "%lld %s attempts=%u", (long long)offset,
                         o.result == SEAM_OK ? "OK" : "DUPLICATE", attempts);
        else
                snprintf(line, linelen, "%lld %s%s%s attempts=%u: %s", (long long)offset, outcome,
                         *cls ? " " : "", cls, attempts, o.message);
        return o.result == SEAM_FATAL;
}

/* Does `got` match the expectation `want` (its tokens are a prefix of
 * got's tokens, "attempts=N" included only if the expectation says it)? */
static int line_matches(const char *want, const char *got)
{
        while (*want) {
                size_t wl = strcspn(want, " \t"), gl = strcspn(got, " \t:");
                if (wl != gl || strncmp(want, got, wl))
                        return 0;
                want += wl;
                got += gl;
                want += strspn(want, " \t");
                got += strspn(got, " \t:");
        }
        return 1;
}

/* The dedup stage offline: a fresh embedded store in a temporary folder
 * (duplicates within the input are found), or for an inbox the PostgreSQL
 * database given with --postgres. */
static int setup_dedup(struct harness *h, const char *postgres, char *err, size_t errlen)
{
        struct seam_dedup_options o = {0};
        char path[600];
        o.table = h->cfg->dedup_table;
        o.retention_ms = h->cfg->dedup_retention_ms;
        if (h->cc->inbox) {
                if (!postgres) {
                        snprintf(err, errlen, "consumer %s uses the PostgreSQL inbox: pass "
                                              "--postgres DSN (a scratch database)",
                                 h->cc->name);
                        return SEAM_ERR_USAGE;
                }
                o.type = SEAM_DEDUP_POSTGRES;
                o.dsn = postgres;
        } else {
                const char *tmp = getenv("TMPDIR");
                snprintf(h->dedup_dir, sizeof(h->dedup_dir), "%s/seam-harness-dedup-XXXXXX",
                         tmp && *tmp ? tmp : "/tmp");
                if (!mkdtemp(h->dedup_dir)) {
                        h->dedup_dir[0] = '\0';
                        snprintf(err, errlen, "cannot create a temporary directory");
                        return SEAM_ERR_IO;
                }
                snprintf(path, sizeof(path), "%s/dedup.mdb", h->dedup_dir);
                o.type = SEAM_DEDUP_EMBEDDED;
                o.path = path;
        }
        return seam_dedup_open(&o, &h->dedup, err, errlen);
}

static void remove_dedup_dir(struct harness *h)
{
        if (!h->dedup_dir[0])
                return;
        char path[600];
        snprintf(path, sizeof(path), "%s/dedup.mdb", h->dedup_dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/dedup.mdb-lock", h->dedup_dir);
        unlink(path);
        rmdir(h->dedup_dir);
}

static void harness_close(struct harness *h)
{
        if (h->initialised && h->plugin->def->close)
                h->plugin->def->close(h->pipeline.plugin_state);
        seam_schema_stage_destroy(h->stage);
        seam_dedup_close(h->dedup);
        remove_dedup_dir(h);
        if (h->writer_iface)
                avro_value_iface_decref(h->writer_iface);
        seam_registry_destroy(h->reg);
        if (h->cc)
                remove_temp_registry(h);
        seam_plugin_config_free(&h->pcfg);
        seam_plugin_set_destroy(h->plugins);
        seam_config_destroy(h->cfg);
}

int seam_cli_plugin_test(int argc, char **argv)
{
        static const struct option opts[] = {
                {"config", required_argument, NULL, 'c'},
                {"input", required_argument, NULL, 'i'},
                {"expect", required_argument, NULL, 'e'},
                {"consumer", required_argument, NULL, 'n'},
                {"writer", required_argument, NULL, 'w'},
                {"postgres", required_argument, NULL, 'p'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *config = NULL, *input = NULL, *expect = NULL, *consumer = NULL, *writer = NULL;
        const char *postgres = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c': config = optarg; break;
                case 'i': input = optarg; break;
                case 'e': expect = optarg; break;
                case 'n': consumer = optarg; break;
                case 'w': writer = optarg; break;
                case 'p': postgres = optarg; break;
                case 'h': usage(stdout); return SEAM_EXIT_OK;
                default: usage(stderr); return SEAM_EXIT_USAGE;
                }
        }
        if (optind != argc - 1 || !config || !input) {
                usage(stderr);
                return SEAM_EXIT_USAGE;
        }
        const char *plugin_path = argv[optind];
        struct harness h;
        memset(&h, 0, sizeof(h));
        char err[2048];
        int code = seam_cli_load_config(config, &h.cfg);
        if (code)
                return code;
        seam_cli_setup_log(h.cfg, "logfmt", NULL);
        for (size_t i = 0; i < h.cfg->consumer_count && !h.cc; i++) {
                if (!consumer || !strcmp(consumer, h.cfg->consumers[i].name)) {
                        h.cc = &h.cfg->consumers[i];
                        h.cc_index = i;
                }
        }
        if (!h.cc) {
                fprintf(stderr, "seam plugin test: %s: no consumer named %s\n", config, consumer);
                harness_close(&h);
                return SEAM_EXIT_CONFIG;
        }
        char where[64];
        snprintf(where, sizeof(where), "consumers[%zu].config", h.cc_index);
        h.plugins = seam_plugin_set_new();
        int rc = seam_plugin_set_load(h.plugins, plugin_path, NULL, 0, &h.plugin, err, sizeof(err));
        if (!rc)
                rc = seam_plugin_config_build(h.plugin->def, &h.cc->plugin_config, h.cfg->path, where,
                                              h.cc->line, &h.pcfg, err, sizeof(err));
        if (!rc && !strcmp(h.cc->format, "avro"))
                rc = setup_schemas(&h, writer, err, sizeof(err));
        if (rc) {
                fprintf(stderr, "seam plugin test: %s\n", err);
                harness_close(&h);
                return seam_err_exit_code(rc);
        }
        h.ctx = (struct seam_ctx){
                .consumer_name = h.cc->name,
                .plugin_name = h.plugin->def->name,
                .correlation_header = h.cc->correlation_header,
                .plugin_config = &h.pcfg,
        };
        if (!rc && strcmp(h.cc->dedup_store, "none"))
                rc = setup_dedup(&h, postgres, err, sizeof(err));
        if (rc) {
                fprintf(stderr, "seam plugin test: %s\n", err);
                harness_close(&h);
                return seam_err_exit_code(rc);
        }
        h.pipeline = (struct seam_pipeline){
                .def = h.plugin->def,
                .cc = h.cc,
                .schema_stage = h.stage,
                .dedup = h.dedup,
                .scope = h.cc->group_id,
        };
        if (h.plugin->def->init(&h.ctx, &seam_host_api_v1, &h.pipeline.plugin_state)) {
                fprintf(stderr, "seam plugin test: plugin %s: init failed\n", h.plugin->path);
                harness_close(&h);
                return SEAM_EXIT_PLUGIN;
        }
        h.initialised = 1;

        char *in = NULL, *exp = NULL;
        if (read_text(input, &in, NULL) || (expect && read_text(expect, &exp, NULL))) {
                fprintf(stderr, "seam plugin test: cannot read %s\n",
                        in ? expect : input);
                free(in);
                harness_close(&h);
                return SEAM_EXIT_USAGE;
        }
        int mismatches = 0, fatal = 0;
        long index = 0, lineno = 0;
        char *save_in = NULL, *save_exp = NULL;
        char *want = exp ? strtok_r(exp, "\n", &save_exp) : NULL;
        for (char *l = strtok_r(in, "\n", &save_in); l; l = strtok_r(NULL, "\n", &save_in)) {
                lineno++;
                if (!*l || *l == '#')
                        continue;
                char out[2048];
                json_error_t jerr;
                json_t *rec = json_loads(l, 0, &jerr);
                if (!json_is_object(rec)) {
                        snprintf(out, sizeof(out), "%ld ERROR input: %s:%ld: %s", index, input,
                                 lineno, rec ? "not a JSON object" : jerr.text);
                } else if (fatal) {
                        snprintf(out, sizeof(out), "%ld NOT_RUN (the instance stopped on FATAL)",
                                 index);
                } else {
                        fatal = run_record(&h, rec, index, out, sizeof(out));
                }
                json_decref(rec);
                printf("%s\n", out);
                if (exp) {
                        if (!want || !line_matches(want, out)) {
                                fprintf(stderr, "MISMATCH at record %ld: expected \"%s\", got \"%s\"\n",
                                        index, want ? want : "(nothing)", out);
                                mismatches++;
                        }
                        want = strtok_r(NULL, "\n", &save_exp);
                }
                index++;
        }
        if (exp && want) {
                fprintf(stderr, "MISMATCH: expected more records, first missing: \"%s\"\n", want);
                mismatches++;
        }
        free(in);
        free(exp);
        harness_close(&h);
        if (expect)
                fprintf(stderr, "%s: %ld records, %d mismatch%s\n", mismatches ? "FAIL" : "PASS",
                        index, mismatches, mismatches == 1 ? "" : "es");
        return mismatches ? SEAM_EXIT_RUNTIME : SEAM_EXIT_OK;
}
