#!/usr/bin/env bash
# test.sh - quick start 2: install dependencies and run the whole test suite:
#   1. build with -Wall -Wextra -Werror; unit, integration (embedded broker)
#      and e2e (real Kafka, Apicurio Registry, PostgreSQL started by the
#      test scripts on 127.0.0.1) tiers;
#   2. an ASan+UBSan build; unit and integration tiers again;
#   3. a clang build of the libFuzzer targets, each run for
#      SEAM_FUZZ_SECONDS (default 60) under ASan+UBSan.
# Environment: SEAM_TEST_TIERS="build asan fuzz" to run a subset.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash scripts/install-deps.sh test || exit 1

tiers=${SEAM_TEST_TIERS:-build asan fuzz}
logdir=${SEAM_TEST_LOGS:-$root/build-logs}
mkdir -p "$logdir"
passed=0
failed=0
failures=()

# run_ctest NAME BUILD_DIR CTEST_ARGS... : runs ctest, adds its counts.
run_ctest() {
        local name=$1 dir=$2
        shift 2
        echo "=== $name: ctest $*"
        (cd "$dir" && ctest --output-on-failure "$@") 2>&1 | tee "$logdir/$name.log"
        local line total fails
        line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$logdir/$name.log" | tail -n1)
        if [ -z "$line" ]; then
                if grep -q "No tests were found" "$logdir/$name.log"; then
                        echo "=== $name: no tests found: that is a failure of the suite"
                fi
                failed=$((failed + 1))
                failures+=("$name (ctest did not finish)")
                return
        fi
        total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
        fails=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
        passed=$((passed + total - fails))
        failed=$((failed + fails))
        [ "$fails" -eq 0 ] || failures+=("$name: $fails failed")
}

build() {
        local dir=$1
        shift
        echo "=== configure $dir: $*"
        cmake -S "$root" -B "$dir" "$@" >"$logdir/$(basename "$dir")-configure.log" 2>&1 ||
                { cat "$logdir/$(basename "$dir")-configure.log"; return 1; }
        echo "=== build $dir"
        local log="$logdir/$(basename "$dir")-build.log"
        if ! cmake --build "$dir" -j2 >"$log" 2>&1; then
                grep -E "error|Error" "$log" | head -n 40
                return 1
        fi
}

if [[ " $tiers " == *" build "* ]]; then
        if build "$root/build-test" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEAM_WERROR=ON; then
                run_ctest unit "$root/build-test" -L unit -j2
                run_ctest integration "$root/build-test" -L integration
                run_ctest e2e "$root/build-test" -L e2e
        else
                failed=$((failed + 1)); failures+=("build with -Werror")
        fi
fi

if [[ " $tiers " == *" asan "* ]]; then
        if build "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DSEAM_SANITIZE=ON -DSEAM_WERROR=ON; then
                export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
                export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
                run_ctest asan-unit "$root/build-asan" -L unit -j2
                run_ctest asan-integration "$root/build-asan" -L integration
                unset ASAN_OPTIONS UBSAN_OPTIONS
        else
                failed=$((failed + 1)); failures+=("sanitizer build")
        fi
fi

if [[ " $tiers " == *" fuzz "* ]]; then
        if build "$root/build-fuzz" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DSEAM_FUZZ=ON; then
                run_ctest fuzz "$root/build-fuzz" -L fuzz
        else
                failed=$((failed + 1)); failures+=("fuzz build")
        fi
fi

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
