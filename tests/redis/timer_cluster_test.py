#!/usr/bin/python3
"""RedisTimer on a real Redis Cluster (issue 7): three masters joined with `redis-cli --cluster
create`; three timer_soak instances pointed at the master owning the slot of the prefix's hash tag
(`{prefix}`). Every script's keys share that tag, so a cluster accepts them (no CROSSSLOT). Checked:
every timer fires exactly once, with attempt 1; every timer key lives on the owning master and no
other master holds any.

Every process is started here and stopped by PID. stdlib only.
Usage: timer_cluster_test.py --binary path/to/timer_soak [--timers 2000] [--spread-ms 2000]
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timer_soak_test import Instance, free_port, resp  # noqa: E402

REDIS_SERVER = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--timers", type=int, default=2000)
    ap.add_argument("--spread-ms", type=int, default=2000)
    args = ap.parse_args()
    for tool in (REDIS_SERVER, REDIS_CLI):
        if not os.access(tool, os.X_OK):
            print("FAIL: %s is not installed: run scripts/install-deps.sh" % tool)
            return 1

    ports, bus = [], []
    while len(set(ports + bus)) < 6 or len(ports) < 3:
        ports = [free_port() for _ in range(3)]
        bus = [free_port() for _ in range(3)]
    work = tempfile.mkdtemp(prefix="courier-timer-cluster-")
    servers, instances = [], []
    try:
        for p, b in zip(ports, bus):
            d = os.path.join(work, str(p))
            os.mkdir(d)
            servers.append(subprocess.Popen(
                [REDIS_SERVER, "--port", str(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--protected-mode", "no", "--dir", d, "--loglevel", "warning", "--cluster-enabled", "yes",
                 "--cluster-config-file", os.path.join(d, "nodes.conf"), "--cluster-port", str(b)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 5
        for p in ports:
            while True:
                try:
                    if resp(p, "PING") == "PONG":
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    print("FAIL: redis-server :%d did not start" % p)
                    return 1
                time.sleep(0.02)
        subprocess.run([REDIS_CLI, "--cluster", "create"] + ["127.0.0.1:%d" % p for p in ports] +
                       ["--cluster-replicas", "0", "--cluster-yes"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        deadline = time.monotonic() + 20
        while True:
            infos = [resp(p, "CLUSTER", "INFO") for p in ports]
            if all("cluster_state:ok" in i and "cluster_slots_ok:16384" in i and "cluster_known_nodes:3" in i
                   for i in infos):
                break
            if time.monotonic() > deadline:
                print("FAIL: cluster not ready: %r" % infos)
                return 1
            time.sleep(0.05)

        prefix = "ctimers"
        slot = resp(ports[0], "CLUSTER", "KEYSLOT", "{%s}" % prefix)
        owner = None
        for p in ports:
            try:
                resp(p, "GET", "{%s}:probe" % prefix)
                owner = p
            except RuntimeError as e:  # MOVED on the other masters
                if not str(e).startswith("MOVED"):
                    raise
        if owner is None:
            print("FAIL: no master owns slot %d" % slot)
            return 1

        url = "redis://127.0.0.1:%d" % owner
        common = ["--prefix", prefix, "--lease-ms", "2000", "--poll-ms", "250"]
        b = Instance(args.binary, url, "b", common)
        c = Instance(args.binary, url, "c", common)
        time.sleep(0.2)
        a = Instance(args.binary, url, "a", common + ["--schedule", str(args.timers), "--spread-ms", str(args.spread_ms)])
        instances = [a, b, c]
        keys = {"t%d" % i for i in range(args.timers)}
        end = time.monotonic() + args.spread_ms / 1000.0 + 20
        while time.monotonic() < end:
            if keys <= {l[1] for inst in instances for l in inst.lines}:
                break
            time.sleep(0.05)
        # Pending ones, before the last acknowledgements land: on the owner only.
        time.sleep(0.5)
        others = {p: resp(p, "DBSIZE") for p in ports if p != owner}
        owner_keys = resp(owner, "DBSIZE")
        for inst in instances:
            inst.stop()

        failures = []
        fires = {}
        for inst in instances:
            if inst.bad:
                failures.append("%s printed unexpected lines: %r" % (inst.name, inst.bad[:3]))
            if inst.proc.returncode != 0:
                failures.append("%s exited with %s after SIGTERM" % (inst.name, inst.proc.returncode))
            for (_, key, _, attempt, _) in inst.lines:
                fires.setdefault(key, []).append(attempt)
        lost = keys - set(fires)
        if lost:
            failures.append("%d timers never fired, e.g. %s" % (len(lost), sorted(lost)[:5]))
        twice = {k: v for k, v in fires.items() if v != [1]}
        if twice:
            failures.append("%d timers fired other than once with attempt 1, e.g. %r" % (len(twice), list(twice.items())[:5]))
        if any(others.values()):
            failures.append("keys on masters other than the slot owner: %r" % others)
        if owner_keys == 0:
            failures.append("the owner holds no key (the fence counter at least should be there)")
        print("Redis Cluster of 3 masters, slot %d on :%d; timers %d; fires per instance %r"
              % (slot, owner, args.timers, {i.name: len(i.lines) for i in instances}))
        if failures:
            for f in failures:
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
        for s in servers:
            s.send_signal(signal.SIGTERM)
        for s in servers:
            try:
                s.wait(timeout=5)
            except subprocess.TimeoutExpired:
                s.kill()
                s.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
