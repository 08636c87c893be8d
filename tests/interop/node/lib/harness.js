"use strict";
// Test harness for the courier interop tests.
//
// Starts the server under test on a free port, waits until it accepts TCP
// connections, stops it with SIGTERM (SIGKILL after 5 s) at the end, and prints
// its captured output when a test fails.
//
// Which server is started:
//   COURIER_SERVER_CMD          full shell command line (wins if set), run from
//                               tests/interop/node, e.g.
//                               COURIER_SERVER_CMD="node reference/engine_server.js"
//   COURIER_CONFORMANCE_SERVER  path to the conformance_server binary
// The port is passed in the environment variable PORT.
//
// useServer({ binaryEnv: "COURIER_SOCKETIO_TEST_SERVER" }) names another
// environment variable holding the path of the binary to run (default
// COURIER_CONFORMANCE_SERVER); COURIER_SERVER_CMD still wins over it.

const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
const { spawn } = require("node:child_process");

const NODE_DIR = path.resolve(__dirname, "..");

// Fail with a clear message (instead of a bare MODULE_NOT_FOUND) when the npm
// dependencies were not installed. Test files require this module first.
(function checkNodeModules() {
  const missing = [];
  for (const dep of ["ws", "engine.io-client"]) {
    try {
      require.resolve(dep, { paths: [NODE_DIR] });
    } catch {
      missing.push(dep);
    }
  }
  if (missing.length > 0) {
    throw new Error(
      `courier interop: npm dependencies missing (${missing.join(", ")}) in ${NODE_DIR}/node_modules.\n` +
        "Run `npm ci --prefix tests/interop/node` (from the repository root) before running these tests."
    );
  }
})();

const READY_TIMEOUT_MS = 10_000;
const KILL_AFTER_MS = 5_000;
const MAX_CAPTURE = 1 << 20; // keep at most 1 MiB of server output

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Find a free TCP port on 127.0.0.1 by binding port 0 and closing. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
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

function serverCommand(binaryEnv = "COURIER_CONFORMANCE_SERVER") {
  const cmd = process.env.COURIER_SERVER_CMD;
  if (cmd && cmd.trim() !== "") {
    // exec so that the PID we hold is the server itself, not the shell.
    return { file: "/bin/sh", args: ["-c", `exec ${cmd}`], label: cmd };
  }
  const bin = process.env[binaryEnv];
  if (bin && bin.trim() !== "") {
    if (!fs.existsSync(bin)) {
      throw new Error(`courier interop: ${binaryEnv}=${bin} does not exist`);
    }
    return { file: bin, args: [], label: bin };
  }
  throw new Error(
    "courier interop: no server to test. Set COURIER_SERVER_CMD (a full command line, e.g. " +
      `"node reference/engine_server.js") or ${binaryEnv} (path to the server binary).`
  );
}

class ServerProcess {
  /** env: extra environment variables for the server (e.g. limits, see CONTRACT.md). */
  constructor({ binaryEnv, env } = {}) {
    this.binaryEnv = binaryEnv;
    this.extraEnv = env || {};
    this.port = 0;
    this.child = null;
    this.output = "";
    this.dropped = 0;
    this.exit = null; // { code, signal } once exited
    this.stopping = false;
    this.ready = false;
    this.startError = null;
    this._exitPromise = null;
  }

  get httpUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl() {
    return `ws://127.0.0.1:${this.port}`;
  }

  _capture(chunk) {
    this.output += chunk.toString("utf8");
    if (this.output.length > MAX_CAPTURE) {
      const cut = this.output.length - MAX_CAPTURE;
      this.output = this.output.slice(cut);
      this.dropped += cut;
    }
  }

  /** Absolute offset into everything the server has written so far. */
  get outputMark() {
    return this.dropped + this.output.length;
  }

  outputSince(mark) {
    const rel = Math.max(0, mark - this.dropped);
    return this.output.slice(rel);
  }

  async start() {
    const { file, args, label } = serverCommand(this.binaryEnv);
    this.port = await freePort();
    this.label = label;
    this.child = spawn(file, args, {
      cwd: NODE_DIR,
      env: { ...process.env, ...this.extraEnv, PORT: String(this.port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout.on("data", (c) => this._capture(c));
    this.child.stderr.on("data", (c) => this._capture(c));
    this._exitPromise = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exit = { code, signal };
        if (this.ready && !this.stopping) {
          process.stderr.write(
            `\n[harness] server exited unexpectedly (code=${code}, signal=${signal}). Output:\n` +
              indent(this.output || "(no output)") +
              "\n"
          );
        }
        resolve(this.exit);
      });
    });
    // Never leave the server behind if this test process exits abruptly.
    const pid = this.child.pid;
    process.once("exit", () => {
      if (!this.exit && pid) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
    });
    const spawnError = new Promise((_, reject) => {
      this.child.once("error", (err) => reject(new Error(`failed to spawn ${label}: ${err.message}`)));
    });

    const deadline = Date.now() + READY_TIMEOUT_MS;
    const waitReady = (async () => {
      while (Date.now() < deadline) {
        if (this.exit) {
          throw new Error(
            `server ${label} exited before accepting connections (code=${this.exit.code}, signal=${this.exit.signal}). Output:\n` +
              indent(this.output || "(no output)")
          );
        }
        if (await tryConnect(this.port)) return;
        await sleep(50);
      }
      throw new Error(
        `server ${label} did not accept TCP connections on 127.0.0.1:${this.port} within ${READY_TIMEOUT_MS} ms. Output:\n` +
          indent(this.output || "(no output)")
      );
    })();
    try {
      await Promise.race([waitReady, spawnError]);
    } catch (err) {
      this.startError = err;
      await this.stop();
      throw err;
    }
    this.ready = true;
    return this;
  }

  /** True while the server process is running. */
  get alive() {
    return this.child !== null && this.exit === null;
  }

  async stop() {
    if (!this.child || this.exit) return this.exit;
    this.stopping = true;
    const pid = this.child.pid;
    if (pid === undefined) return null; // spawn failed: there is no process
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      /* already gone */
    }
    const timer = setTimeout(() => {
      if (!this.exit) {
        process.stderr.write(`[harness] server pid ${pid} ignored SIGTERM for ${KILL_AFTER_MS} ms; sending SIGKILL\n`);
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
    }, KILL_AFTER_MS);
    const exit = await this._exitPromise;
    clearTimeout(timer);
    return exit;
  }
}

function indent(text) {
  return text
    .split("\n")
    .map((l) => `    | ${l}`)
    .join("\n");
}

/**
 * Registers before/after hooks on the current file (or describe block) that
 * start one server for all its tests. Returns the ServerProcess; its port and
 * URLs are valid inside tests.
 *
 * On a failed test, the server's output written during that test is printed
 * to stderr. After each test the server must still be running.
 *
 * options.binaryEnv: environment variable holding the server binary's path
 * when COURIER_SERVER_CMD is not set (default COURIER_CONFORMANCE_SERVER).
 */
function useServer(options = {}) {
  const { before, after, beforeEach, afterEach } = require("node:test");
  const server = new ServerProcess(options);
  let mark = 0;
  before(async () => {
    try {
      await server.start();
    } catch (err) {
      server.startError = err;
      throw err;
    }
  });
  after(async () => {
    await server.stop();
  });
  beforeEach(() => {
    mark = server.outputMark;
  });
  afterEach((t) => {
    if (!server.ready) return; // the before hook already reported why
    if (!t.passed) {
      const out = server.outputSince(mark);
      process.stderr.write(
        `\n[harness] test "${t.name}" failed; server (${server.label}, port ${server.port}) output during the test:\n` +
          indent(out.length ? out : "(none)") +
          "\n"
      );
    }
    if (!server.alive) {
      throw new Error(
        `server ${server.label} is no longer running (exit code=${server.exit && server.exit.code}, signal=${server.exit && server.exit.signal})`
      );
    }
  });
  return server;
}

module.exports = { useServer, ServerProcess, freePort, sleep, NODE_DIR };
