#include "pgbed.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "testutil.h"

static char script[1024];
static char *dir;
static char *dsn;
static int running;
static int passed;

int pg_bed_run(const char *verb)
{
        char cmd[3000];
        snprintf(cmd, sizeof(cmd), "bash '%s' %s '%s' >>'%s/bed.log' 2>&1", script, verb, dir,
                 dir);
        int rc = system(cmd);
        if (rc != 0) {
                char path[1200];
                snprintf(path, sizeof(path), "%s/bed.log", dir);
                char *log = tu_read_file(path, NULL);
                fprintf(stderr, "postgres.sh %s failed (status %d):\n%s\n", verb, rc,
                        log ? log : "(no log)");
                free(log);
        }
        if (!strcmp(verb, "stop"))
                running = 0;
        else if (!rc)
                running = 1;
        return rc;
}

const char *pg_bed_dir(void)
{
        return dir;
}

void pg_bed_passed(void)
{
        passed = 1;
}

static void cleanup(void)
{
        if (running)
                pg_bed_run("stop");
        if (!dir)
                return;
        if (passed && !getenv("SEAM_E2E_KEEP")) {
                char cmd[1200];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
                if (system(cmd) != 0)
                        fprintf(stderr, "could not remove %s\n", dir);
        } else {
                fprintf(stderr, "PostgreSQL files kept in %s (server log: postgres.log)\n", dir);
        }
        free(dir);
        free(dsn);
        dir = dsn = NULL;
}

/* ctest's timeout sends SIGTERM: still stop the server (fork/exec only,
 * both async-signal-safe). */
static void on_signal(int sig)
{
        if (running) {
                pid_t pid = fork();
                if (pid == 0) {
                        char *argv[] = {"bash", script, "stop", dir, NULL};
                        execvp("bash", argv);
                        _exit(127);
                }
                if (pid > 0)
                        waitpid(pid, NULL, 0);
        }
        _exit(128 + sig);
}

const char *pg_bed_start(const char *name)
{
        snprintf(script, sizeof(script), "%s/tests/e2e/lib/postgres.sh",
                 tu_env("SEAM_SOURCE_DIR"));
        dir = tu_mkdtemp(name);
        atexit(cleanup);
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        int64_t t0 = seam_mono_ms();
        /* Counted as running before the script returns: a half-started
         * server is stopped at exit too. */
        running = 1;
        CHECKF(pg_bed_run("start") == 0, "could not start PostgreSQL (see above); files in %s",
               dir);
        char path[1200];
        snprintf(path, sizeof(path), "%s/dsn", dir);
        dsn = tu_read_file(path, NULL);
        CHECK(dsn != NULL);
        dsn[strcspn(dsn, "\n")] = '\0';
        fprintf(stderr, "PostgreSQL up in %lld ms: %s\n", (long long)(seam_mono_ms() - t0), dsn);
        return dsn;
}
