#!/usr/bin/env bash
# The chat demo as a cluster: one Redis and three chat instances on ports 3001, 3002, 3003.
# Open http://127.0.0.1:3001 and http://127.0.0.1:3002 in two windows: rooms, messages, typing and
# user lists span the instances. Ctrl-C stops everything this script started.
#
# Env: CHAT_BINARY (default: ../../build/examples/chat/chat from this folder), REDIS_PORT (6390),
# REDIS_URL (use an existing Redis instead of starting one), BASE_PORT (3001).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
chat=${CHAT_BINARY:-$here/../../build/examples/chat/chat}
base=${BASE_PORT:-3001}
if [ ! -x "$chat" ]; then
  echo "cluster_chat: no chat binary at $chat (build examples/chat, or set CHAT_BINARY)" >&2
  exit 1
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ -z "${REDIS_URL:-}" ]; then
  port=${REDIS_PORT:-6390}
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
  pids+=($!)
  for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  REDIS_URL="redis://127.0.0.1:$port"
fi

for i in 0 1 2; do
  PORT=$((base + i)) REDIS_URL="$REDIS_URL" "$chat" &
  pids+=($!)
done
echo "cluster_chat: instances on http://127.0.0.1:$base, :$((base + 1)), :$((base + 2)) (Redis $REDIS_URL); Ctrl-C stops"
wait
