#!/usr/bin/env bash
# run_real_kafka.sh - run bench_consume against a real Apache Kafka: a
# single-node KRaft broker on 127.0.0.1, started and stopped here with
# tests/e2e/lib/kafka.sh (jars cached under ~/.cache/seam, see
# tests/e2e/README.md).
#
# usage: tests/bench/run_real_kafka.sh [--build DIR] [bench_consume options]
#
#   --build DIR   the CMake build dir holding bench/bench_consume, seam and
#                 test-plugins/noop.so (default: $SEAM_BUILD_DIR, else build/)
#   anything else is passed to bench_consume (e.g. --messages 1000000 --runs 5);
#   --bootstrap is set by this script.
#
# The broker's files (kafka.log) are kept when something fails, else removed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${SEAM_BUILD_DIR:-$src/build}
args=()
while (($#)); do
        case $1 in
        --build) build=${2:?--build DIR}; shift 2 ;;
        --build=*) build=${1#--build=}; shift ;;
        --bootstrap | --bootstrap=*)
                echo "run_real_kafka.sh: --bootstrap is set by this script" >&2
                exit 2 ;;
        *) args+=("$1"); shift ;;
        esac
done

bench=$build/bench/bench_consume
if [[ ! -x $bench ]]; then
        echo "run_real_kafka.sh: $bench not found; build it first:" >&2
        echo "  cmake --build $build -j2 --target bench_consume seam noop" >&2
        exit 1
fi

# shellcheck source-path=SCRIPTDIR source=../e2e/lib/kafka.sh
source "$src/tests/e2e/lib/kafka.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/seam-bench-kafka.XXXXXX")
cleanup() {
        local rc=$?
        trap - EXIT
        kafka_stop
        if ((rc == 0)); then
                rm -rf "$work"
        else
                echo "run_real_kafka.sh: failed (exit $rc); broker files kept in $work" >&2
        fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

kafka_start "$work/kafka"
echo "run_real_kafka.sh: Apache Kafka $KAFKA_VERSION at $KAFKA_BOOTSTRAP"
# Not exec: the EXIT trap must stop the broker afterwards.
"$bench" --bootstrap "$KAFKA_BOOTSTRAP" "${args[@]}"
