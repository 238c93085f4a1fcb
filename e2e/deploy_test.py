#!/usr/bin/env python3
"""`mlb deploy` end to end, under load: the Marathon simulator (write API, gradual
deployments, health results after a grace period, a real backend per task),
mlb-controller, mlb-reloader watch + the HAProxy entrypoint, and continuous requests
to the app's vhost (:80) and service port while `mlb deploy` moves it between colours.
Every scenario must lose 0 requests. Every process started here is ended here, by pid.

usage: deploy_test.py  (env: CONTROLLER, RELOADER, MLB, HAPROXY; DEPLOY_KEEP=1 keeps logs)
"""
import collections
import csv
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from nack_test import distinct_free_ports
from testlib import Load, free_port, http as fetch, http_get, metric, stop_all, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
CONTROLLER = os.environ.get("CONTROLLER", "build/controller/mlb-controller")
RELOADER = os.environ.get("RELOADER", "build/reloader/mlb-reloader")
MLB = os.environ.get("MLB", "build/cli/mlb")
HAPROXY = os.environ.get("HAPROXY", shutil.which("haproxy") or "/usr/sbin/haproxy")
VHOST = "web.deploy.test"


class DeployStack:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mlb-deploy-")
        self.state = os.path.join(self.dir, "state")
        self.procs = []
        self.svc, self.alt, self.stream_port = distinct_free_ports(3)
        try:
            self.start()
        except BaseException:
            self.close()
            raise

    def spawn(self, args, log, **kw):
        with open(os.path.join(self.dir, log), "ab") as f:
            p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, **kw)
        self.procs.append(p)
        return p

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    @property
    def sim_url(self):
        return "http://127.0.0.1:%d" % self.sim_port

    def start(self):
        cert = os.path.join(self.dir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        cert, "-out", cert + ".crt", "-days", "2", "-subj", "/CN=t"],
                       check=True, capture_output=True)
        with open(cert + ".crt") as f, open(cert, "a") as out:
            out.write(f.read())
        port_file = os.path.join(self.dir, "sim.port")
        self.spawn([sys.executable, os.path.join(HERE, "marathon_sim.py"), "--listen",
                    "127.0.0.1:0", "--port-file", port_file, "--heartbeat", "0.5", "--backends",
                    "--deploy-delay", "0.2", "--health-grace", "0.5"], "sim.log")
        assert wait_until(lambda: os.path.getsize(port_file) > 0, 30), self.log("sim.log")
        with open(port_file) as f:
            self.sim_port = int(f.read())
        # Another app, for the long-lived connection.
        fetch(self.sim_url + "/v2/apps", {
            "id": "/stream", "cmd": "serve", "instances": 1,
            "portDefinitions": [{"port": self.stream_port}],
            "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_MODE": "http"}})
        self.ctl_port, self.rld_port = free_port(), free_port()
        self.controller = self.spawn([CONTROLLER, "--marathon", self.sim_url, "--group", "external",
                    "--health-check", "--ssl-certs", cert, "--state-dir", self.state,
                    "--listen", "127.0.0.1:%d" % self.ctl_port, "--maxconn", "2000",
                    "--min-interval", "0.05"], "controller.log")
        assert wait_until(lambda: fetch("http://127.0.0.1:%d/readyz" % self.ctl_port)
                          .startswith("ready"), 30), self.log("controller.log")
        self.spawn([RELOADER, "watch", "--state-dir", self.state, "--haproxy-bin", HAPROXY,
                    "--listen", "127.0.0.1:%d" % self.rld_port, "--min-reload-interval", "0.2",
                    "--recheck-interval", "0.3"], "reloader.log")
        # HAProxy's /_haproxy_getpids on :9090 asks the reloader (mlb.lua).
        env = dict(os.environ, MLB_RELOADER_URL="http://127.0.0.1:%d" % self.rld_port,
                   MLB_CONTROLLER_URL="http://127.0.0.1:%d" % self.ctl_port)
        self.spawn([RELOADER, "haproxy", "--state-dir", self.state, "--haproxy-bin", HAPROXY,
                    "--listen", "127.0.0.1:%d" % free_port()], "haproxy.log", env=env)
        assert wait_until(lambda: self.get(self.stream_port) == "/stream", 30), \
            self.log("reloader.log")
        # /_haproxy_getpids answers (mlb.lua asks the reloader): the master and, once the
        # start-up reload's old worker is gone, one worker.
        assert wait_until(lambda: len(fetch("http://127.0.0.1:9090/_haproxy_getpids")
                                      .split()) == 2, 30), self.log("reloader.log")

    def get(self, port, host=None, path="/", timeout=5):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            c.request("GET", path, headers={"Host": host} if host else {})
            r = c.getresponse()
            body = r.read().decode().strip()
            return body if r.status == 200 else None
        finally:
            c.close()

    def definition(self, version, bridge=False, **extra_env):
        """The app as marathon-lb's docs show it: host networking with portDefinitions,
        or (bridge) Marathon 1.5's shape: container portMappings on container/bridge."""
        ports = {"portDefinitions": [{"port": self.svc, "protocol": "tcp"}]}
        if bridge:
            ports = {"container": {"type": "DOCKER", "docker": {"image": "web"},
                                   "portMappings": [{"containerPort": 8080, "hostPort": 0,
                                                     "servicePort": self.svc,
                                                     "protocol": "tcp"}]},
                     "networks": [{"mode": "container/bridge"}]}
        app = {"id": "/web", "cmd": "serve", "instances": 3,
               "env": dict({"VERSION": version}, **extra_env),
               "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0,
                                 "gracePeriodSeconds": 5, "intervalSeconds": 2}],
               "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": VHOST,
                          "HAPROXY_DEPLOYMENT_GROUP": "web",
                          "HAPROXY_DEPLOYMENT_ALT_PORT": str(self.alt)}}
        app.update(ports)
        path = os.path.join(self.dir, "web-%s.json" % version)
        with open(path, "w") as f:
            json.dump(app, f)
        return path

    def deploy(self, path, *flags, wait=True):
        args = [MLB, "deploy", "-j", path, "-m", self.sim_url, "-l", "http://127.0.0.1:9090",
                "-f", "-s", "0.5", "-w", "20"] + list(flags)
        p = self.spawn(args, "deploy.log", stdin=subprocess.DEVNULL)
        if not wait:
            return p
        p.wait(240)
        return p.returncode

    def apps(self):
        return {a["id"]: a for a in json.loads(fetch(self.sim_url + "/v2/apps"))["apps"]}

    def close(self):
        stop_all(self.procs, 15)
        if not os.environ.get("DEPLOY_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def parse_stats_as_marathon_lb(text):
    """/haproxy?stats;csv parsed the way marathon-lb's deploy tool parses it: the header
    without "# " and its trailing comma names the fields of a namedtuple (a name that is
    no identifier raises ValueError); each row loses its last, empty field."""
    lines = text.splitlines()
    names = lines.pop(0).lstrip("# ").rstrip(",\n").split(",")
    row = collections.namedtuple("Row", names)
    return [row(*fields[:-1]) for fields in csv.reader(lines, delimiter=",", quotechar="'")
            if fields[0][0] != "#"]


class StatsSampler(threading.Thread):
    """Reads :9090/haproxy?stats;csv every 0.2 s as marathon-lb's tool does, keeping each
    sample's servers of `backend` (svname -> status) and any error."""

    def __init__(self, backend):
        super().__init__(daemon=True)
        self.backend, self.samples, self.errors = backend, [], []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.2):
            try:
                rows = parse_stats_as_marathon_lb(fetch("http://127.0.0.1:9090/haproxy?stats;csv"))
                self.samples.append({r.svname: r.status for r in rows if r.pxname == self.backend
                                     and r.svname not in ("FRONTEND", "BACKEND")})
            except Exception as e:  # noqa: BLE001 - every failure is the finding
                self.errors.append(repr(e))

    def finish(self):
        self.stop.set()
        self.join(10)
        return self


class DeployTests(unittest.TestCase):
    """In order: each scenario starts from the previous one's end (one colour serving)."""

    @classmethod
    def setUpClass(cls):
        cls.s = DeployStack()
        s = cls.s
        assert s.deploy(s.definition("v1")) == 0, s.log("deploy.log")
        assert wait_until(lambda: s.get(s.svc) == "/web-blue v1", 30), s.log("deploy.log")

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def loads(self):
        loads = [Load([self.s.svc], limit=300, timeout=10),
                 Load([(80, "/", {"Host": VHOST})], limit=300, timeout=10)]
        for load in loads:
            load.start()
        time.sleep(1)
        return loads

    def finish(self, loads, name, started, ended):
        results = [load.finish() for load in loads]
        print("\n  %s: deploy %.1f s; service port ok/failed %d/%d, vhost ok/failed %d/%d" % (
            name, ended - started, results[0][0], results[0][1], results[1][0], results[1][1]),
            file=sys.stderr)
        for load, (ok, failed) in zip(loads, results):
            self.assertGreater(ok, 20, self.s.log("deploy.log"))
            self.assertEqual(failed, 0, "%s\n%s" % (load.errors[:5], self.s.log("deploy.log")))
        return loads

    def hold(self, port, seconds, timeout):
        """A request that takes `seconds` on `port`, in a thread; the body it gets (None
        when it failed) lands in the returned dict under "body"."""
        out = {}

        def run():
            out["body"] = self.s.get(port, path="/slow?s=%d" % seconds, timeout=timeout)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread, out

    def reloads(self):
        text = fetch("http://127.0.0.1:%d/metrics" % self.s.rld_port)
        return metric(text, "mlb_reloader_reloads_total", {"kind": "reload", "result": "success"}) or 0

    def live_colour(self):
        apps = self.s.apps()
        return [i for i in apps if i.startswith("/web-")]

    def test_1_dry_run_prints_the_green_app(self):
        s = self.s
        p = subprocess.run([MLB, "deploy", "--dry-run", "-j", s.definition("v2"), "-m",
                            s.sim_url], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        app = json.loads(p.stdout)
        self.assertEqual(app["id"], "/web-green")
        self.assertEqual(app["portDefinitions"][0]["port"], s.alt)
        self.assertEqual(app["instances"], 1)
        labels = app["labels"]
        self.assertEqual(labels["HAPROXY_0_PORT"], str(s.svc))
        self.assertEqual(labels["HAPROXY_DEPLOYMENT_COLOUR"], "green")
        self.assertEqual(labels["HAPROXY_DEPLOYMENT_TARGET_INSTANCES"], "3")
        self.assertEqual(labels["HAPROXY_APP_ID"], "/web")
        self.assertEqual(self.live_colour(), ["/web-blue"])  # nothing created

    def test_2_blue_to_green_under_load(self):
        s = self.s
        loads = self.loads()
        # A 6 s request on a blue task: it must not be killed under it.
        holder, slow = self.hold(s.svc, 6, timeout=30)
        reloads = self.reloads()
        blue = {"%s_%d" % (t["host"].replace(".", "_"), t["ports"][0]) for t in json.loads(
            fetch(s.sim_url + "/v2/apps/web-blue?embed=app.tasks"))["app"]["tasks"]}
        sampler = StatsSampler("web_%d" % s.svc)
        sampler.start()
        t0 = time.monotonic()
        self.assertEqual(s.deploy(s.definition("v2")), 0, s.log("deploy.log"))
        t1 = time.monotonic()
        sampler.finish()
        self.check_stats_samples(sampler, blue)
        holder.join(30)
        self.assertEqual(slow.get("body"), "/web-blue v1", "the held request failed")
        time.sleep(1)
        self.finish(loads, "blue -> green", t0, t1)
        self.assertEqual(self.reloads(), reloads, "a deploy changes servers only: no reload")
        self.assertEqual(self.live_colour(), ["/web-green"])
        for load in loads:  # every answer after the end from the new version
            late = {body for t, body in load.answers if t > t1 + 0.5}
            self.assertEqual(late, {"/web-green v2"})

    def check_stats_samples(self, sampler, blue):
        """marathon-lb's tool could read every sample: the backend, the old colour's
        servers by name, and those servers in MAINT while they drain."""
        self.assertEqual(sampler.errors, [])
        self.assertGreater(len(sampler.samples), 5)
        first = sampler.samples[0]
        self.assertEqual(set(first), blue, "the backend's servers are the blue tasks (host_port)")
        self.assertTrue(all(st.startswith("UP") for st in first.values()), first)
        maint = set().union(*({n for n, st in smp.items() if st == "MAINT"}
                              for smp in sampler.samples))
        self.assertTrue(maint, "no server was seen in MAINT during the deploy")
        self.assertLessEqual(maint, blue, "only old-colour servers are drained")

    def test_3_a_long_lived_connection_to_another_app_does_not_stall_it(self):
        s = self.s
        holder, slow = self.hold(s.stream_port, 25, timeout=40)
        loads = self.loads()
        t0 = time.monotonic()
        self.assertEqual(s.deploy(s.definition("v3")), 0, s.log("deploy.log"))
        t1 = time.monotonic()
        self.assertTrue(holder.is_alive(), "the deploy waited for another app's connection")
        self.finish(loads, "green -> blue beside a 25 s connection", t0, t1)
        holder.join(40)
        self.assertEqual(slow.get("body"), "/stream")
        self.assertEqual(self.live_colour(), ["/web-blue"])

    def test_4_hybrid_then_complete_cur(self):
        s = self.s
        loads = self.loads()
        t0 = time.monotonic()
        path = s.definition("v4")
        self.assertEqual(s.deploy(path, "--new-instances", "1"), 0, s.log("deploy.log"))
        apps = s.apps()
        self.assertEqual((apps["/web-blue"]["instances"], apps["/web-green"]["instances"]),
                         (2, 1))
        both = wait_until(lambda: {s.get(s.svc) for _ in range(30)} >=
                          {"/web-blue v3", "/web-green v4"}, 10)
        self.assertTrue(both, "a hybrid deploy serves both versions")
        self.assertEqual(s.deploy(path, "--complete-cur"), 0, s.log("deploy.log"))
        t1 = time.monotonic()
        time.sleep(1)
        self.finish(loads, "hybrid, then --complete-cur", t0, t1)
        self.assertEqual(self.live_colour(), ["/web-green"])

    def test_5_a_failed_deploy_rolls_back(self):
        s = self.s
        loads = self.loads()
        t0 = time.monotonic()
        code = s.deploy(s.definition("v5", SIM_NEVER_HEALTHY="1"), "-w", "6")
        t1 = time.monotonic()
        self.assertEqual(code, 2, s.log("deploy.log"))
        self.assertIn("rolled back", s.log("deploy.log"))
        self.finish(loads, "failed deploy, rolled back", t0, t1)
        self.assertEqual(self.live_colour(), ["/web-green"])
        self.assertEqual(s.apps()["/web-green"]["instances"], 3)

    def test_6_resume_after_the_tool_is_killed(self):
        s = self.s
        loads = self.loads()
        t0 = time.monotonic()
        path = s.definition("v6")
        log = os.path.join(s.dir, "deploy.log")
        seen = os.path.getsize(log) if os.path.exists(log) else 0  # earlier tests' deploys

        def this_run():
            with open(log, errors="replace") as f:
                f.seek(seen)
                return f.read()
        p = s.deploy(path, "--step-delay", "1.5", "--linear-increase", "1", wait=False)
        # Killed once the new colour exists and the first old task was killed.
        self.assertTrue(wait_until(lambda: "killed 1 drained" in this_run(), 60), this_run())
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        self.assertEqual(sorted(self.live_colour()), ["/web-blue", "/web-green"], this_run())
        self.assertEqual(s.deploy(path, "--resume"), 0, s.log("deploy.log"))
        t1 = time.monotonic()
        time.sleep(1)
        self.finish(loads, "killed mid-deploy, then --resume", t0, t1)
        self.assertEqual(self.live_colour(), ["/web-blue"])
        self.assertEqual({s.get(s.svc) for _ in range(10)}, {"/web-blue v6"})

    def test_7_rollback_of_a_serving_new_colour_drains_it_first(self):
        s = self.s
        loads = self.loads()
        t0 = time.monotonic()
        path = s.definition("v7")
        self.assertEqual(s.deploy(path, "--new-instances", "2"), 0, s.log("deploy.log"))
        self.assertTrue(wait_until(lambda: "/web-green v7" in {s.get(s.svc) for _ in range(20)},
                                   10), "the new colour serves before the rollback")
        self.assertEqual(s.deploy(path, "--rollback"), 0, s.log("deploy.log"))
        t1 = time.monotonic()
        time.sleep(1)
        self.finish(loads, "hybrid (2 new), then --rollback", t0, t1)
        self.assertEqual(self.live_colour(), ["/web-blue"])
        self.assertEqual(s.apps()["/web-blue"]["instances"], 3)
        self.assertEqual({s.get(s.svc) for _ in range(10)}, {"/web-blue v6"})

    def test_9_marathon_1_5_shaped_app_bridge_port_mappings(self):
        """The same app as Marathon 1.5+ answers it with Docker bridge networking:
        container portMappings with service ports, container/bridge networks."""
        s = self.s
        loads = self.loads()
        before = self.live_colour()
        t0 = time.monotonic()
        self.assertEqual(s.deploy(s.definition("v9", bridge=True)), 0, s.log("deploy.log"))
        t1 = time.monotonic()
        time.sleep(1)
        self.finish(loads, "bridge portMappings, colour to colour", t0, t1)
        after = self.live_colour()
        self.assertEqual(len(after), 1)
        self.assertNotEqual(after, before)
        app = s.apps()[after[0]]
        self.assertIn("portMappings", app["container"])
        self.assertEqual({s.get(s.svc) for _ in range(10)}, {after[0] + " v9"})

    def test_8_marathon_lbs_signal_endpoints_and_signals(self):
        """:9090/_mlb_signal/usr1 reloads HAProxy with the live bundle (the reloader),
        /_mlb_signal/hup makes the controller fetch from Marathon again; one of each
        per second, the rest answer 429; SIGHUP and SIGUSR1 stop no binary."""
        s = self.s
        ctl_metrics = lambda: fetch("http://127.0.0.1:%d/metrics" % s.ctl_port)  # noqa: E731
        hups = lambda: metric(ctl_metrics(), "mlb_controller_signals_total",  # noqa: E731
                              {"signal": "SIGHUP"}) or 0
        reloads, before_hup, serving = self.reloads(), hups(), s.get(s.svc)
        # A reload is refused (409) while an earlier one's old workers drain.
        self.assertTrue(wait_until(lambda: metric(fetch("http://127.0.0.1:%d/metrics" % s.rld_port),
                                                  "mlb_reloader_old_generations") == 0, 60))
        time.sleep(1.1)  # any earlier request's second is over
        self.assertEqual(http_status(9090, "/_mlb_signal/usr1"), 202)
        self.assertEqual(http_status(9090, "/_mlb_signal/usr1"), 429)
        self.assertTrue(wait_until(lambda: self.reloads() == reloads + 1, 15),
                        "no reload after /_mlb_signal/usr1")
        # Its old worker drains (or is gone at once without connections); while it
        # drains, another reload over HTTP is refused rather than piling up workers.
        time.sleep(1.1)
        self.assertIn(http_status(9090, "/_mlb_signal/usr1"), (202, 409))
        self.assertEqual(http_status(9090, "/_mlb_signal/hup"), 202)
        self.assertEqual(http_status(9090, "/_mlb_signal/hup"), 429)
        self.assertTrue(wait_until(lambda: hups() == before_hup + 1, 10), ctl_metrics())
        rld = fetch("http://127.0.0.1:%d/metrics" % s.rld_port)
        self.assertEqual(metric(rld, "mlb_reloader_signal_requests_total",
                                {"endpoint": "/_mlb_signal/usr1", "result": "rate_limited"}), 1)
        s.controller.send_signal(signal.SIGHUP)
        s.controller.send_signal(signal.SIGUSR1)
        self.assertTrue(wait_until(lambda: hups() == before_hup + 2, 10), ctl_metrics())
        self.assertIsNone(s.controller.poll(), "a signal stopped the controller")
        # HAProxy's own stats stay reachable: the page, and its whole CSV.
        self.assertEqual(http_status(9090, "/haproxy?stats"), 200)
        full = http_get("127.0.0.1:9090", "/haproxy?stats;csv;full", timeout=10)[1]
        self.assertIn(",-,", full.splitlines()[0])
        with self.assertRaises(ValueError):  # what marathon-lb's tool met before
            parse_stats_as_marathon_lb(full)
        self.assertEqual({s.get(s.svc) for _ in range(5)}, {serving})


def http_status(port, path):
    return http_get("127.0.0.1:%d" % port, path, timeout=10)[0]


if __name__ == "__main__":
    unittest.main(verbosity=2)
