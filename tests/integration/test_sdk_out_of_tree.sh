#!/usr/bin/env bash
# test_sdk_out_of_tree - a plugin builds in its own folder against an
# installed Seam, with no access to the source tree, and runs under `seam`:
#
#   1. `cmake --install $SEAM_BUILD_DIR --prefix $TMP/stage` puts in place
#      the headers, bin/seam, lib/seam/plugins, share/seam/schemas, the CMake
#      package lib/cmake/Seam and lib/pkgconfig/seam.pc;
#   2. a plugin project in a fresh folder outside the repository builds with
#      find_package(Seam) + seam_add_consumer() (CMAKE_PREFIX_PATH=stage),
#      exporting only seam_plugin_entry; find_package refuses an
#      incompatible version request;
#   3. the same source builds with plain `cc -shared -fPIC $(pkg-config
#      --cflags seam)` against a COPY of the install moved elsewhere (the
#      package and seam.pc are relocatable);
#   4. the staged `seam check-config` loads both (exit 0, each named in the
#      output) and type-checks their config blocks against their declared
#      keys (an unknown key is refused with exit 3);
#   5. the staged `seam run --embedded-broker` runs both for real: each
#      writes a marker on init() and appends to it on close(); once both
#      instances have their partition, SIGTERM: exit 0, both markers say
#      init then close.
#
# Needs SEAM_BUILD_DIR (a configured and built tree: `cmake --install`
# installs what it built) and SEAM_SOURCE_DIR, set by ctest.
set -euo pipefail

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

src=${SEAM_SOURCE_DIR:?SEAM_SOURCE_DIR is not set (run through ctest)}
build=${SEAM_BUILD_DIR:?SEAM_BUILD_DIR is not set (run through ctest)}
for tool in cmake cc pkg-config nm; do
        command -v "$tool" >/dev/null || fail "$tool is not installed"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/seam-sdk-XXXXXX")
run_pid=
cleanup() {
        if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
                kill -KILL "$run_pid" 2>/dev/null || true
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT
case $tmp/ in
"$src"/*) fail "the temporary folder $tmp is inside the source tree; set TMPDIR elsewhere" ;;
esac

# --- 1. install --------------------------------------------------------------
stage=$tmp/stage
cmake --install "$build" --prefix "$stage" >"$tmp/install.log" 2>&1 ||
        { cat "$tmp/install.log" >&2; fail "cmake --install $build --prefix $stage failed (is the tree fully built?)"; }
for f in include/seam/plugin.h bin/seam lib/seam/plugins/order_audit.so \
        share/seam/schemas/manifest.yaml lib/cmake/Seam/SeamConfig.cmake \
        lib/cmake/Seam/SeamConfigVersion.cmake lib/cmake/Seam/SeamConsumer.cmake \
        lib/pkgconfig/seam.pc; do
        [ -e "$stage/$f" ] || fail "the install has no $f"
done
[ -x "$stage/bin/seam" ] || fail "$stage/bin/seam is not executable"
cmp -s "$src/framework/include/seam/plugin.h" "$stage/include/seam/plugin.h" ||
        fail "the installed seam/plugin.h differs from the source"
seam=$stage/bin/seam

# --- the plugin's own repository: one C file, one CMake call ----------------
proj=$tmp/probe
mkdir -p "$proj"
cat >"$proj/probe.c" <<'EOF'
/* A plugin written against the installed SDK only: it records init() and
 * close() in the file named by its `marker` key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <seam/plugin.h>

#ifndef PROBE_NAME
#define PROBE_NAME "sdk_probe"
#endif

struct probe {
        char *marker;
};

static const struct seam_config_key probe_keys[] = {
        {"marker", SEAM_CONFIG_STRING, NULL, 1, "file written on init and close"},
        {NULL, 0, NULL, 0, NULL},
};

static int append(const char *path, const char *what)
{
        FILE *f = fopen(path, "a");
        if (!f)
                return -1;
        fprintf(f, "%s %s\n", what, PROBE_NAME);
        return fclose(f);
}

static int probe_init(seam_ctx *ctx, const struct seam_host_api *api, void **state)
{
        const char *marker = NULL;
        struct probe *p = calloc(1, sizeof(*p));
        if (!p || api->config_string(ctx, "marker", &marker) != 0 || append(marker, "init") != 0) {
                api->log(ctx, NULL, SEAM_LOG_ERROR, "cannot write the marker");
                free(p);
                return -1;
        }
        p->marker = malloc(strlen(marker) + 1);
        if (!p->marker) {
                free(p);
                return -1;
        }
        memcpy(p->marker, marker, strlen(marker) + 1);
        api->log(ctx, NULL, SEAM_LOG_INFO, "probe %s initialised", PROBE_NAME);
        *state = p;
        return 0;
}

static seam_result probe_handle(void *state, const seam_msg *msg)
{
        return SEAM_OK;
}

static void probe_close(void *state)
{
        struct probe *p = state;
        if (!p)
                return;
        append(p->marker, "close");
        free(p->marker);
        free(p);
}

static const struct seam_plugin probe_plugin = {
        SEAM_PLUGIN_HEADER,
        .name = PROBE_NAME,
        .version = "1.0.0",
        .config_keys = probe_keys,
        .init = probe_init,
        .handle = probe_handle,
        .close = probe_close,
};

SEAM_PLUGIN_DEFINE(probe_plugin)
EOF

cat >"$proj/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(sdk_probe LANGUAGES C)
find_package(Seam 0.1 REQUIRED)
seam_add_consumer(sdk_probe_cmake SOURCES probe.c)
target_compile_definitions(sdk_probe_cmake PRIVATE PROBE_NAME="sdk_probe_cmake")
target_compile_options(sdk_probe_cmake PRIVATE -Wall -Wextra -Werror -Wno-unused-parameter)
if(NOT TARGET Seam::headers OR NOT TARGET Seam::seam)
  message(FATAL_ERROR "find_package(Seam) gave no Seam::headers / Seam::seam")
endif()
if(NOT SEAM_ABI_VERSION STREQUAL "${EXPECTED_ABI}")
  message(FATAL_ERROR "SEAM_ABI_VERSION is '${SEAM_ABI_VERSION}', expected '${EXPECTED_ABI}'")
endif()
EOF

abi_major=$(sed -n 's/^#define SEAM_ABI_MAJOR \([0-9]*\)$/\1/p' "$src/framework/include/seam/plugin.h")
abi_minor=$(sed -n 's/^#define SEAM_ABI_MINOR \([0-9]*\)$/\1/p' "$src/framework/include/seam/plugin.h")

# --- 2. CMake: find_package(Seam) -------------------------------------------
cmake -S "$proj" -B "$proj/build" -DCMAKE_PREFIX_PATH="$stage" \
        -DEXPECTED_ABI="$abi_major.$abi_minor" >"$tmp/cmake.log" 2>&1 ||
        { cat "$tmp/cmake.log" >&2; fail "configuring the plugin with find_package(Seam) failed"; }
cmake --build "$proj/build" >"$tmp/build.log" 2>&1 ||
        { cat "$tmp/build.log" >&2; fail "building the plugin against the installed SDK failed"; }
so_cmake=$proj/build/sdk_probe_cmake.so
[ -f "$so_cmake" ] || fail "seam_add_consumer built no $so_cmake (no lib prefix, in the binary dir)"
exported=$(nm -D --defined-only "$so_cmake" | awk '$2 == "T" {print $3}')
[ "$exported" = seam_plugin_entry ] ||
        fail "the CMake-built plugin exports '$(tr '\n' ' ' <<<"$exported")', expected only seam_plugin_entry"
cmake --install "$proj/build" --prefix "$tmp/plugin-prefix" >/dev/null ||
        fail "cmake --install of the plugin project failed"
[ -f "$tmp/plugin-prefix/lib/seam/plugins/sdk_probe_cmake.so" ] ||
        fail "the plugin project does not install into lib/seam/plugins"

# A version request the install cannot satisfy is refused at configure time.
mkdir -p "$tmp/toonew"
cat >"$tmp/toonew/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(toonew LANGUAGES C)
find_package(Seam 99.0 REQUIRED)
EOF
if cmake -S "$tmp/toonew" -B "$tmp/toonew/build" -DCMAKE_PREFIX_PATH="$stage" >"$tmp/toonew.log" 2>&1; then
        fail "find_package(Seam 99.0) succeeded against Seam $("$seam" version)"
fi
grep -q "SeamConfigVersion.cmake\|version" "$tmp/toonew.log" ||
        fail "find_package(Seam 99.0) failed without naming the version: $(cat "$tmp/toonew.log")"

# --- 3. pkg-config, against a relocated copy of the install ------------------
moved=$tmp/relocated/opt/seam
mkdir -p "$(dirname "$moved")"
cp -a "$stage" "$moved"
export PKG_CONFIG_PATH=$moved/lib/pkgconfig
cflags=$(pkg-config --cflags seam) || fail "pkg-config --cflags seam failed"
case $cflags in
*"$moved"*) ;;
*) fail "seam.pc is not relocatable: cflags '$cflags' do not point into $moved" ;;
esac
plugindir=$(pkg-config --variable=plugindir seam)
[ -f "$plugindir/order_audit.so" ] || fail "pkg-config plugindir '$plugindir' holds no order_audit.so"
[ "$(pkg-config --modversion seam)" = "$("$seam" version | awk '{print $2}')" ] ||
        fail "seam.pc version $(pkg-config --modversion seam) differs from '$("$seam" version)'"
so_pc=$tmp/pc/sdk_probe_pc.so
mkdir -p "$tmp/pc"
# shellcheck disable=SC2086 # cflags is a list of flags
cc -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter -shared -fPIC -fvisibility=hidden \
        -DPROBE_NAME='"sdk_probe_pc"' $cflags -o "$so_pc" "$proj/probe.c" ||
        fail "cc with \$(pkg-config --cflags seam) failed"

# --- 4. check-config loads both ----------------------------------------------
mkcfg() { # $1 file, $2 extra config line for the first consumer
        cat >"$1" <<EOF
seam:
  embedded_topics:
    - {name: sdk.probe, partitions: 1}
  shutdown_timeout_ms: 10000
  log_format: logfmt
consumers:
  - name: probe-cmake
    plugin: $so_cmake
    topics: [sdk.probe]
    format: raw
    config:
      marker: $tmp/marker-cmake
$2
  - name: probe-pc
    plugin: $so_pc
    topics: [sdk.probe]
    format: raw
    config:
      marker: $tmp/marker-pc
EOF
}
mkcfg "$tmp/cfg.yaml" ""
out=$("$seam" check-config -c "$tmp/cfg.yaml" --embedded-broker 2>&1) ||
        fail "seam check-config refused the out-of-tree plugins (exit $?): $out"
for name in sdk_probe_cmake sdk_probe_pc; do
        grep -q "$name" <<<"$out" || fail "check-config output does not name $name: $out"
done
mkcfg "$tmp/bad.yaml" "      colour: blue"
set +e
out=$("$seam" check-config -c "$tmp/bad.yaml" --embedded-broker 2>&1)
code=$?
set -e
[ "$code" -eq 3 ] || fail "an undeclared plugin key was not refused with exit 3 (got $code): $out"
grep -q colour <<<"$out" || fail "the refusal does not name the unknown key: $out"
[ ! -e "$tmp/marker-cmake" ] || fail "check-config called init()"

# --- 5. run for real on the embedded broker ----------------------------------
"$seam" run -c "$tmp/cfg.yaml" --embedded-broker >"$tmp/run.log" 2>&1 &
run_pid=$!
deadline=$((SECONDS + 60))
until [ -s "$tmp/marker-cmake" ] && [ -s "$tmp/marker-pc" ]; do
        if ! kill -0 "$run_pid" 2>/dev/null; then
                cat "$tmp/run.log" >&2
                fail "seam run exited before both plugins were initialised"
        fi
        [ $SECONDS -lt $deadline ] || { cat "$tmp/run.log" >&2; fail "no init marker within 60 s"; }
        sleep 0.1
done
# Initialised is not yet consuming: wait until both instances got their
# partition from the embedded broker (one "assigned" line each).
until [ "$(grep -c 'assigned [1-9]' "$tmp/run.log")" -ge 2 ]; do
        if ! kill -0 "$run_pid" 2>/dev/null; then
                cat "$tmp/run.log" >&2
                fail "seam run exited before both consumers were assigned their partition"
        fi
        [ $SECONDS -lt $deadline ] ||
                { cat "$tmp/run.log" >&2; fail "the consumers got no partition within 60 s"; }
        sleep 0.1
done
kill -TERM "$run_pid"
set +e
wait "$run_pid"
code=$?
set -e
run_pid=
[ "$code" -eq 0 ] || { cat "$tmp/run.log" >&2; fail "seam run exited $code after SIGTERM, expected 0"; }
for m in cmake pc; do
        want=$(printf 'init sdk_probe_%s\nclose sdk_probe_%s' "$m" "$m")
        [ "$(cat "$tmp/marker-$m")" = "$want" ] ||
                fail "marker-$m is '$(cat "$tmp/marker-$m")', expected init then close of sdk_probe_$m"
done
echo "PASS: out-of-tree plugins built with find_package(Seam) and pkg-config, loaded and run"
