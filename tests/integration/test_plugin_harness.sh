#!/usr/bin/env bash
# `seam plugin test`: the offline harness runs plugins through the real
# pipeline stages and compares outcomes with --expect.
set -euo pipefail
: "${SEAM_BIN:?run through ctest}" "${SEAM_BUILD_DIR:?}" "${SEAM_SOURCE_DIR:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. format avro with the repository's schemas: evolution, framing and
#    decode failures, a JSON record that does not fit the writer schema.
cat >"$work/avro.yaml" <<YAML
seam:
  registry: {type: local, dir: "$SEAM_SOURCE_DIR/schemas"}
consumers:
  - name: audit
    plugin: order_audit
    topics: [demo.orders]
    schema:
      subjects: [demo.orders-value]
      reader: {subject: demo.orders-value, version: 2}
    config: {path: "$work/audit.jsonl", fsync: false}
YAML
cat >"$work/avro.jsonl" <<'JSON'
{"value": {"order_id": "o-1", "customer": "c", "amount_cents": 5, "currency": "EUR", "created_at": 1, "channel": "app"}, "key": "c"}
{"value": {"order_id": "o-2", "customer": "c", "amount_cents": 7, "currency": "USD", "created_at": 1}, "schema_id": 1}
{"value_base64": "aGVsbG8="}
{"value_base64": "AAAAAAIA"}
{"value_base64": "AAAAAGMA"}
JSON
printf '0 OK attempts=1\n1 OK\n2 DEAD_LETTER framing\n3 DEAD_LETTER decode\n4 DEAD_LETTER schema\n' >"$work/avro.expect"
"$SEAM_BIN" plugin test "$SEAM_BUILD_DIR/plugins/order_audit.so" --config "$work/avro.yaml" \
        --input "$work/avro.jsonl" --expect "$work/avro.expect" >"$work/out1" ||
        { cat "$work/out1"; fail "avro expectations"; }
# The v1 record reached the plugin resolved into v2, with the default.
grep -q '"order_id": "o-2".*"channel": "web"' "$work/audit.jsonl" || fail "v1 record not resolved with default"
[ "$(wc -l <"$work/audit.jsonl")" -eq 2 ] || fail "dead-lettered records reached the plugin"

# 2. A mismatch is reported and exits 1.
printf '0 DEAD_LETTER handler\n' >"$work/wrong.expect"
if "$SEAM_BIN" plugin test "$SEAM_BUILD_DIR/plugins/order_audit.so" --config "$work/avro.yaml" \
        --input "$work/avro.jsonl" --expect "$work/wrong.expect" >/dev/null 2>"$work/err2"; then
        fail "a wrong expectation passed"
fi
grep -q "MISMATCH at record 0" "$work/err2" || fail "mismatch not named"

# 3. format raw, retries run to exhaustion, POISON, FATAL stops the rest.
cat >"$work/raw.yaml" <<YAML
consumers:
  - name: rec
    plugin: recorder
    topics: [t]
    retry_max_attempts: 3
    config: {out: "$work/rec.out", retry_offset: 1, retry_times: 100, poison_offset: 2, fatal_offset: 4}
YAML
printf '{"value": "a", "offset": 0}\n{"value": "b", "offset": 1}\n{"value": "c", "offset": 2}\n{"value": "d", "offset": 3}\n{"value": "e", "offset": 4}\n{"value": "f", "offset": 5}\n' >"$work/raw.jsonl"
printf '0 OK\n1 DEAD_LETTER retries_exhausted attempts=3\n2 DEAD_LETTER handler\n3 OK\n4 FATAL\n5 NOT_RUN\n' >"$work/raw.expect"
"$SEAM_BIN" plugin test "$SEAM_BUILD_DIR/test-plugins/recorder.so" --config "$work/raw.yaml" \
        --input "$work/raw.jsonl" --expect "$work/raw.expect" >"$work/out3" ||
        { cat "$work/out3"; fail "raw expectations"; }

# 4. Bad invocations.
set +e
"$SEAM_BIN" plugin test >/dev/null 2>&1; [ $? -eq 2 ] || fail "usage error not exit 2"
"$SEAM_BIN" plugin test /nonexistent.so --config "$work/raw.yaml" --input "$work/raw.jsonl" >/dev/null 2>&1
[ $? -eq 4 ] || fail "missing plugin not exit 4"
set -e
echo "plugin harness: all checks passed"
