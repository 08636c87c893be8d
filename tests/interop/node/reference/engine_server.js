"use strict";
// Reference implementation of the courier `conformance_server` contract for the
// /engine.io/ path, built on the official Node.js `engine.io` server. The
// interop tests must pass against this server first; that is what proves the
// tests themselves right.
//
//   PORT=3000 node reference/engine_server.js
//
// Contract: listen on 127.0.0.1:$PORT, raw Engine.IO v4 at /engine.io/,
// pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000,
// transports polling+websocket, upgrades allowed, CORS open; every message
// received is echoed back unchanged (text as text, binary as binary).
// Exits on SIGTERM.

const http = require("node:http");
const { Server } = require("engine.io");

const port = Number.parseInt(process.env.PORT || "3000", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`engine_server: invalid PORT ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}

const httpServer = http.createServer((req, res) => {
  // Anything that is not handled by engine.io (other paths).
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("not found");
});

const engine = new Server({
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6, // advertised to clients as maxPayload
  transports: ["polling", "websocket"],
  allowUpgrades: true,
  cors: { origin: "*" },
});
engine.attach(httpServer, { path: "/engine.io/" });

const debug = Boolean(process.env.COURIER_REFERENCE_DEBUG);

engine.on("connection", (socket) => {
  socket.on("message", (data) => {
    // data is a string for text packets and a Buffer for binary packets;
    // send() preserves that distinction.
    socket.send(data);
  });
  if (debug) {
    socket.on("close", (reason) => {
      if (reason !== "transport close" && reason !== "forced close") {
        console.error(`engine_server: session ${socket.id} closed: ${reason}`);
      }
    });
  }
});

engine.on("connection_error", (err) => {
  if (debug) {
    console.error(`engine_server: connection_error code=${err.code} message=${err.message}`);
  }
});

httpServer.listen(port, "127.0.0.1", () => {
  console.error(`engine_server: listening on 127.0.0.1:${port}`);
});

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`engine_server: ${signal}, shutting down`);
  engine.close();
  httpServer.close(() => process.exit(0));
  if (typeof httpServer.closeAllConnections === "function") httpServer.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
