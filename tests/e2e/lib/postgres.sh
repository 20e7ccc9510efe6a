# shellcheck shell=bash
# postgres.sh - a throwaway PostgreSQL server for the tests, on 127.0.0.1.
#
# Sourced by a test script (bash):
#
#   pg_start DIR     initdb DIR/data (unless it exists) and start the server
#                    on 127.0.0.1 on a free port (the previous one when DIR
#                    held a server before); exports PG_DSN (a libpq
#                    conninfo) and PG_PORT, sets PG_DIR; writes DIR/dsn.
#                    Returns non-zero after printing the server log tail if
#                    it does not come up.
#   pg_restart       pg_ctl restart -m fast (drops every client connection),
#                    then waits for readiness again
#   pg_stop          stop the server (pg_ctl -m fast, KILL by pid after a
#                    deadline); safe to call twice and from an EXIT trap
#
# Or run as a command (the C tests do this with system()):
#
#   bash postgres.sh start DIR      prints the DSN on stdout; the server keeps
#                                   running after the script exits
#   bash postgres.sh restart DIR
#   bash postgres.sh stop DIR
#
# The server keeps PostgreSQL's durability defaults (fsync=on,
# synchronous_commit=on): tests rely on COMMIT meaning "on disk". Only initdb
# runs with --no-sync, which skips fsyncing the template files it creates and
# changes nothing about the running server.
#
# As root, initdb and postgres refuse to run: the server then runs as the
# `postgres` system user (SEAM_PG_USER), and DIR is made traversable for it.
#
# Knobs: SEAM_PG_BIN (the folder with initdb/pg_ctl/postgres; default: the
# newest /usr/lib/postgresql/*/bin, else PATH), SEAM_PG_USER (default
# postgres, used only as root), SEAM_PG_START_TIMEOUT (seconds, default 60).

# shellcheck disable=SC2034 # PG_* variables are read by the test scripts
PG_DIR=
PG_PORT=
PG_DSN=

_pg_log() { printf '[postgres] %s\n' "$*" >&2; }

_pg_bin() {
        local d best=
        if [[ -n ${SEAM_PG_BIN:-} ]]; then
                printf '%s' "$SEAM_PG_BIN"
                return 0
        fi
        for d in /usr/lib/postgresql/*/bin; do
                [[ -x $d/initdb ]] && best+="$d"$'\n'
        done
        if [[ -n $best ]]; then
                printf '%s' "$best" | sort -V | tail -n 1
                return 0
        fi
        d=$(command -v initdb 2>/dev/null) || return 1
        dirname "$d"
}

# Run a PostgreSQL program as the user that owns the cluster.
_pg_as() {
        if (($(id -u) == 0)); then
                runuser -u "${SEAM_PG_USER:-postgres}" -- "$@"
        else
                "$@"
        fi
}

_pg_free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_pg_tail() {
        local log=$1
        if [[ -s $log ]]; then
                _pg_log "---- last lines of $log ----"
                tail -n 30 "$log" >&2
        fi
}

# Poll pg_isready until the server accepts connections or the deadline.
_pg_wait_ready() {
        local bin=$1 port=$2 timeout=$3 deadline
        deadline=$(($(date +%s) + timeout))
        until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -t 2; do
                if (($(date +%s) >= deadline)); then
                        return 1
                fi
                sleep 0.1
        done
}

_pg_load_state() {
        local dir=$1
        PG_DIR=$dir
        PG_PORT=$(cat "$dir/port" 2>/dev/null) || PG_PORT=
        PG_DSN=$(cat "$dir/dsn" 2>/dev/null) || PG_DSN=
}

pg_start() {
        local dir=${1:?pg_start DIR} bin user timeout try port log
        timeout=${SEAM_PG_START_TIMEOUT:-60}
        bin=$(_pg_bin) || { _pg_log "no PostgreSQL server binaries (initdb) found; apt-get install postgresql or set SEAM_PG_BIN"; return 1; }
        [[ -x $bin/initdb && -x $bin/pg_ctl && -x $bin/pg_isready ]] ||
                { _pg_log "$bin lacks initdb, pg_ctl or pg_isready"; return 1; }
        mkdir -p "$dir" || return 1
        dir=$(cd "$dir" && pwd)
        log=$dir/postgres.log
        if (($(id -u) == 0)); then
                user=${SEAM_PG_USER:-postgres}
                id -u "$user" >/dev/null 2>&1 ||
                        { _pg_log "running as root and there is no '$user' user to run the server as (set SEAM_PG_USER)"; return 1; }
                chmod 0755 "$dir" || return 1
                if ! runuser -u "$user" -- test -x "$dir"; then
                        _pg_log "user '$user' cannot reach $dir (a parent folder is not traversable); set TMPDIR to a world-traversable place"
                        return 1
                fi
                mkdir -p "$dir/data" && chown "$user" "$dir/data" && chmod 0700 "$dir/data" || return 1
                touch "$log" && chown "$user" "$log" || return 1
        else
                mkdir -p "$dir/data" && chmod 0700 "$dir/data" || return 1
        fi
        if [[ ! -f $dir/data/PG_VERSION ]]; then
                if ! _pg_as "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
                        --locale=C --no-sync >"$dir/initdb.log" 2>&1; then
                        _pg_tail "$dir/initdb.log"
                        _pg_log "initdb failed"
                        return 1
                fi
        fi
        # A port picked now may be taken before the server binds it: retry on
        # a new one (the log says "could not bind"). A restart of a stopped
        # server first tries its old port, so clients keep their DSN.
        for try in 1 2 3; do
                if ((try == 1)) && [[ -s $dir/port ]]; then
                        port=$(cat "$dir/port")
                else
                        port=$(_pg_free_port) || return 1
                fi
                {
                        echo "# written by tests/e2e/lib/postgres.sh"
                        echo "listen_addresses = '127.0.0.1'"
                        echo "port = $port"
                        echo "unix_socket_directories = ''"
                        echo "fsync = on"
                        echo "synchronous_commit = on"
                        echo "max_connections = 50"
                } >"$dir/seam.conf"
                chmod 0644 "$dir/seam.conf"
                grep -q "^include = '$dir/seam.conf'" "$dir/data/postgresql.conf" ||
                        echo "include = '$dir/seam.conf'" | _pg_as tee -a "$dir/data/postgresql.conf" >/dev/null
                echo "$port" >"$dir/port"
                echo "host=127.0.0.1 port=$port user=postgres dbname=postgres connect_timeout=5" >"$dir/dsn"
                _pg_load_state "$dir"
                if _pg_as "$bin/pg_ctl" -D "$dir/data" -l "$log" -w -t "$timeout" start >"$dir/pg_ctl.out" 2>&1 &&
                        _pg_wait_ready "$bin" "$port" "$timeout"; then
                        export PG_DSN PG_PORT
                        _pg_log "ready on 127.0.0.1:$port (data $dir/data)"
                        return 0
                fi
                if grep -q "could not bind\|Address already in use" "$log" 2>/dev/null && ((try < 3)); then
                        _pg_log "port $port was taken; retrying on another"
                        _pg_as "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
                        continue
                fi
                break
        done
        cat "$dir/pg_ctl.out" >&2 2>/dev/null || true
        _pg_tail "$log"
        _pg_log "the server did not become ready within ${timeout} s"
        pg_stop "$dir"
        return 1
}

pg_restart() {
        local dir=${1:-$PG_DIR} bin timeout
        [[ -n $dir ]] || { _pg_log "pg_restart: no server started"; return 1; }
        _pg_load_state "$dir"
        timeout=${SEAM_PG_START_TIMEOUT:-60}
        bin=$(_pg_bin) || return 1
        if ! _pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -m fast -w -t "$timeout" restart \
                >"$dir/pg_ctl.out" 2>&1 || ! _pg_wait_ready "$bin" "$PG_PORT" "$timeout"; then
                cat "$dir/pg_ctl.out" >&2 2>/dev/null || true
                _pg_tail "$dir/postgres.log"
                _pg_log "restart failed"
                return 1
        fi
        _pg_log "restarted on 127.0.0.1:$PG_PORT"
}

pg_stop() {
        local dir=${1:-$PG_DIR} bin pid deadline
        [[ -n $dir && -f $dir/data/postmaster.pid ]] || return 0
        bin=$(_pg_bin) || bin=
        if [[ -n $bin ]] && _pg_as "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1; then
                return 0
        fi
        pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null) || pid=
        if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
                _pg_log "pg_ctl stop failed; sending KILL to postmaster pid $pid"
                kill -KILL "$pid" 2>/dev/null || true
                deadline=$(($(date +%s) + 10))
                while kill -0 "$pid" 2>/dev/null && (($(date +%s) < deadline)); do
                        sleep 0.1
                done
        fi
        return 0
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
        set -uo pipefail
        case ${1:-} in
        start)
                pg_start "${2:?usage: postgres.sh start DIR}" || exit 1
                echo "$PG_DSN"
                ;;
        restart) pg_restart "${2:?usage: postgres.sh restart DIR}" || exit 1 ;;
        stop) pg_stop "${2:?usage: postgres.sh stop DIR}" ;;
        *)
                echo "usage: postgres.sh start|restart|stop DIR" >&2
                exit 2
                ;;
        esac
fi
