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

/* Through pointer variables, so arrays compare without -Waddress noise. */
#define CHECK_STR_EQ(a, b)                                                     \
        do {                                                                   \
                const char *check_a_ = (a), *check_b_ = (b);                   \
                CHECKF(check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0, \
                       "\"%s\" != \"%s\"", check_a_ ? check_a_ : "(null)",     \
                       check_b_ ? check_b_ : "(null)");                        \
        } while (0)

#define CHECK_CONTAINS(hay, needle)                                            \
        do {                                                                   \
                const char *check_h_ = (hay), *check_n_ = (needle);            \
                CHECKF(check_h_ && strstr(check_h_, check_n_),                 \
                       "\"%s\" does not contain \"%s\"",                     \
                       check_h_ ? check_h_ : "(null)", check_n_);              \
        } while (0)

#define TEST_RUN(fn)                                                           \
        do {                                                                   \
                fprintf(stderr, "-- %s\n", #fn);                               \
                fn();                                                          \
        } while (0)

#endif
