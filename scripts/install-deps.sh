#!/usr/bin/env bash
# install-deps.sh [build|test] - installs what Seam needs from Debian 12's
# packages. `build` is enough for the demo; `test` adds the test bed (Java
# and Maven for Kafka and Apicurio, Python venv for the independent
# producer, PostgreSQL, promtool, clang for the fuzzers). Runs apt-get only
# for packages that are missing, so a second run costs nothing.
set -euo pipefail

what=${1:-build}
build_pkgs=(build-essential cmake pkg-config librdkafka-dev libavro-dev libyaml-dev
            libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev libpq-dev
            liblmdb-dev)
test_pkgs=(clang libclang-rt-14-dev kcat python3-venv python3-pip python3-yaml prometheus postgresql curl
           ca-certificates procps)
# Kafka 4 and Apicurio 3 need Java 17+; use the machine's if it has one.
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1 || true)
if [ -z "$java_major" ] || [ "$java_major" -lt 17 ]; then
        test_pkgs+=(openjdk-17-jdk-headless)
fi
command -v mvn >/dev/null 2>&1 || test_pkgs+=(maven)

pkgs=("${build_pkgs[@]}")
if [ "$what" = test ]; then
        pkgs+=("${test_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
        echo "install-deps: all ${#pkgs[@]} packages present"
        exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# The prometheus package would start a server; we only want promtool.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ "$what" = test ] && command -v systemctl >/dev/null 2>&1; then
        $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
echo "install-deps: done"
