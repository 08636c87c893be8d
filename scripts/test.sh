#!/usr/bin/env bash
# The test command: installs dependencies, builds courier (warnings are errors), runs every test
# (unit, real-client interop), then builds again with AddressSanitizer + UBSan and runs them again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh

jobs=$(nproc)
build() {  # build <dir> <cmake args...>
  local dir=$1; shift
  cmake -S "$root" -B "$dir" -G Ninja -DCOURIER_WARNINGS_AS_ERRORS=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

echo "== build (RelWithDebInfo)"
# -g1: line tables and function names, what a backtrace needs; full debug info (-g) costs a third
# of this build's time and the code generated is the same.
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
echo "== tests"
# The unit tests two at a time: each is its own process on ephemeral ports and private temp
# files, and they held up two at a time in repeated runs, here and under ASan. The rest one at a
# time: interop, chaos and Redis tests measure latency and time failovers.
ctest --test-dir build --output-on-failure --timeout 300 -L '^unit$' -j "$jobs"
ctest --test-dir build --output-on-failure --timeout 300 -LE '^unit$'

echo "== benchmark smoke run (every scenario once at a tiny size; figures come from full runs)"
/usr/bin/python3 bench/run.py --build-dir build --smoke
/usr/bin/python3 bench/cluster_timers.py --smoke --binary build/examples/timer_soak/timer_soak

echo "== fuzzers (libFuzzer, 15 s per target: Engine.IO payloads, Socket.IO packets, msgpack, queries, HTTP requests, WebSocket frames)"
bash tests/fuzz/build.sh 15 "$root/build-fuzz"

echo "== build (ASan + UBSan)"
build build-asan -DCMAKE_BUILD_TYPE=Debug -DCOURIER_SANITIZE=ON -DCOURIER_BUILD_BENCH=OFF
echo "== tests under ASan + UBSan (packaging tests ran above; they rebuild courier and prove nothing new here)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure --timeout 600 -L '^unit$' -j "$jobs"  # as above
ctest --test-dir build-asan --output-on-failure --timeout 600 -LE '^(unit|package)$'
unset ASAN_OPTIONS UBSAN_OPTIONS

echo "== build (ThreadSanitizer, clang: GCC cannot model Asio's fences) and the multi-threaded API tests"
CC=clang CXX=clang++ cmake -S "$root" -B build-tsan -G Ninja -DCOURIER_WARNINGS_AS_ERRORS=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOURIER_TSAN=ON -DCOURIER_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan -j "$jobs" --target courier_thread_tests
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --test-dir build-tsan --output-on-failure --timeout 300 -L threads
