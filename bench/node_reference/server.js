"use strict";
// Node reference server of the bench contract (shared/BENCH-CONTRACT.md), socket.io 4.8 with the
// options of the contract's section 7. One process (the harness measures the PID it starts).
//
//   PORT=3100 node bench/node_reference/server.js
//
// Env: PORT (default 3100), BACKLOG (default 4096), PING_INTERVAL / PING_TIMEOUT (ms, default
// 25000 / 20000), MAX_LIFETIME_S (self-stop, default 3600), REDIS_URL (contract section 6: join a
// cluster through @socket.io/redis-adapter 8.3 on the `redis` 4 client, classic pub/sub; the server
// listens only once both Redis connections are up). Exits within 10 s of SIGTERM.
// Events: "join" (room, ack) joins then acks [true]; "broadcast" (obj) emits "msg" obj to obj.room;
// "echo" (obj, ack) acks obj.

const http = require("node:http");
const { Server } = require("socket.io");

function envInt(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number.parseInt(v, 10);
  if (!Number.isFinite(n)) {
    console.error(`bench reference: invalid ${name}=${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}

const PORT = envInt("PORT", 3100);
const BACKLOG = envInt("BACKLOG", 4096);
const PING_INTERVAL = envInt("PING_INTERVAL", 25000);
const PING_TIMEOUT = envInt("PING_TIMEOUT", 20000);
const MAX_LIFETIME_S = envInt("MAX_LIFETIME_S", 3600);
const ROOM_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const REDIS_URL = process.env.REDIS_URL || "";
const redisClients = []; // closed on stop

// Requests outside /socket.io/ (socket.io handles its own path before this listener): dropped after 1 s.
const httpServer = http.createServer((req) => {
  setTimeout(() => req.socket.destroy(), 1000).unref();
});

const io = new Server(httpServer, {
  path: "/socket.io/",
  serveClient: false,
  transports: ["websocket", "polling"],
  pingInterval: PING_INTERVAL,
  pingTimeout: PING_TIMEOUT,
  maxHttpBufferSize: 1e6,
  perMessageDeflate: false,
  httpCompression: false,
  cors: { origin: true },
});

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    const ok = typeof room === "string" && ROOM_RE.test(room);
    if (ok) socket.join(room); // in-memory adapter: in effect synchronously, before the ack
    if (typeof ack === "function") ack(ok);
  });
  socket.on("broadcast", (data, ack) => {
    if (data && typeof data.room === "string" && data.room.length > 0) io.to(data.room).emit("msg", data);
    if (typeof ack === "function") ack(true);
  });
  socket.on("echo", (data, ack) => {
    if (typeof ack === "function") ack(data);
  });
});

// The adapter of the contract's section 6: one publishing and one subscribing connection. The
// adapter subscribes asynchronously once installed; a harness that needs the whole cluster waits
// until Redis counts every instance's subscription (PUBSUB NUMSUB "socket.io-request#/#").
async function useRedisAdapter() {
  const { createClient } = require("redis");
  const { createAdapter } = require("@socket.io/redis-adapter");
  const pub = createClient({ url: REDIS_URL });
  const sub = pub.duplicate();
  for (const [name, client] of [["publisher", pub], ["subscriber", sub]]) {
    // Without an "error" listener a lost connection would crash the process (node-redis reconnects).
    client.on("error", (err) => {
      if (!stopping) console.error(`bench reference: redis ${name}: ${err.message}`);
    });
    redisClients.push(client);
  }
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}

httpServer.on("error", (err) => {
  console.error(`bench reference: ${err.message}`);
  process.exit(1);
});
(async () => {
  if (REDIS_URL) {
    try {
      await useRedisAdapter();
    } catch (err) {
      console.error(`bench reference: cannot use Redis at ${REDIS_URL}: ${err.message}`);
      process.exit(1);
    }
  }
  httpServer.listen({ port: PORT, host: "127.0.0.1", backlog: BACKLOG }, () => {
    const how = REDIS_URL ? `, cluster via ${REDIS_URL} (@socket.io/redis-adapter ${require("@socket.io/redis-adapter/package.json").version})` : "";
    console.error(`bench reference: listening on 127.0.0.1:${PORT} (socket.io ${require("socket.io/package.json").version}, backlog ${BACKLOG}${how})`);
  });
})();

let stopping = false;
function stop(why) {
  if (stopping) return;
  stopping = true;
  console.error(`bench reference: ${why}, stopping`);
  setTimeout(() => process.exit(0), 5000).unref();
  io.close(() => process.exit(0));
  for (const client of redisClients) client.disconnect().catch(() => {});
  if (typeof httpServer.closeAllConnections === "function") httpServer.closeAllConnections();
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
setTimeout(() => stop(`MAX_LIFETIME_S=${MAX_LIFETIME_S} reached`), MAX_LIFETIME_S * 1000).unref();
