# kafka.sh - a real, single-node Apache Kafka (KRaft) for the e2e tests.
#
# Sourced by tests/e2e/test_*.sh (which run under `set -euo pipefail`):
#
#   kafka_fetch          resolve the broker jars from Maven Central into
#                        $SEAM_CACHE/kafka-<version>/libs (once; cached);
#                        sets KAFKA_VERSION and KAFKA_LIBS
#   kafka_start DIR      format and start one combined broker+controller on
#                        127.0.0.1 with free ports; exports KAFKA_BOOTSTRAP
#                        (127.0.0.1:PORT), sets KAFKA_PID and KAFKA_DIR;
#                        returns non-zero after printing the log tail if the
#                        broker does not come up
#   kafka_stop           TERM, then KILL after a deadline; safe to call twice
#                        and from an EXIT trap
#
# Knobs (environment):
#   SEAM_CACHE               cache root (default ~/.cache/seam)
#   SEAM_KAFKA_VERSION       exact kafka_2.13 version instead of the newest 4.1.x
#   SEAM_KAFKA_REFRESH=1     ask Maven Central for a newer 4.1.x even when one
#                            is cached
#   SEAM_KAFKA_START_TIMEOUT seconds to wait for readiness (default 90)

# shellcheck disable=SC2034 # KAFKA_* variables are read by the test scripts
SEAM_CACHE=${SEAM_CACHE:-$HOME/.cache/seam}

# The series we test against, as a Maven version range: "newest 4.1.x".
KAFKA_VERSION_RANGE='[4.1.0,4.1.999]'
KAFKA_SLF4J_VERSION=2.0.17
KAFKA_LOG4J_VERSION=2.24.3
KAFKA_DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

KAFKA_PID=
KAFKA_DIR=

_kafka_log() { printf '[kafka] %s\n' "$*" >&2; }

# A libs dir is usable when its manifest exists and every jar it names is
# there: the manifest is written last, so an interrupted download never
# looks complete.
_kafka_libs_complete() {
        local libs=$1 jar
        [[ -s $libs/.complete ]] || return 1
        while IFS= read -r jar; do
                [[ -s $libs/$jar ]] || return 1
        done <"$libs/.complete"
        return 0
}

# Newest cached complete 4.1.x libs dir, or nothing.
_kafka_newest_cached() {
        local d best=
        for d in "$SEAM_CACHE"/kafka-4.1.*; do
                if [[ -d $d/libs ]] && _kafka_libs_complete "$d/libs"; then
                        best+="${d##*/kafka-}"$'\n'
                fi
        done
        [[ -n $best ]] && printf '%s' "$best" | sort -V | tail -n 1
}

_kafka_write_pom() {
        local pom=$1 kversion=$2
        cat >"$pom" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Throwaway POM written by tests/e2e/lib/kafka.sh to resolve the broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>seam.e2e</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$kversion</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>$KAFKA_SLF4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>$KAFKA_LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-api</artifactId>
      <version>$KAFKA_LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$KAFKA_LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
}

# Download into a temp dir, learn the resolved version from the jar name,
# then move the whole dir into place so readers never see half a libs dir.
_kafka_download() {
        local kversion=$1 tmp rc=0 jar='' f v dest
        mkdir -p "$SEAM_CACHE"
        tmp=$(mktemp -d "$SEAM_CACHE/kafka-dl.XXXXXX")
        _kafka_write_pom "$tmp/pom.xml" "$kversion"
        _kafka_log "resolving org.apache.kafka:kafka_2.13:$kversion from Maven Central (repo $SEAM_CACHE/m2)"
        (cd "$tmp" && mvn -q -B -f pom.xml \
                -Dmaven.repo.local="$SEAM_CACHE/m2" \
                "$KAFKA_DEP_PLUGIN:copy-dependencies" \
                -DincludeScope=runtime -DoutputDirectory="$tmp/libs") \
                >"$tmp/mvn.log" 2>&1 || rc=$?
        if ((rc != 0)); then
                _kafka_log "mvn failed (exit $rc); last lines of $tmp/mvn.log:"
                tail -n 30 "$tmp/mvn.log" >&2
                return 1
        fi
        for f in "$tmp"/libs/kafka_2.13-*.jar; do
                [[ -f $f && $f != *-sources.jar && $f != *-test.jar ]] && jar=${f##*/}
        done
        if [[ -z $jar ]]; then
                _kafka_log "mvn succeeded but no kafka_2.13 jar in $tmp/libs"
                return 1
        fi
        v=${jar#kafka_2.13-}
        v=${v%.jar}
        (cd "$tmp/libs" && ls -1 -- *.jar) >"$tmp/libs/.complete"
        dest=$SEAM_CACHE/kafka-$v
        mkdir -p "$dest"
        if _kafka_libs_complete "$dest/libs"; then
                rm -rf "$tmp" # someone else finished first
        else
                rm -rf "$dest/libs"
                mv "$tmp/libs" "$dest/libs"
                rm -rf "$tmp"
        fi
        printf '%s\n' "$v"
}

kafka_fetch() {
        local v='' t0 lock
        t0=$(date +%s.%N)
        mkdir -p "$SEAM_CACHE"
        # Parallel ctest runs share the cache: one download at a time.
        exec {lock}>"$SEAM_CACHE/kafka.lock"
        flock "$lock"
        if [[ -n ${SEAM_KAFKA_VERSION:-} ]]; then
                if _kafka_libs_complete "$SEAM_CACHE/kafka-$SEAM_KAFKA_VERSION/libs"; then
                        v=$SEAM_KAFKA_VERSION
                else
                        v=$(_kafka_download "$SEAM_KAFKA_VERSION") || { exec {lock}>&-; return 1; }
                fi
        else
                [[ -n ${SEAM_KAFKA_REFRESH:-} ]] || v=$(_kafka_newest_cached || true)
                if [[ -z $v ]]; then
                        v=$(_kafka_download "$KAFKA_VERSION_RANGE") || { exec {lock}>&-; return 1; }
                fi
        fi
        exec {lock}>&-
        KAFKA_VERSION=$v
        KAFKA_LIBS=$SEAM_CACHE/kafka-$v/libs
        _kafka_log "kafka $KAFKA_VERSION: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $KAFKA_LIBS ($(_kafka_elapsed "$t0") s)"
}

# kill -0 also succeeds on a zombie (a child that exited and was not waited
# for yet), so look at the process state too.
_kafka_alive() {
        local state
        kill -0 "$1" 2>/dev/null || return 1
        state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
        [[ $state != Z ]]
}

_kafka_elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# Two distinct free ports on 127.0.0.1. Both sockets are held open until both
# are known so the kernel cannot hand out the same one twice; the small window
# before the broker binds is covered by the retry in kafka_start.
_kafka_free_ports() {
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

_kafka_port_open() {
        python3 - "$1" <<'EOF'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(1)
EOF
}

_kafka_write_config() {
        local dir=$1 port=$2 cport=$3
        cat >"$dir/server.properties" <<EOF
# Written by tests/e2e/lib/kafka.sh: one combined broker+controller, KRaft,
# 127.0.0.1 only, sized for a small CI machine.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.flush.interval.messages=9223372036854775807
EOF
        cat >"$dir/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN" shutdownHook="disable">
  <Appenders>
    <File name="file" fileName="$dir/kafka.log" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="file"/></Root>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.clients" level="WARN"/>
  </Loggers>
</Configuration>
EOF
}

_kafka_fail() {
        local dir=$1 why=$2
        _kafka_log "FAILED to start: $why"
        local f
        for f in "$dir/format.log" "$dir/kafka.out" "$dir/kafka.log"; do
                [[ -s $f ]] || continue
                # The startup log is mostly the config dump: show the errors
                # first, then where it stopped.
                if grep -q -E '^\[[^]]*\] (ERROR|FATAL)' "$f"; then
                        _kafka_log "---- ERROR lines of $f ----"
                        grep -E -A3 '^\[[^]]*\] (ERROR|FATAL)' "$f" | head -n 40 >&2
                fi
                _kafka_log "---- last lines of $f ----"
                tail -n 20 "$f" >&2
        done
        kafka_stop
        return 1
}

# One attempt on fresh ports. Returns 0 when ready, 2 when a port was taken
# meanwhile (worth another try), 1 for anything else.
_kafka_start_once() {
        local dir=$1 ports port cport cid t0 deadline classpath
        ports=$(_kafka_free_ports)
        port=${ports% *}
        cport=${ports#* }
        _kafka_write_config "$dir" "$port" "$cport"
        rm -rf "$dir/data" "$dir/kafka.log" "$dir/kafka.out"
        classpath="$KAFKA_LIBS/*"
        cid=$(python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')
        t0=$(date +%s.%N)
        if ! java -Xms256m -Xmx512m -cp "$classpath" \
                -Dlog4j2.configurationFile="$dir/log4j2.xml" \
                kafka.tools.StorageTool format --cluster-id="$cid" \
                -c "$dir/server.properties" --ignore-formatted \
                >"$dir/format.log" 2>&1; then
                _kafka_fail "$dir" "kafka.tools.StorageTool format failed"
                return 1
        fi
        _kafka_log "storage formatted ($(_kafka_elapsed "$t0") s); starting broker on 127.0.0.1:$port (controller :$cport)"
        java -Xms512m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
                -Djava.awt.headless=true \
                -Dlog4j2.configurationFile="$dir/log4j2.xml" \
                -cp "$classpath" kafka.Kafka "$dir/server.properties" \
                >"$dir/kafka.out" 2>&1 </dev/null &
        KAFKA_PID=$!
        KAFKA_DIR=$dir
        echo "$KAFKA_PID" >"$dir/kafka.pid"
        deadline=$(($(date +%s) + ${SEAM_KAFKA_START_TIMEOUT:-90}))
        while :; do
                if ! _kafka_alive "$KAFKA_PID"; then
                        if grep -q -s 'Address already in use' "$dir/kafka.log" "$dir/kafka.out"; then
                                _kafka_log "a port was taken before the broker bound it; retrying on new ports"
                                wait "$KAFKA_PID" 2>/dev/null || true
                                KAFKA_PID=
                                return 2
                        fi
                        _kafka_fail "$dir" "the broker process exited"
                        return 1
                fi
                if grep -q -s 'Kafka Server started' "$dir/kafka.log" && _kafka_port_open "$port"; then
                        break
                fi
                if (($(date +%s) >= deadline)); then
                        _kafka_fail "$dir" "not ready within ${SEAM_KAFKA_START_TIMEOUT:-90} s"
                        return 1
                fi
                sleep 0.2
        done
        export KAFKA_BOOTSTRAP=127.0.0.1:$port
        KAFKA_PORT=$port
        KAFKA_CONTROLLER_PORT=$cport
        _kafka_log "ready at $KAFKA_BOOTSTRAP, pid $KAFKA_PID (started in $(_kafka_elapsed "$t0") s)"
}

kafka_start() {
        local dir=${1:?kafka_start DIR}
        local rc
        [[ -n ${KAFKA_LIBS:-} ]] || kafka_fetch || return 1
        mkdir -p "$dir"
        dir=$(cd "$dir" && pwd)
        for _ in 1 2 3; do
                rc=0
                _kafka_start_once "$dir" || rc=$?
                ((rc == 2)) || return "$rc"
        done
        _kafka_fail "$dir" "ports kept being taken (3 tries)"
}

kafka_stop() {
        local pid=${KAFKA_PID:-} deadline
        [[ -n $pid ]] || return 0
        KAFKA_PID=
        _kafka_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
        _kafka_log "stopping pid $pid"
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$(($(date +%s) + 30))
        while _kafka_alive "$pid" && (($(date +%s) < deadline)); do
                sleep 0.2
        done
        if _kafka_alive "$pid"; then
                _kafka_log "pid $pid still alive after 30 s; sending KILL"
                kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
}
