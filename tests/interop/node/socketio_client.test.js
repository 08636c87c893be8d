"use strict";
// Interop with the official Socket.IO client (socket.io-client 4.8) against
// the `socketio_test_server` contract (tests/interop/socketio_server/CONTRACT.md).
// The whole suite runs three times: polling only, websocket only, and the
// default (polling, then upgrade to websocket).
//
//   COURIER_SERVER_CMD="node reference/socketio_server.js" node --test socketio_client.test.js
//   COURIER_SOCKETIO_TEST_SERVER=/path/to/socketio_test_server node --test socketio_client.test.js
//
// Waiting is always event-driven with a timeout; fixed waits (NEGATIVE_WAIT)
// are only used to assert that something does NOT arrive.

const { useServer } = require("./lib/harness");
const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { io, Manager } = require("socket.io-client");
const { withTimeout, toBuffer } = require("./lib/eio");

const server = useServer({ binaryEnv: "COURIER_SOCKETIO_TEST_SERVER" });

const T = { timeout: 20_000 };
const WAIT = 3000; // default wait for something that must happen
const NEGATIVE_WAIT = 300; // wait used to assert that something does not happen

const MODES = [
  { name: "polling only", transports: ["polling"], final: "polling" },
  { name: "websocket only", transports: ["websocket"], final: "websocket" },
  { name: "default (polling, then upgrade to websocket)", transports: undefined, final: "websocket" },
];

// ----------------------------------------------------------------------------
// helpers

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the arguments (array) of the next `event` on `emitter`. */
function once(emitter, event, ms = WAIT) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.once(event, handler);
  });
  return withTimeout(p, ms, `"${event}"`).finally(() => emitter.off(event, handler));
}

/** Polls `fn` until `check(value)` is true; returns the last value. */
async function until(fn, check, what, ms = WAIT) {
  const deadline = Date.now() + ms;
  let value;
  for (;;) {
    value = await fn();
    if (check(value)) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}; last value ${JSON.stringify(value)}`);
    await sleep(25);
  }
}

/** Deep-compares, with every Buffer/ArrayBuffer/TypedArray turned into a Buffer first. */
function normalize(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return toBuffer(value);
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalize(v);
    return out;
  }
  return value;
}

function assertSame(actual, expected, message) {
  assert.deepStrictEqual(normalize(actual), normalize(expected), message);
}

/** Sockets (and Managers) opened by the current test; closed after it. */
const opened = [];

afterEach(() => {
  for (const s of opened.splice(0)) {
    try {
      s.removeAllListeners?.();
      if (s instanceof Manager) {
        if (s.engine) s.engine.close();
      } else {
        s.disconnect();
        if (s.io && s.io.engine) s.io.engine.close();
      }
    } catch {
      /* already closed */
    }
  }
});

/**
 * A client socket that records every event it receives (onAny), so tests can
 * wait for an event that may already have arrived, and check that an event
 * never arrived.
 */
class Peer {
  constructor(socket) {
    this.socket = socket;
    this.events = []; // { event, args, taken }
    this.waiters = [];
    socket.onAny((event, ...args) => {
      const entry = { event, args, taken: false };
      this.events.push(entry);
      const i = this.waiters.findIndex((w) => w.event === event);
      if (i >= 0) {
        entry.taken = true;
        this.waiters.splice(i, 1)[0].resolve(args);
      }
    });
  }

  get id() {
    return this.socket.id;
  }

  /** Arguments of the next not-yet-consumed `event` (waits up to `ms`). */
  next(event, ms = WAIT) {
    const entry = this.events.find((e) => e.event === event && !e.taken);
    if (entry) {
      entry.taken = true;
      return Promise.resolve(entry.args);
    }
    let waiter;
    const p = new Promise((resolve) => {
      waiter = { event, resolve };
      this.waiters.push(waiter);
    });
    return withTimeout(p, ms, `event "${event}" on socket ${this.socket.id} (${this.socket.nsp})`).catch((err) => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
      throw err;
    });
  }

  /** All arguments received so far for `event`. */
  all(event) {
    return this.events.filter((e) => e.event === event).map((e) => e.args);
  }

  emitWithAck(...args) {
    return withTimeout(this.socket.emitWithAck(...args), WAIT, `ack of "${args[0]}"`);
  }

  /** Emits and resolves with all the arguments of the ack. */
  emitAckArgs(...args) {
    return withTimeout(
      new Promise((resolve) => this.socket.emit(...args, (...ackArgs) => resolve(ackArgs))),
      WAIT,
      `ack of "${args[0]}"`
    );
  }
}

/** Waits for "connect" (or fails with the connect_error). */
function connected(socket, ms = 5000) {
  if (socket.connected) return Promise.resolve();
  return withTimeout(
    new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", (err) => reject(new Error(`connect_error on ${socket.nsp}: ${err.message}`)));
    }),
    ms,
    `connect on ${socket.nsp}`
  );
}

/** In the default mode, waits for the engine to be upgraded to websocket. */
async function upgraded(mode, engine) {
  if (mode.transports === undefined && engine.transport.name !== "websocket") {
    await withTimeout(
      new Promise((resolve) => engine.once("upgrade", resolve)),
      5000,
      "engine upgrade to websocket"
    );
  }
  assert.equal(engine.transport.name, mode.final, "transport in use");
}

function clientOptions(mode, extra = {}) {
  const opts = { forceNew: true, reconnection: false, timeout: 5000, ...extra };
  if (mode.transports) opts.transports = mode.transports;
  return opts;
}

/** A new connection (its own Manager) to `nsp`, connected and (default mode) upgraded. */
async function connect(mode, nsp = "/", extra = {}) {
  const socket = io(server.httpUrl + nsp, clientOptions(mode, extra));
  opened.push(socket);
  const peer = new Peer(socket);
  await connected(socket);
  await upgraded(mode, socket.io.engine);
  return peer;
}

/** Connects to `nsp` expecting a connect_error; returns the error. */
async function connectError(mode, nsp, extra = {}) {
  const socket = io(server.httpUrl + nsp, clientOptions(mode, extra));
  opened.push(socket);
  const [err] = await once(socket, "connect_error", 5000);
  assert.equal(socket.connected, false);
  return err;
}

/** Connects to "/" and consumes the "welcome" event. */
async function connectMain(mode, extra) {
  const peer = await connect(mode, "/", extra);
  const [welcome] = await peer.next("welcome");
  assert.equal(welcome.id, peer.id);
  return peer;
}

async function join(peer, room) {
  assert.equal(await peer.emitWithAck("join", room), true);
}

async function rooms(peer) {
  return peer.emitWithAck("rooms");
}

/** Waits until the server counts exactly `n` sockets in "/". */
async function waitForCount(probe, n) {
  return until(() => probe.emitWithAck("count"), (c) => c === n, `count == ${n}`);
}

/** Asserts that none of `peers` received `event` (after waiting NEGATIVE_WAIT). */
async function assertNotReceived(peers, event) {
  await sleep(NEGATIVE_WAIT);
  for (const p of peers) {
    assert.deepEqual(p.all(event), [], `socket ${p.id} must not receive "${event}"`);
  }
}

/** Tests that need a clean server: waits until only `probe` is connected to "/". */
async function soleProbe(mode) {
  const probe = await connectMain(mode);
  await waitForCount(probe, 1);
  return probe;
}

/** Waits until the server-wide list of disconnect reasons has grown past `baseline`; returns the new entries. */
async function newReasons(probe, baseline, count = 1) {
  const reasons = await until(
    () => probe.emitWithAck("last-reasons"),
    (r) => Array.isArray(r) && r.length >= baseline + count,
    `${count} new disconnect reason(s)`
  );
  return reasons.slice(baseline);
}

// ----------------------------------------------------------------------------
// the suite, once per transport configuration

for (const mode of MODES) {
  describe(`socket.io-client, ${mode.name}`, T, () => {
    describe("connection", () => {
      it("connects to / and receives welcome with its id and the auth payload", async () => {
        const a = await connect(mode);
        const [welcome] = await a.next("welcome");
        assert.deepEqual(welcome, { id: a.id, auth: {} });
        assert.equal(a.socket.io.engine.transport.name, mode.final);
        // v5: the socket id is not the Engine.IO session id
        assert.notEqual(a.id, a.socket.io.engine.id);

        const auth = { token: "good", n: 1, list: [1, "two", null], nested: { ok: true } };
        const b = await connect(mode, "/", { auth });
        const [welcomeB] = await b.next("welcome");
        assert.deepEqual(welcomeB, { id: b.id, auth });
        assert.notEqual(a.id, b.id);
      });

      it("namespace /custom echoes the auth payload, {} without one", async () => {
        const auth = { token: "abc", nested: { a: [1, 2] } };
        const c = await connect(mode, "/custom", { auth });
        assert.deepEqual(await c.next("auth"), [auth]);
        assert.deepEqual(await c.emitAckArgs("echo", "on custom", 1), ["on custom", 1]);

        const d = await connect(mode, "/custom");
        assert.deepEqual(await d.next("auth"), [{}]);
      });

      it("middleware on / refuses a bad token with message and data", async () => {
        const err = await connectError(mode, "/", { auth: { token: "bad" } });
        assert.equal(err.message, "not authorized");
        assert.deepEqual(err.data, { reason: "bad token" });
      });

      it("middleware on /admin refuses unless role is admin", async () => {
        let err = await connectError(mode, "/admin");
        assert.equal(err.message, "forbidden");
        assert.deepEqual(err.data, { role: null });

        err = await connectError(mode, "/admin", { auth: { role: "user" } });
        assert.equal(err.message, "forbidden");
        assert.deepEqual(err.data, { role: "user" });

        const admin = await connect(mode, "/admin", { auth: { role: "admin" } });
        assert.deepEqual(await admin.next("hello-admin"), []);
      });

      it("an unknown namespace gives connect_error 'Invalid namespace'", async () => {
        for (const nsp of ["/nope", "/dyn-", "/dyn-a-b", "/custom/sub"]) {
          const err = await connectError(mode, nsp);
          assert.equal(err.message, "Invalid namespace", `namespace ${nsp}`);
        }
      });

      it("dynamic namespaces /dyn-<word>", async () => {
        for (const nsp of ["/dyn-abc", "/dyn-X_1"]) {
          const d = await connect(mode, nsp);
          assert.deepEqual(await d.next("nsp"), [nsp]);
          assert.deepEqual(await d.emitAckArgs("echo", nsp, { n: 2 }), [nsp, { n: 2 }]);
        }
      });

      it("multiplexes several namespaces on one connection (one Manager, one engine)", async () => {
        const manager = new Manager(server.httpUrl, clientOptions(mode));
        opened.push(manager);
        const main = manager.socket("/");
        const custom = manager.socket("/custom", { auth: { via: "manager" } });
        const dyn = manager.socket("/dyn-multi");
        const peers = [new Peer(main), new Peer(custom), new Peer(dyn)];
        opened.push(main, custom, dyn);
        await Promise.all([connected(main), connected(custom), connected(dyn)]);
        await upgraded(mode, manager.engine);

        assert.equal(main.io, manager);
        assert.equal(custom.io, manager);
        assert.equal(main.io.engine.id, custom.io.engine.id);
        assert.equal(main.io.engine.id, dyn.io.engine.id);
        assert.equal(new Set([main.id, custom.id, dyn.id]).size, 3, "each namespace has its own socket id");

        const [welcome] = await peers[0].next("welcome");
        assert.equal(welcome.id, main.id);
        assert.deepEqual(await peers[1].next("auth"), [{ via: "manager" }]);
        assert.deepEqual(await peers[2].next("nsp"), ["/dyn-multi"]);

        // concurrent traffic on the three namespaces
        const [r1, r2, r3] = await Promise.all([
          peers[0].emitAckArgs("echo", "main", Buffer.from([1])),
          peers[1].emitAckArgs("echo", "custom", Buffer.from([2])),
          peers[2].emitAckArgs("echo", "dyn", Buffer.from([3])),
        ]);
        assertSame(r1, ["main", Buffer.from([1])]);
        assertSame(r2, ["custom", Buffer.from([2])]);
        assertSame(r3, ["dyn", Buffer.from([3])]);

        // leaving one namespace keeps the others (and the engine) alive
        const engineId = manager.engine.id;
        custom.disconnect();
        assert.deepEqual(await peers[0].emitAckArgs("echo", "still"), ["still"]);
        assert.deepEqual(await peers[2].emitAckArgs("echo", "here"), ["here"]);
        assert.equal(manager.engine.id, engineId);

        // connecting to it again reuses the same engine, with a new socket id
        const oldId = custom.id;
        custom.connect();
        await connected(custom);
        assert.equal(custom.io.engine.id, engineId);
        assert.notEqual(custom.id, oldId);
        assert.deepEqual(await peers[1].next("auth"), [{ via: "manager" }]);
      });
    });

    describe("events and acks", () => {
      it("events both ways with several arguments", async () => {
        const a = await connectMain(mode);
        const args = [1, "two", { three: [3, true, null] }, [4.5, -6], "héllo € 😀 日本語", false, 0];
        a.socket.emit("emit-back", ...args);
        assert.deepEqual(await a.next("emit-back"), args);

        a.socket.emit("emit-back");
        assert.deepEqual(await a.next("emit-back"), []);

        // order is preserved
        for (let i = 0; i < 20; i++) a.socket.emit("emit-back", i);
        for (let i = 0; i < 20; i++) assert.deepEqual(await a.next("emit-back"), [i]);
      });

      it("client -> server acks (callback, emitWithAck, timeout)", async () => {
        const a = await connectMain(mode);
        assert.deepEqual(await a.emitAckArgs("echo", 1, "a", { b: [2] }, null), [1, "a", { b: [2] }, null]);
        assert.deepEqual(await a.emitAckArgs("echo"), []);
        assert.equal(await a.emitWithAck("echo", "only the first", "is resolved"), "only the first");
        assert.deepEqual(await a.socket.timeout(2000).emitWithAck("echo", { x: 1 }), { x: 1 });
        // many acks in flight at once, answered to the right callback
        const results = await Promise.all(Array.from({ length: 25 }, (_, i) => a.emitWithAck("echo", i)));
        assert.deepEqual(results, Array.from({ length: 25 }, (_, i) => i));
      });

      it("server -> client acks (server-ack), the client answers", async () => {
        const a = await connectMain(mode);
        a.socket.on("question", (payload, cb) => cb("answer", 42, { payload }));
        assert.deepEqual(await a.emitWithAck("server-ack", { q: 1 }, 2000), {
          answer: ["answer", 42, { payload: { q: 1 } }],
        });
        // an ack without arguments
        a.socket.off("question");
        a.socket.on("question", (payload, cb) => cb());
        assert.deepEqual(await a.emitWithAck("server-ack", "x", 2000), { answer: [] });
      });

      it("server -> client ack times out when the client does not answer", async () => {
        const a = await connectMain(mode);
        let late;
        a.socket.on("question", (payload, cb) => {
          late = cb;
        });
        assert.deepEqual(await a.emitWithAck("server-ack", "nobody answers", 200), { error: "timeout" });
        // a late answer is ignored by the server, which keeps working
        assert.equal(typeof late, "function");
        late("too late");
        assert.deepEqual(await a.emitAckArgs("echo", "alive"), ["alive"]);
      });
    });

    describe("binary", () => {
      it("binary both ways, nested in objects and arrays", async () => {
        const a = await connectMain(mode);
        const big = Buffer.alloc(100_000);
        for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
        const args = [
          Buffer.from([1, 2, 3]),
          { nested: { buf: Buffer.from([0, 255, 0x1e]), arr: [Buffer.from("abc"), "x", { deep: Buffer.from([9]) }] } },
          [Buffer.from([4]), [Buffer.from([5, 6])]],
          "text between",
          Buffer.alloc(0),
          big,
        ];
        // client -> server (ack) -> client
        assertSame(await a.emitAckArgs("echo", ...args), args);
        // client -> server -> client event
        a.socket.emit("emit-back", ...args);
        assertSame(await a.next("emit-back"), args);
        // TypedArray and ArrayBuffer are sent as binary too
        const u8 = Uint8Array.from([7, 8, 9]);
        assertSame(await a.emitAckArgs("echo", u8, u8.buffer), [Buffer.from([7, 8, 9]), Buffer.from([7, 8, 9])]);
      });

      it("binary in a server -> client ack and back", async () => {
        const a = await connectMain(mode);
        a.socket.on("question", (payload, cb) => cb(Buffer.from([0xca, 0xfe]), { inner: [payload] }));
        const res = await a.emitWithAck("server-ack", Buffer.from([1, 2]), 2000);
        assertSame(res, { answer: [Buffer.from([0xca, 0xfe]), { inner: [Buffer.from([1, 2])] }] });
      });
    });

    describe("rooms", () => {
      it("join, leave and rooms", async () => {
        const a = await connectMain(mode);
        assert.deepEqual(await rooms(a), [a.id]);
        await join(a, "r1");
        await join(a, "r2");
        await join(a, "r1"); // joining twice is harmless
        assert.deepEqual(await rooms(a), [a.id, "r1", "r2"].sort());
        assert.equal(await a.emitWithAck("leave", "r1"), true);
        assert.deepEqual(await rooms(a), [a.id, "r2"].sort());
        assert.equal(await a.emitWithAck("leave", "not-joined"), true);
        assert.deepEqual(await rooms(a), [a.id, "r2"].sort());
      });

      it("to-room reaches the members only (the sender too if it is one)", async () => {
        const [a, b, c] = await Promise.all([connectMain(mode), connectMain(mode), connectMain(mode)]);
        await join(a, "room-x");
        await join(b, "room-x");
        assert.equal(await c.emitWithAck("to-room", "room-x", "hello-room", { p: 1 }), true);
        assert.deepEqual(await a.next("hello-room"), [{ p: 1 }]);
        assert.deepEqual(await b.next("hello-room"), [{ p: 1 }]);
        await assertNotReceived([c], "hello-room");

        // the sender is a member: it receives it too; without an ack
        a.socket.emit("to-room", "room-x", "hello-again", [Buffer.from([1])]);
        assertSame(await a.next("hello-again"), [[Buffer.from([1])]]);
        assertSame(await b.next("hello-again"), [[Buffer.from([1])]]);

        // a socket id is a room
        assert.equal(await c.emitWithAck("to-room", b.id, "private", "for b"), true);
        assert.deepEqual(await b.next("private"), ["for b"]);
        await assertNotReceived([a, c], "private");
      });

      it("to-room-except skips the excepted room", async () => {
        const [a, b, c, d] = await Promise.all([connectMain(mode), connectMain(mode), connectMain(mode), connectMain(mode)]);
        for (const p of [a, b, c]) await join(p, "r");
        await join(b, "ex");
        await join(d, "ex");
        assert.equal(await d.emitWithAck("to-room-except", "r", "ex", "except-evt", "payload"), true);
        assert.deepEqual(await a.next("except-evt"), ["payload"]);
        assert.deepEqual(await c.next("except-evt"), ["payload"]);
        await assertNotReceived([b, d], "except-evt");
      });

      it("broadcast skips the sender", async () => {
        const [a, b, c] = await Promise.all([connectMain(mode), connectMain(mode), connectMain(mode)]);
        assert.equal(await a.emitWithAck("broadcast", "bc", { from: "a" }), true);
        assert.deepEqual(await b.next("bc"), [{ from: "a" }]);
        assert.deepEqual(await c.next("bc"), [{ from: "a" }]);
        await assertNotReceived([a], "bc");
      });

      it("volatile reaches a connected client", async () => {
        const [a, b] = await Promise.all([connectMain(mode), connectMain(mode)]);
        // A volatile packet may be dropped when the transport is not writable
        // at that instant (e.g. during a heartbeat), so a few attempts are made.
        let got = null;
        for (let i = 0; i < 5 && !got; i++) {
          assert.equal(await a.emitWithAck("volatile", "vol", { i }), true);
          got = await b.next("vol", 1000).catch(() => null);
        }
        assert.ok(got, "no volatile event reached the connected client in 5 attempts");
        assert.equal(typeof got[0].i, "number");
      });

      it("server-ack-all gathers every member's answer", async () => {
        const [a, b, c] = await Promise.all([connectMain(mode), connectMain(mode), connectMain(mode)]);
        await join(a, "q");
        await join(b, "q");
        a.socket.on("question-all", (cb) => cb("from a"));
        b.socket.on("question-all", (cb) => cb({ n: "b" }));
        // sorted by JSON text: "\"from a\"" < "{\"n\":\"b\"}"
        assert.deepEqual(await c.emitWithAck("server-ack-all", "q", 2000), { responses: ["from a", { n: "b" }] });

        // an empty room answers at once
        assert.deepEqual(await c.emitWithAck("server-ack-all", "empty-room", 2000), { responses: [] });

        // a member that does not answer: timeout, with the answers that arrived
        await join(c, "q");
        c.socket.on("question-all", () => {});
        assert.deepEqual(await c.emitWithAck("server-ack-all", "q", 300), {
          error: "timeout",
          responses: ["from a", { n: "b" }],
        });
      });

      it("fetch lists the sockets of a room", async () => {
        const [a, b, c] = await Promise.all([connectMain(mode), connectMain(mode), connectMain(mode)]);
        await join(a, "f");
        await join(b, "f");
        assert.deepEqual(await c.emitWithAck("fetch", "f"), [a.id, b.id].sort());
        assert.deepEqual(await c.emitWithAck("fetch", "nobody-here"), []);
        assert.deepEqual(await c.emitWithAck("fetch", c.id), [c.id]);
      });

      it("sockets-join and sockets-leave", async () => {
        const [a, b, c] = await Promise.all([connectMain(mode), connectMain(mode), connectMain(mode)]);
        await join(a, "s1");
        assert.equal(await c.emitWithAck("sockets-join", "s1", "s2"), true);
        assert.deepEqual(await rooms(a), [a.id, "s1", "s2"].sort());
        assert.deepEqual(await rooms(b), [b.id]);
        assert.deepEqual(await c.emitWithAck("fetch", "s2"), [a.id]);

        // a socket id as the selector
        assert.equal(await c.emitWithAck("sockets-join", b.id, "s2"), true);
        assert.deepEqual(await c.emitWithAck("fetch", "s2"), [a.id, b.id].sort());

        assert.equal(await c.emitWithAck("sockets-leave", "s1", "s2"), true);
        assert.deepEqual(await rooms(a), [a.id, "s1"].sort());
        assert.deepEqual(await c.emitWithAck("fetch", "s2"), [b.id]);
      });

      it("disconnect-sockets disconnects the members only", async () => {
        const [a, b, c] = await Promise.all([connectMain(mode), connectMain(mode), connectMain(mode)]);
        await join(a, "d");
        await join(b, "d");
        const aGone = once(a.socket, "disconnect");
        const bGone = once(b.socket, "disconnect");
        c.socket.emit("disconnect-sockets", "d", false);
        assert.equal((await aGone)[0], "io server disconnect");
        assert.equal((await bGone)[0], "io server disconnect");
        assert.deepEqual(await c.emitAckArgs("echo", "c stays"), ["c stays"]);
        assert.deepEqual(await c.emitWithAck("fetch", "d"), []);

        // with close = true the members' connections are closed too
        const [d, e] = await Promise.all([connectMain(mode), connectMain(mode)]);
        await join(d, "d2");
        const engineClosed = once(d.socket.io.engine, "close");
        const dGone = once(d.socket, "disconnect");
        c.socket.emit("disconnect-sockets", "d2", true);
        assert.equal((await dGone)[0], "io server disconnect");
        await engineClosed;
        assert.equal(e.socket.connected, true);
        assert.deepEqual(await e.emitAckArgs("echo", "e stays"), ["e stays"]);
      });
    });

    describe("disconnection", () => {
      it("disconnect-me: the client sees 'io server disconnect', the server records 'server namespace disconnect'", async () => {
        const probe = await soleProbe(mode);
        let baseline = (await probe.emitWithAck("last-reasons")).length;

        const a = await connectMain(mode);
        const gone = once(a.socket, "disconnect");
        a.socket.emit("disconnect-me", false);
        assert.equal((await gone)[0], "io server disconnect");
        assert.deepEqual(await newReasons(probe, baseline), ["server namespace disconnect"]);
        baseline += 1;

        // close = true: same reasons, and the connection is closed
        const b = await connectMain(mode);
        const engineClosed = once(b.socket.io.engine, "close");
        const goneB = once(b.socket, "disconnect");
        b.socket.emit("disconnect-me", true);
        assert.equal((await goneB)[0], "io server disconnect");
        await engineClosed;
        assert.deepEqual(await newReasons(probe, baseline), ["server namespace disconnect"]);
      });

      it("socket.disconnect() on the client: the server records 'client namespace disconnect'", async () => {
        const probe = await soleProbe(mode);
        const baseline = (await probe.emitWithAck("last-reasons")).length;
        const a = await connectMain(mode);
        const gone = once(a.socket, "disconnect");
        a.socket.disconnect();
        assert.equal((await gone)[0], "io client disconnect");
        assert.deepEqual(await newReasons(probe, baseline), ["client namespace disconnect"]);
        await waitForCount(probe, 1);
      });

      it("the client's engine closed abruptly: the server records 'transport close'", async () => {
        const probe = await soleProbe(mode);
        const baseline = (await probe.emitWithAck("last-reasons")).length;
        const a = await connectMain(mode);
        a.socket.io.engine.close();
        assert.deepEqual(await newReasons(probe, baseline), ["transport close"]);
        await waitForCount(probe, 1);
      });

      it("count follows connections and disconnections", async () => {
        const probe = await soleProbe(mode);
        const [a, b] = await Promise.all([connectMain(mode), connectMain(mode)]);
        assert.equal(await probe.emitWithAck("count"), 3);
        // other namespaces are not counted
        await connect(mode, "/custom");
        assert.equal(await probe.emitWithAck("count"), 3);
        a.socket.disconnect();
        await waitForCount(probe, 2);
        b.socket.io.engine.close();
        await waitForCount(probe, 1);
      });
    });

    describe("emit cheatsheet (socket.io docs), from the client side", () => {
      it("Client: basic emit, acknowledgement, acknowledgement and timeout, volatile, compress, reserved names", async () => {
        const peer = await connectMain(mode);
        const socket = peer.socket;

        // Basic emit
        socket.emit("emit-back", 1, "2", { 3: "4", 5: Uint8Array.from([6]) });
        assertSame(await peer.next("emit-back"), [1, "2", { 3: "4", 5: Buffer.from([6]) }]);

        // Acknowledgement: callback
        const cbArgs = await withTimeout(
          new Promise((resolve) => socket.emit("echo", "world", (arg1, arg2, arg3) => resolve([arg1, arg2, arg3]))),
          WAIT,
          "ack callback"
        );
        assert.deepEqual(cbArgs, ["world", undefined, undefined]);

        // Acknowledgement: promise
        assert.equal(await socket.emitWithAck("echo", "world"), "world");

        // Acknowledgement and timeout: callback, acknowledged in time
        const [err, arg1] = await withTimeout(
          new Promise((resolve) => socket.timeout(5000).emit("echo", "world", (e, a1) => resolve([e, a1]))),
          WAIT,
          "timeout ack callback"
        );
        assert.equal(err, null);
        assert.equal(arg1, "world");

        // Acknowledgement and timeout: callback, not acknowledged (no handler for the event)
        const [err2] = await withTimeout(
          new Promise((resolve) => socket.timeout(200).emit("no-such-event", "world", (e) => resolve([e]))),
          WAIT,
          "timeout ack callback (expired)"
        );
        assert.ok(err2 instanceof Error, "the server did not acknowledge: the callback gets an error");

        // Acknowledgement and timeout: promise
        assert.equal(await socket.timeout(5000).emitWithAck("echo", "world"), "world");
        await assert.rejects(socket.timeout(200).emitWithAck("no-such-event", "world"));

        // without compression
        const uncompressed = await withTimeout(
          new Promise((resolve) => socket.compress(false).emit("echo", "uncompressed", (...args) => resolve(args))),
          WAIT,
          "ack of an uncompressed emit"
        );
        assert.deepEqual(uncompressed, ["uncompressed"]);

        // volatile: may be dropped if the transport is not writable at that instant
        let got = null;
        for (let i = 0; i < 5 && !got; i++) {
          socket.volatile.emit("emit-back", "volatile", i);
          got = await peer.next("emit-back", 1000).catch(() => null);
        }
        assert.ok(got, "no volatile emit went through in 5 attempts");
        assert.equal(got[0], "volatile");

        // reserved event names cannot be emitted
        for (const name of ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]) {
          assert.throws(() => socket.emit(name), /reserved/, name);
        }
        assert.equal(await socket.emitWithAck("echo", "still connected"), "still connected");
      });

      it("Server: single client, broadcasting, rooms (driven through the contract)", async () => {
        const [a, b, c] = await Promise.all([connectMain(mode), connectMain(mode), connectMain(mode)]);

        // socket.emit("hello", 1, "2", { 3: "4", 5: Buffer.from([6]) })
        a.socket.emit("emit-back", 1, "2", { 3: "4", 5: Buffer.from([6]) });
        assertSame(await a.next("emit-back"), [1, "2", { 3: "4", 5: Buffer.from([6]) }]);

        // socket.emit("hello", "world", (arg1, arg2, arg3) => ...)
        a.socket.on("question", (arg, cb) => cb(arg, "2", 3));
        assert.deepEqual(await a.emitWithAck("server-ack", "world", 5000), { answer: ["world", "2", 3] });

        // socket.timeout(ms).emit(...) not acknowledged in time
        b.socket.on("question", () => {});
        assert.deepEqual(await b.emitWithAck("server-ack", "world", 200), { error: "timeout" });

        // socket.broadcast.emit("hello")
        assert.equal(await a.emitWithAck("broadcast", "hello", null), true);
        assert.deepEqual(await b.next("hello"), [null]);
        assert.deepEqual(await c.next("hello"), [null]);

        // io.timeout(ms).emit("hello", "world", (err, responses) => ...) (in a room)
        for (const p of [a, b, c]) {
          await join(p, "my room");
          p.socket.on("question-all", (cb) => cb(p === a ? "a" : p === b ? "b" : "c"));
        }
        assert.deepEqual(await a.emitWithAck("server-ack-all", "my room", 5000), { responses: ["a", "b", "c"] });

        // io.to("my room").emit("hello") / io.to("room1").except("room4").emit("hello")
        await join(c, "room4");
        assert.equal(await a.emitWithAck("to-room", "my room", "hello-room", 1), true);
        for (const p of [a, b, c]) assert.deepEqual(await p.next("hello-room"), [1]);
        assert.equal(await a.emitWithAck("to-room-except", "my room", "room4", "hello-except", 2), true);
        assert.deepEqual(await a.next("hello-except"), [2]);
        assert.deepEqual(await b.next("hello-except"), [2]);
        await assertNotReceived([c], "hello-except");
      });
    });
  });
}
