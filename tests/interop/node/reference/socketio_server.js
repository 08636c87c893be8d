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

const http = require("node:http");
const { Server } = require("socket.io");

const port = Number.parseInt(process.env.PORT || "3000", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`socketio_server: invalid PORT ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}
const debug = Boolean(process.env.COURIER_REFERENCE_DEBUG);

const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("not found");
});

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
    const sockets = await io.in(room).fetchSockets();
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

httpServer.listen(port, "127.0.0.1", () => {
  console.error(`socketio_server: listening on 127.0.0.1:${port}`);
});

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`socketio_server: ${signal}, shutting down`);
  io.close();
  httpServer.close(() => process.exit(0));
  if (typeof httpServer.closeAllConnections === "function") httpServer.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
