#!/usr/bin/env bash
# quiz_game as a cluster: one Redis and three instances on ports 3021, 3022, 3023.
# Connect the host and players to different instances (client.js, see README.md); Ctrl-C stops
# everything this script started (by PID).
#
# Env: QUIZ_BINARY (default: ../../build/examples/quiz_game/quiz_game from this folder),
# REDIS_PORT (6392), REDIS_URL (use an existing Redis instead of starting one), BASE_PORT (3021);
# QUESTION_MS, TIMER_LEASE_MS, LOCK_TTL_MS are passed on (main.cpp).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${QUIZ_BINARY:-$here/../../build/examples/quiz_game/quiz_game}
base=${BASE_PORT:-3021}
if [ ! -x "$bin" ]; then
  echo "quiz_game: no binary at $bin (build the quiz_game target, or set QUIZ_BINARY)" >&2
  exit 1
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ -z "${REDIS_URL:-}" ]; then
  port=${REDIS_PORT:-6392}
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
  pids+=($!)
  for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  REDIS_URL="redis://127.0.0.1:$port"
fi

names=(A B C)
for i in 0 1 2; do
  PORT=$((base + i)) INSTANCE=${names[$i]} REDIS_URL="$REDIS_URL" "$bin" &
  pids+=($!)
done
echo "quiz_game: instances A, B, C on http://127.0.0.1:$base, :$((base + 1)), :$((base + 2)) (Redis $REDIS_URL); Ctrl-C stops"
wait
