#!/usr/bin/env bash
# test_plugin_new - `seam plugin new NAME --schema FILE.avsc` writes a plugin
# folder that compiles, builds against the installed SDK and passes its own
# offline test unchanged:
#
#   - usage and schema errors exit 2 and 3 with a message naming the
#     problem; an existing folder is refused (exit 1) without --force and
#     left untouched; --force rewrites only the generated files;
#   - from a schema with every Avro type (optional fields, nested and
#     recursive records, arrays, maps, unions, enums referenced by name,
#     fixed, bytes, logical types, field names that are C keywords or clash
#     with derived member names): NAME.c passes cc -fsyntax-only with strict
#     warnings against framework/include; README lists the config keys and
#     every field; NAME.avsc is the schema byte for byte; seam.yaml derives
#     the topic from --subject;
#   - the folder builds with CMake against a staged install
#     (CMAKE_PREFIX_PATH), the plugin exports only seam_plugin_entry, and
#     the staged `seam check-config` accepts the generated seam.yaml; the
#     same folder also builds inside a Seam source tree (consumers/NAME, as
#     docker/Dockerfile.plugins does);
#   - when `seam plugin test` exists: the generated test passes unchanged
#     (ctest in the generated build, which runs the staged seam), for the
#     every-type schema and the demo's order schema; and it FAILS when the
#     consumer decodes into a reader schema missing a field (the generated
#     code returns FATAL), so the test cannot pass vacuously.
#
# Needs SEAM_BIN, SEAM_SOURCE_DIR and SEAM_BUILD_DIR (a built tree), set by
# ctest.
set -euo pipefail

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

seam=${SEAM_BIN:?SEAM_BIN is not set (run through ctest)}
src=${SEAM_SOURCE_DIR:?SEAM_SOURCE_DIR is not set (run through ctest)}
build=${SEAM_BUILD_DIR:?SEAM_BUILD_DIR is not set (run through ctest)}
for tool in cmake cc nm cmp; do
        command -v "$tool" >/dev/null || fail "$tool is not installed"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/seam-plugin-new-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# expect CODE CMD...: runs CMD, which must exit CODE; its stderr is in $err.
expect() {
        local want=$1
        shift
        set +e
        "$@" >"$tmp/out" 2>"$tmp/err"
        local got=$?
        set -e
        err=$(cat "$tmp/err")
        [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want; stderr: $err"
}

"$seam" plugin new --help >/dev/null || fail "seam plugin new --help failed"

# --- a schema with every type ----------------------------------------------
schema=$tmp/every_type.avsc
cat >"$schema" <<'EOF'
{"type": "record", "name": "EveryType", "namespace": "test.scaffold",
 "doc": "Every Avro type */ a comment terminator and | a pipe\nover two lines",
 "fields": [
  {"name": "id", "type": "string", "doc": "the business key */ with a | pipe\nover two lines"},
  {"name": "id_len", "type": "string", "doc": "clashes with the length member of id"},
  {"name": "int", "type": "int", "doc": "a C keyword"},
  {"name": "linux", "type": "long", "doc": "a macro gcc predefines"},
  {"name": "ratio", "type": "float"},
  {"name": "amount", "type": "double"},
  {"name": "active", "type": "boolean"},
  {"name": "nothing", "type": "null"},
  {"name": "blob", "type": "bytes"},
  {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
  {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"]}},
  {"name": "second_colour", "type": "Colour"},
  {"name": "note", "type": ["null", "string"], "default": null},
  {"name": "count_or_null", "type": ["long", "null"]},
  {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
     {"name": "city", "type": "string"},
     {"name": "next", "type": ["null", "Address"], "default": null}]}},
  {"name": "maybe_address", "type": ["null", "Address"], "default": null},
  {"name": "tags", "type": {"type": "array", "items": "string"}},
  {"name": "attributes", "type": {"type": "map", "values": "long"}},
  {"name": "either", "type": ["int", "string", "Colour"]},
  {"name": "created_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "day", "type": {"type": "int", "logicalType": "date"}}
 ]}
EOF
fields=$(grep -o '"name": "[a-z_]*", "type"' "$schema" | sed 's/"name": "\([a-z_]*\)".*/\1/' | grep -v '^city$\|^next$')

# --- argument and schema errors ---------------------------------------------
cd "$tmp"
expect 2 "$seam" plugin new
grep -q "NAME" <<<"$err" || fail "a missing NAME is not explained: $err"
expect 2 "$seam" plugin new Payment --schema "$schema"
grep -q "Payment" <<<"$err" || fail "a bad name is not named: $err"
expect 2 "$seam" plugin new pay-ment --schema "$schema"
expect 2 "$seam" plugin new for --schema "$schema"
expect 2 "$seam" plugin new seam_sink --schema "$schema"
expect 2 "$seam" plugin new payments
grep -q -- "--schema" <<<"$err" || fail "a missing --schema is not explained: $err"
expect 2 "$seam" plugin new payments --schema "$schema" --version 0
expect 2 "$seam" plugin new payments --schema "$schema" --topic "bad topic"
expect 3 "$seam" plugin new payments --schema "$tmp/missing.avsc"
grep -q "missing.avsc" <<<"$err" || fail "an unreadable schema is not named: $err"
echo '{"type": "record", "name": "Broken", "fields": [' >"$tmp/broken.avsc"
expect 3 "$seam" plugin new payments --schema "$tmp/broken.avsc"
grep -q "not a valid Avro schema" <<<"$err" || fail "a bad schema is not explained: $err"
echo '{"type": "array", "items": "string"}' >"$tmp/array.avsc"
expect 3 "$seam" plugin new payments --schema "$tmp/array.avsc"
grep -q "record" <<<"$err" || fail "a non-record schema is not explained: $err"
echo '{"type": "record", "name": "Empty", "fields": []}' >"$tmp/empty.avsc"
expect 3 "$seam" plugin new payments --schema "$tmp/empty.avsc"
touch "$tmp/a-file"
expect 1 "$seam" plugin new payments --schema "$schema" --dir "$tmp/a-file"
[ ! -e payments ] || fail "a failed run left ./payments behind"

# --- generate ---------------------------------------------------------------
expect 0 "$seam" plugin new every_type --schema "$schema" --dir "$tmp/work"
p=$tmp/work/every_type
for f in every_type.c CMakeLists.txt README.md every_type.avsc seam.yaml \
        test/every_type_test.sh test/input.jsonl test/expected.txt; do
        [ -s "$p/$f" ] || fail "no $f in the generated folder"
        grep -qF "$f" "$tmp/out" || grep -qF "${f#test/}" "$tmp/out" || fail "the summary does not list $f"
done
for left in "$tmp/work"/.every_type*; do
        [ ! -e "$left" ] || fail "a temporary folder was left behind: $left"
done
cmp -s "$schema" "$p/every_type.avsc" || fail "every_type.avsc is not a copy of the schema"
[ -x "$p/test/every_type_test.sh" ] || fail "the generated test script is not executable"
# shellcheck disable=SC2016 # backquotes are Markdown here
grep -q '^| `log_records` | bool | `false` |' "$p/README.md" ||
        fail "README.md does not list the config key log_records"
grep -q '"log_records", SEAM_CONFIG_BOOL' "$p/every_type.c" ||
        fail "the README's key is not the one the source declares"
for f in $fields; do
        grep -q "^| \`$f\` |" "$p/README.md" || fail "README.md does not list field $f"
        grep -q "avro_value_get_by_name(v, \"$f\"" "$p/every_type.c" || fail "every_type.c does not read field $f"
done
# A doc with a comment terminator, a pipe and a newline stays one table row
# (and one comment: the compile below would fail otherwise).
# shellcheck disable=SC2016 # backquotes are Markdown here
grep -qF '| `id` | string | the business key +/ with a \| pipe over two lines |' "$p/README.md" ||
        fail "the doc of field id is not one escaped README row: $(grep -F '| `id` |' "$p/README.md")"

# The defaults of the sample config follow the subject.
expect 0 "$seam" plugin new order_sync --schema "$src/schemas/demo.orders-value/v2.avsc" \
        --dir "$tmp/work" --subject demo.orders-value --version 2
grep -q 'topics: \[demo.orders\]' "$tmp/work/order_sync/seam.yaml" ||
        fail "the topic is not derived from the subject demo.orders-value"
grep -q 'subjects: \[demo.orders-value\]' "$tmp/work/order_sync/seam.yaml" ||
        fail "seam.yaml does not accept the given subject"
grep -q 'reader_file: order_sync.avsc' "$tmp/work/order_sync/seam.yaml" ||
        fail "seam.yaml does not read with the plugin's own schema"

# --- an existing folder -------------------------------------------------------
before=$(cat "$p/every_type.c")
expect 1 "$seam" plugin new every_type --schema "$schema" --dir "$tmp/work"
grep -q -- "--force" <<<"$err" || fail "refusing an existing folder does not mention --force: $err"
[ "$(cat "$p/every_type.c")" = "$before" ] || fail "a refused run changed every_type.c"
echo "mine" >"$p/NOTES.md"
echo "/* edited */" >>"$p/every_type.c"
expect 0 "$seam" plugin new every_type --schema "$schema" --dir "$tmp/work" --force
[ "$(cat "$p/every_type.c")" = "$before" ] || fail "--force did not rewrite every_type.c"
[ "$(cat "$p/NOTES.md")" = mine ] || fail "--force touched a file it does not generate"
rm "$p/NOTES.md"

# --- it compiles ----------------------------------------------------------------
for std in c11 gnu11; do
        cc -std=$std -fsyntax-only -Wall -Wextra -Wshadow -Wstrict-prototypes -Wpedantic -Werror \
                -I "$src/framework/include" "$p/every_type.c" ||
                fail "every_type.c does not compile cleanly (-std=$std)"
done
cc -std=c11 -fsyntax-only -Wall -Wextra -Werror -I "$src/framework/include" \
        "$tmp/work/order_sync/order_sync.c" || fail "order_sync.c does not compile cleanly"

# --- it builds against the staged install --------------------------------------
stage=$tmp/stage
cmake --install "$build" --prefix "$stage" >"$tmp/install.log" 2>&1 ||
        { cat "$tmp/install.log" >&2; fail "cmake --install $build failed (is the tree fully built?)"; }
for name in every_type order_sync; do
        dir=$tmp/work/$name
        cmake -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$stage" \
                -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >"$tmp/cmake.log" 2>&1 ||
                { cat "$tmp/cmake.log" >&2; fail "configuring the generated $name failed"; }
        cmake --build "$dir/build" >"$tmp/build.log" 2>&1 ||
                { cat "$tmp/build.log" >&2; fail "building the generated $name failed"; }
        [ -f "$dir/build/$name.so" ] || fail "the generated project built no build/$name.so"
        exported=$(nm -D --defined-only "$dir/build/$name.so" | awk '$2 == "T" {print $3}')
        [ "$exported" = seam_plugin_entry ] ||
                fail "$name.so exports '$(tr '\n' ' ' <<<"$exported")', expected only seam_plugin_entry"
        # The sample config is valid as written: plugin found on its
        # plugin_path, config block checked against the declared keys.
        (cd "$dir" && "$stage/bin/seam" check-config -c seam.yaml) >"$tmp/check.log" 2>&1 ||
                { cat "$tmp/check.log" >&2; fail "seam check-config refuses the generated seam.yaml of $name"; }
done

# --- and inside a Seam tree, where docker/Dockerfile.plugins builds it ----------
# (a copy of the sources the top-level CMakeLists.txt needs; tests off)
tree=$tmp/tree
mkdir -p "$tree"
cp -r "$src/CMakeLists.txt" "$src/cmake" "$src/framework" "$src/consumers" "$src/schemas" "$tree/"
rm -rf "$tree/consumers/every_type"
cp -r "$p" "$tree/consumers/every_type"
rm -rf "$tree/consumers/every_type/build"
cmake -S "$tree" -B "$tree/build" -DSEAM_BUILD_TESTS=OFF >"$tmp/tree.log" 2>&1 ||
        { cat "$tmp/tree.log" >&2; fail "a Seam tree with the generated folder in consumers/ does not configure"; }
cmake --build "$tree/build" --target every_type >>"$tmp/tree.log" 2>&1 ||
        { cat "$tmp/tree.log" >&2; fail "the generated folder does not build inside a Seam tree"; }
[ -f "$tree/build/plugins/every_type.so" ] || fail "in-tree, every_type.so is not in build/plugins"

# --- its test passes unchanged (when the offline harness exists) ---------------
if ! "$stage/bin/seam" plugin test --help >/dev/null 2>&1; then
        echo "SKIP (partly): this seam has no \`seam plugin test\`; the generated tests were not run"
        echo "PASS: generated plugins compile and build against the installed SDK"
        exit 0
fi
for name in every_type order_sync; do
        (cd "$tmp/work/$name/build" && ctest --output-on-failure) >"$tmp/ctest.log" 2>&1 ||
                { cat "$tmp/ctest.log" >&2; fail "the generated test of $name does not pass"; }
        grep -q "100% tests passed, 0 tests failed out of 1" "$tmp/ctest.log" ||
                { cat "$tmp/ctest.log" >&2; fail "the generated ctest of $name ran no test"; }
done
# The script alone (as a team's CI would call it), with the seam on SEAM_BIN.
(cd "$tmp" && SEAM_BIN=$stage/bin/seam sh "$p/test/every_type_test.sh" "$p/build/every_type.so") \
        >"$tmp/direct.log" 2>&1 ||
        { cat "$tmp/direct.log" >&2; fail "test/every_type_test.sh fails when run directly"; }
{ grep -q "^0 OK" "$tmp/direct.log" && grep -q "^1 OK" "$tmp/direct.log"; } ||
        fail "the generated test did not report both records OK: $(cat "$tmp/direct.log")"

# It can fail: a consumer decoding into a reader schema where `ratio` is a
# double, not the float the code was generated for, makes the generated
# code stop with FATAL naming the field, and the test says so. (The input
# is encoded with the reader schema too, so it still encodes.)
neg=$tmp/neg
cp -a "$p" "$neg"
sed 's/{"name": "ratio", "type": "float"}/{"name": "ratio", "type": "double"}/' "$schema" >"$neg/other.avsc"
grep -q '"ratio", "type": "double"' "$neg/other.avsc" || fail "could not change the type of ratio"
sed -i 's/reader_file: every_type.avsc/reader_file: other.avsc/' "$neg/seam.yaml"
grep -q 'reader_file: other.avsc' "$neg/seam.yaml" || fail "could not point the copy at other.avsc"
set +e
SEAM_BIN=$stage/bin/seam sh "$neg/test/every_type_test.sh" "$p/build/every_type.so" >"$tmp/neg.log" 2>&1
code=$?
set -e
[ "$code" -ne 0 ] || { cat "$tmp/neg.log" >&2; fail "the generated test passed with another reader schema"; }
grep -q "^0 FATAL.*ratio" "$tmp/neg.log" ||
        { cat "$tmp/neg.log" >&2; fail "the failure does not say FATAL and name the field ratio"; }

echo "PASS: seam plugin new writes plugins that compile, build out of tree and pass their test"
