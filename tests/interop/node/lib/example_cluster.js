"use strict";
// Helpers for the example cluster suites (court_session.test.js, quiz_game.test.js): instances of
// an example binary (PORT, REDIS_URL, INSTANCE in the environment) on one real redis-server, and
// socket.io-client peers connected to a chosen instance.
//
// Every process is started through lib/redis.js's ManagedProcess: stopped by its PID, SIGKILLed if
// the test process ends first.

const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");
const { freePort, sleep } = require("./harness");
const { withTimeout } = require("./eio");
const { Peer } = require("./peer");
const { ManagedProcess, indent } = require("./redis");

const READY_TIMEOUT_MS = 10_000;

/** Path of the example binary named by env `envName` (set by CMake), or a clear error. */
function exampleBinary(envName) {
  const value = process.env[envName];
  if (!value || value.trim() === "") throw new Error(`set ${envName} to the path of the example binary (CMake does it for ctest)`);
  const bin = path.resolve(value);
  if (!fs.existsSync(bin)) throw new Error(`${envName}=${value} does not exist`);
  return bin;
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

/** One instance of an example binary. */
class ExampleInstance {
  constructor({ binary, name, redisUrl, env = {} }) {
    this.binary = binary;
    this.name = name;
    this.redisUrl = redisUrl;
    this.env = env;
    this.port = 0;
    this.proc = null;
  }

  get httpUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  get alive() {
    return this.proc !== null && this.proc.alive;
  }

  /** Starts it and waits until its port accepts TCP. */
  async start() {
    this.port = await freePort();
    const env = { PORT: String(this.port), REDIS_URL: this.redisUrl, INSTANCE: this.name, ...this.env };
    this.proc = new ManagedProcess(this.name, this.binary, [], env).spawn();
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!this.proc.alive) {
        await this.proc.exited;
        throw new Error(`${this.name} exited at start (${JSON.stringify(this.proc.exit)}). Output:\n${indent(this.proc.output || "(no output)")}`);
      }
      if (await tryConnect(this.port)) return this;
      await sleep(25);
    }
    await this.proc.stop();
    throw new Error(`${this.name} did not accept TCP on ${this.port}. Output:\n${indent(this.proc.output || "(no output)")}`);
  }

  stop() {
    return this.proc ? this.proc.stop() : null;
  }

  kill() {
    return this.proc ? this.proc.kill() : null;
  }

  /** SIGSTOP / SIGCONT: the process keeps its connections but does nothing. */
  pause() {
    return this.proc && this.proc.signal("SIGSTOP");
  }

  resume() {
    return this.proc && this.proc.signal("SIGCONT");
  }

  get output() {
    return this.proc ? this.proc.output : "";
  }
}

/** Waits until `channel` has `n` subscribers (each instance subscribes once it is ready). */
async function waitForSubscribers(redis, channel, n, ms = 5000) {
  await redis.waitForNumsub(channel, n, ms);
}

/** Client sockets opened since the last closeAll(). */
const opened = [];

/** A websocket client of `instance` with `auth`; resolves with a Peer once "welcome" arrived. */
async function connectPeer(instance, auth) {
  const socket = io(instance.httpUrl, { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 5000, auth });
  opened.push(socket);
  const peer = new Peer(socket, instance.name);
  await withTimeout(
    new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", (err) => reject(new Error(`connect_error from ${instance.name}: ${err.message}`)));
    }),
    5000,
    `connect to ${instance.name}`
  );
  const [welcome] = await peer.next("welcome");
  assert.equal(welcome.instance, instance.name, "welcome names the instance the peer is connected to");
  return peer;
}

function closeAll() {
  for (const s of opened.splice(0)) {
    try {
      s.removeAllListeners();
      s.disconnect();
    } catch {
      /* already closed */
    }
  }
}

/** Polls `probe` until it returns a truthy value (returned), or fails after `ms`. */
async function eventually(what, probe, ms = 5000, every = 20) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

module.exports = { exampleBinary, ExampleInstance, waitForSubscribers, connectPeer, closeAll, eventually, sleep };
