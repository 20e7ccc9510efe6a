# pyenv.sh - the Python side of the e2e tests: a venv with kafka-python (an
# client independent of librdkafka) and fastavro.
#
#   pyenv_setup   create or reuse $SEAM_CACHE/venv; exports SEAM_PY (its
#                 python). Returns non-zero with pip's output if it cannot.
#
# Debian's python3-kafka is too old for Kafka 4 (it needs kafka-python's 2.1
# protocol baseline), so it is never used: the venv does not see system
# site-packages.

SEAM_CACHE=${SEAM_CACHE:-$HOME/.cache/seam}
# kafka-python 3.0 reworked the admin API (list_consumer_group_offsets became
# list_group_offsets, ...); the tools are written against the 2.x API, so
# the major version is pinned and a 3.x venv is rebuilt.
SEAM_PY_REQUIREMENTS=('kafka-python>=2.1.4,<3' 'fastavro>=1.9,<2')

_pyenv_log() { printf '[pyenv] %s\n' "$*" >&2; }

_pyenv_ok() {
        [[ -x $1/bin/python ]] || return 1
        "$1/bin/python" - <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version
import kafka, fastavro  # noqa: F401
v = tuple(int(x) for x in version("kafka-python").split(".")[:3])
sys.exit(0 if (2, 1, 4) <= v < (3, 0, 0) else 1)
PYEOF
}

pyenv_setup() {
        local venv=$SEAM_CACHE/venv lock rc=0
        mkdir -p "$SEAM_CACHE"
        # Parallel ctest runs share the venv: one installer at a time.
        exec {lock}>"$SEAM_CACHE/venv.lock"
        flock "$lock"
        if ! _pyenv_ok "$venv"; then
                _pyenv_log "creating $venv (pip cache $SEAM_CACHE/pip)"
                rm -rf "$venv"
                python3 -m venv "$venv" || rc=$?
                if ((rc == 0)); then
                        "$venv/bin/python" -m pip install -q --disable-pip-version-check \
                                --cache-dir "$SEAM_CACHE/pip" "${SEAM_PY_REQUIREMENTS[@]}" \
                                >"$SEAM_CACHE/venv-install.log" 2>&1 || rc=$?
                fi
                if ((rc != 0)) || ! _pyenv_ok "$venv"; then
                        _pyenv_log "FAILED to set up $venv; last lines of $SEAM_CACHE/venv-install.log:"
                        tail -n 30 "$SEAM_CACHE/venv-install.log" >&2 || true
                        exec {lock}>&-
                        return 1
                fi
        fi
        exec {lock}>&-
        export SEAM_PY=$venv/bin/python
        _pyenv_log "$("$SEAM_PY" -c 'import kafka, fastavro; print("kafka-python", kafka.__version__, "fastavro", fastavro.__version__)')"
}
