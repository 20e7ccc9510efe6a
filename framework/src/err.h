/* err.h - the one error enum of the host. 0 is success, errors are negative.
 * Values only grow; never reuse a number. */
#ifndef SEAM_ERR_H
#define SEAM_ERR_H

#include <stddef.h>

typedef enum seam_err {
        SEAM_ERR_NONE = 0,
        SEAM_ERR_USAGE = -1,     /* bad command line */
        SEAM_ERR_CONFIG = -2,    /* config file unreadable or invalid */
        SEAM_ERR_PLUGIN = -3,    /* plugin could not be loaded or init failed */
        SEAM_ERR_KAFKA = -4,     /* librdkafka refused a property or a call */
        SEAM_ERR_NOMEM = -5,
        SEAM_ERR_IO = -6,
        SEAM_ERR_DRAIN = -7,     /* shutdown drain did not finish in time */
        SEAM_ERR_FATAL = -8,     /* a plugin returned FATAL */
        SEAM_ERR_NOTFOUND = -9,
        SEAM_ERR_INVALID = -10,  /* invalid argument or data */
        SEAM_ERR_TIMEOUT = -11,
        SEAM_ERR_TRANSIENT = -12 /* retriable: try again later */
} seam_err;

const char *seam_err_str(int err);

/* printf into an error buffer; does nothing when err is NULL or errlen 0. */
void seam_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Process exit codes, documented in the README: distinct per failure kind so
 * an operator (or Kubernetes) can tell them apart. */
enum seam_exit {
        SEAM_EXIT_OK = 0,
        SEAM_EXIT_RUNTIME = 1, /* unexpected runtime failure */
        SEAM_EXIT_USAGE = 2,
        SEAM_EXIT_CONFIG = 3,
        SEAM_EXIT_PLUGIN = 4,
        SEAM_EXIT_KAFKA = 5,
        SEAM_EXIT_DRAIN_TIMEOUT = 6,
        SEAM_EXIT_FATAL = 7 /* every consumer instance stopped on FATAL */
};

int seam_err_exit_code(int err);

#endif
