# common.sh - shared helpers of the e2e test scripts (sourced; the scripts
# run under `set -euo pipefail`).
#
#   e2e_init NAME        work dir $E2E_DIR, EXIT trap that stops everything
#                        started here (seam children, Kafka), sources the
#                        other libs, sets E2E_TOOLS
#   e2e_require_seam     SEAM_BIN executable and recorder.so present, else FAIL
#   e2e_log MSG          progress line
#   e2e_fail MSG         "FAIL: MSG" and exit 1 (the trap prints log tails)
#   e2e_add_log FILE     show the tail of FILE if the test fails
#   e2e_spawn VAR LOG CMD...   start CMD in the background, output to LOG,
#                        its pid in VAR; it is killed by the EXIT trap
#   e2e_alive PID        the process runs (a zombie counts as exited)
#   e2e_wait_until DESC TIMEOUT_S CMD...   poll CMD every 0.1 s until it
#                        succeeds; FAIL naming DESC at the deadline
#   e2e_stop PID TIMEOUT_S SIGNAL   send SIGNAL, wait up to TIMEOUT_S,
#                        KILL after; sets E2E_STOP_RC to the exit status
#                        (E2E_STOP_TIMED_OUT=1 if it had to be killed)
#
# SEAM_E2E_KEEP=1 keeps the work dir after a passing run (a failing run
# always keeps it and prints where it is).

# shellcheck disable=SC2034 # E2E_* variables are read by the test scripts
E2E_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_TOOLS=$(cd "$E2E_LIB/../tools" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$E2E_LIB/kafka.sh"
# shellcheck source-path=SCRIPTDIR
source "$E2E_LIB/pyenv.sh"

E2E_PIDS=()
E2E_LOGS=()
E2E_DIR=
E2E_NAME=
E2E_T0=$(date +%s)

e2e_log() { printf '[%s +%ss] %s\n' "$E2E_NAME" "$(($(date +%s) - E2E_T0))" "$*"; }

e2e_fail() {
        printf '[%s] FAIL: %s\n' "$E2E_NAME" "$*" >&2
        exit 1
}

e2e_add_log() { E2E_LOGS+=("$1"); }

e2e_alive() {
        local state
        kill -0 "$1" 2>/dev/null || return 1
        state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
        [[ $state != Z ]]
}

e2e_spawn() {
        local -n _pid=$1
        local log=$2
        shift 2
        "$@" >"$log" 2>&1 </dev/null &
        _pid=$!
        E2E_PIDS+=("$_pid")
        e2e_add_log "$log"
}

e2e_stop() {
        local pid=$1 timeout=$2 sig=$3 deadline
        E2E_STOP_TIMED_OUT=0
        kill "-$sig" "$pid" 2>/dev/null || true
        deadline=$(($(date +%s) + timeout))
        while e2e_alive "$pid" && (($(date +%s) < deadline)); do
                sleep 0.1
        done
        if e2e_alive "$pid"; then
                E2E_STOP_TIMED_OUT=1
                kill -KILL "$pid" 2>/dev/null || true
        fi
        E2E_STOP_RC=0
        wait "$pid" 2>/dev/null || E2E_STOP_RC=$?
}

e2e_wait_until() {
        local desc=$1 timeout=$2 deadline
        shift 2
        deadline=$(($(date +%s) + timeout))
        until "$@"; do
                (($(date +%s) < deadline)) || e2e_fail "timed out after ${timeout} s waiting for: $desc"
                sleep 0.1
        done
}

_e2e_cleanup() {
        local rc=$1 pid f
        trap - EXIT
        set +e
        for pid in "${E2E_PIDS[@]}"; do
                e2e_alive "$pid" && e2e_stop "$pid" 10 TERM
        done
        if ((rc != 0)); then
                for f in "${E2E_LOGS[@]}"; do
                        [[ -s $f ]] || continue
                        printf '[%s] ---- last lines of %s ----\n' "$E2E_NAME" "$f" >&2
                        tail -n 25 "$f" >&2
                done
        fi
        kafka_stop
        if ((rc != 0)); then
                printf '[%s] FAILED (exit %d); files kept in %s\n' "$E2E_NAME" "$rc" "$E2E_DIR" >&2
        elif [[ -n ${SEAM_E2E_KEEP:-} ]]; then
                e2e_log "passed; files kept in $E2E_DIR"
        else
                rm -rf "$E2E_DIR"
        fi
        exit "$rc"
}

e2e_init() {
        E2E_NAME=$1
        E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/seam-e2e-$E2E_NAME.XXXXXX")
        trap '_e2e_cleanup $?' EXIT
        # A signal from ctest's timeout still stops the broker and seam.
        trap 'exit 130' INT
        trap 'exit 143' TERM
        e2e_log "work dir $E2E_DIR"
}

e2e_require_seam() {
        [[ -n ${SEAM_BIN:-} ]] || e2e_fail "SEAM_BIN is not set (run through ctest, or set it to the seam executable)"
        [[ -x $SEAM_BIN ]] || e2e_fail "SEAM_BIN=$SEAM_BIN is not an executable file"
        [[ -n ${SEAM_TEST_PLUGIN_DIR:-} ]] || e2e_fail "SEAM_TEST_PLUGIN_DIR is not set"
        [[ -f $SEAM_TEST_PLUGIN_DIR/recorder.so ]] ||
                e2e_fail "no recorder.so in SEAM_TEST_PLUGIN_DIR=$SEAM_TEST_PLUGIN_DIR (build the test plugins)"
}
