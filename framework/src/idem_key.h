/* idem_key.h - the idempotency key of a message, as the consumer's config
 * says: a field path of the decoded record (`event_id`, `payment.id`), a
 * header, or topic/partition/offset (the default). The same message always
 * yields the same key, across redeliveries, restarts and replays. */
#ifndef SEAM_IDEM_KEY_H
#define SEAM_IDEM_KEY_H

#include <stddef.h>

#include "config.h"
#include "host_api.h"

/* Longest key, in bytes (the stores refuse longer ones). */
#define SEAM_IDEM_KEY_MAX 1024

/* Writes the key of `m` into out (NUL-terminated). Returns 0, or
 * SEAM_ERR_INVALID with a reason when the message has no usable key (the
 * field is missing or null, the header absent, the key too long): such a
 * message cannot be deduplicated and is poison. */
int seam_idem_key(const struct seam_consumer_config *cc, const struct seam_msg *m, char *out,
                  size_t outlen, char *err, size_t errlen);

#endif
