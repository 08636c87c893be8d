"use strict";
// Slow consumers (issue 8, item 2): a client that completes the WebSocket upgrade and joins "/"
// and then never reads, while 10,000 broadcasts go out to it and to 100 normal socket.io-client
// clients. Checked with the real load:
//   - the slow client is closed by the send-queue limit (MAX_BUFFERED_BYTES), with "transport
//     error", and counted in the metrics;
//   - the server's RSS growth during the run with the slow client stays within what the same run
//     costs without it plus SLACK_FACTOR x MAX_BUFFERED_BYTES plus a fixed allowance (the slow
//     client alone is sent BROADCASTS x ~PAD bytes, several times that bound);
//   - every normal client receives every broadcast in both runs, and their p99 latency with the
//     slow client is at most LATENCY_FACTOR x the p99 without it (or +LATENCY_FLOOR_MS, whichever
//     is larger: the test machine is shared, this is a correctness check, not a benchmark).
//
//   COURIER_SOCKETIO_TEST_SERVER=/path/to/socketio_test_server node --test slow_consumer.test.js

const { ServerProcess } = require("./lib/harness");
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const net = require("node:net");
const { io } = require("socket.io-client");
const { withTimeout } = require("./lib/eio");

const NORMAL = 100;
const BROADCASTS = 10_000;
const PAD = 1000; // payload bytes per broadcast: the slow client alone is sent ~10 MB
// Broadcasts per second: 100 clients in one Node process on a shared 2-core machine decode about
// 50,000-70,000 messages/s; paced below that, latency measures the server, not the clients' backlog.
const RATE = Number(process.env.SLOW_CONSUMER_RATE || 400);
const WARMUP = 1000;
const MAX_IN_FLIGHT = 200;
const MAX_BUFFERED_BYTES = 512 * 1024;
const SLACK_FACTOR = 2; // the queue may pass the limit by one message before the close; malloc slack
const FIXED_ALLOWANCE = 3 * 1024 * 1024; // allocator and kernel-side noise between two runs
const LATENCY_FACTOR = 3;
const LATENCY_FLOOR_MS = 100;
const WAIT = 10_000;
// Under ASan (CI), freed memory sits in a quarantine (256 MB) and RSS would measure past traffic,
// not what is held: no quarantine for this server. Ignored by builds without ASan.
const ASAN_ENV = {
  ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ""}:quarantine_size_mb=0:thread_local_quarantine_size_kb=0`,
};

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function rssBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const m = status.match(/^VmRSS:\s+(\d+) kB$/m);
  return Number(m[1]) * 1024;
}

function percentile(values, p) {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Connects a raw TCP WebSocket client to "/", then stops reading for good. */
function slowClient(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    const key = crypto.randomBytes(16).toString("base64");
    let head = "";
    sock.once("error", reject);
    sock.on("connect", () => {
      sock.write(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n" +
          `Host: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`
      );
    });
    const onData = (chunk) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      sock.off("data", onData);
      if (!head.startsWith("HTTP/1.1 101")) {
        reject(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
        return;
      }
      // Socket.IO CONNECT to "/" ("40"), as a masked text frame; then never read again.
      const payload = Buffer.from("40");
      const mask = crypto.randomBytes(4);
      const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload.map((b, i) => b ^ mask[i % 4])]);
      sock.write(frame);
      sock.pause();
      sock.on("error", () => {}); // the server resets it once it gives up
      resolve(sock);
    };
    sock.on("data", onData);
  });
}

function connect(server, opts = {}) {
  const s = io(server.httpUrl, { forceNew: true, reconnection: false, transports: ["websocket"], ...opts });
  return withTimeout(
    new Promise((resolve, reject) => {
      s.once("connect", () => resolve(s));
      s.once("connect_error", reject);
    }),
    WAIT,
    "connect"
  );
}

describe("slow consumer", { timeout: 380_000 }, () => {
  const server = new ServerProcess({
    binaryEnv: "COURIER_SOCKETIO_TEST_SERVER",
    // Production heartbeat: the slow client must be closed by the queue limit, not a ping timeout.
    env: {
      PING_INTERVAL: "25000",
      PING_TIMEOUT: "20000",
      MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES),
      LOG_LEVEL: "info",
      ...ASAN_ENV,
    },
  });
  const clients = [];
  let driver;
  before(async () => {
    await server.start();
    for (let i = 0; i < NORMAL; i++) clients.push(await connect(server));
    driver = await connect(server);
  });
  after(async () => {
    for (const c of [...clients, driver]) c && c.disconnect();
    await server.stop();
  });

  const ack = (...args) => withTimeout(driver.emitWithAck(...args), WAIT, `ack of ${args[0]}`);

  /** Sends BROADCASTS paced at RATE; returns latencies (ms) of all normal clients and the RSS peak. */
  async function run(label, BROADCASTS) {
    const latencies = new Float64Array(NORMAL * BROADCASTS);
    let received = 0;
    const counts = new Array(NORMAL).fill(0);
    const event = `b-${label}`;
    const all = new Promise((resolve) => {
      clients.forEach((c, k) => {
        c.on(event, (p) => {
          latencies[received++] = performance.now() - p.t;
          if (p.i !== counts[k]) throw new Error(`client ${k}: broadcast ${p.i} arrived as #${counts[k]}`);
          counts[k]++;
          if (received === NORMAL * BROADCASTS) resolve();
        });
      });
    });
    const pid = server.child.pid;
    const baseline = rssBytes(pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssBytes(pid));
    }, 20);
    const pad = "x".repeat(PAD);
    const start = performance.now();
    // Paced at RATE, and never more than MAX_IN_FLIGHT broadcasts ahead of the server (every 50th
    // asks for an ack): a slower server (the ASan build) sets the pace instead of building a
    // backlog in front of the driver's own pongs.
    let acked = 0;
    for (let i = 0; i < BROADCASTS; ) {
      const due = Math.min(BROADCASTS, Math.floor(((performance.now() - start) / 1000) * RATE) + 1, acked + MAX_IN_FLIGHT);
      for (; i < due; i++) {
        const payload = { i, t: performance.now(), pad };
        if (i % 50 === 49) {
          const n = i + 1;
          driver.emit("broadcast", event, payload, () => (acked = Math.max(acked, n)));
        } else {
          driver.emit("broadcast", event, payload);
        }
      }
      await sleep(5);
    }
    await withTimeout(all, 120_000, `${label}: all broadcasts`).catch((e) => {
      clearInterval(sampler);
      const gone = clients.filter((c) => !c.connected).length;
      const closes = server.output.split("\n").filter((l) => /closed: /.test(l)).slice(-5).join("\n");
      throw new Error(`${e.message}: got ${received} of ${NORMAL * BROADCASTS}; ${gone} normal clients disconnected; server:\n${closes}`);
    });
    await sleep(300); // memory released by the close of the slow client shows up in the peak
    clearInterval(sampler);
    peak = Math.max(peak, rssBytes(pid));
    for (const c of clients) c.off(event);
    const seconds = (performance.now() - start) / 1000;
    const result = {
      label,
      seconds: seconds.toFixed(1),
      p50: percentile(latencies, 50).toFixed(1),
      p99: percentile(latencies, 99),
      baselineMiB: (baseline / 1048576).toFixed(1),
      growth: peak - baseline,
    };
    process.stderr.write(
      `[slow_consumer] ${label}: ${BROADCASTS} broadcasts to ${NORMAL} clients in ${result.seconds} s; ` +
        `latency p50 ${result.p50} ms, p99 ${result.p99.toFixed(1)} ms; RSS ${result.baselineMiB} MiB, ` +
        `peak growth ${(result.growth / 1048576).toFixed(2)} MiB\n`
    );
    return result;
  }

  it("bounded RSS, unchanged latency for the others, the slow client closed by the queue limit", async () => {
    await run("warmup", WARMUP); // allocator and connections at their steady state
    const without = await run("without slow client", BROADCASTS);

    const slow = await slowClient(server.port);
    let before = await ack("metrics");
    for (const deadline = Date.now() + WAIT; before.sockets !== NORMAL + 2 && Date.now() < deadline; ) {
      await sleep(50); // its CONNECT is on its way
      before = await ack("metrics");
    }
    assert.equal(before.sockets, NORMAL + 2, "the slow client joined /");
    const withSlow = await run("with slow client", BROADCASTS);
    const after = await ack("metrics");

    // Closed by the send-queue limit, nobody else.
    assert.equal(after.send_queue_overflows - before.send_queue_overflows, 1);
    assert.equal(after.closes["transport error"] - before.closes["transport error"], 1);
    assert.equal(after.sockets, NORMAL + 1);
    const reasons = await ack("last-reasons");
    assert.ok(reasons.includes("transport error"), JSON.stringify(reasons));
    assert.match(server.output, /over max_buffered_bytes \(client not reading\)/);

    // Memory: bounded by the queue limit, not by what was broadcast (~BROADCASTS x PAD bytes).
    const bound = without.growth + SLACK_FACTOR * MAX_BUFFERED_BYTES + FIXED_ALLOWANCE;
    // (The control below shows what an unbounded queue costs with the same traffic: 7-10 MiB.)
    assert.ok(bound < BROADCASTS * PAD, `bound ${bound} not below what the slow client was sent`);
    assert.ok(
      withSlow.growth <= bound,
      `RSS grew ${withSlow.growth} bytes with the slow client; bound ${bound} (without it: ${without.growth})`
    );

    // Latency of the others.
    const limit = Math.max(LATENCY_FACTOR * without.p99, without.p99 + LATENCY_FLOOR_MS);
    assert.ok(withSlow.p99 <= limit, `p99 ${withSlow.p99.toFixed(1)} ms with the slow client > ${limit.toFixed(1)} ms`);
    slow.destroy();
  });
});

describe("slow consumer, control: the RSS measurement sees an unbounded queue", { timeout: 60_000 }, () => {
  // Same slow client and broadcasts, with the default 64 MiB limit (so effectively no limit for
  // ~10 MB): the growth must show most of what was queued, or the bound above proves nothing.
  const server = new ServerProcess({
    binaryEnv: "COURIER_SOCKETIO_TEST_SERVER",
    env: { PING_INTERVAL: "25000", PING_TIMEOUT: "20000", ...ASAN_ENV },
  });
  let driver;
  before(async () => {
    await server.start();
    driver = await connect(server);
  });
  after(async () => {
    if (driver) driver.disconnect();
    await server.stop();
  });

  it("10,000 broadcasts to a client that does not read grow the RSS by several MiB", async () => {
    const slow = await slowClient(server.port);
    const pid = server.child.pid;
    const baseline = rssBytes(pid);
    const pad = "x".repeat(PAD);
    for (let i = 0; i < BROADCASTS; i++) {
      driver.emit("broadcast", "b", { i, t: 0, pad });
      if (i % 500 === 499) await sleep(5);
    }
    const m = await withTimeout(driver.emitWithAck("metrics"), WAIT, "metrics"); // all broadcasts handled
    const growth = rssBytes(pid) - baseline;
    process.stderr.write(`[slow_consumer] control: RSS growth ${(growth / 1048576).toFixed(2)} MiB without a low limit\n`);
    assert.equal(m.send_queue_overflows, 0);
    assert.ok(growth > SLACK_FACTOR * MAX_BUFFERED_BYTES + FIXED_ALLOWANCE, `growth ${growth} bytes`);
    slow.destroy();
  });
});
