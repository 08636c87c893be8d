#!/usr/bin/env bash
# The demo command: installs dependencies, builds courier and starts the demo server on
# http://127.0.0.1:3000 (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target conformance_server
cat <<'MSG'

courier demo: a raw Engine.IO v4 echo server on http://127.0.0.1:3000/engine.io/
Try it from another terminal:
  curl 'http://127.0.0.1:3000/engine.io/?EIO=4&transport=polling'          # handshake: 0{"sid":...}
  curl -d 4hello 'http://127.0.0.1:3000/engine.io/?EIO=4&transport=polling&sid=<sid>'
  curl 'http://127.0.0.1:3000/engine.io/?EIO=4&transport=polling&sid=<sid>' # 4hello
or with the official client: node -e "const {Socket}=require('engine.io-client');
  const s=new Socket('ws://127.0.0.1:3000',{path:'/engine.io/'}); s.on('open',()=>s.send('hi'));
  s.on('message',m=>{console.log('echo:',m);s.close()})"   (from tests/interop/node)
MSG
PORT=3000 exec ./build/examples/conformance_server/conformance_server
