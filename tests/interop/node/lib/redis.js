"use strict";
// Helpers for the Redis cluster interop tests (redis_*.test.js).
//
//   RedisServer      a real `redis-server` on a free loopback port: start, wait for PING,
//                    kill (SIGKILL), stop (SIGTERM, SIGKILL after 5 s), restart on the same port.
//   RedisCluster     a 3-master Redis Cluster on loopback (one RedisServer each, joined with
//                    `redis-cli --cluster create`); slot map, SHARDNUMSUB on the owning node.
//   keySlot          a key's (or sharded channel's) hash slot, as CLUSTER KEYSLOT.
//   redisCommand     one command over a raw RESP connection (no client library needed).
//   RedisMonitor     records what Redis carries (MONITOR), printed when a test fails.
//   ClusterServer    one server process in the cluster, with PORT, REDIS_URL and its name: a
//                    Socket.IO test server (CONTRACT.md), courier's socketio_test_server or the
//                    Node reference (SERVER_NAME), or any binary such as an example (INSTANCE).
//
// Which redis-server: env REDIS_SERVER (path), else the first of PATH and /usr/bin, /usr/local/bin.
// Which redis-cli (clusters only): env REDIS_CLI, else next to redis-server, else on PATH.
// Which server is "courier":
//   COURIER_SERVER_CMD            a full shell command line (wins if set), run from tests/interop/node,
//                                 e.g. "node reference/socketio_server.js" for an all-Node cluster
//   COURIER_SOCKETIO_TEST_SERVER  path of the socketio_test_server binary
// The Node reference is always `node reference/socketio_server.js`.
//
// Every process started here is stopped by its PID (and SIGKILLed if this process exits first).

const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { freePort, sleep, NODE_DIR } = require("./harness");

const READY_TIMEOUT_MS = 10_000;
const KILL_AFTER_MS = 5_000;
const MAX_CAPTURE = 1 << 20;

function indent(text) {
  return text
    .split("\n")
    .map((l) => `    | ${l}`)
    .join("\n");
}

// ----------------------------------------------------------------------------
// processes

/** Every child started here and still running, killed if this process ends first. */
const live = new Set();

/** redis-server working directories still to remove. */
const tempDirs = new Set();

function killLive() {
  for (const child of live) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  live.clear();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

process.once("exit", killLive);
// Ended by a signal (the test runner or CTest gives up, a closed pipe): no "exit" event then.
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) {
  process.once(sig, () => {
    killLive();
    process.kill(process.pid, sig); // the default action, now that this listener is gone
  });
}

/** A child process with captured output, stopped by PID. */
class ManagedProcess {
  constructor(label, file, args, env) {
    this.label = label;
    this.file = file;
    this.args = args;
    this.env = env;
    this.child = null;
    this.output = "";
    this.dropped = 0;
    this.exit = null;
    this.exited = null;
    this.expectExit = false; // set before a deliberate stop/kill
  }

  get pid() {
    return this.child ? this.child.pid : undefined;
  }

  get alive() {
    return this.child !== null && this.exit === null;
  }

  get outputMark() {
    return this.dropped + this.output.length;
  }

  outputSince(mark) {
    return this.output.slice(Math.max(0, mark - this.dropped));
  }

  _capture(chunk) {
    this.output += chunk.toString("utf8");
    if (this.output.length > MAX_CAPTURE) {
      const cut = this.output.length - MAX_CAPTURE;
      this.output = this.output.slice(cut);
      this.dropped += cut;
    }
  }

  spawn() {
    this.exit = null;
    this.expectExit = false;
    this.child = spawn(this.file, this.args, {
      cwd: NODE_DIR,
      env: { ...process.env, ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const child = this.child;
    child.stdout.on("data", (c) => this._capture(c));
    child.stderr.on("data", (c) => this._capture(c));
    this.exited = new Promise((resolve) => {
      child.once("error", (err) => {
        this._capture(`[spawn error] ${err.message}\n`);
        if (this.child === child && !this.exit) this.exit = { code: null, signal: null, error: err };
        resolve(this.exit);
      });
      child.once("exit", (code, signal) => {
        if (this.child === child) this.exit = { code, signal };
        if (!this.expectExit) {
          process.stderr.write(
            `\n[redis-lib] ${this.label} (pid ${child.pid}) exited unexpectedly (code=${code}, signal=${signal}). Output:\n` +
              indent(this.output.slice(-4000) || "(no output)") +
              "\n"
          );
        }
        resolve({ code, signal });
      });
    });
    if (child.pid !== undefined) {
      live.add(child);
      child.once("exit", () => live.delete(child));
    }
    return this;
  }

  /** Sends `signal` to the process (by PID) if it is still running. */
  signal(signal) {
    if (!this.alive || this.pid === undefined) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGKILL, and waits until the process is gone. */
  async kill() {
    if (!this.alive) return this.exit;
    this.expectExit = true;
    this.signal("SIGKILL");
    return this.exited;
  }

  /** SIGTERM, SIGKILL after 5 s; waits until the process is gone. */
  async stop() {
    if (!this.alive) return this.exit;
    this.expectExit = true;
    this.signal("SIGCONT"); // in case a test left it stopped
    this.signal("SIGTERM");
    const timer = setTimeout(() => {
      if (this.alive) {
        process.stderr.write(`[redis-lib] ${this.label} (pid ${this.pid}) ignored SIGTERM for ${KILL_AFTER_MS} ms; sending SIGKILL\n`);
        this.signal("SIGKILL");
      }
    }, KILL_AFTER_MS);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

function tryConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    const done = (ok) => {
      sock.removeAllListeners();
      sock.destroy();
      resolve(ok);
    };
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
    sock.setTimeout(1000, () => done(false));
  });
}

// ----------------------------------------------------------------------------
// RESP

function encodeCommand(args) {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a), "utf8");
    parts.push(`$${b.length}\r\n`, b, "\r\n");
  }
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p, "utf8"))));
}

/** Parses one RESP2 reply at `offset`; returns { value, end } or null when incomplete. */
function parseReply(buf, offset = 0) {
  if (offset >= buf.length) return null;
  const eol = buf.indexOf("\r\n", offset);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[offset]);
  const line = buf.toString("utf8", offset + 1, eol);
  const next = eol + 2;
  switch (type) {
    case "+":
      return { value: line, end: next };
    case "-":
      return { value: new Error(line), end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      if (buf.length < next + n + 2) return null;
      return { value: buf.subarray(next, next + n), end: next + n + 2 };
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const out = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, pos);
        if (!r) return null;
        out.push(r.value);
        pos = r.end;
      }
      return { value: out, end: pos };
    }
    default:
      throw new Error(`unexpected RESP type byte 0x${buf[offset].toString(16)}`);
  }
}

/**
 * Sends one command to 127.0.0.1:`port` over a fresh connection and resolves with the reply
 * (bulk strings as Buffers, errors as Error values); rejects on connection errors or timeout.
 */
function redisCommand(port, args, timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (err, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.removeAllListeners();
      sock.on("error", () => {});
      sock.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`redis ${args[0]} on port ${port}: no reply within ${timeoutMs} ms`)), timeoutMs);
    sock.once("connect", () => sock.write(encodeCommand(args)));
    sock.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        const r = parseReply(buf);
        if (r) finish(null, r.value);
      } catch (err) {
        finish(err);
      }
    });
    sock.once("error", (err) => finish(err));
    sock.once("close", () => finish(new Error(`redis ${args[0]} on port ${port}: connection closed before a reply`)));
  });
}

/** Raw `*1\r\n$4\r\nPING\r\n`: true when Redis answers +PONG. */
function ping(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    let text = "";
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.removeAllListeners();
      sock.on("error", () => {});
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.once("connect", () => sock.write("*1\r\n$4\r\nPING\r\n"));
    sock.on("data", (c) => {
      text += c.toString("latin1");
      if (text.includes("\r\n")) finish(text.startsWith("+PONG\r\n"));
    });
    sock.once("error", () => finish(false));
    sock.once("close", () => finish(false));
  });
}

// ----------------------------------------------------------------------------
// redis-server

function findRedisServer() {
  const env = process.env.REDIS_SERVER;
  if (env && env.trim() !== "") {
    if (!fs.existsSync(env)) throw new Error(`courier interop: REDIS_SERVER=${env} does not exist`);
    return path.resolve(env);
  }
  const dirs = (process.env.PATH || "").split(path.delimiter).concat(["/usr/bin", "/usr/local/bin", "/usr/sbin"]);
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, "redis-server");
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  throw new Error(
    "courier interop: redis-server not found (set REDIS_SERVER to its path, or install it: apt-get install redis-server)"
  );
}

/** A throwaway redis-server on 127.0.0.1 (no persistence). `args`: more redis-server arguments
 *  (e.g. cluster mode); a function of the port and the working directory, or an array. */
class RedisServer {
  constructor({ binary, args } = {}) {
    this.binary = binary || findRedisServer();
    this.extraArgs = args || [];
    this.port = 0;
    this.proc = null;
    this.dir = null;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  get alive() {
    return this.proc !== null && this.proc.alive;
  }

  /** Starts on `port` (a free one by default) and waits until PING answers PONG. */
  async start(port) {
    this.port = port || this.port || (await freePort());
    if (!this.dir) {
      this.dir = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "courier-redis-"));
      tempDirs.add(this.dir);
    }
    const args = [
      "--port", String(this.port),
      "--bind", "127.0.0.1",
      "--save", "",
      "--appendonly", "no",
      "--dir", this.dir,
      "--protected-mode", "no",
      "--daemonize", "no",
      "--loglevel", "notice",
      ...(typeof this.extraArgs === "function" ? this.extraArgs(this.port, this.dir) : this.extraArgs),
    ];
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      this.proc = new ManagedProcess(`redis-server :${this.port}`, this.binary, args, {}).spawn();
      while (Date.now() < deadline && this.proc.alive) {
        if (await ping(this.port)) return this;
        await sleep(20);
      }
      if (this.proc.alive) {
        await this.proc.stop();
        throw new Error(`redis-server on port ${this.port} did not answer PING within ${READY_TIMEOUT_MS} ms. Output:\n${indent(this.proc.output)}`);
      }
      await this.proc.exited;
      // A restart may race the kernel releasing the port: retry until the deadline.
      if (Date.now() >= deadline || !/Address already in use/i.test(this.proc.output)) {
        throw new Error(`redis-server on port ${this.port} exited at start (${JSON.stringify(this.proc.exit)}). Output:\n${indent(this.proc.output)}`);
      }
      this.proc.expectExit = true;
      await sleep(100);
    }
  }

  /** SIGKILL (no goodbye to the clients), waits until it is gone. */
  async kill() {
    if (this.proc) await this.proc.kill();
  }

  /** SIGTERM, SIGKILL after 5 s. */
  async stop() {
    if (this.proc) await this.proc.stop();
    if (this.dir) {
      fs.rmSync(this.dir, { recursive: true, force: true });
      tempDirs.delete(this.dir);
      this.dir = null;
    }
  }

  /** Starts again on the same port (after kill or stop). */
  async restart() {
    if (this.alive) await this.proc.stop();
    return this.start(this.port);
  }

  command(args, timeoutMs) {
    return redisCommand(this.port, args, timeoutMs);
  }

  /** Number of subscribers of `channel` (PUBSUB NUMSUB). */
  async numsub(channel) {
    const r = await this.command(["PUBSUB", "NUMSUB", channel]);
    return Number(r[1]);
  }

  /** Waits until `channel` has exactly `n` subscribers. */
  async waitForNumsub(channel, n, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
      try {
        last = await this.numsub(channel);
        if (last === n) return;
      } catch (err) {
        last = err.message;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${n} subscriber(s) of ${channel}; last: ${last}`);
      }
      await sleep(25);
    }
  }

  get output() {
    return this.proc ? this.proc.output : "";
  }
}

/** Number of sharded-channel subscribers of `channel` on the node at `port` (PUBSUB SHARDNUMSUB). */
async function shardNumsubAt(port, channel) {
  const r = await redisCommand(port, ["PUBSUB", "SHARDNUMSUB", channel]);
  if (r instanceof Error) throw r;
  return Number(r[1]);
}

/** Polls `probe()` until it returns `want` (compared as JSON); throws with the last value. */
async function waitForValue(what, probe, want, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (JSON.stringify(last) === JSON.stringify(want)) return;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} to be ${JSON.stringify(want)}; last: ${JSON.stringify(last)}`);
    }
    await sleep(25);
  }
}

RedisServer.prototype.shardNumsub = function shardNumsub(channel) {
  return shardNumsubAt(this.port, channel);
};

/** Waits until the sharded channel `channel` has exactly `n` subscribers. */
RedisServer.prototype.waitForShardNumsub = function waitForShardNumsub(channel, n, timeoutMs = 5000) {
  return waitForValue(`PUBSUB SHARDNUMSUB ${channel} on :${this.port}`, () => this.shardNumsub(channel), n, timeoutMs);
};

// ----------------------------------------------------------------------------
// Redis Cluster

/** CRC16/XMODEM, as Redis Cluster hashes keys (and sharded channels) to slots. */
function crc16(buf) {
  let crc = 0;
  for (const byte of buf) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The hash slot of `key` (its {hash tag} only when it has a non-empty one), as CLUSTER KEYSLOT. */
function keySlot(key) {
  let b = Buffer.from(key, "utf8");
  const open = b.indexOf("{");
  if (open >= 0) {
    const close = b.indexOf("}", open + 1);
    if (close > open + 1) b = b.subarray(open + 1, close);
  }
  return crc16(b) % 16384;
}

/** redis-cli: env REDIS_CLI, else next to redis-server, else PATH and /usr/bin, /usr/local/bin. */
function findRedisCli(redisServer) {
  const env = process.env.REDIS_CLI;
  if (env && env.trim() !== "") {
    if (!fs.existsSync(env)) throw new Error(`courier interop: REDIS_CLI=${env} does not exist`);
    return path.resolve(env);
  }
  const dirs = [redisServer ? path.dirname(redisServer) : ""]
    .concat((process.env.PATH || "").split(path.delimiter))
    .concat(["/usr/bin", "/usr/local/bin"]);
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, "redis-cli");
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  throw new Error("courier interop: redis-cli not found (set REDIS_CLI to its path, or install it: apt-get install redis-tools)");
}

/** Runs redis-cli with `args` (stopped by PID after `timeoutMs`); resolves with its output. */
async function runRedisCli(cli, args, timeoutMs = 30_000) {
  const proc = new ManagedProcess(`redis-cli ${args.join(" ")}`, cli, args, {});
  proc.expectExit = true;
  proc.spawn();
  proc.expectExit = true; // spawn() resets it: a normal exit is expected here
  const timer = setTimeout(() => {
    if (proc.alive) proc.signal("SIGKILL");
  }, timeoutMs);
  const exit = await proc.exited;
  clearTimeout(timer);
  if (!exit || exit.code !== 0) {
    throw new Error(`redis-cli ${args.join(" ")} failed (${JSON.stringify(exit)}). Output:\n${indent(proc.output || "(no output)")}`);
  }
  return proc.output;
}

/**
 * A throwaway Redis Cluster of `size` masters (no replicas) on 127.0.0.1: one redis-server per
 * master, each with its own temporary directory, cluster config file and cluster bus port, joined by
 * `redis-cli --cluster create`. Ready when every node says cluster_state:ok, knows every node and
 * sees all 16384 slots served.
 */
class RedisCluster {
  constructor({ size = 3, binary, cli } = {}) {
    this.size = size;
    this.binary = binary || findRedisServer();
    this.cli = cli || findRedisCli(this.binary);
    this.nodes = [];
    this.slots = []; // { from, to, port } from CLUSTER SLOTS
  }

  /** The seed URL (the first node). */
  get url() {
    return this.nodes[0].url;
  }

  get ports() {
    return this.nodes.map((n) => n.port);
  }

  node(port) {
    return this.nodes.find((n) => n.port === port);
  }

  async start(readyTimeoutMs = 20_000) {
    // Client and bus ports, all distinct. The bus port is set explicitly (cluster-port): the
    // default, port + 10000, may be taken or above 65535.
    const ports = new Set();
    while (ports.size < 2 * this.size) ports.add(await freePort());
    const [clientPorts, busPorts] = [[...ports].slice(0, this.size), [...ports].slice(this.size)];
    this.nodes = clientPorts.map(
      (port, i) =>
        new RedisServer({
          binary: this.binary,
          args: (p, dir) => [
            "--cluster-enabled", "yes",
            "--cluster-config-file", path.join(dir, `nodes-${p}.conf`),
            "--cluster-port", String(busPorts[i]),
          ],
        })
    );
    try {
      await Promise.all(this.nodes.map((n, i) => n.start(clientPorts[i])));
      await runRedisCli(this.cli, [
        "--cluster", "create",
        ...clientPorts.map((p) => `127.0.0.1:${p}`),
        "--cluster-replicas", "0",
        "--cluster-yes",
      ]);
      await this.waitUntilReady(readyTimeoutMs);
    } catch (err) {
      await this.stop();
      throw err;
    }
    return this;
  }

  /** Waits until every node says cluster_state:ok, knows all nodes and has all slots served. */
  async waitUntilReady(timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
      let ok = true;
      for (const n of this.nodes) {
        let info;
        try {
          info = (await n.command(["CLUSTER", "INFO"])).toString("utf8");
        } catch (err) {
          info = err.message;
        }
        const field = (name) => (new RegExp(`^${name}:(\\S+)`, "m").exec(info) || [])[1];
        if (field("cluster_state") !== "ok" || Number(field("cluster_known_nodes")) !== this.size ||
            Number(field("cluster_slots_ok")) !== 16384) {
          ok = false;
          last = `:${n.port}: ${info.replace(/\r?\n/g, " ").slice(0, 300)}`;
          break;
        }
      }
      if (ok) {
        // And every node has the same slot map, with all masters in it.
        const maps = await Promise.all(this.nodes.map((n) => this.slotMap(n.port)));
        const texts = maps.map((m) => JSON.stringify(m));
        const owners = new Set(maps[0].map((r) => r.port));
        if (texts.every((t) => t === texts[0]) && owners.size === this.size) {
          this.slots = maps[0];
          return;
        }
        last = `slot maps differ or miss a master: ${texts.join(" / ")}`;
      }
      if (Date.now() > deadline) throw new Error(`Redis Cluster not ready after ${timeoutMs} ms; last: ${last}`);
      await sleep(50);
    }
  }

  /** CLUSTER SLOTS of the node at `port` (default the seed) as sorted { from, to, port }. */
  async slotMap(port = this.nodes[0].port) {
    const r = await redisCommand(port, ["CLUSTER", "SLOTS"]);
    if (r instanceof Error) throw r;
    return r.map((range) => ({ from: range[0], to: range[1], port: Number(range[2][1]) })).sort((a, b) => a.from - b.from);
  }

  /** Redis's own CLUSTER KEYSLOT of `key`. */
  async keySlotOf(key) {
    const r = await this.nodes[0].command(["CLUSTER", "KEYSLOT", key]);
    if (r instanceof Error) throw r;
    return r;
  }

  /** Port of the master serving `slot` (from the slot map read at start). */
  portForSlot(slot) {
    const range = this.slots.find((r) => slot >= r.from && slot <= r.to);
    if (!range) throw new Error(`no node serves slot ${slot}: ${JSON.stringify(this.slots)}`);
    return range.port;
  }

  /** Port of the master owning the (sharded) channel `channel`. */
  portFor(channel) {
    return this.portForSlot(keySlot(channel));
  }

  /** Subscribers of the sharded channel `channel`, on the node owning it. */
  shardNumsub(channel) {
    return shardNumsubAt(this.portFor(channel), channel);
  }

  /** { port: SHARDNUMSUB } on every node (only the owner may have any). */
  async shardNumsubByNode(channel) {
    const out = {};
    for (const n of this.nodes) out[n.port] = await shardNumsubAt(n.port, channel);
    return out;
  }

  waitForShardNumsub(channel, n, timeoutMs = 5000) {
    return waitForValue(`PUBSUB SHARDNUMSUB ${channel} on :${this.portFor(channel)}`, () => this.shardNumsub(channel), n, timeoutMs);
  }

  async stop() {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }

  get output() {
    return this.nodes.map((n) => `--- redis-server :${n.port}\n${n.output}`).join("\n");
  }
}

/** Records the commands Redis executes (MONITOR), for failure reports. */
class RedisMonitor {
  constructor(port, maxLines = 5000) {
    this.port = port;
    this.maxLines = maxLines;
    this.lines = [];
    this.total = 0;
    this.sock = null;
    this.pending = "";
  }

  start() {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: "127.0.0.1", port: this.port });
      this.sock = sock;
      let ok = false;
      sock.once("connect", () => sock.write("*1\r\n$7\r\nMONITOR\r\n"));
      sock.on("data", (c) => {
        this.pending += c.toString("latin1");
        let i;
        while ((i = this.pending.indexOf("\r\n")) >= 0) {
          const line = this.pending.slice(0, i);
          this.pending = this.pending.slice(i + 2);
          if (!ok) {
            ok = true;
            if (line === "+OK") {
              resolve(this);
              continue;
            }
            reject(new Error(`MONITOR: ${line}`));
            return;
          }
          this.lines.push(line.startsWith("+") ? line.slice(1) : line);
          this.total++;
          if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
        }
      });
      sock.on("error", (err) => {
        if (!ok) reject(err);
      });
      sock.on("close", () => {
        if (!ok) reject(new Error("MONITOR connection closed"));
      });
    });
  }

  get mark() {
    return this.total;
  }

  /** Lines recorded since `mark` (at most the last `max`). */
  since(mark, max = 200) {
    const n = Math.min(this.total - mark, this.lines.length);
    const out = n > 0 ? this.lines.slice(this.lines.length - n) : [];
    return out.length > max ? [`... ${out.length - max} earlier lines omitted`, ...out.slice(-max)] : out;
  }

  stop() {
    if (this.sock) {
      this.sock.removeAllListeners();
      this.sock.on("error", () => {});
      this.sock.destroy();
      this.sock = null;
    }
  }
}

// ----------------------------------------------------------------------------
// Socket.IO test servers in the cluster

/** How to start the server of `kind` ("courier" or "node"). */
function serverCommand(kind) {
  if (kind === "node") {
    return { file: process.execPath, args: [path.join(NODE_DIR, "reference", "socketio_server.js")], label: "node reference/socketio_server.js" };
  }
  const cmd = process.env.COURIER_SERVER_CMD;
  if (cmd && cmd.trim() !== "") {
    return { file: "/bin/sh", args: ["-c", `exec ${cmd}`], label: cmd };
  }
  const env = process.env.COURIER_SOCKETIO_TEST_SERVER;
  if (env && env.trim() !== "") {
    const bin = path.resolve(env); // servers run from tests/interop/node
    if (!fs.existsSync(bin)) throw new Error(`courier interop: COURIER_SOCKETIO_TEST_SERVER=${env} does not exist`);
    return { file: bin, args: [], label: bin };
  }
  throw new Error(
    "courier interop: no courier server to test. Set COURIER_SOCKETIO_TEST_SERVER (path to the socketio_test_server " +
      'binary) or COURIER_SERVER_CMD (a full command line, e.g. "node reference/socketio_server.js").'
  );
}

/** True when the "courier" servers are courier's binary (not COURIER_SERVER_CMD). */
function courierIsBinary() {
  const cmd = process.env.COURIER_SERVER_CMD;
  return !(cmd && cmd.trim() !== "");
}

/**
 * One server process in the cluster: the Socket.IO test server of `kind` ("courier" or "node"), or
 * `binary` run with `args`. It gets PORT, REDIS_URL and its name in env `nameVar`, then `env`.
 */
class ClusterServer {
  constructor({ kind, binary, args = [], name, nameVar = "SERVER_NAME", redisUrl, env = {} }) {
    this.kind = kind;
    this.binary = binary;
    this.args = args;
    this.name = name;
    this.nameVar = nameVar;
    this.redisUrl = redisUrl;
    this.extraEnv = env;
    this.port = 0;
    this.proc = null;
  }

  /** What to run; read at each start, as serverCommand() reads the environment. */
  command() {
    if (this.binary) return { file: this.binary, args: this.args, label: this.binary };
    return serverCommand(this.kind);
  }

  get httpUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  get alive() {
    return this.proc !== null && this.proc.alive;
  }

  get label() {
    return `${this.name} (${this.proc ? this.proc.label : this.kind || this.binary}, port ${this.port})`;
  }

  /** Starts it and waits until its port accepts TCP (10 s max). */
  async start() {
    const { file, args, label } = this.command();
    this.port = await freePort();
    const env = { PORT: String(this.port), REDIS_URL: this.redisUrl, [this.nameVar]: this.name, ...this.extraEnv };
    this.proc = new ManagedProcess(`${this.name}: ${label}`, file, args, env).spawn();
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!this.proc.alive) {
        await this.proc.exited;
        throw new Error(`server ${this.name} (${label}) exited before accepting connections (${JSON.stringify(this.proc.exit)}). Output:\n${indent(this.proc.output || "(no output)")}`);
      }
      if (await tryConnect(this.port)) return this;
      await sleep(25);
    }
    await this.proc.stop();
    throw new Error(`server ${this.name} (${label}) did not accept TCP on port ${this.port} within ${READY_TIMEOUT_MS} ms. Output:\n${indent(this.proc.output || "(no output)")}`);
  }

  kill() {
    return this.proc ? this.proc.kill() : null;
  }

  stop() {
    return this.proc ? this.proc.stop() : null;
  }

  /** SIGSTOP / SIGCONT: the process stays connected to Redis but does nothing. */
  pause() {
    return this.proc && this.proc.signal("SIGSTOP");
  }

  resume() {
    return this.proc && this.proc.signal("SIGCONT");
  }

  get output() {
    return this.proc ? this.proc.output : "";
  }

  get outputMark() {
    return this.proc ? this.proc.outputMark : 0;
  }

  outputSince(mark) {
    return this.proc ? this.proc.outputSince(mark) : "";
  }
}

module.exports = {
  RedisServer,
  RedisCluster,
  keySlot,
  findRedisCli,
  runRedisCli,
  RedisMonitor,
  ClusterServer,
  ManagedProcess,
  redisCommand,
  ping,
  findRedisServer,
  courierIsBinary,
  indent,
};
