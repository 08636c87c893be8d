"use strict";
// Raw Engine.IO v4 helpers: HTTP long-polling via global fetch and WebSocket
// via the `ws` package. No engine.io client code is used here on purpose: the
// protocol tests speak the wire format directly.

require("./harness"); // fails clearly if node_modules is missing
const assert = require("node:assert/strict");
const WebSocket = require("ws");

const ENGINE_PATH = "/engine.io/";
// The conformance server's heartbeat (CONFORMANCE.md), unless a test overrides it for both the
// server and these checks through the same environment variables.
const PING_INTERVAL = Number(process.env.PING_INTERVAL || 300);
const PING_TIMEOUT = Number(process.env.PING_TIMEOUT || 200);
const MAX_PAYLOAD = 1000000;
const SEP = "\x1e";

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with a descriptive error if `promise` does not settle within `ms`. */
function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

function pollingUrl(server, { sid, eio = "4", transport = "polling", extra = "" } = {}) {
  const q = [];
  if (eio !== null) q.push(`EIO=${eio}`);
  if (transport !== null) q.push(`transport=${transport}`);
  if (sid) q.push(`sid=${encodeURIComponent(sid)}`);
  if (extra) q.push(extra);
  return `${server.httpUrl}${ENGINE_PATH}?${q.join("&")}`;
}

function wsUrl(server, { sid, eio = "4", transport = "websocket" } = {}) {
  const q = [];
  if (eio !== null) q.push(`EIO=${eio}`);
  if (transport !== null) q.push(`transport=${transport}`);
  if (sid) q.push(`sid=${encodeURIComponent(sid)}`);
  return `${server.wsUrl}${ENGINE_PATH}?${q.join("&")}`;
}

/** Parses and validates an open packet ("0{...}"); returns the handshake object. */
function parseOpenPacket(text, expectedUpgrades) {
  assert.equal(typeof text, "string", "open packet must be a text packet");
  assert.ok(text.startsWith("0"), `expected open packet starting with "0", got ${JSON.stringify(text.slice(0, 80))}`);
  const value = JSON.parse(text.substring(1));
  assert.deepEqual(Object.keys(value).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
  assert.equal(typeof value.sid, "string");
  assert.ok(value.sid.length > 0, "sid must not be empty");
  assert.deepEqual(value.upgrades, expectedUpgrades);
  assert.equal(value.pingInterval, PING_INTERVAL);
  assert.equal(value.pingTimeout, PING_TIMEOUT);
  assert.equal(value.maxPayload, MAX_PAYLOAD);
  return value;
}

/** Opens a polling session; returns its sid. */
async function openPollingSession(server) {
  const res = await fetch(pollingUrl(server));
  assert.equal(res.status, 200, "polling handshake status");
  const text = await res.text();
  return parseOpenPacket(text, ["websocket"]).sid;
}

/** GET (poll) on a session. Returns { status, body, headers }. */
async function poll(server, sid, init = {}) {
  const res = await fetch(pollingUrl(server, { sid }), init);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** POST a payload to a session. Returns { status, body, headers }. */
async function push(server, sid, body, init = {}) {
  const res = await fetch(pollingUrl(server, { sid }), { method: "POST", body, ...init });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** Asserts an Engine.IO HTTP error response: status 400 and a JSON body {code, message}. */
function assertError(res, code, message) {
  assert.equal(res.status, 400, `expected HTTP 400, got ${res.status} body=${JSON.stringify(res.body)}`);
  let body;
  try {
    body = JSON.parse(res.body);
  } catch {
    assert.fail(`expected a JSON error body, got ${JSON.stringify(res.body)}`);
  }
  assert.deepEqual(body, { code, message });
}

const ERR = {
  UNKNOWN_TRANSPORT: [0, "Transport unknown"],
  UNKNOWN_SID: [1, "Session ID unknown"],
  BAD_HANDSHAKE_METHOD: [2, "Bad handshake method"],
  BAD_REQUEST: [3, "Bad request"],
  UNSUPPORTED_PROTOCOL_VERSION: [5, "Unsupported protocol version"],
};

/** Asserts that `sid` is no longer known to the server (GET -> 400 code 1). */
async function assertSidUnknown(server, sid) {
  const res = await poll(server, sid);
  assertError(res, ...ERR.UNKNOWN_SID);
}

/**
 * A raw WebSocket with a message queue.
 * Messages are { data: string } for text frames and { data: Buffer, binary: true }
 * for binary frames.
 * With autoPong, ping packets ("2") are answered with "3" and not queued.
 */
class RawWs {
  constructor(url, { autoPong = false } = {}) {
    this.url = url;
    this.autoPong = autoPong;
    this.pings = 0;
    this.queue = [];
    this.waiters = [];
    this.closeInfo = null;
    this.error = null;
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("close", () => reject(new Error(`websocket closed before open (${this.error ? this.error.message : "no error"})`)));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.once("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const w of this.waiters.splice(0)) w.reject(new Error(`websocket closed (code ${code}) while waiting for a message`));
        resolve(this.closeInfo);
      });
    });
    this.ws.on("error", (err) => {
      this.error = err;
    });
    this.ws.on("message", (data, isBinary) => {
      const msg = isBinary ? { data: Buffer.from(data), binary: true } : { data: data.toString("utf8"), binary: false };
      if (this.autoPong && !msg.binary && msg.data === "2") {
        this.pings++;
        this.send("3");
        return;
      }
      const w = this.waiters.shift();
      if (w) w.resolve(msg);
      else this.queue.push(msg);
    });
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Next message (text or binary). */
  next(timeoutMs = 3000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closeInfo) return Promise.reject(new Error(`websocket already closed (code ${this.closeInfo.code})`));
    const p = new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    return withTimeout(p, timeoutMs, `a websocket message on ${this.url}`);
  }

  /** Next message, asserted to be a text frame; returns the string. */
  async nextText(timeoutMs) {
    const msg = await this.next(timeoutMs);
    assert.equal(msg.binary, false, "expected a text frame, got a binary frame");
    return msg.data;
  }

  /** Reads the open packet and returns the handshake object. */
  async handshake(expectedUpgrades = [], timeoutMs = 5000) {
    const text = await this.nextText(timeoutMs);
    return parseOpenPacket(text, expectedUpgrades);
  }

  send(data) {
    this.ws.send(data);
  }

  waitClose(timeoutMs = 3000) {
    return withTimeout(this.closed, timeoutMs, `websocket close on ${this.url}`);
  }

  close() {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      this.ws.close();
    }
    return this.closed;
  }

  terminate() {
    this.ws.terminate();
  }
}

/**
 * Opens a WebSocket that the server must refuse: either the HTTP upgrade is
 * rejected or the connection is closed right after it, and in both cases no
 * open packet is ever received. Returns what was observed.
 */
async function expectWsRefused(url, timeoutMs = 3000) {
  const sock = new RawWs(url);
  const info = await sock.waitClose(timeoutMs);
  const messages = sock.queue.map((m) => (m.binary ? `<binary ${m.data.length}>` : m.data));
  assert.ok(
    !messages.some((m) => typeof m === "string" && m.startsWith("0")),
    `server sent an open packet on a connection it should refuse: ${JSON.stringify(messages)}`
  );
  return { ...info, messages, error: sock.error ? sock.error.message : null };
}

function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`not binary data: ${Object.prototype.toString.call(data)}`);
}

module.exports = {
  ENGINE_PATH,
  PING_INTERVAL,
  PING_TIMEOUT,
  MAX_PAYLOAD,
  SEP,
  ERR,
  sleep,
  withTimeout,
  pollingUrl,
  wsUrl,
  parseOpenPacket,
  openPollingSession,
  poll,
  push,
  assertError,
  assertSidUnknown,
  RawWs,
  expectWsRefused,
  toBuffer,
};
