#!/usr/bin/env bash
# The whole test suite: installs what is needed, builds, runs unit and integration tests
# (ctest), the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer, and the
# codec fuzzer for a bounded time. Exits non-zero on the first failure.
#   FUZZ_SECONDS=60 (default) sets the fuzzing time.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-60}

step() { printf '\n=== %s ===\n' "$*"; }

step "dependencies"
scripts/install-deps.sh --test

step "build (warnings are errors)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOLONY_WERROR=ON >/dev/null
cmake --build build -j"$jobs"

step "unit and integration tests"
(cd build && ctest -j"$jobs" --output-on-failure --timeout 600)

step "unit tests under ASan + UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOLONY_SANITIZE=ON >/dev/null
asan_targets=(codec_tests transport_tests actors_tests config_tests metrics_tests bench_tests
              persistence_tests)
cmake --build build-asan -j"$jobs" --target "${asan_targets[@]}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in build-asan/codec/codec_tests build-asan/transport/transport_tests \
         build-asan/actors/actors_tests \
         build-asan/config/config_tests build-asan/metrics/metrics_tests \
         build-asan/bench/bench_tests build-asan/persistence/persistence_tests; do
  echo "--- $t"
  "$t" --gtest_brief=1
done

step "codec fuzzer (${fuzz_seconds}s)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCOLONY_CODEC_ONLY=ON -DCOLONY_FUZZ=ON -DCOLONY_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target codec_fuzz records_fuzz
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir "$corpus/codec" "$corpus/records"
cp tests/fuzz/corpus/* "$corpus/codec"/
cp tests/fuzz/records_corpus/* "$corpus/records"/
build-fuzz/tests/fuzz/codec_fuzz -max_total_time="$fuzz_seconds" -rss_limit_mb=1024 \
  -malloc_limit_mb=512 -print_final_stats=1 "$corpus/codec" 2>&1 | tail -n 15

step "store record fuzzer ($((fuzz_seconds / 3))s)"
build-fuzz/tests/fuzz/records_fuzz -max_total_time="$((fuzz_seconds / 3))" -rss_limit_mb=1024 \
  -malloc_limit_mb=512 -print_final_stats=1 "$corpus/records" 2>&1 | tail -n 6

step "all tests passed"
