/* testutil.h - helpers shared by the C tests: temp dirs, files, child
 * processes, and waiting for a condition with a deadline (never a bare
 * sleep). */
#ifndef SEAM_TESTUTIL_H
#define SEAM_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A fresh directory under $TMPDIR (or /tmp); malloc'ed path. */
char *tu_mkdtemp(const char *prefix);
/* Write a whole file; exits the test on failure. */
void tu_write_file(const char *path, const char *content);
/* Read a whole file; malloc'ed, NUL-terminated; NULL if missing. */
char *tu_read_file(const char *path, size_t *len);
/* Environment variable or exit with a message naming it. */
const char *tu_env(const char *name);

/* Start argv[0] with argv, stdout+stderr appended to `log_path` (may be
 * NULL to inherit). Returns the pid. */
pid_t tu_spawn(char *const argv[], const char *log_path);
/* Wait for a child up to timeout_ms; returns its exit status as from
 * waitpid, or -1 on timeout (child left running). */
int tu_wait(pid_t pid, int64_t timeout_ms);
/* Poll `cond(arg)` every 20 ms until true or timeout; returns 1 if true. */
int tu_wait_for(int (*cond)(void *arg), void *arg, int64_t timeout_ms);

#endif
