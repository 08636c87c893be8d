"use strict";
// Chaos-test observer: N real socket.io-client connections (the npm package, websocket transport,
// no reconnection) to one bench server (shared/BENCH-CONTRACT.md). Each joins a room, acked, and
// records every "msg" it receives: which `seq`, when (Date.now(), the wall clock the Python driver
// shares), and the publisher's send time `t`. chaos.py starts it and reads its stdout:
//
//   {"ev":"ready","joined":N}            once every client's join is acknowledged
//   {"ev":"fail","why":"..."}           a client could not connect / join (then it exits 1)
//   {"ev":"summary","clients":[...]}    on SIGTERM or end of stdin, then it exits 0
//
// Per client the summary has the received seqs as runs [first, last, recv_ms_first, recv_ms_last,
// t_ns_first] (a run is consecutive seqs, in arrival order), duplicates, out-of-order arrivals and
// every disconnect with its time and reason. A run breaks wherever a seq is missing, so a loss is
// visible as a gap between two runs.
//
//   node observer.js --url http://127.0.0.1:PORT --clients N [--room bench] [--timeout-ms 60000]

const path = require("node:path");

const NODE_DIR = path.resolve(__dirname, "..", "interop", "node");
let io;
try {
  io = require(require.resolve("socket.io-client", { paths: [NODE_DIR] })).io;
} catch (err) {
  process.stdout.write(JSON.stringify({ ev: "fail", why: `socket.io-client not found in ${NODE_DIR}/node_modules (npm ci --prefix tests/interop/node): ${err.message}` }) + "\n");
  process.exit(1);
}

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const url = arg("--url");
const count = Number(arg("--clients", "10"));
const room = arg("--room", "bench");
const joinTimeoutMs = Number(arg("--timeout-ms", "60000"));
if (!url || !(count > 0)) {
  process.stderr.write("usage: node observer.js --url http://127.0.0.1:PORT --clients N [--room R]\n");
  process.exit(2);
}

const clients = [];
let joined = 0;
let summarized = false;

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(why) {
  out({ ev: "fail", why });
  for (const c of clients) c.socket.disconnect();
  process.exit(1);
}

function summary() {
  if (summarized) return;
  summarized = true;
  const list = clients.map((c) => {
    if (c.run) c.runs.push(c.run);
    return { runs: c.runs, received: c.received, duplicates: c.duplicates, out_of_order: c.outOfOrder, disconnects: c.disconnects };
  });
  for (const c of clients) c.socket.disconnect();
  // Exit once stdout is flushed (it may be a pipe).
  process.stdout.write(JSON.stringify({ ev: "summary", clients: list }) + "\n", () => process.exit(0));
}

const joinTimer = setTimeout(() => fail(`only ${joined} of ${count} clients joined within ${joinTimeoutMs} ms`), joinTimeoutMs);

for (let i = 0; i < count; i++) {
  const c = { runs: [], run: null, seen: new Set(), maxSeq: -1, received: 0, duplicates: 0, outOfOrder: 0, disconnects: [], joined: false };
  c.socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true, timeout: joinTimeoutMs });
  c.socket.on("connect", () => {
    c.socket.timeout(joinTimeoutMs).emit("join", room, (err, ok) => {
      if (err || ok !== true) fail(`client ${i}: join not acknowledged (${err ? err.message : JSON.stringify(ok)})`);
      if (c.joined) return;
      c.joined = true;
      if (++joined === count) {
        clearTimeout(joinTimer);
        out({ ev: "ready", joined });
      }
    });
  });
  c.socket.on("connect_error", (err) => {
    if (!c.joined) fail(`client ${i}: connect_error ${err.message}`);
  });
  c.socket.on("disconnect", (reason) => {
    if (!summarized) c.disconnects.push({ at_ms: Date.now(), reason });
  });
  c.socket.on("msg", (m) => {
    const now = Date.now();
    const seq = m && typeof m.seq === "number" ? m.seq : -1;
    if (seq < 0) return;
    if (c.seen.has(seq)) {
      c.duplicates++;
      return;
    }
    c.seen.add(seq);
    c.received++;
    if (seq < c.maxSeq) c.outOfOrder++;
    c.maxSeq = Math.max(c.maxSeq, seq);
    // `t` is above 2^53: a JS number keeps it to ~256 ns, plenty for millisecond timelines.
    const t = typeof m.t === "number" ? m.t : 0;
    if (c.run && seq === c.run[1] + 1) {
      c.run[1] = seq;
      c.run[3] = now;
    } else {
      if (c.run) c.runs.push(c.run);
      c.run = [seq, seq, now, now, t];
    }
  });
  clients.push(c);
}

process.on("SIGTERM", summary);
process.on("SIGINT", summary);
process.stdin.on("end", summary);
process.stdin.resume();
