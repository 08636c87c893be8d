"use strict";
// Reference implementation of tests/interop/socketio_server/CONTRACT.md (the
// `socketio_test_server` contract), built on the official Node.js `socket.io`
// 4.8 server. socketio_client.test.js must pass against this server first;
// that is what proves the tests themselves right.
//
//   PORT=3000 node reference/socketio_server.js
//
// Listens on 127.0.0.1:$PORT, path /socket.io/, pingInterval 300 ms,
// pingTimeout 200 ms, connectTimeout 1000 ms, maxHttpBufferSize 1e6, both
// transports, upgrades on, CORS origin "*". Exits on SIGTERM.
//
// With env REDIS_URL (e.g. redis://127.0.0.1:6379) the server joins a cluster
// through @socket.io/redis-adapter 8.3 (classic pub/sub, `redis` 4.x client);
// SERVER_NAME (default "node") is what it answers to "hello-servers".
// REDIS_SHARDED=1: the sharded adapter (createShardedAdapter, Redis 7 SPUBLISH/SSUBSCRIBE) in
// REDIS_SUBSCRIPTION_MODE (static, dynamic -- the default --, dynamic-private).
// REDIS_CLUSTER=1: REDIS_URL is a node of a Redis Cluster (`redis` 4 createCluster clients).
// TLS_CERT / TLS_KEY (PEM files): https / wss.
//
//   REDIS_URL=redis://127.0.0.1:6379 SERVER_NAME=n1 PORT=3000 node reference/socketio_server.js

const http = require("node:http");
const { Server } = require("socket.io");

const port = Number.parseInt(process.env.PORT || "3000", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`socketio_server: invalid PORT ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}
const debug = Boolean(process.env.COURIER_REFERENCE_DEBUG);
const serverName = process.env.SERVER_NAME || "node";
const redisUrl = process.env.REDIS_URL || "";
/** Cluster requests (fetchSockets, serverSideEmit with ack, ...) wait this long; as courier's test server. */
const REQUESTS_TIMEOUT_MS = 2000;

// TLS_CERT / TLS_KEY (PEM files): https and wss instead of http and ws (CONTRACT.md).
const notFound = (req, res) => {
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("not found");
};
const httpServer = process.env.TLS_CERT
  ? require("node:https").createServer(
      { cert: require("node:fs").readFileSync(process.env.TLS_CERT), key: require("node:fs").readFileSync(process.env.TLS_KEY) },
      notFound
    )
  : http.createServer(notFound);

const io = new Server(httpServer, {
  path: "/socket.io/",
  pingInterval: 300,
  pingTimeout: 200,
  connectTimeout: 1000,
  maxHttpBufferSize: 1e6,
  transports: ["polling", "websocket"],
  allowUpgrades: true,
  cors: { origin: "*" },
});

/** The Redis clients when REDIS_URL is set (closed on shutdown). */
const redisClients = [];

const sharded = process.env.REDIS_SHARDED === "1";
const redisCluster = process.env.REDIS_CLUSTER === "1";
const subscriptionMode = process.env.REDIS_SUBSCRIPTION_MODE || "dynamic";

async function useRedisAdapter() {
  const { createClient, createCluster } = require("redis");
  const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
  // REDIS_CLUSTER=1: REDIS_URL is one node of a Redis Cluster; the `redis` 4 cluster client finds
  // the others (CLUSTER SLOTS) and routes each (sharded) channel to the node owning its slot.
  const pub = redisCluster ? createCluster({ rootNodes: [{ url: redisUrl }] }) : createClient({ url: redisUrl });
  const sub = pub.duplicate();
  for (const [name, client] of [
    ["publisher", pub],
    ["subscriber", sub],
  ]) {
    // Without an "error" listener a lost connection would crash the process; node-redis
    // reconnects by itself (50 ms more per attempt, at most 500 ms).
    client.on("error", (err) => {
      if (debug || !stopping) console.error(`socketio_server: redis ${name}: ${err.message}`);
    });
    redisClients.push(client);
  }
  // @socket.io/redis-adapter 8.3 fires PUBLISH without handling its promise: when Redis goes away
  // while a publish is being written (EPIPE), the rejection is unhandled and Node 20 would exit.
  // Log it instead: a lost publish is the documented outcome (packets are lost while Redis is away).
  process.on("unhandledRejection", (err) => {
    console.error(`socketio_server: unhandled rejection (Redis away?): ${err && err.message}`);
  });
  await Promise.all([pub.connect(), sub.connect()]);
  if (sharded) {
    // REDIS_SHARDED=1: Redis 7 sharded pub/sub (SPUBLISH/SSUBSCRIBE), socket.io-adapter's
    // ClusterAdapter protocol. Its requests time out after socket.io-adapter's fixed 5 s (the
    // sharded adapter has no requestsTimeout option), not the contract's 2 s.
    if (!["static", "dynamic", "dynamic-private"].includes(subscriptionMode)) {
      throw new Error(`invalid REDIS_SUBSCRIPTION_MODE ${JSON.stringify(subscriptionMode)}`);
    }
    io.adapter(createShardedAdapter(pub, sub, { subscriptionMode }));
    return;
  }
  // Cluster requests time out as in courier's test server (the contract's 2 s). socket.io 4.8 has
  // no per-call timeout for serverSideEmit (io.timeout() returns a BroadcastOperator, which has no
  // serverSideEmit), so the adapter's requestsTimeout is how "timeout 2000" is expressed.
  io.adapter(createAdapter(pub, sub, { requestsTimeout: REQUESTS_TIMEOUT_MS }));
}

/** Disconnect reasons of the sockets of "/", oldest first. */
const reasons = [];

/** Sorts by JSON text (plain code-unit comparison of JSON.stringify). */
function sortByJson(values) {
  return values
    .map((v) => [JSON.stringify(v), v])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map((e) => e[1]);
}

/** `ack` may be absent (or not a function when the client sent none). */
function maybeAck(ack, ...args) {
  if (typeof ack === "function") ack(...args);
}

function handshakeAuth(socket) {
  const auth = socket.handshake.auth;
  return auth === undefined || auth === null ? {} : auth;
}

function onEcho(socket) {
  socket.on("echo", (...args) => {
    const ack = args.length > 0 && typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
  });
}

// ---------------------------------------------------------------- namespace "/"
io.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.token === "bad") {
    const err = new Error("not authorized");
    err.data = { reason: "bad token" };
    next(err);
    return;
  }
  next();
});

io.on("connection", (socket) => {
  socket.emit("welcome", { id: socket.id, auth: handshakeAuth(socket) });

  socket.on("disconnect", (reason) => {
    reasons.push(reason);
    if (debug) console.error(`socketio_server: ${socket.id} disconnected: ${reason}`);
  });

  onEcho(socket);

  socket.on("emit-back", (...args) => {
    socket.emit("emit-back", ...args);
  });

  socket.on("join", async (room, ack) => {
    await socket.join(room);
    maybeAck(ack, true);
  });

  socket.on("leave", async (room, ack) => {
    await socket.leave(room);
    maybeAck(ack, true);
  });

  socket.on("rooms", (ack) => {
    maybeAck(ack, [...socket.rooms].sort());
  });

  socket.on("to-room", (room, event, payload, ack) => {
    io.to(room).emit(event, payload);
    maybeAck(ack, true);
  });

  socket.on("to-room-except", (room, exceptRoom, event, payload, ack) => {
    io.to(room).except(exceptRoom).emit(event, payload);
    maybeAck(ack, true);
  });

  socket.on("broadcast", (event, payload, ack) => {
    socket.broadcast.emit(event, payload);
    maybeAck(ack, true);
  });

  socket.on("volatile", (event, payload, ack) => {
    io.volatile.emit(event, payload);
    maybeAck(ack, true);
  });

  socket.on("server-ack", (payload, timeoutMs, ack) => {
    socket.timeout(timeoutMs).emit("question", payload, (err, ...answer) => {
      if (err) maybeAck(ack, { error: "timeout" });
      else maybeAck(ack, { answer });
    });
  });

  socket.on("server-ack-all", (room, timeoutMs, ack) => {
    io.to(room)
      .timeout(timeoutMs)
      .emit("question-all", (err, responses) => {
        const sorted = sortByJson(responses || []);
        if (err) maybeAck(ack, { error: "timeout", responses: sorted });
        else maybeAck(ack, { responses: sorted });
      });
  });

  socket.on("fetch", async (room, ack) => {
    let sockets;
    try {
      sockets = await io.in(room).fetchSockets();
    } catch (err) {
      // The Redis adapter rejects when some server did not answer in time (no ack then, as the
      // contract has no error shape for fetch).
      console.error(`socketio_server: fetchSockets(${JSON.stringify(room)}) failed: ${err.message}`);
      return;
    }
    maybeAck(ack, sockets.map((s) => s.id).sort());
  });

  socket.on("sockets-join", (room, newRoom, ack) => {
    io.in(room).socketsJoin(newRoom);
    maybeAck(ack, true);
  });

  socket.on("sockets-leave", (room, oldRoom, ack) => {
    io.in(room).socketsLeave(oldRoom);
    maybeAck(ack, true);
  });

  socket.on("disconnect-sockets", (room, close) => {
    io.in(room).disconnectSockets(Boolean(close));
  });

  socket.on("disconnect-me", (close) => {
    socket.disconnect(Boolean(close));
  });

  socket.on("last-reasons", (ack) => {
    maybeAck(ack, reasons.slice());
  });

  socket.on("count", (ack) => {
    maybeAck(ack, io.of("/").sockets.size);
  });

  socket.on("server-side-emit", (payload, ack) => {
    if (redisUrl) io.serverSideEmit("hello-servers", payload);
    // A single server has no other server to tell (the in-memory adapter throws on serverSideEmit).
    maybeAck(ack, true);
  });

  socket.on("server-side-emit-ack", (payload, ack) => {
    if (!redisUrl) {
      maybeAck(ack, { responses: [] });
      return;
    }
    io.serverSideEmit("hello-servers", payload, (err, responses) => {
      const out = { responses: sortByJson(responses || []) };
      if (err) out.error = err.message;
      maybeAck(ack, out);
    });
  });
});

// Server-side emits of the other servers of the cluster.
io.on("hello-servers", (payload, ack) => {
  io.local.emit("server-side", payload);
  maybeAck(ack, serverName);
});

// ---------------------------------------------------------------- namespace "/custom"
io.of("/custom").on("connection", (socket) => {
  socket.emit("auth", handshakeAuth(socket));
  onEcho(socket);
});

// ---------------------------------------------------------------- namespace "/admin"
const admin = io.of("/admin");
admin.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.role === "admin") {
    next();
    return;
  }
  const err = new Error("forbidden");
  err.data = { role: auth.role === undefined ? null : auth.role };
  next(err);
});
admin.on("connection", (socket) => {
  socket.emit("hello-admin");
});

// ---------------------------------------------------------------- dynamic "/dyn-<word>"
io.of(/^\/dyn-\w+$/).on("connection", (socket) => {
  socket.emit("nsp", socket.nsp.name);
  onEcho(socket);
});

let stopping = false;

(async () => {
  if (redisUrl) {
    try {
      await useRedisAdapter();
    } catch (err) {
      console.error(`socketio_server: cannot use Redis at ${redisUrl}: ${err.message}`);
      process.exit(1);
    }
  }
  // Listen only once Redis is connected. The adapter subscribes asynchronously after that: a test
  // that needs the whole cluster waits for PUBSUB NUMSUB of "socket.io-request#/#" (as for courier).
  httpServer.listen(port, "127.0.0.1", () => {
    const how = redisUrl
      ? ` (cluster via ${redisUrl}${redisCluster ? " (Redis Cluster)" : ""}${sharded ? `, sharded, ${subscriptionMode}` : ""}, name ${serverName})`
      : "";
    console.error(`socketio_server: listening on 127.0.0.1:${port}${how}`);
  });
})();

function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`socketio_server: ${signal}, shutting down`);
  io.close();
  for (const client of redisClients) client.disconnect().catch(() => {});
  httpServer.close(() => process.exit(0));
  if (typeof httpServer.closeAllConnections === "function") httpServer.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
