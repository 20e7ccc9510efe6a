/* cli_schema.c - `seam schema`: contract checks and registration.
 *
 *   seam schema check --reader FILE.avsc
 *       (--writer FILE.avsc ... | --registry URL|DIR --subject S [--all-versions])
 *   seam schema register --registry URL [--dir schemas/]
 *   seam schema get --registry URL|DIR (--id N | --subject S [--version V])
 *
 * `check` answers, for each writer schema, whether a consumer reading with
 * the reader schema can decode everything the writer may produce, using the
 * same resolution plan as the decoder (so the gate in CI and the behaviour
 * at run time cannot disagree), and says why not. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_decode.h"
#include "cli.h"
#include "cli_common.h"
#include "err.h"
#include "log.h"
#include "registry.h"

/* The exit codes of this command (documented in --help): a CI pipeline
 * tells "incompatible" from "could not check". */
enum {
        SCHEMA_EXIT_OK = 0,
        SCHEMA_EXIT_INCOMPATIBLE = 1, /* or: the registry refused a schema */
        SCHEMA_EXIT_USAGE = 2,
        SCHEMA_EXIT_BAD_INPUT = 3,   /* a file or folder that is not valid */
        SCHEMA_EXIT_UNREACHABLE = 5  /* the registry could not be asked */
};

#define MAX_SCHEMA_FILE (4u << 20)

static const char usage_text[] =
    "usage:\n"
    "  seam schema check --reader FILE.avsc --writer FILE.avsc [--writer FILE.avsc ...]\n"
    "  seam schema check --reader FILE.avsc --registry URL|DIR --subject S [--all-versions]\n"
    "  seam schema register --registry URL [--dir schemas/]\n"
    "  seam schema get --registry URL|DIR (--id N | --subject S [--version V])\n"
    "      [--cache-dir DIR]\n"
    "\n"
    "check     For each writer schema, can a consumer reading with --reader decode\n"
    "          every message written with it (Avro schema resolution, the same plan\n"
    "          the decoder uses)? Prints why not. Writers are files, or a subject's\n"
    "          latest version (all versions with --all-versions) from an HTTP\n"
    "          registry (Confluent-compatible API base URL) or a local schemas/ folder.\n"
    "register  Registers every version in a local schemas/ folder (default ./schemas)\n"
    "          with an HTTP registry, in version order. Idempotent: a schema already\n"
    "          registered gets its existing id back.\n"
    "get       Prints what the registry holds under a schema id (the subjects and\n"
    "          versions it is registered as, and its text) or a subject's version,\n"
    "          the way seam itself looks it up; --cache-dir uses (and fills) the\n"
    "          last-known-good disk cache as `seam run` does.\n"
    "\n"
    "registry options: --username U --password P (or $SEAM_REGISTRY_PASSWORD)\n"
    "                  --ca-file PEM --insecure --timeout-ms N (default 5000)\n"
    "\n"
    "exit codes: 0 compatible / registered / found, 1 incompatible / refused by the\n"
    "            registry, 2 usage, 3 bad input file or folder / not found,\n"
    "            5 registry unreachable\n";

struct opts {
        const char *reader;
        const char **writers;
        size_t writer_count;
        const char *registry;
        const char *subject;
        int all_versions;
        const char *dir;
        const char *username;
        const char *password;
        const char *ca_file;
        int insecure;
        long timeout_ms;
        long id;      /* get: -1 if not given */
        long version; /* get: -1 = latest */
        const char *cache_dir;
};

static int usage_error(const char *msg)
{
        if (msg)
                fprintf(stderr, "seam schema: %s\n\n", msg);
        fputs(usage_text, stderr);
        return SCHEMA_EXIT_USAGE;
}

static int is_url(const char *s)
{
        return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

/* A schema file: read (bounded) and parsed. Prints the error itself. */
static int load_file(const char *path, struct seam_avro_schema **out)
{
        FILE *f = fopen(path, "rb");
        if (!f) {
                perror(path);
                return SCHEMA_EXIT_BAD_INPUT;
        }
        char *buf = malloc(MAX_SCHEMA_FILE + 1);
        size_t n = buf ? fread(buf, 1, MAX_SCHEMA_FILE + 1, f) : 0;
        int bad = !buf || ferror(f);
        fclose(f);
        if (bad || n > MAX_SCHEMA_FILE) {
                fprintf(stderr, "%s: %s\n", path,
                        bad ? "cannot read" : "larger than the 4 MiB a schema may have");
                free(buf);
                return SCHEMA_EXIT_BAD_INPUT;
        }
        char err[1024] = "";
        int rc = seam_avro_schema_parse(buf, n, out, err, sizeof(err));
        free(buf);
        if (rc) {
                fprintf(stderr, "%s: not a valid Avro schema: %s\n", path, err);
                return SCHEMA_EXIT_BAD_INPUT;
        }
        return 0;
}

/* One writer against the reader: prints the verdict, returns 1 when
 * incompatible. */
static int check_pair(const struct seam_avro_schema *writer,
                      const struct seam_avro_schema *reader, const char *label)
{
        struct seam_avro_plan *plan = NULL;
        char why[1024] = "";
        int rc = seam_avro_plan_new(writer, reader, &plan, why, sizeof(why));
        seam_avro_plan_destroy(plan);
        if (rc == 0) {
                printf("%s: compatible\n", label);
                return 0;
        }
        printf("%s: INCOMPATIBLE: %s\n", label, why[0] ? why : seam_err_str(rc));
        return 1;
}

static int open_registry(const struct opts *o, const char *where,
                         struct seam_registry **reg)
{
        struct seam_registry_options ro;
        seam_registry_options_init(&ro);
        if (is_url(where)) {
                ro.type = SEAM_REGISTRY_HTTP;
                ro.url = where;
                ro.username = o->username;
                ro.password = o->password;
                ro.ca_file = o->ca_file;
                ro.insecure_skip_verify = o->insecure;
                ro.timeout_ms = o->timeout_ms;
                ro.connect_timeout_ms = o->timeout_ms < 2000 ? o->timeout_ms : 2000;
                ro.negative_ttl_ms = 0;
                ro.cache_dir = o->cache_dir;
        } else {
                ro.type = SEAM_REGISTRY_LOCAL;
                ro.dir = where;
        }
        char err[2048] = "";
        int rc = seam_registry_new(&ro, reg, err, sizeof(err));
        if (rc) {
                fprintf(stderr, "seam schema: %s\n", err);
                return rc == SEAM_ERR_CONFIG && ro.type == SEAM_REGISTRY_LOCAL
                           ? SCHEMA_EXIT_BAD_INPUT
                           : SCHEMA_EXIT_USAGE;
        }
        return 0;
}

/* What a registry failure means for the exit code. */
static int registry_exit(int rc)
{
        return rc == SEAM_ERR_TRANSIENT ? SCHEMA_EXIT_UNREACHABLE : SCHEMA_EXIT_BAD_INPUT;
}

static int check_registry(const struct opts *o, const struct seam_avro_schema *reader)
{
        struct seam_registry *reg = NULL;
        int code = open_registry(o, o->registry, &reg);
        if (code)
                return code;
        char err[2048] = "";
        int *versions = NULL;
        size_t count = 0;
        int latest_only[1] = {-1};
        int rc = 0;
        if (o->all_versions) {
                rc = seam_registry_subject_versions(reg, o->subject, &versions, &count, err,
                                                    sizeof(err));
        } else {
                count = 1;
        }
        if (rc) {
                fprintf(stderr, "seam schema: subject %s: %s\n", o->subject, err);
                seam_registry_destroy(reg);
                return registry_exit(rc);
        }
        const int *list = versions ? versions : latest_only;
        int incompatible = 0;
        code = SCHEMA_EXIT_OK;
        for (size_t i = 0; i < count; i++) {
                const struct seam_schema *s = NULL;
                rc = seam_registry_by_subject(reg, o->subject, list[i], &s, err, sizeof(err));
                if (rc) {
                        fprintf(stderr, "seam schema: subject %s %s: %s\n", o->subject,
                                list[i] < 0 ? "latest" : "version", err);
                        code = registry_exit(rc);
                        break;
                }
                char label[512];
                snprintf(label, sizeof(label), "%s v%d (id %u)", o->subject, s->version, s->id);
                incompatible += check_pair(s->parsed, reader, label);
        }
        free(versions);
        seam_registry_destroy(reg);
        if (code)
                return code;
        printf("%zu writer version(s) of %s checked against %s: %d incompatible\n", count,
               o->subject, o->reader, incompatible);
        return incompatible ? SCHEMA_EXIT_INCOMPATIBLE : SCHEMA_EXIT_OK;
}

static int run_check(struct opts *o)
{
        if (!o->reader)
                return usage_error("check needs --reader FILE.avsc");
        if (!o->writer_count == !o->registry)
                return usage_error("check needs either --writer FILE ... or --registry with "
                                   "--subject");
        if (o->registry && !o->subject)
                return usage_error("--registry needs --subject");
        if (!o->registry && (o->subject || o->all_versions))
                return usage_error("--subject and --all-versions go with --registry");
        struct seam_avro_schema *reader = NULL;
        int code = load_file(o->reader, &reader);
        if (code)
                return code;
        if (o->registry) {
                code = check_registry(o, reader);
                seam_avro_schema_destroy(reader);
                return code;
        }
        int incompatible = 0, bad = 0;
        for (size_t i = 0; i < o->writer_count; i++) {
                struct seam_avro_schema *w = NULL;
                if (load_file(o->writers[i], &w)) {
                        bad++;
                        continue;
                }
                incompatible += check_pair(w, reader, o->writers[i]);
                seam_avro_schema_destroy(w);
        }
        seam_avro_schema_destroy(reader);
        printf("%zu writer(s) checked against %s: %d incompatible%s\n", o->writer_count,
               o->reader, incompatible, bad ? ", some could not be read" : "");
        if (bad)
                return SCHEMA_EXIT_BAD_INPUT;
        return incompatible ? SCHEMA_EXIT_INCOMPATIBLE : SCHEMA_EXIT_OK;
}

static int run_register(struct opts *o)
{
        if (!o->registry || !is_url(o->registry))
                return usage_error("register needs --registry http(s)://...");
        if (o->reader || o->writer_count || o->subject || o->all_versions)
                return usage_error("register takes --registry, --dir and the registry options");
        const char *dir = o->dir ? o->dir : "schemas";
        struct seam_registry *local = NULL, *remote = NULL;
        int code = open_registry(o, dir, &local);
        if (code)
                return code;
        if ((code = open_registry(o, o->registry, &remote)) != 0) {
                seam_registry_destroy(local);
                return code;
        }
        size_t n = 0;
        const struct seam_schema *const *all = seam_registry_local_schemas(local, &n);
        int refused = 0;
        const char *refused_subject = NULL;
        char err[2048];
        for (size_t i = 0; i < n; i++) {
                const struct seam_schema *s = all[i];
                /* Versions build on each other: after a refusal, the later
                 * versions of that subject would be numbered wrong. */
                if (refused_subject && !strcmp(refused_subject, s->subject)) {
                        printf("%s v%d: skipped (an earlier version was refused)\n", s->subject,
                               s->version);
                        continue;
                }
                uint32_t id = 0;
                err[0] = '\0';
                int rc = seam_registry_register(remote, s->subject, s->json, &id, err,
                                                sizeof(err));
                if (rc == SEAM_ERR_INVALID) {
                        printf("%s v%d: REFUSED by the registry: %s\n", s->subject, s->version,
                               err);
                        refused++;
                        refused_subject = s->subject;
                        continue;
                }
                if (rc) {
                        fprintf(stderr, "seam schema: %s v%d: %s\n", s->subject, s->version,
                                err);
                        code = registry_exit(rc);
                        break;
                }
                /* The registry numbers versions itself; say so when its
                 * numbering differs from the folder's (it had other
                 * versions first). */
                const struct seam_schema *remote_s = NULL;
                rc = seam_registry_by_subject(remote, s->subject, s->version, &remote_s, err,
                                              sizeof(err));
                if (rc == 0 && remote_s->id == id)
                        printf("%s v%d: id %u\n", s->subject, s->version, id);
                else
                        printf("%s v%d: id %u (warning: the registry's version %d of %s is %s)\n",
                               s->subject, s->version, id, s->version, s->subject,
                               rc == 0 ? "another schema" : "missing");
        }
        seam_registry_destroy(remote);
        seam_registry_destroy(local);
        if (code)
                return code;
        printf("%zu schema(s) from %s: %zu registered, %d refused\n", n, dir,
               n - (size_t)refused, refused);
        return refused ? SCHEMA_EXIT_INCOMPATIBLE : SCHEMA_EXIT_OK;
}

static int run_get(struct opts *o)
{
        if (!o->registry)
                return usage_error("get needs --registry URL|DIR");
        if ((o->id >= 0) == (o->subject != NULL))
                return usage_error("get needs either --id N or --subject S");
        if (o->id >= 0 && o->version != -1)
                return usage_error("--version goes with --subject");
        if (o->reader || o->writer_count || o->all_versions || o->dir)
                return usage_error("get takes --registry, --id or --subject/--version, "
                                   "--cache-dir and the registry options");
        struct seam_registry *reg = NULL;
        int code = open_registry(o, o->registry, &reg);
        if (code)
                return code;
        const struct seam_schema *s = NULL;
        char err[2048] = "";
        int rc = o->id >= 0 ? seam_registry_by_id(reg, (uint32_t)o->id, &s, err, sizeof(err))
                            : seam_registry_by_subject(reg, o->subject, (int)o->version, &s,
                                                       err, sizeof(err));
        if (rc) {
                fprintf(stderr, "seam schema: %s\n", err);
                seam_registry_destroy(reg);
                return registry_exit(rc);
        }
        printf("id %u\n", s->id);
        for (size_t i = 0; i < s->ref_count; i++)
                printf("registered as %s v%d\n", s->refs[i].subject, s->refs[i].version);
        if (!s->refs_complete)
                printf("(the registry did not list every subject of this id)\n");
        printf("%s\n", s->json);
        seam_registry_destroy(reg);
        return SCHEMA_EXIT_OK;
}

int seam_cli_schema(int argc, char **argv)
{
        /* argv[0] is "schema", argv[1] the action. */
        if (argc < 2)
                return usage_error(NULL);
        const char *action = argv[1];
        if (!strcmp(action, "-h") || !strcmp(action, "--help") || !strcmp(action, "help")) {
                fputs(usage_text, stdout);
                return SCHEMA_EXIT_OK;
        }
        int is_check = !strcmp(action, "check"), is_get = !strcmp(action, "get");
        if (!is_check && !is_get && strcmp(action, "register"))
                return usage_error("the action is check, register or get");

        static const struct option longopts[] = {
                {"reader", required_argument, NULL, 'r'},
                {"writer", required_argument, NULL, 'w'},
                {"registry", required_argument, NULL, 'R'},
                {"subject", required_argument, NULL, 's'},
                {"all-versions", no_argument, NULL, 'a'},
                {"dir", required_argument, NULL, 'd'},
                {"username", required_argument, NULL, 'u'},
                {"password", required_argument, NULL, 'p'},
                {"ca-file", required_argument, NULL, 'C'},
                {"insecure", no_argument, NULL, 'k'},
                {"timeout-ms", required_argument, NULL, 't'},
                {"id", required_argument, NULL, 'i'},
                {"version", required_argument, NULL, 'v'},
                {"cache-dir", required_argument, NULL, 'c'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        struct opts o = {.timeout_ms = 5000, .id = -1, .version = -1};
        o.writers = calloc((size_t)argc, sizeof(*o.writers));
        if (!o.writers)
                return SEAM_EXIT_RUNTIME;
        int code = -1, c;
        optind = 1;
        opterr = 1;
        while (code < 0 && (c = getopt_long(argc - 1, argv + 1, "", longopts, NULL)) != -1) {
                switch (c) {
                case 'r': o.reader = optarg; break;
                case 'w': o.writers[o.writer_count++] = optarg; break;
                case 'R': o.registry = optarg; break;
                case 's': o.subject = optarg; break;
                case 'a': o.all_versions = 1; break;
                case 'd': o.dir = optarg; break;
                case 'u': o.username = optarg; break;
                case 'p': o.password = optarg; break;
                case 'C': o.ca_file = optarg; break;
                case 'k': o.insecure = 1; break;
                case 't':
                        if (seam_cli_parse_long(optarg, 1, 600000, &o.timeout_ms))
                                code = usage_error("--timeout-ms takes 1..600000");
                        break;
                case 'i':
                        if (seam_cli_parse_long(optarg, 0, UINT32_MAX, &o.id))
                                code = usage_error("--id takes a schema id 0..4294967295");
                        break;
                case 'v':
                        if (!strcmp(optarg, "latest"))
                                o.version = -1;
                        else if (seam_cli_parse_long(optarg, 1, INT32_MAX, &o.version))
                                code = usage_error("--version takes a number >= 1 or latest");
                        break;
                case 'c': o.cache_dir = optarg; break;
                case 'h':
                        fputs(usage_text, stdout);
                        code = SCHEMA_EXIT_OK;
                        break;
                default: code = usage_error(NULL); break;
                }
        }
        if (code < 0 && optind != argc - 1)
                code = usage_error("unexpected argument");
        if (code < 0 && !is_get && (o.id >= 0 || o.version != -1 || o.cache_dir))
                code = usage_error("--id, --version and --cache-dir go with get");
        if (code < 0 && !o.password && o.username)
                o.password = getenv("SEAM_REGISTRY_PASSWORD");
        if (code < 0) {
                /* The command prints its own errors; the registry's
                 * warnings (retries, cache) would only repeat them. */
                seam_log_setup(SEAM_LOG_LOGFMT, SEAM_LOG_ERROR);
                code = is_check ? run_check(&o) : is_get ? run_get(&o) : run_register(&o);
        }
        free(o.writers);
        return code;
}
