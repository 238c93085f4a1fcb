#!/usr/bin/env python3
"""Chaos soak (prints figures; not a timed test). Loopback only, bounded, ends every
process it started, by pid.

The simulator with stable apps (under continuous load, real backends) and churn apps;
mlb-controller, `mlb-reloader watch` and `mlb-reloader haproxy` with a real HAProxy.
For --seconds: random Marathon faults (every kind the simulator has), scales, task
kills, good and bad label changes, hostile task strings, `kill -9` of the controller
and of the watcher (restarted), and handovers of the haproxy container (a second
entrypoint). With --host-faults (root: mount namespaces, a DNS server on 127.0.0.2:53):
a second instance (controller, watcher, HAProxy; group internal) in its own mount
namespace with its own directory at the same state path, handed over too; a handover to
an HAProxy binary that exits 1; `haproxy -c` killed by SIGKILL for a few seconds (the
watcher's check); a new app whose service port is held by another process; tasks on
named agents (`*.soak.test`) answered by a DNS server that is slow (0.3-1.2 s) most of
the time. Then the chaos stops, bad input is removed, and the final config is compared
with a fresh `mlb render` of the final Marathon state.

Prints: requests, failed requests, publishes, reloads, quarantines, crashes, stale
masters, injected lines, RSS per process (start / peak / end), final == fresh render;
with --host-faults also: masters of either instance stopped while current (signals
across), the named task's absences from the live config, the time from a working check
to the pending version applied.

usage: soak.py [--seconds 600] [--seed 1] [--churn-apps 12] [--host-faults] [--smoke]
       (env or flags: --build DIR with controller/ reloader/ cli/ binaries)
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from testlib import (bundle_config, child_pids, free_port, haproxy_masters, http, http_get, metric,  # noqa: E402
                     stop_all, wait_until)
from soak_host_faults import HostFaults  # noqa: E402

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
FAULTS = ["http500", "html503", "truncated", "empty", "hang", "drop_stream", "silent_stream",
          "health_lost", "redirect"]
BAD_LABELS = [{"HAPROXY_0_BALANCE": "roundrobin\nbind :1"},
              {"HAPROXY_0_PORT": "not-a-port"},
              {"HAPROXY_0_BACKEND_HTTP_OPTIONS": "  bogus-directive on\n"},
              {"HAPROXY_0_VHOST": "a.example.com\n  server evil 127.6.6.6:1"}]
INJECTED = ("evil", "127.6.6.6", "bind :1", "bogus-directive", "backup")

BACKEND_CODE = r"""
import http.server, socketserver, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
for spec in sys.argv[1:]:
    port, name = spec.split(":")
    s = S(("127.0.0.1", int(port)), H)
    s.name = name
    threading.Thread(target=s.serve_forever, daemon=True).start()
threading.Event().wait(7200)
"""


class Load(threading.Thread):
    """Requests to the stable apps' service ports until stopped (bounded: 2 h)."""

    def __init__(self, ports, keepalive):
        super().__init__(daemon=True)
        self.ports, self.keepalive = ports, keepalive
        self.ok = self.failed = 0
        self.errors = []
        self.stop_flag = threading.Event()

    def run(self):
        import http.client
        end = time.monotonic() + 7200
        conns = {}
        i = 0
        while not self.stop_flag.is_set() and time.monotonic() < end:
            port = self.ports[i % len(self.ports)]
            i += 1
            try:
                c = conns.get(port) or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conns[port] = c
                c.request("GET", "/", headers={} if self.keepalive else {"Connection": "close"})
                r = c.getresponse()
                r.read()
                if r.status == 200:
                    self.ok += 1
                else:
                    self.failed += 1
                    self.errors.append("%d: status %d" % (port, r.status))
                if not self.keepalive or r.getheader("Connection", "").lower() == "close":
                    conns.pop(port).close()
            except Exception as e:  # noqa: BLE001 - every failure counts
                self.failed += 1
                self.errors.append("%d: %r" % (port, e))
                if port in conns:
                    conns.pop(port).close()
            time.sleep(0.002)


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.dir = tempfile.mkdtemp(prefix="mlb-soak-")
        self.state = os.path.join(self.dir, "state")
        self.procs = []
        self.crashes = []
        self.killed = set()  # pids we kill -9'd on purpose
        self.expected_exits = set()  # pids meant to fail (a broken HAProxy's handover)
        self.haproxy, self.free_port, self.wait_until = HAPROXY, free_port, wait_until
        self.stale = []
        self.rss = {}  # role -> [start, peak, end] of the role's current process
        self.rss_pid = {}
        self.spawned = {}
        self.counts = {"faults": 0, "scales": 0, "kills": 0, "labels": 0, "bad_labels": 0,
                       "hostile": 0, "ctl_kill9": 0, "watch_kill9": 0, "handovers": 0}
        b = args.build
        self.bins = {"controller": os.path.join(b, "controller", "mlb-controller"),
                     "reloader": os.path.join(b, "reloader", "mlb-reloader"),
                     "mlb": os.path.join(b, "cli", "mlb")}
        self.hf = HostFaults(self) if args.host_faults else None

    # -- processes ---------------------------------------------------------------
    def spawn(self, args, log):
        with open(os.path.join(self.dir, log), "ab") as f:
            p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT)
        self.procs.append(p)
        self.spawned[p.pid] = time.monotonic()
        return p

    def kill9(self, p):
        if p.poll() is None:
            self.killed.add(p.pid)
            p.send_signal(signal.SIGKILL)
            p.wait()

    def check_crashes(self):
        for p in self.procs:
            rc = p.poll()
            if rc is not None and p.pid not in self.killed | self.expected_exits and rc != 0 and \
                    (p.pid, rc) not in self.crashes:
                self.crashes.append((p.pid, rc))

    # -- set-up --------------------------------------------------------------------
    def fixture(self):
        self.stable = ["/stable/s%d" % i for i in range(3)]
        self.churn = ["/churn/c%02d" % i for i in range(self.args.churn_apps)]
        self.svc = {}
        self.pool = []  # backend ports the churn apps' tasks use
        specs = []
        apps = []
        for app_id in self.stable + self.churn:
            self.svc[app_id] = free_port()
        self.ippt_port = free_port()
        for app_id in self.stable:
            ports = [free_port() for _ in range(2)]
            specs += ["%d:%s" % (p, app_id) for p in ports]
            apps.append(self.app(app_id, ports, {"HAPROXY_0_MODE": "http"}))
        for _ in range(12):
            p = free_port()
            self.pool.append(p)
            specs.append("%d:pool%d" % (p, p))
        for app_id in self.churn:
            apps.append(self.app(app_id, self.rng.sample(self.pool, 2),
                                 {"HAPROXY_0_MODE": self.rng.choice(["http", "tcp"])}))
        if self.hf:
            # /stable/s0 has a task on a named agent too; the second instance its own app.
            port = free_port()
            specs.append("%d:%s" % (port, self.stable[0]))
            apps[0]["instances"] += 1
            apps[0]["tasks"].append({"id": "stable-s0.named", "host": "agent1.soak.test",
                                     "state": "TASK_RUNNING", "ports": [port]})
            self.svc["/internal/i0"] = free_port()
            ports = [free_port() for _ in range(2)]
            specs += ["%d:/internal/i0" % p for p in ports]
            apps.append(dict(self.app("/internal/i0", ports, {"HAPROXY_0_MODE": "http"}),
                             labels={"HAPROXY_GROUP": "internal", "HAPROXY_0_MODE": "http"}))
        self.spawn([sys.executable, "-c", BACKEND_CODE] + specs, "backends.log")
        path = os.path.join(self.dir, "apps.json")
        with open(path, "w") as f:
            json.dump({"apps": apps}, f)
        return path

    def app(self, app_id, ports, labels):
        name = app_id.strip("/").replace("/", "-")
        return {"id": app_id, "instances": len(ports),
                "labels": dict(labels, HAPROXY_GROUP="external"),
                "portDefinitions": [{"port": self.svc[app_id]}],
                "tasks": [{"id": "%s.t%d" % (name, i), "host": "127.0.0.1",
                           "state": "TASK_RUNNING", "ports": [p]}
                          for i, p in enumerate(ports)]}

    def start(self):
        apps = self.fixture()
        cert = self.cert = os.path.join(self.dir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        cert, "-out", cert + ".crt", "-days", "2", "-subj", "/CN=soak"],
                       check=True, capture_output=True)
        with open(cert + ".crt") as f, open(cert, "a") as out:
            out.write(f.read())
        self.sim_port = free_port()
        self.sim = self.spawn([sys.executable, os.path.join(HERE, "..", "e2e", "marathon_sim.py"),
                               "--apps", apps, "--listen", "127.0.0.1:%d" % self.sim_port,
                               "--heartbeat", "1"], "sim.log")
        assert wait_until(lambda: http(self.sim_url + "/ping") == "pong", 30), "sim down"
        if self.hf:
            self.hf.prepare()
        self.ctl_port, self.rld_port = free_port(), free_port()
        self.render_flags = ["--group", "external", "--ssl-certs", cert, "--state-dir",
                             self.state, "--maxconn", "2000", "--dont-bind-http-https"]
        self.ctl_args = [self.bins["controller"], "--marathon", self.sim_url,
                         "--listen", "127.0.0.1:%d" % self.ctl_port, "--min-interval", "0.2",
                         "--marathon-timeout", "3", "--sse-silence-timeout", "5",
                         "--confirm-interval", "1"] + self.render_flags
        self.watch_args = [self.bins["reloader"], "watch", "--state-dir", self.state,
                           "--haproxy-bin", self.hf.flaky if self.hf else HAPROXY,
                           "--listen", "127.0.0.1:%d" % self.rld_port,
                           "--min-reload-interval", "0.2", "--recheck-interval", "0.5"]
        if self.hf:
            self.ctl_args = self.hf.in_ns(self.ctl_args)
        self.ctl = self.spawn(self.ctl_args, "controller.log")
        assert wait_until(lambda: http(self.ctl_url + "/readyz").startswith("ready"), 30)
        self.watch = self.spawn(self.watch_args, "watch.log")
        self.master = self.entrypoint()
        for app_id in self.stable:
            assert wait_until(lambda a=app_id: self.get(a) == a, 30), "%s not routed" % app_id
        if self.hf:
            self.hf.start_second_instance()
            assert wait_until(lambda: self.get("/internal/i0") == "/internal/i0", 30), \
                "the second instance does not serve"

    def entrypoint(self):
        self.counts["handovers"] += 1
        return self.spawn([self.bins["reloader"], "haproxy", "--state-dir", self.state,
                           "--haproxy-bin", HAPROXY, "--listen", "127.0.0.1:%d" % free_port()],
                          "haproxy.log")

    @property
    def sim_url(self):
        return "http://127.0.0.1:%d" % self.sim_port

    @property
    def ctl_url(self):
        return "http://127.0.0.1:%d" % self.ctl_port

    def get(self, app_id):
        return http_get("127.0.0.1:%d" % self.svc[app_id], timeout=2)[1]

    def versions(self):
        """(current, applied) of the first instance."""
        try:
            cur = os.path.basename(os.readlink(os.path.join(self.state, "current")))
            with open(os.path.join(self.state, "status.json")) as f:
                return cur, json.load(f).get("applied_version")
        except (OSError, ValueError):
            return None, None

    def sim_call(self, action, body):
        try:
            http(self.sim_url + "/_sim/" + action, body)
        except OSError:
            pass

    # -- chaos ---------------------------------------------------------------------
    def act(self):
        if self.hf and self.rng.random() < 0.3:
            self.hf.act(self.rng)
            return
        r = self.rng.random()
        app = self.rng.choice(self.churn)
        if r < 0.12:
            self.counts["faults"] += 1
            self.sim_call("fault", {"kind": self.rng.choice(FAULTS),
                                    "count": self.rng.randint(1, 3)})
        elif r < 0.35:
            self.counts["scales"] += 1
            n = self.rng.randint(1, 3)
            self.sim_call("scale", {"app": app, "instances": n,
                                    "ports": [[p] for p in self.rng.sample(self.pool, 3)]})
        elif r < 0.45:
            self.counts["kills"] += 1
            self.sim_call("kill_task", {"app": app})
        elif r < 0.60:
            self.counts["labels"] += 1
            target = self.rng.choice(self.stable + self.churn)
            self.sim_call("labels", {"app": target, "labels": {
                "HAPROXY_0_BALANCE": self.rng.choice(["roundrobin", "leastconn"]),
                "HAPROXY_0_PORT": None, "HAPROXY_0_BACKEND_HTTP_OPTIONS": None,
                "HAPROXY_0_VHOST": None}})
        elif r < 0.72:
            self.counts["bad_labels"] += 1
            self.sim_call("labels", {"app": app, "labels": self.rng.choice(BAD_LABELS)})
        elif r < 0.80:
            self.counts["hostile"] += 1
            self.hostile_task(app)
        elif r < 0.87:
            self.counts["ctl_kill9"] += 1
            self.kill9(self.ctl)
            time.sleep(self.rng.uniform(0.1, 1.0))
            self.ctl = self.spawn(self.ctl_args, "controller.log")
        elif r < 0.94:
            self.counts["watch_kill9"] += 1
            self.kill9(self.watch)
            time.sleep(self.rng.uniform(0.1, 1.0))
            self.watch = self.spawn(self.watch_args, "watch.log")
        else:
            old, self.master = self.master, self.entrypoint()
            try:
                old.wait(30)
            except subprocess.TimeoutExpired:
                self.stale.append(old.pid)

    def hostile_task(self, app):
        """A task string that would add a config line if copied verbatim: in a task's
        host, or in the IP-per-task address of an app (Marathon's ipAddresses)."""
        hostile = "127.0.0.9:1 check\n  server evil 127.6.6.6"
        if self.rng.random() < 0.5:
            host = self.rng.choice([hostile, "localhost", "no-such-host.invalid",
                                    "127.0.0.1 backup"])
            self.sim_call("add_task", {"app": app, "host": host,
                                       "ports": [self.rng.choice(self.pool)]})
            return
        self.sim_call("set_app", {"app": {
            "id": "/churn/ip-per-task", "instances": 1,
            "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": str(self.ippt_port)},
            "ipAddress": {"discovery": {"ports": [{"number": self.rng.choice(self.pool),
                                                   "name": "http", "protocol": "tcp"}]}},
            "portDefinitions": [],
            "tasks": [{"id": "ippt.t0", "host": "127.0.0.1", "state": "TASK_RUNNING",
                       "ports": [], "ipAddresses": [{"ipAddress": self.rng.choice(
                           [hostile, "127.0.0.1", "::1", "not-an-ip"]), "protocol": "IPv4"}]}]}})

    def sample_rss(self):
        """RSS per role, of the role's current process (a restarted controller or
        watcher, or a new haproxy container, starts its own figures once 3 s old)."""
        roles = {"controller": self.ctl, "watch": self.watch, "haproxy": self.master}
        for role, p in roles.items():
            if time.monotonic() - self.spawned.get(p.pid, 0) < 3:
                continue
            pids = [p.pid] + (child_pids(p.pid) if role == "haproxy" else [])
            kb = sum(rss_kb(x) for x in pids)
            if not kb:
                continue
            if self.rss_pid.get(role) != p.pid:
                self.rss_pid[role] = p.pid
                self.rss[role] = [kb, kb, kb]
            r = self.rss[role]
            r[1] = max(r[1], kb)
            r[2] = kb

    # -- the end -------------------------------------------------------------------
    def settle(self):
        if self.hf:
            self.hf.settle()
        self.sim_call("fault", {"kind": "none"})
        for app in self.churn:
            self.sim_call("labels", {"app": app, "labels": {
                "HAPROXY_0_PORT": None, "HAPROXY_0_BACKEND_HTTP_OPTIONS": None,
                "HAPROXY_0_VHOST": None, "HAPROXY_0_BALANCE": "roundrobin"}})

        def converged():
            cur = os.path.basename(os.readlink(os.path.join(self.state, "current")))
            with open(os.path.join(self.state, "status.json")) as f:
                return json.load(f).get("applied_version") == cur and cur
        stable_since, last = time.monotonic(), None
        end = time.monotonic() + 60
        while time.monotonic() < end:
            v = wait_until(converged, 5)
            if v != last:
                stable_since, last = time.monotonic(), v
            elif v and time.monotonic() - stable_since > 4:
                return True
            time.sleep(0.3)
        return False

    def fresh_render_matches(self):
        apps = http(self.sim_url + "/v2/apps?embed=apps.tasks", timeout=10)
        path = os.path.join(self.dir, "final-apps.json")
        with open(path, "w") as f:
            f.write(apps)
        out = os.path.join(self.dir, "fresh")
        cmd = [self.bins["mlb"], "render", "--apps", path, "--out", out,
               "--haproxy-dir", self.state + "/live"] + self.render_flags
        r = subprocess.run(self.hf.in_ns(cmd) if self.hf else cmd,
                           capture_output=True, text=True, timeout=60)
        current = bundle_config(os.path.join(self.state, "current"))
        with open(os.path.join(out, "haproxy.cfg")) as f:
            fresh = f.read()
        if fresh != current:
            with open(os.path.join(self.dir, "render.stderr"), "w") as f:
                f.write(r.stderr)
        return fresh == current

    def instance_masters(self):
        return haproxy_masters(self.state)

    def run(self):
        self.start()
        served = self.stable + (["/internal/i0"] if self.hf else [])
        loads = [Load([self.svc[a] for a in served], False),
                 Load([self.svc[a] for a in served], True)]
        for l in loads:
            l.start()
        t0 = time.monotonic()
        next_rss = t0 + 5  # the first sample ("start") once HAProxy is warm under load
        while time.monotonic() - t0 < self.args.seconds:
            self.act()
            self.check_crashes()
            if self.hf:
                self.hf.check()
            if time.monotonic() >= next_rss:
                self.sample_rss()
                next_rss = time.monotonic() + 5
            time.sleep(self.rng.uniform(0.3, 1.5))
        settled = self.settle()
        self.sample_rss()
        for l in loads:
            l.stop_flag.set()
            l.join(10)
        self.check_crashes()
        try:
            ctl_metrics = http(self.ctl_url + "/metrics")
            rld_metrics = http("http://127.0.0.1:%d/metrics" % self.rld_port)
        except OSError:
            ctl_metrics = rld_metrics = ""
        with open(os.path.join(self.state, "live", "haproxy.cfg")) as f:
            live = f.read()
        injected = [line for line in live.splitlines() if any(s in line for s in INJECTED)]
        with open(os.path.join(self.dir, "controller.log")) as f:
            quarantines = f.read().count('msg="app quarantined"')
        self.report(loads, settled, ctl_metrics, rld_metrics, injected, quarantines)
        return loads, injected, settled

    def report(self, loads, settled, ctl_metrics, rld_metrics, injected, quarantines):
        ok = sum(l.ok for l in loads)
        failed = sum(l.failed for l in loads)
        print("soak: %d s, seed %d, %d stable + %d churn apps" % (
            self.args.seconds, self.args.seed, len(self.stable), len(self.churn)))
        print("  chaos: %s" % " ".join("%s=%d" % kv for kv in sorted(self.counts.items())))
        print("  requests %d, failed %d%s" % (ok + failed, failed,
                                               (" e.g. %s" % loads[0].errors[:3] +
                                                str(loads[1].errors[:3])) if failed else ""))
        print("  publishes (last controller) %d, reloads %d, runtime changes %d (last watcher), "
              "quarantine log lines %d" % (
                  metric(ctl_metrics, "mlb_controller_publishes_total") or 0,
                  metric(rld_metrics, "mlb_reloader_reloads_total",
                         {"kind": "reload", "result": "success"}) or 0,
                  metric(rld_metrics, "mlb_reloader_reloads_total",
                         {"kind": "runtime", "result": "success"}) or 0,
                  quarantines))
        print("  crashes %d %s, stale masters %d (now %d masters), injected lines %d %s" % (
            len(self.crashes), self.crashes, len(self.stale), len(self.instance_masters()),
            len(injected), injected[:3]))
        for role, (a, b, c) in sorted(self.rss.items()):
            print("  rss %-10s start %6d KB  peak %6d KB  end %6d KB  (end/start %.2f)" % (
                role, a, b, c, c / a if a else 0))
        if self.hf:
            self.hf.report()
        self.final_equal = settled and self.fresh_render_matches()
        print("  converged %s, final config == fresh mlb render: %s" % (
            settled, self.final_equal))

    def close(self):
        if self.hf:
            self.hf.close()
        stop_all(self.procs, 15)
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("  kept: %s" % self.dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--churn-apps", type=int, default=12)
    ap.add_argument("--build", default=os.environ.get("MLB_BUILD", "build"))
    ap.add_argument("--smoke", action="store_true", help="45 s; exit 1 unless all is clean")
    ap.add_argument("--host-faults", action="store_true",
                    help="the faults of the host too (root: a second instance, DNS, ...)")
    ap.add_argument("--keep", action="store_true", help="keep the state dir and logs")
    args = ap.parse_args()
    if args.smoke:
        args.seconds = 45
    s = Soak(args)
    try:
        loads, injected, settled = s.run()
    finally:
        s.close()
    clean = (not s.crashes and not s.stale and not injected and settled and s.final_equal and
             sum(l.failed for l in loads) == 0 and (not s.hf or s.hf.clean()))
    print("SOAK %s" % ("CLEAN" if clean else "NOT CLEAN"))
    return 0 if clean or not args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
