#!/usr/bin/env python3
"""Runtime apply == reload, at what HAProxy serves. One random sequence of bundles (from a
seed) goes to (a) an HAProxy driven by `mlb-reloader watch`, which applies server changes
through the Runtime API and reloads for the rest, and (b) an HAProxy that loads each
bundle fresh, on its own ports. After each step, once health has settled, both must
serve the same: every backend's servers (address, port, weight, maxconn, admin and
operational state, checks and agent on), every map's entries (`show map`), and which
backend answers sample requests per vhost and service port. A difference fails with
its seed and step. Real backends on loopback; every process started here is ended here,
by pid.

The inputs cover vhost maps (-H), `disabled` (blue/green drains), `default-server` in
backend heads, agent checks, weights, `hash-type consistent`, check intervals from 1 s
to 60 s, and runtime applies interleaved with reloads.

usage: differential_test.py                      (suite: DIFF_SEEDS, DIFF_STEPS)
       differential_test.py --seed S --steps N   (the long run: bench/differential_bench.sh)
env: RELOADER, HAPROXY
"""
import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from reloader_test import RELOADER, HAPROXY
from runtime_test import Backend
from testlib import free_port, stop_all, unix_command, wait_until

APPS = ("app0", "app1", "app2")
VHOSTS = ("a.example", "b.example", "c.example", "d.example")
INTERVALS = ("1s", "2s", "10s", "60s")
OPS = ("add", "add", "remove", "replace", "replace", "disable", "enable", "weight", "head",
       "reload", "vhost", "vhost")
# Kinds of change left out (DIFF_SKIP=vhost,head): to find what the others alone show.
SKIP = set(filter(None, os.environ.get("DIFF_SKIP", "").split(",")))
HEADS = ("", "  default-server maxconn 7 weight 33\n", "  default-server inter 3s weight 5\n")


class Model:
    """What the bundle says: per app its servers (pool index -> options), its head, a
    structural knob (changing it forces a reload); the vhost map."""

    def __init__(self, rnd, pools):
        self.rnd = rnd
        self.pools = pools  # app -> [(port, live)]
        self.servers = {a: {} for a in APPS}
        self.head = {a: "" for a in APPS}
        self.timeout = {a: 30 for a in APPS}
        self.vhosts = {"a.example": "app0", "b.example": "app1"}
        for a in APPS:
            self.add(a)

    def options(self, live):
        o = {"inter": self.rnd.choice(INTERVALS) if live else "1s",
             "weight": self.rnd.choice((None, None, 3, 50)),
             "agent": self.rnd.random() < 0.2, "disabled": False}
        return o

    def add(self, app):
        free = [i for i in range(len(self.pools[app])) if i not in self.servers[app]]
        if free:
            i = self.rnd.choice(free)
            self.servers[app][i] = self.options(self.pools[app][i][1])

    def remove(self, app):
        if self.servers[app]:
            del self.servers[app][self.rnd.choice(sorted(self.servers[app]))]

    def mutate(self):
        """One to three changes; returns their names (for the failure message)."""
        done = []
        for _ in range(self.rnd.randint(1, 3)):
            app = self.rnd.choice(APPS)
            op = self.rnd.choice([o for o in OPS if o not in SKIP])
            if op == "add":
                self.add(app)
            elif op == "remove":
                self.remove(app)
            elif op == "replace":  # a rolling restart: a task killed, another started
                self.remove(app)
                self.add(app)
            elif op in ("disable", "enable") and self.servers[app]:
                i = self.rnd.choice(sorted(self.servers[app]))
                self.servers[app][i]["disabled"] = op == "disable"
            elif op == "weight" and self.servers[app]:
                i = self.rnd.choice(sorted(self.servers[app]))
                self.servers[app][i]["weight"] = self.rnd.choice((None, 2, 7))
            elif op == "head":
                self.head[app] = self.rnd.choice(HEADS)
            elif op == "reload":
                self.timeout[app] = 61 - self.timeout[app]
            elif op == "vhost":
                host = self.rnd.choice(VHOSTS)
                if host in self.vhosts and self.rnd.random() < 0.3:
                    del self.vhosts[host]
                else:
                    self.vhosts[host] = self.rnd.choice(APPS)
            done.append("%s %s" % (op, app))
        return done

    def server_line(self, app, i):
        port, _ = self.pools[app][i]
        o = self.servers[app][i]
        line = "  server s%d 127.0.0.1:%d id %d check inter %s fall 1 rise 2" % (
            port, port, i + 1, o["inter"])
        if o["weight"] is not None:
            line += " weight %d" % o["weight"]
        if o["agent"]:
            # The agent port refuses: an agent that cannot connect changes nothing.
            line += " agent-check agent-port %d agent-inter 1s" % self.pools[app][-1][0]
        return line + (" disabled" if o["disabled"] else "") + "\n"

    def config(self, state, map_dir, port, with_state_file):
        cfg = ("global\n"
               "  stats socket %s/stats.sock mode 600 level admin expose-fd listeners\n"
               "  hard-stop-after 30s\n" % state)
        if with_state_file:
            cfg += "  server-state-file %s/server-state\n" % state
        cfg += ("defaults\n  mode http\n  option idle-close-on-response\n"
                "  timeout connect 1s\n  timeout client 10s\n  timeout server 10s\n")
        if with_state_file:
            cfg += "  load-server-state-from-file global\n"
        cfg += ("frontend vhosts\n  bind 127.0.0.1:%d\n"
                "  use_backend %%[req.hdr(host),lower,map(%s/domain2backend.map)]\n"
                % (port, map_dir))
        for k, app in enumerate(APPS[1:], 1):
            cfg += "frontend %s_port\n  bind 127.0.0.1:%d\n  default_backend %s\n" % (
                app, port + k, app)
        for app in APPS:
            cfg += "backend %s\n" % app
            cfg += ("  balance source\n  hash-type consistent\n" if app == "app2"
                    else "  balance roundrobin\n")
            cfg += "  timeout server %ds\n" % self.timeout[app] + self.head[app]
            for i in sorted(self.servers[app]):
                cfg += self.server_line(app, i)
        return cfg

    def domain_map(self):
        return "".join("%s %s\n" % (h, a) for h, a in sorted(self.vhosts.items()))


def sections(text):
    """The text cut where a section starts (a line neither empty nor indented)."""
    cuts = [0] + [i + 1 for i, c in enumerate(text[:-1])
                  if c == "\n" and text[i + 1] not in " \t\n"] + [len(text)]
    return [text[a:b] for a, b in zip(cuts, cuts[1:])]


def edits_of(base_version, base_pieces, pieces):
    """haproxy.cfg.edits (common/fs/config_edits.h): the pieces that differ from the
    base's, each with the digest of the bytes it replaces; offsets and lengths in bytes."""
    base_bytes = [p.encode() for p in base_pieces]
    out = [b"mlb-config-edits 1\nbase %s %d\n" % (base_version.encode(),
                                                   sum(len(p) for p in base_bytes))]
    offset = 0
    for old, new in zip(base_bytes, (p.encode() for p in pieces)):
        if old != new:
            out.append(b"edit %d %d %s %d\n%s\n" % (offset, len(old),
                                                   hashlib.sha256(old).hexdigest().encode(),
                                                   len(new), new))
        offset += len(old)
    return b"".join(out) + b"end\n"


def write_bundle(state, version, cfg, domain_map, edits=None):
    """bundles/<version>/ with its config (or its edits of a base) and maps, then
    `current` swapped, as the controller publishes."""
    d = os.path.join(state, "bundles", version)
    os.makedirs(d)
    config = ("haproxy.cfg.edits", edits) if edits else ("haproxy.cfg", cfg.encode())
    for name, text in (("domain2backend.map", domain_map.encode()), ("app2backend.map", b""),
                       config):
        with open(os.path.join(d, name), "wb") as f:
            f.write(text)
    tmp = os.path.join(state, "current.tmp")
    os.symlink("bundles/" + version, tmp)
    os.rename(tmp, os.path.join(state, "current"))


ADMIN = ((0x23, "MAINT"), (0x18, "DRAIN"))


def servers_state(sock):
    """backend -> server -> what a client gets from it, from `show servers state`."""
    out = {}
    for line in unix_command(sock, "show servers state").splitlines():
        w = line.split()
        if len(w) < 19 or line.startswith("#"):
            continue
        admin = int(w[6])
        word = next((name for mask, name in ADMIN if admin & mask), "READY")
        out.setdefault(w[1], {})[w[3]] = {
            "addr": "%s:%s" % (w[4], w[18]), "admin": word, "op": int(w[5]),
            "weight": int(w[7]), "check_on": bool(int(w[13]) & 0x04),
            "agent_on": bool(int(w[14]) & 0x04)}
    return out


def stat(sock):
    """backend -> server -> (status word, effective weight, session limit)."""
    out, header = {}, None
    for line in unix_command(sock, "show stat").splitlines():
        if line.startswith("# "):
            header = line[2:].split(",")
            continue
        f = line.split(",")
        if not header or len(f) < len(header) - 1 or f[1] in ("FRONTEND", "BACKEND"):
            continue
        col = dict(zip(header, f))
        status = col["status"].split(" ")[0]
        # The effective weight of a server in MAINT carries no traffic, and HAProxy
        # computes a dynamic server's only once it first leaves MAINT: the configured
        # weight is compared through `show servers state` instead.
        weight = "-" if status == "MAINT" else col["weight"]
        out.setdefault(f[0], {})[f[1]] = (status, weight, col["slim"])
    return out


def map_entries(sock, path):
    lines = unix_command(sock, "show map %s" % path).splitlines()
    return sorted(" ".join(l.split()[1:]) for l in lines if l.strip())


def answers(port, host=None, n=6):
    """The apps that answer n requests (503 and errors by their status)."""
    import http.client
    seen = set()
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            c.request("GET", "/", headers={"Host": host} if host else {})
            r = c.getresponse()
            body = r.read().decode()
            seen.add(body.split("-")[0] if r.status == 200 else str(r.status))
        except OSError as e:
            seen.add(type(e).__name__)
        finally:
            c.close()
    return sorted(seen)


class Side:
    """One HAProxy under test: its state dir, map dir, ports."""

    def __init__(self, state, map_dir, port):
        self.state, self.map_dir, self.port = state, map_dir, port
        self.sock = os.path.join(state, "stats.sock")

    def snapshot(self):
        routes = {h: answers(self.port, h) for h in VHOSTS}
        for k, app in enumerate(APPS[1:], 1):
            routes[app + "_port"] = answers(self.port + k)
        return {"servers": servers_state(self.sock), "stat": stat(self.sock),
                "map": map_entries(self.sock, self.map_dir + "/domain2backend.map"),
                "routes": routes}


def differences(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += differences(a.get(k), b.get(k), "%s/%s" % (path, k))
        return out
    return [] if a == b else ["%s: runtime %r, fresh load %r" % (path, a, b)]


class Differential:
    """The two sides and the sequence; run() returns the differences of the first step
    that did not settle, with its seed and step, or []."""

    def __init__(self, seed, steps, settle=8.0):
        self.seed, self.steps, self.settle = seed, steps, settle
        self.rnd = random.Random(seed)
        self.dir = tempfile.mkdtemp(prefix="mlb-diff-")
        self.procs, self.backends = [], []
        self.fresh = None
        pools = {}
        for app in APPS:
            pool = []
            for i in range(4):
                b = Backend("%s-%d" % (app, i))
                self.backends.append(b)
                pool.append((b.port, True))
            pool.append((free_port(), False))  # a task that never answers
            pools[app] = pool
        self.model = Model(self.rnd, pools)
        state_a = os.path.join(self.dir, "a")
        os.makedirs(state_a)
        self.a = Side(state_a, state_a + "/live", free_port_block())
        state_b = os.path.join(self.dir, "b")
        os.makedirs(state_b)
        self.b = Side(state_b, state_b + "/cur", free_port_block())
        self.version = 0
        self.applied_by = {}
        # Bundles go out whole or as edits of the last whole one, as the controller
        # writes them (its own draw: the model's sequence stays the seed's).
        self.base = None
        self.edits_rnd = random.Random(seed + 7)
        self.as_edits = False  # the last bundle published was edits of its base
        self.edits_applied_by = {}

    def close(self):
        stop_all(self.procs + ([self.fresh] if self.fresh else []), 10)
        for b in self.backends:
            b.close()
        if not os.environ.get("DIFF_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, *args, log):
        with open(os.path.join(self.a.state, log), "ab") as f:
            p = subprocess.Popen([RELOADER] + list(args), stdout=f, stderr=subprocess.STDOUT)
        self.procs.append(p)

    def publish(self):
        self.version += 1
        v = "%016x" % self.version
        cfg = self.model.config(self.a.state, self.a.map_dir, self.a.port, True)
        pieces = sections(cfg)
        edits = None
        if (self.base and len(pieces) == len(self.base[1]) and
                self.edits_rnd.random() < 0.8):
            edits = edits_of(self.base[0], self.base[1], pieces)
        else:
            self.base = (v, pieces)
        write_bundle(self.a.state, v, cfg, self.model.domain_map(), edits)
        self.as_edits = edits is not None
        return v

    def load_fresh(self):
        """(b): a new HAProxy from the same bundle, nothing carried over."""
        if self.fresh:
            stop_all([self.fresh], 10)
        cur = self.b.map_dir
        shutil.rmtree(cur, ignore_errors=True)
        os.makedirs(cur)
        with open(os.path.join(cur, "domain2backend.map"), "w") as f:
            f.write(self.model.domain_map())
        cfg = os.path.join(cur, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(self.model.config(self.b.state, cur, self.b.port, False))
        with open(os.path.join(self.b.state, "fresh.log"), "ab") as log:
            self.fresh = subprocess.Popen([HAPROXY, "-db", "-f", cfg], stdout=log,
                                          stderr=subprocess.STDOUT)
        if not wait_until(lambda: os.path.exists(self.b.sock) and self.try_sock(self.b), 10):
            raise RuntimeError("the fresh HAProxy did not start")

    @staticmethod
    def try_sock(side):
        try:
            unix_command(side.sock, "show info")
            return True
        except OSError:
            return False

    def status(self):
        import json
        try:
            with open(os.path.join(self.a.state, "status.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def applied(self, v):
        return wait_until(lambda: self.status().get("applied_version") == v, 20)

    def begin(self):
        v = self.publish()
        self.start("haproxy", "--state-dir", self.a.state, "--haproxy-bin", HAPROXY,
                   "--wait-bundle", "10", log="haproxy.log")
        self.start("watch", "--state-dir", self.a.state, "--haproxy-bin", HAPROXY,
                   "--listen", "127.0.0.1:%d" % free_port(), "--min-reload-interval", "0.05",
                   "--recheck-interval", "0.2", "--drift-check-interval", "2", log="watch.log")
        if not self.applied(v):
            raise RuntimeError("the first bundle was not applied:\n" + self.log("watch.log"))

    def log(self, name):
        try:
            with open(os.path.join(self.a.state, name)) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def compare(self):
        """[] once both serve the same within the settle time, else the differences."""
        deadline = time.monotonic() + self.settle
        while True:
            try:
                diff = differences(self.a.snapshot(), self.b.snapshot())
            except OSError as e:  # a stats socket between two workers: not settled yet
                diff = ["stats socket: %r; runtime side answers: %s; haproxy.log: %s" % (
                    e, self.try_sock(self.a), self.log("haproxy.log")[-600:])]
            if not diff or time.monotonic() > deadline:
                return diff
            time.sleep(0.25)

    def run(self, report=None):
        self.begin()
        for step in range(1, self.steps + 1):
            ops = self.model.mutate()
            v = self.publish()
            self.load_fresh()
            if not self.applied(v):
                return ["seed %d step %d (%s): version %s not applied: %s" % (
                    self.seed, step, ", ".join(ops), v, self.status().get("rejected"))]
            how = self.status().get("reload_kind")
            self.applied_by[how] = self.applied_by.get(how, 0) + 1
            if self.as_edits:  # how, and what the plan compared (status.json)
                key = "%s/%s" % (how, self.status().get("planned_from"))
                self.edits_applied_by[key] = self.edits_applied_by.get(key, 0) + 1
            diff = self.compare()
            if diff:
                return ["seed %d step %d (%s, applied by %s):" % (
                    self.seed, step, ", ".join(ops), how)] + diff
            if report:
                report(step, how)
        return []


def free_port_block(n=3):
    """n consecutive free ports on 127.0.0.1 (the vhost port, then the service ports)."""
    import socket
    for _ in range(200):
        base = free_port()
        socks = []
        try:
            for k in range(n):
                s = socket.socket()
                s.bind(("127.0.0.1", base + k))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port block")


class DifferentialTests(unittest.TestCase):
    def test_runtime_applies_serve_what_fresh_loads_serve(self):
        seeds = [int(s) for s in os.environ.get("DIFF_SEEDS", "1,2").split(",")]
        steps = int(os.environ.get("DIFF_STEPS", "15"))
        for seed in seeds:
            d = Differential(seed, steps)
            try:
                diff = d.run()
            finally:
                d.close()
            print("\n  differential seed %d: %d steps, applied by %s (bundles as edits: %s)" % (
                seed, steps, d.applied_by, d.edits_applied_by), file=sys.stderr)
            self.assertEqual(diff, [], "\n".join(diff[:30]))
            # Both paths ran: a sequence of only reloads would prove nothing.
            self.assertGreater(d.applied_by.get("runtime", 0), 0, d.applied_by)
            self.assertGreater(d.applied_by.get("reload", 0), 0, d.applied_by)
            # Bundles written as edits went live at runtime, planned from the excerpts
            # of their edits (edit_excerpts), serving what a fresh load serves.
            self.assertGreater(d.edits_applied_by.get("runtime/edits", 0), 0,
                               d.edits_applied_by)


class MapTests(unittest.TestCase):
    def test_a_vhost_change_is_routed_at_runtime_without_a_reload(self):
        # With -H a vhost change alters only domain2backend.map: the config is the same
        # bytes, and HAProxy reads maps at load only. It once found nothing to do.
        d = Differential(0, 0)
        try:
            d.model.servers["app1"] = {0: {"inter": "2s", "weight": None, "agent": False,
                                           "disabled": False}}  # a live task
            d.begin()
            before = unix_command(os.path.join(d.a.state, "master.sock"), "show proc")
            d.model.vhosts["c.example"] = "app1"
            del d.model.vhosts["a.example"]
            t0 = time.monotonic()
            v = d.publish()
            routed = wait_until(lambda: answers(d.a.port, "c.example", 1) == ["app1"], 5,
                                step=0.005)
            took = time.monotonic() - t0
            self.assertTrue(routed, d.log("watch.log"))
            self.assertTrue(d.applied(v))
            self.assertEqual(d.status().get("reload_kind"), "runtime")
            self.assertEqual(answers(d.a.port, "a.example", 2), ["503"])
            self.assertEqual(unix_command(os.path.join(d.a.state, "master.sock"), "show proc")
                             .split("\n")[1].split()[2], before.split("\n")[1].split()[2])
            print("\n  vhost change: routed %.0f ms after the bundle" % (took * 1000),
                  file=sys.stderr)
        finally:
            d.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--steps", type=int, default=1000)
    args = ap.parse_args()
    d = Differential(args.seed, args.steps)
    t0 = time.monotonic()
    try:
        diff = d.run(report=lambda step, how: step % 50 == 0 and print(
            "  step %d (%s), %.0f s" % (step, how, time.monotonic() - t0), flush=True))
    finally:
        d.close()
    print("seed %d: %d steps, applied by %s, %d differences, %.0f s" % (
        args.seed, args.steps, d.applied_by, len(diff), time.monotonic() - t0))
    for line in diff[:40]:
        print("  " + line)
    return 1 if diff else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("--seed"):
        sys.exit(main())
    unittest.main(verbosity=2)
