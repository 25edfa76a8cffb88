#!/usr/bin/env bash
# Quick start: installs what is needed, builds colony (Release) and starts it with defaults.
# Extra arguments go to colony, e.g. scripts/run.sh --port 1884 --log-level debug
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOLONY_TESTS=OFF >/dev/null
cmake --build build-release --target colony -j"$(nproc)"
exec build-release/server/colony "$@"
