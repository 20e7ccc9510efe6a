/* cli_plugin_new.c - `seam plugin new NAME --schema FILE.avsc`: writes a
 * plugin folder that builds against the installed SDK and passes its
 * offline test unchanged (the files are rendered by scaffold_templates.c).
 *
 * A new folder is written under a temporary name beside it and renamed at
 * the end, so a failure never leaves half a plugin behind; --force writes
 * the generated files into an existing folder (each replaced by rename) and
 * leaves the team's other files alone. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avro_decode.h"
#include "cli.h"
#include "err.h"
#include "scaffold_templates.h"

/* The exit codes of this command (documented in --help). */
enum {
        NEW_EXIT_OK = 0,
        NEW_EXIT_WRITE = 1, /* cannot write, or the folder exists */
        NEW_EXIT_USAGE = 2,
        NEW_EXIT_SCHEMA = 3 /* the schema does not read, parse or fit */
};

static const char usage_text[] =
    "usage: seam plugin new NAME --schema FILE.avsc [--dir DIR] [--topic T]\n"
    "                       [--subject S] [--version N] [--force]\n"
    "\n"
    "Writes DIR/NAME/ (default ./NAME): NAME.c (the plugin, reading every field\n"
    "of the schema's record), CMakeLists.txt (find_package(Seam)), README.md,\n"
    "NAME.avsc (a copy of FILE.avsc: the plugin's reader schema), seam.yaml (a\n"
    "config to start from) and test/ (an offline test for `seam plugin test`).\n"
    "\n"
    "  NAME         the plugin name: [a-z][a-z0-9_]*, it prefixes the C identifiers\n"
    "  --schema     an Avro schema (.avsc) with a record at top level\n"
    "  --dir        the folder to create NAME/ in (default .)\n"
    "  --topic      the topic consumed (default: the subject without -value, or NAME)\n"
    "  --subject    the registry subject of the writers (default: TOPIC-value)\n"
    "  --version    the subject version FILE.avsc is (default 1)\n"
    "  --force      write into an existing DIR/NAME, replacing the generated files\n"
    "\n"
    "exit codes: 0 written, 1 cannot write (or DIR/NAME exists without --force),\n"
    "            2 usage, 3 the schema does not read or is not a record\n";

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int usage_error(const char *fmt, ...)
{
        va_list ap;
        fputs("seam plugin new: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\n\n", stderr);
        fputs(usage_text, stderr);
        return NEW_EXIT_USAGE;
}

/* Kafka's topic alphabet; subjects follow topics (<topic>-value). */
static int valid_topic(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 249 || !strcmp(s, ".") || !strcmp(s, ".."))
                return 0;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-'))
                        return 0;
        }
        return 1;
}

/* Reads the schema (bounded) and parses it with the host's own parser, so
 * a schema the scaffold accepts is one `seam run` accepts. Prints why not. */
static int load_schema(const char *path, char **text, size_t *len,
                       struct seam_avro_schema **schema)
{
        FILE *f = fopen(path, "rb");
        if (!f) {
                fprintf(stderr, "seam plugin new: --schema %s: %s\n", path, strerror(errno));
                return NEW_EXIT_SCHEMA;
        }
        char *buf = malloc(SEAM_AVRO_SCHEMA_MAX_LEN + 1);
        size_t n = buf ? fread(buf, 1, SEAM_AVRO_SCHEMA_MAX_LEN + 1, f) : 0;
        int bad = !buf || ferror(f);
        fclose(f);
        if (bad || n > SEAM_AVRO_SCHEMA_MAX_LEN) {
                fprintf(stderr, "seam plugin new: --schema %s: %s\n", path,
                        bad ? "cannot read it" : "larger than the 4 MiB a schema may have");
                free(buf);
                return NEW_EXIT_SCHEMA;
        }
        buf[n] = '\0';
        char err[1024] = "";
        if (seam_avro_schema_parse(buf, n, schema, err, sizeof(err)) != 0) {
                fprintf(stderr, "seam plugin new: --schema %s: not a valid Avro schema: %s\n", path,
                        err[0] ? err : "cannot parse");
                free(buf);
                return NEW_EXIT_SCHEMA;
        }
        *text = buf;
        *len = n;
        return 0;
}

static int mkdir_p(const char *path)
{
        char buf[PATH_MAX];
        if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                        return -1;
                *p = '/';
        }
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -1;
        struct stat st;
        if (stat(buf, &st) != 0)
                return -1;
        if (!S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                return -1;
        }
        return 0;
}

/* Writes `path` whole or not at all (a temporary file renamed over it). */
static int write_file(const char *path, const char *text, size_t len, int executable)
{
        char tmp[PATH_MAX];
        if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, executable ? 0777 : 0666);
        if (fd < 0)
                return -1;
        size_t off = 0;
        while (off < len) {
                ssize_t w = write(fd, text + off, len - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        int e = errno;
                        close(fd);
                        unlink(tmp);
                        errno = w < 0 ? e : EIO;
                        return -1;
                }
                off += (size_t)w;
        }
        if (close(fd) != 0 || rename(tmp, path) != 0) {
                int e = errno;
                unlink(tmp);
                errno = e;
                return -1;
        }
        return 0;
}

/* Renders and writes every file into `dir`; prints what failed. */
static int write_all(const struct seam_scaffold *s, const char *dir)
{
        for (size_t i = 0; i < seam_scaffold_file_count(); i++) {
                char rel[256], path[PATH_MAX];
                char *text = NULL;
                size_t len = 0;
                int executable = 0;
                int rc = seam_scaffold_render(s, i, rel, sizeof(rel), &executable, &text, &len);
                if (rc) {
                        fprintf(stderr, "seam plugin new: %s: %s\n", rel, seam_err_str(rc));
                        return -1;
                }
                if (snprintf(path, sizeof(path), "%s/%s", dir, rel) >= (int)sizeof(path)) {
                        fprintf(stderr, "seam plugin new: %s/%s: path too long\n", dir, rel);
                        free(text);
                        return -1;
                }
                char *slash = strrchr(path, '/');
                int err = 0;
                if (slash && slash > path + strlen(dir)) {
                        *slash = '\0';
                        err = mkdir_p(path);
                        *slash = '/';
                }
                if (err || write_file(path, text, len, executable) != 0) {
                        fprintf(stderr, "seam plugin new: cannot write %s: %s\n", path,
                                strerror(errno));
                        free(text);
                        return -1;
                }
                free(text);
        }
        return 0;
}

/* Removes what write_all may have created in a temporary folder. */
static void remove_partial(const struct seam_scaffold *s, const char *dir)
{
        char rel[256], path[PATH_MAX], tmp[PATH_MAX + 8];
        int executable;
        for (size_t i = 0; seam_scaffold_path(s, i, rel, sizeof(rel), &executable) == 0; i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, rel);
                unlink(path);
                snprintf(tmp, sizeof(tmp), "%s.tmp", path);
                unlink(tmp);
        }
        snprintf(path, sizeof(path), "%s/test", dir);
        rmdir(path);
        rmdir(dir);
}

/* Where the running seam's SDK is installed, for the "next steps" hint:
 * the prefix above bin/ when it holds lib/cmake/Seam. */
static int sdk_prefix(char *out, size_t outlen)
{
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
                return -1;
        exe[n] = '\0';
        for (int up = 0; up < 2; up++) {
                char *slash = strrchr(exe, '/');
                if (!slash || slash == exe)
                        return -1;
                *slash = '\0';
        }
        char probe[PATH_MAX + 64];
        snprintf(probe, sizeof(probe), "%s/lib/cmake/Seam/SeamConfig.cmake", exe);
        if (access(probe, R_OK) != 0)
                return -1;
        snprintf(out, outlen, "%s", exe);
        return 0;
}

int seam_cli_plugin_new(int argc, char **argv)
{
        static const struct option opts[] = {
                {"schema", required_argument, NULL, 's'},
                {"dir", required_argument, NULL, 'd'},
                {"topic", required_argument, NULL, 't'},
                {"subject", required_argument, NULL, 'S'},
                {"version", required_argument, NULL, 'V'},
                {"force", no_argument, NULL, 'f'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *schema_path = NULL, *dir = ".", *topic = NULL, *subject = NULL;
        const char *version_arg = NULL;
        int force = 0, c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 's': schema_path = optarg; break;
                case 'd': dir = optarg; break;
                case 't': topic = optarg; break;
                case 'S': subject = optarg; break;
                case 'V': version_arg = optarg; break;
                case 'f': force = 1; break;
                case 'h': fputs(usage_text, stdout); return NEW_EXIT_OK;
                default: fputs(usage_text, stderr); return NEW_EXIT_USAGE;
                }
        }
        if (optind >= argc)
                return usage_error("%s", "expected the plugin NAME");
        if (optind + 1 < argc)
                return usage_error("unexpected argument '%s'", argv[optind + 1]);
        const char *name = argv[optind];
        char err[1024];
        if (seam_scaffold_check_name(name, err, sizeof(err)) != 0)
                return usage_error("%s", err);
        if (!schema_path)
                return usage_error("%s", "--schema FILE.avsc is required");
        if (!*dir)
                return usage_error("%s", "--dir: expected a folder, got an empty string");

        int version = 1;
        if (version_arg) {
                char *end;
                errno = 0;
                long v = strtol(version_arg, &end, 10);
                if (errno || *end || end == version_arg || v < 1 || v > INT_MAX)
                        return usage_error("--version: expected an integer >= 1, got '%s'",
                                           version_arg);
                version = (int)v;
        }
        /* Topic and subject follow each other by Confluent's default naming
         * (TopicNameStrategy: subject = <topic>-value). */
        char topic_buf[256], subject_buf[300];
        if (!topic) {
                size_t sl = subject ? strlen(subject) : 0;
                if (sl > 6 && sl - 6 < sizeof(topic_buf) && !strcmp(subject + sl - 6, "-value"))
                        snprintf(topic_buf, sizeof(topic_buf), "%.*s", (int)(sl - 6), subject);
                else
                        snprintf(topic_buf, sizeof(topic_buf), "%s", name);
                topic = topic_buf;
        }
        if (!valid_topic(topic))
                return usage_error("--topic: '%s' is not a Kafka topic name ([A-Za-z0-9._-], "
                                   "1 to 249 characters)",
                                   topic);
        if (!subject) {
                snprintf(subject_buf, sizeof(subject_buf), "%s-value", topic);
                subject = subject_buf;
        }
        if (!valid_topic(subject))
                return usage_error("--subject: '%s' is not a subject name ([A-Za-z0-9._-])",
                                   subject);

        char *text = NULL;
        size_t len = 0;
        struct seam_avro_schema *schema = NULL;
        int code = load_schema(schema_path, &text, &len, &schema);
        if (code)
                return code;
        avro_schema_t record = seam_avro_schema_avro(schema);
        if (seam_scaffold_check_record(record, err, sizeof(err)) != 0) {
                fprintf(stderr, "seam plugin new: --schema %s: %s\n", schema_path, err);
                free(text);
                seam_avro_schema_destroy(schema);
                return NEW_EXIT_SCHEMA;
        }
        struct seam_scaffold s = {
                .name = name,
                .schema_text = text,
                .schema_len = len,
                .record = record,
                .subject = subject,
                .version = version,
                .topic = topic,
        };

        char target[PATH_MAX], tmpdir[PATH_MAX];
        code = NEW_EXIT_WRITE;
        int tl = snprintf(target, sizeof(target), "%s/%s", dir, name);
        int ml = snprintf(tmpdir, sizeof(tmpdir), "%s/.%s.new-XXXXXX", dir, name);
        if (tl >= (int)sizeof(target) || ml >= (int)sizeof(tmpdir)) {
                fprintf(stderr, "seam plugin new: %s/%s: path too long\n", dir, name);
                goto out;
        }
        if (mkdir_p(dir) != 0) {
                fprintf(stderr, "seam plugin new: cannot create %s: %s\n", dir, strerror(errno));
                goto out;
        }
        struct stat st;
        if (lstat(target, &st) == 0) {
                if (!force) {
                        fprintf(stderr,
                                "seam plugin new: %s already exists; pass --force to rewrite "
                                "the generated files in it (other files are kept)\n",
                                target);
                        goto out;
                }
                if (!S_ISDIR(st.st_mode)) {
                        fprintf(stderr, "seam plugin new: %s exists and is not a folder\n", target);
                        goto out;
                }
                if (write_all(&s, target) != 0)
                        goto out;
        } else {
                if (!mkdtemp(tmpdir)) {
                        fprintf(stderr, "seam plugin new: cannot create a folder in %s: %s\n", dir,
                                strerror(errno));
                        goto out;
                }
                /* mkdtemp makes it private; the plugin folder is an ordinary
                 * source folder. */
                mode_t mask = umask(0);
                umask(mask);
                if (chmod(tmpdir, 0777 & ~mask) != 0 || write_all(&s, tmpdir) != 0) {
                        remove_partial(&s, tmpdir);
                        goto out;
                }
                if (rename(tmpdir, target) != 0) {
                        fprintf(stderr, "seam plugin new: cannot create %s: %s\n", target,
                                strerror(errno));
                        remove_partial(&s, tmpdir);
                        goto out;
                }
        }

        printf("created %s/ (plugin %s, record %s, topic %s, subject %s version %d)\n", target,
               name, avro_schema_name(record), topic, subject, version);
        char rel[256];
        int x;
        for (size_t i = 0; seam_scaffold_path(&s, i, rel, sizeof(rel), &x) == 0; i++)
                printf("  %s\n", rel);
        char prefix[PATH_MAX];
        char hint[PATH_MAX + 32] = "";
        if (sdk_prefix(prefix, sizeof(prefix)) == 0)
                snprintf(hint, sizeof(hint), " -DCMAKE_PREFIX_PATH=%s", prefix);
        printf("next:\n"
               "  cd %s\n"
               "  cmake -S . -B build%s\n"
               "  cmake --build build && ctest --test-dir build --output-on-failure\n"
               "then put the side effect in %s_apply() in %s.c\n",
               target, hint, name, name);
        code = NEW_EXIT_OK;
out:
        free(text);
        seam_avro_schema_destroy(schema);
        return code;
}
