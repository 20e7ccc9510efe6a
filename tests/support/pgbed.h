/* pgbed.h - a private PostgreSQL server for one test process, started with
 * tests/e2e/lib/postgres.sh on 127.0.0.1 (the test fails, never skips, if
 * it cannot start). At exit, and on SIGTERM/SIGINT (ctest's timeout), the
 * server is stopped; its files are removed only after pg_bed_passed(), or
 * kept (with the server log) for a failed run or with SEAM_E2E_KEEP=1. */
#ifndef SEAM_TEST_PGBED_H
#define SEAM_TEST_PGBED_H

/* Starts the server; returns its libpq DSN (owned by the bed). */
const char *pg_bed_start(const char *name);
/* Runs postgres.sh VERB (start, stop, restart) on the server; 0 on success,
 * else the script's log is printed and its status returned. */
int pg_bed_run(const char *verb);
/* The bed's directory (server files); tests may keep scratch files there. */
const char *pg_bed_dir(void);
/* The test passed: remove the files at exit. */
void pg_bed_passed(void);

#endif
