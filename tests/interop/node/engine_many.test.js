"use strict";
// Many concurrent raw WebSocket sessions against one server.
// All sessions are started at once (none awaits another). Each must receive
// an open packet with a sid, then send one message and get its echo; then all
// are closed. Only bound: everything must be done within 60 s.

const { useServer, sleep } = require("./lib/harness");
const { it } = require("node:test");
const assert = require("node:assert/strict");
const { RawWs, wsUrl, withTimeout, assertSidUnknown, PING_TIMEOUT } = require("./lib/eio");

const server = useServer();

const SESSIONS = 1000;
const BOUND_MS = 60_000;

it(`${SESSIONS} concurrent WebSocket sessions open, echo and close`, { timeout: BOUND_MS + 5_000 }, async (t) => {
  const started = Date.now();
  const left = () => Math.max(1, BOUND_MS - (Date.now() - started));

  /** One session: open packet, then one message and its echo. */
  async function session(sock, i) {
    let hs;
    try {
      hs = await sock.handshake([], left());
    } catch (err) {
      return { i, error: `no valid open packet: ${err.message}` };
    }
    const msg = `4session ${i} sid ${hs.sid}`;
    sock.send(msg);
    try {
      const got = await sock.nextText(left());
      if (got !== msg) return { i, sid: hs.sid, error: `sent ${JSON.stringify(msg)}, got ${JSON.stringify(got)}` };
    } catch (err) {
      return { i, sid: hs.sid, error: `no echo: ${err.message}` };
    }
    return { i, sid: hs.sid, error: null };
  }

  const run = async () => {
    // Sessions answer pings, so they survive however long the batch takes.
    const socks = [];
    for (let i = 0; i < SESSIONS; i++) socks.push(new RawWs(wsUrl(server), { autoPong: true }));
    const results = await Promise.all(socks.map((s, i) => session(s, i)));

    const failed = results.filter((r) => r.error !== null);
    assert.deepEqual(
      failed.slice(0, 5).map((r) => `session ${r.i}: ${r.error}`),
      [],
      `${failed.length} of ${SESSIONS} sessions failed (a close after the open packet, with pings answered, ` +
        `usually means the server's ${PING_TIMEOUT} ms ping timeout fired because the machine is overloaded)`
    );
    const sids = results.map((r) => r.sid);
    assert.equal(new Set(sids).size, SESSIONS, "sids must be unique");

    // With pingInterval 300 / pingTimeout 200, a heavily loaded machine can
    // make the server time out a session whose pong was late; once the
    // session has echoed its message that is not counted as a failure.
    const closedEarly = socks.filter((s) => !s.isOpen).length;
    if (closedEarly > 0) t.diagnostic(`${closedEarly} sessions were closed by the server after their echo (late pong under load?)`);

    await Promise.all(socks.map((s) => s.close()));
    return sids;
  };

  const sids = await withTimeout(run(), BOUND_MS, `${SESSIONS} sessions to open, echo and close`);

  // The server is still healthy and has dropped the closed sessions.
  await sleep(200);
  for (let i = 0; i < SESSIONS; i += SESSIONS / 10) await assertSidUnknown(server, sids[i]);
  const probe = new RawWs(wsUrl(server));
  await probe.handshake([]);
  probe.send("4after");
  assert.equal(await probe.nextText(), "4after");
  await probe.close();
});
