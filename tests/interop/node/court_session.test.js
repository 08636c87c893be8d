"use strict";
// examples/court_session as a three-instance cluster over one real redis-server, driven by
// socket.io-client partners connected to DIFFERENT instances:
//   - what a partner does on one instance reaches the other partner on another instance;
//   - every phase change (creation, join, timeouts) is broadcast once, with strictly increasing
//     fences: each phase timeout is applied exactly once cluster-wide;
//   - both partners submitting the last evidence at the same moment on two instances make one
//     transition, and both partners ending the evidence phase at the same moment on two instances
//     (the same transition, contended: lock + fence) make it once;
//   - an instance that dies inside the phase-timeout handler (after claiming the timer) does not
//     lose the timeout: a survivor applies it after the lease, with attempt 2.
//
//   COURIER_COURT_SESSION=/path/to/court_session node --test court_session.test.js
// redis-server: env REDIS_SERVER, else found on PATH (lib/redis.js).

require("./lib/harness"); // checks node_modules first
const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { RedisServer, indent } = require("./lib/redis");
const { exampleBinary, exampleInstance, waitForSubscribers, connectPeer, closeAll, eventually, sleep } = require("./lib/example_cluster");

const T = { timeout: 60_000 };
// Short phases so the suite runs in seconds; the lease and lock ttl are short for the crash test.
const PHASES = { PENDING_MS: "1500", EVIDENCE_MS: "1500", ANALYZING_MS: "700" };
const TIMER_LEASE_MS = 1500;
const LOCK_TTL_MS = 1000;
const ENV = { ...PHASES, TIMER_LEASE_MS: String(TIMER_LEASE_MS), LOCK_TTL_MS: String(LOCK_TTL_MS) };
const REQUEST_CHANNEL = "socket.io-request#/#"; // the Redis adapter of "/" subscribes once per instance
const WAKE_CHANNEL = "{court:timer}:wake"; // RedisTimer's wake channel (prefix court:timer)
const QUIET_MS = 2 * LOCK_TTL_MS + 600; // longer than a guard re-arm: a duplicate would show by then

let redis = null;
const instances = {}; // a, b, c (d while the crash test runs)
let binary = null;

before(async () => {
  binary = exampleBinary("COURIER_COURT_SESSION");
  redis = new RedisServer();
  await redis.start();
  for (const name of ["a", "b", "c"]) instances[name] = exampleInstance({ binary, name, redisUrl: redis.url, env: ENV });
  await Promise.all(Object.values(instances).map((i) => i.start()));
  await waitForSubscribers(redis, REQUEST_CHANNEL, 3);
  await waitForSubscribers(redis, WAKE_CHANNEL, 3);
});

after(async () => {
  closeAll();
  await Promise.all(Object.values(instances).map((i) => i.stop()));
  if (redis) await redis.stop();
});

afterEach((t) => {
  closeAll();
  if (!t.passed) {
    let report = `\n[court_session] test "${t.name}" failed. Instance output:\n`;
    for (const [name, i] of Object.entries(instances)) report += `  ${name}:\n${indent(i.output.slice(-6000).trimEnd() || "(none)")}\n`;
    process.stderr.write(report);
  }
});

let userCounter = 0;
function user(tag) {
  return `${tag}${++userCounter}`;
}

/** The `state` broadcasts `peer` received for `session`, in order. */
function states(peer, session) {
  return peer.all("state").map(([s]) => s).filter((s) => s.session === session);
}

/** Waits until `peer` has a `state` of `session` in `phase`; returns it. */
function waitForPhase(peer, session, phase, ms = 6000) {
  return eventually(`${peer.label}: session ${session} in phase ${phase}`, () => states(peer, session).find((s) => s.phase === phase), ms);
}

/** How many times the timer `key` was delivered, over the instances' logs ("timeout <key> (attempt N"). */
function firings(key, names = ["a", "b", "c"]) {
  const re = new RegExp(`: timeout ${key} \\(attempt (\\d+)`, "g");
  const out = [];
  for (const n of names) for (const m of instances[n].output.matchAll(re)) out.push({ instance: n, attempt: Number(m[1]) });
  return out;
}

/** Every partner saw the same broadcasts: exactly the phases `want`, once each, fences strictly increasing. */
function assertTransitions(peers, session, want) {
  const seen = peers.map((p) => states(p, session));
  for (const [i, list] of seen.entries()) {
    assert.deepEqual(list.map((s) => s.phase), want, `phases seen by ${peers[i].label}: ${JSON.stringify(list)}`);
    for (let k = 1; k < list.length; k++) assert.ok(list[k].fence > list[k - 1].fence, `fences strictly increase: ${JSON.stringify(list)}`);
  }
  assert.deepEqual(seen[1], seen[0], "both partners saw identical broadcasts");
  return seen[0];
}

describe("court_session on three instances", () => {
  it("a session runs through all phases; each partner sees what the other caused on another instance; each timeout applies once", T, async () => {
    const [alice, bob] = [user("alice"), user("bob")];
    const pa = await connectPeer(instances.a, { user: alice });
    const pb = await connectPeer(instances.b, { user: bob });
    const created = await pa.emitWithAck("create_session", { partner: bob });
    assert.equal(created.ok, true, JSON.stringify(created));
    const session = created.state.session;
    assert.equal(created.state.phase, "pending");
    assert.equal(created.state.by, "a");

    // Created on a, seen by bob on b.
    const pendingOnB = await waitForPhase(pb, session, "pending");
    assert.deepEqual([pendingOnB.a, pendingOnB.b, pendingOnB.reason], [alice, bob, "created"]);

    // Bob joins on b: alice on a sees the evidence phase.
    const joined = await pb.emitWithAck("join_session", { session });
    assert.equal(joined.ok, true, JSON.stringify(joined));
    const evidenceOnA = await waitForPhase(pa, session, "evidence");
    assert.equal(evidenceOnA.reason, "joined");
    assert.equal(evidenceOnA.by, "b");

    // Alice submits on a: bob on b hears of it; a second submission is refused.
    const submitted = await pa.emitWithAck("submit_evidence", { session, text: "the contract, page 3" });
    assert.deepEqual(submitted, { ok: true, both: false });
    const [evidence] = await pb.next("evidence");
    assert.deepEqual(evidence, { session, from: alice, instance: "a" });
    const again = await pa.emitWithAck("submit_evidence", { session, text: "twice" });
    assert.equal(again.ok, false);

    // Bob never submits: the evidence timeout moves it on, then the analysis timeout closes it.
    const analyzing = await waitForPhase(pb, session, "analyzing");
    assert.equal(analyzing.reason, "timeout");
    assert.equal(analyzing.attempt, 1);
    const closed = await waitForPhase(pa, session, "closed");
    assert.equal(closed.reason, "timeout");
    assert.equal(closed.verdict, "decided on the evidence of one partner");
    assert.deepEqual(closed.evidence, { a: "the contract, page 3", b: null });

    await sleep(QUIET_MS); // a second firing of any phase timer would have shown by now
    const all = assertTransitions([pa, pb], session, ["pending", "evidence", "analyzing", "closed"]);
    assert.deepEqual(all.map((s) => s.reason), ["created", "joined", "timeout", "timeout"]);
    // And at the timer level: each phase timer was delivered once, on one instance, never the
    // cancelled pending timer.
    assert.equal(firings(`session:${session}:pending`).length, 0);
    for (const phase of ["evidence", "analyzing"]) {
      const f = firings(`session:${session}:${phase}`);
      assert.equal(f.length, 1, `${phase} timer delivered once: ${JSON.stringify(f)}`);
      assert.equal(f[0].attempt, 1);
    }

    // Evidence after the phase is refused, wherever it comes from.
    const late = await pb.emitWithAck("submit_evidence", { session, text: "too late" });
    assert.equal(late.ok, false);
    assert.match(late.error, /not in the evidence phase/);
  });

  it("a partner who never joins: the pending timeout closes the session once", T, async () => {
    const [carol, dave] = [user("carol"), user("dave")];
    const pc = await connectPeer(instances.c, { user: carol });
    const pd = await connectPeer(instances.a, { user: dave }); // connected, but never joins
    const created = await pc.emitWithAck("create_session", { partner: dave });
    const session = created.state.session;
    const closed = await waitForPhase(pd, session, "closed");
    assert.equal(closed.reason, "timeout");
    assert.equal(closed.verdict, "expired: the partner never joined");
    await sleep(QUIET_MS);
    assertTransitions([pc, pd], session, ["pending", "closed"]);
    assert.equal(firings(`session:${session}:pending`).length, 1);
  });

  it("both partners submit the last evidence at the same moment on two instances: one transition", T, async () => {
    for (let round = 0; round < 3; round++) {
      const [erin, frank] = [user("erin"), user("frank")];
      const pe = await connectPeer(instances.b, { user: erin });
      const pf = await connectPeer(instances.c, { user: frank });
      const created = await pe.emitWithAck("create_session", { partner: frank });
      const session = created.state.session;
      await pf.emitWithAck("join_session", { session });
      await waitForPhase(pe, session, "evidence");

      const [re, rf] = await Promise.all([
        pe.emitWithAck("submit_evidence", { session, text: `erin ${round}` }),
        pf.emitWithAck("submit_evidence", { session, text: `frank ${round}` }),
      ]);
      assert.equal(re.ok && rf.ok, true, JSON.stringify([re, rf]));
      assert.ok(re.both || rf.both, "the later of the two submissions sees both");

      const analyzing = await waitForPhase(pf, session, "analyzing");
      assert.equal(analyzing.reason, "all_evidence");
      assert.deepEqual(analyzing.evidence, { a: `erin ${round}`, b: `frank ${round}` });
      const closed = await waitForPhase(pe, session, "closed");
      assert.equal(closed.verdict, "decided on the evidence of both partners");
      await sleep(QUIET_MS);
      // One analyzing transition, and the evidence timer (cancelled by it) never applied.
      const all = assertTransitions([pe, pf], session, ["pending", "evidence", "analyzing", "closed"]);
      assert.deepEqual(all.map((s) => s.reason), ["created", "joined", "all_evidence", "timeout"]);
      closeAll();
    }
  });

  it("both partners end the evidence phase at the same moment on two instances: the transition happens once", T, async () => {
    let lost = 0;
    for (let round = 0; round < 5; round++) {
      const [ivan, judy] = [user("ivan"), user("judy")];
      const pi = await connectPeer(instances.a, { user: ivan });
      const pj = await connectPeer(instances.c, { user: judy });
      const created = await pi.emitWithAck("create_session", { partner: judy });
      const session = created.state.session;
      await pj.emitWithAck("join_session", { session });
      await waitForPhase(pi, session, "evidence");

      const acks = await Promise.all([pi.emitWithAck("end_evidence", { session }), pj.emitWithAck("end_evidence", { session })]);
      assert.deepEqual(acks.map((a) => a.ok), [true, true], JSON.stringify(acks));
      assert.equal(acks.filter((a) => a.made).length, 1, `exactly one call made the transition: ${JSON.stringify(acks)}`);
      lost += acks.filter((a) => !a.made).length;

      const analyzing = await waitForPhase(pj, session, "analyzing");
      const winner = acks[0].made ? ivan : judy;
      assert.equal(analyzing.reason, `ended_by_${winner}`);
      await waitForPhase(pi, session, "closed");
      await sleep(QUIET_MS);
      const all = assertTransitions([pi, pj], session, ["pending", "evidence", "analyzing", "closed"]);
      assert.deepEqual(all.map((s) => s.reason), ["created", "joined", `ended_by_${winner}`, "timeout"]);
      closeAll();
    }
    assert.equal(lost, 5, "every round had a losing caller");
  });

  it("the instance that claimed a phase timeout dies in the handler: a survivor applies it after the lease (attempt 2)", T, async () => {
    // d exits abruptly inside its first timeout handler (CRASH_IN_TIMEOUT=1), after claiming.
    const d = exampleInstance({ binary, name: "d", redisUrl: redis.url, env: { ...ENV, CRASH_IN_TIMEOUT: "1" } });
    instances.d = d;
    await d.start();
    d.proc.expectExit = true; // it is meant to exit
    await waitForSubscribers(redis, WAKE_CHANNEL, 4);

    const [gina, hank] = [user("gina"), user("hank")];
    const pg = await connectPeer(instances.a, { user: gina });
    const ph = await connectPeer(instances.b, { user: hank });
    const created = await pg.emitWithAck("create_session", { partner: hank });
    const session = created.state.session;
    await ph.emitWithAck("join_session", { session });
    await waitForPhase(pg, session, "evidence");
    // The evidence timer is in Redis: now only d may claim it when it is due.
    const timerKey = `session:${session}:evidence`;
    await eventually("the evidence timer in Redis", async () => (await redis.command(["ZSCORE", "{court:timer}:due", timerKey])) !== null);
    for (const name of ["a", "b", "c"]) instances[name].pause();
    try {
      const exit = await Promise.race([d.proc.exited, sleep(8000).then(() => null)]);
      assert.ok(exit, "d claimed the due timer and exited in the handler");
      assert.equal(exit.code, 3, JSON.stringify(exit));
      assert.match(d.output, new RegExp(`timeout ${timerKey} \\(attempt 1`));
    } finally {
      for (const name of ["a", "b", "c"]) instances[name].resume();
    }
    delete instances.d;

    // No instance acknowledged it: after the lease a survivor claims it again.
    const analyzing = await waitForPhase(ph, session, "analyzing", 4 * TIMER_LEASE_MS + 4000);
    assert.equal(analyzing.reason, "timeout");
    assert.equal(analyzing.attempt, 2, JSON.stringify(analyzing));
    assert.ok(["a", "b", "c"].includes(analyzing.by));
    await waitForPhase(pg, session, "closed");
    await sleep(QUIET_MS);
    assertTransitions([pg, ph], session, ["pending", "evidence", "analyzing", "closed"]);
    // On the survivors: one delivery of the evidence timer, the re-delivery.
    assert.deepEqual(firings(timerKey).map((f) => f.attempt), [2]);
  });

  it("the instances still running stop cleanly on SIGTERM (exit 0: sanitizer builds report leaks through it)", T, async () => {
    const exits = await Promise.all(["a", "b", "c"].map((n) => instances[n].stop()));
    for (const [i, exit] of exits.entries()) assert.deepEqual(exit, { code: 0, signal: null }, `exit of ${["a", "b", "c"][i]}`);
  });
});
