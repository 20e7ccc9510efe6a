#include "err.h"

#include <stdarg.h>
#include <stdio.h>

const char *seam_err_str(int err)
{
        switch ((seam_err)err) {
        case SEAM_ERR_NONE: return "success";
        case SEAM_ERR_USAGE: return "usage error";
        case SEAM_ERR_CONFIG: return "configuration error";
        case SEAM_ERR_PLUGIN: return "plugin error";
        case SEAM_ERR_KAFKA: return "kafka error";
        case SEAM_ERR_NOMEM: return "out of memory";
        case SEAM_ERR_IO: return "i/o error";
        case SEAM_ERR_DRAIN: return "shutdown drain timed out";
        case SEAM_ERR_FATAL: return "plugin returned FATAL";
        case SEAM_ERR_NOTFOUND: return "not found";
        case SEAM_ERR_INVALID: return "invalid argument";
        case SEAM_ERR_TIMEOUT: return "timed out";
        case SEAM_ERR_TRANSIENT: return "transient failure";
        }
        return "unknown error";
}

int seam_err_exit_code(int err)
{
        switch ((seam_err)err) {
        case SEAM_ERR_NONE: return SEAM_EXIT_OK;
        case SEAM_ERR_USAGE: return SEAM_EXIT_USAGE;
        case SEAM_ERR_CONFIG: return SEAM_EXIT_CONFIG;
        case SEAM_ERR_PLUGIN: return SEAM_EXIT_PLUGIN;
        case SEAM_ERR_KAFKA: return SEAM_EXIT_KAFKA;
        case SEAM_ERR_DRAIN: return SEAM_EXIT_DRAIN_TIMEOUT;
        case SEAM_ERR_FATAL: return SEAM_EXIT_FATAL;
        default: return SEAM_EXIT_RUNTIME;
        }
}

void seam_errf(char *err, size_t errlen, const char *fmt, ...)
{
        if (!err || !errlen)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
}
