#!/usr/bin/python3
"""Chaos tests (issue 8, item 8): courier under storms, Redis and instance failures and garbage.

Real parts only: examples/bench_server (shared/BENCH-CONTRACT.md; with REDIS_URL a cluster member
through courier's Redis adapter), bench/loadgen (courier_loadgen: storm and fan-out with loss, order
and duplicate accounting), the npm socket.io-client (observer.js) on the other cluster members, a
real redis-server on a free loopback port, and raw TCP clients written here for the garbage.

  chaos.py storm          10,000 connects while 1,000 clients receive a steady broadcast
  chaos.py redis          Redis SIGKILLed and restarted mid-run, two instances in one cluster
  chaos.py instance-kill  one of three instances SIGKILLed mid-run
  chaos.py garbage        100 raw clients at once send garbage while steady clients receive

Each scenario is bounded (well under a minute), prints what it measured as one JSON line
("measured: {...}") and every failed check ("FAIL: ..."), and exits 1 if any check failed. Every
process it starts is stopped by its PID at the end, also on failure or when the driver is killed
(the children get PR_SET_PDEATHSIG = SIGKILL). Logs stay in --work-dir for a post-mortem.

Binaries come from --bench-server, --loadgen, --node, --redis-server (or env BENCH_SERVER, LOADGEN,
NODE, REDIS_SERVER; redis-server and node default to PATH).
"""
import argparse
import asyncio
import base64
import ctypes
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
HERE = os.path.dirname(os.path.abspath(__file__))
OBSERVER_JS = os.path.join(HERE, "observer.js")

# ---------------------------------------------------------------------------------------------
# Processes: every child is registered, stopped by PID at the end and dies with the driver.

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


_driver_pid = os.getpid()


def _die_with_parent():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _driver_pid:  # the driver died before prctl took effect
        os._exit(1)


class Proc:
    """One child process with stdout/stderr in files of the work directory."""

    def __init__(self, reg, label, argv, env=None, stdin_pipe=False):
        self.label = label
        self.argv = argv
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
        self.out_path = os.path.join(reg.work_dir, safe + ".out")
        self.err_path = os.path.join(reg.work_dir, safe + ".err")
        self.expect_exit = False
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(
                argv, env=full_env, stdout=out, stderr=err,
                stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                preexec_fn=_die_with_parent, close_fds=True)
        self.pid = self.popen.pid
        self.t_spawn = time.monotonic()
        reg.procs.append(self)

    def alive(self):
        return self.popen.poll() is None

    def returncode(self):
        return self.popen.poll()

    def read_out(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def read_err(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def tail(self, n=3000):
        text = self.read_err()
        out = self.read_out()
        return ("stdout: " + out[-n:] if out else "") + ("\nstderr: " + text[-n:] if text else "")

    def wait_text(self, needle, timeout, stream="err"):
        """Waits until `needle` appears in the process's stderr (or stdout); False on timeout or exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.read_err() if stream == "err" else self.read_out()
            if needle in text:
                return True
            if not self.alive():
                text = self.read_err() if stream == "err" else self.read_out()
                return needle in text
            time.sleep(0.02)
        return False

    def wait(self, timeout):
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        """SIGKILL by PID, then reap."""
        self.expect_exit = True
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self, grace=10.0):
        """SIGTERM, SIGKILL after `grace` s; returns (exit status, seconds it took)."""
        self.expect_exit = True
        t0 = time.monotonic()
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
        rc = self.wait(grace)
        if rc is None:
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait()
            return None, time.monotonic() - t0
        return rc, time.monotonic() - t0

    def fd_count(self):
        try:
            return len(os.listdir("/proc/%d/fd" % self.pid))
        except OSError:
            return None

    def wait_fds_at_most(self, n, timeout):
        """Waits until the process holds at most n descriptors; the last count seen."""
        deadline = time.monotonic() + timeout
        while True:
            c = self.fd_count()
            if c is None or c <= n or time.monotonic() >= deadline:
                return c
            time.sleep(0.1)

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None


class Registry:
    def __init__(self, work_dir):
        self.work_dir = work_dir
        self.procs = []

    def cleanup(self):
        for p in reversed(self.procs):
            if p.alive():
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                p.popen.wait(10)
            except subprocess.TimeoutExpired:
                pass


class RssSampler(threading.Thread):
    """Samples VmRSS of some processes every 100 ms; keeps the peak and the latest value."""

    def __init__(self, procs):
        super().__init__(daemon=True)
        self.procs = procs
        self.peak = {p.label: 0 for p in procs}
        self.last = {p.label: 0 for p in procs}
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.window_peak = None  # a second peak, reset by mark()

    def run(self):
        while not self.stopping.is_set():
            for p in self.procs:
                v = p.rss_kb()
                if v is None:
                    continue
                with self.lock:
                    self.last[p.label] = v
                    self.peak[p.label] = max(self.peak[p.label], v)
                    if self.window_peak is not None:
                        self.window_peak[p.label] = max(self.window_peak.get(p.label, 0), v)
            self.stopping.wait(0.1)

    def mark(self):
        with self.lock:
            self.window_peak = dict(self.last)

    def window(self):
        with self.lock:
            return dict(self.window_peak or {})

    def stop(self):
        self.stopping.set()
        self.join()


# ---------------------------------------------------------------------------------------------
# Checks and reporting


class Checks:
    def __init__(self):
        self.failures = []
        self.measured = {}

    def check(self, cond, what):
        if not cond:
            self.failures.append(what)
            print("FAIL: " + what, flush=True)
        return cond

    def note(self, key, value):
        self.measured[key] = value


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# The parts


class Tools:
    def __init__(self, args, reg):
        self.args = args
        self.reg = reg


def start_bench_server(tools, name, redis_url=None, extra_env=None):
    port = free_port()
    env = {"PORT": str(port), "MAX_LIFETIME_S": "300"}
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra_env or {})
    p = Proc(tools.reg, "server-" + name, [tools.args.bench_server], env)
    if not p.wait_text("listening on", 15):
        raise RuntimeError("bench_server %s did not start on port %d:\n%s" % (name, port, p.tail()))
    p.port = port
    p.name = name
    return p


def start_loadgen(tools, label, scenario, port, extra):
    argv = [tools.args.loadgen, "--scenario", scenario, "--port", str(port)] + [str(x) for x in extra]
    return Proc(tools.reg, "loadgen-" + label, argv)


def loadgen_result(p, timeout):
    rc = p.wait(timeout)
    if rc is None:
        p.kill()
        return None, "loadgen %s did not finish within %.0f s" % (p.label, timeout)
    lines = [l for l in p.read_out().splitlines() if l.startswith("{")]
    if not lines:
        return None, "loadgen %s printed no result (exit %s): %s" % (p.label, rc, p.tail())
    res = json.loads(lines[-1])
    res["_exit"] = rc
    return res, None


def phase_time(p, name):
    """Seconds since the loadgen's start of its '@phase NAME' marker, or None."""
    m = re.search(r"^@phase %s ([0-9.]+)$" % re.escape(name), p.read_err(), re.M)
    return float(m.group(1)) if m else None


def fanout_summary(res):
    if res is None:
        return None
    f = res.get("fanout", {})
    keys = ("receivers_joined", "broadcasts_sent", "expected_deliveries", "delivered", "lost", "duplicates",
            "out_of_order", "malformed", "receivers_lost", "stalled_broadcasts")
    s = {k: f.get(k) for k in keys}
    s["latency_ms"] = {k: f.get("latency", {}).get(k) for k in ("p50_ms", "p99_ms", "max_ms")}
    s["ok"] = res.get("ok")
    s["errors"] = res.get("errors")
    s["lost_connections"] = res.get("lost_connections")
    s["connect_failures"] = res.get("connect", {}).get("failures")
    return s


def check_fanout(checks, what, res, err, receivers):
    """The steady clients: every receiver joined and stayed, nothing lost, duplicated or reordered."""
    if not checks.check(res is not None, "%s: %s" % (what, err)):
        return
    f = res.get("fanout", {})
    checks.check(f.get("receivers_joined") == receivers,
                 "%s: %s of %d receivers joined" % (what, f.get("receivers_joined"), receivers))
    checks.check((f.get("broadcasts_sent") or 0) > 0, "%s: no broadcast sent" % what)
    for key in ("lost", "duplicates", "out_of_order", "malformed", "receivers_lost"):
        checks.check(f.get(key) == 0, "%s: %s = %s (expected 0)" % (what, key, f.get(key)))
    checks.check(f.get("delivered") == f.get("expected_deliveries"),
                 "%s: delivered %s of %s" % (what, f.get("delivered"), f.get("expected_deliveries")))
    checks.check(not res.get("lost_connections"), "%s: connections lost: %s" % (what, res.get("lost_connections")))
    checks.check(res.get("ok") is True and res.get("_exit") == 0,
                 "%s: loadgen not ok (exit %s, errors %s)" % (what, res.get("_exit"), res.get("errors")))


def check_storm(checks, what, res, err, clients):
    if not checks.check(res is not None, "%s: %s" % (what, err)):
        return
    c = res.get("connect", {})
    checks.check(c.get("connected") == clients and c.get("attempted") == clients,
                 "%s: %s of %s connects succeeded, failures by kind %s, errors %s"
                 % (what, c.get("connected"), clients, c.get("failures"), res.get("errors")))
    checks.check(res.get("ok") is True and res.get("_exit") == 0,
                 "%s: loadgen not ok (exit %s, errors %s)" % (what, res.get("_exit"), res.get("errors")))


def stop_server(checks, p):
    """Servers must still run at the end and stop on SIGTERM within 10 s (the contract) with 0."""
    checks.check(p.alive(), "%s died during the run (exit %s); log tail:\n%s" % (p.label, p.returncode(), p.tail()))
    if not p.alive():
        return
    rc, took = p.stop()
    checks.check(rc == 0, "%s: SIGTERM -> exit %s after %.1f s (expected 0 within 10 s)" % (p.label, rc, took))


class RedisServer:
    def __init__(self, tools):
        self.tools = tools
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="redis-", dir=tools.reg.work_dir)
        self.proc = None
        self.generation = 0

    @property
    def url(self):
        return "redis://%s:%d" % (HOST, self.port)

    def start(self, timeout=10.0):
        """Starts on self.port (again after a kill) and waits until PING answers; returns the time."""
        deadline = time.monotonic() + timeout
        while True:
            self.generation += 1
            self.proc = Proc(self.tools.reg, "redis-%d" % self.generation, [
                self.tools.args.redis_server, "--port", str(self.port), "--bind", HOST, "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--protected-mode", "no", "--daemonize", "no"])
            while time.monotonic() < deadline and self.proc.alive():
                if self.command(["PING"], 0.2) == "PONG":
                    return time.time()
                time.sleep(0.01)
            if self.proc.alive() or time.monotonic() >= deadline or "Address already in use" not in self.proc.read_out():
                raise RuntimeError("redis-server on port %d did not start: %s" % (self.port, self.proc.tail()))
            time.sleep(0.05)  # the port is still being released: try again

    def kill(self):
        self.proc.kill()
        return time.time()

    def command(self, args, timeout=1.0):
        """One command over a fresh connection; the reply (str, int, list) or None on error."""
        try:
            with socket.create_connection((HOST, self.port), timeout=timeout) as s:
                s.settimeout(timeout)
                req = b"*%d\r\n" % len(args) + b"".join(
                    b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)
                s.sendall(req)
                buf = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return None
                    buf += chunk
                    r = _parse_resp(buf, 0)
                    if r is not None:
                        return r[0]
        except (OSError, ValueError):
            return None


def _parse_resp(buf, i):
    eol = buf.find(b"\r\n", i)
    if eol < 0:
        return None
    t, line, nxt = buf[i:i + 1], buf[i + 1:eol].decode(), eol + 2
    if t == b"+":
        return line, nxt
    if t == b"-":
        return "ERR " + line, nxt
    if t == b":":
        return int(line), nxt
    if t == b"$":
        n = int(line)
        if n < 0:
            return None, nxt
        if len(buf) < nxt + n + 2:
            return None
        return buf[nxt:nxt + n].decode("utf-8", "replace"), nxt + n + 2
    if t == b"*":
        out = []
        for _ in range(int(line)):
            r = _parse_resp(buf, nxt)
            if r is None:
                return None
            out.append(r[0])
            nxt = r[1]
        return out, nxt
    raise ValueError("bad RESP")


def wait_cluster(checks, redis, n, timeout=15.0):
    """Waits until n servers subscribe to the main namespace's request channel (a cluster of n)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        r = redis.command(["PUBSUB", "NUMSUB", "socket.io-request#/#"])
        last = r[1] if isinstance(r, list) and len(r) == 2 else r
        if last == n:
            return True
        time.sleep(0.05)
    return checks.check(False, "cluster of %d never formed: PUBSUB NUMSUB socket.io-request#/# = %s" % (n, last))


class Observer:
    """observer.js: real socket.io-client connections on one instance, recording every msg."""

    def __init__(self, tools, label, port, clients):
        self.clients = clients
        self.proc = Proc(tools.reg, "observer-" + label, [
            tools.args.node, OBSERVER_JS, "--url", "http://%s:%d" % (HOST, port), "--clients", str(clients)],
            stdin_pipe=True)

    def wait_ready(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.proc.read_out().splitlines():
                ev = json.loads(line)
                if ev["ev"] == "ready":
                    return None
                if ev["ev"] == "fail":
                    return ev["why"]
            if not self.proc.alive():
                return "observer exited: " + self.proc.tail()
            time.sleep(0.05)
        return "observer not ready within %.0f s" % timeout

    def summary(self, timeout=20.0):
        """Ends the observer (SIGTERM by PID) and returns its per-client records."""
        self.proc.expect_exit = True
        if self.proc.alive():
            os.kill(self.proc.pid, signal.SIGTERM)
        if self.proc.wait(timeout) is None:
            self.proc.kill()
        for line in self.proc.read_out().splitlines():
            ev = json.loads(line)
            if ev["ev"] == "summary":
                return ev["clients"]
        raise RuntimeError("observer gave no summary: " + self.proc.tail())


def received_seqs(client):
    out = set()
    for first, last, *_ in client["runs"]:
        out.update(range(first, last + 1))
    return out


def missing_ranges(seqs, sent):
    """The seqs in [0, sent) not received, as [first, last] ranges."""
    out = []
    start = None
    for s in range(sent):
        if s not in seqs:
            if start is None:
                start = s
        elif start is not None:
            out.append([start, s - 1])
            start = None
    if start is not None:
        out.append([start, sent - 1])
    return out


# ---------------------------------------------------------------------------------------------
# Scenario 1: a storm of 10,000 connects while 1,000 clients receive a steady broadcast.


def scenario_storm(tools, checks):
    a = tools.args
    srv = start_bench_server(tools, "storm")
    sampler = RssSampler([srv])
    sampler.start()
    # The steady broadcast runs long enough to cover the whole storm (its connect deadline, the
    # half second the loadgen holds, then 10,000 RSTs at once) and goes on after it.
    storm_deadline = a.storm_deadline
    steady_s = 2 + storm_deadline + 1 + 6
    fan = start_loadgen(tools, "steady", "fanout", srv.port, [
        "--clients", a.steady_clients, "--mode", "rate", "--rate", 50, "--duration", steady_s, "--drain", 10,
        "--connect-timeout", 60, "--src-addrs", 4])
    if not checks.check(fan.wait_text("@phase connected", 70), "steady clients never all connected: " + fan.tail()):
        return
    time.sleep(2)
    rss_before = srv.rss_kb()
    fds_before = srv.fd_count()
    t_storm = time.monotonic()
    storm = start_loadgen(tools, "storm", "storm", srv.port, [
        "--clients", a.storm_clients, "--duration", storm_deadline, "--src-addrs", 16])
    sres, serr = loadgen_result(storm, storm_deadline + 40)
    t_storm_done = time.monotonic()
    storm_end = t_storm_done - t_storm
    # The 10,000 storm sessions ended with RSTs: their descriptors must all be released.
    fds_after = srv.wait_fds_at_most(fds_before + 20, 15)
    fres, ferr = loadgen_result(fan, steady_s + 100)
    steady_end = fan.t_spawn + (phase_time(fan, "measure_end") or 0)
    sampler.stop()
    checks.note("storm", {
        "clients": a.storm_clients,
        "connected": sres and sres["connect"]["connected"],
        "success_rate": sres and sres["connect"]["success_rate"],
        "all_connected_s": sres and sres["connect"]["all_connected_s"],
        "connect_latency_ms": sres and {k: sres["connect"]["latency"][k] for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")},
        "failures": sres and sres["connect"]["failures"],
        "storm_process_s": round(storm_end, 2),
    })
    checks.note("steady", fanout_summary(fres))
    checks.note("server_rss_kb", {"before_storm": rss_before, "peak": sampler.peak[srv.label],
                                  "after": sampler.last[srv.label]})
    checks.note("server_fds", {"before_storm": fds_before, "after_storm": fds_after})
    check_storm(checks, "storm", sres, serr, a.storm_clients)
    checks.check(fds_after is not None and fds_after <= fds_before + 20,
                 "the server still holds %s descriptors 15 s after the storm's clients left (%d before)"
                 % (fds_after, fds_before))
    check_fanout(checks, "steady broadcast during the storm", fres, ferr, a.steady_clients)
    # The storm (and its 10,000 RSTs) really happened inside the steady broadcast's window.
    checks.check(t_storm_done < steady_end, "the storm ended %.1f s after the steady broadcast: the run proves "
                 "less than it should (raise the steady duration)" % (t_storm_done - steady_end))
    stop_server(checks, srv)


# ---------------------------------------------------------------------------------------------
# Scenario 2: Redis SIGKILLed and restarted mid-run, two instances in one cluster.


def log_has(text, pattern):
    return re.search(pattern, text) is not None


def scenario_redis(tools, checks):
    a = tools.args
    redis = RedisServer(tools)
    redis.start()
    srv_a = start_bench_server(tools, "A", redis.url)
    srv_b = start_bench_server(tools, "B", redis.url)
    if not wait_cluster(checks, redis, 2):
        return
    obs = Observer(tools, "B", srv_b.port, a.observers)
    why = obs.wait_ready()
    if not checks.check(why is None, "observers on B: %s" % why):
        return
    rate = 100
    duration = 14
    fan = start_loadgen(tools, "A", "fanout", srv_a.port, [
        "--clients", 500, "--mode", "rate", "--rate", rate, "--duration", duration, "--drain", 10,
        "--connect-timeout", 60])
    if not checks.check(fan.wait_text("@phase connected", 70), "clients on A never all connected: " + fan.tail()):
        return
    time.sleep(4)
    mark_a, mark_b = len(srv_a.read_err()), len(srv_b.read_err())
    t_kill = redis.kill()
    time.sleep(a.outage)
    t_up = redis.start()
    res, err = loadgen_result(fan, duration + 100)
    clients = obs.summary()
    log_a, log_b = srv_a.read_err()[mark_a:], srv_b.read_err()[mark_b:]
    check_fanout(checks, "local delivery on A through the Redis outage", res, err, 500)
    sent = res["fanout"]["broadcasts_sent"] if res else 0

    # Remote delivery on B: one gap, identical for every client (they share B's subscription),
    # that starts at the kill and ends within a second of Redis being back; nothing lost after it.
    gaps = [missing_ranges(received_seqs(c), sent) for c in clients]
    checks.check(all(g == gaps[0] for g in gaps), "clients on B missed different messages: %s" % gaps[:5])
    gap = gaps[0] if gaps else []
    resume_s = None
    for i, c in enumerate(clients):
        checks.check(not c["disconnects"], "client %d on B disconnected: %s" % (i, c["disconnects"]))
        checks.check(c["duplicates"] == 0 and c["out_of_order"] == 0,
                     "client %d on B: %d duplicates, %d out of order" % (i, c["duplicates"], c["out_of_order"]))
    if checks.check(len(gap) == 1, "B: expected exactly one gap (the outage) in seq 0..%d, got %s" % (sent - 1, gap)):
        first, last = gap[0]
        runs = clients[0]["runs"]
        after = [r for r in runs if r[0] == last + 1]
        before = [r for r in runs if r[1] == first - 1]
        checks.check(last + 1 < sent, "B: nothing delivered after the outage (gap %s of %d)" % (gap[0], sent))
        if after:
            resume_s = after[0][2] / 1000.0 - t_up
            # Redis is back at t_up; the adapter's reconnect backoff is capped at 0.5 s.
            checks.check(resume_s <= a.resume_limit,
                         "B: cross-instance delivery resumed %.3f s after Redis was back (limit %g s)"
                         % (resume_s, a.resume_limit))
        if before:
            # Sanity: the gap is the outage (what B still got after the kill was already on its way).
            checks.check(before[0][3] / 1000.0 <= t_kill + 2.0,
                         "B: the gap began %.3f s after Redis was killed: not the outage?"
                         % (before[0][3] / 1000.0 - t_kill))
        checks.note("remote_gap", {"first_seq": first, "last_seq": last, "missed": last - first + 1,
                                   "missed_by_time_s": round((last - first + 1) / rate, 3)})
    checks.note("outage_s", round(t_up - t_kill, 3))
    checks.note("resume_after_redis_back_s", None if resume_s is None else round(resume_s, 3))
    checks.note("steady_on_A", fanout_summary(res))
    checks.note("observers_on_B", {"clients": len(clients), "received_each": [c["received"] for c in clients[:3]],
                                   "sent": sent})
    # What the adapter said: the loss of both connections, the lost publishes (counted: the first
    # of an outage is logged, then every 1000th), and both reconnections, on each instance.
    for name, log in (("A", log_a), ("B", log_b)):
        for conn in ("publisher", "subscriber"):
            checks.check(log_has(log, r"redis %s \(.*\): connection lost" % conn),
                         "%s: no 'connection lost' log line for the Redis %s; log:\n%s" % (name, conn, log[-2000:]))
            checks.check(log_has(log, r"redis %s \(.*\): reconnected" % conn),
                         "%s: no 'reconnected' log line for the Redis %s; log:\n%s" % (name, conn, log[-2000:]))
    m = re.findall(r"redis adapter: not connected, publish to (\S+) dropped \((\d+) lost so far\)", log_a)
    checks.check(len(m) >= 1 and m[0][1] == "1",
                 "A: no lost-publish count in the log; log:\n%s" % log_a[-2000:])
    checks.note("adapter_log_A", [l for l in log_a.splitlines() if "redis" in l][:8])
    checks.check(wait_cluster(checks, redis, 2, 5), "the cluster did not re-form after the restart")
    for p in (srv_a, srv_b):
        stop_server(checks, p)
    redis.proc.stop()


# ---------------------------------------------------------------------------------------------
# Scenario 3: one of three instances SIGKILLed mid-run.


def scenario_instance_kill(tools, checks):
    a = tools.args
    redis = RedisServer(tools)
    redis.start()
    srv = {n: start_bench_server(tools, n, redis.url) for n in ("A", "B", "C")}
    if not wait_cluster(checks, redis, 3):
        return
    obs = {n: Observer(tools, n, srv[n].port, a.observers) for n in ("B", "C")}
    for n, o in obs.items():
        why = o.wait_ready()
        if not checks.check(why is None, "observers on %s: %s" % (n, why)):
            return
    duration = 12
    fan = start_loadgen(tools, "A", "fanout", srv["A"].port, [
        "--clients", 300, "--mode", "rate", "--rate", 100, "--duration", duration, "--drain", 10,
        "--connect-timeout", 60])
    if not checks.check(fan.wait_text("@phase connected", 70), "clients on A never all connected: " + fan.tail()):
        return
    time.sleep(4)
    t_kill = time.time()
    srv["C"].kill()
    res, err = loadgen_result(fan, duration + 100)
    summaries = {n: o.summary() for n, o in obs.items()}
    numsub_after = redis.command(["PUBSUB", "NUMSUB", "socket.io-request#/#"])
    check_fanout(checks, "clients on A (the publisher's instance) while C was killed", res, err, 300)
    sent = res["fanout"]["broadcasts_sent"] if res else 0
    for i, c in enumerate(summaries["B"]):
        got = received_seqs(c)
        checks.check(len(got) == sent and c["received"] == sent,
                     "client %d on B received %d of %d (missing %s)" % (i, len(got), sent, missing_ranges(got, sent)[:5]))
        checks.check(c["duplicates"] == 0 and c["out_of_order"] == 0,
                     "client %d on B: %d duplicates, %d out of order" % (i, c["duplicates"], c["out_of_order"]))
        checks.check(not c["disconnects"], "client %d on B disconnected: %s" % (i, c["disconnects"]))
    # C's own clients lose their connection (their server is gone): expected, and measured.
    c_drop = [c["disconnects"][0]["at_ms"] / 1000.0 - t_kill for c in summaries["C"] if c["disconnects"]]
    checks.check(len(c_drop) == len(summaries["C"]),
                 "only %d of %d clients of the killed instance saw their connection end" % (len(c_drop), len(summaries["C"])))
    checks.note("steady_on_A", fanout_summary(res))
    checks.note("observers_on_B", {"clients": len(summaries["B"]), "sent": sent,
                                   "received_min": min((c["received"] for c in summaries["B"]), default=0)})
    checks.note("killed_C_clients_dropped_after_s", round(max(c_drop), 3) if c_drop else None)
    checks.note("numsub_after_kill", numsub_after)
    checks.check(isinstance(numsub_after, list) and numsub_after[1] == 2,
                 "Redis still counts the killed instance's subscription: %s" % numsub_after)
    checks.check(srv["C"].returncode() == -signal.SIGKILL, "C: exit %s (expected SIGKILL)" % srv["C"].returncode())
    for n in ("A", "B"):
        stop_server(checks, srv[n])
    redis.proc.stop()


# ---------------------------------------------------------------------------------------------
# Scenario 4: garbage and truncated frames from 100 raw clients at once.

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_request(port, path="/socket.io/?EIO=4&transport=websocket"):
    key = base64.b64encode(os.urandom(16))
    req = (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: " % port + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    return req, base64.b64encode(hashlib.sha1(key + WS_GUID).digest())


def frame(opcode, payload, fin=True, mask=True, rsv=0, length=None):
    """A client WebSocket frame; `length` overrides the length field (a lie about the payload)."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if not mask or not payload:
        return head + (os.urandom(4) if mask else b"") + payload
    key = os.urandom(4)
    # XOR as one big integer: C speed, so that the driver's loop is never the slow part.
    k = (key * (len(payload) // 4 + 1))[:len(payload)]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(len(payload), "big")
    return head + key + masked


def text(s):
    return frame(1, s.encode() if isinstance(s, str) else s)


async def read_until_closed(reader, timeout, first):
    """Reads until the server closes; True if it did within `timeout`. The first bytes read go
    to first[0] (an HTTP answer's status line, for the report)."""
    t0 = time.monotonic()
    try:
        while True:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                return False
            chunk = await asyncio.wait_for(reader.read(65536), left)
            if not chunk:
                return True
            if not first[0]:
                first[0] = chunk[:64]
    except asyncio.TimeoutError:
        return False
    except (ConnectionError, OSError):
        return True


async def upgrade(reader, writer, port):
    """A valid WebSocket upgrade and the Engine.IO OPEN; False if the server refused."""
    req, accept = ws_request(port)
    writer.write(req)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 15)
    if not head.startswith(b"HTTP/1.1 101") or accept not in head:
        return False
    hdr = await asyncio.wait_for(reader.readexactly(2), 15)  # the OPEN frame: header, then payload
    await asyncio.wait_for(reader.readexactly(hdr[1] & 0x7F), 15)
    return True


async def polling_session(reader, writer, port):
    """An Engine.IO polling handshake on a keep-alive connection; the sid, or None."""
    writer.write(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 15)
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    if not head.startswith(b"HTTP/1.1 200") or not m:
        return None
    body = await asyncio.wait_for(reader.readexactly(int(m.group(1))), 15)
    sid = re.search(rb'"sid":"([^"]+)"', body)
    return sid.group(1).decode() if sid else None


def polling_post(sid, body):
    return (b"POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\n\r\n" % (sid.encode(), len(body)) + body)


async def sio_connect(reader, writer, port):
    if not await upgrade(reader, writer, port):
        return False
    writer.write(text("40"))
    await writer.drain()
    return True


# Garbage cases: (name, after, bytes, close_within). after: "tcp" (raw bytes first), "ws" (after a
# valid upgrade and the OPEN), "sio" (after the Socket.IO CONNECT too), "polling" (after a polling
# handshake; the builder takes the sid). close_within: seconds within
# which the server must end the connection (a protocol violation: RFC 6455 "Fail the WebSocket
# Connection", Engine.IO / Socket.IO parse errors close the session; a half-sent HTTP request ends
# at the transport's 5 s handshake timeout; a client that stopped mid-frame misses its pongs and is
# dropped by the heartbeat, PING_INTERVAL + PING_TIMEOUT); None: bytes a server may accept, held
# until the end of the garbage phase. Nothing here broadcasts to the steady clients' room.
EIO_INVALID = ["", "9", "7", "x", "\x00", "8abc"]
SIO_INVALID = ["42[", "42{", "4{", "4", "42{\"a\":1}", "42[\"broadcast\",{\"room\":", "4/nope,42[\"a\"]", "42[1,2,3]",
               "42[\"a\"]]", "42[\"a\",{\"b\":1}"]
SIO_ODD = ["40/nope", "42[\"join\"]", "42[\"join\",{\"a\":1}]", "42[\"join\",\"" + "r" * 5000 + "\"]", "42[\"join\",null]",
           "42[\"broadcast\",\"not-an-object\"]", "42[\"broadcast\",{\"room\":7}]", "42[\"broadcast\"]", "42[\"echo\"]",
           "421[\"echo\"]", "43[]", "4399[1]", "42[\"\\ud800\"]", "42[\"x\",1e999]", "42[\"x\",-0.0e-400]",
           "42999999999999999999999[\"echo\",1]", "41", "2probe", "6", "3"]


def garbage_cases(rng, heartbeat_s):
    rnd = lambda n: bytes(rng.getrandbits(8) for _ in range(n))
    silence = 5 + 3  # the transport's open-handshake timeout, and slack for a busy machine
    return [
        ("random_bytes_before_http", "tcp", lambda: rnd(rng.randint(1, 4096)), silence),
        ("tls_hello_instead_of_http", "tcp", lambda: b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + rnd(500), silence),
        ("http_huge_header", "tcp", lambda: b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nX-Big: "
         + b"a" * 200000 + b"\r\n\r\n", silence),
        ("http_bad_eio_version", "tcp", lambda: ws_request(0, "/socket.io/?EIO=999&transport=websocket")[0], silence),
        ("http_bad_key", "tcp", lambda: b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
         b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: !!\r\nSec-WebSocket-Version: 99\r\n\r\n", silence),
        ("http_polling_bad_sid", "tcp", lambda: b"POST /socket.io/?EIO=4&transport=polling&sid=nope HTTP/1.1\r\n"
         b"Host: x\r\nContent-Length: 12\r\nConnection: close\r\n\r\n" + rnd(12), silence),
        ("http_polling_lying_length", "tcp", lambda: b"POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n"
         b"Host: x\r\nContent-Length: 3000000\r\n\r\n" + rnd(1000), silence),
        ("http_half_sent_then_silence", "tcp", lambda: b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127", silence),
        ("polling_garbage_payload", "polling", lambda sid: polling_post(sid, rng.choice(
            [b"\x1e\x1e", b"9", b"4" + b"\xff" * 10, rnd(200), b"40\x1e42[\x1e"])), silence),
        ("polling_payload_past_max", "polling", lambda sid: polling_post(sid, b"4" + b"x" * 1100000), silence),
        ("random_bytes_after_upgrade", "ws", lambda: rnd(rng.randint(1, 4096)), heartbeat_s),
        ("truncated_frame_then_silence", "ws", lambda: text("42" + "x" * 300)[:rng.randint(1, 200)], heartbeat_s),
        ("invalid_opcode", "ws", lambda: frame(rng.choice([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), b"40"), silence),
        ("unmasked_frame", "ws", lambda: frame(1, b"40", mask=False), silence),
        ("rsv_bits_without_extension", "ws", lambda: frame(1, b"40", rsv=rng.choice([1, 2, 4])), silence),
        ("oversized_length_field", "ws", lambda: frame(1, b"4" * 64, length=rng.choice(
            [2 ** 63 - 1, 2 ** 40, 2 ** 32 + 5, 50000000])), silence),
        ("bad_utf8_text", "ws", lambda: text(b"42[\"echo\",\"\xff\xfe\xc3\x28\xed\xa0\x80\"]"), silence),
        ("control_frame_too_long", "ws", lambda: frame(9, b"p" * 200), silence),
        ("fragmented_control_frame", "ws", lambda: frame(9, b"ping", fin=False), silence),
        ("continuation_without_start", "ws", lambda: frame(0, b"40"), silence),
        ("fragments_past_max_payload", "ws", lambda: frame(1, b"4", fin=False) + b"".join(
            frame(0, b"x" * 65536, fin=False) for _ in range(24)), silence),
        ("close_invalid_code", "ws", lambda: frame(8, struct.pack(">H", rng.choice([0, 999, 1005, 1006, 5000])) + b"\xff"), silence),
        ("binary_garbage_frame", "ws", lambda: frame(2, rnd(rng.randint(1, 2048))), silence),
        ("eio_invalid_packet", "ws", lambda: text(rng.choice(EIO_INVALID)), silence),
        ("eio_oversized_packet", "ws", lambda: text("4" + "x" * 1100000), silence),
        ("sio_invalid_packet", "sio", lambda: text(rng.choice(SIO_INVALID)), silence),
        ("sio_deep_nesting", "sio", lambda: text("42[\"x\"," + "[" * 200000 + "]" * 200000 + "]"), None),
        ("sio_odd_but_valid", "sio", lambda: b"".join(text(p) for p in rng.sample(SIO_ODD, 8)), None),
        ("sio_flood_other_room", "sio", lambda: b"".join(
            text("42[\"broadcast\",{\"room\":\"garbage\",\"seq\":%d}]" % i) for i in range(500)), None),
    ]


async def garbage_worker(port, rng, until, stats, heartbeat_s):
    cases = garbage_cases(rng, heartbeat_s)
    while time.monotonic() < until:
        name, after, build, close_within = rng.choice(cases)
        st = stats.setdefault(name, {"runs": 0, "closed_by_server": 0, "still_open": 0, "refused_upgrade": 0,
                                     "errors": 0, "max_close_s": 0.0, "must_close_within_s": close_within})
        st["runs"] += 1
        writer = None
        sent_at = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port, limit=1 << 20), 15)
            if after == "ws" and not await upgrade(reader, writer, port):
                st["refused_upgrade"] += 1
                continue
            if after == "sio" and not await sio_connect(reader, writer, port):
                st["refused_upgrade"] += 1
                continue
            sid = None
            if after == "polling":
                sid = await polling_session(reader, writer, port)
                if sid is None:
                    st["refused_upgrade"] += 1
                    continue
            sent_at = time.monotonic()
            writer.write(build() if sid is None else build(sid))
            await writer.drain()
            wait = close_within if close_within is not None else max(0.1, until - time.monotonic())
            first = [b""]
            closed = await read_until_closed(reader, wait, first)
            m = re.match(rb"HTTP/1\.[01] (\d{3})", first[0])
            if m and after in ("tcp", "polling"):
                codes = st.setdefault("http_status", {})
                codes[m.group(1).decode()] = codes.get(m.group(1).decode(), 0) + 1
            if closed:
                st["closed_by_server"] += 1
                st["max_close_s"] = max(st["max_close_s"], round(time.monotonic() - sent_at, 3))
            else:
                st["still_open"] += 1
        except (ConnectionError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError) as e:
            if sent_at is not None and isinstance(e, ConnectionError):
                # Reset while the garbage was still being written: the server ended it early.
                st["closed_by_server"] += 1
                st["max_close_s"] = max(st["max_close_s"], round(time.monotonic() - sent_at, 3))
            else:
                st["errors"] += 1
                st.setdefault("error_kinds", {})
                kind = type(e).__name__
                st["error_kinds"][kind] = st["error_kinds"].get(kind, 0) + 1
        finally:
            if writer is not None:
                # Abort with RST, as a crashed client would.
                sock = writer.get_extra_info("socket")
                try:
                    if sock is not None and sock.fileno() >= 0:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass  # already closed by the transport
                writer.transport.abort()


async def garbage_storm(port, clients, seconds, seed, heartbeat_s):
    until = time.monotonic() + seconds
    stats = {}
    rng = random.Random(seed)
    await asyncio.gather(*(garbage_worker(port, random.Random(rng.getrandbits(64)), until, stats, heartbeat_s)
                           for _ in range(clients)))
    return stats


def scenario_garbage(tools, checks):
    a = tools.args
    # A short heartbeat, so that clients stuck mid-frame are dropped within the run (the steady
    # loadgen answers every ping): a ping, its timeout, then the WebSocket close handshake that the
    # transport waits up to 5 s for (websocketpp's close-handshake timeout), plus slack.
    ping_interval, ping_timeout = 3000, 3000
    heartbeat_s = (ping_interval + ping_timeout) / 1000.0 + 5 + 3
    srv = start_bench_server(tools, "garbage", extra_env={"PING_INTERVAL": str(ping_interval),
                                                          "PING_TIMEOUT": str(ping_timeout)})
    sampler = RssSampler([srv])
    sampler.start()
    garbage_s = a.garbage_seconds
    # Covers the garbage phase, its last cases' close waits, and the new clients afterwards.
    steady_s = 2 + garbage_s + heartbeat_s + 3 + 8
    fan = start_loadgen(tools, "steady", "fanout", srv.port, [
        "--clients", 300, "--mode", "rate", "--rate", 50, "--duration", steady_s, "--drain", 10,
        "--connect-timeout", 60])
    if not checks.check(fan.wait_text("@phase connected", 70), "steady clients never all connected: " + fan.tail()):
        return
    time.sleep(2)
    rss_base = srv.rss_kb()
    fds_base = srv.fd_count()
    sampler.mark()
    t0 = time.monotonic()
    stats = asyncio.run(garbage_storm(srv.port, a.garbage_clients, garbage_s, a.seed, heartbeat_s))
    garbage_took = time.monotonic() - t0
    rss_peak = sampler.window().get(srv.label, 0)
    alive_after_garbage = srv.alive()
    # Every garbage connection ended (aborted by us or closed by the server): all released.
    fds_after = srv.wait_fds_at_most(fds_base + 5, 10)
    rss_after = srv.rss_kb()
    # New clients are still accepted (while the steady broadcast is still running).
    new = start_loadgen(tools, "new-clients", "storm", srv.port, ["--clients", 500, "--duration", 30])
    nres, nerr = loadgen_result(new, 80)
    t_new_done = time.monotonic()
    fres, ferr = loadgen_result(fan, steady_s + 100)
    steady_end = fan.t_spawn + (phase_time(fan, "measure_end") or 0)
    sampler.stop()
    runs = sum(s["runs"] for s in stats.values())
    log = srv.read_err()
    checks.note("garbage", {"clients_at_once": a.garbage_clients, "seconds": round(garbage_took, 1),
                            "connections": runs, "seed": a.seed, "by_case": stats})
    checks.note("steady", fanout_summary(fres))
    checks.note("server_rss_kb", {"baseline": rss_base, "peak_during_garbage": rss_peak, "after": rss_after})
    checks.note("new_clients_after", nres and nres["connect"])
    checks.note("server_log_lines", {"total": log.count("\n"), "warn": log.count("[warn]"), "error": log.count("[error]")})
    checks.note("server_fds", {"before_garbage": fds_base, "after_garbage": fds_after})
    checks.check(alive_after_garbage, "the server died under garbage: " + srv.tail())
    checks.check(fds_after is not None and fds_after <= fds_base + 5,
                 "the server still holds %s descriptors 10 s after the garbage (%d before)" % (fds_after, fds_base))
    checks.check(runs >= a.garbage_clients, "only %d garbage connections were made" % runs)
    checks.check(len(stats) == len(garbage_cases(random.Random(0), 0)),
                 "only %d garbage cases ran: %s" % (len(stats), sorted(stats)))
    checks.check(rss_base and rss_peak - rss_base <= a.rss_limit_mb * 1024,
                 "server RSS grew by %s KiB under garbage (limit %d MiB)" % (rss_peak - (rss_base or 0), a.rss_limit_mb))
    for name, st in sorted(stats.items()):
        checks.check(st["errors"] == 0 and st["refused_upgrade"] == 0,
                     "%s: %d connections failed before the garbage was sent (%s), %d upgrades refused"
                     % (name, st["errors"], st.get("error_kinds"), st["refused_upgrade"]))
        if st["must_close_within_s"] is not None:
            checks.check(st["still_open"] == 0,
                         "%s: the server kept %d of %d connections open more than %.0f s"
                         % (name, st["still_open"], st["runs"], st["must_close_within_s"]))
    check_storm(checks, "new clients after the garbage", nres, nerr, 500)
    check_fanout(checks, "steady broadcast during the garbage", fres, ferr, 300)
    checks.check(t_new_done < steady_end, "the steady broadcast ended %.1f s before the garbage phase and the new "
                 "clients did: the run proves less than it should" % (t_new_done - steady_end))
    stop_server(checks, srv)


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", choices=["storm", "redis", "instance-kill", "garbage"])
    ap.add_argument("--bench-server", default=os.environ.get("BENCH_SERVER"))
    ap.add_argument("--loadgen", default=os.environ.get("LOADGEN"))
    ap.add_argument("--node", default=os.environ.get("NODE") or shutil.which("node"))
    ap.add_argument("--redis-server", default=os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
                    or "/usr/bin/redis-server")
    ap.add_argument("--work-dir", default=None, help="logs of every process (default: a new temporary directory)")
    ap.add_argument("--storm-clients", type=int, default=10000)
    ap.add_argument("--storm-deadline", type=float, default=25.0, help="seconds for every storm connect")
    ap.add_argument("--steady-clients", type=int, default=1000)
    ap.add_argument("--observers", type=int, default=50, help="socket.io-client connections per other instance")
    ap.add_argument("--outage", type=float, default=2.0, help="seconds Redis stays dead")
    ap.add_argument("--resume-limit", type=float, default=1.0,
                    help="seconds after Redis is back within which cross-instance delivery must resume")
    ap.add_argument("--garbage-clients", type=int, default=100)
    ap.add_argument("--garbage-seconds", type=float, default=10.0)
    ap.add_argument("--rss-limit-mb", type=int, default=64, help="server RSS growth allowed under garbage")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("CHAOS_SEED", "8")))
    args = ap.parse_args()
    needed = [("--bench-server", args.bench_server), ("--loadgen", args.loadgen)]
    if args.scenario in ("redis", "instance-kill"):
        needed += [("--node", args.node), ("--redis-server", args.redis_server)]
    for flag, path in needed:
        if not path or not os.access(path, os.X_OK):
            print("FAIL: %s: not an executable: %r" % (flag, path), flush=True)
            return 1
    work = args.work_dir or tempfile.mkdtemp(prefix="courier-chaos-%s-" % args.scenario)
    if args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
    reg = Registry(work)
    tools = Tools(args, reg)
    checks = Checks()

    def on_signal(signum, _frame):
        reg.cleanup()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t0 = time.monotonic()
    try:
        {"storm": scenario_storm, "redis": scenario_redis, "instance-kill": scenario_instance_kill,
         "garbage": scenario_garbage}[args.scenario](tools, checks)
    except Exception as e:  # a broken part is a failure of the test, with its logs
        import traceback
        traceback.print_exc()
        checks.check(False, "%s: %s" % (type(e).__name__, e))
    finally:
        reg.cleanup()
    checks.note("wall_s", round(time.monotonic() - t0, 1))
    print("measured: " + json.dumps(checks.measured, sort_keys=True), flush=True)
    print("logs: " + work, flush=True)
    if checks.failures:
        for p in reg.procs:
            if p.label.startswith("server-"):
                print("---- %s (pid %d) stderr tail:\n%s" % (p.label, p.pid, p.read_err()[-3000:]), flush=True)
        print("%d check(s) failed" % len(checks.failures), flush=True)
        return 1
    print("all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
