"use strict";
// Interop with the official Engine.IO client (engine.io-client 6.6.x) against
// the server under test (which echoes every message).

const { useServer, sleep } = require("./lib/harness");
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const { Socket } = require("engine.io-client");
const { ENGINE_PATH, PING_INTERVAL, withTimeout, toBuffer, assertSidUnknown } = require("./lib/eio");

const server = useServer();
const T = { timeout: 15_000 };

/** An engine.io-client Socket with a queue of received messages. */
class Client {
  constructor(transports) {
    const opts = { path: ENGINE_PATH, reconnection: false };
    if (transports) opts.transports = transports;
    this.socket = new Socket(server.httpUrl, opts);
    this.queue = [];
    this.waiters = [];
    this.pings = 0;
    this.upgrades = [];
    this.errors = [];
    this.closeReason = null;
    this.socket.on("message", (data) => {
      const w = this.waiters.shift();
      if (w) w.resolve(data);
      else this.queue.push(data);
    });
    this.socket.on("ping", () => this.pings++);
    this.socket.on("upgrade", (transport) => this.upgrades.push(transport.name));
    this.socket.on("error", (err) => this.errors.push(err));
    this.closed = new Promise((resolve) => {
      this.socket.on("close", (reason, description) => {
        this.closeReason = reason;
        for (const w of this.waiters.splice(0)) w.reject(new Error(`socket closed (${reason}) while waiting for a message`));
        resolve({ reason, description });
      });
    });
    this.opened = withTimeout(
      new Promise((resolve, reject) => {
        this.socket.once("open", resolve);
        this.socket.once("error", (err) => reject(new Error(`engine.io-client error before open: ${err.message || err}`)));
      }),
      5000,
      "engine.io-client open"
    );
  }

  get sid() {
    return this.socket.id;
  }

  get transportName() {
    return this.socket.transport && this.socket.transport.name;
  }

  next(timeoutMs = 5000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closeReason) return Promise.reject(new Error(`socket closed (${this.closeReason})`));
    return withTimeout(new Promise((resolve, reject) => this.waiters.push({ resolve, reject })), timeoutMs, "an echoed message");
  }

  send(data) {
    this.socket.send(data);
  }

  async close() {
    this.socket.close();
    return withTimeout(this.closed, 3000, "close event");
  }
}

const MODES = [
  { name: "polling only", transports: ["polling"], final: "polling" },
  { name: "websocket only", transports: ["websocket"], final: "websocket" },
  { name: "default (polling, then upgrade to websocket)", transports: undefined, final: "websocket" },
];

/** Connects, and for the default mode waits for the upgrade to WebSocket. */
async function connect(mode) {
  const c = new Client(mode.transports);
  await c.opened;
  assert.equal(typeof c.sid, "string");
  assert.ok(c.sid.length > 0);
  if (mode.transports === undefined) {
    assert.equal(c.transportName, "polling", "default mode starts with polling");
    await withTimeout(
      new Promise((resolve) => {
        if (c.upgrades.length) resolve();
        else c.socket.once("upgrade", resolve);
      }),
      5000,
      "upgrade event"
    );
    assert.deepEqual(c.upgrades, ["websocket"]);
  }
  assert.equal(c.transportName, mode.final);
  return c;
}

for (const mode of MODES) {
  describe(`engine.io-client, ${mode.name}`, T, () => {
    it("connects and echoes text and binary messages", async () => {
      const c = await connect(mode);

      c.send("hello");
      assert.equal(await c.next(), "hello");

      c.send("héllo € 😀 日本語");
      assert.equal(await c.next(), "héllo € 😀 日本語");

      const buf = Buffer.from([0, 1, 2, 3, 254, 255, 0x1e, 0x62]);
      c.send(buf);
      const gotBuf = await c.next();
      assert.notEqual(typeof gotBuf, "string", "binary message came back as text");
      assert.ok(toBuffer(gotBuf).equals(buf), `binary echo differs: ${toBuffer(gotBuf).toString("hex")}`);

      const u8 = new Uint8Array(4096);
      for (let i = 0; i < u8.length; i++) u8[i] = (i * 31 + 7) & 0xff;
      c.send(u8);
      const gotU8 = await c.next();
      assert.notEqual(typeof gotU8, "string", "binary message came back as text");
      assert.ok(toBuffer(gotU8).equals(Buffer.from(u8)), "Uint8Array echo differs");

      assert.equal(c.transportName, mode.final);
      assert.deepEqual(c.errors, []);
      await c.close();
    });

    it("round-trips a 100 KB text message", async () => {
      const c = await connect(mode);
      let big = "";
      for (let i = 0; big.length < 100 * 1024; i++) big += `${i % 10}abcdefghijklmnopqrstuvwxyz-`;
      big = big.slice(0, 100 * 1024);
      c.send(big);
      const got = await c.next();
      assert.equal(typeof got, "string");
      assert.equal(got.length, big.length);
      assert.ok(got === big, "100 KB message corrupted");
      await c.close();
    });

    it("keeps messages in order", async () => {
      const c = new Client(mode.transports);
      await c.opened;
      // Sent right after open: in default mode this overlaps the upgrade.
      const sent = [];
      for (let i = 0; i < 30; i++) {
        const m = i % 3 === 2 ? Buffer.from([i, i + 1, i + 2]) : `message ${i}`;
        sent.push(m);
        c.send(m);
      }
      for (const expected of sent) {
        const got = await c.next();
        if (typeof expected === "string") assert.equal(got, expected);
        else assert.ok(toBuffer(got).equals(expected), `binary message ${expected.toString("hex")} differs`);
      }
      await c.close();
    });

    it("stays connected across several ping intervals", async () => {
      const c = await connect(mode);
      const pingsBefore = c.pings;
      await sleep(5 * PING_INTERVAL);
      assert.equal(c.closeReason, null, `closed: ${c.closeReason}`);
      assert.ok(c.pings - pingsBefore >= 3, `only ${c.pings - pingsBefore} ping events in ${5 * PING_INTERVAL} ms`);
      c.send("still here");
      assert.equal(await c.next(), "still here");
      assert.equal(c.transportName, mode.final);
      await c.close();
    });

    it("closes cleanly with socket.close()", async () => {
      const c = await connect(mode);
      const sid = c.sid;
      const { reason } = await c.close();
      assert.equal(reason, "forced close");
      assert.deepEqual(c.errors, []);
      // The server must have dropped the session.
      await sleep(100);
      await assertSidUnknown(server, sid);
    });
  });
}
