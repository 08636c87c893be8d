"use strict";
// examples/quiz_game as a three-instance cluster over one real redis-server: a host and players
// connected to DIFFERENT instances (socket.io-client):
//   - joins, questions, answer counts and leaderboards reach the game room on every instance;
//   - the host pressing "next" on two instances at the same moment opens the question once;
//   - each question timeout closes its question exactly once cluster-wide (one question_closed per
//     question for every player, fences strictly increasing);
//   - scoring is atomic in Redis: one answer per player and question, none after the close;
//   - an instance SIGKILLed mid-game: the question still closes, once, on a survivor.
//
//   COURIER_QUIZ_GAME=/path/to/quiz_game node --test quiz_game.test.js
// redis-server: env REDIS_SERVER, else found on PATH (lib/redis.js).

require("./lib/harness"); // checks node_modules first
const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { RedisServer, indent } = require("./lib/redis");
const { exampleBinary, exampleInstance, waitForSubscribers, connectPeer, closeAll, eventually, sleep } = require("./lib/example_cluster");

const T = { timeout: 60_000 };
const QUESTION_MS = 1500;
const LOCK_TTL_MS = 1000;
const ENV = { TIMER_LEASE_MS: "1500", LOCK_TTL_MS: String(LOCK_TTL_MS) };
const REQUEST_CHANNEL = "socket.io-request#/#";
const WAKE_CHANNEL = "{quiz:timer}:wake";
const QUIET_MS = 2 * LOCK_TTL_MS + 600; // longer than a guard re-arm: a duplicate would show by then

const QUESTIONS = [
  { text: "2 + 2?", choices: ["3", "4", "5"], answer: 1 },
  { text: "Capital of France?", choices: ["Paris", "Lyon"], answer: 0 },
];

let redis = null;
const instances = {};

before(async () => {
  const binary = exampleBinary("COURIER_QUIZ_GAME");
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
    let report = `\n[quiz_game] test "${t.name}" failed. Instance output:\n`;
    for (const [name, i] of Object.entries(instances)) report += `  ${name}:\n${indent(i.output.slice(-6000).trimEnd() || "(none)")}\n`;
    process.stderr.write(report);
  }
});

/** The `event` payloads `peer` received for `game`. */
function got(peer, event, game) {
  return peer.all(event).map(([p]) => p).filter((p) => p.game === game);
}

function waitFor(peer, event, game, index, ms = 6000) {
  return eventually(`${peer.label}: ${event} ${index} of game ${game}`, () => got(peer, event, game).find((p) => p.index === index), ms);
}

function scores(closed) {
  return Object.fromEntries(closed.leaderboard.map((e) => [e.name, e.score]));
}

/** How many times the timer `key` was delivered, over the instances' logs. */
function firings(key) {
  const re = new RegExp(`: timeout ${key} \\(attempt (\\d+)`, "g");
  let n = 0;
  for (const i of Object.values(instances)) n += [...i.output.matchAll(re)].length;
  return n;
}

describe("quiz_game on three instances", () => {
  it("a quiz across instances: one opening per question despite a double 'next', one close per timeout, atomic scores, leaderboards everywhere", T, async () => {
    const host = await connectPeer(instances.a, { name: "host" });
    const host2 = await connectPeer(instances.b, { name: "host" }); // the host's second tab, on another instance
    const created = await host.emitWithAck("create_game", { questions: QUESTIONS, question_ms: QUESTION_MS });
    assert.equal(created.ok, true, JSON.stringify(created));
    const game = created.game;
    assert.equal((await host2.emitWithAck("join_game", { game })).role, "host");

    const p1 = await connectPeer(instances.a, { name: "p1" });
    const p2 = await connectPeer(instances.b, { name: "p2" });
    const p3 = await connectPeer(instances.c, { name: "p3" });
    const players = [p1, p2, p3];
    for (const p of players) assert.equal((await p.emitWithAck("join_game", { game })).role, "player");
    // p3 joined on c: the host on a hears of it.
    await eventually("host sees p3 join", () => got(host, "player_joined", game).find((j) => j.name === "p3" && j.instance === "c"));

    // Question 0: the host presses "next" on a and b at the same moment.
    const opened = await Promise.all([host.emitWithAck("next_question", { game, index: 0 }), host2.emitWithAck("next_question", { game, index: 0 })]);
    assert.equal(opened.filter((o) => o.ok).length, 1, `question 0 opened once: ${JSON.stringify(opened)}`);
    const q0 = await waitFor(p3, "question", game, 0);
    assert.deepEqual([q0.text, q0.choices, q0.duration_ms], [QUESTIONS[0].text, QUESTIONS[0].choices, QUESTION_MS]);

    // Answers from three instances; scoring in Redis.
    assert.deepEqual(await p1.emitWithAck("answer", { game, index: 0, choice: 1 }), { ok: true });
    assert.deepEqual(await p2.emitWithAck("answer", { game, index: 0, choice: 2 }), { ok: true });
    assert.deepEqual(await p3.emitWithAck("answer", { game, index: 0, choice: 1 }), { ok: true });
    assert.deepEqual(await p3.emitWithAck("answer", { game, index: 0, choice: 0 }), { ok: false, error: "duplicate" });
    assert.deepEqual(await p1.emitWithAck("answer", { game, index: 1, choice: 0 }), { ok: false, error: "closed" });
    assert.deepEqual(await host.emitWithAck("answer", { game, index: 0, choice: 1 }), { ok: false, error: "not_player" });
    await eventually("host sees 3 answers", () => got(host, "answered", game).find((a) => a.index === 0 && a.count === 3));

    // The timer closes it once, everywhere.
    const c0 = await waitFor(p2, "question_closed", game, 0);
    assert.equal(c0.correct, 1);
    assert.equal(c0.answers, 3);
    assert.equal(c0.final, false);
    const s0 = scores(c0);
    assert.equal(s0.p2, 0);
    for (const n of ["p1", "p3"]) assert.ok(s0[n] >= 500 && s0[n] <= 1000, `score of ${n}: ${s0[n]}`);
    assert.deepEqual(await p2.emitWithAck("answer", { game, index: 0, choice: 1 }), { ok: false, error: "closed" });
    assert.equal((await host.emitWithAck("next_question", { game, index: 0 })).ok, false, "question 0 cannot open twice");
    assert.equal((await p1.emitWithAck("next_question", { game, index: 1 })).error, "not_host");

    // Question 1, opened from the host's other tab; only p2 answers (correctly).
    assert.equal((await host2.emitWithAck("next_question", { game, index: 1 })).ok, true);
    await waitFor(p2, "question", game, 1);
    assert.deepEqual(await p2.emitWithAck("answer", { game, index: 1, choice: 0 }), { ok: true });
    const c1 = await waitFor(p1, "question_closed", game, 1);
    assert.equal(c1.final, true);
    assert.equal(c1.answers, 1);
    const s1 = scores(c1);
    assert.deepEqual([s1.p1, s1.p3], [s0.p1, s0.p3]);
    assert.ok(s1.p2 >= 500, `p2 scored: ${s1.p2}`);
    assert.deepEqual(c1.leaderboard.map((e) => e.score), c1.leaderboard.map((e) => e.score).slice().sort((x, y) => y - x), "leaderboard sorted");

    await sleep(QUIET_MS); // a second close of either question would have shown by now
    for (const p of [...players, host, host2]) {
      const seq = [...got(p, "question", game).map((q) => ({ ...q, kind: "question" })), ...got(p, "question_closed", game).map((c) => ({ ...c, kind: "closed" }))].sort((x, y) => x.fence - y.fence);
      assert.deepEqual(seq.map((e) => `${e.kind}${e.index}`), ["question0", "closed0", "question1", "closed1"], `${p.label}: ${JSON.stringify(seq)}`);
      for (let k = 1; k < seq.length; k++) assert.ok(seq[k].fence > seq[k - 1].fence);
      assert.deepEqual(got(p, "question_closed", game), [c0, c1], `${p.label} saw the same closes`);
    }
    for (const index of [0, 1]) assert.equal(firings(`game:${game}:q${index}`), 1, `question ${index}'s timer delivered once`);
  });

  it("an instance SIGKILLed mid-game: the open question still closes, once, for players on the survivors", T, async () => {
    const host = await connectPeer(instances.a, { name: "host" });
    const created = await host.emitWithAck("create_game", { questions: QUESTIONS.slice(0, 1), question_ms: QUESTION_MS });
    const game = created.game;
    const p1 = await connectPeer(instances.b, { name: "p1" });
    const p3 = await connectPeer(instances.c, { name: "p3" });
    for (const p of [p1, p3]) await p.emitWithAck("join_game", { game });
    // The question is opened on c, which then dies before it is due.
    const host3 = await connectPeer(instances.c, { name: "host" });
    await host3.emitWithAck("join_game", { game });
    assert.equal((await host3.emitWithAck("next_question", { game, index: 0 })).ok, true);
    await waitFor(p1, "question", game, 0);
    assert.deepEqual(await p3.emitWithAck("answer", { game, index: 0, choice: 1 }), { ok: true });
    await instances.c.kill();

    const closed = await waitFor(p1, "question_closed", game, 0);
    assert.ok(["a", "b"].includes(closed.by), `closed by a survivor: ${closed.by}`);
    assert.equal(closed.final, true);
    assert.equal(closed.answers, 1);
    assert.ok(scores(closed).p3 >= 500, "the answer given on the dead instance counts");
    await sleep(QUIET_MS);
    assert.equal(got(p1, "question_closed", game).length, 1);
    assert.equal(got(host, "question_closed", game).length, 1);
  });

  it("the instances still running stop cleanly on SIGTERM (exit 0: sanitizer builds report leaks through it)", T, async () => {
    const exits = await Promise.all(["a", "b"].map((n) => instances[n].stop()));
    for (const [i, exit] of exits.entries()) assert.deepEqual(exit, { code: 0, signal: null }, `exit of ${["a", "b"][i]}`);
  });
});
