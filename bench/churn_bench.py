#!/usr/bin/env python3
"""Task churn benchmark (prints figures; not a timed test). Loopback only, bounded,
ends every process it started, by pid.

The simulator serves N generated apps (`gen_fixture.py --loopback`: every agent in
127.0.0.0/8), three of them backed by real servers under continuous load; the
controller, `mlb-reloader watch` and `mlb-reloader haproxy` with a real HAProxy.
Then K task events (scale up, scale down, replace, health down, health up) on the
generated apps, one at a time (`--gap` apart), each timed from the simulator call
that makes the change (lookups done before) to the new bundle applied by the
reloader. Two phases in one run, side by side: the Runtime API path
(default) and the reload path (`mlb-reloader watch --no-runtime`).

Prints per phase: event->live p50/p99, CPU-s per event of all mlb and HAProxy
processes (background measured over an idle period under the same load and
subtracted), controller passes, reloads, HAProxy workers (at the end and the most seen
after any event), failed requests.

usage: churn_bench.py [--apps 1000] [--events 200] [--seed 1] [--build build]
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
from soak import BACKEND_CODE, Load  # noqa: E402
from testlib import (child_pids, free_port, http, http_get, metric, stop_all,  # noqa: E402
                     unix_command, wait_until)

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, with_children=True):
    """utime+stime (+ reaped children's) of pid, in seconds; 0 when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            f = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if with_children else 0)
    return ticks / TICKS


class Bench:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.dir = tempfile.mkdtemp(prefix="mlb-churn-")
        self.state = os.path.join(self.dir, "state")
        self.procs = []
        b = args.build
        self.controller = os.path.join(b, "controller", "mlb-controller")
        self.reloader = os.path.join(b, "reloader", "mlb-reloader")

    def spawn(self, argv, log):
        with open(os.path.join(self.dir, log), "ab") as f:
            p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def sim(self, action, body):
        http("http://127.0.0.1:%d/_sim/%s" % (self.sim_port, action), body, timeout=10)

    def setup(self):
        fixture = os.path.join(self.dir, "apps.json")
        subprocess.run([sys.executable, os.path.join(HERE, "gen_fixture.py"), "--apps",
                        str(self.args.apps), "--seed", str(self.args.seed), "--loopback",
                        "--compact", "--out", fixture], check=True, capture_output=True)
        with open(fixture) as f:
            apps = json.load(f)["apps"]
        self.apps = apps
        self.churn = [a["id"] for a in apps if self.churnable(a)]
        self.checked = {a["id"] for a in apps if a.get("healthChecks")}
        # Three apps backed by real servers, under load through their service ports.
        self.svc, specs = [], []
        for i in range(3):
            port, svc = free_port(), free_port()
            specs.append("%d:stable%d" % (port, i))
            self.svc.append(svc)
            apps.append({"id": "/bench/stable%d" % i, "instances": 1,
                         "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_MODE": "http"},
                         "portDefinitions": [{"port": svc}],
                         "tasks": [{"id": "stable%d.t0" % i, "host": "127.0.0.1",
                                    "state": "TASK_RUNNING", "ports": [port]}]})
        # Per check interval, an app whose tasks are real servers answering their own
        # name, under load: what each task event does to the traffic.
        self.traffic = {}
        for inter in self.args.traffic_inter:
            pool = [free_port() for _ in range(TRAFFIC_POOL)]
            specs += ["%d:p%d" % (p, p) for p in pool]
            app_id, svc = "/bench/traffic%d" % inter, free_port()
            self.traffic[inter] = {"app": app_id, "svc": svc, "pool": pool}
            apps.append({"id": app_id, "instances": 2,
                         "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_MODE": "http"},
                         "portDefinitions": [{"port": svc}],
                         "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0,
                                           "intervalSeconds": inter, "timeoutSeconds": 2,
                                           "maxConsecutiveFailures": 3,
                                           "gracePeriodSeconds": 5}],
                         "tasks": [{"id": "traffic%d.p%d" % (inter, p), "host": "127.0.0.1",
                                    "state": "TASK_RUNNING", "ports": [p],
                                    "healthCheckResults": [{"alive": True}]}
                                   for p in pool[:2]]})
        with open(fixture, "w") as f:
            json.dump({"apps": apps}, f)
        self.spawn([sys.executable, "-c", BACKEND_CODE] + specs, "backends.log")
        port_file = os.path.join(self.dir, "sim.port")
        self.spawn([sys.executable, os.path.join(HERE, "..", "e2e", "marathon_sim.py"),
                    "--apps", fixture, "--listen", "127.0.0.1:0", "--port-file", port_file,
                    "--heartbeat", "5"], "sim.log")
        assert wait_until(lambda: os.path.getsize(port_file) > 0, 60), "simulator down"
        with open(port_file) as f:
            self.sim_port = int(f.read())
        cert = os.path.join(self.dir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        cert, "-out", cert + ".crt", "-days", "2", "-subj", "/CN=b"],
                       check=True, capture_output=True)
        with open(cert + ".crt") as f, open(cert, "a") as out:
            out.write(f.read())
        self.ctl_port = free_port()
        self.ctl = self.spawn([self.controller, "--marathon", "http://127.0.0.1:%d" % self.sim_port,
                               "--group", "external", "--health-check", "--ssl-certs", cert,
                               "--state-dir", self.state, "--maxconn", "4000",
                               "--dont-bind-http-https", "--min-interval", "0.05",
                               "--listen", "127.0.0.1:%d" % self.ctl_port], "controller.log")
        assert wait_until(lambda: os.path.exists(os.path.join(self.state, "current")), 120)
        # Apps the controller quarantines (e.g. a certificate file this machine lacks)
        # are not in the config: an event on them changes nothing.
        status = json.loads(http("http://127.0.0.1:%d/v1/status" % self.ctl_port))
        out = {q["app_id"] for q in status.get("quarantined", [])}
        self.churn = [a for a in self.churn if a not in out]
        self.master = self.spawn([self.reloader, "haproxy", "--state-dir", self.state,
                                  "--haproxy-bin", HAPROXY, "--listen",
                                  "127.0.0.1:%d" % free_port()], "haproxy.log")
        self.start_watch([])
        for svc in self.svc:
            assert wait_until(lambda s=svc: http_get("127.0.0.1:%d" % s)[0] == 200, 120), \
                "stable app not routed"

    # Balance algorithms HAProxy 2.6 cannot add servers to at runtime (map-based:
    # static weights or hashing without `hash-type consistent`): those apps reload.
    MAP_BASED = ("static-rr", "source", "uri", "url_param", "hdr(", "rdp-cookie")

    @classmethod
    def churnable(cls, app):
        """Exposed host-networking apps with at least two ported tasks (so that no event
        empties a backend: a service without servers leaves the config, a structural
        change), outside blue/green pairs, without cookie persistence or map-based
        balancing (HAProxy 2.6 cannot add servers to those at runtime: they reload, by
        design; `unsupported()` counts them)."""
        labels = app.get("labels") or {}
        tasks = app.get("tasks") or []
        # A task failing its health check is not rendered: killing it changes nothing.
        healthy = all(r.get("alive", True) for t in tasks for r in t.get("healthCheckResults", []))
        return (healthy and labels.get("HAPROXY_GROUP") == "external" and len(tasks) >= 2 and
                not cls.unsupported(app) and
                all(t.get("ports") for t in tasks) and not app.get("ipAddress") and
                "HAPROXY_DEPLOYMENT_GROUP" not in labels and
                all(n.get("mode") == "host" for n in app.get("networks") or [{"mode": "host"}]))

    @classmethod
    def unsupported(cls, app):
        """Why a task change of this app reloads by design, or None."""
        labels = app.get("labels") or {}
        if any(k.endswith("_STICKY") and v.lower() == "true" for k, v in labels.items()):
            return "cookie persistence"
        if any(k.endswith("_BALANCE") and v.strip().lower().startswith(cls.MAP_BASED)
               for k, v in labels.items()):
            return "map-based balancing"
        return None

    def start_watch(self, extra):
        self.watch = self.spawn([self.reloader, "watch", "--state-dir", self.state,
                                 "--haproxy-bin", HAPROXY, "--listen",
                                 "127.0.0.1:%d" % free_port(), "--min-reload-interval", "0.05",
                                 "--recheck-interval", "0.5"] + extra, "watch.log")
        assert wait_until(self.converged, 120), "watcher did not apply the bundle"

    def current(self):
        return os.path.basename(os.readlink(os.path.join(self.state, "current")))

    def applied(self):
        with open(os.path.join(self.state, "status.json")) as f:
            return json.load(f).get("applied_version")

    def converged(self):
        return self.applied() == self.current()

    def passes(self):
        """Controller passes: (all, published, full fetches, nothing rebuilt)."""
        text = http("http://127.0.0.1:%d/metrics" % self.ctl_port)
        return (metric(text, "mlb_controller_syncs_total") or 0,
                metric(text, "mlb_controller_publishes_total") or 0,
                metric(text, "mlb_controller_syncs_total", {"fetch": "full"}) or 0,
                metric(text, "mlb_controller_syncs_total", {"fetch": "apps_unchanged"}) or 0,
                metric(text, "mlb_controller_sync_duration_seconds_sum") or 0)

    def reloads(self):
        out = unix_command(os.path.join(self.state, "master.sock"), "show proc")
        for line in out.splitlines():
            w = line.split()
            if len(w) > 2 and w[1] == "master":
                return int(w[2])
        return 0

    def cpu(self):
        """CPU-s so far of (controller, watcher, HAProxy master and workers)."""
        haproxy = cpu_seconds(self.master.pid)
        haproxy += sum(cpu_seconds(c, False) for c in child_pids(self.master.pid))
        return [cpu_seconds(self.ctl.pid), cpu_seconds(self.watch.pid), haproxy]

    def events(self):
        """K events as (action, body) lists; scale up/down and health down/up pair
        up on one app so that the state comes back."""
        out = []
        while len(out) < self.args.events:
            app = self.rng.choice(self.churn)
            out.append([("scale", {"app": app, "instances": "+1"})])
            out.append([("scale", {"app": app, "instances": "-1"})])
            out.append([("add_task", {"app": app, "host": "127.0.0.1", "ports": [free_port()]}),
                        ("kill_task", {"app": app, "task": "first"})])  # a replacement
            if app in self.checked:  # one task fails its health check, then passes again
                out.append([("health", {"app": app, "task": "alive", "alive": False})])
                out.append([("health", {"app": app, "task": "flipped", "alive": True})])
        return out[:self.args.events]

    def instances(self, app):
        a = json.loads(http("http://127.0.0.1:%d/v2/apps%s" % (self.sim_port, app)))["app"]
        return a["instances"]

    def prepare(self, calls):
        """The simulator calls of one event with every lookup done (so that the timed
        part is the change alone)."""
        out = []
        for action, body in calls:
            body = dict(body)
            if action == "scale":
                body["instances"] = self.instances(body["app"]) + int(body["instances"])
                body["host"] = "127.0.0.1"
            if action == "kill_task" and body.get("task") == "first":
                body["task"] = self.first_task(body["app"])  # an old task, not the new one
            if action == "health" and body["task"] == "alive":
                # One routed task (all its health results alive), not the whole app.
                body["task"] = self.flipped = self.first_task(body["app"], alive=True)
            elif action == "health":
                body["task"] = self.flipped  # the task the previous event failed
            out.append((action, body))
        return out

    def first_task(self, app, alive=False):
        a = json.loads(http("http://127.0.0.1:%d/v2/apps%s?embed=app.tasks" % (
            self.sim_port, app)))["app"]
        tasks = a.get("tasks") or []
        if alive:  # with health results, all alive (a task without any is not routed)
            tasks = [t for t in tasks if t.get("healthCheckResults") and
                     all(r.get("alive") for r in t["healthCheckResults"])]
        return tasks[0]["id"] if tasks else None

    def phase(self, name, events):
        loads = [Load(self.svc, False), Load(self.svc, True)]
        for l in loads:
            l.start()
        time.sleep(1)
        c0, t0 = self.cpu(), time.monotonic()
        time.sleep(5)
        background = [(b - a) / (time.monotonic() - t0) for a, b in zip(c0, self.cpu())]
        reloads0, passes0, c1, t1 = self.reloads(), self.passes(), self.cpu(), time.monotonic()
        lat, missed, most_workers = [], 0, 0
        for calls in self.events()[:events]:
            time.sleep(self.args.gap)
            prepared = self.prepare(calls)
            before = self.current()
            start = time.monotonic()
            for action, body in prepared:
                self.sim(action, body)
            ok = wait_until(lambda: self.current() != before and self.converged(), 8, 0.002)
            most_workers = max(most_workers, len(child_pids(self.master.pid)))
            if ok:
                lat.append(time.monotonic() - start)
            else:
                missed += 1
                print("  not live in 8 s: %s" % json.dumps(calls), file=sys.stderr, flush=True)
        elapsed = time.monotonic() - t1
        used = [max(0.0, b - a - bg * elapsed) for a, b, bg in zip(c1, self.cpu(), background)]
        n = max(1, len(lat) + missed)
        reloads = self.reloads() - reloads0
        passes = [b - a for a, b in zip(passes0, self.passes())]
        workers = len(child_pids(self.master.pid))
        for l in loads:
            l.stop_flag.set()
            l.join(10)
        failed = sum(l.failed for l in loads)
        total = sum(l.ok for l in loads) + failed
        lat.sort()
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")  # noqa
        print("%-8s events %d (not live in 8 s: %d)  event->live p50 %.0f ms  p99 %.0f ms  "
              "CPU %.4f s/event (controller %.4f, watcher %.4f, HAProxy %.4f)  controller passes "
              "%d (published %d, full fetch %d, nothing rebuilt %d; %.1f ms per event)  reloads %d  HAProxy workers %d (most at once %d)  requests %d  failed %d" % (
                  name, n, missed, p(0.5), p(0.99), sum(used) / n, used[0] / n, used[1] / n,
                  used[2] / n, passes[0], passes[1], passes[2], passes[3], passes[4] * 1000 / n, reloads, workers, most_workers, total, failed), flush=True)

    def app_tasks(self, app):
        """task id -> its port, as the simulator has them now."""
        a = json.loads(http("http://127.0.0.1:%d/v2/apps%s?embed=app.tasks" % (
            self.sim_port, app)))["app"]
        return {t["id"]: t["ports"][0] for t in a.get("tasks") or []}

    def traffic_events(self, t, n):
        """n task events on the traffic app, cycling through the kinds; each is
        (kind, calls, the port of the task it brings in or None, the port it takes
        out or None), looked up before it is timed."""
        kinds = ("scale up", "scale down", "kill", "replace", "health down", "health up")
        out, down = [], None
        for i in range(n):
            kind = kinds[i % len(kinds)]
            tasks = self.app_tasks(t["app"])
            by_port = {p: tid for tid, p in tasks.items()}
            free = [p for p in t["pool"] if p not in by_port]
            victim = sorted(tasks)[0]
            if kind in ("scale up", "replace"):
                port = self.rng.choice(free)
                calls = [("add_task", {"app": t["app"], "host": "127.0.0.1", "ports": [port]})]
                if kind == "replace":  # rolling restart: the old task goes once the new is up
                    calls.append(("kill_task", {"app": t["app"], "task": victim}))
                yield kind, calls, port, tasks[victim] if kind == "replace" else None
            elif kind in ("scale down", "kill"):
                if len(tasks) < (3 if kind == "scale down" else 2):
                    continue  # the app is never left without a task
                yield kind, [("kill_task", {"app": t["app"], "task": victim})], None, tasks[victim]
                if kind == "kill":  # Marathon starts a replacement
                    port = self.rng.choice([p for p in free])
                    yield "kill", [("add_task", {"app": t["app"], "host": "127.0.0.1",
                                                 "ports": [port]})], port, None
            elif kind == "health down":
                down = victim
                yield kind, [("health", {"app": t["app"], "task": down, "alive": False})], \
                    None, tasks[down]
            elif down:
                yield kind, [("health", {"app": t["app"], "task": down, "alive": True})], \
                    tasks[down], None

    def traffic_phase(self, inter, n):
        t = self.traffic[inter]
        load = TaskLoad(t["svc"])
        load.start()
        time.sleep(2)
        rows = {}
        for kind, calls, new_port, gone_port in self.traffic_events(t, n):
            time.sleep(self.args.traffic_gap)
            start = time.monotonic()
            for action, body in calls:
                self.sim(action, body)
            time.sleep(self.args.traffic_gap)
            r = rows.setdefault(kind, {"new": [], "gone": [], "failed": 0, "n": 0})
            r["n"] += 1
            seen = load.since(start)
            r["failed"] += sum(1 for _, name in seen if name is None)
            if new_port:
                first = next((ts for ts, name in seen if name == "p%d" % new_port), None)
                r["new"].append(first - start if first else float("inf"))
            if gone_port:
                last = max((ts for ts, name in seen if name == "p%d" % gone_port), default=start)
                r["gone"].append(last - start)
        load.stop_flag.set()
        load.join(10)
        med = lambda xs: statistics.median(xs) * 1000 if xs else float("nan")  # noqa: E731
        for kind, r in rows.items():
            print("traffic inter %2ds  %-11s events %2d  event->new task serving p50 %6.0f ms  "
                  "event->removed task's last request p50 %6.0f ms  failed %d" % (
                      inter, kind, r["n"], med(r["new"]), med(r["gone"]), r["failed"]),
                  flush=True)
        print("traffic inter %2ds  requests %d failed %d" % (inter, load.total, load.failures),
              flush=True)

    def run(self):
        self.setup()
        reasons = {}
        for a in self.apps:
            why = self.unsupported(a)
            if why and (a.get("labels") or {}).get("HAPROXY_GROUP") == "external":
                reasons[why] = reasons.get(why, 0) + 1
        print("churn_bench: %d apps (%d churnable; reloading by design, not churned: %s), "
              "%d events per phase, seed %d" % (
                  self.args.apps, len(self.churn),
                  ", ".join("%d with %s" % (n, w) for w, n in sorted(reasons.items())) or "none",
                  self.args.events, self.args.seed), flush=True)
        for inter in self.args.traffic_inter:
            self.traffic_phase(inter, self.args.traffic_events)
        if self.args.events:
            self.phase("runtime", self.args.events)
        stop_all([self.watch])
        self.start_watch(["--no-runtime"])
        if self.args.reload_events >= 0:
            self.phase("reload", self.args.reload_events or self.args.events)

    def close(self):
        stop_all(self.procs, 15)
        if self.args.keep:
            print("kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


TRAFFIC_POOL = 12


class TaskLoad(threading.Thread):
    """Requests to one service port, a new connection each, until stopped (bounded:
    2 h): when each was answered and by which task (None: failed)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.log = []
        self.stop_flag = threading.Event()

    def run(self):
        import http.client
        end = time.monotonic() + 7200
        while not self.stop_flag.is_set() and time.monotonic() < end:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                c.request("GET", "/", headers={"Connection": "close"})
                r = c.getresponse()
                body = r.read().decode()
                self.log.append((time.monotonic(), body if r.status == 200 else None))
            except Exception:  # noqa: BLE001 - every failure counts
                self.log.append((time.monotonic(), None))
            finally:
                c.close()
            time.sleep(0.002)

    def since(self, start):
        return [(ts, name) for ts, name in list(self.log) if ts >= start]

    @property
    def total(self):
        return len(self.log)

    @property
    def failures(self):
        return sum(1 for _, name in self.log if name is None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", type=int, default=1000)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reload-events", type=int, default=0,
                    help="events of the reload phase (default: --events; each costs a reload; "
                    "-1 skips the phase)")
    ap.add_argument("--gap", type=float, default=0.1,
                    help="idle seconds before each event (more than the controller's "
                    "--min-interval: events measured one by one, not as a burst)")
    ap.add_argument("--traffic-inter", type=lambda v: [int(x) for x in v.split(",") if x],
                    default=[2, 60], help="check intervals (s) of the traffic apps: per "
                    "event kind, event -> new task serving, -> removed task's last request, "
                    "failed requests ('' skips)")
    ap.add_argument("--traffic-events", type=int, default=24)
    ap.add_argument("--traffic-gap", type=float, default=1.5,
                    help="seconds before and after each traffic event")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument("--build", default=os.environ.get("MLB_BUILD", "build"))
    args = ap.parse_args()
    b = Bench(args)
    try:
        b.run()
    finally:
        b.close()


if __name__ == "__main__":
    main()
