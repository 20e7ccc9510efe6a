#!/usr/bin/env bash
# test_chaos_ledger.sh - the proof of issue 5: payment events with exact
# business duplicates, consumed by the payments_ledger plugin through the
# transactional inbox on a real Kafka and a real PostgreSQL, while seam
# instances are SIGKILLed, restarted and joined by a third one; then the
# same stream on the embedded (LMDB) store with the recorder plugin.
#
# Part 1, store postgres + inbox + store_offsets (SEAM_CHAOS_STORE_OFFSETS=0:
# without; two `seam run` processes
# A and B in one group, 6 partitions):
#   - an independent producer (kafka-python + fastavro) sends N events over
#     SEAM_CHAOS_SECONDS, ~5 % of them exact duplicates (same payment_id and
#     bytes, later offset, sometimes another partition);
#   - every 4-8 s a random one of A/B is SIGKILLed and restarted after 0-2 s;
#     every 3rd step a third instance C joins or leaves (SIGTERM): each of
#     these is a rebalance;
#   - then, with A and B running, the group must commit the end offsets of
#     every partition (deadline), and both must exit 0 on SIGTERM.
#   Checked (tools/ledger_check.py ledger): every distinct payment_id in
#   ledger_entries exactly once with its fields (zero missing, zero
#   double-booked), balances == sums of distinct payments, dedup rows ==
#   distinct == N - duplicates, database offsets consistent; committed ==
#   end on every partition; the DLQ is empty.
# Part 2, store embedded, one instance, recorder plugin: SIGKILLed 4 times
#   at growing record counts and restarted; every distinct payment handled,
#   none twice within one process, and a payment handled again after a kill
#   only if its offset was not committed at the kill (tools/ledger_check.py
#   records); committed == end.
#
# Knobs: SEAM_CHAOS_EVENTS (default 20000), SEAM_CHAOS_SECONDS (how long the
# producer sends and the chaos lasts, default 50), SEAM_CHAOS_SEED (default:
# random, printed), SEAM_CHAOS_DRAIN_TIMEOUT (s, default 240),
# SEAM_CHAOS_EMB_EVENTS (part 2, default SEAM_CHAOS_EVENTS),
# SEAM_CHAOS_STORE_OFFSETS (part 1's idempotency.store_offsets, default 1).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/lib/common.sh"
# shellcheck source-path=SCRIPTDIR
source "$HERE/lib/postgres.sh"

N=${SEAM_CHAOS_EVENTS:-20000}
CHAOS_SECONDS=${SEAM_CHAOS_SECONDS:-50}
SEED=${SEAM_CHAOS_SEED:-$((RANDOM * 32768 + RANDOM))}
DRAIN_TIMEOUT=${SEAM_CHAOS_DRAIN_TIMEOUT:-240}
EMB_N=${SEAM_CHAOS_EMB_EVENTS:-$N}
case ${SEAM_CHAOS_STORE_OFFSETS:-1} in
1 | true) STORE_OFFSETS=true ;;
0 | false) STORE_OFFSETS=false ;;
*) echo "SEAM_CHAOS_STORE_OFFSETS: expected 1 or 0" >&2; exit 2 ;;
esac
PARTITIONS=6
TOPIC=payments
GROUP=ledger
EMB_TOPIC=payments-emb
EMB_GROUP=ledger-emb
SOURCE_DIR=${SEAM_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
RANDOM=$((SEED % 32768))

e2e_init chaos_ledger
# PostgreSQL is stopped after the seam processes (they would log its
# disappearance) and before the common cleanup, which exits.
_chaos_cleanup() {
        local rc=$1 pid
        set +e
        for pid in "${E2E_PIDS[@]}"; do
                e2e_alive "$pid" && e2e_stop "$pid" 10 TERM
        done
        [[ -n $PG_DIR ]] && pg_stop "$PG_DIR"
        _e2e_cleanup "$rc"
}
trap '_chaos_cleanup $?' EXIT

e2e_require_seam
[[ -n ${SEAM_PLUGIN_DIR:-} && -f $SEAM_PLUGIN_DIR/payments_ledger.so ]] ||
        e2e_fail "no payments_ledger.so in SEAM_PLUGIN_DIR=${SEAM_PLUGIN_DIR:-} (build the payments_ledger target)"
command -v psql >/dev/null || e2e_fail "psql not found (apt-get install postgresql-client)"
command -v curl >/dev/null || e2e_fail "curl not found"
e2e_log "N=$N events over ${CHAOS_SECONDS} s, seed $SEED (SEAM_CHAOS_SEED=$SEED reproduces the schedule)"
T_START=$(date +%s)

pyenv_setup || e2e_fail "cannot set up the Python venv (kafka-python, fastavro)"
kafka_fetch || e2e_fail "cannot fetch Kafka from Maven Central"
kafka_start "$E2E_DIR/kafka" || e2e_fail "Kafka did not start (see [kafka] lines above)"
e2e_add_log "$E2E_DIR/kafka/kafka.log"
# As root the server runs as the postgres user, who must reach its folder.
chmod 0755 "$E2E_DIR"
pg_start "$E2E_DIR/pg" || e2e_fail "PostgreSQL did not start (see [postgres] lines above)"
e2e_add_log "$E2E_DIR/pg/postgres.log"
export SEAM_PG_DSN=$PG_DSN

# shellcheck disable=SC2153 # SEAM_PY comes from pyenv_setup
kt() { "$SEAM_PY" "$E2E_TOOLS/kt.py" --bootstrap "$KAFKA_BOOTSTRAP" "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# "handled duplicate dead_lettered" of one instance, from /metrics.
scrape() {
        curl -s -m 3 "http://127.0.0.1:$1/metrics" 2>/dev/null | awk '
                /^seam_consumer_messages_total\{/ {
                        if ($0 ~ /outcome="handled"/) h = $NF
                        if ($0 ~ /outcome="duplicate"/) d = $NF
                        if ($0 ~ /outcome="dead_lettered"/) x = $NF
                }
                END { printf "%d %d %d\n", h, d, x }'
}

for t in "$TOPIC:$PARTITIONS" "$TOPIC.dlq:1" "$EMB_TOPIC:$PARTITIONS" "$EMB_TOPIC.dlq:1"; do
        kt create-topic --topic "${t%:*}" --partitions "${t#*:}" >/dev/null
done

# ---------------------------------------------------------------- part 1 --

cat >"$E2E_DIR/ledger.yaml" <<EOF
seam:
  plugin_path: [$SEAM_PLUGIN_DIR]
  shutdown_timeout_ms: 30000
  http:
    bind: 127.0.0.1
    port: \${LEDGER_HTTP_PORT}
  registry: {type: local, dir: $SOURCE_DIR/schemas}
  dedup: {postgres_dsn: "\${SEAM_PG_DSN}", table: seam_dedup}
kafka:
  bootstrap.servers: $KAFKA_BOOTSTRAP
  auto.offset.reset: earliest
  # 6 s is the broker's minimum: a killed member holds its partitions
  # until then.
  session.timeout.ms: 6000
  heartbeat.interval.ms: 1000
consumers:
  - name: ledger
    plugin: payments_ledger
    topics: [$TOPIC]
    group_id: $GROUP
    workers: 4
    commit_interval_ms: 500
    retry_backoff_ms: 200
    format: avro
    schema:
      subjects: [payments.payment-value]
      reader: {subject: payments.payment-value, version: 1}
    idempotency:
      key: {field: payment_id}
      store: postgres
      inbox: true
      store_offsets: $STORE_OFFSETS
EOF

declare -A PID PORT INC
KILLS=0
JOINS=0
: >"$E2E_DIR/scrapes"

start_member() {
        local name=$1 pid port
        port=$(free_port)
        INC[$name]=$((${INC[$name]:-0} + 1))
        e2e_spawn pid "$E2E_DIR/seam-$name-${INC[$name]}.log" \
                env LEDGER_HTTP_PORT="$port" "$SEAM_BIN" run -c "$E2E_DIR/ledger.yaml"
        PID[$name]=$pid
        PORT[$name]=$port
}

member_alive() {
        local name=$1
        [[ -n ${PID[$name]:-} ]] && e2e_alive "${PID[$name]}"
}

# A member that exits by itself (FATAL, a crash) fails the test.
expect_alive() {
        local name
        for name in "$@"; do
                member_alive "$name" ||
                        e2e_fail "seam $name exited on its own; see $E2E_DIR/seam-$name-${INC[$name]}.log"
        done
}

e2e_log "part 1: producer sends $N payment events over ${CHAOS_SECONDS} s; seam A and B (inbox, store_offsets: $STORE_OFFSETS)"
PROD_PID=
e2e_spawn PROD_PID "$E2E_DIR/produce.log" "$SEAM_PY" "$E2E_TOOLS/payments_produce.py" \
        --bootstrap "$KAFKA_BOOTSTRAP" --topic "$TOPIC" --schemas "$SOURCE_DIR/schemas" \
        --count "$N" --seconds "$CHAOS_SECONDS" --seed "$SEED" --out "$E2E_DIR/produced.jsonl"
T1=$(date +%s)
start_member A
start_member B
CHAOS_END=$((T1 + CHAOS_SECONDS))
step=0
while (($(date +%s) < CHAOS_END)) || e2e_alive "$PROD_PID"; do
        sleep $((4 + RANDOM % 5))
        expect_alive A B
        step=$((step + 1))
        if ((step % 3 == 0)); then
                if member_alive C; then
                        e2e_stop "${PID[C]}" 60 TERM
                        ((E2E_STOP_TIMED_OUT == 0 && E2E_STOP_RC == 0)) ||
                                e2e_fail "seam C did not leave cleanly on SIGTERM (status $E2E_STOP_RC)"
                        PID[C]=
                        e2e_log "C left the group (SIGTERM, exit 0)"
                else
                        start_member C
                        JOINS=$((JOINS + 1))
                        e2e_log "C joined the group"
                fi
                continue
        fi
        if ((RANDOM % 2)); then victim=A; else victim=B; fi
        echo "$victim ${INC[$victim]} $(scrape "${PORT[$victim]}")" >>"$E2E_DIR/scrapes"
        kill -KILL "${PID[$victim]}"
        wait "${PID[$victim]}" 2>/dev/null || true
        KILLS=$((KILLS + 1))
        delay=$((RANDOM % 3))
        e2e_log "SIGKILL $victim (#$KILLS), restart in ${delay} s; $(psql -X -Atq -d "$PG_DSN" -c 'SELECT count(*) FROM ledger_entries' 2>/dev/null || echo 0) ledger rows"
        sleep "$delay"
        start_member "$victim"
done
if member_alive C; then
        e2e_stop "${PID[C]}" 60 TERM
        ((E2E_STOP_TIMED_OUT == 0 && E2E_STOP_RC == 0)) || e2e_fail "seam C did not leave cleanly on SIGTERM"
fi
rc=0
wait "$PROD_PID" || rc=$?
((rc == 0)) || e2e_fail "the producer failed (status $rc); see $E2E_DIR/produce.log"
tail -n 1 "$E2E_DIR/produce.log" | grep -q '"count"' || e2e_fail "the producer printed no summary"
e2e_log "chaos over after $(($(date +%s) - T1)) s: $KILLS SIGKILLs, C joined $JOINS times; producer: $(tail -n 1 "$E2E_DIR/produce.log")"
expect_alive A B

rc=0
kt wait-committed --group "$GROUP" --topic "$TOPIC" --timeout "$DRAIN_TIMEOUT" \
        >"$E2E_DIR/final.json" 2>"$E2E_DIR/wait.log" || rc=$?
((rc == 0)) || { tail -n 5 "$E2E_DIR/wait.log"; e2e_fail "the group did not commit the end offsets within $DRAIN_TIMEOUT s: $(cat "$E2E_DIR/final.json")"; }
e2e_log "group $GROUP committed the end offsets $(($(date +%s) - T1)) s after the start"
expect_alive A B
for m in A B; do
        echo "$m ${INC[$m]} $(scrape "${PORT[$m]}")" >>"$E2E_DIR/scrapes"
        e2e_stop "${PID[$m]}" 60 TERM
        ((E2E_STOP_TIMED_OUT == 0)) || e2e_fail "seam $m did not exit within 60 s of SIGTERM"
        ((E2E_STOP_RC == 0)) || e2e_fail "seam $m exited with status $E2E_STOP_RC after SIGTERM"
done
T1_END=$(date +%s)

COMMITTED=$(kt group-offsets --group "$GROUP" --topic "$TOPIC")
END_OFFSETS=$(kt end-offsets --topic "$TOPIC")
[[ $COMMITTED == "$END_OFFSETS" ]] || e2e_fail "committed $COMMITTED, expected the end offsets $END_OFFSETS"
DLQ_END=$(kt end-offsets --topic "$TOPIC.dlq")
[[ $DLQ_END == '{"0": 0}' ]] || e2e_fail "the DLQ is not empty: $DLQ_END (kills and rebalances must never dead-letter)"
e2e_log "committed == end offsets $END_OFFSETS; DLQ empty"
DB_OFFSETS_ARG=()
[[ $STORE_OFFSETS == true ]] && DB_OFFSETS_ARG=(--db-offsets)
"$SEAM_PY" "$E2E_TOOLS/ledger_check.py" ledger --produced "$E2E_DIR/produced.jsonl" \
        --dsn "$PG_DSN" --group "$GROUP" --topic "$TOPIC" --end "$END_OFFSETS" \
        "${DB_OFFSETS_ARG[@]}" \
        >"$E2E_DIR/check1.txt" || { cat "$E2E_DIR/check1.txt"; e2e_fail "part 1: ledger checks (see the FAIL lines above)"; }
cat "$E2E_DIR/check1.txt"
# Counters of each process up to its last scrape (right before its kill, or
# at the end): a lower bound, the killed processes' last moments are lost.
read -r SEEN_H SEEN_D SEEN_X < <(awk '{ h += $3; d += $4; x += $5 } END { print h + 0, d + 0, x + 0 }' "$E2E_DIR/scrapes")
((SEEN_X == 0)) || e2e_fail "$SEEN_X messages dead-lettered (counters), expected none"
e2e_log "metrics (lower bound, scraped before each kill and at the end): $SEEN_H handled, $SEEN_D duplicates skipped"
PART1_SUMMARY=$(grep '^summary:' "$E2E_DIR/check1.txt")

# ---------------------------------------------------------------- part 2 --

e2e_log "part 2: embedded store, one instance, recorder plugin, $EMB_N events"
"$SEAM_PY" "$E2E_TOOLS/payments_produce.py" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$EMB_TOPIC" \
        --schemas "$SOURCE_DIR/schemas" --count "$EMB_N" --seed "$((SEED + 1))" --id-prefix emb \
        --out "$E2E_DIR/emb-produced.jsonl" >"$E2E_DIR/emb-produce.json" 2>"$E2E_DIR/emb-produce.log" ||
        { cat "$E2E_DIR/emb-produce.log"; e2e_fail "the producer failed (part 2)"; }
EMB_DISTINCT=$(sed -n 's/.*"distinct": \([0-9]*\).*/\1/p' "$E2E_DIR/emb-produce.json")
e2e_log "produced: $(cat "$E2E_DIR/emb-produce.json")"
T2=$(date +%s)

emb_config() {
        cat >"$E2E_DIR/emb-$1.yaml" <<EOF
seam:
  plugin_path: [$SEAM_TEST_PLUGIN_DIR]
  shutdown_timeout_ms: 30000
  registry: {type: local, dir: $SOURCE_DIR/schemas}
  dedup: {embedded_path: $E2E_DIR/emb-dedup.mdb}
kafka:
  bootstrap.servers: $KAFKA_BOOTSTRAP
  auto.offset.reset: earliest
  session.timeout.ms: 6000
  heartbeat.interval.ms: 1000
consumers:
  - name: ledger-emb
    plugin: recorder
    topics: [$EMB_TOPIC]
    group_id: $EMB_GROUP
    workers: 4
    commit_interval_ms: 500
    format: avro
    schema:
      subjects: [payments.payment-value]
      reader: {subject: payments.payment-value, version: 1}
    idempotency:
      key: {field: payment_id}
      store: embedded
    config:
      out: $E2E_DIR/emb-records.$1
      values: true
      sleep_ms: 1
EOF
        : >"$E2E_DIR/emb-records.$1"
}

emb_records() { cat "$E2E_DIR"/emb-records.* | wc -l; }
EMB_PID=
emb_at_least() {
        e2e_alive "$EMB_PID" || e2e_fail "seam (embedded store) exited on its own; see its log"
        (($(emb_records) >= $1))
}

RUN_ARGS=()
EMB_KILLS=4
for run in $(seq 1 $EMB_KILLS); do
        emb_config "$run"
        e2e_spawn EMB_PID "$E2E_DIR/seam-emb-$run.log" "$SEAM_BIN" run -c "$E2E_DIR/emb-$run.yaml"
        target=$((EMB_DISTINCT * run / (EMB_KILLS + 1)))
        e2e_wait_until "$target records (embedded run $run)" 120 emb_at_least "$target"
        kill -KILL "$EMB_PID"
        wait "$EMB_PID" 2>/dev/null || true
        kt group-offsets --group "$EMB_GROUP" --topic "$EMB_TOPIC" >"$E2E_DIR/emb-committed.$run.json"
        e2e_log "embedded run $run SIGKILLed at $(emb_records) records; committed $(cat "$E2E_DIR/emb-committed.$run.json")"
        RUN_ARGS+=(--run "$E2E_DIR/emb-records.$run:$E2E_DIR/emb-committed.$run.json")
done
emb_config final
e2e_spawn EMB_PID "$E2E_DIR/seam-emb-final.log" "$SEAM_BIN" run -c "$E2E_DIR/emb-final.yaml"
rc=0
kt wait-committed --group "$EMB_GROUP" --topic "$EMB_TOPIC" --timeout "$DRAIN_TIMEOUT" --watch-pid "$EMB_PID" \
        >"$E2E_DIR/emb-final.json" 2>"$E2E_DIR/emb-wait.log" || rc=$?
((rc == 0)) || e2e_fail "embedded store: the group did not commit the end offsets (status $rc): $(cat "$E2E_DIR/emb-final.json")"
e2e_stop "$EMB_PID" 60 TERM
((E2E_STOP_TIMED_OUT == 0 && E2E_STOP_RC == 0)) || e2e_fail "seam (embedded store) did not exit 0 on SIGTERM (status $E2E_STOP_RC)"
RUN_ARGS+=(--run "$E2E_DIR/emb-records.final")
EMB_COMMITTED=$(kt group-offsets --group "$EMB_GROUP" --topic "$EMB_TOPIC")
EMB_END=$(kt end-offsets --topic "$EMB_TOPIC")
[[ $EMB_COMMITTED == "$EMB_END" ]] || e2e_fail "embedded store: committed $EMB_COMMITTED, expected the end offsets $EMB_END"
EMB_DLQ=$(kt end-offsets --topic "$EMB_TOPIC.dlq")
[[ $EMB_DLQ == '{"0": 0}' ]] || e2e_fail "embedded store: the DLQ is not empty: $EMB_DLQ"
"$SEAM_PY" "$E2E_TOOLS/ledger_check.py" records --produced "$E2E_DIR/emb-produced.jsonl" "${RUN_ARGS[@]}" \
        >"$E2E_DIR/check2.txt" || { cat "$E2E_DIR/check2.txt"; e2e_fail "part 2: record checks (see the FAIL lines above)"; }
cat "$E2E_DIR/check2.txt"
T2_END=$(date +%s)

e2e_log "SUMMARY part 1 (postgres + inbox, 2 instances + joiner): $KILLS SIGKILLs, $JOINS joins, $((T1_END - T1)) s; ${PART1_SUMMARY#summary: }"
e2e_log "SUMMARY part 2 (embedded store, 1 instance): $EMB_KILLS SIGKILLs, $((T2_END - T2)) s; $(grep '^summary:' "$E2E_DIR/check2.txt" | sed 's/^summary: //')"
e2e_log "PASS in $(($(date +%s) - T_START)) s"
