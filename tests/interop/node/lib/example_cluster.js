"use strict";
// Helpers for the example cluster suites (court_session.test.js, quiz_game.test.js): instances of
// an example binary (PORT, REDIS_URL, INSTANCE in the environment) on one real redis-server, and
// socket.io-client peers connected to a chosen instance.
//
// Every instance is a lib/redis.js ClusterServer: stopped by its PID, SIGKILLed if the test process
// ends first.

const fs = require("node:fs");
const path = require("node:path");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");
const { sleep } = require("./harness");
const { withTimeout } = require("./eio");
const { Peer } = require("./peer");
const { ClusterServer } = require("./redis");

/** Path of the example binary named by env `envName` (set by CMake), or a clear error. */
function exampleBinary(envName) {
  const value = process.env[envName];
  if (!value || value.trim() === "") throw new Error(`set ${envName} to the path of the example binary (CMake does it for ctest)`);
  const bin = path.resolve(value);
  if (!fs.existsSync(bin)) throw new Error(`${envName}=${value} does not exist`);
  return bin;
}

/** One instance of the example `binary`, named `name` in env INSTANCE (not yet started). */
function exampleInstance({ binary, name, redisUrl, env = {} }) {
  return new ClusterServer({ binary, name, nameVar: "INSTANCE", redisUrl, env });
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

module.exports = { exampleBinary, exampleInstance, waitForSubscribers, connectPeer, closeAll, eventually, sleep };
