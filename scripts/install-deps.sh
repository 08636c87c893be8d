#!/usr/bin/env bash
# Installs everything courier's build, demo and tests need on Debian 12, from Debian packages and
# the npm registry only. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
  # build
  cmake ninja-build g++ pkg-config git
  # libraries (all header-only or static-friendly Debian packages)
  libasio-dev libwebsocketpp-dev rapidjson-dev catch2 libhiredis-dev libmsgpack-cxx-dev
  # test peers: a real Redis, the Python Engine.IO/Socket.IO clients
  redis-server python3 python3-socketio python3-engineio python3-websocket python3-requests
  # process tools the test harnesses use (ss, kill)
  iproute2 procps
)
# Node.js: keep one already installed (any version >= 18); otherwise Debian's.
if ! command -v node >/dev/null 2>&1; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  echo "install-deps: Node.js >= 18 is needed, found $(node --version)" >&2
  exit 1
fi

# npm packages for the interop tests, exactly as locked.
if [ -f tests/interop/node/package-lock.json ]; then
  npm ci --prefix tests/interop/node --no-audit --no-fund --loglevel=error
fi

# --- chat demo and browser test (begin)
# Debian's Chromium (and a font) for the headless browser test, which playwright-core drives (no
# browser download); the socket.io-client bundle the chat page uses; playwright-core; all as locked.
chat_missing=()
for p in chromium fonts-dejavu-core; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || chat_missing+=("$p")
done
if [ ${#chat_missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${chat_missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${chat_missing[@]}"
fi
npm ci --prefix examples/chat --no-audit --no-fund --loglevel=error
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
# --- (end)
