"use strict";
// Engine.IO v4 protocol conformance, over raw HTTP long-polling (global fetch)
// and raw WebSocket (`ws`).
//
// A port of the official test suite (socketio/socket.io,
// docs/engine.io-protocol/v4-test-suite/test-suite.js) with extra cases. The
// server under test must be configured with pingInterval 300, pingTimeout 200,
// maxPayload 1e6, CORS origin "*", and echo every message.
//
// Where the reference server (Node.js engine.io 6.6) answers differently from
// a stricter reading of the spec, the test follows the reference and says so
// in a "REFERENCE:" comment.

const { useServer, sleep } = require("./lib/harness");
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const {
  PING_INTERVAL,
  PING_TIMEOUT,
  MAX_PAYLOAD,
  SEP,
  ERR,
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
} = require("./lib/eio");

const server = useServer();

// Slack added to timing bounds, for a loaded CI machine.
const SLACK = 250;
const T = { timeout: 15_000 };

/** Opens a WebSocket session and returns [socket, handshake]. */
async function openWsSession(opts) {
  const sock = new RawWs(wsUrl(server), opts);
  const hs = await sock.handshake([]);
  return [sock, hs];
}

/** Opens a polling session and upgrades it to WebSocket. Returns [socket, sid]. */
async function upgradedSession() {
  const sid = await openPollingSession(server);
  const sock = new RawWs(wsUrl(server, { sid }));
  await withTimeout(sock.opened, 3000, "websocket open");
  sock.send("2probe");
  assert.equal(await sock.nextText(), "3probe");
  sock.send("5");
  // A round trip guarantees that the server has processed the upgrade packet.
  sock.send("4sync");
  assert.equal(await sock.nextText(), "4sync");
  return [sock, sid];
}

describe("handshake", T, () => {
  describe("HTTP long-polling", () => {
    it("successfully opens a session", async () => {
      const res = await fetch(pollingUrl(server));
      assert.equal(res.status, 200);
      const content = await res.text();
      assert.ok(content.startsWith("0"));
      // exact keys, sid string, upgrades ["websocket"], 300 / 200 / 1000000
      parseOpenPacket(content, ["websocket"]);
      // the open packet is the whole payload: no other packet in it
      assert.ok(!content.includes(SEP), "handshake payload must only contain the open packet");
    });

    it("gives each session a distinct sid", async () => {
      const sids = await Promise.all([1, 2, 3, 4, 5].map(() => openPollingSession(server)));
      assert.equal(new Set(sids).size, sids.length, `duplicate sids: ${sids}`);
    });

    it("fails with an invalid 'EIO' query parameter (400, code 5)", async () => {
      for (const eio of [null, "abc", "3", "5"]) {
        const res = await fetch(pollingUrl(server, { eio }));
        const body = await res.text();
        assertError({ status: res.status, body }, ...ERR.UNSUPPORTED_PROTOCOL_VERSION);
      }
    });

    it("fails with an invalid 'transport' query parameter (400, code 0)", async () => {
      for (const transport of [null, "abc"]) {
        const res = await fetch(pollingUrl(server, { transport }));
        const body = await res.text();
        assertError({ status: res.status, body }, ...ERR.UNKNOWN_TRANSPORT);
      }
    });

    it("fails with an invalid request method (400, code 2)", async () => {
      for (const method of ["POST", "PUT"]) {
        const res = await fetch(pollingUrl(server), { method, body: "4hello" });
        const body = await res.text();
        assertError({ status: res.status, body }, ...ERR.BAD_HANDSHAKE_METHOD);
      }
    });

    it("fails when transport=websocket is requested without a WebSocket upgrade (400, code 3)", async () => {
      // REFERENCE: engine.io answers a plain GET ?EIO=4&transport=websocket
      // (no Upgrade header) with 400 {"code":3,"message":"Bad request"}.
      const res = await fetch(pollingUrl(server, { transport: "websocket" }));
      const body = await res.text();
      assertError({ status: res.status, body }, ...ERR.BAD_REQUEST);
    });
  });

  describe("WebSocket", () => {
    it("successfully opens a session", async () => {
      const sock = new RawWs(wsUrl(server));
      const hs = await sock.handshake([]);
      assert.equal(typeof hs.sid, "string");
      await sock.close();
    });

    it("fails with an invalid 'EIO' query parameter", async () => {
      // REFERENCE: engine.io completes the WebSocket upgrade (101) and then
      // writes an HTTP 400 onto the socket, which the client sees as an
      // invalid frame and an abnormal close (1006). Any refusal is accepted
      // here: rejected upgrade or closed connection, with no open packet.
      await expectWsRefused(wsUrl(server, { eio: null }));
      await expectWsRefused(wsUrl(server, { eio: "abc" }));
      await expectWsRefused(wsUrl(server, { eio: "3" }));
    });

    it("fails with an invalid 'transport' query parameter", async () => {
      // REFERENCE: the upgrade is rejected with HTTP 400.
      await expectWsRefused(wsUrl(server, { transport: null }));
      await expectWsRefused(wsUrl(server, { transport: "abc" }));
    });
  });

  describe("unknown session ID", () => {
    it("rejects a polling GET with an unknown sid (400, code 1)", async () => {
      assertError(await poll(server, "does-not-exist"), ...ERR.UNKNOWN_SID);
    });

    it("rejects a polling POST with an unknown sid (400, code 1)", async () => {
      assertError(await push(server, "does-not-exist", "4hello"), ...ERR.UNKNOWN_SID);
    });

    it("refuses a WebSocket with an unknown sid", async () => {
      // REFERENCE: upgrade rejected with HTTP 400, text body "Session ID unknown".
      await expectWsRefused(wsUrl(server, { sid: "does-not-exist" }));
    });
  });
});

describe("message", T, () => {
  describe("HTTP long-polling", () => {
    it("sends and receives a payload containing one plain text packet", async () => {
      const sid = await openPollingSession(server);
      const pushRes = await push(server, sid, "4hello");
      assert.equal(pushRes.status, 200);
      assert.equal(pushRes.body, "ok");
      const pollRes = await poll(server, sid);
      assert.equal(pollRes.status, 200);
      assert.equal(pollRes.body, "4hello");
    });

    it("sends and receives a payload containing several plain text packets", async () => {
      const sid = await openPollingSession(server);
      const payload = ["4test1", "4test2", "4test3"].join(SEP);
      const pushRes = await push(server, sid, payload);
      assert.equal(pushRes.status, 200);
      assert.equal(pushRes.body, "ok");
      const pollRes = await poll(server, sid);
      assert.equal(pollRes.status, 200);
      assert.equal(pollRes.body, payload);
    });

    it("sends and receives a payload containing plain text and binary packets", async () => {
      const sid = await openPollingSession(server);
      const payload = `4hello${SEP}bAQIDBA==`; // b + base64(01 02 03 04)
      const pushRes = await push(server, sid, payload);
      assert.equal(pushRes.status, 200);
      assert.equal(pushRes.body, "ok");
      const pollRes = await poll(server, sid);
      assert.equal(pollRes.status, 200);
      assert.equal(pollRes.body, payload);
    });

    it("echoes all 256 byte values in a base64 binary packet", async () => {
      const sid = await openPollingSession(server);
      const bytes = Buffer.alloc(1024);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
      const pushRes = await push(server, sid, "b" + bytes.toString("base64"));
      assert.equal(pushRes.status, 200);
      assert.equal(pushRes.body, "ok");
      const pollRes = await poll(server, sid);
      assert.equal(pollRes.status, 200);
      assert.ok(pollRes.body.startsWith("b"), `expected a binary packet, got ${JSON.stringify(pollRes.body.slice(0, 20))}`);
      assert.ok(Buffer.from(pollRes.body.slice(1), "base64").equals(bytes), "binary payload corrupted");
    });

    it("preserves multi-byte UTF-8 text", async () => {
      const sid = await openPollingSession(server);
      const payload = `4héllo wörld €${SEP}4😀 ☃ 日本語`;
      const pushRes = await push(server, sid, payload, {
        headers: { "Content-Type": "text/plain;charset=UTF-8" },
      });
      assert.equal(pushRes.status, 200);
      const pollRes = await poll(server, sid);
      assert.equal(pollRes.status, 200);
      assert.equal(pollRes.body, payload);
    });

    it("answers a held GET as soon as a message is available", async () => {
      const sid = await openPollingSession(server);
      const held = poll(server, sid);
      await sleep(50);
      const pushRes = await push(server, sid, "4wake up");
      assert.equal(pushRes.status, 200);
      const pollRes = await withTimeout(held, 2000, "held GET");
      assert.equal(pollRes.status, 200);
      assert.equal(pollRes.body, "4wake up");
    });

    it("accepts a POST body of exactly maxPayload bytes", async () => {
      const sid = await openPollingSession(server);
      const payload = "4" + "a".repeat(MAX_PAYLOAD - 1);
      const pushRes = await push(server, sid, payload);
      assert.equal(pushRes.status, 200);
      assert.equal(pushRes.body, "ok");
      const pollRes = await poll(server, sid);
      assert.equal(pollRes.status, 200);
      assert.equal(pollRes.body.length, payload.length);
      assert.equal(pollRes.body, payload);
    });

    it("rejects an oversized POST body with 413 and keeps serving other sessions", async () => {
      const victim = await openPollingSession(server);
      const other = await openPollingSession(server);
      // A GET held on another session while the oversized body is sent.
      const otherHeld = poll(server, other);
      await sleep(20);

      let status;
      try {
        const res = await fetch(pollingUrl(server, { sid: victim }), {
          method: "POST",
          body: "4" + "a".repeat(MAX_PAYLOAD + 1000),
        });
        status = res.status;
        await res.arrayBuffer().catch(() => {});
      } catch (err) {
        assert.fail(`oversized POST: no HTTP response (${err.cause ? err.cause.message : err.message})`);
      }
      // REFERENCE: engine.io answers 413 with an empty body and does NOT
      // close the session; later requests on it still succeed. Neither is
      // asserted here: only the status code.
      assert.equal(status, 413);

      assert.ok(server.alive, "server process died after the oversized POST");
      const pushRes = await push(server, other, "4still alive");
      assert.equal(pushRes.status, 200);
      const pollRes = await withTimeout(otherHeld, 2000, "held GET on the other session");
      assert.equal(pollRes.status, 200);
      assert.equal(pollRes.body, "4still alive");
    });

    it("closes the session upon invalid packet format", async () => {
      for (const body of ["x", "hello"]) {
        const sid = await openPollingSession(server);
        try {
          const res = await push(server, sid, body);
          // REFERENCE: engine.io answers 200 "ok" and then closes the
          // session; the official suite expects 400. Both are accepted.
          assert.ok([200, 400].includes(res.status), `unexpected status ${res.status} for invalid body ${JSON.stringify(body)}`);
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          // the server may also just drop the connection
        }
        await assertSidUnknown(server, sid);
      }
    });

    it("closes the session upon duplicate poll requests", async () => {
      const sid = await openPollingSession(server);
      const first = poll(server, sid);
      await sleep(20);
      const second = await poll(server, sid);
      // REFERENCE: engine.io 6.6 answers the second GET with 400 and an empty
      // body (the official suite accepts 400 or 500).
      assert.ok([400, 500].includes(second.status), `second GET status ${second.status}`);
      const firstRes = await withTimeout(first, 2000, "first (held) GET");
      assert.equal(firstRes.status, 200);
      assert.equal(firstRes.body, "1");
      await assertSidUnknown(server, sid);
    });

    it("closes the session upon cancelled polling request", async () => {
      const sid = await openPollingSession(server);
      const controller = new AbortController();
      const held = fetch(pollingUrl(server, { sid }), { signal: controller.signal }).catch(() => "aborted");
      await sleep(20);
      controller.abort();
      assert.equal(await held, "aborted");
      await sleep(100);
      await assertSidUnknown(server, sid);
    });
  });

  describe("WebSocket", () => {
    it("sends and receives a plain text packet", async () => {
      const [sock] = await openWsSession();
      sock.send("4hello");
      assert.equal(await sock.nextText(), "4hello");
      await sock.close();
    });

    it("sends and receives a binary packet", async () => {
      const [sock] = await openWsSession();
      sock.send(Uint8Array.from([1, 2, 3, 4]));
      const msg = await sock.next();
      assert.equal(msg.binary, true, "binary message must come back as a binary frame");
      assert.deepEqual([...msg.data], [1, 2, 3, 4]);
      await sock.close();
    });

    it("echoes all 256 byte values in a binary frame", async () => {
      const [sock] = await openWsSession();
      const bytes = Buffer.alloc(70_000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + 5) & 0xff;
      sock.send(bytes);
      const msg = await sock.next();
      assert.equal(msg.binary, true);
      assert.ok(msg.data.equals(bytes), "binary payload corrupted");
      await sock.close();
    });

    it("preserves multi-byte UTF-8 text", async () => {
      const [sock] = await openWsSession();
      sock.send("4héllo wörld € 😀 ☃ 日本語");
      assert.equal(await sock.nextText(), "4héllo wörld € 😀 ☃ 日本語");
      await sock.close();
    });

    it("keeps the order of many messages", async () => {
      const [sock] = await openWsSession();
      const sent = [];
      for (let i = 0; i < 50; i++) {
        const m = `4message-${i}`;
        sent.push(m);
        sock.send(m);
      }
      const got = [];
      for (let i = 0; i < sent.length; i++) got.push(await sock.nextText());
      assert.deepEqual(got, sent);
      await sock.close();
    });

    it("closes the session upon invalid packet format", async () => {
      const [sock] = await openWsSession();
      sock.send("abc");
      // REFERENCE: engine.io closes the WebSocket (client sees code 1005).
      await sock.waitClose();
    });
  });
});

describe("heartbeat", T, () => {
  describe("HTTP long-polling", () => {
    it("sends ping/pong packets and keeps the session open", async () => {
      const sid = await openPollingSession(server);
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const pollRes = await poll(server, sid);
        const elapsed = Date.now() - t0;
        assert.equal(pollRes.status, 200);
        assert.equal(pollRes.body, "2");
        assert.ok(elapsed <= PING_INTERVAL + SLACK, `ping took ${elapsed} ms (pingInterval ${PING_INTERVAL})`);
        const pushRes = await push(server, sid, "3");
        assert.equal(pushRes.status, 200);
        assert.equal(pushRes.body, "ok");
      }
      // still open after 3 intervals
      assert.equal((await push(server, sid, "4alive")).status, 200);
      const pollRes = await poll(server, sid);
      assert.equal(pollRes.status, 200);
      assert.equal(pollRes.body, "4alive");
    });

    it("closes the session upon ping timeout", async () => {
      const sid = await openPollingSession(server);
      await sleep(PING_INTERVAL + PING_TIMEOUT + SLACK);
      await assertSidUnknown(server, sid);
    });
  });

  describe("WebSocket", () => {
    it("sends ping/pong packets and keeps the session open", async () => {
      const [sock] = await openWsSession();
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        assert.equal(await sock.nextText(), "2");
        const elapsed = Date.now() - t0;
        assert.ok(elapsed <= PING_INTERVAL + SLACK, `ping took ${elapsed} ms (pingInterval ${PING_INTERVAL})`);
        sock.send("3");
      }
      sock.send("4alive");
      assert.equal(await sock.nextText(), "4alive");
      assert.ok(sock.isOpen);
      await sock.close();
    });

    it("closes the session upon ping timeout", async () => {
      const t0 = Date.now();
      const [sock] = await openWsSession();
      assert.equal(await sock.nextText(), "2"); // ping, deliberately not answered
      await sock.waitClose(PING_INTERVAL + PING_TIMEOUT + 3000);
      const elapsed = Date.now() - t0;
      // REFERENCE: engine.io closes after ~505 ms (client sees code 1005).
      assert.ok(
        elapsed >= (PING_INTERVAL + PING_TIMEOUT) * 0.8,
        `closed after ${elapsed} ms, before pingInterval + pingTimeout`
      );
    });
  });
});

describe("close", T, () => {
  describe("HTTP long-polling", () => {
    it("forcefully closes the session", async () => {
      const sid = await openPollingSession(server);
      const held = poll(server, sid);
      await sleep(20);
      const pushRes = await push(server, sid, "1");
      // REFERENCE: the close POST is answered 200 "ok".
      assert.equal(pushRes.status, 200);
      const pollRes = await withTimeout(held, 2000, "held GET");
      assert.equal(pollRes.status, 200);
      assert.equal(pollRes.body, "6"); // noop ends the pending GET
      await assertSidUnknown(server, sid);
    });

    it("closes the session on a close packet without a pending GET", async () => {
      const sid = await openPollingSession(server);
      const pushRes = await push(server, sid, "1");
      assert.equal(pushRes.status, 200);
      await assertSidUnknown(server, sid);
    });
  });

  describe("WebSocket", () => {
    it("forcefully closes the session", async () => {
      const [sock, hs] = await openWsSession();
      sock.send("1");
      // REFERENCE: engine.io 6.6 ignores a close packet received over
      // WebSocket; the session stays open as long as pings are answered, and
      // here it ends by ping timeout (~500 ms, code 1005). Like the official
      // suite, this test does not answer pings, so both an immediate close and
      // a close by ping timeout pass.
      await sock.waitClose(PING_INTERVAL + PING_TIMEOUT + 3000);
      await assertSidUnknown(server, hs.sid);
    });
  });
});

describe("upgrade", T, () => {
  it("successfully upgrades from HTTP long-polling to WebSocket", async () => {
    const sid = await openPollingSession(server);
    const sock = new RawWs(wsUrl(server, { sid }));
    await withTimeout(sock.opened, 3000, "websocket open");
    sock.send("2probe");
    assert.equal(await sock.nextText(), "3probe");

    const pollRes = await poll(server, sid);
    assert.equal(pollRes.status, 200);
    assert.equal(pollRes.body, "6"); // noop cleanly ends the polling transport

    sock.send("5"); // complete the upgrade
    sock.send("4hello");
    assert.equal(await sock.nextText(), "4hello");
    sock.send(Buffer.from([9, 8, 7]));
    const bin = await sock.next();
    assert.equal(bin.binary, true);
    assert.deepEqual([...bin.data], [9, 8, 7]);
    await sock.close();
  });

  it("answers a GET held during the probe with a noop", async () => {
    const sid = await openPollingSession(server);
    const held = poll(server, sid);
    await sleep(20);
    const sock = new RawWs(wsUrl(server, { sid }));
    await withTimeout(sock.opened, 3000, "websocket open");
    sock.send("2probe");
    assert.equal(await sock.nextText(), "3probe");
    const pollRes = await withTimeout(held, 2000, "held GET");
    assert.equal(pollRes.status, 200);
    assert.equal(pollRes.body, "6");
    sock.send("5");
    sock.send("4after upgrade");
    assert.equal(await sock.nextText(), "4after upgrade");
    await sock.close();
  });

  it("ignores HTTP requests with same sid after upgrade (400, code 3)", async () => {
    const [sock, sid] = await upgradedSession();
    assertError(await poll(server, sid), ...ERR.BAD_REQUEST);
    // REFERENCE: a POST is refused the same way.
    assertError(await push(server, sid, "4hello"), ...ERR.BAD_REQUEST);
    sock.send("4hello");
    assert.equal(await sock.nextText(), "4hello");
    await sock.close();
  });

  it("ignores WebSocket connection with same sid after upgrade", async () => {
    const [sock, sid] = await upgradedSession();
    const second = new RawWs(wsUrl(server, { sid }));
    await second.waitClose();
    assert.ok(
      !second.queue.some((m) => !m.binary && m.data.startsWith("0")),
      "second websocket must not get an open packet"
    );
    sock.send("4hello");
    assert.equal(await sock.nextText(), "4hello");
    assert.ok(sock.isOpen, "first websocket must stay open");
    await sock.close();
  });

  it("sends heartbeats over WebSocket after the upgrade", async () => {
    const [sock] = await upgradedSession();
    const t0 = Date.now();
    assert.equal(await sock.nextText(PING_INTERVAL + 2000), "2");
    assert.ok(Date.now() - t0 <= PING_INTERVAL + SLACK);
    sock.send("3");
    sock.send("4pong sent");
    assert.equal(await sock.nextText(), "4pong sent");
    await sock.close();
  });

  it("rejects polling requests for a WebSocket-only session (400, code 3)", async () => {
    const [sock, hs] = await openWsSession();
    assertError(await poll(server, hs.sid), ...ERR.BAD_REQUEST);
    sock.send("4still here");
    assert.equal(await sock.nextText(), "4still here");
    await sock.close();
  });

  it("closing the upgraded WebSocket ends the session", async () => {
    const [sock, sid] = await upgradedSession();
    await sock.close();
    await sleep(100);
    // the sid must be gone
    await assertSidUnknown(server, sid);
    await expectWsRefused(wsUrl(server, { sid }));
  });
});

describe("CORS", T, () => {
  it("sets Access-Control-Allow-Origin on handshake, poll, push and error responses", async () => {
    const headers = { Origin: "http://example.com" };
    const hsRes = await fetch(pollingUrl(server), { headers });
    assert.equal(hsRes.status, 200);
    assert.equal(hsRes.headers.get("access-control-allow-origin"), "*");
    const sid = parseOpenPacket(await hsRes.text(), ["websocket"]).sid;

    const pushRes = await push(server, sid, "4cors", { headers });
    assert.equal(pushRes.status, 200);
    assert.equal(pushRes.headers.get("access-control-allow-origin"), "*");

    const pollRes = await poll(server, sid, { headers });
    assert.equal(pollRes.body, "4cors");
    assert.equal(pollRes.headers.get("access-control-allow-origin"), "*");

    // REFERENCE: error responses carry the header too.
    const errRes = await poll(server, "does-not-exist", { headers });
    assert.equal(errRes.status, 400);
    assert.equal(errRes.headers.get("access-control-allow-origin"), "*");
  });

  it("answers an OPTIONS preflight with 204 and the allowed methods", async () => {
    const res = await fetch(pollingUrl(server), {
      method: "OPTIONS",
      headers: {
        Origin: "http://example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
      },
    });
    await res.arrayBuffer();
    // REFERENCE: 204, Access-Control-Allow-Origin "*",
    // Access-Control-Allow-Methods "GET,HEAD,PUT,PATCH,POST,DELETE".
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    const methods = (res.headers.get("access-control-allow-methods") || "")
      .split(",")
      .map((m) => m.trim().toUpperCase());
    assert.ok(methods.includes("GET"), `Access-Control-Allow-Methods: ${methods}`);
    assert.ok(methods.includes("POST"), `Access-Control-Allow-Methods: ${methods}`);
  });
});
