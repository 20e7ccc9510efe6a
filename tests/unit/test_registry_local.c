/* The local registry: the repo's schemas/ folder loads, lookups answer, and
 * every way a folder can be wrong is refused with the file named. */
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "registry.h"
#include "testutil.h"

static const char *V1 =
    "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}";
static const char *V2 = "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"a\","
                        "\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\",\"default\":"
                        "\"x\"}]}";

/* Declared here until cli.h lists it. */
int seam_cli_schema(int argc, char **argv);

static void rm_rf(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                char path[1024];
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                if (e->d_type == DT_DIR)
                        rm_rf(path);
                else
                        unlink(path);
        }
        if (d)
                closedir(d);
        rmdir(dir);
}

static void done(char *dir)
{
        rm_rf(dir);
        free(dir);
}

/* `seam schema ARGS...` in this process, stdout captured into out. */
static int run_cli(char *out, size_t outlen, ...)
{
        char *argv[32];
        int argc = 0;
        argv[argc++] = "schema";
        va_list ap;
        va_start(ap, outlen);
        char *a;
        while ((a = va_arg(ap, char *)) != NULL && argc < 31)
                argv[argc++] = a;
        va_end(ap);
        argv[argc] = NULL;
        fflush(stdout);
        int saved = dup(1);
        FILE *tmp = tmpfile();
        CHECK(saved >= 0 && tmp);
        dup2(fileno(tmp), 1);
        int rc = seam_cli_schema(argc, argv);
        fflush(stdout);
        dup2(saved, 1);
        close(saved);
        rewind(tmp);
        size_t n = fread(out, 1, outlen - 1, tmp);
        out[n] = '\0';
        fclose(tmp);
        fprintf(stderr, "   seam schema %s -> %d\n%s", argv[1], rc, out);
        return rc;
}

static int open_local(const char *dir, struct seam_registry **reg, char *err, size_t errlen)
{
        struct seam_registry_options o;
        seam_registry_options_init(&o);
        o.type = SEAM_REGISTRY_LOCAL;
        o.dir = dir;
        return seam_registry_new(&o, reg, err, errlen);
}

static void put(const char *dir, const char *rel, const char *content)
{
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        /* create the parent folder of rel, one level is all the tests need */
        char parent[1024];
        snprintf(parent, sizeof(parent), "%s", path);
        char *slash = strrchr(parent, '/');
        *slash = '\0';
        mkdir(parent, 0755);
        tu_write_file(path, content);
}

/* A valid two-version folder the error cases start from. */
static char *good_folder(void)
{
        char *dir = tu_mkdtemp("seam-reg-local");
        put(dir, "manifest.yaml",
            "schemas:\n"
            "  - {subject: t-value, version: 1, id: 10}\n"
            "  - subject: t-value\n"
            "    version: 2\n"
            "    id: 11\n");
        put(dir, "t-value/v1.avsc", V1);
        put(dir, "t-value/v2.avsc", V2);
        put(dir, "README.md", "docs are allowed\n");
        put(dir, ".gitkeep", "");
        return dir;
}

static void expect_error(const char *dir, const char *needle1, const char *needle2)
{
        struct seam_registry *reg = NULL;
        char err[1024] = "";
        int rc = open_local(dir, &reg, err, sizeof(err));
        CHECKF(rc == SEAM_ERR_CONFIG, "rc %d, err '%s'", rc, err);
        CHECK(reg == NULL);
        CHECK_CONTAINS(err, needle1);
        if (needle2)
                CHECK_CONTAINS(err, needle2);
        fprintf(stderr, "   refused: %s\n", err);
}

static void test_repo_schemas(void)
{
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s/schemas", tu_env("SEAM_SOURCE_DIR"));
        struct seam_registry *reg = NULL;
        char err[512] = "";
        int rc = open_local(dir, &reg, err, sizeof(err));
        CHECKF(rc == 0, "%s", err);
        CHECK_EQ_INT(seam_registry_type(reg), SEAM_REGISTRY_LOCAL);

        const struct seam_schema *s1 = NULL, *s2 = NULL, *latest = NULL, *byv = NULL;
        CHECK_EQ_INT(seam_registry_by_id(reg, 1, &s1, err, sizeof(err)), 0);
        CHECK_EQ_INT(s1->id, 1);
        CHECK_STR_EQ(s1->subject, "demo.orders-value");
        CHECK_EQ_INT(s1->version, 1);
        CHECK_EQ_INT(s1->ref_count, 1);
        CHECK(s1->refs_complete);
        CHECK(avro_typeof(s1->avro) == AVRO_RECORD);
        CHECK_EQ_INT(avro_schema_record_size(s1->avro), 5);
        CHECK_CONTAINS(s1->json, "amount_cents");

        CHECK_EQ_INT(seam_registry_by_id(reg, 2, &s2, err, sizeof(err)), 0);
        CHECK_EQ_INT(s2->version, 2);
        CHECK_EQ_INT(avro_schema_record_size(s2->avro), 6);
        CHECK(avro_schema_record_field_get(s2->avro, "channel") != NULL);

        CHECK_EQ_INT(seam_registry_by_subject(reg, "demo.orders-value", -1, &latest, err,
                                              sizeof(err)),
                     0);
        CHECK(latest == s2);
        CHECK_EQ_INT(seam_registry_by_subject(reg, "demo.orders-value", 1, &byv, err,
                                              sizeof(err)),
                     0);
        CHECK(byv == s1);

        CHECK_EQ_INT(seam_registry_schema_in_subject(reg, s1, "demo.orders-value", err,
                                                     sizeof(err)),
                     1);
        CHECK_EQ_INT(seam_registry_schema_in_subject(reg, s1, "other-value", err, sizeof(err)),
                     0);

        /* The same pointer every time: entries are cached, never copied. */
        const struct seam_schema *again = NULL;
        CHECK_EQ_INT(seam_registry_by_id(reg, 1, &again, err, sizeof(err)), 0);
        CHECK(again == s1);
        struct seam_registry_stats *st = seam_registry_stats(reg);
        CHECK(atomic_load(&st->cache_hits) >= 2);

        struct seam_registry_health h;
        seam_registry_health(reg, &h);
        CHECK_EQ_INT(h.reachable, 1);
        CHECK_EQ_INT(h.consecutive_failures, 0);
        seam_registry_destroy(reg);
}

static void test_lookups_and_misses(void)
{
        char *dir = good_folder();
        struct seam_registry *reg = NULL;
        char err[512] = "";
        CHECKF(open_local(dir, &reg, err, sizeof(err)) == 0, "%s", err);
        const struct seam_schema *s = NULL;
        CHECK_EQ_INT(seam_registry_by_id(reg, 10, &s, err, sizeof(err)), 0);
        CHECK_EQ_INT(s->version, 1);
        CHECK_EQ_INT(seam_registry_by_id(reg, 11, &s, err, sizeof(err)), 0);
        CHECK_EQ_INT(s->version, 2);

        err[0] = '\0';
        CHECK_EQ_INT(seam_registry_by_id(reg, 12, &s, err, sizeof(err)), SEAM_ERR_NOTFOUND);
        CHECK_CONTAINS(err, "12");
        CHECK_CONTAINS(err, "manifest.yaml");
        CHECK_EQ_INT(seam_registry_by_subject(reg, "t-value", 3, &s, err, sizeof(err)),
                     SEAM_ERR_NOTFOUND);
        CHECK_EQ_INT(seam_registry_by_subject(reg, "nope", -1, &s, err, sizeof(err)),
                     SEAM_ERR_NOTFOUND);
        CHECK_EQ_INT(seam_registry_by_subject(reg, "t-value", 0, &s, err, sizeof(err)),
                     SEAM_ERR_INVALID);

        uint32_t id = 0;
        CHECK_EQ_INT(seam_registry_register(reg, "t-value", V1, &id, err, sizeof(err)),
                     SEAM_ERR_INVALID);
        CHECK_CONTAINS(err, "http");

        size_t n = 0;
        const struct seam_schema *const *all = seam_registry_local_schemas(reg, &n);
        CHECK_EQ_INT(n, 2);
        CHECK_EQ_INT(all[0]->version, 1);
        CHECK_EQ_INT(all[1]->version, 2);
        seam_registry_destroy(reg);
        done(dir);
}

struct worker_arg {
        struct seam_registry *reg;
        int failures;
};

static void *worker(void *p)
{
        struct worker_arg *a = p;
        char err[256];
        for (int i = 0; i < 2000; i++) {
                const struct seam_schema *s = NULL;
                uint32_t id = 10 + (uint32_t)(i % 3); /* 12 is a miss */
                int rc = seam_registry_by_id(a->reg, id, &s, err, sizeof(err));
                if (id == 12 ? rc != SEAM_ERR_NOTFOUND : (rc != 0 || s->id != id))
                        a->failures++;
        }
        return NULL;
}

static void test_concurrent_lookups(void)
{
        char *dir = good_folder();
        struct seam_registry *reg = NULL;
        char err[512] = "";
        CHECKF(open_local(dir, &reg, err, sizeof(err)) == 0, "%s", err);
        pthread_t t[4];
        struct worker_arg args[4];
        for (int i = 0; i < 4; i++) {
                args[i] = (struct worker_arg){.reg = reg};
                CHECK(pthread_create(&t[i], NULL, worker, &args[i]) == 0);
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                CHECK_EQ_INT(args[i].failures, 0);
        }
        seam_registry_destroy(reg);
        done(dir);
}

static void test_folder_errors(void)
{
        char *dir;

        dir = tu_mkdtemp("seam-reg-local");
        expect_error(dir, "manifest.yaml", "cannot open");
        done(dir);

        dir = good_folder();
        put(dir, "manifest.yaml", "schemas:\n  - {subject: t-value, version: 1, id: 10\n");
        expect_error(dir, "manifest.yaml:", NULL);
        done(dir);

        dir = good_folder();
        put(dir, "manifest.yaml", "schemas:\n  - {subject: t-value, version: 1, id: 10}\n"
                                  "  - {subject: t-value, version: 2, id: 10}\n");
        expect_error(dir, "manifest.yaml:3:", "id 10 is already used on line 2");
        done(dir);

        dir = good_folder();
        put(dir, "manifest.yaml", "schemas:\n  - {subject: t-value, version: 1, id: 10}\n"
                                  "  - {subject: t-value, version: 1, id: 11}\n");
        expect_error(dir, "manifest.yaml:3:", "t-value v1 is already listed");
        done(dir);

        dir = good_folder();
        put(dir, "manifest.yaml", "schemas:\n  - {subject: t-value, version: 1, id: 10}\n"
                                  "  - {subject: t-value, version: 3, id: 11}\n");
        expect_error(dir, "manifest.yaml", "v2 is missing");
        done(dir);

        dir = good_folder();
        put(dir, "manifest.yaml", "schemas:\n  - {subject: t-value, version: 1, id: 10, x: 1}\n");
        expect_error(dir, "manifest.yaml:2:", "unknown key");
        done(dir);

        dir = good_folder();
        put(dir, "manifest.yaml", "schemas:\n  - {subject: t-value, version: 1, id: -3}\n");
        expect_error(dir, "manifest.yaml:2:", "schemas[].id");
        done(dir);

        dir = good_folder();
        put(dir, "manifest.yaml", "schemas:\n  - {subject: ../etc, version: 1, id: 3}\n");
        expect_error(dir, "manifest.yaml:2:", "not a usable subject");
        done(dir);

        dir = good_folder();
        put(dir, "manifest.yaml", "schemas:\n  - {subject: t-value, version: 1}\n");
        expect_error(dir, "manifest.yaml:2:", "missing id");
        done(dir);

        dir = good_folder();
        put(dir, "manifest.yaml", "subjects: []\n");
        expect_error(dir, "manifest.yaml:1:", "unknown key");
        done(dir);

        /* A schema file nobody registered. */
        dir = good_folder();
        put(dir, "t-value/v3.avsc", V1);
        expect_error(dir, "t-value/v3.avsc", "no entry in");
        done(dir);

        /* A manifest entry without its file. */
        dir = good_folder();
        put(dir, "manifest.yaml", "schemas:\n  - {subject: t-value, version: 1, id: 10}\n"
                                  "  - {subject: t-value, version: 2, id: 11}\n"
                                  "  - {subject: t-value, version: 3, id: 12}\n");
        expect_error(dir, "manifest.yaml:4:", "t-value/v3.avsc does not exist");
        done(dir);

        /* A file that is not Avro. */
        dir = good_folder();
        put(dir, "t-value/v2.avsc", "{\"type\": \"record\", \"name\": \"T\"}");
        expect_error(dir, "t-value/v2.avsc", "not a valid Avro schema");
        done(dir);

        dir = good_folder();
        put(dir, "t-value/v2.avsc", "{\"type\": ");
        expect_error(dir, "t-value/v2.avsc", "not a valid Avro schema");
        done(dir);

        /* Strays. */
        dir = good_folder();
        put(dir, "notes.txt", "x");
        expect_error(dir, "notes.txt", "unexpected file");
        done(dir);

        dir = good_folder();
        put(dir, "t-value/v1.avsc.bak", V1);
        expect_error(dir, "t-value/v1.avsc.bak", "unexpected file");
        done(dir);

        dir = good_folder();
        put(dir, "t-value/v01.avsc", V1);
        expect_error(dir, "t-value/v01.avsc", "unexpected file");
        done(dir);

        dir = good_folder();
        put(dir, "u-value/v1.avsc", V1);
        expect_error(dir, "u-value/", "without any entry");
        done(dir);
}

static void test_manifest_parse(void)
{
        struct seam_manifest *m = NULL;
        char err[512] = "";
        const char *y = "schemas:\n  - {subject: a, version: 1, id: 7}\n"
                        "  - subject: b\n    version: 1\n    id: 8\n";
        CHECKF(seam_manifest_parse(y, strlen(y), "m.yaml", &m, err, sizeof(err)) == 0, "%s",
               err);
        CHECK_EQ_INT(m->count, 2);
        CHECK_STR_EQ(m->entries[1].subject, "b");
        CHECK_EQ_INT(m->entries[1].id, 8);
        CHECK_EQ_INT(m->entries[1].line, 3);
        seam_manifest_destroy(m);

        const char *empty = "schemas: []\n";
        CHECK_EQ_INT(seam_manifest_parse(empty, strlen(empty), "m.yaml", &m, err, sizeof(err)),
                     0);
        CHECK_EQ_INT(m->count, 0);
        seam_manifest_destroy(m);

        const char *bad[] = {"", "- 1\n", "schemas: 3\n", "schemas: [1]\n",
                             "schemas:\n  - {subject: a, version: 1.5, id: 1}\n",
                             "schemas:\n  - {subject: a, version: 1, id: 99999999999}\n",
                             "schemas:\n  - {subject: [x], version: 1, id: 1}\n",
                             "schemas: []\nschemas: []\n", "schemas: &a [*a]\n"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                m = NULL;
                err[0] = '\0';
                int rc = seam_manifest_parse(bad[i], strlen(bad[i]), "m.yaml", &m, err,
                                             sizeof(err));
                CHECKF(rc == SEAM_ERR_CONFIG && m == NULL, "input %zu accepted", i);
                CHECK_CONTAINS(err, "m.yaml");
        }
}

static void test_cli_check(void)
{
        char dir[1024], v1[1100], v2[1100], out[8192];
        snprintf(dir, sizeof(dir), "%s/schemas", tu_env("SEAM_SOURCE_DIR"));
        snprintf(v1, sizeof(v1), "%s/demo.orders-value/v1.avsc", dir);
        snprintf(v2, sizeof(v2), "%s/demo.orders-value/v2.avsc", dir);

        /* The demo evolution works both ways. */
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", v2, "--writer", v1,
                             "--writer", v2, NULL),
                     0);
        CHECK_CONTAINS(out, "v1.avsc: compatible");
        CHECK_CONTAINS(out, "0 incompatible");
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", v1, "--writer", v2, NULL),
                     0);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", v2, "--registry", dir,
                             "--subject", "demo.orders-value", "--all-versions", NULL),
                     0);
        CHECK_CONTAINS(out, "demo.orders-value v1 (id 1): compatible");
        CHECK_CONTAINS(out, "demo.orders-value v2 (id 2): compatible");

        /* A narrowed type and a new field without default are not. */
        char *tmp = tu_mkdtemp("seam-cli-schema");
        char narrow[1100], nodef[1100], junk[1100];
        snprintf(narrow, sizeof(narrow), "%s/narrow.avsc", tmp);
        snprintf(nodef, sizeof(nodef), "%s/nodef.avsc", tmp);
        snprintf(junk, sizeof(junk), "%s/junk.avsc", tmp);
        tu_write_file(narrow, "{\"type\":\"record\",\"name\":\"OrderEvent\",\"namespace\":"
                              "\"seam.demo\",\"fields\":[{\"name\":\"amount_cents\","
                              "\"type\":\"int\"}]}");
        tu_write_file(nodef, "{\"type\":\"record\",\"name\":\"OrderEvent\",\"namespace\":"
                             "\"seam.demo\",\"fields\":[{\"name\":\"region\","
                             "\"type\":\"string\"}]}");
        tu_write_file(junk, "{\"type\": \"recor");
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", narrow, "--writer", v1,
                             "--writer", v2, NULL),
                     1);
        CHECK_CONTAINS(out, "v1.avsc: INCOMPATIBLE: ");
        CHECK_CONTAINS(out, "amount_cents");
        CHECK_CONTAINS(out, "2 incompatible");
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", nodef, "--registry", dir,
                             "--subject", "demo.orders-value", NULL),
                     1);
        CHECK_CONTAINS(out, "demo.orders-value v2 (id 2): INCOMPATIBLE");
        CHECK_CONTAINS(out, "region");

        /* Bad input, bad usage. */
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", junk, "--writer", v1, NULL),
                     3);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", v2, "--writer", junk, NULL),
                     3);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", v2, "--writer",
                             "/nonexistent.avsc", NULL),
                     3);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", v2, "--registry", tmp,
                             "--subject", "x", NULL),
                     3); /* not a schemas folder */
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", v2, "--registry", dir,
                             "--subject", "nope-value", NULL),
                     3);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", v2, NULL), 2);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--writer", v2, NULL), 2);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", v2, "--writer", v1,
                             "--registry", dir, "--subject", "s", NULL),
                     2);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", v2, "--registry", dir, NULL),
                     2);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "frobnicate", NULL), 2);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "register", "--registry", dir, NULL), 2);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", v2, "--writer", v1, "--id",
                             "3", NULL),
                     2);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "--help", NULL), 0);
        CHECK_CONTAINS(out, "exit codes");

        /* get from the folder */
        CHECK_EQ_INT(run_cli(out, sizeof(out), "get", "--registry", dir, "--id", "2", NULL), 0);
        CHECK_CONTAINS(out, "id 2\nregistered as demo.orders-value v2\n");
        CHECK_CONTAINS(out, "\"channel\"");
        CHECK_EQ_INT(run_cli(out, sizeof(out), "get", "--registry", dir, "--subject",
                             "demo.orders-value", "--version", "1", NULL),
                     0);
        CHECK_CONTAINS(out, "id 1\n");
        CHECK_EQ_INT(run_cli(out, sizeof(out), "get", "--registry", dir, "--id", "77", NULL), 3);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "get", "--registry", dir, "--id", "x", NULL), 2);
        done(tmp);
}

int main(void)
{
        TEST_RUN(test_repo_schemas);
        TEST_RUN(test_lookups_and_misses);
        TEST_RUN(test_concurrent_lookups);
        TEST_RUN(test_folder_errors);
        TEST_RUN(test_manifest_parse);
        TEST_RUN(test_cli_check);
        return 0;
}
