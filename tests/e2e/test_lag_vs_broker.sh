#!/usr/bin/env bash
# test_lag_vs_broker.sh - `seam lag` and `seam lag-exporter` against the
# real broker's own view of a consumer group, on a real Kafka.
#
# Messages are produced and a group's offsets committed with kafka-python (a
# client that shares no code with librdkafka); no consumer of the group runs
# at any time. The broker's view is read with kafka-python too:
# KafkaAdminClient.list_consumer_group_offsets for the committed offsets,
# KafkaConsumer.end_offsets / beginning_offsets for the watermarks. Checked:
#   - `seam lag --json` lists exactly the partitions of the topics the
#     group has committed on (a topic it never committed on is absent), and
#     for every one committed, end and lag equal the broker's numbers
#     (lag = end - committed, or end - low watermark without a commit);
#   - lag seconds is the age of the message AT the committed offset (the
#     partition's older messages are stamped further back), ~90 s;
#   - a group that never committed: no rows, exit 0; with --topic: every
#     partition "(none)" with lag = end - low;
#   - the exporter's /metrics carries the same numbers, passes
#     `promtool check metrics`, and SIGTERM stops it with exit 0;
#   - reading changed nothing: the group's offsets are the same afterwards
#     and no seam-lag-probe group exists on the broker.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/common.sh"

GROUP=e2e-lag
EMPTY=e2e-lag-empty
EXPORTER_PID= # set by e2e_spawn

e2e_init lag_vs_broker
[[ -n ${SEAM_BIN:-} ]] || e2e_fail "SEAM_BIN is not set (run through ctest, or set it to the seam executable)"
[[ -x $SEAM_BIN ]] || e2e_fail "SEAM_BIN=$SEAM_BIN is not an executable file"
command -v promtool >/dev/null 2>&1 || e2e_fail "promtool not found; install it with: apt-get install -y prometheus"
pyenv_setup || e2e_fail "cannot set up the Python venv (kafka-python)"
kafka_fetch || e2e_fail "cannot fetch Kafka from Maven Central"
kafka_start "$E2E_DIR/kafka" || e2e_fail "Kafka did not start (see [kafka] lines above)"
e2e_add_log "$E2E_DIR/kafka/kafka.log"

# The kafka-python side of this test.
cat >"$E2E_DIR/lagtool.py" <<'PYEOF'
"""lagtool.py - kafka-python helpers of test_lag_vs_broker.sh (written by it).

  produce --topic T --partition P --count N --age S [--start-age S2 --split K]
      N messages; the first K (default 0) stamped now-S2, the rest now-S
  commit --group G --offsets JSON      {"T": {"P": offset}} as the group's
      committed offsets (a consumer that never subscribes: no membership)
  view --group G                       the broker's view, JSON:
      {"T": {"P": {"committed": n|null, "low": n, "end": n, "lag": n}}}
      for every partition of every topic the group has committed on
  view --group G --topic T             the same for topic T only
  compare-json --view F --seam F --group G [--age S --age-tp T:P]
  compare-metrics --view F --scrape F --group G
  groups                               group ids known to the broker
"""
import argparse
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

CLIENT = "seam-e2e-lagtool"


def fail(msg):
    print("[lagtool] FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def retrying(fn, timeout_s=30.0):
    # The first group call creates __consumer_offsets: the coordinator is
    # "not available" until it has a leader; retry what is marked retriable.
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return fn()
        except KafkaError as e:
            if not getattr(e, "retriable", False) or time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def cmd_produce(a):
    p = KafkaProducer(bootstrap_servers=a.bootstrap, client_id=CLIENT, acks="all",
                      max_in_flight_requests_per_connection=1, retries=5)
    now = int(time.time() * 1000)
    futs = []
    for i in range(a.count):
        age = a.start_age if i < a.split else a.age
        futs.append(p.send(a.topic, value=b"m%d" % i, partition=a.partition,
                           timestamp_ms=now - int(age * 1000)))
    p.flush(timeout=60)
    offs = [f.get(timeout=60).offset for f in futs]
    p.close()
    if offs != sorted(offs):
        fail("offsets out of order on %s[%d]" % (a.topic, a.partition))
    print(json.dumps({"topic": a.topic, "partition": a.partition, "last_offset": offs[-1]}))


def cmd_commit(a):
    want = json.loads(a.offsets)
    c = KafkaConsumer(bootstrap_servers=a.bootstrap, client_id=CLIENT, group_id=a.group,
                      enable_auto_commit=False)
    offsets = {TopicPartition(t, int(p)): OffsetAndMetadata(o, "", -1)
               for t, parts in want.items() for p, o in parts.items()}
    retrying(lambda: c.commit(offsets))
    c.close(autocommit=False)


def group_offsets(bootstrap, group):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=CLIENT,
                             request_timeout_ms=15000)
    try:
        res = retrying(lambda: admin.list_consumer_group_offsets(group))
    finally:
        admin.close()
    return {(tp.topic, tp.partition): om.offset for tp, om in res.items()
            if om.offset is not None and om.offset >= 0}


def view(bootstrap, group, topic=None):
    committed = group_offsets(bootstrap, group)
    topics = [topic] if topic else sorted({t for t, _ in committed})
    c = KafkaConsumer(bootstrap_servers=bootstrap, client_id=CLIENT, enable_auto_commit=False)
    try:
        tps = []
        for t in topics:
            parts = c.partitions_for_topic(t)
            if not parts:
                fail("no partitions for topic %s" % t)
            tps += [TopicPartition(t, p) for p in sorted(parts)]
        ends = c.end_offsets(tps)
        lows = c.beginning_offsets(tps)
    finally:
        c.close()
    out = {}
    for tp in tps:
        com = committed.get((tp.topic, tp.partition))
        start = lows[tp] if com is None else max(com, lows[tp])
        out.setdefault(tp.topic, {})[str(tp.partition)] = {
            "committed": com, "low": lows[tp], "end": ends[tp],
            "lag": max(0, ends[tp] - start)}
    return out


def cmd_view(a):
    print(json.dumps(view(a.bootstrap, a.group, a.topic), sort_keys=True))


def load(path):
    with open(path) as f:
        return json.load(f)


def cmd_compare_json(a):
    v = load(a.view)
    doc = load(a.seam)
    groups = [g for g in doc["groups"] if g["group"] == a.group]
    if len(groups) != 1:
        fail("group %s appears %d times in seam's output" % (a.group, len(groups)))
    g = groups[0]
    if g["error"] is not None:
        fail("seam reports an error for %s: %s" % (a.group, g["error"]))
    got = {(p["topic"], str(p["partition"])): p for p in g["partitions"]}
    want = {(t, p): n for t, parts in v.items() for p, n in parts.items()}
    if set(got) != set(want):
        fail("partitions differ: seam %s, broker %s" % (sorted(got), sorted(want)))
    bad = 0
    for key in sorted(want):
        s, b = got[key], want[key]
        line = "%s[%s] committed %s/%s end %s/%s lag %s/%s (seam/broker) lag_seconds %s" % (
            key[0], key[1], s["committed"], b["committed"], s["end"], b["end"], s["lag"],
            b["lag"], s["lag_seconds"])
        same = (s["committed"] == b["committed"] and s["end"] == b["end"]
                and s["lag"] == b["lag"] and s["low"] == b["low"] and s["error"] is None)
        print(("[check] ok: " if same else "[check] FAIL: ") + line)
        bad += not same
        if s["lag"] == 0 and s["lag_seconds"] != 0:
            print("[check] FAIL: %s[%s] caught up but lag_seconds %s" % (key + (s["lag_seconds"],)))
            bad += 1
        if s["lag"] and not isinstance(s["lag_seconds"], (int, float)):
            print("[check] FAIL: %s[%s] lag_seconds missing" % key)
            bad += 1
    for tp_age in a.age or []:
        tp, age = tp_age.rsplit("=", 1)
        t, p = tp.rsplit(":", 1)
        secs = got[(t, p)]["lag_seconds"]
        lo, hi = float(age) - 1, float(age) + 30
        ok = isinstance(secs, (int, float)) and lo <= secs <= hi
        print("[check] %s: %s[%s] lag_seconds %s within [%s, %s]" % (
            "ok" if ok else "FAIL", t, p, secs, lo, hi))
        bad += not ok
    if bad:
        fail("%d mismatch(es) between seam lag and the broker" % bad)


def parse_scrape(path):
    samples = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name_labels, value = line.rsplit(" ", 1)
            samples[name_labels] = float(value)
    return samples


def cmd_compare_metrics(a):
    v = load(a.view)
    s = parse_scrape(a.scrape)
    bad = 0

    def expect(name, labels, want):
        nonlocal bad
        key = "%s{%s}" % (name, labels)
        got = s.get(key)
        ok = got == want
        print("[check] %s: %s = %s (broker %s)" % ("ok" if ok else "FAIL", key, got, want))
        bad += not ok

    expect("seam_group_lag_scrape_success", 'group="%s"' % a.group, 1)
    n = 0
    for t, parts in sorted(v.items()):
        for p, b in sorted(parts.items()):
            labels = 'group="%s",topic="%s",partition="%s"' % (a.group, t, p)
            expect("seam_group_lag_messages", labels, b["lag"])
            expect("seam_group_high_watermark_offset", labels, b["end"])
            expect("seam_group_committed_offset", labels,
                   -1 if b["committed"] is None else b["committed"])
            n += 1
    series = [k for k in s if k.startswith("seam_group_lag_messages{group=\"%s\"," % a.group)]
    if len(series) != n:
        print("[check] FAIL: %d lag series for %s, broker view has %d partitions"
              % (len(series), a.group, n))
        bad += 1
    if bad:
        fail("%d mismatch(es) between the exporter and the broker" % bad)


def cmd_groups(a):
    admin = KafkaAdminClient(bootstrap_servers=a.bootstrap, client_id=CLIENT)
    try:
        print(json.dumps(sorted(g[0] for g in admin.list_consumer_groups())))
    finally:
        admin.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("produce")
    p.add_argument("--topic", required=True)
    p.add_argument("--partition", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--age", type=float, default=0)
    p.add_argument("--start-age", type=float, default=0)
    p.add_argument("--split", type=int, default=0)
    p.set_defaults(fn=cmd_produce)
    p = sub.add_parser("commit")
    p.add_argument("--group", required=True)
    p.add_argument("--offsets", required=True)
    p.set_defaults(fn=cmd_commit)
    p = sub.add_parser("view")
    p.add_argument("--group", required=True)
    p.add_argument("--topic")
    p.set_defaults(fn=cmd_view)
    p = sub.add_parser("compare-json")
    p.add_argument("--view", required=True)
    p.add_argument("--seam", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--age", action="append", help="TOPIC:P=SECONDS")
    p.set_defaults(fn=cmd_compare_json)
    p = sub.add_parser("compare-metrics")
    p.add_argument("--view", required=True)
    p.add_argument("--scrape", required=True)
    p.add_argument("--group", required=True)
    p.set_defaults(fn=cmd_compare_metrics)
    p = sub.add_parser("groups")
    p.set_defaults(fn=cmd_groups)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
PYEOF

# shellcheck disable=SC2153 # SEAM_PY comes from pyenv_setup
lt() { "$SEAM_PY" "$E2E_DIR/lagtool.py" --bootstrap "$KAFKA_BOOTSTRAP" "$@"; }
# shellcheck disable=SC2153
kt() { "$SEAM_PY" "$E2E_TOOLS/kt.py" --bootstrap "$KAFKA_BOOTSTRAP" "$@"; }

e2e_log "topics: e2e.lag.a (3 partitions), e2e.lag.b (2), e2e.lag.other (1)"
kt create-topic --topic e2e.lag.a --partitions 3 >/dev/null
kt create-topic --topic e2e.lag.b --partitions 2 >/dev/null
kt create-topic --topic e2e.lag.other --partitions 1 >/dev/null

# a[0]: 50 messages, offsets 0-9 stamped now-300 s, 10-49 now-90 s; the
# group commits 10, so its lag seconds is ~90 (the message at offset 10),
# not ~300 (the oldest on the partition).
lt produce --topic e2e.lag.a --partition 0 --count 50 --split 10 --start-age 300 --age 90 >/dev/null
lt produce --topic e2e.lag.a --partition 1 --count 30 --age 40 >/dev/null
lt produce --topic e2e.lag.a --partition 2 --count 20 --age 10 >/dev/null
lt produce --topic e2e.lag.b --partition 0 --count 10 >/dev/null
lt produce --topic e2e.lag.b --partition 1 --count 5 >/dev/null
lt produce --topic e2e.lag.other --partition 0 --count 7 >/dev/null

# a[1] and b[0] never committed; a[2] caught up.
lt commit --group "$GROUP" --offsets '{"e2e.lag.a": {"0": 10, "2": 20}, "e2e.lag.b": {"1": 2}}'
lt view --group "$GROUP" >"$E2E_DIR/view.json"
e2e_log "broker's view of $GROUP: $(cat "$E2E_DIR/view.json")"

run_lag() { # NAME ARGS...: stdout to NAME.json/NAME.txt, stderr to NAME.err, exit code in LAG_RC
        local name=$1
        shift
        LAG_RC=0
        "$SEAM_BIN" lag --bootstrap "$KAFKA_BOOTSTRAP" "$@" >"$E2E_DIR/$name.out" 2>"$E2E_DIR/$name.err" || LAG_RC=$?
        e2e_add_log "$E2E_DIR/$name.err"
}

e2e_log "seam lag --group $GROUP --json"
run_lag lag --group "$GROUP" --json
((LAG_RC == 0)) || e2e_fail "seam lag exited $LAG_RC: $(cat "$E2E_DIR/lag.err")"
lt compare-json --view "$E2E_DIR/view.json" --seam "$E2E_DIR/lag.out" --group "$GROUP" \
        --age e2e.lag.a:0=90 --age e2e.lag.a:1=40 ||
        e2e_fail "seam lag disagrees with the broker (see the [check] lines)"
grep -q '"e2e.lag.other"' "$E2E_DIR/lag.out" && e2e_fail "e2e.lag.other is listed, but $GROUP never committed on it"

e2e_log "seam lag (table)"
run_lag table --group "$GROUP"
((LAG_RC == 0)) || e2e_fail "seam lag (table) exited $LAG_RC"
cat "$E2E_DIR/table.out"
grep -Eq "^$GROUP +e2e\.lag\.a +1 +\(none\) +30 +30 " "$E2E_DIR/table.out" ||
        e2e_fail "table: no row 'e2e.lag.a 1 (none) 30 30'"

e2e_log "a group that never committed: $EMPTY"
run_lag empty --group "$EMPTY" --json
((LAG_RC == 0)) || e2e_fail "seam lag --group $EMPTY exited $LAG_RC"
"$SEAM_PY" - "$E2E_DIR/empty.out" <<'PYEOF' || e2e_fail "$EMPTY: expected no partitions"
import json, sys
g = json.load(open(sys.argv[1]))["groups"][0]
sys.exit(0 if g["error"] is None and g["partitions"] == [] else 1)
PYEOF
lt view --group "$EMPTY" --topic e2e.lag.a >"$E2E_DIR/view-empty.json"
run_lag empty-topic --group "$EMPTY" --topic e2e.lag.a --json
((LAG_RC == 0)) || e2e_fail "seam lag --group $EMPTY --topic exited $LAG_RC"
lt compare-json --view "$E2E_DIR/view-empty.json" --seam "$E2E_DIR/empty-topic.out" --group "$EMPTY" \
        --age e2e.lag.a:0=300 ||
        e2e_fail "$EMPTY --topic e2e.lag.a disagrees with the broker"

e2e_log "seam lag-exporter"
e2e_spawn EXPORTER_PID "$E2E_DIR/exporter.log" "$SEAM_BIN" lag-exporter --group "$GROUP" \
        --group "$EMPTY" --bootstrap "$KAFKA_BOOTSTRAP" --listen 127.0.0.1:0 \
        --interval-ms 500 --log-format logfmt
exporter_port() { sed -n 's/.*lag-exporter listening on 127\.0\.0\.1:\([0-9][0-9]*\):.*/\1/p' "$E2E_DIR/exporter.log" | head -n 1; }
port_known() {
        e2e_alive "$EXPORTER_PID" || e2e_fail "lag-exporter exited early"
        [[ -n $(exporter_port) ]]
}
e2e_wait_until "the exporter's listening line" 30 port_known
PORT=$(exporter_port)
scraped_ok() {
        e2e_alive "$EXPORTER_PID" || e2e_fail "lag-exporter exited early"
        curl -fsS "http://127.0.0.1:$PORT/metrics" >"$E2E_DIR/scrape.txt" 2>/dev/null &&
                grep -q "^seam_group_lag_scrape_success{group=\"$GROUP\"} 1$" "$E2E_DIR/scrape.txt"
}
e2e_wait_until "a successful refresh on /metrics" 60 scraped_ok
lt view --group "$GROUP" >"$E2E_DIR/view2.json"
lt compare-metrics --view "$E2E_DIR/view2.json" --scrape "$E2E_DIR/scrape.txt" --group "$GROUP" ||
        e2e_fail "the exporter disagrees with the broker (see the [check] lines)"
promtool check metrics <"$E2E_DIR/scrape.txt" >"$E2E_DIR/promtool.txt" 2>&1 || {
        cat "$E2E_DIR/promtool.txt"
        e2e_fail "promtool check metrics refused the exporter's scrape"
}
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || e2e_fail "/readyz not 200 after a refresh"

e2e_stop "$EXPORTER_PID" 30 TERM
((E2E_STOP_TIMED_OUT == 0)) || e2e_fail "lag-exporter did not exit within 30 s of SIGTERM"
((E2E_STOP_RC == 0)) || e2e_fail "lag-exporter exited $E2E_STOP_RC after SIGTERM, expected 0"

e2e_log "nothing changed for the group, no probe group on the broker"
lt view --group "$GROUP" >"$E2E_DIR/view-after.json"
"$SEAM_PY" - "$E2E_DIR/view.json" "$E2E_DIR/view-after.json" <<'PYEOF' ||
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
strip = lambda v: {t: {p: n["committed"] for p, n in ps.items()} for t, ps in v.items()}
sys.exit(0 if strip(a) == strip(b) else 1)
PYEOF
        e2e_fail "the group's committed offsets changed: $(cat "$E2E_DIR/view.json") -> $(cat "$E2E_DIR/view-after.json")"
GROUPS_NOW=$(lt groups)
e2e_log "groups on the broker: $GROUPS_NOW"
[[ $GROUPS_NOW != *seam-lag-probe* ]] || e2e_fail "a seam-lag-probe group exists on the broker: $GROUPS_NOW"

e2e_log "PASS: seam lag and lag-exporter equal the broker's view on every partition"
