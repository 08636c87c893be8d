#!/usr/bin/env bash
# Installs everything courier's build, demo, tests and benchmarks need on Debian 12, from Debian
# packages and the npm registry only. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
  # build
  cmake ninja-build g++ pkg-config git
  # libraries (header-only or static-friendly Debian packages)
  libasio-dev rapidjson-dev catch2 libhiredis-dev libmsgpack-cxx-dev
  # TLS (https/wss): OpenSSL's library, and its command line tool that the TLS tests use to make
  # a throwaway self-signed certificate
  libssl-dev openssl
  # test peers: a real Redis, the Python Engine.IO/Socket.IO clients, Chromium for the browser
  # test (driven by npm playwright-core; no browser download) and a font for its screenshots
  redis-server redis-tools python3 python3-socketio python3-engineio python3-websocket python3-requests
  chromium fonts-dejavu-core
  # fuzzing: clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # process tools the harnesses use: ss (iproute2), kill/pgrep (procps), taskset (util-linux);
  # gnuplot-nox draws the plot of docs/performance.md
  iproute2 procps util-linux gnuplot-nox
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

# npm packages, exactly as locked: interop tests, the chat page's socket.io client bundle, the
# browser test, the benchmarks' Node reference server.
for dir in tests/interop/node examples/chat tests/browser bench/node_reference; do
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
done
