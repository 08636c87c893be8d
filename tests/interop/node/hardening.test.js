"use strict";
// Production hardening, seen from real clients (socket.io-client 4.8 and raw sockets) against
// socketio_test_server started with the limits of tests/interop/socketio_server/CONTRACT.md
// ("Limits"): max_sessions, handshakes per second, events per second, rooms and namespaces per
// connection, the metrics endpoint and graceful shutdown. courier only (the Node reference has
// none of these limits).
//
//   COURIER_SOCKETIO_TEST_SERVER=/path/to/socketio_test_server node --test hardening.test.js

const { ServerProcess } = require("./lib/harness");
const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { io, Manager } = require("socket.io-client");
const { withTimeout } = require("./lib/eio");

const T = { timeout: 30_000 };
const WAIT = 5000;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts a server with `env` for the enclosing describe block. */
function serverWith(env) {
  const server = new ServerProcess({ binaryEnv: "COURIER_SOCKETIO_TEST_SERVER", env });
  before(() => server.start());
  after(() => server.stop());
  return server;
}

const opened = [];
afterEach(() => {
  for (const s of opened.splice(0)) {
    try {
      if (s instanceof Manager) {
        if (s.engine) s.engine.close();
      } else {
        s.disconnect();
      }
    } catch {
      /* already closed */
    }
  }
});

function client(server, nsp = "/", opts = {}) {
  const s = io(`${server.httpUrl}${nsp}`, { forceNew: true, reconnection: false, timeout: WAIT, ...opts });
  opened.push(s);
  return s;
}

function once(emitter, event, ms = WAIT) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.once(event, handler);
  });
  return withTimeout(p, ms, `"${event}"`).finally(() => emitter.off(event, handler));
}

async function connected(s) {
  if (s.connected) return s;
  await once(s, "connect");
  return s;
}

function ack(s, ...args) {
  return withTimeout(s.emitWithAck(...args), WAIT, `ack of "${args[0]}"`);
}

/** A polling handshake by hand: { status, body }. */
async function pollingHandshake(server) {
  const res = await fetch(`${server.httpUrl}/socket.io/?EIO=4&transport=polling`);
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
}

// ----------------------------------------------------------------------------

describe("limit: max_sessions (MAX_SESSIONS=2)", T, () => {
  const server = serverWith({ MAX_SESSIONS: "2" });

  it("the third handshake gets 503 with a JSON error, polling and websocket; a freed slot is reusable", async () => {
    const a = await connected(client(server, "/", { transports: ["websocket"] }));
    const b = await connected(client(server, "/", { transports: ["polling"] }));
    const refused = await pollingHandshake(server);
    assert.equal(refused.status, 503);
    assert.equal(refused.type, "application/json");
    assert.deepEqual(JSON.parse(refused.body), { code: 3, message: "Too many sessions" });
    const c = client(server, "/", { transports: ["websocket"] });
    await once(c, "connect_error");
    const m = await ack(a, "metrics");
    assert.equal(m.handshakes_refused_max_sessions, 2);
    assert.equal(m.sessions_websocket, 1);
    assert.equal(m.sessions_polling, 1);
    b.disconnect();
    await sleep(200);
    await connected(client(server, "/", { transports: ["websocket"] }));
  });
});

describe("limit: handshakes per second per address (HANDSHAKES_PER_SECOND=0.5, HANDSHAKE_BURST=3)", T, () => {
  // A token every 2 s: the burst below is over long before one comes back, even on a loaded machine.
  const server = serverWith({ HANDSHAKES_PER_SECOND: "0.5", HANDSHAKE_BURST: "3" });

  it("a burst passes, the excess gets 429 (JSON), tokens come back at the rate", async () => {
    const statuses = [];
    let refusedBody = null;
    for (let i = 0; i < 5; i++) {
      const r = await pollingHandshake(server);
      statuses.push(r.status);
      if (r.status === 429) refusedBody = JSON.parse(r.body);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    assert.deepEqual(refusedBody, { code: 3, message: "Too many requests" });
    const ws = client(server, "/", { transports: ["websocket"] });
    await once(ws, "connect_error");
    await sleep(2100); // a token back
    const s = await connected(client(server, "/", { transports: ["websocket"] }));
    const m = await ack(s, "metrics");
    assert.ok(m.handshakes_refused_rate >= 3, JSON.stringify(m));
  });
});

describe("limits per socket: events per second, rooms, namespaces; metrics endpoint", T, () => {
  const server = serverWith({
    MAX_EVENTS_PER_SECOND: "50",
    EVENT_BURST: "100",
    MAX_ROOMS_PER_SOCKET: "3",
    MAX_NAMESPACES: "2",
    METRICS_PATH: "/metrics",
  });

  for (const transports of [["websocket"], ["polling"]]) {
  it(`events (${transports[0]}): a burst within event_burst is served; a sustained flood gets an error event, then io server disconnect`, async () => {
    const before = await ack(await connected(client(server)), "metrics");
    // Two namespaces on one connection: socket.io-client closes a connection whose last socket
    // was disconnected, so "/custom" keeps it open to show that the server does not close it.
    const manager = new Manager(server.httpUrl, { reconnection: false, transports });
    opened.push(manager);
    const s = await connected(manager.socket("/"));
    const sibling = await connected(manager.socket("/custom"));
    const observer = await connected(client(server, "/", { transports: ["websocket"] }));
    const burst = await Promise.all(Array.from({ length: 80 }, (_, i) => ack(s, "echo", i)));
    assert.deepEqual(burst.map((a) => a), Array.from({ length: 80 }, (_, i) => i));
    await sleep(1000); // the bucket refills
    const error = once(s, "error");
    const disconnect = once(s, "disconnect");
    for (let i = 0; i < 500; i++) s.emit("emit-back", i);
    const [payload] = await error;
    assert.deepEqual(payload, { message: "rate limit exceeded" });
    const [reason] = await disconnect;
    assert.equal(reason, "io server disconnect");
    const reasons = await ack(observer, "last-reasons");
    assert.ok(reasons.includes("server namespace disconnect"), JSON.stringify(reasons));
    const m = await ack(observer, "metrics");
    assert.equal(m.rate_limited - before.rate_limited, 1);
    // The rest of the flood, still in flight, is dropped: the connection itself stays up and can
    // join again.
    await sleep(300);
    assert.equal(manager.engine.readyState, "open");
    assert.equal(await ack(sibling, "echo", "sibling"), "sibling");
    s.connect();
    await once(s, "connect");
    assert.equal(await ack(s, "echo", "back"), "back");
    // Another client is unaffected.
    assert.equal(await ack(observer, "echo", "still fine"), "still fine");
  });
  }

  it("rooms: a join beyond max_rooms_per_socket fails with an error; joined rooms stay", async () => {
    const s = await connected(client(server));
    assert.equal(await ack(s, "join", "r1"), true);
    assert.equal(await ack(s, "join", "r2"), true); // its own room + 2 = 3
    assert.deepEqual(await ack(s, "join", "r3"), { error: "Too many rooms" });
    assert.equal(await ack(s, "join", "r1"), true); // already in: not a new room
    assert.deepEqual(await ack(s, "rooms"), [s.id, "r1", "r2"].sort());
    const m = await ack(s, "metrics");
    assert.equal(m.rooms_refused, 1);
  });

  it("namespaces: a CONNECT beyond max_namespaces_per_connection gets connect_error", async () => {
    const manager = new Manager(server.httpUrl, { reconnection: false, transports: ["websocket"] });
    opened.push(manager);
    const main = await connected(manager.socket("/"));
    await connected(manager.socket("/custom"));
    const third = manager.socket("/dyn-x");
    const [err] = await once(third, "connect_error");
    assert.equal(err.message, "Too many namespaces");
    assert.equal(await ack(main, "echo", 1), 1); // the connection goes on
    const m = await ack(main, "metrics");
    assert.equal(m.namespaces_refused, 1);
  });

  it("metrics: Prometheus text on METRICS_PATH reflects sessions, sockets and limit hits", async () => {
    const s = await connected(client(server, "/", { transports: ["websocket"] }));
    await ack(s, "join", "metrics-room");
    const res = await fetch(`${server.httpUrl}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const value = (line) => {
      const m = text.match(new RegExp(`^${line.replace(/[{}"]/g, (c) => "\\" + c)} (\\d+)$`, "m"));
      assert.ok(m, `no "${line}" in:\n${text}`);
      return Number(m[1]);
    };
    assert.ok(value('courier_sessions{transport="websocket"}') >= 1);
    assert.ok(value("courier_sockets") >= 1);
    assert.ok(value("courier_rooms") >= 2);
    assert.ok(value("courier_events_received_total") > 80);
    assert.equal(value('courier_limit_hits_total{limit="max_events_per_second"}'), 2);
    assert.equal(value('courier_limit_hits_total{limit="max_rooms_per_socket"}'), 1);
    assert.equal(value('courier_limit_hits_total{limit="max_namespaces_per_connection"}'), 1);
    assert.ok(value('courier_disconnects_total{reason="server namespace disconnect"}') >= 1);
    assert.match(text, /^# TYPE courier_bytes_sent_total counter$/m);
    assert.equal((await fetch(`${server.httpUrl}/metrics/other`)).status, 404);
  });
});

describe("graceful shutdown", T, () => {
  for (const mode of [
    { name: "websocket", transports: ["websocket"] },
    { name: "polling", transports: ["polling"] },
    { name: "default (upgraded)", transports: undefined },
  ]) {
    it(`${mode.name}: messages queued before close arrive, then the connection closes; the server exits`, async () => {
      const server = new ServerProcess({
        binaryEnv: "COURIER_SOCKETIO_TEST_SERVER",
        env: { DRAIN_TIMEOUT_MS: "3000", PING_INTERVAL: "25000", PING_TIMEOUT: "20000", LOG_LEVEL: "info" },
      });
      await server.start();
      try {
        const peers = [];
        for (let i = 0; i < 3; i++) {
          const s = await connected(client(server, "/", { transports: mode.transports }));
          if (mode.transports === undefined && s.io.engine.transport.name !== "websocket")
            await withTimeout(new Promise((r) => s.io.engine.once("upgrade", r)), WAIT, "upgrade");
          const got = [];
          s.on("queued", (i) => got.push(i));
          peers.push({ s, got, disconnect: once(s, "disconnect", 10_000) });
        }
        const COUNT = 2000;
        server.stopping = true; // the server exits by itself: not a crash
        peers[0].s.emit("close-server", COUNT);
        for (const p of peers) {
          const [reason] = await p.disconnect;
          assert.equal(reason, "transport close");
          assert.equal(p.got.length, COUNT, `received ${p.got.length} of ${COUNT} queued messages`);
          assert.deepEqual(p.got.slice(0, 3), [0, 1, 2]);
          assert.equal(p.got[COUNT - 1], COUNT - 1);
        }
        const exit = await withTimeout(server._exitPromise, 10_000, "server exit");
        assert.equal(exit.code, 0);
        assert.match(server.output, /socket\.io server shutting down: 3 connections/);
        assert.match(server.output, /reasons at close: server shutting down,server shutting down,server shutting down/);
        assert.match(server.output, /closed gracefully/);
      } finally {
        await server.stop();
      }
    });
  }
});
