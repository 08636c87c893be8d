#!/usr/bin/env bash
# Builds courier's libFuzzer targets with clang (Debian's clang 14) and runs each for a bounded
# time: tests/fuzz/build.sh [SECONDS_PER_TARGET] [OUT_DIR]. A crash fails the script and leaves
# the input in OUT_DIR (turn it into a regression test). Seeds: a few hand-written ones plus
# "captured-*" files recorded from real socket.io-client / python-socketio / redis-adapter traffic
# by tests/fuzz/capture/capture.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-20}
out=${2:-$root/build-fuzz}
mkdir -p "$out"
CXX=${CXX:-clang++}
# pointer-overflow is off: RapidJSON 1.1's lazily allocated parse stack computes nullptr + n on its
# first push (harmless, fixed upstream after 1.1); every other UBSan check stays fatal.
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -fno-sanitize=pointer-overflow
       -I"$root/src" -I"$root/include" -DASIO_STANDALONE -DMSGPACK_NO_BOOST -isystem /usr/include/hiredis)
common=("$root/src/common/value.cpp" "$root/src/common/error.cpp" "$root/src/protocol/json.cpp")
declare -A sources=(
  [engine_payload_fuzz]="$root/src/engine/packet.cpp $root/src/engine/base64.cpp"
  [sio_decoder_fuzz]="$root/src/protocol/packet.cpp"
  [msgpack_fuzz]="$root/src/redis/msgpack_value.cpp"
  [query_fuzz]="$root/src/engine/query.cpp"
  [http_parser_fuzz]="$root/src/transport/http_parser.cpp"
  [ws_frame_fuzz]="$root/src/transport/ws_frame.cpp"
)
# A target is one single-threaded compile and then one single-threaded fuzzer, so FUZZ_JOBS of them
# (default: one per core) run at once; each fuzzer still has a core to itself for its SECONDS.
jobs=${FUZZ_JOBS:-$(nproc)}
fuzz_one() {  # fuzz_one <target>: build and run one target; its output goes to $out/<target>.log
  local target=$1
  # shellcheck disable=SC2086
  "$CXX" "${flags[@]}" "$here/$target.cpp" ${sources[$target]} "${common[@]}" -o "$out/$target" || return
  mkdir -p "$out/corpus-$target"
  cp -n "$here/seeds/$target"/* "$out/corpus-$target/" 2>/dev/null || true
  echo "== $target (${seconds}s)"
  (cd "$out" && "./$target" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
      -artifact_prefix="$out/$target-" "corpus-$target" 2>&1 | tail -3)
}
targets=(engine_payload_fuzz sio_decoder_fuzz msgpack_fuzz query_fuzz http_parser_fuzz ws_frame_fuzz)
for target in "${targets[@]}"; do
  rm -f "$out/$target.rc"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  (rc=0; fuzz_one "$target" || rc=$?; echo "$rc" > "$out/$target.rc") > "$out/$target.log" 2>&1 &
done
wait
# Exit statuses come from the .rc files: a job reaped by `wait -n` above has no status left to wait for.
failed=()
for target in "${targets[@]}"; do
  cat "$out/$target.log"
  [ "$(cat "$out/$target.rc" 2>/dev/null)" = 0 ] || failed+=("$target")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]} (inputs left in $out)" >&2
  exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a crash"
