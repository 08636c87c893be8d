#!/usr/bin/python3
"""Benchmark harness of courier (issue 5): runs each scenario against courier's bench_server, the
Node reference (socket.io 4.8) and the raw-limit server, alternating over several rounds, and prints
medians and the courier/Node ratio.

  bench/run.py --smoke                 # every scenario once at a tiny size (CI); exit 1 on any failure
  bench/run.py                         # full run (see docs/performance.md for the duration)
  bench/run.py --cases fanout --rounds 5 --servers courier,node,raw
  bench/run.py --report bench/results/full-XXXX.json [--write-docs]   # table (+ plot) again

Each run: the server starts pinned with `taskset -c 0` (PORT set), is ready when `ss` shows it in
LISTEN, the load generator runs with `taskset -c 1`, the server's VmRSS and CPU time come from
/proc/PID at the load generator's "@phase" markers, then SIGTERM (SIGKILL after 10 s).

Cluster cases (fanout-cluster-*, BENCH-CONTRACT.md section 6): each run starts its own
redis-server on a free loopback port, then two instances of the server on PORT and PORT+1 with
REDIS_URL set; all three share the server's core (core 0), so a cluster gets the same one core a
single server gets, and the load generator keeps core 1. The run starts when both instances
LISTEN and Redis counts both instances' subscriptions; receivers go round-robin over the two
ports, the publisher to the first. CPU and RSS figures are the two instances' sums; Redis is
reported apart. Everything is stopped by PID at the end of the run, also when it fails.
Results: bench/results/<mode>-<time>.json (gitignored). Python standard library only.
"""

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
NODE_REF = BENCH / "node_reference"
DOC = ROOT / "docs" / "performance.md"
DOC_PLOT = ROOT / "docs" / "performance-fanout-latency.png"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

ALL_SERVERS = ["courier", "node", "raw"]
CLUSTER_SERVERS = ["courier", "node"]  # the raw-limit server has no cluster mode
SERVER_LABEL = {"courier": "courier", "node": "Node socket.io 4.8", "raw": "raw limit"}


# ------------------------------------------------------------------------------------------------
# Cases


class Case:
    def __init__(self, name, scenario, args, servers=None, env=None, expect_s=10.0, title="", instances=1):
        self.name = name
        self.instances = instances  # > 1: a cluster of that many servers and one Redis
        self.scenario = scenario
        self.args = [str(a) for a in args]
        self.servers = servers or ALL_SERVERS
        self.env = env or {}
        self.expect_s = expect_s  # rough wall time of one run, for the estimate
        self.title = title or name


def full_cases(fanout_dps):
    """The full matrix of issue 5. fanout_dps: deliveries per second of the fixed-rate fan-out."""
    ws = ["courier", "node", "raw"]
    cases = []
    for n in (1000, 10000):
        cases.append(Case(f"storm-{n // 1000}k", "storm", ["--clients", n, "--duration", 60],
                          ws, expect_s=8 if n < 5000 else 25, title=f"storm, {n} clients at once"))
    for n in (10000, 19000):
        # default heartbeat (25 s / 20 s): held 80 s = three ping intervals
        cases.append(Case(f"idle-{n // 1000}k", "idle", ["--clients", n, "--hold", 80], ws,
                          expect_s=95, title=f"idle, {n} WebSocket connections held 80 s"))
    for n in (1000, 10000):
        cases.append(Case(f"fanout-{n // 1000}k-sat", "fanout",
                          ["--clients", n, "--mode", "sat", "--window", 8, "--duration", 10, "--warmup", 2],
                          ws, expect_s=18, title=f"fan-out to {n}, saturation (8 broadcasts in flight)"))
    for n in (1000, 10000):
        rate = fanout_dps / n
        cases.append(Case(f"fanout-{n // 1000}k-rate", "fanout",
                          ["--clients", n, "--mode", "rate", "--rate", f"{rate:g}", "--duration", 10, "--warmup", 2],
                          ws, expect_s=18, title=f"fan-out to {n} at {rate:g} broadcasts/s ({fanout_dps:g} deliveries/s)"))
    # issue 6: the same fan-out over two instances and one Redis (publisher on the first instance)
    n = 1000
    cases.append(Case("fanout-cluster-1k-sat", "fanout",
                      ["--clients", n, "--mode", "sat", "--window", 8, "--duration", 10, "--warmup", 2],
                      CLUSTER_SERVERS, expect_s=20, instances=2,
                      title=f"cluster fan-out to {n} over 2 instances, saturation (8 broadcasts in flight)"))
    rate = fanout_dps / n
    cases.append(Case("fanout-cluster-1k-rate", "fanout",
                      ["--clients", n, "--mode", "rate", "--rate", f"{rate:g}", "--duration", 10, "--warmup", 2],
                      CLUSTER_SERVERS, expect_s=20, instances=2,
                      title=f"cluster fan-out to {n} over 2 instances at {rate:g} broadcasts/s ({fanout_dps:g} deliveries/s)"))
    for n in (100, 1000):
        for k in (1, 8):
            cases.append(Case(f"echo-{n}-k{k}", "echo",
                              ["--clients", n, "--inflight", k, "--duration", 10, "--warmup", 2], ws,
                              expect_s=14, title=f"echo, {n} clients, {k} in flight"))
    cases.append(Case("polling-1k", "polling", ["--clients", 1000, "--rate", 10, "--duration", 10, "--warmup", 2],
                      ["courier", "node"], expect_s=16, title="long-polling, 1000 clients, 10 broadcasts/s"))
    return cases


def smoke_cases():
    """Every scenario once at a tiny size; a fast heartbeat so that pings are exercised too."""
    hb = {"PING_INTERVAL": "500", "PING_TIMEOUT": "1000"}
    ws = ["courier", "node", "raw"]
    return [
        Case("storm", "storm", ["--clients", 20, "--duration", 10], ws, hb, 1.5),
        Case("idle", "idle", ["--clients", 20, "--hold", 1.2], ws, hb, 2.5),
        # clients that never answer a ping must be dropped (pingInterval + pingTimeout = 1.5 s);
        # the raw-limit server does not enforce pong timeouts
        Case("idle-nopong", "idle", ["--clients", 20, "--hold", 2.5, "--no-pong"], ["courier", "node"], hb, 3),
        Case("fanout-sat", "fanout", ["--clients", 20, "--mode", "sat", "--duration", 1], ws, hb, 2),
        Case("fanout-rate", "fanout", ["--clients", 20, "--rate", 50, "--duration", 1], ws, hb, 2),
        Case("echo-k1", "echo", ["--clients", 20, "--inflight", 1, "--duration", 1], ws, hb, 2),
        Case("echo-k8", "echo", ["--clients", 20, "--inflight", 8, "--duration", 1], ws, hb, 2),
        Case("polling", "polling", ["--clients", 20, "--rate", 20, "--duration", 1.5], ["courier", "node"], hb, 2.5),
        Case("fanout-cluster-sat", "fanout", ["--clients", 20, "--mode", "sat", "--duration", 1], CLUSTER_SERVERS, hb, 3,
             instances=2),
        Case("fanout-cluster-rate", "fanout", ["--clients", 20, "--rate", 50, "--duration", 1], CLUSTER_SERVERS, hb, 3,
             instances=2),
    ]


# ------------------------------------------------------------------------------------------------
# Processes and /proc


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def proc_sample(pid):
    """(rss_kb, hwm_kb, cpu_s, threads) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2:].split()
        utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
        rss_kb = hwm_kb = 0
        threads = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss_kb = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm_kb = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        return {"t": time.monotonic(), "rss_kb": rss_kb, "hwm_kb": hwm_kb,
                "cpu_s": (utime + stime) / CLK_TCK, "threads": threads, "cores": core_ticks()}
    except (OSError, ValueError, IndexError):
        return None


def group_sample(pids):
    """proc_sample of several processes (a cluster's instances): CPU, RSS and threads summed; the
    parts under "parts". None if any of them is gone."""
    parts = [proc_sample(p) for p in pids]
    if any(x is None for x in parts):
        return None
    if len(parts) == 1:
        return parts[0]
    out = {"t": parts[0]["t"], "cores": parts[0]["cores"], "parts": parts}
    for k in ("rss_kb", "hwm_kb", "cpu_s", "threads"):
        out[k] = sum(x[k] for x in parts)
    return out


def core_ticks():
    """{core: (busy, total)} jiffies from /proc/stat: shows whether anything else ran on the pinned cores."""
    out = {}
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("cpu") and line[3].isdigit():
                    v = [int(x) for x in line.split()[1:9]]
                    out[line.split()[0][3:]] = (sum(v) - v[3] - v[4], sum(v))
    except OSError:
        pass
    return out


def core_busy(a, b, core):
    """Fraction of a core that was busy (any process, irq, softirq) between two samples."""
    if core is None:
        return None
    ka, kb = a.get("cores", {}).get(str(core)), b.get("cores", {}).get(str(core))
    if not ka or not kb or kb[1] <= ka[1]:
        return None
    return (kb[0] - ka[0]) / (kb[1] - ka[1])


def listening(port):
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    return any("LISTEN" in line for line in out.splitlines())


def listener_pids(port):
    """PIDs owning a LISTEN socket on the port (ss -p; empty when ss may not show them)."""
    out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
    return {int(p) for p in re.findall(r"pid=(\d+)", out)}


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Server:
    def __init__(self, kind, cmd, port, env, log_path, cpu):
        self.kind = kind
        self.port = port
        full_env = dict(os.environ)
        full_env.update({"PORT": str(port), "MAX_LIFETIME_S": "900"})
        full_env.update(env)
        self.log_file = open(log_path, "w")
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
        # taskset execs the server: the PID started here is the process measured.
        self.proc = subprocess.Popen(pin + [str(c) for c in cmd], env=full_env, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=subprocess.STDOUT, preexec_fn=raise_nofile,
                                     cwd=str(ROOT))
        self.pid = self.proc.pid

    def wait_listen(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if listening(self.port):
                # On a shared machine another harness may use the same port: the listener must be
                # the process started here (when ss can tell), or the run would measure a stranger.
                owners = listener_pids(self.port)
                if not owners or self.pid in owners:
                    return True
            time.sleep(0.05)
        return False

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM, SIGKILL after 10 s. Returns (seconds to exit, killed, exit code)."""
        t0 = time.monotonic()
        killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                killed = True
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        return time.monotonic() - t0, killed, self.proc.returncode


def run_loadgen(cmd, sample, timeout_s, log_path):
    """Runs the load generator; calls sample() at each "@phase" marker. Returns (result, phases, exit code)."""
    phases = {}
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=str(ROOT), preexec_fn=raise_nofile)
    lines = []

    def read_stderr():
        for line in proc.stderr:
            if line.startswith("@phase "):
                parts = line.split()
                snap = sample()
                if snap is not None and len(parts) >= 2:
                    phases[parts[1]] = snap
            lines.append(line)

    outbuf = []

    def read_stdout():
        outbuf.append(proc.stdout.read())

    readers = [threading.Thread(target=read_stderr, daemon=True), threading.Thread(target=read_stdout, daemon=True)]
    for t in readers:
        t.start()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()  # the load generator we started, by its PID
        proc.wait()
        lines.append(f"run.py: load generator killed after {timeout_s:.0f} s\n")
    for t in readers:
        t.join(timeout=10)
    out = "".join(outbuf)
    with open(log_path, "w") as f:
        f.write(" ".join(cmd) + "\n")
        f.writelines(lines)
        f.write(out or "")
    result = None
    for line in reversed((out or "").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                result = json.loads(line)
            except ValueError:
                pass
            break
    return result, phases, proc.returncode


# ------------------------------------------------------------------------------------------------
# One run and its derived figures


WINDOWS = {"storm": ("connect_start", "connected"), "idle": ("connected", "hold_end"),
           "fanout": ("measure_start", "measure_end"), "polling": ("measure_start", "measure_end"),
           "echo": ("measure_start", "measure_end")}


def derive(case, res, phases, base, cores=(None, None)):
    """Figures that combine the load generator's counts with the server's /proc samples."""
    d = {}
    if res is None:
        return d
    ph = phases

    def window(a, b):
        if a in ph and b in ph:
            return ph[b]["cpu_s"] - ph[a]["cpu_s"], ph[b]["t"] - ph[a]["t"]
        return None, None

    if base is not None and "done" in ph:
        d["server_cpu_s_run"] = ph["done"]["cpu_s"] - base["cpu_s"]
    sc = case.scenario
    if sc == "storm":
        c = res["connect"]
        d["success_rate"] = c["success_rate"]
        d["all_connected_s"] = c["all_connected_s"]
        d["connect_p50_ms"] = c["latency"]["p50_ms"]
        d["connect_p99_ms"] = c["latency"]["p99_ms"]
        d["failures"] = sum(c["failures"].values())
        cpu, wall = window("connect_start", "connected")
        if cpu is not None:
            d["server_cpu_s"] = cpu
            d["server_cpu_util"] = cpu / wall if wall > 0 else None
        if "connected" in ph:
            d["server_rss_mb"] = ph["connected"]["rss_kb"] / 1024
    elif sc == "idle":
        i = res.get("idle", {})
        n = res["connect"]["connected"]
        d["connected"] = n
        d["alive_at_end"] = i.get("alive_at_end")
        d["min_pings_per_conn"] = i.get("min_pings_per_conn")
        if i.get("no_pong"):
            d["dropped_after_s"] = i.get("all_dropped_after_s")
        if base is not None and "hold_end" in ph and n:
            d["rss_per_conn_kb"] = (ph["hold_end"]["rss_kb"] - base["rss_kb"]) / n
            d["server_rss_mb"] = ph["hold_end"]["rss_kb"] / 1024
        if "connected" in ph and "hold_end" in ph and n:
            d["rss_growth_during_hold_kb"] = ph["hold_end"]["rss_kb"] - ph["connected"]["rss_kb"]
        cpu, wall = window("connected", "hold_end")
        if cpu is not None:
            d["server_cpu_util_idle"] = cpu / wall if wall > 0 else None
    elif sc in ("fanout", "polling"):
        f = res.get(sc, {})
        d["deliveries_per_s"] = f.get("deliveries_per_s")
        d["broadcasts_per_s"] = f.get("broadcasts_per_s")
        lat = f.get("latency", {})
        d["latency_p50_ms"] = lat.get("p50_ms")
        d["latency_p99_ms"] = lat.get("p99_ms")
        d["latency_max_ms"] = lat.get("max_ms")
        d["lost"] = f.get("lost")
        d["out_of_order"] = f.get("out_of_order")
        d["duplicates"] = f.get("duplicates")
        cpu, wall = window("measure_start", "measure_end")
        if cpu is not None and f.get("window_deliveries"):
            d["server_cpu_util"] = cpu / wall if wall > 0 else None
            d["server_cpu_us_per_delivery"] = cpu / f["window_deliveries"] * 1e6
        if "measure_end" in ph:
            d["server_rss_mb"] = ph["measure_end"]["rss_kb"] / 1024
        ra, rb = ph.get("measure_start", {}).get("redis"), ph.get("measure_end", {}).get("redis")
        if ra and rb and rb["t"] > ra["t"]:  # a cluster: Redis is part of the work per delivery
            rcpu = rb["cpu_s"] - ra["cpu_s"]
            d["redis_cpu_util"] = rcpu / (rb["t"] - ra["t"])
            if cpu is not None and f.get("window_deliveries"):
                d["cluster_cpu_us_per_delivery"] = (cpu + rcpu) / f["window_deliveries"] * 1e6
                # throughput per core actually used: on a shared machine the servers get a varying
                # share of core 0, so this compares the two clusters better than msgs/s does
                if cpu + rcpu > 0:
                    d["deliveries_per_cpu_s"] = f["window_deliveries"] / (cpu + rcpu)
        by_port = f.get("delivered_by_port")
        if by_port and len(by_port) > 1 and f.get("delivered"):
            # share of the deliveries made by the instance the publisher is not connected to
            d["remote_share"] = sum(list(by_port.values())[1:]) / f["delivered"]
    elif sc == "echo":
        e = res.get("echo", {})
        d["acks_per_s"] = e.get("acks_per_s")
        d["rtt_p50_ms"] = e.get("rtt", {}).get("p50_ms")
        d["rtt_p99_ms"] = e.get("rtt", {}).get("p99_ms")
        cpu, wall = window("measure_start", "measure_end")
        if cpu is not None and e.get("window_acks"):
            d["server_cpu_util"] = cpu / wall if wall > 0 else None
            d["server_cpu_us_per_ack"] = cpu / e["window_acks"] * 1e6
    lg = res.get("loadgen", {})
    d["loadgen_cpu_util"] = lg.get("cpu_util")
    a, b = WINDOWS[sc]
    if a in ph and b in ph:
        # Busy share of the two pinned cores in the measured window, whoever used them: far above
        # the server's own CPU share means another process (or softirq work) shared its core.
        d["server_core_busy"] = core_busy(ph[a], ph[b], cores[0])
        d["loadgen_core_busy"] = core_busy(ph[a], ph[b], cores[1])
    return d


def free_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def redis_command(port, *words, timeout=2.0):
    """One command over a raw RESP connection; the reply as int / str / list (None on error)."""
    import socket
    req = f"*{len(words)}\r\n" + "".join(f"${len(w.encode())}\r\n{w}\r\n" for w in words)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as so:
        so.sendall(req.encode())
        f = so.makefile("rb")

        def parse():
            line = f.readline().decode().rstrip("\r\n")
            t, v = line[:1], line[1:]
            if t == "+":
                return v
            if t == ":":
                return int(v)
            if t == "$":
                return None if int(v) < 0 else f.read(int(v) + 2)[:-2].decode()
            if t == "*":
                return [parse() for _ in range(int(v))]
            return None  # "-" error, or nothing
        return parse()


def wait_cluster_ready(redis_port, instances, timeout=20.0):
    """True once Redis counts a subscription of every instance: the request channel (SUBSCRIBE) and
    the broadcast pattern (PSUBSCRIBE) of "/", as @socket.io/redis-adapter and courier's adapter
    use them. Before that a broadcast could miss an instance."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            numsub = redis_command(redis_port, "PUBSUB", "NUMSUB", "socket.io-request#/#")
            # PUBSUB NUMPAT counts distinct patterns, not subscribers: count the clients with a
            # pattern subscription instead (one subscriber connection per instance)
            clients = redis_command(redis_port, "CLIENT", "LIST")
            psub = len(re.findall(r"\bpsub=[1-9]", clients)) if isinstance(clients, str) else 0
            if isinstance(numsub, list) and len(numsub) == 2 and numsub[1] >= instances and psub >= instances:
                return True
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    return False


def wait_port_free(port):
    for _ in range(100):  # a previous server of ours may still be closing
        if not listening(port):
            return True
        time.sleep(0.1)
    return False


def one_run_cluster(args, case, kind, rnd, paths, port, logdir):
    """A cluster run (contract section 6): own redis-server, case.instances servers on port, port+1, ...
    Everything started here is stopped here by PID (SIGTERM, then SIGKILL), whatever happens."""
    tag = f"{case.name}.{kind}.r{rnd}"
    rec = {"case": case.name, "scenario": case.scenario, "server": kind, "round": rnd, "ok": False, "problems": [],
           "instances": case.instances}
    ports = [port + i for i in range(case.instances)]
    for p in ports:
        if not wait_port_free(p):
            rec["problems"].append(f"port {p} is in use by another process")
            return rec
    redis_bin = shutil.which("redis-server")
    if not redis_bin:
        rec["problems"].append("redis-server not found (apt-get install redis-server)")
        return rec
    started = []  # stopped in reverse order in the finally block
    try:
        rport = free_port()
        redis = Server("redis", [redis_bin, "--port", rport, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--protected-mode", "no", "--daemonize", "no", "--dir", str(logdir)],
                       rport, {}, logdir / f"{tag}.redis.log", args.server_cpu)
        started.append(redis)
        rec["redis_port"] = rport
        if not redis.wait_listen():
            rec["problems"].append("redis-server did not reach LISTEN within 20 s (see its log)")
            return rec
        env = dict(case.env)
        env["REDIS_URL"] = f"redis://127.0.0.1:{rport}"
        srvs = []
        for i, p in enumerate(ports):
            srv = Server(kind, server_cmd(kind, paths), p, env, logdir / f"{tag}.server{i}.log", args.server_cpu)
            started.append(srv)
            srvs.append(srv)
        for srv in srvs:
            if not srv.wait_listen():
                rec["problems"].append(f"server on port {srv.port} did not reach LISTEN within 20 s (see its log)")
                return rec
        if not wait_cluster_ready(rport, case.instances):
            rec["problems"].append(f"Redis did not count {case.instances} subscribed instances within 20 s")
            return rec
        time.sleep(0.3)
        pids = [x.pid for x in srvs]

        def sample():
            snap = group_sample(pids)
            if snap is not None:
                snap["redis"] = proc_sample(redis.pid)
            return snap

        base = sample()
        lg = (["taskset", "-c", str(args.loadgen_cpu)] if args.loadgen_cpu is not None else []) + [
            str(paths["loadgen"]), "--scenario", case.scenario, "--ports", ",".join(str(p) for p in ports)] + case.args
        res, phases, rc = run_loadgen(lg, sample, timeout_s=case.expect_s * 3 + 120,
                                      log_path=logdir / f"{tag}.loadgen.log")
        after = sample()
        rec["loadgen"] = res
        rec["loadgen_exit"] = rc
        rec["server_samples"] = {"baseline": base, "after": after, **phases}
        if res is None:
            rec["problems"].append(f"load generator printed no result (exit {rc})")
        elif not res.get("ok"):
            rec["problems"].append("load generator checks failed: " + "; ".join(res.get("errors", [])))
        for srv in srvs:
            if not srv.alive():
                rec["problems"].append(f"server on port {srv.port} exited during the run (code {srv.proc.returncode})")
        if not redis.alive():
            rec["problems"].append(f"redis-server exited during the run (code {redis.proc.returncode})")
        rec["derived"] = derive(case, res, phases, base, (args.server_cpu, args.loadgen_cpu))
    finally:
        stops = []
        for srv in reversed(started):
            stop_s, killed, code = srv.stop()
            stops.append({"what": srv.kind if srv.kind == "redis" else f"{srv.kind}:{srv.port}",
                          "stop_s": round(stop_s, 3), "killed": killed, "exit": code})
            if killed:
                rec["problems"].append(f"{stops[-1]['what']} did not exit within 10 s of SIGTERM (SIGKILLed)")
        rec["stops"] = stops
        srv_stops = [x for x in stops if x["what"] != "redis"]
        rec["server_stop_s"] = max((x["stop_s"] for x in srv_stops), default=None)
        rec["server_killed"] = any(x["killed"] for x in srv_stops)
    rec["ok"] = not rec["problems"]
    return rec


def one_run(args, case, kind, rnd, paths, port, logdir):
    if case.instances > 1:
        return one_run_cluster(args, case, kind, rnd, paths, port, logdir)
    cmd = server_cmd(kind, paths)
    env = dict(case.env)
    tag = f"{case.name}.{kind}.r{rnd}"
    rec = {"case": case.name, "scenario": case.scenario, "server": kind, "round": rnd, "ok": False, "problems": []}
    if listening(port):
        for _ in range(100):  # a previous server of ours may still be closing
            time.sleep(0.1)
            if not listening(port):
                break
        else:
            rec["problems"].append(f"port {port} is in use by another process")
            return rec
    srv = Server(kind, cmd, port, env, logdir / f"{tag}.server.log", args.server_cpu)
    try:
        if not srv.wait_listen():
            rec["problems"].append("server did not reach LISTEN within 20 s (see its log)")
            return rec
        time.sleep(0.3)
        base = proc_sample(srv.pid)
        lg = (["taskset", "-c", str(args.loadgen_cpu)] if args.loadgen_cpu is not None else []) + [
            str(paths["loadgen"]), "--scenario", case.scenario, "--port", str(port)] + case.args
        res, phases, rc = run_loadgen(lg, lambda: proc_sample(srv.pid), timeout_s=case.expect_s * 3 + 120,
                                      log_path=logdir / f"{tag}.loadgen.log")
        after = proc_sample(srv.pid)
        rec["loadgen"] = res
        rec["loadgen_exit"] = rc
        rec["server_samples"] = {"baseline": base, "after": after, **phases}
        if res is None:
            rec["problems"].append(f"load generator printed no result (exit {rc})")
        elif not res.get("ok"):
            rec["problems"].append("load generator checks failed: " + "; ".join(res.get("errors", [])))
        if not srv.alive():
            rec["problems"].append(f"server exited during the run (code {srv.proc.returncode})")
        rec["derived"] = derive(case, res, phases, base, (args.server_cpu, args.loadgen_cpu))
    finally:
        stop_s, killed, code = srv.stop()
        rec["server_stop_s"] = round(stop_s, 3)
        rec["server_killed"] = killed
        rec["server_exit"] = code
        if killed:
            rec["problems"].append("server did not exit within 10 s of SIGTERM (SIGKILLed)")
    rec["ok"] = not rec["problems"]
    return rec


# ------------------------------------------------------------------------------------------------
# Setup


def server_cmd(kind, paths):
    if kind == "courier":
        return [paths["bench_server"]]
    if kind == "raw":
        return [paths["rawserver"]]
    return ["node", NODE_REF / "server.js"]


def ensure_built(build_dir, force, courier_bin=None):
    b = Path(build_dir)
    if not b.is_absolute():
        b = ROOT / b
    paths = {
        "loadgen": b / "bench" / "courier_loadgen",
        "rawserver": b / "bench" / "courier_rawserver",
        "bench_server": Path(courier_bin).resolve() if courier_bin else b / "examples" / "bench_server" / "bench_server",
    }
    if force or not all(p.exists() for p in paths.values()):
        if not (b / "CMakeCache.txt").exists():
            log(f"run.py: configuring {b} (Release)")
            subprocess.run(["cmake", "-S", str(ROOT), "-B", str(b), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"],
                           check=True, stdout=subprocess.DEVNULL)
        log(f"run.py: building the bench targets in {b}")
        subprocess.run(["cmake", "--build", str(b), "--target", "courier_loadgen", "courier_rawserver", "bench_server"],
                       check=True)
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        sys.exit("run.py: missing " + ", ".join(missing))
    return paths


def ensure_node():
    if all((NODE_REF / "node_modules" / pkg / "package.json").exists()
           for pkg in ("socket.io", "@socket.io/redis-adapter", "redis")):
        return
    log("run.py: installing the Node reference (npm ci)")
    subprocess.run(["npm", "ci", "--prefix", str(NODE_REF), "--no-audit", "--no-fund", "--loglevel=error"], check=True)


def loadavg():
    """The 1, 5 and 15 minute load averages (strings, as /proc/loadavg has them), or None."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[:3]
    except OSError:
        return None


def machine_info(build_dir):
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
        "os": "", "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
        "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        if shutil.which("node") else None,
        "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1),
    }
    try:
        with open("/etc/os-release") as f:
            m = re.search(r'^PRETTY_NAME="?([^"\n]*)', f.read(), re.M)
            info["os"] = m.group(1) if m else ""
    except OSError:
        pass
    for k in ("net.core.somaxconn", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_max_syn_backlog"):
        try:
            with open("/proc/sys/" + k.replace(".", "/")) as f:
                info[k] = " ".join(f.read().split())
        except OSError:
            pass
    try:
        with open(Path(build_dir) / "CMakeCache.txt") as f:
            m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$", f.read(), re.M)
            info["courier_build_type"] = m.group(1) if m else ""
    except OSError:
        pass
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    info["git"] = rev.stdout.strip()
    info["loadavg_at_start"] = loadavg()
    return info


# ------------------------------------------------------------------------------------------------
# Summary

METRICS = {
    "storm": [("success_rate", "success", "{:.2%}"), ("all_connected_s", "all connected (s)", "{:.2f}"),
              ("connect_p50_ms", "connect p50 (ms)", "{:.1f}"), ("connect_p99_ms", "connect p99 (ms)", "{:.1f}"),
              ("failures", "failures", "{:.0f}"), ("server_cpu_util", "server CPU", "{:.0%}"),
              ("server_core_busy", "core 0 busy", "{:.0%}"), ("loadgen_cpu_util", "loadgen CPU", "{:.0%}")],
    "idle": [("rss_per_conn_kb", "RSS per conn (KiB)", "{:.2f}"), ("server_rss_mb", "RSS (MiB)", "{:.1f}"),
             ("alive_at_end", "alive at end", "{:.0f}"), ("min_pings_per_conn", "min pings answered", "{:.0f}"),
             ("server_cpu_util_idle", "server CPU", "{:.1%}"), ("dropped_after_s", "silent clients dropped after (s)", "{:.2f}")],
    "fanout": [("deliveries_per_s", "delivered msgs/s", "{:,.0f}"), ("latency_p50_ms", "p50 (ms)", "{:.2f}"),
               ("latency_p99_ms", "p99 (ms)", "{:.2f}"), ("latency_max_ms", "max (ms)", "{:.2f}"),
               ("lost", "lost", "{:.0f}"), ("out_of_order", "out of order", "{:.0f}"),
               ("server_cpu_us_per_delivery", "server CPU/delivery (µs)", "{:.3f}"), ("server_cpu_util", "server CPU", "{:.0%}"),
               ("server_core_busy", "core 0 busy", "{:.0%}"), ("loadgen_cpu_util", "loadgen CPU", "{:.0%}")],
    "echo": [("acks_per_s", "acks/s", "{:,.0f}"), ("rtt_p50_ms", "RTT p50 (ms)", "{:.3f}"), ("rtt_p99_ms", "RTT p99 (ms)", "{:.3f}"),
             ("server_cpu_us_per_ack", "server CPU/ack (µs)", "{:.2f}"), ("server_cpu_util", "server CPU", "{:.0%}"),
             ("server_core_busy", "core 0 busy", "{:.0%}"), ("loadgen_cpu_util", "loadgen CPU", "{:.0%}")],
}
METRICS["polling"] = METRICS["fanout"]
METRICS["fanout-cluster"] = METRICS["fanout"][:-3] + [
    ("redis_cpu_util", "Redis CPU", "{:.1%}"), ("cluster_cpu_us_per_delivery", "servers + Redis CPU/delivery (µs)", "{:.3f}"),
    ("deliveries_per_cpu_s", "delivered per CPU-second (servers + Redis)", "{:,.0f}"),
    ("remote_share", "delivered via Redis", "{:.0%}")] + METRICS["fanout"][-2:]
SCENARIO_TITLE = {"storm": "Storm (N clients connect at once)", "idle": "Idle connections (memory)",
                  "fanout": "Fan-out (one publisher, one room)", "echo": "Echo (acked events)",
                  "polling": "Long-polling (broadcasts to polling clients)",
                  "fanout-cluster": "Cluster fan-out (two instances and one Redis on core 0, one publisher, one room; "
                                    "server CPU = both instances)"}


def group_of(c):
    """Table a case goes into: its scenario, or "<scenario>-cluster" for a cluster case."""
    return c["scenario"] + ("-cluster" if c.get("instances", 1) > 1 else "")


def medians(runs):
    """{case: {server: {metric: median}}} over the runs that produced figures."""
    out = {}
    for r in runs:
        if not r.get("derived"):
            continue
        for k, v in r["derived"].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.setdefault(r["case"], {}).setdefault(r["server"], {}).setdefault(k, []).append(v)
    return {c: {s: {k: statistics.median(v) for k, v in m.items()} for s, m in sv.items()} for c, sv in out.items()}


def fmt(v, f):
    if v is None:
        return "–"
    try:
        return f.format(v)
    except (ValueError, TypeError):
        return str(v)


def table(data, label="", placeholder=False):
    """Markdown: one table per scenario, a row per case and server (medians), then courier/Node."""
    runs = data["runs"]
    med = medians(runs)
    cases = data.get("cases", [])
    out = []
    flagged = False
    for sc in ("storm", "idle", "fanout", "fanout-cluster", "echo", "polling"):
        rows = [c for c in cases if group_of(c) == sc and (placeholder or c["name"] in med)]
        if not rows:
            continue
        metrics = METRICS[sc]
        if placeholder:
            metrics = [m for m in metrics if m[0] != "dropped_after_s"]  # a smoke-only check
        else:  # drop columns no run of this scenario has
            metrics = [m for m in metrics if any(med.get(c["name"], {}).get(s, {}).get(m[0]) is not None
                                                 for c in rows for s in ALL_SERVERS)]
        out.append(f"**{SCENARIO_TITLE[sc]}**\n")
        out.append("| case | server | " + " | ".join(m[1] for m in metrics) + " |")
        out.append("|" + " --- |" * (2 + len(metrics)))
        for c in rows:
            servers = [s for s in ALL_SERVERS if s in c.get("servers", ALL_SERVERS)] if placeholder else \
                [s for s in ALL_SERVERS if s in med.get(c["name"], {})]
            for s in servers:
                vals = ["pending" if placeholder else fmt(med[c["name"]][s].get(k), f) for k, _, f in metrics]
                mark = ""
                if not placeholder and sc != "idle" and (med[c["name"]][s].get("loadgen_core_busy") or 0) >= 0.9:
                    mark = " ‡"
                    flagged = True
                out.append(f"| {c['title']} | {SERVER_LABEL[s]}{mark} | " + " | ".join(vals) + " |")
            if "courier" in servers and "node" in servers:
                ratios = []
                for k, _, _ in metrics:
                    if placeholder:
                        ratios.append("pending")
                        continue
                    a, b = med[c["name"]]["courier"].get(k), med[c["name"]]["node"].get(k)
                    ratios.append(f"{a / b:.2f}" if a is not None and b not in (None, 0) else "–")
                out.append(f"| {c['title']} | *courier/Node* | " + " | ".join(ratios) + " |")
        out.append("")
    if placeholder:
        return "\n".join(out)
    rounds = {}
    for r in runs:
        rounds.setdefault((r["case"], r["server"]), []).append(r)
    nrounds = max((len(v) for v in rounds.values()), default=0)
    bad = [r for r in runs if not r["ok"]]
    foot = f"Medians of {nrounds} round(s) per server{label}."
    loads = [float(r["loadavg_before"][0]) for r in runs if r.get("loadavg_before")]
    if loads:
        foot += f" 1-minute load average before the runs: {min(loads):.1f} to {max(loads):.1f} (2 cores)."
    if flagged:
        foot += (" ‡: core 1 (the load generator's) was ≥ 90 % busy in the measured window: that figure is"
                 " bounded by the load generator (or by other load on the machine), the server may go faster.")
    if bad:
        foot += f" {len(bad)} run(s) failed a check: " + "; ".join(
            f"{r['case']}/{r['server']}/r{r['round']}: {' '.join(r['problems'])[:160]}" for r in bad[:6])
    return "\n".join(out) + "\n" + foot + "\n"


def plot(data, png):
    """gnuplot: fan-out latency (fixed rate) against room size, p50 and p99, per server."""
    med = medians(data["runs"])
    rows = {}
    for c in data.get("cases", []):
        a = c["args"]
        if c["scenario"] != "fanout" or c.get("instances", 1) > 1 or ("--mode" in a and a[a.index("--mode") + 1] != "rate"):
            continue
        n = int(c["args"][c["args"].index("--clients") + 1])
        for s, m in med.get(c["name"], {}).items():
            if m.get("latency_p50_ms") is not None:
                rows.setdefault(s, []).append((n, m["latency_p50_ms"], m["latency_p99_ms"], m.get("latency_max_ms")))
    if not rows:
        log("run.py: no fixed-rate fan-out results to plot")
        return False
    if not shutil.which("gnuplot"):
        log("run.py: gnuplot not found (apt-get install gnuplot-nox); no plot")
        return False
    colors = {"courier": "#1f77b4", "node": "#d62728", "raw": "#2ca02c"}
    xs = sorted({n for pts in rows.values() for n, *_ in pts})
    blocks, plots = [], []
    for s in ALL_SERVERS:
        if s not in rows:
            continue
        pts = sorted(rows[s])
        blocks.append(f"${s} << EOD\n" + "\n".join(f"{n} {p50} {p99}" for n, p50, p99, _ in pts) + "\nEOD\n")
        plots.append(f"${s} using 1:2 with linespoints lw 2 pt 7 lc rgb '{colors[s]}' title '{SERVER_LABEL[s]} p50'")
        plots.append(f"${s} using 1:3 with linespoints lw 2 pt 5 dt 2 lc rgb '{colors[s]}' title '{SERVER_LABEL[s]} p99'")
    mode = data.get("meta", {}).get("mode", "")
    title = "Fan-out latency at a fixed delivery rate vs room size" + (" (SMOKE, not figures)" if mode == "smoke" else "")
    script = (
        "set terminal pngcairo size 900,640 font 'DejaVu Sans,10'\n"
        f"set output '{png}'\n"
        f"set title \"{title}\"\n"
        "set xlabel 'room size (receivers)'\nset ylabel 'delivery latency (ms)'\n"
        "set logscale xy\nset grid\nset key below horizontal\n"
        + "set xtics (" + ", ".join(f'"{n:,}" {n}' for n in xs) + ")\n"
        + f"set xrange [{min(xs) / 1.6:g}:{max(xs) * 1.6:g}]\n"
        + "".join(blocks) + "plot " + ", \\\n     ".join(plots) + "\n")
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return True


def write_docs(data, tbl, png_ok):
    text = DOC.read_text()
    begin, end = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
    if begin not in text or end not in text:
        log(f"run.py: markers {begin} / {end} not found in {DOC}")
        return
    m = data.get("meta", {})
    mi = m.get("machine", {})
    block = (f"{begin}\n"
             f"Full run of {m.get('date', '?')} (git {mi.get('git', '?')}, courier built {mi.get('courier_build_type', '?')}, "
             f"{mi.get('cpu', '?')}, {mi.get('nproc', '?')} cores, kernel {mi.get('kernel', '?')}, Node {mi.get('node', '?')}; "
             f"results file `{m.get('file', '?')}`).\n\n" + tbl +
             (f"\n![fan-out latency against room size]({DOC_PLOT.name})\n" if png_ok else "") + f"{end}")
    text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    DOC.write_text(text)
    log(f"run.py: wrote the table into {DOC}")


# ------------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="every scenario once at a tiny size; exit 1 on any failure")
    ap.add_argument("--servers", help="comma-separated subset of courier,node,raw "
                    "(default: all; smoke: courier,raw)")
    ap.add_argument("--cases", help="comma-separated case names or prefixes (e.g. fanout,echo-100)")
    ap.add_argument("--rounds", type=int, help="rounds per case (default 3; smoke 1)")
    ap.add_argument("--port", type=int, default=3187,
                    help="port of the server under test (default 3187; a cluster case also uses the next port)")
    ap.add_argument("--build-dir", default="build", help="CMake build tree with the bench targets (default: build)")
    ap.add_argument("--build", action="store_true", help="run the (incremental) build of the bench targets first")
    ap.add_argument("--courier-bin", help="bench_server binary to measure (default: <build-dir>/examples/bench_server/bench_server)")
    ap.add_argument("--fanout-deliveries", type=float, default=50000,
                    help="deliveries/s of the fixed-rate fan-out cases (default 50000: 50/s to 1k, 5/s to 10k)")
    ap.add_argument("--server-cpu", default="0", help="core the server is pinned to ('none': no pinning)")
    ap.add_argument("--loadgen-cpu", default="1", help="core the load generator is pinned to ('none')")
    ap.add_argument("--out", help="results file (default bench/results/<mode>-<time>.json)")
    ap.add_argument("--report", metavar="RESULTS.json", help="print the table of a results file (no run)")
    ap.add_argument("--plot", metavar="PNG", help="also write the fan-out latency plot to PNG")
    ap.add_argument("--write-docs", action="store_true",
                    help=f"put the table into {DOC.relative_to(ROOT)} and the plot into {DOC_PLOT.relative_to(ROOT)}")
    ap.add_argument("--list", action="store_true", help="list the cases and the estimated duration")
    ap.add_argument("--placeholder-table", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    # SIGTERM ends the run like Ctrl-C: the finally blocks stop every process started so far.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.server_cpu = None if args.server_cpu == "none" else int(args.server_cpu)
    args.loadgen_cpu = None if args.loadgen_cpu == "none" else int(args.loadgen_cpu)

    if args.report:
        data = json.loads(Path(args.report).read_text())
        if args.write_docs and data.get("meta", {}).get("mode") == "smoke":
            sys.exit("run.py: a smoke run has no figures for the docs (use --plot PNG to look at it)")
        label = " (SMOKE: tiny sizes, not figures)" if data.get("meta", {}).get("mode") == "smoke" else ""
        tbl = table(data, label)
        print(tbl)
        png_ok = False
        if args.plot or args.write_docs:
            png_ok = plot(data, Path(args.plot) if args.plot else DOC_PLOT)
        if args.write_docs:
            write_docs(data, tbl, png_ok)
        return 0

    cases = smoke_cases() if args.smoke else full_cases(args.fanout_deliveries)
    if args.placeholder_table:  # the shape of the docs table before any full run
        print(table({"runs": [], "cases": [{"name": c.name, "scenario": c.scenario, "title": c.title,
                                            "servers": c.servers, "instances": c.instances} for c in cases]},
                    placeholder=True))
        return 0
    if args.cases:
        wanted = [w.strip() for w in args.cases.split(",") if w.strip()]
        cases = [c for c in cases if any(c.name == w or c.name.startswith(w) for w in wanted)]
        if not cases:
            sys.exit("run.py: no case matches --cases")
    servers = [s.strip() for s in (args.servers or ("courier,raw" if args.smoke else "courier,node,raw")).split(",")]
    for s in servers:
        if s not in ALL_SERVERS:
            sys.exit(f"run.py: unknown server {s}")
    rounds = args.rounds or (1 if args.smoke else 3)
    plan = [(c, [s for s in servers if s in c.servers]) for c in cases]
    est = sum((c.expect_s + 1.0) * len(ss) * rounds for c, ss in plan)
    if args.list:
        for c, ss in plan:
            print(f"{c.name:18} {c.scenario:8} {' '.join(c.args):70} {','.join(ss)}")
        print(f"estimated duration: {est / 60:.1f} min")
        return 0

    if not shutil.which("taskset") and (args.server_cpu is not None or args.loadgen_cpu is not None):
        sys.exit("run.py: taskset not found (util-linux)")
    if (os.cpu_count() or 1) < 2 and args.loadgen_cpu is not None:
        log("run.py: fewer than 2 cores: the load generator shares core 0 with the server")
        args.loadgen_cpu = 0
    paths = ensure_built(args.build_dir, args.build, args.courier_bin)
    if "node" in servers:
        ensure_node()
    mode = "smoke" if args.smoke else "full"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(args.out).resolve() if args.out else RESULTS / f"{mode}-{stamp}.json"
    logdir = RESULTS / "logs" / f"{mode}-{stamp}"
    logdir.mkdir(parents=True, exist_ok=True)
    meta = {"mode": mode, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_info(Path(args.build_dir) if Path(args.build_dir).is_absolute() else ROOT / args.build_dir),
            "courier_bin": str(paths["bench_server"]), "servers": servers, "rounds": rounds, "port": args.port, "argv": sys.argv[1:],
            "pinning": {"server": args.server_cpu, "loadgen": args.loadgen_cpu},
            "file": str(out.relative_to(ROOT)) if out.is_absolute() and ROOT in out.parents else str(out)}
    data = {"meta": meta, "cases": [{"name": c.name, "scenario": c.scenario, "args": c.args, "env": c.env,
                                     "title": c.title, "servers": [x for x in servers if x in c.servers],
                                     "instances": c.instances}
                                    for c in cases], "runs": []}
    log(f"run.py: {mode} run, {len(cases)} case(s) x {servers} x {rounds} round(s), about {est / 60:.1f} min; "
        f"logs in {logdir.relative_to(ROOT)}")
    t_start = time.monotonic()
    for rnd in range(1, rounds + 1):
        for c, ss in plan:
            # alternate the order of the servers from one round to the next
            k = (rnd - 1) % len(ss) if ss else 0
            for s in ss[k:] + ss[:k]:
                t0 = time.monotonic()
                load = loadavg()
                rec = one_run(args, c, s, rnd, paths, args.port, logdir)
                rec["loadavg_before"] = load  # the machine may be shared: say how busy it was
                rec["wall_s"] = round(time.monotonic() - t0, 2)
                data["runs"].append(rec)
                brief = ", ".join(f"{k2}={v:.4g}" if isinstance(v, float) else f"{k2}={v}"
                                  for k2, v in (rec.get("derived") or {}).items())
                log(f"[{'ok' if rec['ok'] else 'FAIL'}] r{rnd} {c.name} {s} ({rec['wall_s']:.1f} s): {brief}"
                    + ("" if rec["ok"] else "  <- " + " | ".join(rec["problems"])))
                out.write_text(json.dumps(data, indent=1))
    meta["wall_s"] = round(time.monotonic() - t_start, 1)
    out.write_text(json.dumps(data, indent=1))
    label = " (SMOKE: tiny sizes, not figures)" if args.smoke else ""
    print(table(data, label))
    if args.plot:
        plot(data, Path(args.plot))
    failed = [r for r in data["runs"] if not r["ok"]]
    log(f"run.py: results in {out.relative_to(ROOT) if ROOT in out.resolve().parents else out}, {meta['wall_s']:.0f} s")
    print(f"bench: {len(data['runs']) - len(failed)} passed, {len(failed)} failed", flush=True)
    if args.write_docs and not args.smoke:
        tbl = table(data)
        write_docs(data, tbl, plot(data, DOC_PLOT))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
