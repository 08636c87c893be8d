#!/usr/bin/env bash
# The demo command: installs dependencies, builds courier and starts the chat demo on
# http://127.0.0.1:3000 with the in-memory adapter (no Redis needed). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target chat
cat <<'MSG'

courier chat demo: open http://127.0.0.1:3000 in two browser windows, pick nicknames, join the
same room and chat (typing indicator, user list, delivered marks). Ctrl-C stops the server.
The same demo on three instances with Redis: bash examples/cluster_chat/run.sh

MSG
PORT=3000 exec ./build/examples/chat/chat
