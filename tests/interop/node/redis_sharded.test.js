"use strict";
// Mixed Socket.IO clusters over Redis 7 sharded pub/sub (SPUBLISH/SSUBSCRIBE): two courier servers
// (c1, c2: socketio_test_server with REDIS_URL and REDIS_SHARDED=1, courier's sharded adapter) and
// one Node reference server (n1: socket.io 4.8 with @socket.io/redis-adapter 8.3's
// createShardedAdapter, socket.io-adapter's ClusterAdapter protocol), in three setups:
//
//   single Redis 7, subscriptionMode "dynamic"   (one channel per public room, besides the
//                                                 namespace's channel and each server's
//                                                 response channel)
//   single Redis 7, subscriptionMode "static"    (the namespace's channel carries every broadcast)
//   3-master Redis Cluster, "dynamic"            (REDIS_URL is one node; REDIS_CLUSTER=1 makes the
//                                                 Node reference use the `redis` 4 cluster client;
//                                                 rooms are picked so that their channels live on
//                                                 each of the three nodes)
//
// Every cross-server feature of tests/interop/socketio_server/CONTRACT.md that the classic suite
// (redis_cluster.test.js) checks is checked here in both directions (origin on courier, origin on
// Node), plus which channels each server subscribes to (PUBSUB SHARDNUMSUB on the owning node).
//
//   COURIER_SOCKETIO_TEST_SERVER=/path/to/socketio_test_server node --test redis_sharded.test.js
//   COURIER_SERVER_CMD="node reference/socketio_server.js" node --test redis_sharded.test.js   # all-Node
//
// redis-server / redis-cli: env REDIS_SERVER / REDIS_CLI, else found on PATH (see lib/redis.js).
// Clients use the websocket transport only. Waiting is event-driven with a timeout; fixed waits
// (NEGATIVE_WAIT) only assert that something does NOT arrive. When a test fails, the servers'
// output, what every Redis node carried (MONITOR) during it and the sharded channels each node
// has subscribers for are printed.

require("./lib/harness"); // checks node_modules first
const { describe, it, before, after, beforeEach, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");
const { withTimeout, toBuffer } = require("./lib/eio");
const { Peer } = require("./lib/peer");
const {
  RedisServer,
  RedisCluster,
  RedisMonitor,
  ClusterServer,
  courierIsBinary,
  keySlot,
  redisCommand,
  indent,
} = require("./lib/redis");

const T = { timeout: 60_000 };
const HOOK = { timeout: 60_000 };
const WAIT = 3000; // default wait for something that must happen
const NEGATIVE_WAIT = 300; // wait used to assert that something does not happen
const PREFIX = "socket.io"; // channel prefix of both adapters (their default)
const MAIN_CHANNEL = `${PREFIX}#/#`; // every server of "/" subscribes to it once
const roomChannel = (room) => `${MAIN_CHANNEL}${room}#`;
// A server's response channel: socket.io#/#<uid>#, uid = 8 random bytes in hex (both adapters).
const RESPONSE_CHANNEL = /^socket\.io#\/#[0-9a-f]{16}#$/;

const COURIER_KIND = courierIsBinary() ? "courier" : "COURIER_SERVER_CMD";
const CORE = ["c1", "c2", "n1"];

const CONFIGS = [
  { title: "single Redis 7, dynamic", cluster: false, mode: "dynamic" },
  { title: "single Redis 7, static", cluster: false, mode: "static" },
  { title: "3-master Redis Cluster, dynamic", cluster: true, mode: "dynamic" },
];

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ----------------------------------------------------------------------------
// clients

/** Asserts that none of `list` received `event` (after waiting NEGATIVE_WAIT). */
async function assertNotReceived(list, event) {
  await sleep(NEGATIVE_WAIT);
  for (const p of list) assert.deepEqual(p.all(event), [], `socket ${p.label} must not receive "${event}"`);
}

/** Each of `list` receives `event` with exactly `args`, once (checked after NEGATIVE_WAIT). */
async function assertReceivedOnce(list, event, args) {
  for (const p of list) assertSame(await p.next(event), args, `"${event}" on ${p.label}`);
  await sleep(NEGATIVE_WAIT);
  for (const p of list) assert.equal(p.all(event).length, 1, `socket ${p.label} must receive "${event}" exactly once, got ${JSON.stringify(p.all(event))}`);
}

/** Waits until `peer`'s rooms (the contract's `rooms`, sorted) are exactly `expected`. */
async function inRooms(peer, expected, ms = WAIT) {
  const want = expected.slice().sort();
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await peer.emitWithAck("rooms");
    if (JSON.stringify(last) === JSON.stringify(want)) return;
    if (Date.now() > deadline) assert.deepEqual(last, want, `rooms of ${peer.label} after ${ms} ms`);
    await sleep(20);
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

/** Sorts by JSON text, as the contract's server-ack-all and server-side-emit-ack do. */
function sortByJson(values) {
  return values
    .map((v) => [JSON.stringify(v), v])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map((e) => e[1]);
}

const ids = (list) => list.map((p) => p.id).sort();

// ----------------------------------------------------------------------------
// one setup (Redis + c1, c2, n1) per CONFIGS entry

for (const config of CONFIGS) {
  describe(`redis sharded, ${config.title}`, T, () => {
    const dynamic = config.mode !== "static";
    /** Set when the servers did not all join the cluster (see before()). */
    let setupError = null;
    /** RedisServer (single) or RedisCluster. */
    let redis = null;
    /** port -> RedisMonitor */
    const monitors = new Map();
    const servers = {}; // name -> ClusterServer
    /** room -> Set of server names with members (for the room-channel subscription waits). */
    const roomServers = new Map();
    let roomCounter = 0;

    const redisPorts = () => (config.cluster ? redis.ports : [redis.port]);
    /** Port of the node owning `channel` (the only node, for a single Redis). */
    const ownerPort = (channel) => (config.cluster ? redis.portFor(channel) : redis.port);

    async function startServer(name, kind) {
      const env = { REDIS_SHARDED: "1", REDIS_SUBSCRIPTION_MODE: config.mode };
      if (config.cluster) env.REDIS_CLUSTER = "1";
      const s = new ClusterServer({ kind, name, redisUrl: redis.url, env });
      servers[name] = s;
      await s.start();
      return s;
    }

    /** Waits until `n` servers are subscribed to the namespace's channel (i.e. are in the cluster). */
    function clusterSize(n, ms = 10_000) {
      return redis.waitForShardNumsub(MAIN_CHANNEL, n, ms);
    }

    /** A fresh room name; in a Redis Cluster its channel lives on node `nodeIndex` (round robin
     *  by default), so every test exercises another node. */
    function room(tag, nodeIndex) {
      const n = ++roomCounter;
      if (!config.cluster) return `${tag}-${n}`;
      const port = redis.ports[(nodeIndex === undefined ? n : nodeIndex) % redis.ports.length];
      for (let i = 0; ; i++) {
        const name = i === 0 ? `${tag}-${n}` : `${tag}-${n}-${i}`;
        if (redis.portFor(roomChannel(name)) === port) return name;
      }
    }

    /** Sharded channels with subscribers on every node: { port: { channel: n } }. */
    async function channelMap() {
      const out = {};
      for (const port of redisPorts()) {
        out[port] = {};
        const list = await redisCommand(port, ["PUBSUB", "SHARDCHANNELS"]);
        for (const c of list.map((b) => b.toString("utf8")).sort()) {
          const r = await redisCommand(port, ["PUBSUB", "SHARDNUMSUB", c]);
          out[port][c] = Number(r[1]);
        }
      }
      return out;
    }

    async function restartMonitors() {
      for (const m of monitors.values()) m.stop();
      monitors.clear();
      for (const port of redisPorts()) monitors.set(port, await new RedisMonitor(port).start());
    }

    before(async () => {
      redis = config.cluster ? new RedisCluster({ size: 3 }) : new RedisServer();
      await redis.start();
      await restartMonitors();
      await Promise.all([startServer("c1", "courier"), startServer("c2", "courier"), startServer("n1", "node")]);
      // A server accepts TCP before its Redis subscriptions are in place: wait for all three.
      try {
        await clusterSize(3);
      } catch (err) {
        // Every test of this setup then fails with this error (rather than being cancelled), and
        // this report, printed once, says what Redis saw.
        setupError = err;
        process.stderr.write(await report(`setup failed: ${err.message}`, {}, new Map()));
      }
    }, HOOK);

    /** Servers' output and MONITOR lines since the marks, and the sharded channels per node. */
    async function report(title, outputMarks, monitorMarks) {
      let text = `\n[redis_sharded] ${config.title}: ${title}\n`;
      for (const [name, s] of Object.entries(servers)) {
        const out = s.outputSince(outputMarks[name] || 0);
        text += `  server ${s.label} output:\n${indent(out.length ? out.trimEnd() : "(none)")}\n`;
      }
      for (const [port, m] of monitors) {
        const lines = collapse(m.since(monitorMarks.get(port) || 0, 2000)).slice(-300);
        text += `  redis :${port} MONITOR (commands a node rejects, e.g. with MOVED or CROSSSLOT, are not shown):\n` +
          `${indent(lines.length ? lines.join("\n") : "(nothing)")}\n`;
      }
      try {
        text += `  sharded channels with subscribers, per node:\n${indent(JSON.stringify(await channelMap(), null, 1))}\n`;
        for (const port of redisPorts()) {
          const info = (await redisCommand(port, ["INFO", "all"])).toString("utf8").split("\r\n");
          const errors = info.filter((l) => l.startsWith("errorstat_"));
          const cmds = info.filter((l) => /^cmdstat_(ssubscribe|sunsubscribe|spublish|pubsub\|shard)/.test(l));
          text += `  redis :${port} errors: ${errors.join(", ") || "none"}\n` +
            `  redis :${port} sharded pub/sub commands (rejected_calls: refused before running):\n${indent(cmds.join("\n") || "(none)")}\n`;
        }
      } catch (err) {
        text += `  (PUBSUB SHARDCHANNELS / INFO failed: ${err.message})\n`;
      }
      return text;
    }

    /** MONITOR lines with runs of the same command (e.g. this suite's own polling) collapsed. */
    function collapse(lines) {
      const out = [];
      let prev = null;
      let count = 0;
      const flush = () => {
        if (count > 1) out.push(`    (the line above ${count - 1} more time(s))`);
      };
      for (const line of lines) {
        const cmd = line.replace(/^\S+ \[[^\]]*\] /, "");
        if (cmd === prev) {
          count++;
          continue;
        }
        flush();
        out.push(line);
        prev = cmd;
        count = 1;
      }
      flush();
      return out;
    }

    after(async () => {
      closeOpened();
      await Promise.all(Object.values(servers).map((s) => s.stop()));
      for (const m of monitors.values()) m.stop();
      if (redis) await redis.stop();
    }, HOOK);

    const marks = {};
    const monitorMarks = new Map();

    beforeEach(() => {
      if (setupError) throw new Error(`setup of "${config.title}" failed: ${setupError.message}`);
      for (const [name, s] of Object.entries(servers)) marks[name] = s.outputMark;
      for (const [port, m] of monitors) monitorMarks.set(port, m.mark);
    });

    afterEach(async (t) => {
      closeOpened();
      if (!t.passed && !setupError) process.stderr.write(await report(`test "${t.name}" failed (output and MONITOR during the test).`, marks, monitorMarks));
      for (const name of CORE) {
        const s = servers[name];
        if (s && !s.alive) throw new Error(`server ${s.label} is no longer running: ${JSON.stringify(s.proc.exit)}`);
      }
    });

    // -------------------------------------------------------------- clients of this setup

    /** Client sockets opened by the current test; closed after it. */
    const opened = [];

    function closeOpened() {
      for (const s of opened.splice(0)) {
        try {
          s.removeAllListeners();
          s.disconnect();
          if (s.io && s.io.engine) s.io.engine.close();
        } catch {
          /* already closed */
        }
      }
    }

    /** A websocket client connected to `/` of server `name`, its "welcome" consumed. */
    async function connect(name) {
      const server = servers[name];
      const socket = io(server.httpUrl, { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 5000 });
      opened.push(socket);
      const peer = new Peer(socket, name);
      socket.on("disconnect", (reason) => {
        peer.reason = reason;
      });
      await withTimeout(
        new Promise((resolve, reject) => {
          socket.once("connect", resolve);
          socket.once("connect_error", (err) => reject(new Error(`connect_error from ${name}: ${err.message}`)));
        }),
        5000,
        `connect to ${server.label}`
      );
      const [welcome] = await peer.next("welcome");
      assert.equal(welcome.id, peer.id);
      return peer;
    }

    /** One connected peer per server name (in parallel). */
    function peers(names) {
      return Promise.all(names.map((n) => connect(n)));
    }

    /**
     * The servers of `serverNames` now have members in `room`. In the dynamic modes each of them
     * subscribes to the room's channel when the room appears, without waiting for Redis before the
     * join's ack (Node and courier alike), so a broadcast published right away could miss it: wait
     * until the room's channel has as many subscribers as servers have members.
     */
    async function roomOnServers(room, serverNames) {
      const set = roomServers.get(room) || new Set();
      for (const n of serverNames) set.add(n);
      roomServers.set(room, set);
      if (dynamic) await redis.waitForShardNumsub(roomChannel(room), set.size, WAIT);
    }

    async function joinAll(list, room) {
      const acks = await Promise.all(list.map((p) => p.emitWithAck("join", room)));
      assert.deepEqual(acks, list.map(() => true), `join ${room}`);
      await roomOnServers(room, list.map((p) => p.server));
    }

    // -------------------------------------------------------------- subscriptions

    it("every server subscribes to the namespace's channel and its own response channel", async () => {
      assert.equal(await redis.shardNumsub(MAIN_CHANNEL), 3);
      const map = await channelMap();
      const responses = [];
      for (const [port, channels] of Object.entries(map)) {
        for (const [c, n] of Object.entries(channels)) if (RESPONSE_CHANNEL.test(c)) responses.push({ port: Number(port), c, n });
      }
      assert.equal(responses.length, 3, `one response channel per server: ${JSON.stringify(map)}`);
      for (const r of responses) {
        assert.equal(r.n, 1, `${r.c} has ${r.n} subscribers`);
        assert.equal(r.port, ownerPort(r.c), `${r.c} subscribed on :${r.port}, its slot ${keySlot(r.c)} is on :${ownerPort(r.c)}`);
      }
    });

    it(`a public room's channel is ${dynamic ? "subscribed by the servers with members, and dropped when the room empties" : "never subscribed (static)"}`, async () => {
      const R = room("subs");
      const [a, b, c] = await peers(["c1", "c2", "n1"]);
      await joinAll([a, b, c], R);
      const ch = roomChannel(R);
      if (!dynamic) await sleep(NEGATIVE_WAIT);
      assert.equal(await redis.shardNumsub(ch), dynamic ? 3 : 0, `subscribers of ${ch}`);
      if (config.cluster) {
        const byNode = await redis.shardNumsubByNode(ch);
        for (const [port, n] of Object.entries(byNode)) {
          assert.equal(n, Number(port) === ownerPort(ch) ? 3 : 0, `${ch} on :${port}: ${JSON.stringify(byNode)}`);
        }
      }
      // Sockets' own rooms never get a channel in "dynamic" (nor "static").
      for (const p of [a, b, c]) assert.equal(await redis.shardNumsub(roomChannel(p.id)), 0, `subscribers of ${roomChannel(p.id)}`);
      // The room empties on c2, then everywhere.
      assert.equal(await b.emitWithAck("leave", R), true);
      if (dynamic) await redis.waitForShardNumsub(ch, 2, WAIT);
      assert.equal(await a.emitWithAck("leave", R), true);
      assert.equal(await c.emitWithAck("leave", R), true);
      await redis.waitForShardNumsub(ch, 0, WAIT);
    });

    if (config.cluster) {
      // ---------------------------------------------------------- rooms on each node

      for (const O of ["c1", "n1"]) {
        it(`to-room from ${O} reaches rooms whose channels live on each of the three nodes`, async (t) => {
          const rooms = redis.ports.map((_, i) => room(`node${i}`, i));
          // Redis agrees with the slot computation (CLUSTER KEYSLOT) and each node owns one room.
          const placement = [];
          for (const R of rooms) {
            const ch = roomChannel(R);
            const slot = await redis.keySlotOf(ch);
            assert.equal(slot, keySlot(ch), `CLUSTER KEYSLOT ${ch}`);
            placement.push({ room: R, slot, port: redis.portForSlot(slot) });
          }
          assert.deepEqual(placement.map((p) => p.port).sort(), redis.ports.slice().sort(), JSON.stringify(placement));
          t.diagnostic(`rooms: ${placement.map((p) => `${p.room} (slot ${p.slot}, :${p.port})`).join(", ")}`);
          const [s, m1, m2, m3, o1] = await peers([O, "c1", "c2", "n1", "n1"]);
          for (const R of rooms) await joinAll([m1, m2, m3], R);
          for (const R of rooms) {
            const byNode = await redis.shardNumsubByNode(roomChannel(R));
            for (const [port, n] of Object.entries(byNode)) {
              assert.equal(n, Number(port) === ownerPort(roomChannel(R)) ? 3 : 0, `${roomChannel(R)} per node: ${JSON.stringify(byNode)}`);
            }
          }
          for (const [i, R] of rooms.entries()) {
            assert.equal(await s.emitWithAck("to-room", R, `on-node-${i}`, { room: R }), true);
          }
          for (const [i, R] of rooms.entries()) {
            for (const m of [m1, m2, m3]) assertSame(await m.next(`on-node-${i}`), [{ room: R }], `"on-node-${i}" on ${m.label}`);
          }
          await sleep(NEGATIVE_WAIT);
          for (const i of rooms.keys()) {
            for (const m of [m1, m2, m3]) assert.equal(m.all(`on-node-${i}`).length, 1, `"on-node-${i}" on ${m.label}: ${JSON.stringify(m.all(`on-node-${i}`))}`);
            for (const p of [s, o1]) assert.deepEqual(p.all(`on-node-${i}`), [], `${p.label} must not receive "on-node-${i}"`);
          }
          // A socket's own room (no channel of its own in "dynamic": the namespace's channel).
          for (const m of [m1, m2, m3]) assert.equal(await s.emitWithAck("to-room", m.id, "direct", m.server), true);
          for (const m of [m1, m2, m3]) assertSame(await m.next("direct"), [m.server], `"direct" on ${m.label}`);
          await sleep(NEGATIVE_WAIT);
          for (const m of [m1, m2, m3]) assert.equal(m.all("direct").length, 1, `"direct" on ${m.label}: ${JSON.stringify(m.all("direct"))}`);
          for (const p of [s, o1]) assert.deepEqual(p.all("direct"), [], `${p.label} must not receive "direct"`);
        });
      }
    }

    // -------------------------------------------------------------- the suite, once per origin

    const ORIGINS = [
      { name: "c1", what: `origin on courier (c1, ${COURIER_KIND})` },
      { name: "n1", what: "origin on Node (n1, reference)" },
    ];

    for (const origin of ORIGINS) {
      const O = origin.name;
      const others = CORE.filter((n) => n !== O);

      describe(origin.what, () => {
        it("to-room reaches the room's members on every server and nobody else", async () => {
          const R = room("to-room");
          const [s, m1, m2, m3, o1, o2, o3] = await peers([O, "c1", "c2", "n1", "c1", "c2", "n1"]);
          await joinAll([m1, m2, m3], R);
          const payload = { from: O, text: "héllo ✓", list: [1, "two", null, true], nested: { a: { b: [] } } };
          assert.equal(await s.emitWithAck("to-room", R, "news", payload), true);
          await assertReceivedOnce([m1, m2, m3], "news", [payload]);
          await assertNotReceived([s, o1, o2, o3], "news");
        });

        it("to-room-except skips the excepted room's members on every server", async () => {
          const R = room("tre");
          const X = room("tre-x");
          const [s, m1, m2, m3, x1, x2, x3] = await peers([O, "c1", "c2", "n1", "c1", "c2", "n1"]);
          await joinAll([m1, m2, m3, x1, x2, x3], R);
          await joinAll([x1, x2, x3], X);
          const payload = { except: X, n: 42 };
          assert.equal(await s.emitWithAck("to-room-except", R, X, "filtered", payload), true);
          await assertReceivedOnce([m1, m2, m3], "filtered", [payload]);
          await assertNotReceived([s, x1, x2, x3], "filtered");
          // Excepting one socket (its own-id room) that lives on another server.
          const far = O === "c1" ? m3 : m1;
          assert.equal(await s.emitWithAck("to-room-except", R, far.id, "but-one", 7), true);
          const rest = [m1, m2, m3, x1, x2, x3].filter((p) => p !== far);
          await assertReceivedOnce(rest, "but-one", [7]);
          await assertNotReceived([s, far], "but-one");
        });

        it("a binary payload (Buffers) crosses the cluster intact", async () => {
          const R = room("bin");
          const [s, m1, m2, m3] = await peers([O, "c1", "c2", "n1"]);
          await joinAll([m1, m2, m3], R);
          const all = Buffer.alloc(256);
          for (let i = 0; i < 256; i++) all[i] = i;
          const payload = {
            all,
            parts: [Buffer.from([0xff, 0x00, 0x7f]), "text between", Buffer.from("utf-8 ✓", "utf8")],
            nested: { one: Buffer.from([1]) },
          };
          assert.equal(await s.emitWithAck("to-room", R, "bin", payload), true);
          await assertReceivedOnce([m1, m2, m3], "bin", [payload]);
          // A bare Buffer as the whole payload.
          assert.equal(await s.emitWithAck("to-room", R, "bare", Buffer.from([0xde, 0xad, 0xbe, 0xef])), true);
          await assertReceivedOnce([m1, m2, m3], "bare", [Buffer.from([0xde, 0xad, 0xbe, 0xef])]);
        });

        it("big and special numbers cross the cluster intact", async () => {
          const R = room("num");
          const [s, m1, m2, m3] = await peers([O, "c1", "c2", "n1"]);
          await joinAll([m1, m2, m3], R);
          const payload = {
            maxSafe: 9007199254740991,
            minSafe: -9007199254740991,
            u32: 4294967295,
            over32: 4294967296,
            i32min: -2147483648,
            below32: -2147483649,
            u8: 255,
            neg: -1,
            zero: 0,
            half: 0.5,
            tenth: 0.1,
            frac: 123456789.125,
            tiny: 5e-324,
            list: [9007199254740991, -9007199254740991, 1.5],
          };
          assert.equal(await s.emitWithAck("to-room", R, "numbers", payload), true);
          await assertReceivedOnce([m1, m2, m3], "numbers", [payload]);
          // The same numbers with a Buffer next to them: the message goes as msgpack then.
          assert.equal(await s.emitWithAck("to-room", R, "numbers-bin", { ...payload, b: Buffer.from([7]) }), true);
          await assertReceivedOnce([m1, m2, m3], "numbers-bin", [{ ...payload, b: Buffer.from([7]) }]);
        });

        it("fetch returns the room's sockets of all three servers", async () => {
          const R = room("fetch");
          const [s, m1, m2, m3, m1b] = await peers([O, "c1", "c2", "n1", "c1"]);
          await joinAll([m1, m2, m3, m1b], R);
          assert.deepEqual(await s.emitWithAck("fetch", R), ids([m1, m2, m3, m1b]));
          // A socket's own-id room, on another server.
          const far = O === "c1" ? m3 : m1;
          assert.deepEqual(await s.emitWithAck("fetch", far.id), [far.id]);
          assert.deepEqual(await s.emitWithAck("fetch", room("nobody")), []);
        });

        it("sockets-join makes sockets on every server join; to-room on the new room reaches them", async () => {
          const R = room("sj");
          const R2 = room("sj-new");
          const [s, m1, m2, m3, o1, o2, o3] = await peers([O, "c1", "c2", "n1", "c1", "c2", "n1"]);
          await joinAll([m1, m2, m3], R);
          assert.equal(await s.emitWithAck("sockets-join", R, R2), true);
          // REFERENCE: Node's adapter applies socketsJoin to its own sockets only once its publish
          // is done, so a to-room right after the ack may miss them: wait until it is applied (and,
          // in the dynamic modes, until every server subscribed to the new room's channel).
          for (const m of [m1, m2, m3]) await inRooms(m, [m.id, R, R2]);
          await roomOnServers(R2, [m1, m2, m3].map((m) => m.server));
          assert.equal(await s.emitWithAck("to-room", R2, "joined", { room: R2 }), true);
          await assertReceivedOnce([m1, m2, m3], "joined", [{ room: R2 }]);
          await assertNotReceived([s, o1, o2, o3], "joined");
          assert.deepEqual(await s.emitWithAck("fetch", R2), ids([m1, m2, m3]));
        });

        it("sockets-leave makes sockets on every server leave", async () => {
          const R = room("sl");
          const R2 = room("sl-old");
          const [s, m1, m2, m3, k1, k2, k3] = await peers([O, "c1", "c2", "n1", "c1", "c2", "n1"]);
          await joinAll([m1, m2, m3, k1, k2, k3], R2);
          await joinAll([m1, m2, m3], R);
          assert.equal(await s.emitWithAck("sockets-leave", R, R2), true);
          for (const m of [m1, m2, m3]) await inRooms(m, [m.id, R]);
          for (const k of [k1, k2, k3]) await inRooms(k, [k.id, R2]);
          assert.equal(await s.emitWithAck("to-room", R2, "still-in", 1), true);
          await assertReceivedOnce([k1, k2, k3], "still-in", [1]);
          await assertNotReceived([m1, m2, m3], "still-in");
          assert.deepEqual(await s.emitWithAck("fetch", R2), ids([k1, k2, k3]));
        });

        it("disconnect-sockets disconnects the room's sockets on every server", async () => {
          const R = room("dc");
          const [s, m1, m2, m3, o1, o2, o3] = await peers([O, "c1", "c2", "n1", "c1", "c2", "n1"]);
          await joinAll([m1, m2, m3], R);
          s.socket.emit("disconnect-sockets", R, false);
          const reasons = await Promise.all([m1, m2, m3].map((m) => m.disconnected()));
          assert.deepEqual(reasons, ["io server disconnect", "io server disconnect", "io server disconnect"]);
          await sleep(NEGATIVE_WAIT);
          for (const p of [s, o1, o2, o3]) assert.equal(p.socket.connected, true, `${p.label} must stay connected`);
          assert.deepEqual(await s.emitWithAck("fetch", R), []);
          for (const m of [m1, m2, m3]) {
            const probe = [s, o1, o2, o3].find((p) => p.server === m.server);
            const last = await probe.emitWithAck("last-reasons");
            assert.ok(last.includes("server namespace disconnect"), `${m.server} last-reasons ${JSON.stringify(last)}`);
          }
          // The room is gone everywhere: so is its channel (dynamic modes).
          await redis.waitForShardNumsub(roomChannel(R), 0, WAIT);
        });

        it("server-side-emit reaches the clients of the other servers only", async () => {
          const [a1, a2, a3] = await peers(["c1", "c2", "n1"]);
          const byServer = { c1: a1, c2: a2, n1: a3 };
          const s = byServer[O];
          const payload = { from: O, n: 1, bin: "no binary here" };
          assert.equal(await s.emitWithAck("server-side-emit", payload), true);
          await assertReceivedOnce(others.map((n) => byServer[n]), "server-side", [payload]);
          await assertNotReceived([s], "server-side");
          // With a Buffer inside (msgpack).
          const binary = { from: O, bin: Buffer.from([0, 1, 2, 255]) };
          assert.equal(await s.emitWithAck("server-side-emit", binary), true);
          for (const n of others) assertSame(await byServer[n].next("server-side"), [binary], `binary "server-side" on ${n}`);
          await sleep(NEGATIVE_WAIT);
          for (const n of others) assert.equal(byServer[n].all("server-side").length, 2, `"server-side" on ${n}: ${JSON.stringify(byServer[n].all("server-side"))}`);
          assert.deepEqual(s.all("server-side"), [], `origin ${O} must not receive "server-side"`);
        });

        it("server-side-emit-ack gathers the other servers' names", async () => {
          const [a1, a2, a3] = await peers(["c1", "c2", "n1"]);
          const byServer = { c1: a1, c2: a2, n1: a3 };
          const s = byServer[O];
          const payload = { from: O, n: 2 };
          const started = Date.now();
          const answer = await s.emitWithAck("server-side-emit-ack", payload);
          assert.deepEqual(answer, { responses: others.slice().sort() });
          assert.ok(Date.now() - started < 1000, `answered after ${Date.now() - started} ms (all servers are up)`);
          await assertReceivedOnce(others.map((n) => byServer[n]), "server-side", [payload]);
          await assertNotReceived([s], "server-side");
        });

        it("server-ack-all over a room spread over the three servers gathers every member's ack", async () => {
          const R = room("ackall");
          const [s, m1, m2, m3, m4, o1] = await peers([O, "c1", "c2", "n1", O, others[0]]);
          const members = [m1, m2, m3, m4];
          const noAckId = []; // members whose question-all came without an ack id (no callback)
          for (const m of members) {
            m.socket.on("question-all", (cb) => {
              if (typeof cb === "function") cb({ id: m.id, server: m.server });
              else noAckId.push(m.label);
            });
          }
          o1.socket.on("question-all", (cb) => cb({ id: o1.id, outsider: true }));
          await joinAll(members, R);
          const started = Date.now();
          const answer = await s.emitWithAck("server-ack-all", R, 2000);
          assert.deepEqual(noAckId, [], `"question-all" from ${O} arrived without an ack id on ${noAckId.join(", ")}`);
          assert.deepEqual(answer, { responses: sortByJson(members.map((m) => ({ id: m.id, server: m.server }))) });
          assert.ok(Date.now() - started < 1500, `answered after ${Date.now() - started} ms (every member acks at once)`);
          // A member that does not answer: the timeout gives the others' answers.
          const silent = await connect(others[1]);
          await joinAll([silent], R);
          const t2 = Date.now();
          const partial = await s.emitWithAck("server-ack-all", R, 500);
          assert.ok(Date.now() - t2 >= 450, `timed out after ${Date.now() - t2} ms`);
          assert.deepEqual(partial, {
            error: "timeout",
            responses: sortByJson(members.map((m) => ({ id: m.id, server: m.server }))),
          });
        });
      });
    }

    // -------------------------------------------------------------- ack ids

    // As in redis_cluster.test.js: each packet of a broadcast with acks takes its id from the
    // RECEIVING server's namespace counter; a server reusing the sender's id could clobber one of
    // its own pending acks on the same socket.
    it("ack ids: a broadcast with acks from c1 does not take over a pending ack of c2 on the same socket", async () => {
      const R = room("ackid");
      const [s1, s2, m2] = await peers(["c1", "c2", "c2"]);
      await joinAll([m2], R);
      const seen = [];
      m2.socket.io.on("packet", (p) => {
        if (Array.isArray(p.data) && p.id !== undefined) seen.push({ event: p.data[0], id: p.id });
      });
      const lastId = (event) => {
        const e = seen.filter((x) => x.event === event).pop();
        assert.ok(e, `m2 got no "${event}" with an ack id: ${JSON.stringify(seen)}`);
        return e.id;
      };
      m2.socket.on("question", (payload, cb) => cb(`q:${payload}`));
      m2.socket.on("question-all", (cb) => cb("b:probe"));
      assert.deepEqual(await m2.emitWithAck("server-ack", "probe", 2000), { answer: ["q:probe"] });
      const q0 = lastId("question");
      assert.deepEqual(await s1.emitWithAck("server-ack-all", R, 2000), { responses: ["b:probe"] });
      const b0 = lastId("question-all");
      const empty = room("empty");
      const bumps = Math.abs(q0 - b0);
      assert.ok(bumps < 500, `ack counters too far apart to align (${q0}, ${b0})`);
      for (let i = 0; i < bumps; i++) {
        const bumper = b0 < q0 ? s1 : s2;
        assert.deepEqual(await bumper.emitWithAck("server-ack-all", empty, 1000), { responses: [] });
      }
      m2.socket.removeAllListeners("question");
      m2.socket.removeAllListeners("question-all");
      let answerQuestion, answerAll;
      const asked = Promise.all([
        new Promise((resolve) => m2.socket.once("question", (payload, cb) => resolve((answerQuestion = cb)))),
        new Promise((resolve) => m2.socket.once("question-all", (cb) => resolve((answerAll = cb)))),
      ]);
      const local = withTimeout(m2.socket.emitWithAck("server-ack", "held", 2000), 4000, "server-ack");
      await sleep(50);
      const all = withTimeout(s1.socket.emitWithAck("server-ack-all", R, 2000), 4000, "server-ack-all");
      await withTimeout(asked, WAIT, "both questions on m2");
      answerQuestion("q:held");
      answerAll("b:held");
      const outcome = (r) => (r.status === "fulfilled" ? r.value : `rejected: ${r.reason.message}`);
      const [localAnswer, allAnswer] = (await Promise.allSettled([local, all])).map(outcome);
      const what = `server-ack on c2 -> ${JSON.stringify(localAnswer)}, server-ack-all from c1 -> ${JSON.stringify(allAnswer)}; ` +
        `ack ids m2 saw: ${JSON.stringify(seen.slice(-2))}`;
      assert.deepEqual(localAnswer, { answer: ["q:held"] }, `c2's own ack: ${what}`);
      assert.deepEqual(allAnswer, { responses: ["b:held"] }, `c1's broadcast ack: ${what}`);
    });
  });
}
