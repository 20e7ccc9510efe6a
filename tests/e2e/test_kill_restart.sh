#!/usr/bin/env bash
# test_kill_restart.sh - at-least-once across a crash, on a real Kafka.
#
# 20,000 messages on 4 partitions; seam (recorder plugin) is SIGKILLed
# mid-stream, restarted with the same config, and must then finish the
# topic and exit 0 on SIGTERM. Checked against the recorder's file and the
# group's committed offsets as the broker reports them (read with
# kafka-python, not librdkafka):
#   (a) every produced message was handled at least once;
#   (b) on every partition, every offset below the committed one was handled
#       - right after the kill and at the end - i.e. nothing was committed
#       ahead of an unfinished message;
#   plus: records name real messages with their keys, each partition is
#   handled in offset order, the final commit equals the end offset, and the
#   number of messages handled twice (redelivered after the kill) is shown.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/common.sh"

TOPIC=e2e.kill
SEAM_PID= # set by e2e_spawn
GROUP=e2e-kill
PARTITIONS=4
COUNT=${SEAM_E2E_KILL_COUNT:-20000}
# Kill once this many are recorded: far enough in that commits happened,
# far enough from the end that plenty is left for the second run.
KILL_AT=${SEAM_E2E_KILL_AT:-$((COUNT / 4))}

e2e_init kill_restart
e2e_require_seam
pyenv_setup || e2e_fail "cannot set up the Python venv (kafka-python)"
kafka_fetch || e2e_fail "cannot fetch Kafka from Maven Central"
kafka_start "$E2E_DIR/kafka" || e2e_fail "Kafka did not start (see [kafka] lines above)"
e2e_add_log "$E2E_DIR/kafka/kafka.log"

# shellcheck disable=SC2153 # SEAM_PY comes from pyenv_setup
kt() { "$SEAM_PY" "$E2E_TOOLS/kt.py" --bootstrap "$KAFKA_BOOTSTRAP" "$@"; }
check() { "$SEAM_PY" "$E2E_TOOLS/check_records.py" --produced "$E2E_DIR/produced" \
        --records "$E2E_DIR/records" "$@"; }

e2e_log "creating $TOPIC with $PARTITIONS partitions, producing $COUNT messages (kafka-python)"
kt create-topic --topic "$TOPIC" --partitions "$PARTITIONS" >/dev/null
kt produce --topic "$TOPIC" --count "$COUNT" --out "$E2E_DIR/produced" >"$E2E_DIR/produce.json"
e2e_log "produced: $(cat "$E2E_DIR/produce.json")"

cat >"$E2E_DIR/cfg.yaml" <<EOF
seam:
  plugin_path: [$SEAM_TEST_PLUGIN_DIR]
  shutdown_timeout_ms: 30000
kafka:
  bootstrap.servers: $KAFKA_BOOTSTRAP
  auto.offset.reset: earliest
  # The killed member never leaves the group; the broker drops it when its
  # session expires, and only then does the restarted one get partitions.
  # 6 s is the broker's minimum (group.min.session.timeout.ms).
  session.timeout.ms: 6000
consumers:
  - name: kill
    plugin: recorder
    topics: [$TOPIC]
    group_id: $GROUP
    workers: 4
    commit_interval_ms: 200
    config:
      out: $E2E_DIR/records
      sleep_ms: 1
EOF
: >"$E2E_DIR/records"

records() { wc -l <"$E2E_DIR/records"; }
records_at_least() {
        e2e_alive "$SEAM_PID" || e2e_fail "seam (run 1) exited early; see $E2E_DIR/seam1.log"
        (($(records) >= $1))
}

e2e_log "run 1: $SEAM_BIN run -c cfg.yaml; SIGKILL after $KILL_AT records"
e2e_spawn SEAM_PID "$E2E_DIR/seam1.log" "$SEAM_BIN" run -c "$E2E_DIR/cfg.yaml"
e2e_wait_until "$KILL_AT records from run 1" 120 records_at_least "$KILL_AT"
kill -KILL "$SEAM_PID"
rc=0
wait "$SEAM_PID" 2>/dev/null || rc=$?
AT_KILL=$(records)
e2e_log "run 1 killed (wait status $rc) with $AT_KILL records"
((AT_KILL < COUNT)) || e2e_fail "run 1 handled all $COUNT messages before the kill; nothing was left to redeliver (raise sleep_ms or lower SEAM_E2E_KILL_AT)"

COMMITTED_KILL=$(kt group-offsets --group "$GROUP" --topic "$TOPIC")
e2e_log "committed after the kill: $COMMITTED_KILL"
[[ $COMMITTED_KILL != "{}" ]] || e2e_log "NOTE: nothing was committed before the kill (commit_interval_ms 200); check (b) is vacuous for run 1"
check --committed "$COMMITTED_KILL" --label after-kill ||
        e2e_fail "after the kill: records vs committed offsets (see the FAIL lines above)"

e2e_log "run 2: same config, until the group's committed offsets reach the end offsets"
e2e_spawn SEAM_PID "$E2E_DIR/seam2.log" "$SEAM_BIN" run -c "$E2E_DIR/cfg.yaml"
t_restart=$(date +%s)
rc=0
kt wait-committed --group "$GROUP" --topic "$TOPIC" --timeout 240 --watch-pid "$SEAM_PID" \
        >"$E2E_DIR/final.json" || rc=$?
case $rc in
0) ;;
2) e2e_fail "seam (run 2) exited before committing everything" ;;
*) e2e_fail "run 2 did not commit to the end offsets within 240 s: $(cat "$E2E_DIR/final.json")" ;;
esac
e2e_log "run 2 committed everything $(($(date +%s) - t_restart)) s after the restart: $(cat "$E2E_DIR/final.json")"

e2e_log "SIGTERM to seam (pid $SEAM_PID)"
e2e_stop "$SEAM_PID" 60 TERM
((E2E_STOP_TIMED_OUT == 0)) || e2e_fail "seam did not exit within 60 s of SIGTERM (killed)"
((E2E_STOP_RC == 0)) || e2e_fail "seam exited with status $E2E_STOP_RC after SIGTERM, expected 0"

COMMITTED_END=$(kt group-offsets --group "$GROUP" --topic "$TOPIC")
END_OFFSETS=$(kt end-offsets --topic "$TOPIC")
[[ $COMMITTED_END == "$END_OFFSETS" ]] ||
        e2e_fail "committed $COMMITTED_END after shutdown, expected exactly the end offsets $END_OFFSETS"
check --committed "$COMMITTED_END" --require-all --label final >"$E2E_DIR/final-check.txt" || {
        cat "$E2E_DIR/final-check.txt"
        e2e_fail "final: records vs produced messages and committed offsets (see the FAIL lines above)"
}
cat "$E2E_DIR/final-check.txt"
e2e_log "PASS: $COUNT messages, killed at $AT_KILL records, $(records) records in all; every message handled, nothing committed ahead of an unhandled one, clean exit 0"
