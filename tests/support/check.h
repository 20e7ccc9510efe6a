/* check.h - the tiny assertion kit of the C tests. A failed CHECK prints the
 * file, line and expression and exits 1; tests are small programs run by
 * ctest, one process each. */
#ifndef SEAM_TEST_CHECK_H
#define SEAM_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
                                __LINE__, #cond);                              \
                        exit(1);                                               \
                }                                                              \
        } while (0)

#define CHECKF(cond, ...)                                                      \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, \
                                __LINE__, #cond);                              \
                        fprintf(stderr, __VA_ARGS__);                          \
                        fputc('\n', stderr);                                   \
                        exit(1);                                               \
                }                                                              \
        } while (0)

#define CHECK_EQ_INT(a, b)                                                     \
        CHECKF((long long)(a) == (long long)(b), "%lld != %lld",               \
               (long long)(a), (long long)(b))

#define CHECK_STR_EQ(a, b)                                                     \
        CHECKF((a) && (b) && strcmp((a), (b)) == 0, "\"%s\" != \"%s\"",        \
               (a) ? (a) : "(null)", (b) ? (b) : "(null)")

#define CHECK_CONTAINS(hay, needle)                                            \
        CHECKF((hay) && strstr((hay), (needle)), "\"%s\" does not contain \"%s\"", \
               (hay) ? (hay) : "(null)", (needle))

#define TEST_RUN(fn)                                                           \
        do {                                                                   \
                fprintf(stderr, "-- %s\n", #fn);                               \
                fn();                                                          \
        } while (0)

#endif
