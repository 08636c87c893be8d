"use strict";
// Socket.IO v5 protocol conformance, over raw WebSocket (`ws`) and raw HTTP
// long-polling (global fetch). No Socket.IO / Engine.IO client code is used.
//
// A port of the official test suite (socketio/socket.io,
// docs/socket.io-protocol/v5-test-suite/test-suite.js) with extra cases. The
// server under test is the `/socket.io/` part of the conformance server
// (/work/shared/CONFORMANCE.md): pingInterval 300, pingTimeout 200,
// connectTimeout 1000, maxPayload 1e6, CORS "*";
//   namespace "/":  on connection emit "auth" (handshake auth or {}),
//                   "message" -> emit "message-back" with the same arguments,
//                   "message-with-ack" -> ack with the same arguments;
//   "/custom":      on connection emit "auth".
//
// Where the reference server (Node.js socket.io 4.8) goes beyond the protocol
// document, the test says so in a "REFERENCE:" comment.
//
//   COURIER_SERVER_CMD="node reference/socketio_conformance_server.js" node --test socketio_protocol.test.js
//   COURIER_CONFORMANCE_SERVER=/path/to/conformance_server        node --test socketio_protocol.test.js

const { useServer } = require("./lib/harness");
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { SEP, withTimeout, parseOpenPacket, RawWs, expectWsRefused } = require("./lib/eio");

const server = useServer();

const SIO_PATH = "/socket.io/";
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const CONNECT_TIMEOUT = 1000;
// Slack added to timing bounds, for a loaded CI machine.
const SLACK = 250;
const T = { timeout: 15_000 };

// ----------------------------------------------------------------------------
// URLs and raw transports

function query({ sid, eio = "4", transport }) {
  const q = [];
  if (eio !== null) q.push(`EIO=${eio}`);
  if (transport !== null) q.push(`transport=${transport}`);
  if (sid) q.push(`sid=${encodeURIComponent(sid)}`);
  return q.join("&");
}

function pollingUrl({ sid, eio = "4", transport = "polling" } = {}) {
  return `${server.httpUrl}${SIO_PATH}?${query({ sid, eio, transport })}`;
}

function wsUrl({ sid, eio = "4", transport = "websocket" } = {}) {
  return `${server.wsUrl}${SIO_PATH}?${query({ sid, eio, transport })}`;
}

async function httpGet(sid, timeoutMs = 3000) {
  const res = await fetch(pollingUrl({ sid }), { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

async function httpPost(sid, body) {
  const res = await fetch(pollingUrl({ sid }), { method: "POST", body, signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: await res.text() };
}

/** Opens an Engine.IO polling session on /socket.io/; returns its sid. */
async function openPollingSession() {
  const res = await fetch(pollingUrl(), { signal: AbortSignal.timeout(3000) });
  assert.equal(res.status, 200, "polling handshake status");
  return parseOpenPacket(await res.text(), ["websocket"]).sid;
}

/**
 * Opens a raw WebSocket Engine.IO session on /socket.io/ and reads the open
 * packet. With autoPong (default) pings are answered and never queued, so
 * the queue only holds Socket.IO traffic. Returns [socket, engineSid].
 */
async function openWs({ autoPong = true } = {}) {
  const sock = new RawWs(wsUrl(), { autoPong });
  const hs = await sock.handshake([]);
  return [sock, hs.sid];
}

/** Next non-ping text frame (pings seen here are answered). */
async function nextText(sock, timeoutMs = 3000) {
  for (;;) {
    const msg = await sock.next(timeoutMs);
    assert.equal(msg.binary, false, `expected a text frame, got binary <${msg.data.toString("hex")}>`);
    if (msg.data === "2") {
      sock.send("3");
      continue;
    }
    return msg.data;
  }
}

/** Next `count` non-ping frames: strings for text, Buffers for binary. */
async function nextFrames(sock, count, timeoutMs = 3000) {
  const out = [];
  while (out.length < count) {
    const msg = await sock.next(timeoutMs);
    if (!msg.binary && msg.data === "2") {
      sock.send("3");
      continue;
    }
    out.push(msg.data);
  }
  return out;
}

/** Asserts a CONNECT answer `40<prefix>{"sid":...}` and returns the sid. */
function assertConnectAck(data, nsp = "/") {
  const prefix = nsp === "/" ? "40" : `40${nsp},`;
  assert.ok(data.startsWith(prefix), `expected a CONNECT packet "${prefix}{...}", got ${JSON.stringify(data)}`);
  const handshake = JSON.parse(data.substring(prefix.length));
  assert.deepEqual(Object.keys(handshake), ["sid"], `CONNECT payload keys: ${data}`);
  assert.equal(typeof handshake.sid, "string");
  assert.ok(handshake.sid.length > 0);
  return handshake.sid;
}

/** Sends a CONNECT for `nsp` (with optional auth), checks the answer and the "auth" event. */
async function connectNamespace(sock, nsp = "/", auth) {
  const prefix = nsp === "/" ? "40" : `40${nsp},`;
  sock.send(prefix + (auth === undefined ? "" : JSON.stringify(auth)));
  const sid = assertConnectAck(await nextText(sock), nsp);
  const evPrefix = nsp === "/" ? "42" : `42${nsp},`;
  assert.equal(await nextText(sock), `${evPrefix}${JSON.stringify(["auth", auth === undefined ? {} : auth])}`);
  return sid;
}

/** WebSocket session connected to "/" (the official suite's initSocketIOConnection). */
async function initSocketIOConnection({ autoPong = true } = {}) {
  const [sock, engineSid] = await openWs({ autoPong });
  const sid = await connectNamespace(sock, "/");
  return { sock, sid, engineSid };
}

/** Waits until the server closes `sock`. */
async function assertClosed(sock, what, timeoutMs = 2000) {
  try {
    await sock.waitClose(timeoutMs);
  } catch {
    const queued = sock.queue.map((m) => (m.binary ? `<binary ${m.data.length}>` : m.data));
    assert.fail(`the server did not close the connection after ${what} (frames received: ${JSON.stringify(queued)})`);
  }
}

/**
 * Polling client for one Engine.IO session: one GET at a time, pings answered
 * with a POSTed pong, Socket.IO packets queued.
 * Queue entries: strings (Engine.IO message packets, "4" included, e.g.
 * '42["x"]') or Buffers (binary packets, decoded from base64).
 */
class PollingSession {
  constructor(sid) {
    this.sid = sid;
    this.queue = [];
    this.closed = false;
  }

  static async open() {
    return new PollingSession(await openPollingSession());
  }

  async _pollOnce(timeoutMs) {
    const res = await httpGet(this.sid, timeoutMs);
    if (res.status !== 200) {
      this.closed = true;
      return res;
    }
    for (const packet of res.body.split(SEP)) {
      if (packet === "2") {
        const pong = await httpPost(this.sid, "3");
        assert.equal(pong.status, 200, "pong POST status");
      } else if (packet === "1" || packet === "6") {
        if (packet === "1") this.closed = true;
      } else if (packet.startsWith("4")) {
        this.queue.push(packet);
      } else if (packet.startsWith("b")) {
        this.queue.push(Buffer.from(packet.substring(1), "base64"));
      } else {
        assert.fail(`unexpected Engine.IO packet ${JSON.stringify(packet)}`);
      }
    }
    return res;
  }

  /** Next Socket.IO packet (string) or binary attachment (Buffer). */
  async next(timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.closed) assert.fail("polling session closed while waiting for a packet");
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out after ${timeoutMs} ms waiting for a Socket.IO packet`);
      await this._pollOnce(left);
    }
    return this.queue.shift();
  }

  async send(payload) {
    const res = await httpPost(this.sid, payload);
    assert.equal(res.status, 200, `POST status (body ${JSON.stringify(res.body)})`);
    assert.equal(res.body, "ok");
  }

  /** Polls (answering pings) until the session is closed; returns the elapsed ms. */
  async waitClosed(timeoutMs = 3000) {
    const start = Date.now();
    while (!this.closed) {
      const left = start + timeoutMs - Date.now();
      if (left <= 0) assert.fail(`polling session ${this.sid} still open after ${timeoutMs} ms`);
      try {
        await this._pollOnce(left);
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        // Our own deadline (note: aborting a held GET closes the session).
        if (err.name === "TimeoutError" || err.name === "AbortError") {
          assert.fail(`polling session ${this.sid} still open after ${timeoutMs} ms`);
        }
        // the server may drop the connection instead of answering
        this.closed = true;
      }
    }
    // Whatever the way of closing, the sid must be gone now.
    const res = await httpGet(this.sid);
    assert.equal(res.status, 400, `GET on a closed session: expected 400, got ${res.status} ${JSON.stringify(res.body)}`);
    return Date.now() - start;
  }
}

// ============================================================================
// Engine.IO protocol, as in the official Socket.IO test suite (on /socket.io/)

describe("Engine.IO protocol on /socket.io/", T, () => {
  describe("handshake", () => {
    describe("HTTP long-polling", () => {
      it("should successfully open a session", async () => {
        const res = await fetch(pollingUrl());
        assert.equal(res.status, 200);
        const content = await res.text();
        assert.ok(content.startsWith("0"));
        parseOpenPacket(content, ["websocket"]); // keys, upgrades, 300 / 200 / 1000000
      });

      it("should fail with an invalid 'EIO' query parameter", async () => {
        for (const eio of [null, "abc"]) {
          const res = await fetch(pollingUrl({ eio }));
          await res.text();
          assert.equal(res.status, 400, `EIO=${eio}`);
        }
      });

      it("should fail with an invalid 'transport' query parameter", async () => {
        for (const transport of [null, "abc"]) {
          const res = await fetch(pollingUrl({ transport }));
          await res.text();
          assert.equal(res.status, 400, `transport=${transport}`);
        }
      });

      it("should fail with an invalid request method", async () => {
        for (const method of ["POST", "PUT"]) {
          const res = await fetch(pollingUrl(), { method });
          await res.text();
          assert.equal(res.status, 400, method);
        }
      });
    });

    describe("WebSocket", () => {
      it("should successfully open a session", async () => {
        const sock = new RawWs(wsUrl());
        const hs = await sock.handshake([]);
        assert.equal(typeof hs.sid, "string");
        await sock.close();
      });

      it("should fail with an invalid 'EIO' query parameter", async () => {
        await expectWsRefused(wsUrl({ eio: null }));
        await expectWsRefused(wsUrl({ eio: "abc" }));
      });

      it("should fail with an invalid 'transport' query parameter", async () => {
        await expectWsRefused(wsUrl({ transport: null }));
        await expectWsRefused(wsUrl({ transport: "abc" }));
      });
    });
  });

  describe("heartbeat", () => {
    // Unlike the official suite, each session first connects to "/": an
    // Engine.IO session without any namespace is closed by connectTimeout
    // (1000 ms), which 3 ping rounds (900 ms) come too close to.

    /** Checks the non-ping packets seen while heartbeating: the CONNECT answer and "auth". */
    function assertConnectTraffic(packets) {
      assert.equal(packets.length, 2, `expected the CONNECT answer and the auth event, got ${JSON.stringify(packets)}`);
      assertConnectAck(packets[0]);
      assert.equal(packets[1], '42["auth",{}]');
    }

    it("HTTP long-polling: should send ping/pong packets", async () => {
      const sid = await openPollingSession();
      assert.equal((await httpPost(sid, "40")).status, 200);
      const others = [];
      let pings = 0;
      while (pings < 3) {
        const res = await httpGet(sid);
        assert.equal(res.status, 200);
        for (const packet of res.body.split(SEP)) {
          if (packet !== "2") {
            others.push(packet);
            continue;
          }
          pings++;
          const pong = await httpPost(sid, "3");
          assert.equal(pong.status, 200);
        }
      }
      assertConnectTraffic(others);
    });

    it("HTTP long-polling: should close the session upon ping timeout", async () => {
      const sid = await openPollingSession();
      const start = Date.now();
      assert.equal((await httpPost(sid, "40")).status, 200);
      // Never answer the ping: the session must be gone after pingInterval + pingTimeout.
      let status = 200;
      while (status === 200) {
        assert.ok(Date.now() - start < PING_INTERVAL + PING_TIMEOUT + 2000, "session still open long after the ping timeout");
        const res = await httpGet(sid);
        status = res.status;
        if (status === 200 && res.body.split(SEP).includes("1")) break;
      }
      assert.equal((await httpGet(sid)).status, 400);
      assert.ok(Date.now() - start >= PING_INTERVAL + PING_TIMEOUT - 50, `closed too early (${Date.now() - start} ms)`);
    });

    it("WebSocket: should send ping/pong packets", async () => {
      const [sock] = await openWs({ autoPong: false });
      sock.send("40");
      const others = [];
      let pings = 0;
      while (pings < 3) {
        const data = await sock.nextText(2000);
        if (data !== "2") {
          others.push(data);
          continue;
        }
        pings++;
        sock.send("3");
      }
      assertConnectTraffic(others);
      await sock.close();
    });

    it("WebSocket: should close the session upon ping timeout", async () => {
      const start = Date.now();
      const [sock] = await openWs({ autoPong: false });
      sock.send("40");
      await sock.waitClose(PING_INTERVAL + PING_TIMEOUT + 2000);
      assert.ok(Date.now() - start >= PING_INTERVAL + PING_TIMEOUT - 50, `closed too early (${Date.now() - start} ms)`);
    });
  });

  describe("close", () => {
    it("HTTP long-polling: should forcefully close the session", async () => {
      const sid = await openPollingSession();
      const [pollRes, pushRes] = await Promise.all([httpGet(sid), httpPost(sid, "1")]);
      assert.equal(pushRes.status, 200);
      assert.equal(pollRes.status, 200);
      assert.equal(pollRes.body, "6");
      assert.equal((await httpGet(sid)).status, 400);
    });

    it("WebSocket: should forcefully close the session", async () => {
      // REFERENCE: engine.io 6.6 ignores a close packet received over
      // WebSocket; the session then ends by ping timeout (~500 ms). Like the
      // official suite, this test does not answer pings, so both an immediate
      // close and a close by ping timeout pass.
      const [sock] = await openWs({ autoPong: false });
      sock.send("1");
      await assertClosed(sock, "an Engine.IO close packet", PING_INTERVAL + PING_TIMEOUT + 2000);
    });
  });

  describe("upgrade", () => {
    /** Polling session upgraded to WebSocket; the probe answer is checked. */
    async function upgrade() {
      const sid = await openPollingSession();
      const sock = new RawWs(wsUrl({ sid }), { autoPong: true });
      await withTimeout(sock.opened, 3000, "websocket open");
      sock.send("2probe");
      assert.equal(await sock.nextText(), "3probe");
      sock.send("5");
      return [sock, sid];
    }

    it("should successfully upgrade from HTTP long-polling to WebSocket", async () => {
      const [sock] = await upgrade();
      // The upgraded session carries Socket.IO traffic.
      await connectNamespace(sock, "/");
      sock.send('42["message","over websocket"]');
      assert.equal(await nextText(sock), '42["message-back","over websocket"]');
      await sock.close();
    });

    it("should ignore HTTP requests with same sid after upgrade", async () => {
      const [sock, sid] = await upgrade();
      // A Socket.IO round trip guarantees the server has processed the upgrade packet.
      await connectNamespace(sock, "/");
      const res = await httpGet(sid);
      assert.equal(res.status, 400);
      await sock.close();
    });

    it("should ignore WebSocket connection with same sid after upgrade", async () => {
      const [sock, sid] = await upgrade();
      await connectNamespace(sock, "/");
      const sock2 = new RawWs(wsUrl({ sid }));
      await sock2.waitClose(3000);
      // the first one is unaffected
      sock.send('42["message","still here"]');
      assert.equal(await nextText(sock), '42["message-back","still here"]');
      await sock.close();
    });
  });
});

// ============================================================================
// Socket.IO protocol

describe("Socket.IO protocol", T, () => {
  describe("connect", () => {
    it("should allow connection to the main namespace", async () => {
      const [sock, engineSid] = await openWs();
      sock.send("40");
      const sid = assertConnectAck(await nextText(sock));
      // v5: the Socket.IO sid is not the Engine.IO sid
      assert.notEqual(sid, engineSid);
      assert.equal(await nextText(sock), '42["auth",{}]');
      await sock.close();
    });

    it("should allow connection to the main namespace with a payload", async () => {
      const [sock] = await openWs();
      sock.send('40{"token":"123"}');
      assertConnectAck(await nextText(sock));
      assert.equal(await nextText(sock), '42["auth",{"token":"123"}]');
      await sock.close();
    });

    it("should allow connection to a custom namespace", async () => {
      const [sock] = await openWs();
      sock.send("40/custom,");
      assertConnectAck(await nextText(sock), "/custom");
      assert.equal(await nextText(sock), '42/custom,["auth",{}]');
      await sock.close();
    });

    it("should allow connection to a custom namespace without the trailing comma", async () => {
      const [sock] = await openWs();
      sock.send("40/custom");
      assertConnectAck(await nextText(sock), "/custom");
      assert.equal(await nextText(sock), '42/custom,["auth",{}]');
      await sock.close();
    });

    it("should allow connection to a custom namespace with a payload", async () => {
      const [sock] = await openWs();
      sock.send('40/custom,{"token":"abc"}');
      assertConnectAck(await nextText(sock), "/custom");
      assert.equal(await nextText(sock), '42/custom,["auth",{"token":"abc"}]');
      await sock.close();
    });

    it("should allow connection to several namespaces on one session, each with its own sid", async () => {
      const [sock] = await openWs();
      const main = await connectNamespace(sock, "/", { a: 1 });
      const custom = await connectNamespace(sock, "/custom", { b: [2, "x"] });
      assert.notEqual(main, custom);
      sock.send('42["message","multiplexed"]');
      assert.equal(await nextText(sock), '42["message-back","multiplexed"]');
      await sock.close();
    });

    it("should disallow connection to an unknown namespace", async () => {
      for (const packet of ["40/random", "40/random,", '40/random,{"token":"x"}']) {
        const [sock] = await openWs();
        sock.send(packet);
        assert.equal(await nextText(sock), '44/random,{"message":"Invalid namespace"}', `answer to ${packet}`);
        await sock.close();
      }
    });

    it("should disallow connection with an invalid handshake", async () => {
      const [sock] = await openWs();
      sock.send("4abc");
      await assertClosed(sock, '"4abc"');
    });

    it("should close the connection when the CONNECT payload is not an object", async () => {
      // REFERENCE: socket.io-parser rejects a CONNECT whose payload is not a
      // JSON object, which closes the connection.
      for (const packet of ['40"abc"', "40[1]", '40/custom,"x"', "40/custom,[]"]) {
        const [sock] = await openWs();
        sock.send(packet);
        await assertClosed(sock, JSON.stringify(packet));
      }
    });

    it("should close the connection if the first packet is not a CONNECT", async () => {
      // "If the server does not receive a CONNECT packet first, then it MUST
      // close the connection immediately."
      const [sock] = await openWs();
      sock.send('42["message","too early"]');
      await assertClosed(sock, "an EVENT before any CONNECT");
    });

    it("should close the connection if no handshake is received (WebSocket)", async () => {
      // Pings are answered, so only connectTimeout (1000 ms) can end the session.
      const start = Date.now();
      const [sock] = await openWs({ autoPong: true });
      await assertClosed(sock, "connectTimeout without a CONNECT", CONNECT_TIMEOUT + 2000);
      const elapsed = Date.now() - start;
      assert.ok(elapsed >= CONNECT_TIMEOUT - SLACK, `closed after ${elapsed} ms, before connectTimeout`);
      assert.ok(sock.pings >= 1, "the session was heartbeating until then");
      assert.deepEqual(
        sock.queue.map((m) => m.data),
        [],
        "no Socket.IO packet expected"
      );
    });

    it("should close the connection if no handshake is received (HTTP long-polling)", async () => {
      const session = await PollingSession.open();
      const elapsed = await session.waitClosed(CONNECT_TIMEOUT + 2000);
      assert.ok(elapsed >= CONNECT_TIMEOUT - SLACK, `closed after ${elapsed} ms, before connectTimeout`);
      assert.deepEqual(session.queue, [], "no Socket.IO packet expected");
    });
  });

  describe("disconnect", () => {
    it("should disconnect from the main namespace", async () => {
      const { sock, sid } = await initSocketIOConnection({ autoPong: false });
      sock.send("41");
      // No answer to a DISCONNECT: the next frame is the next ping, and the
      // Engine.IO session stays open.
      assert.equal(await sock.nextText(2000), "2");
      sock.send("3");
      // The same session can connect again, and gets a new sid.
      sock.send("40");
      const sid2 = assertConnectAck(await nextText(sock));
      assert.notEqual(sid2, sid);
      await sock.close();
    });

    it("should connect then disconnect from a custom namespace", async () => {
      const { sock } = await initSocketIOConnection();
      await connectNamespace(sock, "/custom");
      sock.send("41/custom,");
      sock.send('42["message","message to main namespace"]');
      assert.equal(await nextText(sock), '42["message-back","message to main namespace"]');
      await sock.close();
    });
  });

  describe("message", () => {
    it("should send a plain-text packet", async () => {
      const { sock } = await initSocketIOConnection();
      sock.send('42["message",1,"2",{"3":[true]}]');
      assert.equal(await nextText(sock), '42["message-back",1,"2",{"3":[true]}]');
      await sock.close();
    });

    it("should send a packet with binary attachments", async () => {
      const { sock } = await initSocketIOConnection();
      sock.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      sock.send(Uint8Array.from([1, 2, 3]));
      sock.send(Uint8Array.from([4, 5, 6]));
      const packets = await nextFrames(sock, 3);
      assert.equal(packets[0], '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      assert.ok(Buffer.isBuffer(packets[1]), "attachment 0 must be a binary frame");
      assert.ok(Buffer.isBuffer(packets[2]), "attachment 1 must be a binary frame");
      assert.deepEqual([...packets[1]], [1, 2, 3]);
      assert.deepEqual([...packets[2]], [4, 5, 6]);
      await sock.close();
    });

    it("should send a packet with a binary attachment nested in objects and arrays", async () => {
      const { sock } = await initSocketIOConnection();
      sock.send('451-["message",{"a":[1,{"b":{"_placeholder":true,"num":0}}],"c":"d"}]');
      sock.send(Uint8Array.from([0, 255, 0x1e]));
      const packets = await nextFrames(sock, 2);
      assert.ok(packets[0].startsWith("451-["), `expected a BINARY_EVENT with 1 attachment, got ${packets[0]}`);
      assert.deepEqual(JSON.parse(packets[0].substring(4)), [
        "message-back",
        { a: [1, { b: { _placeholder: true, num: 0 } }], c: "d" },
      ]);
      assert.deepEqual([...packets[1]], [0, 255, 0x1e]);
      await sock.close();
    });

    it("should send a plain-text packet with an ack", async () => {
      const { sock } = await initSocketIOConnection();
      sock.send('42456["message-with-ack",1,"2",{"3":[false]}]');
      assert.equal(await nextText(sock), '43456[1,"2",{"3":[false]}]');
      await sock.close();
    });

    it("should answer an ack with no arguments with an empty array", async () => {
      const { sock } = await initSocketIOConnection();
      sock.send('427["message-with-ack"]');
      assert.equal(await nextText(sock), "437[]");
      await sock.close();
    });

    it("should send a packet with binary attachments and an ack", async () => {
      const { sock } = await initSocketIOConnection();
      sock.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      sock.send(Uint8Array.from([1, 2, 3]));
      sock.send(Uint8Array.from([4, 5, 6]));
      const packets = await nextFrames(sock, 3);
      assert.equal(packets[0], '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      assert.deepEqual([...packets[1]], [1, 2, 3]);
      assert.deepEqual([...packets[2]], [4, 5, 6]);
      await sock.close();
    });

    it("should keep non-ASCII text intact", async () => {
      const { sock } = await initSocketIOConnection();
      const args = ["message", "héllo €", "😀 ☃ 日本語", { "clé": "välue" }];
      sock.send("42" + JSON.stringify(args));
      const data = await nextText(sock);
      assert.ok(data.startsWith("42["), data);
      // compared as JSON: escaping non-ASCII characters is allowed
      assert.deepEqual(JSON.parse(data.substring(2)), ["message-back", ...args.slice(1)]);
      await sock.close();
    });
  });

  describe("HTTP long-polling", () => {
    it("connects to a namespace, exchanges events and acks", async () => {
      const session = await PollingSession.open();
      await session.send('40{"token":"poll"}');
      const sid = assertConnectAck(await session.next());
      assert.notEqual(sid, session.sid);
      assert.equal(await session.next(), '42["auth",{"token":"poll"}]');
      // two packets in one payload
      await session.send(`42["message","a",1]${SEP}4212["message-with-ack",{"b":null}]`);
      assert.equal(await session.next(), '42["message-back","a",1]');
      assert.equal(await session.next(), '4312[{"b":null}]');
    });

    it("exchanges binary attachments as base64 packets", async () => {
      const session = await PollingSession.open();
      await session.send("40");
      assertConnectAck(await session.next());
      assert.equal(await session.next(), '42["auth",{}]');
      await session.send(
        `452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]${SEP}b${Buffer.from([1, 2, 3]).toString("base64")}${SEP}b${Buffer.from([4, 5, 6]).toString("base64")}`
      );
      assert.equal(await session.next(), '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      assert.deepEqual([...(await session.next())], [1, 2, 3]);
      assert.deepEqual([...(await session.next())], [4, 5, 6]);
    });

    it("closes the session upon an invalid packet", async () => {
      const session = await PollingSession.open();
      await session.send("40");
      assertConnectAck(await session.next());
      assert.equal(await session.next(), '42["auth",{}]');
      const res = await httpPost(session.sid, "42{}");
      // REFERENCE: socket.io answers the POST with 200 "ok", then closes the session.
      assert.ok([200, 400].includes(res.status), `POST status ${res.status}`);
      await session.waitClosed(2000);
    });
  });

  describe("invalid packets close the session, other sessions keep working", () => {
    /** A session opened before the bad ones, checked after each of them. */
    let witness;
    let counter = 0;

    before(async () => {
      witness = await initSocketIOConnection({ autoPong: true });
    });

    after(async () => {
      if (witness) await witness.sock.close();
    });

    async function assertWitnessAlive() {
      const tag = `witness-${++counter}`;
      witness.sock.send(`42${counter}["message-with-ack","${tag}"]`);
      assert.equal(await nextText(witness.sock), `43${counter}["${tag}"]`, "the session opened before must keep working");
    }

    /** Opens a session connected to "/", sends `frames`, expects the server to close it. */
    async function expectClosedBy(frames, what) {
      const { sock } = await initSocketIOConnection();
      for (const f of frames) sock.send(typeof f === "string" ? f : Uint8Array.from(f));
      await assertClosed(sock, what || JSON.stringify(frames));
      await assertWitnessAlive();
    }

    it("should close the connection upon invalid format (unknown packet type)", async () => {
      await expectClosedBy(["4abc"]);
      await expectClosedBy(['47["message"]']);
      await expectClosedBy(['49["message"]']);
    });

    it("should close the connection upon invalid format (invalid payload format)", async () => {
      await expectClosedBy(["42{}"]);
    });

    it("should close the connection upon invalid format (invalid ack id)", async () => {
      await expectClosedBy(['42abc["message-with-ack",1,"2",{"3":[false]}]']);
    });

    it("should close the connection upon invalid JSON", async () => {
      await expectClosedBy(['42["message",1']);
      await expectClosedBy(['42["message",}']);
      await expectClosedBy(["42[undefined]"]);
    });

    it("should close the connection when the event payload is not an array", async () => {
      await expectClosedBy(['42"message"']);
      await expectClosedBy(['42{"0":"message"}']);
    });

    it("should close the connection when the event payload is an empty array", async () => {
      await expectClosedBy(["42[]"]);
    });

    it("should close the connection when the event name is not a string", async () => {
      // REFERENCE: socket.io-parser 4.2 also accepts a number as event name
      // (e.g. 42[1]); that case is not tested.
      await expectClosedBy(['42[{},"x"]']);
      await expectClosedBy(["42[null]"]);
      await expectClosedBy(['42[true,"x"]']);
      await expectClosedBy(['42[["message"]]']);
    });

    it("should close the connection when the event name is reserved", async () => {
      // REFERENCE: socket.io-parser 4.2 rejects the reserved event names
      // (connect, connect_error, disconnect, disconnecting, newListener,
      // removeListener); the protocol document is silent.
      await expectClosedBy(['42["connect"]']);
      await expectClosedBy(['42["disconnect","x"]']);
    });

    it("should close the connection upon a wrong attachment count", async () => {
      // invalid count in the header
      await expectClosedBy(['45x-["message",{"_placeholder":true,"num":0}]']);
      await expectClosedBy(['45-["message",{"_placeholder":true,"num":0}]']);
      // a placeholder that refers to an attachment that does not exist
      await expectClosedBy(['451-["message",{"_placeholder":true,"num":1}]', [1, 2, 3]], "placeholder num 1 with 1 attachment");
      // fewer attachments than announced, then a text packet
      await expectClosedBy(
        [
          '452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
          [1, 2, 3],
          '42["message","not an attachment"]',
        ],
        "a text packet instead of the 2nd attachment"
      );
      // an attachment that no packet announced
      await expectClosedBy([[1, 2, 3]], "a binary frame without a BINARY_EVENT");
    });

    it("should close the connection upon a BINARY_EVENT announcing 0 attachments", async () => {
      // REFERENCE: socket.io-parser 4.2 rejects an attachment count < 1
      // ("Illegal attachments"); the protocol document is silent.
      await expectClosedBy(['450-["message"]']);
      await expectClosedBy(['460-12["message"]']);
    });

    it("closes several bad sessions at once; the witness still gets its events", async () => {
      const socks = await Promise.all([1, 2, 3, 4, 5].map(() => initSocketIOConnection()));
      for (const { sock } of socks) sock.send("42{}");
      for (const { sock } of socks) await assertClosed(sock, "42{}");
      witness.sock.send('42["message","after the storm"]');
      assert.equal(await nextText(witness.sock), '42["message-back","after the storm"]');
    });
  });
});
