#!/usr/bin/python3
"""Cluster timer benchmark (issue 7): N pending RedisTimer timers over three timer_soak instances
on one real redis-server (started here on a free loopback port).

  bench/cluster_timers.py                       # 100,000 timers, both scenarios
  bench/cluster_timers.py --smoke               # 2,000 timers: checks the tooling works (CI-sized)
  bench/cluster_timers.py --timers 50000 --spread-ms 5000

Scenarios (each with a fresh Redis):
  spread  N timers due evenly over --spread-ms: lateness p50/p99/max of steady firing (goal: p99
          under 50 ms), and Redis memory per pending timer (INFO memory used_memory, before the
          first schedule and once all N are pending, divided by N).
  burst   N timers all due at the same instant: firing (drain) rate of the three instances
          together, and the lateness that queueing adds.

Lateness = the firing instance's wall clock at the handler minus the deadline carried in the
payload (all on one machine, so one clock). Instance "a" schedules (after --start-ms, so all are
pending before the first is due); a, b and c fire. Build first:
  cmake --build build --target timer_soak
Python standard library only. Exit 1 if a timer is lost or fires twice.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(port, *args):
    payload = b"*%d\r\n" % len(args)
    for a in args:
        a = str(a).encode()
        payload += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        f = s.makefile("rb")
        line = f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else f.read(n + 2)[:-2].decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        raise RuntimeError("unexpected reply %r" % line)


def used_memory(port):
    info = resp(port, "INFO", "memory")
    for line in info.splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise RuntimeError("no used_memory in INFO")


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


class Instance:
    def __init__(self, binary, url, name, extra, out_dir):
        self.name = name
        self.lateness_file = Path(out_dir) / ("lateness-%s.txt" % name)
        self.count = 0
        self.keys = []
        self.stderr = []
        self.proc = subprocess.Popen(
            [binary, "--redis", url, "--instance", name, "--prefix", "bench", "--lateness-out", str(self.lateness_file)] + extra,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._out, daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()

    def _out(self):
        for line in self.proc.stdout:
            if line.startswith("fired "):
                self.keys.append(line.split()[1])
                self.count += 1

    def _err(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def samples(self):
        out = []
        if self.lateness_file.exists():
            for line in self.lateness_file.read_text().splitlines():
                at, late = line.split()
                out.append((int(at), int(late)))
        return out


def run_scenario(binary, name, timers, spread_ms, start_ms, timeout_s):
    port = free_port()
    redis = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--protected-mode", "no", "--dir", "/tmp", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    instances = []
    tmp = tempfile.mkdtemp(prefix="courier-timer-bench-")
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                if resp(port, "PING") == "PONG":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        url = "redis://127.0.0.1:%d" % port
        b = Instance(binary, url, "b", [], tmp)
        c = Instance(binary, url, "c", [], tmp)
        time.sleep(0.3)
        mem_before = used_memory(port)
        t0 = time.monotonic()
        a = Instance(binary, url, "a", ["--schedule", str(timers), "--spread-ms", str(spread_ms), "--start-ms", str(start_ms)], tmp)
        instances = [a, b, c]
        # All pending (and none due yet): the memory they take.
        pending_at = None
        while time.monotonic() - t0 < start_ms / 1000.0:
            if resp(port, "ZCARD", "{bench}:due") >= timers:
                pending_at = time.monotonic() - t0
                break
            time.sleep(0.01)
        mem_after = used_memory(port)
        if pending_at is None:
            raise RuntimeError("scheduling %d timers took longer than --start-ms %d" % (timers, start_ms))
        end = time.monotonic() + timeout_s
        while sum(i.count for i in instances) < timers and time.monotonic() < end:
            time.sleep(0.02)
        time.sleep(0.3)  # let a duplicate, if any, show up
        for i in instances:
            i.stop()
        samples = [s for i in instances for s in i.samples()]
        keys = [k for i in instances for k in i.keys]
        late_ms = sorted(l / 1000.0 for _, l in samples)
        first = min(at for at, _ in samples) if samples else 0
        last = max(at for at, _ in samples) if samples else 0
        result = {
            "scenario": name,
            "timers": timers,
            "spread_ms": spread_ms,
            "fired": len(keys),
            "distinct": len(set(keys)),
            "per_instance": {i.name: i.count for i in instances},
            "schedule_s": round(pending_at, 3),
            "schedule_rate_per_s": round(timers / pending_at) if pending_at else None,
            "firing_span_s": round((last - first) / 1e6, 3),
            "firing_rate_per_s": round(len(samples) / ((last - first) / 1e6)) if last > first else None,
            "lateness_ms": {
                "p50": round(percentile(late_ms, 50), 2),
                "p99": round(percentile(late_ms, 99), 2),
                "max": round(late_ms[-1], 2) if late_ms else None,
                "mean": round(statistics.fmean(late_ms), 2) if late_ms else None,
                "min": round(late_ms[0], 2) if late_ms else None,
            },
            "redis_bytes_per_timer": round((mem_after - mem_before) / timers, 1),
        }
        result["ok"] = result["fired"] == timers and result["distinct"] == timers
        if not result["ok"]:
            for i in instances:
                for line in i.stderr[-5:]:
                    print("  [%s] %s" % (i.name, line), file=sys.stderr)
        return result
    finally:
        for i in instances:
            if i.proc.poll() is None:
                i.proc.kill()
                i.proc.wait()
        redis.send_signal(signal.SIGTERM)
        try:
            redis.wait(timeout=5)
        except subprocess.TimeoutExpired:
            redis.kill()
            redis.wait()
        for f in Path(tmp).glob("*"):
            f.unlink()
        os.rmdir(tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(ROOT / "build" / "examples" / "timer_soak" / "timer_soak"))
    ap.add_argument("--timers", type=int, default=100000)
    ap.add_argument("--spread-ms", type=int, default=10000)
    ap.add_argument("--start-ms", type=int, default=0, help="delay before the first deadline (default: enough to schedule all)")
    ap.add_argument("--scenarios", default="spread,burst")
    ap.add_argument("--smoke", action="store_true", help="2,000 timers over 1 s: a quick check that it all works")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if args.smoke:
        args.timers, args.spread_ms = 2000, 1000
    if not args.start_ms:
        # Scheduling runs at tens of thousands per second: leave ample time, so all are pending first.
        args.start_ms = max(1500, args.timers // 10)
    if not os.access(args.binary, os.X_OK):
        print("no timer_soak at %s: cmake --build build --target timer_soak" % args.binary, file=sys.stderr)
        return 1
    if not os.access(REDIS_SERVER, os.X_OK):
        print("%s is not installed: run scripts/install-deps.sh" % REDIS_SERVER, file=sys.stderr)
        return 1

    results = []
    for name in args.scenarios.split(","):
        spread = args.spread_ms if name == "spread" else 0
        timeout = (args.start_ms + spread) / 1000.0 + 60
        r = run_scenario(args.binary, name, args.timers, spread, args.start_ms, timeout)
        results.append(r)
        lat = r["lateness_ms"]
        print("%-6s %7d timers: fired %d (distinct %d) %r; scheduled in %.2f s (%s/s); fired over %.2f s (%s/s); "
              "lateness ms p50 %.2f p99 %.2f max %.2f; Redis %.0f B/timer"
              % (name, r["timers"], r["fired"], r["distinct"], r["per_instance"], r["schedule_s"], r["schedule_rate_per_s"],
                 r["firing_span_s"], r["firing_rate_per_s"], lat["p50"], lat["p99"], lat["max"], r["redis_bytes_per_timer"]))
        sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
