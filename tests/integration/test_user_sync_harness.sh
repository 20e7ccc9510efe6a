#!/usr/bin/env bash
# consumers/user_sync through the offline harness (`seam plugin test`) with
# the repository's schemas (format avro, subject identity.user-event-value):
# happy path, duplicates with and without the host's dedup, reordered events
# (gaps retried then dead-lettered, stale ones skipped), invalid
# transitions, field ownership (and its override), deleted users, and the
# journal across restarts (replay, compaction, a torn last line, a damaged
# file, a second instance on the same file). Inputs and expectations are in
# tests/integration/user_sync/: NAME.jsonl, NAME.expect (outcomes) and
# NAME.state (each user's last journal record, up to display_name).
set -euo pipefail
: "${SEAM_BIN:?run through ctest}" "${SEAM_BUILD_DIR:?}" "${SEAM_SOURCE_DIR:?}"
data="$SEAM_SOURCE_DIR/tests/integration/user_sync"
plugin="$SEAM_BUILD_DIR/plugins/user_sync.so"
[ -f "$plugin" ] || { echo "FAIL: $plugin not built (target user_sync)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# cfg NAME JOURNAL [EXTRA]: a config for one user_sync consumer. EXTRA is
# YAML added to the consumer (e.g. an idempotency block) and `owners` goes
# into the plugin's config when OWNERS is set.
cfg() {
        local name=$1 journal=$2 extra=${3:-}
        {
                printf 'seam:\n  registry: {type: local, dir: "%s"}\n' "$SEAM_SOURCE_DIR/schemas"
                printf 'consumers:\n  - name: user-sync\n    plugin: user_sync\n'
                printf '    topics: [identity.users]\n    retry_max_attempts: 3\n'
                printf '    schema:\n      subjects: [identity.user-event-value]\n'
                printf '      reader: {subject: identity.user-event-value, version: 1}\n'
                [ -n "$extra" ] && printf '    %s\n' "$extra"
                printf '    config:\n      path: "%s"\n      fsync: false\n' "$journal"
                [ -n "${OWNERS:-}" ] && printf '      owners: "%s"\n' "$OWNERS"
        } >"$work/$name.yaml"
        echo "$work/$name.yaml"
}

# run CASE CONFIG EXPECT: the harness with --expect; output in $work/CASE.out,
# plugin logs in $work/CASE.log.
run() {
        local case=$1 config=$2 expect=$3 input=${4:-$data/$1.jsonl}
        "$SEAM_BIN" plugin test "$plugin" --config "$config" --input "$input" \
                --expect "$expect" >"$work/$case.out" 2>"$work/$case.log" || {
                cat "$work/$case.out" "$work/$case.log" >&2
                fail "$case: outcomes differ from $expect"
        }
}

# Each user's last record in a journal, cut after display_name, by user.
state() {
        sed -E 's/,"event_id".*//' "$1" |
                awk -F'"' '{ last[$4] = $0 } END { for (u in last) print last[u] }' | sort
}

check_state() {
        local case=$1 journal=$2 want=$3
        state "$journal" >"$work/$case.state"
        diff -u "$want" "$work/$case.state" >&2 || fail "$case: final state differs from $want"
}

# out CASE OFFSET: the outcome line of one record.
out() { grep "^$2 " "$work/$1.out"; }
contains() { case "$1" in *"$2"*) ;; *) fail "\"$1\" lacks \"$2\"" ;; esac; }

# 1. Happy path: one journal line per event, the final state.
run happy "$(cfg happy "$work/happy.jsonl")" "$data/happy.expect"
[ "$(wc -l <"$work/happy.jsonl")" -eq 11 ] || fail "happy: expected 11 journal lines"
check_state happy "$work/happy.jsonl" "$data/happy.state"
grep -q '"outcome":"rejected"' "$work/happy.jsonl" && fail "happy: a rejected line"

# 2. Exact duplicates. With the host's dedup keyed by event_id the plugin
#    never sees them; without it, it skips them as stale and counts them.
run dup-dedup "$(cfg dup-dedup "$work/dup-dedup.jsonl" \
        'idempotency: {key: {field: event_id}, store: embedded}')" \
        "$data/duplicates-dedup.expect" "$data/duplicates.jsonl"
grep -q 'stale event' "$work/dup-dedup.log" && fail "dup-dedup: a duplicate reached the plugin"
grep -q '3 applied, 0 refused, 0 stale skipped' "$work/dup-dedup.log" ||
        fail "dup-dedup: close counters"
check_state dup-dedup "$work/dup-dedup.jsonl" "$data/duplicates.state"
run dup-plain "$(cfg dup-plain "$work/dup-plain.jsonl")" "$data/duplicates-nodedup.expect" \
        "$data/duplicates.jsonl"
[ "$(grep -c 'stale event' "$work/dup-plain.log")" -eq 3 ] || fail "dup-plain: 3 stale lines"
grep -q 'stale event e-2 (ACTIVATED, version 2) for user u-1 skipped: already applied as stored version 2' \
        "$work/dup-plain.log" || fail "dup-plain: redelivery not named"
grep -q '3 stale events skipped so far' "$work/dup-plain.log" || fail "dup-plain: counter"
grep -q '3 applied, 0 refused, 3 stale skipped' "$work/dup-plain.log" ||
        fail "dup-plain: close counters"
[ "$(wc -l <"$work/dup-plain.jsonl")" -eq 3 ] || fail "dup-plain: a stale event was written"
check_state dup-plain "$work/dup-plain.jsonl" "$data/duplicates.state"

# 3. Reordered: gaps retried retry_max_attempts (3) times, then dead-lettered;
#    a stale late copy skipped; the dead-lettered event replayed after the
#    missing one applies.
run reorder "$(cfg reorder "$work/reorder.jsonl")" "$data/reorder.expect"
contains "$(out reorder 1)" "attempts=3: user u-1: event e-3 (version 3) is ahead of stored version 1: version 2 has not arrived yet"
contains "$(out reorder 5)" "user u-2: event e-22 (version 2) is ahead of stored version 0"
grep -q 'stale event e-1b (CREATED, version 1) for user u-1 skipped: older than stored version 2' \
        "$work/reorder.log" || fail "reorder: stale event not logged"
grep -q '"event_id":"e-1b"' "$work/reorder.jsonl" && fail "reorder: the stale event was applied"
grep -q '5 applied, 0 refused, 1 stale skipped, 9 gap retries' "$work/reorder.log" ||
        fail "reorder: close counters"
check_state reorder "$work/reorder.jsonl" "$data/reorder.state"

# 4. Invalid transitions name both states; a refused event keeps the state
#    and takes the version; the same event again is refused again.
run invalid "$(cfg invalid "$work/invalid.jsonl")" "$data/invalid.expect"
contains "$(out invalid 1)" "user u-1: invalid transition CREATED -> SUSPENDED (event e-2, version 2): SUSPENDED is allowed only in state ACTIVE"
contains "$(out invalid 2)" "invalid transition CREATED -> SUSPENDED (event e-2, version 2)"
contains "$(out invalid 3)" "invalid transition CREATED -> CREATED (event e-3, version 3): ROLE_CHANGED is allowed only in state ACTIVE or SUSPENDED"
contains "$(out invalid 5)" "invalid transition ACTIVE -> ACTIVE (event e-5, version 5): ACTIVATED is allowed only in state CREATED or SUSPENDED"
contains "$(out invalid 6)" "invalid transition ACTIVE -> CREATED (event e-6, version 6): CREATED is allowed only in state NONE"
contains "$(out invalid 7)" "user u-2: invalid transition NONE -> ACTIVE (event e-21, version 1)"
contains "$(out invalid 9)" "user u-3: invalid transition NONE -> DELETED (event e-31, version 1)"
contains "$(out invalid 11)" "invalid transition SUSPENDED -> SUSPENDED (event e-8, version 8)"
[ "$(grep -c '"outcome":"rejected"' "$work/invalid.jsonl")" -eq 7 ] ||
        fail "invalid: expected 7 rejected journal lines (the redelivery adds none)"
grep -q '4 applied, 8 refused, 0 stale skipped' "$work/invalid.log" || fail "invalid: close counters"
check_state invalid "$work/invalid.jsonl" "$data/invalid.state"

# 5. Ownership: values from non-owners are ignored, the event applies.
run ownership "$(cfg ownership "$work/ownership.jsonl")" "$data/ownership.expect"
check_state ownership "$work/ownership.jsonl" "$data/ownership.state"
grep -q '"event_id":"e-2".*"ignored":"email"' "$work/ownership.jsonl" ||
        fail "ownership: crm's email not marked ignored"
grep -q '"event_id":"e-3".*"ignored":"role"' "$work/ownership.jsonl" ||
        fail "ownership: crm's role not marked ignored"
grep 'ann@crm.example.com\|"role":"root"\|ann@hr' "$work/ownership.jsonl" &&
        fail "ownership: a non-owner's value was stored"
#    The same events with owners overridden: crm owns email, hr display_name.
run ownership-override \
        "$(OWNERS="email=crm,display_name=hr" cfg ownership-override "$work/override.jsonl")" \
        "$data/ownership.expect" "$data/ownership.jsonl"
grep -q 'owners email=crm role=hr display_name=hr' "$work/ownership-override.log" ||
        fail "override: owners not logged"
check_state ownership-override "$work/override.jsonl" "$data/ownership-override.state"

# 6. Deleted is terminal: later events are refused at once, not retried.
run deleted "$(cfg deleted "$work/deleted.jsonl")" "$data/deleted.expect"
contains "$(out deleted 3)" "user u-1 deleted (version 3, event e-3): ACTIVATED event e-4 (version 4) refused"
contains "$(out deleted 5)" "user u-1 deleted"
[ "$(wc -l <"$work/deleted.jsonl")" -eq 3 ] || fail "deleted: refused events were written"
check_state deleted "$work/deleted.jsonl" "$data/deleted.state"

# 7. Restart: the second run replays the journal (compacting it: 4 lines,
#    2 users), drops a torn last line, and goes on from the stored versions.
run restart-1 "$(cfg restart "$work/restart.jsonl")" "$data/restart-1.expect"
printf '{"user_id":"u-1","version":4,"sta' >>"$work/restart.jsonl" # a crash mid-write
run restart-2 "$work/restart.yaml" "$data/restart-2.expect"
grep -q '2 users from 4 journal lines, a partial last line dropped, compacted' \
        "$work/restart-2.log" || fail "restart: replay not logged as expected"
grep -q 'already applied as stored version 3 (event e-3)' "$work/restart-2.log" ||
        fail "restart: the redelivered event was not recognised"
[ "$(wc -l <"$work/restart.jsonl")" -eq 4 ] || fail "restart: 2 compacted + 2 new lines"
check_state restart "$work/restart.jsonl" "$data/restart.state"
[ ! -e "$work/restart.jsonl.compact" ] || fail "restart: compaction file left behind"

# 8. Refusing to start: a damaged journal, a journal held by another
#    instance, a bad owners value, a missing path (exit 4: plugin init
#    failed; 3: config error), and a reader schema that is not ours (FATAL).
{ head -1 "$work/restart.jsonl"; echo 'garbage'; tail -1 "$work/restart.jsonl"; } >"$work/bad.jsonl"
set +e
"$SEAM_BIN" plugin test "$plugin" --config "$(cfg bad "$work/bad.jsonl")" \
        --input "$data/restart-2.jsonl" >/dev/null 2>"$work/bad.log"
code=$?
[ $code -eq 4 ] || fail "damaged journal: exit $code, expected 4"
grep -q "bad.jsonl:2: not a user_sync journal record" "$work/bad.log" || fail "damaged journal not named"
flock "$work/restart.jsonl.lock" "$SEAM_BIN" plugin test "$plugin" --config "$work/restart.yaml" \
        --input "$data/restart-2.jsonl" >/dev/null 2>"$work/locked.log"
code=$?
[ $code -eq 4 ] || fail "locked journal: exit $code, expected 4"
grep -q "in use by another user_sync instance" "$work/locked.log" || fail "lock not named"
"$SEAM_BIN" plugin test "$plugin" \
        --config "$(OWNERS="phone=idp" cfg owners "$work/o.jsonl")" \
        --input "$data/happy.jsonl" >/dev/null 2>"$work/owners.log"
code=$?
[ $code -eq 4 ] || fail "bad owners: exit $code, expected 4"
grep -q 'unknown field \\\?"phone' "$work/owners.log" || fail "bad owners not named"
sed '/path:/d' "$(cfg nopath "$work/n.jsonl")" >"$work/nopath2.yaml"
"$SEAM_BIN" plugin test "$plugin" --config "$work/nopath2.yaml" --input "$data/happy.jsonl" \
        >/dev/null 2>"$work/nopath.log"
code=$?
[ $code -eq 3 ] || fail "missing path: exit $code, expected 3"
set -e
cat >"$work/orders.yaml" <<YAML
seam:
  registry: {type: local, dir: "$SEAM_SOURCE_DIR/schemas"}
consumers:
  - name: user-sync
    plugin: user_sync
    topics: [demo.orders]
    schema:
      subjects: [demo.orders-value]
      reader: {subject: demo.orders-value, version: 2}
    config: {path: "$work/orders.jsonl"}
YAML
printf '{"value": {"order_id": "o-1", "customer": "c", "amount_cents": 5, "currency": "EUR", "created_at": 1, "channel": "app"}}\n{"value": {"order_id": "o-2", "customer": "c", "amount_cents": 5, "currency": "EUR", "created_at": 1, "channel": "app"}}\n' >"$work/orders.in"
printf '0 FATAL\n1 NOT_RUN\n' >"$work/orders.expect"
run orders "$work/orders.yaml" "$work/orders.expect" "$work/orders.in"
contains "$(out orders 0)" "the reader schema has no field event_id"
echo "user_sync harness: all checks passed"
