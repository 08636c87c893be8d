#!/usr/bin/python3
"""Cluster timer soak (issue 7): three timer_soak instances on one real redis-server, 10,000 keyed
timers, one instance SIGKILLed midway.

Checked:
  * no timer is lost: every key t0..t(N-1) fires at least once;
  * a key fires more than once only if the killed instance had claimed it without acknowledging
    (it is in Redis's lease set, snapshotted right after the kill), and then exactly twice: first
    (if it printed at all) on the killed instance with attempt 1, then on a survivor with attempt 2;
    a claimed-but-unprinted key shows one fire only, with attempt 2, on a survivor;
  * every other key fires exactly once, with attempt 1;
  * fences grow strictly per key, in the order of attempts;
  * the kill really hit a claimed, unacknowledged timer (the killed instance claims one timer at a
    time and works --work-ms after printing each fire, and is killed right after it printed one),
    so the re-delivery path ran;
  * Redis ends empty (no timer data, due or lease entry left behind).

Every process is started here and stopped by PID (SIGKILL on any failure). stdlib only.
Usage: timer_soak_test.py --binary path/to/timer_soak [--timers 10000] [--spread-ms 8000]
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time

REDIS_SERVER = "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(port, *args, timeout=2.0):
    """One command over a fresh raw RESP connection; returns the decoded reply."""
    payload = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        payload += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        f = s.makefile("rb")

        def read():
            line = f.readline()
            if not line:
                raise ConnectionError("redis closed the connection")
            kind, rest = line[:1], line[1:-2]
            if kind == b"+":
                return rest.decode()
            if kind == b"-":
                raise RuntimeError(rest.decode())
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                if n < 0:
                    return None
                data = f.read(n + 2)[:-2]
                return data.decode()
            if kind == b"*":
                n = int(rest)
                return None if n < 0 else [read() for _ in range(n)]
            raise RuntimeError("bad RESP: %r" % line)

        return read()


class Instance:
    def __init__(self, binary, url, name, extra):
        self.name = name
        self.lines = []  # (monotonic time, key, instance, attempt, fence)
        self.bad = []
        self.proc = subprocess.Popen(
            [binary, "--redis", url, "--instance", name] + extra,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr = []
        self.line_event = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err_reader = threading.Thread(target=self._read_err, daemon=True)
        self.err_reader.start()

    def _read(self):
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) == 5 and parts[0] == "fired":
                self.lines.append((time.monotonic(), parts[1], parts[2], int(parts[3]), int(parts[4])))
                self.line_event.set()
            else:
                self.bad.append(line)

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
        self.reader.join(timeout=5)
        self.err_reader.join(timeout=5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--timers", type=int, default=10000)
    ap.add_argument("--spread-ms", type=int, default=8000)
    ap.add_argument("--lease-ms", type=int, default=2000)
    ap.add_argument("--poll-ms", type=int, default=250)
    ap.add_argument("--work-ms", type=int, default=50, help="work after each fire on the instance that gets killed")
    args = ap.parse_args()

    if not os.access(REDIS_SERVER, os.X_OK):
        print("FAIL: %s is not installed: run scripts/install-deps.sh" % REDIS_SERVER)
        return 1

    port = free_port()
    redis = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--protected-mode", "no", "--dir", "/tmp", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    instances = []
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                if resp(port, "PING") == "PONG":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                print("FAIL: redis-server did not start")
                return 1
            time.sleep(0.02)

        url = "redis://127.0.0.1:%d" % port
        prefix = "soak"
        tag = "{%s}:" % prefix
        common = ["--prefix", prefix, "--lease-ms", str(args.lease_ms), "--poll-ms", str(args.poll_ms)]
        # The victim first and the others right after; the scheduler last, so all are up (or
        # connecting) when the first timers fall due.
        # It claims one timer at a time, so its slow handler never holds a batch past the lease.
        victim = Instance(args.binary, url, "c", common + ["--work-ms", str(args.work_ms), "--batch", "1"])
        b = Instance(args.binary, url, "b", common)
        time.sleep(0.2)
        a = Instance(args.binary, url, "a", common + ["--schedule", str(args.timers), "--spread-ms", str(args.spread_ms)])
        instances = [a, b, victim]
        started = time.monotonic()

        # Midway: kill the victim right after it printed a fire (it then works --work-ms before
        # acknowledging, so what it printed last is claimed and unacknowledged).
        midway = started + args.spread_ms / 2000.0
        while time.monotonic() < midway:
            time.sleep(0.01)
        victim.line_event.clear()
        if not victim.line_event.wait(timeout=10):
            print("FAIL: the victim fired nothing for 10 s")
            return 1
        victim.kill()
        killed_at = time.monotonic()
        printed_by_victim = len(victim.lines)
        lease_snapshot = set(resp(port, "ZRANGE", tag + "lease", 0, -1))

        # Everything should fire by the end of the spread plus one lease and poll (re-deliveries);
        # wait until every key fired, then one more lease + poll to catch any late duplicate.
        keys = {"t%d" % i for i in range(args.timers)}
        end_limit = started + args.spread_ms / 1000.0 + 30
        while time.monotonic() < end_limit:
            fired = {l[1] for inst in instances for l in inst.lines}
            if keys <= fired:
                break
            time.sleep(0.05)
        time.sleep((args.lease_ms + 2 * args.poll_ms) / 1000.0 + 0.5)
        leftovers = {
            "due": resp(port, "ZCARD", tag + "due"),
            "lease": resp(port, "ZCARD", tag + "lease"),
            "data": resp(port, "HLEN", tag + "data"),
        }
        for inst in (a, b):
            inst.stop()
        elapsed = time.monotonic() - started

        failures = []
        for inst in (a, b):
            if inst.proc.returncode != 0:
                failures.append("%s exited with %s after SIGTERM" % (inst.name, inst.proc.returncode))
        for inst in instances:
            if inst.bad:
                failures.append("%s printed unexpected lines: %r" % (inst.name, inst.bad[:3]))
        by_key = {}
        for inst in instances:
            for (t, key, name, attempt, fence) in inst.lines:
                if name != inst.name:
                    failures.append("line from %s carries instance %s" % (inst.name, name))
                by_key.setdefault(key, []).append((attempt, fence, name, t))

        lost = sorted(keys - set(by_key), key=lambda k: int(k[1:]))
        if lost:
            failures.append("%d timers never fired, e.g. %s" % (len(lost), lost[:10]))
        unknown = set(by_key) - keys
        if unknown:
            failures.append("fires of unknown keys: %s" % sorted(unknown)[:10])

        redelivered = 0
        printed_then_redelivered = 0
        for key, fires in by_key.items():
            fires.sort()
            attempts = [f[0] for f in fires]
            fences = [f[1] for f in fires]
            if any(x >= y for x, y in zip(fences, fences[1:])):
                failures.append("%s: fences not strictly increasing by attempt: %r" % (key, fires))
            if attempts == [1]:
                if fires[0][2] == "c" and fires[0][3] > killed_at:
                    failures.append("%s: fired by the victim after it was killed?" % key)
                continue
            # Anything else must be a re-delivery of a timer the victim had claimed, unacknowledged.
            if key not in lease_snapshot:
                failures.append("%s fired %r but was not claimed-unacknowledged at the kill" % (key, fires))
                continue
            if attempts == [2]:
                ok = fires[0][2] != "c"
            elif attempts == [1, 2]:
                ok = fires[0][2] == "c" and fires[1][2] != "c"
                printed_then_redelivered += ok
            else:
                ok = False
            if not ok:
                failures.append("%s: unexpected fires %r" % (key, fires))
                continue
            redelivered += 1
            if fires[-1][3] < killed_at:
                failures.append("%s: re-delivered before the kill" % key)
        if redelivered == 0:
            failures.append("the kill hit no claimed, unacknowledged timer: the re-delivery path was not exercised")
        if printed_then_redelivered == 0:
            failures.append("no timer printed by the victim was re-delivered (its last printed one was unacknowledged)")
        if printed_by_victim == 0 or len(victim.lines) == len(by_key):
            failures.append("the victim did not share the work (printed %d)" % printed_by_victim)
        after_kill = sum(1 for inst in (a, b) for l in inst.lines if l[0] > killed_at)
        if after_kill == 0:
            failures.append("nothing fired after the kill: it was not midway")
        if any(leftovers.values()):
            failures.append("Redis not empty at the end: %r" % leftovers)

        counts = {inst.name: len(inst.lines) for inst in instances}
        print("timers %d, fires %r, victim killed after %.1f s having printed %d; claimed-unacknowledged at the kill %d; "
              "re-delivered with attempt 2: %d (of which printed by the victim first: %d); total %.1f s"
              % (args.timers, counts, killed_at - started, printed_by_victim, len(lease_snapshot), redelivered,
                 printed_then_redelivered, elapsed))
        if failures:
            for f in failures[:30]:
                print("FAIL:", f)
            for inst in instances:
                for line in inst.stderr[-5:]:
                    print("  [%s stderr] %s" % (inst.name, line))
            return 1
        print("PASS")
        return 0
    finally:
        for inst in instances:
            inst.kill()
        redis.send_signal(signal.SIGTERM)
        try:
            redis.wait(timeout=5)
        except subprocess.TimeoutExpired:
            redis.kill()
            redis.wait()


if __name__ == "__main__":
    sys.exit(main())
