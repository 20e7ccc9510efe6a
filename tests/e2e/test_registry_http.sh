#!/usr/bin/env bash
# test_registry_http.sh - seam's registry client and `seam schema` against a
# real schema registry: Apicurio Registry 3.x (Confluent-compatible API
# under /apis/ccompat/v7, in-memory storage) on 127.0.0.1.
#
#   1. PUT /config compatibility BACKWARD (Apicurio does not enforce
#      compatibility on registration until told to).
#   2. `seam schema register` pushes schemas/; again: the same ids
#      (idempotent). The ids agree with what curl reads from the registry.
#   3. `seam schema get` (the C client: GET /schemas/ids/{id} and
#      /schemas/ids/{id}/versions) returns the registered text and subjects;
#      an unknown id is "not found" (exit 3), a wrong base URL is not (5).
#   4. `seam schema check` against the subject: a compatible reader (exit 0),
#      a reader that narrows a type and one that adds a field without a
#      default (exit 1, naming the field).
#   5. The registry enforces BACKWARD: an incompatible v3 is refused (exit
#      1), a compatible v3 is registered and checked.
#   6. Registry stopped: `seam schema check` exits 5 (unreachable, not
#      "incompatible"), and `seam schema get --cache-dir` still answers for
#      an id it fetched before, from the last-known-good disk cache.
# Prints the Apicurio download, Java install and start times.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/lib/common.sh"
# shellcheck source-path=SCRIPTDIR
source "$HERE/lib/apicurio.sh"

e2e_init registry_http
[[ -n ${SEAM_BIN:-} && -x ${SEAM_BIN:-} ]] ||
        e2e_fail "SEAM_BIN is not set to the seam executable (run through ctest)"
SRC=${SEAM_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
SUBJECT=demo.orders-value
V1=$SRC/schemas/$SUBJECT/v1.avsc
V2=$SRC/schemas/$SUBJECT/v2.avsc

check() {
        local desc=$1
        shift
        if "$@"; then
                printf '[check] ok: %s\n' "$desc"
        else
                e2e_fail "$desc"
        fi
}

# Runs seam, keeping its output in $OUT and its exit code in $RC; fails on
# any exit code other than the expected one.
seam_expect() {
        local want=$1
        shift
        RC=0
        OUT=$("$SEAM_BIN" "$@" 2>&1) || RC=$?
        printf '%s\n' "$OUT" | sed 's/^/    | /'
        ((RC == want)) || e2e_fail "seam $* exited $RC, expected $want"
}

json_id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

e2e_log "starting Apicurio Registry $APICURIO_VERSION"
APICURIO_WORKDIR=$E2E_DIR/apicurio
mkdir -p "$APICURIO_WORKDIR"
apicurio_start || e2e_fail "Apicurio Registry did not start (see above)"
E2E_PIDS+=("$APICURIO_PID") # stopped by the EXIT trap whatever happens
e2e_add_log "$APICURIO_LOG"
URL=$APICURIO_URL
e2e_log "registry at $URL: download ${APICURIO_FETCH_SECONDS}s, java install ${APICURIO_JAVA_SECONDS}s, start ${APICURIO_START_SECONDS}s"

# 1. compatibility
cfg=$(curl -sf -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
        --data '{"compatibility":"BACKWARD"}' "$URL/config") || e2e_fail "PUT /config failed"
check "PUT /config sets BACKWARD ($cfg)" grep -q BACKWARD <<<"$cfg"

# 2. register, twice
seam_expect 0 schema register --registry "$URL" --dir "$SRC/schemas"
ID1=$(sed -n "s/^$SUBJECT v1: id \([0-9]*\)$/\1/p" <<<"$OUT")
ID2=$(sed -n "s/^$SUBJECT v2: id \([0-9]*\)$/\1/p" <<<"$OUT")
check "register printed an id per version (v1=$ID1 v2=$ID2)" test -n "$ID1" -a -n "$ID2" -a "$ID1" != "$ID2"
seam_expect 0 schema register --registry "$URL" --dir "$SRC/schemas"
check "registering again returns the same ids" grep -qx "$SUBJECT v1: id $ID1" <<<"$OUT"
check "registering again returns the same ids (v2)" grep -qx "$SUBJECT v2: id $ID2" <<<"$OUT"
check "the registry has exactly versions 1 and 2" \
        test "$(curl -sf "$URL/subjects/$SUBJECT/versions")" = "[1,2]"
check "curl sees v1 under id $ID1" test "$(curl -sf "$URL/subjects/$SUBJECT/versions/1" | json_id)" = "$ID1"
check "curl sees v2 under id $ID2" test "$(curl -sf "$URL/subjects/$SUBJECT/versions/2" | json_id)" = "$ID2"

# 3. the C client by id
same_schema() { # FILE TEXT: the same Avro JSON, whatever the whitespace
        python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.loads(sys.argv[2]))' "$1" "$2"
}
for v in 1 2; do
        id_var=ID$v
        seam_expect 0 schema get --registry "$URL" --id "${!id_var}"
        check "get --id ${!id_var}: the id" grep -qx "id ${!id_var}" <<<"$OUT"
        check "get --id ${!id_var}: registered as $SUBJECT v$v" grep -qx "registered as $SUBJECT v$v" <<<"$OUT"
        check "get --id ${!id_var}: the text of v$v.avsc" same_schema "$SRC/schemas/$SUBJECT/v$v.avsc" "$(tail -n 1 <<<"$OUT")"
done
seam_expect 3 schema get --registry "$URL" --id 99999
check "an unknown id is 'not found'" grep -q "40403" <<<"$OUT"
# A wrong base URL (the ccompat path forgotten) must not turn into "no such
# id", which would dead-letter every message: exit 5, like an outage.
seam_expect 5 schema get --registry "http://127.0.0.1:$APICURIO_PORT" --id "$ID1" --timeout-ms 2000

# 4. check
seam_expect 0 schema check --reader "$V2" --registry "$URL" --subject "$SUBJECT" --all-versions
check "v2 reads v1 (id $ID1)" grep -qx "$SUBJECT v1 (id $ID1): compatible" <<<"$OUT"
check "v2 reads v2 (id $ID2)" grep -qx "$SUBJECT v2 (id $ID2): compatible" <<<"$OUT"
seam_expect 0 schema check --reader "$V1" --registry "$URL" --subject "$SUBJECT"
check "v1 reads the latest (v2: the added field is skipped)" grep -qx "$SUBJECT v2 (id $ID2): compatible" <<<"$OUT"

narrow=$E2E_DIR/narrow.avsc
sed 's/"name": "amount_cents", "type": "long"/"name": "amount_cents", "type": "int"/' "$V2" >"$narrow"
cmp -s "$narrow" "$V2" && e2e_fail "the test's sed did not change amount_cents in $narrow"
seam_expect 1 schema check --reader "$narrow" --registry "$URL" --subject "$SUBJECT" --all-versions
check "long -> int is incompatible, naming amount_cents" grep -q "$SUBJECT v1 (id $ID1): INCOMPATIBLE: .*amount_cents" <<<"$OUT"

nodefault=$E2E_DIR/nodefault.avsc
python3 - "$V2" "$nodefault" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
s["fields"].append({"name": "region", "type": "string"})
json.dump(s, open(sys.argv[2], "w"), indent=2)
EOF
seam_expect 1 schema check --reader "$nodefault" --registry "$URL" --subject "$SUBJECT" --all-versions
check "a new field without default is incompatible, naming it" grep -q "INCOMPATIBLE: .*region" <<<"$OUT"

# 5. the registry enforces BACKWARD
evolved=$E2E_DIR/schemas
mkdir -p "$evolved/$SUBJECT"
cp "$V1" "$V2" "$evolved/$SUBJECT/"
cp "$narrow" "$evolved/$SUBJECT/v3.avsc"
cat >"$evolved/manifest.yaml" <<EOF
schemas:
  - {subject: $SUBJECT, version: 1, id: 1}
  - {subject: $SUBJECT, version: 2, id: 2}
  - {subject: $SUBJECT, version: 3, id: 3}
EOF
seam_expect 1 schema register --registry "$URL" --dir "$evolved"
check "an incompatible v3 is refused by the registry" grep -q "^$SUBJECT v3: REFUSED by the registry: HTTP 409" <<<"$OUT"
check "after the refusal the registry still has versions 1 and 2" \
        test "$(curl -sf "$URL/subjects/$SUBJECT/versions")" = "[1,2]"

python3 - "$V2" "$evolved/$SUBJECT/v3.avsc" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
s["fields"].append({"name": "coupon", "type": ["null", "string"], "default": None})
json.dump(s, open(sys.argv[2], "w"), indent=2)
EOF
seam_expect 0 schema register --registry "$URL" --dir "$evolved"
ID3=$(sed -n "s/^$SUBJECT v3: id \([0-9]*\)$/\1/p" <<<"$OUT")
check "a compatible v3 is registered (id $ID3)" test -n "$ID3"
seam_expect 0 schema check --reader "$evolved/$SUBJECT/v3.avsc" --registry "$URL" --subject "$SUBJECT" --all-versions
check "v3 reads all three versions" grep -q "^3 writer version(s) of $SUBJECT checked .*: 0 incompatible" <<<"$OUT"

# 6. registry down
cache=$E2E_DIR/registry-cache
seam_expect 0 schema get --registry "$URL" --id "$ID1" --cache-dir "$cache"
check "the disk cache has a file for id $ID1" test -f "$cache/id-$ID1.json"
e2e_stop "$APICURIO_PID" 30 TERM
check "Apicurio stopped" test "$E2E_STOP_TIMED_OUT" = 0
APICURIO_PID=
seam_expect 5 schema check --reader "$V2" --registry "$URL" --subject "$SUBJECT" --timeout-ms 1000
check "registry down: unreachable, not incompatible" grep -q "Couldn't connect\|Connection refused\|Failed to connect" <<<"$OUT"
seam_expect 5 schema get --registry "$URL" --id "$ID2" --timeout-ms 1000
seam_expect 0 schema get --registry "$URL" --id "$ID1" --cache-dir "$cache" --timeout-ms 1000
check "registry down: id $ID1 from the last-known-good cache" same_schema "$V1" "$(tail -n 1 <<<"$OUT")"
check "registry down: the cached id keeps its subject" grep -qx "registered as $SUBJECT v1" <<<"$OUT"

e2e_log "passed (Apicurio $APICURIO_VERSION: download ${APICURIO_FETCH_SECONDS}s, java install ${APICURIO_JAVA_SECONDS}s, start ${APICURIO_START_SECONDS}s)"
