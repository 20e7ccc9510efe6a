/* avro_json.h - fills an Avro C value from JSON (jansson), walking the
 * value's schema. For the offline plugin harness and tools that accept
 * records as JSON lines; Avro C has a value→JSON printer but no reader.
 *
 * Accepted JSON per Avro type: null; true/false; integers for int/long
 * (range-checked); numbers for float/double; strings for string, enum
 * symbols, and bytes/fixed (each char a byte, 0..255, as in Avro's JSON
 * encoding); arrays; objects for maps and records (every field present: Avro C keeps
 * no defaults to fill a missing one); unions either as {"branch-type-name": value}
 * (Avro's JSON encoding) or as a bare value matched to the first branch
 * that accepts it (null matches null). */
#ifndef SEAM_AVRO_JSON_H
#define SEAM_AVRO_JSON_H

#include <avro.h>
#include <jansson.h>

/* Returns 0, or SEAM_ERR_INVALID with the path of the offending field. */
int seam_avro_from_json(const json_t *json, avro_value_t *out, char *err, size_t errlen);

#endif
