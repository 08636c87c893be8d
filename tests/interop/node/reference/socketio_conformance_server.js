"use strict";
// Reference implementation of the `/socket.io/` part of the conformance
// server contract (/work/shared/CONFORMANCE.md), i.e. the server configuration
// given in the "Test suite" section of the official Socket.IO v5 protocol
// document, on the official Node.js `socket.io` 4.8 server.
// socketio_protocol.test.js must pass against this server first.
//
//   PORT=3000 node reference/socketio_conformance_server.js
//
// Listens on 127.0.0.1:$PORT, path /socket.io/, pingInterval 300 ms,
// pingTimeout 200 ms, connectTimeout 1000 ms, maxHttpBufferSize 1e6 (advertised
// as maxPayload), both transports, upgrades on, CORS origin "*". Exits on SIGTERM.

const http = require("node:http");
const { Server } = require("socket.io");

const port = Number.parseInt(process.env.PORT || "3000", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`socketio_conformance_server: invalid PORT ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}

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

io.on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth || {});

  socket.on("message", (...args) => {
    socket.emit("message-back", ...args);
  });

  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
});

io.of("/custom").on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth || {});
});

httpServer.listen(port, "127.0.0.1", () => {
  console.error(`socketio_conformance_server: listening on 127.0.0.1:${port}`);
});

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`socketio_conformance_server: ${signal}, shutting down`);
  io.close();
  httpServer.close(() => process.exit(0));
  if (typeof httpServer.closeAllConnections === "function") httpServer.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
