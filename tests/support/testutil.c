#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"

char *tu_mkdtemp(const char *prefix)
{
        const char *tmp = getenv("TMPDIR");
        char buf[512];
        snprintf(buf, sizeof(buf), "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
        if (!mkdtemp(buf)) {
                fprintf(stderr, "mkdtemp %s: %s\n", buf, strerror(errno));
                exit(1);
        }
        return strdup(buf);
}

void tu_write_file(const char *path, const char *content)
{
        FILE *f = fopen(path, "w");
        if (!f || fputs(content, f) < 0 || fclose(f) != 0) {
                fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
                exit(1);
        }
}

char *tu_read_file(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        size_t cap = 4096, n = 0;
        char *buf = malloc(cap);
        size_t r;
        while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
                n += r;
                if (cap - n - 1 == 0) {
                        cap *= 2;
                        buf = realloc(buf, cap);
                }
        }
        fclose(f);
        if (!buf)
                return NULL;
        buf[n] = '\0';
        if (len)
                *len = n;
        return buf;
}

const char *tu_env(const char *name)
{
        const char *v = getenv(name);
        if (!v || !*v) {
                fprintf(stderr, "environment variable %s is not set (run the "
                                "test through ctest)\n", name);
                exit(1);
        }
        return v;
}

pid_t tu_spawn(char *const argv[], const char *log_path)
{
        pid_t pid = fork();
        if (pid < 0) {
                perror("fork");
                exit(1);
        }
        if (pid == 0) {
                if (log_path) {
                        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
                        if (fd >= 0) {
                                dup2(fd, 1);
                                dup2(fd, 2);
                                close(fd);
                        }
                }
                execv(argv[0], argv);
                fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        return pid;
}

int tu_wait(pid_t pid, int64_t timeout_ms)
{
        int64_t deadline = seam_mono_ms() + timeout_ms;
        int status;
        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        return status;
                if (r < 0)
                        return -1;
                if (seam_mono_ms() >= deadline)
                        return -1;
                seam_sleep_ms(20);
        }
}

int tu_wait_for(int (*cond)(void *arg), void *arg, int64_t timeout_ms)
{
        int64_t deadline = seam_mono_ms() + timeout_ms;
        do {
                if (cond(arg))
                        return 1;
                seam_sleep_ms(20);
        } while (seam_mono_ms() < deadline);
        return cond(arg);
}
