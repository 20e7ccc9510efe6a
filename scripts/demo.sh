#!/usr/bin/env bash
# demo.sh - quick start 1: install dependencies, build, and run the demo on
# the embedded broker (no Kafka needed). Extra arguments go to `seam demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEAM_BUILD_TESTS=OFF >/dev/null
cmake --build build -j2 --target seam order_audit
exec ./build/seam demo "$@"
