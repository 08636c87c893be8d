// Drives the interop test server (tests/interop/socketio_server/CONTRACT.md) through the capture
// proxy with the real socket.io-client, over polling, WebSocket and the upgrade, so the recorded
// client bytes are what an unmodified official client really sends. Used by capture.py only.
// Usage: node drive.js <port>
"use strict";
const { io } = require("socket.io-client");

const url = `http://127.0.0.1:${process.argv[2]}`;

function connect(nsp, opts) {
  return new Promise((resolve, reject) => {
    const s = io(url + nsp, { forceNew: true, reconnection: false, timeout: 5000, ...opts });
    s.once("connect", () => resolve(s));
    s.once("connect_error", (e) => (opts.expectError ? resolve(s) : reject(e)));
  });
}

const ack = (s, ...args) => s.timeout(5000).emitWithAck(...args).catch((e) => {
  throw new Error(`${args[0]}: ${e.message}`);
});

async function exercise(s) {
  await ack(s, "echo", "plain", 1, -2.5, 1e21, true, null, { nested: { deep: [1, [2, [3]]] } });
  await ack(s, "echo", "ünïcödé ✓ 😀", "quote \" backslash \\ newline \n tab \t");
  await ack(s, "echo", Buffer.from([0, 1, 2, 253, 254, 255]), { file: Buffer.alloc(300, 7), list: [Buffer.from("x")] });
  await ack(s, "join", "room-a");
  await ack(s, "rooms");
  await ack(s, "to-room", "room-a", "news", { n: 1 });
  await ack(s, "to-room-except", "room-a", "muted", "news", [1, 2, 3]);
  await ack(s, "broadcast", "hello", "everyone");
  await ack(s, "volatile", "tick", 42);
  await ack(s, "fetch", "room-a");
  await ack(s, "sockets-join", "room-a", "room-b");
  await ack(s, "sockets-leave", "room-a", "room-b");
  await ack(s, "count");
  await ack(s, "server-side-emit", { from: "node" });
  await ack(s, "server-side-emit-ack", { from: "node", n: 2 });
  s.on("question", (payload, answer) => answer("answer", payload));
  await ack(s, "server-ack", { q: "?" }, 2000);
  s.emit("emit-back", "no ack", { big: "y".repeat(5000) });
  await ack(s, "leave", "room-a");
  await ack(s, "last-reasons");
}

async function main() {
  const polling = await connect("/", { transports: ["polling"], auth: { token: "ok" } });
  await exercise(polling);
  polling.close();
  const ws = await connect("/", { transports: ["websocket"], query: { q: "a b&c=d", empty: "" } });
  await exercise(ws);
  ws.close();
  const upgraded = await connect("/", { transports: ["polling", "websocket"] });
  if (upgraded.io.engine.transport.name !== "websocket") {
    await new Promise((r) => upgraded.io.engine.once("upgrade", r));
  }
  await exercise(upgraded);
  const custom = await connect("/custom", { transports: ["websocket"], auth: { user: "x", list: [1, 2] } });
  await ack(custom, "echo", Buffer.from("custom"));
  const dyn = await connect("/dyn-abc", { transports: ["polling"] });
  await ack(dyn, "echo", "dyn");
  await connect("/admin", { transports: ["polling"], auth: { role: "guest" }, expectError: true });
  await connect("/", { transports: ["websocket"], auth: { token: "bad" }, expectError: true });
  for (const s of [upgraded, custom, dyn]) s.close();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error("drive.js:", e);
    process.exit(1);
  },
);
