"use strict";
// TLS (https / wss) with the official Socket.IO client (socket.io-client 4.8) against
// `socketio_test_server` started with TLS_CERT / TLS_KEY (tests/interop/socketio_server/CONTRACT.md).
//
// The certificate is self-signed and made now with the openssl command line tool (env OPENSSL,
// default "openssl") in a temporary directory; the clients trust it as their only CA (`ca`), with
// verification on (no rejectUnauthorized: false). Covered: https long-polling, wss, and polling
// then upgrade to wss, each with acks and binary; a client that does not trust the certificate
// fails cleanly while the server keeps serving; plain HTTP and garbage on the TLS port are closed
// without disturbing a TLS client that is exchanging messages at the same time.
//
//   COURIER_SOCKETIO_TEST_SERVER=/path/to/socketio_test_server node --test socketio_tls.test.js
//   COURIER_SERVER_CMD="node reference/socketio_server.js" node --test socketio_tls.test.js

const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const { useServer } = require("./lib/harness");
const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");
const { withTimeout } = require("./lib/eio");

// ----------------------------------------------------------------------------
// A throwaway certificate for 127.0.0.1 (the server listens there), before the server starts.

const certDir = fs.mkdtempSync(path.join(os.tmpdir(), "courier-tls-"));
process.on("exit", () => fs.rmSync(certDir, { recursive: true, force: true }));
const CERT = path.join(certDir, "cert.pem");
const KEY = path.join(certDir, "key.pem");
try {
  execFileSync(
    process.env.OPENSSL || "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
     "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", KEY, "-out", CERT],
    { stdio: "pipe" }
  );
} catch (err) {
  throw new Error(`courier interop: cannot make a test certificate with openssl (scripts/install-deps.sh installs it): ${err.message}`);
}
const CA = fs.readFileSync(CERT);
process.env.TLS_CERT = CERT;
process.env.TLS_KEY = KEY;
process.env.LOG_LEVEL = "info"; // courier's server logs why it closed a TLS connection

const server = useServer({ binaryEnv: "COURIER_SOCKETIO_TEST_SERVER" });
const isCourier = !process.env.COURIER_SERVER_CMD;

const T = { timeout: 20_000 };
const WAIT = 5000;

// ----------------------------------------------------------------------------
// helpers

function url() {
  return `https://127.0.0.1:${server.port}`;
}

const opened = [];
afterEach(() => {
  for (const s of opened.splice(0)) {
    s.removeAllListeners();
    s.disconnect();
    if (s.io && s.io.engine) s.io.engine.close();
  }
});

/** A client socket; every event it receives is recorded from the start (no race with "welcome"). */
function client(extra = {}) {
  const socket = io(url(), { forceNew: true, reconnection: false, timeout: 5000, ca: CA, ...extra });
  socket.received = [];
  socket.onAny((event, ...args) => socket.received.push({ event, args }));
  opened.push(socket);
  return socket;
}

function once(emitter, event, ms = WAIT) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.once(event, handler);
  });
  return withTimeout(p, ms, `"${event}"`).finally(() => emitter.off(event, handler));
}

async function connected(socket) {
  const outcome = await withTimeout(
    new Promise((resolve) => {
      socket.once("connect", () => resolve({ ok: true }));
      socket.once("connect_error", (err) => resolve({ ok: false, err }));
    }),
    WAIT,
    "connect"
  );
  if (!outcome.ok) assert.fail(`connect_error: ${outcome.err.message} (${describeError(outcome.err)})`);
}

/** What the transport said about a connect_error (ws: the ErrorEvent; polling: the request's error text). */
function describeError(err) {
  const parts = [];
  const d = err && err.description;
  if (d && d.message) parts.push(d.message);
  if (d && d.error && d.error.message) parts.push(d.error.message);
  const c = err && err.context;
  if (c && typeof c.responseText === "string") parts.push(c.responseText.split("\n")[0]);
  return parts.join(" | ");
}

/** Emits with an ack; resolves with the ack's arguments (an array). */
function ack(socket, ...args) {
  return withTimeout(new Promise((resolve) => socket.emit(...args, (...answer) => resolve(answer))), WAIT, `ack of "${args[0]}"`);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends `bytes` on a plain TCP connection to the TLS port; resolves with what came back once the server closed it. */
function rawExchange(bytes) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const sock = net.connect({ host: "127.0.0.1", port: server.port });
      const chunks = [];
      sock.on("data", (c) => chunks.push(c));
      sock.on("error", () => {}); // a reset is a close too
      sock.on("close", () => resolve(Buffer.concat(chunks)));
      sock.on("connect", () => sock.write(bytes));
      sock.setTimeout(WAIT, () => {
        sock.destroy();
        reject(new Error("the server did not close the connection"));
      });
    }),
    WAIT + 1000,
    "the server to close a non-TLS connection"
  );
}

const MODES = [
  { name: "https long-polling", transports: ["polling"], final: "polling" },
  { name: "wss", transports: ["websocket"], final: "websocket" },
  { name: "https polling, then upgrade to wss", transports: undefined, final: "websocket" },
];

// ----------------------------------------------------------------------------

for (const mode of MODES) {
  describe(`TLS: ${mode.name}`, () => {
    it("connects with the certificate as CA, emits with acks and binary", T, async () => {
      const socket = client(mode.transports ? { transports: mode.transports } : {});
      await connected(socket);
      if (mode.final === "websocket" && socket.io.engine.transport.name !== "websocket") {
        await once(socket.io.engine, "upgrade");
      }
      assert.equal(socket.io.engine.transport.name, mode.final);
      assert.equal(socket.io.engine.secure, true);
      // welcome (server emit on connection) arrived over TLS.
      const welcome = socket.received.find((e) => e.event === "welcome") || { args: await once(socket, "welcome") };
      assert.equal(welcome.args[0].id, socket.id);

      const bin = Buffer.alloc(1024, 0);
      for (let i = 0; i < bin.length; i++) bin[i] = i & 0xff;
      const answer = await ack(socket, "echo", "text", { n: 1, list: [1, "two"] }, bin);
      assert.equal(answer.length, 3);
      assert.deepEqual(answer[0], "text");
      assert.deepEqual(answer[1], { n: 1, list: [1, "two"] });
      assert.ok(Buffer.from(answer[2]).equals(bin), "binary attachment unchanged");

      // Larger than a TLS record, several of them in flight at once.
      const big = Buffer.alloc(200_000, 0x61);
      const answers = await Promise.all([1, 2, 3].map((i) => ack(socket, "echo", i, big)));
      answers.forEach((a, i) => {
        assert.equal(a[0], i + 1);
        assert.ok(Buffer.from(a[1]).equals(big), "large binary unchanged");
      });

      // A server emit with binary back to the client.
      const back = once(socket, "emit-back");
      socket.emit("emit-back", "x", Buffer.from([1, 2, 3]));
      const [s, b] = await back;
      assert.equal(s, "x");
      assert.ok(Buffer.from(b).equals(Buffer.from([1, 2, 3])));
      assert.equal(socket.io.engine.transport.name, mode.final); // no downgrade on the way

      // A broadcast (one shared frame for every recipient) reaches the other TLS clients.
      const others = [client({ transports: ["websocket"] }), client({ transports: ["polling"] })];
      await Promise.all(others.map(connected));
      const got = others.map((o) => once(o, "news"));
      assert.deepEqual(await ack(socket, "broadcast", "news", { big: "y".repeat(20_000) }), [true]);
      for (const [payload] of await Promise.all(got)) assert.equal(payload.big.length, 20_000);
    });
  });
}

describe("TLS: bad peers", () => {
  it("a client that does not trust the certificate fails cleanly; the server keeps serving", T, async () => {
    for (const transports of [["polling"], ["websocket"]]) {
      const untrusting = io(url(), { forceNew: true, reconnection: false, timeout: 5000, transports });
      opened.push(untrusting);
      // (described at once: the polling request's error text is cleared right after the event)
      const failed = new Promise((resolve) => untrusting.once("connect_error", (err) => resolve({ err, why: describeError(err) })));
      const { err, why } = await withTimeout(failed, WAIT, "connect_error");
      assert.equal(untrusting.connected, false);
      assert.match(why, /self[- ]signed certificate/i, `${transports}: ${err.message}`);
      // (Node checks the certificate after a complete handshake and then just closes the TCP
      // connection, so for the server this is an ordinary end of connection.)
    }
    const trusted = client({ transports: ["websocket"] });
    await connected(trusted);
    assert.deepEqual(await ack(trusted, "echo", "still here"), ["still here"]);
  });

  it("plain HTTP and garbage on the TLS port are closed; a concurrent TLS client is unaffected", T, async () => {
    const mark = server.outputMark;
    const busy = client({ transports: ["websocket"] });
    await connected(busy);
    // The TLS client exchanges acks all along.
    let stop = false;
    let acked = 0;
    const pump = (async () => {
      while (!stop) {
        const [n] = await ack(busy, "echo", acked);
        assert.equal(n, acked);
        acked++;
      }
    })();

    const bad = [
      Buffer.from("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 0xff)),
      Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x20]), Buffer.alloc(32, 0xee)]), // a broken ClientHello
    ];
    const replies = await Promise.all(bad.map((b) => rawExchange(b)));
    for (const r of replies) assert.ok(!r.toString("latin1").includes("HTTP/1.1"), "no plaintext HTTP answer");
    if (isCourier) {
      // courier logged each of them, with OpenSSL's reason (LOG_LEVEL=info).
      const count = () => (server.outputSince(mark).match(/TLS handshake error/g) || []).length;
      const deadline = Date.now() + WAIT;
      while (count() < bad.length && Date.now() < deadline) await sleep(20);
      assert.equal(count(), bad.length, server.outputSince(mark));
      assert.match(server.outputSince(mark), /http request/);
    }

    const before = acked;
    await withTimeout(
      (async () => {
        while (acked < before + 20) await sleep(5);
      })(),
      WAIT,
      "the TLS client's acks to go on"
    );
    stop = true;
    await pump;
    assert.equal(busy.connected, true);
    assert.equal(busy.io.engine.transport.name, "websocket");
    assert.ok(acked >= 20);
  });
});
