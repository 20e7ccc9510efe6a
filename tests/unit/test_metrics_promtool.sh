#!/usr/bin/env bash
# test_metrics_promtool - a representative scrape of the metrics registry
# (written by `unit_test_metrics --dump FILE`) must pass
# `promtool check metrics`: the text format parses and the lint (counter
# suffixes, help text, units) is clean.
#
# Needs promtool (Debian package `prometheus`); missing is a FAILURE, not a
# skip, so a CI image without it cannot pass silently. Builds nothing: build
# the unit_test_metrics target first.
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1; then
        echo "FAIL: promtool not found; install it with: apt-get install -y prometheus" >&2
        exit 1
fi

build_dir=${SEAM_BUILD_DIR:-}
if [[ -z $build_dir ]]; then
        echo "FAIL: SEAM_BUILD_DIR is not set (run through ctest)" >&2
        exit 1
fi

# tests/CMakeLists.txt builds unit tests into the tests/ binary dir; look
# there first, then anywhere in the build tree.
bin=""
for cand in "$build_dir/tests/unit_test_metrics" "$build_dir/unit_test_metrics"; do
        if [[ -x $cand ]]; then
                bin=$cand
                break
        fi
done
if [[ -z $bin ]]; then
        bin=$(find "$build_dir" -type f -name unit_test_metrics -perm -u+x -print -quit 2>/dev/null || true)
fi
if [[ -z $bin ]]; then
        echo "FAIL: unit_test_metrics not found under $build_dir; build the target unit_test_metrics" >&2
        exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/seam-promtool-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$bin" --dump "$tmp/scrape.txt"
if [[ ! -s $tmp/scrape.txt ]]; then
        echo "FAIL: $bin --dump wrote nothing" >&2
        exit 1
fi
# Make sure the sample covers what promtool must see: every type, escaped
# labels and the special float values.
for want in '# TYPE seam_consumer_messages_total counter' \
        '# TYPE seam_partition_lag_messages gauge' \
        '# TYPE seam_handler_duration_seconds histogram' \
        'le="+Inf"' 'seam_build_info{version=' '} NaN' '} +Inf' '} -Inf' '\"c\nd'; do
        if ! grep -qF -- "$want" "$tmp/scrape.txt"; then
                echo "FAIL: the scrape lacks: $want" >&2
                exit 1
        fi
done

if ! out=$(promtool check metrics <"$tmp/scrape.txt" 2>&1); then
        echo "FAIL: promtool check metrics rejected the scrape:" >&2
        echo "$out" >&2
        echo "--- scrape ---" >&2
        cat "$tmp/scrape.txt" >&2
        exit 1
fi
echo "ok: promtool check metrics accepts the scrape ($(wc -l <"$tmp/scrape.txt") lines)"
