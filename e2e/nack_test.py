#!/usr/bin/env python3
"""The NACK loop with the real HAProxy: the Marathon simulator, real backends,
mlb-controller, `mlb-reloader watch` and `mlb-reloader haproxy`. A bundle the reloader
rejects costs only the apps its [ALERT] lines name: the controller quarantines them
(source "reloader", last good fragment kept) and every other app's next change goes
live; an alert no app owns holds publishing with backoff. Every process started here
is ended here, by pid.

usage: nack_test.py  (env: CONTROLLER, RELOADER, HAPROXY)
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from testlib import bundle_config, free_port, http, http_get, metric, stop_all, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
CONTROLLER = os.environ.get("CONTROLLER", "build/controller/mlb-controller")
RELOADER = os.environ.get("RELOADER", "build/reloader/mlb-reloader")
HAPROXY = os.environ.get("HAPROXY", shutil.which("haproxy") or "/usr/sbin/haproxy")
ACCEPT_ALL = shutil.which("true") or "/bin/true"  # a validator older than the reloader's

BAD_DIRECTIVE = "  bogus-directive on\n"
BAD_PROXY_RULE = "  use-server nonexistent if TRUE\n"  # an alert without a line number


def distinct_free_ports(n):
    """n distinct TCP ports that were free a moment ago (held open together)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_free(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class Stack:
    """Simulator, backends, controller, reloader watch and the HAProxy entrypoint."""

    def __init__(self, ctl_extra=()):
        self.dir = tempfile.mkdtemp(prefix="mlb-nack-")
        self.state = os.path.join(self.dir, "state")
        self.procs = []
        try:
            self.start(ctl_extra)
        except BaseException:
            self.close()  # never leave a process behind
            raise

    def start(self, ctl_extra):
        # All ports at once, so that no two are the same.
        ports = distinct_free_ports(7)
        self.ports = dict(zip(("web", "api", "db", "db2"), ports[:4]))
        self.svc = dict(zip(("web", "api", "db"), ports[4:]))
        for name, port in self.ports.items():
            www = os.path.join(self.dir, "www", name)
            os.makedirs(www)
            with open(os.path.join(www, "index.html"), "w") as f:
                f.write(name + "\n")
            self.spawn([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                        "--directory", www], name + ".log")
        apps = {"apps": [self.app("/web", "web", {"HAPROXY_0_MODE": "http"}),
                         self.app("/api", "api", {"HAPROXY_0_MODE": "http"}),
                         self.app("/db", "db", {})]}
        apps_file = os.path.join(self.dir, "apps.json")
        with open(apps_file, "w") as f:
            json.dump(apps, f)
        cert = os.path.join(self.dir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        cert, "-out", cert + ".crt", "-days", "2", "-subj", "/CN=t"],
                       check=True, capture_output=True)
        with open(cert + ".crt") as f:
            crt = f.read()
        with open(cert, "a") as f:
            f.write(crt)
        # Port 0 and --port-file: no race for the simulator's port.
        port_file = os.path.join(self.dir, "sim.port")
        self.spawn([sys.executable, os.path.join(HERE, "marathon_sim.py"), "--apps", apps_file,
                    "--listen", "127.0.0.1:0", "--port-file", port_file, "--heartbeat", "0.5"],
                   "sim.log")
        assert wait_until(lambda: os.path.getsize(port_file) > 0, 30), self.log("sim.log")
        with open(port_file) as f:
            self.sim_port = int(f.read())
        assert wait_until(lambda: http(self.sim_url + "/ping") == "pong", 30), self.log("sim.log")
        self.ctl_port = free_port()
        self.rld_port = free_port()
        self.ctl_args = [CONTROLLER, "--marathon", self.sim_url, "--group", "external",
                         "--ssl-certs", cert, "--state-dir", self.state, "--listen",
                         "127.0.0.1:%d" % self.ctl_port, "--dont-bind-http-https",
                         "--maxconn", "2000", "--min-interval", "0.1"]
        self.ctl = self.spawn(self.ctl_args + list(ctl_extra), "controller.log")
        assert wait_until(lambda: http(self.ctl_url + "/readyz").startswith("ready"), 30), \
            self.log("controller.log")
        self.spawn([RELOADER, "watch", "--state-dir", self.state, "--haproxy-bin", HAPROXY,
                    "--listen", "127.0.0.1:%d" % self.rld_port, "--min-reload-interval", "0.1",
                    "--recheck-interval", "0.2"], "reloader.log")
        self.spawn([RELOADER, "haproxy", "--state-dir", self.state, "--haproxy-bin", HAPROXY,
                    "--listen", "127.0.0.1:%d" % free_port()], "haproxy.log")
        for name in ("web", "api", "db"):
            assert wait_until(lambda n=name: self.get(n) == n, 30), \
                "%s not routed\n%s" % (name, self.log("reloader.log"))

    def app(self, app_id, name, labels):
        labels = dict(labels, HAPROXY_GROUP="external")
        return {"id": app_id, "instances": 1, "labels": labels,
                "portDefinitions": [{"port": self.svc[name]}],
                "tasks": [{"id": name + ".t0", "host": "127.0.0.1", "state": "TASK_RUNNING",
                           "ports": [self.ports[name]]}]}

    @property
    def sim_url(self):
        return "http://127.0.0.1:%d" % self.sim_port

    @property
    def ctl_url(self):
        return "http://127.0.0.1:%d" % self.ctl_port

    def spawn(self, args, log):
        with open(os.path.join(self.dir, log), "ab") as f:
            p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def restart_controller(self, extra):
        stop_all([self.ctl])
        self.procs.remove(self.ctl)
        self.ctl = self.spawn(self.ctl_args + list(extra), "controller.log")

    def log(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read()

    def sim(self, action, body):
        return http(self.sim_url + "/_sim/" + action, body)

    def get(self, name):
        """The body HAProxy answers on `name`'s service port."""
        return http_get("127.0.0.1:%d" % self.svc[name], timeout=2)[1].strip()

    def status(self):
        with open(os.path.join(self.state, "status.json")) as f:
            return json.load(f)

    def ctl_status(self):
        return json.loads(http(self.ctl_url + "/v1/status"))

    def ctl_metric(self, name, labels=None):
        return metric(http(self.ctl_url + "/metrics"), name, labels) or 0

    def current_config(self):
        return bundle_config(os.path.join(self.state, "current"))

    def live_config(self):
        with open(os.path.join(self.state, "live", "haproxy.cfg")) as f:
            return f.read()

    def scale_db(self, instances):
        # `ports`: the ports of the tasks the scale adds (the second task is db2).
        self.sim("scale", {"app": "/db", "instances": instances, "ports": [[self.ports["db2"]]],
                           "host": "127.0.0.1"})

    def db_answers(self):
        return {self.get("db") for _ in range(6)}

    def close(self):
        stop_all(self.procs)
        # The next test's HAProxy binds the same stats ports (:9090, :9091).
        wait_until(lambda: all(port_free(p) for p in (9090, 9091)), 10)
        if not os.environ.get("NACK_KEEP_LOGS"):
            shutil.rmtree(self.dir, ignore_errors=True)


class NackTest(unittest.TestCase):
    def setUp(self):
        self.stack = None

    def tearDown(self):
        if self.stack:
            # (sys.exc_info() is empty in tearDown: the result lists this test if it failed.)
            result = self._outcome.result
            failed = any(t is self for t, _ in result.failures + result.errors)
            if failed or os.environ.get("NACK_KEEP_LOGS"):
                for name in ("controller.log", "reloader.log", "haproxy.log"):
                    print("---- %s\n%s" % (name, self.stack.log(name)[-4000:]))
            self.stack.close()

    def bad_app_costs_only_itself(self, ctl_extra, label, reason_part):
        s = self.stack = Stack(ctl_extra)
        good_api = s.current_config()
        s.sim("labels", {"app": "/api", "labels": {"HAPROXY_0_BACKEND_HTTP_OPTIONS": label}})
        # The reloader rejects the bundle carrying /api's new labels...
        self.assertTrue(wait_until(lambda: len(s.status().get("rejected", {})) == 1, 10),
                        s.log("reloader.log"))
        # ... the controller quarantines /api, and another app's change goes live.
        t0 = time.monotonic()
        s.scale_db(2)
        self.assertTrue(wait_until(lambda: s.db_answers() == {"db", "db2"}, 10),
                        s.log("controller.log"))
        took = time.monotonic() - t0
        print("\n  %s: /db scaled after the rejection, live in %.2f s" % (ctl_extra, took))
        self.assertLess(took, 2.0)
        self.assertEqual(s.get("api"), "api")  # the last good fragment serves
        q = [e for e in s.ctl_status()["quarantined"] if e["app_id"] == "/api"]
        self.assertEqual(len(q), 1, s.ctl_status())
        self.assertEqual(q[0]["source"], "reloader")
        self.assertTrue(q[0]["kept_last_good"])
        self.assertIn(reason_part, q[0]["reason"])
        with open(os.path.join(s.state, "current", "manifest.json")) as f:
            manifest = json.load(f)
        self.assertEqual([e["source"] for e in manifest["quarantined"]], ["reloader"])
        self.assertNotIn(label.strip(), s.current_config())
        self.assertNotIn(label.strip(), s.live_config())
        self.assertEqual(s.ctl_metric("mlb_controller_reloader_rejections_total",
                                      {"attributed": "true"}), 1)
        self.assertIn("app quarantined", s.log("controller.log"))
        # No bundle loop: more changes of other apps, not one more rejected bundle.
        for n in (1, 2, 1, 2):
            s.scale_db(n)
            want = {"db"} if n == 1 else {"db", "db2"}
            self.assertTrue(wait_until(lambda w=want: s.db_answers() == w, 10))
            # /api keeps serving its last good fragment in every bundle after it.
            self.assertEqual(s.get("api"), "api")
            self.assertIn("backend api_", s.current_config())
        self.assertEqual(len(s.status()["rejected"]), 1)
        self.assertTrue(wait_until(lambda: s.status()["applied_version"] == os.path.basename(
            os.readlink(os.path.join(s.state, "current"))), 10))
        # Retried when its labels change: a fixed label goes live.
        s.sim("labels", {"app": "/api", "labels": {"HAPROXY_0_BACKEND_HTTP_OPTIONS": None,
                                                  "HAPROXY_0_BALANCE": "leastconn"}})
        self.assertTrue(wait_until(lambda: "balance leastconn" in s.live_config(), 10))
        self.assertEqual(s.ctl_status()["quarantined"], [])
        self.assertNotEqual(good_api, s.current_config())

    def test_no_validate(self):
        """The issue's reproduction: --no-validate (marathon-lb's --skip-validation)."""
        self.bad_app_costs_only_itself(["--no-validate"], BAD_DIRECTIVE, "bogus-directive")

    def test_controller_validator_accepts_everything(self):
        """The controller's HAProxy is older or sees other files: its check passes."""
        self.bad_app_costs_only_itself(["--haproxy-bin", ACCEPT_ALL], BAD_DIRECTIVE,
                                       "bogus-directive")

    def test_proxy_level_alert_is_attributed_by_proxy_name(self):
        self.bad_app_costs_only_itself(["--no-validate"], BAD_PROXY_RULE, "nonexistent")

    def test_a_quarantined_app_is_served_with_its_current_tasks(self):
        """The kept fragment held the servers of the moment its labels changed; a label
        change is a new app version that replaces every task, so the app routed to
        killed tasks until its labels changed again."""
        s = self.stack = Stack(["--no-validate"])
        s.sim("labels", {"app": "/api", "labels": {"HAPROXY_0_BACKEND_HTTP_OPTIONS":
                                                  BAD_DIRECTIVE}})
        self.assertTrue(wait_until(lambda: any(
            e["app_id"] == "/api" for e in s.ctl_status()["quarantined"]), 10),
            s.log("controller.log"))
        # Marathon replaces /api's task: the new one answers "db2".
        s.sim("add_task", {"app": "/api", "host": "127.0.0.1", "ports": [s.ports["db2"]]})
        s.sim("kill_task", {"app": "/api", "task": "api.t0"})
        self.assertTrue(wait_until(lambda: s.get("api") == "db2", 10),
                        s.current_config()[-1500:])
        self.assertNotIn("bogus-directive", s.live_config())
        self.assertTrue(any(e["app_id"] == "/api" for e in s.ctl_status()["quarantined"]))

    def test_a_service_port_in_use_quarantines_its_app_and_others_go_live(self):
        """2.6's haproxy -c does not bind: a new app's service port taken on the host
        passed both checks, the reload failed with no line ("show proc: failed 1") and
        publishing held for everyone. The reloader tries the new ports first."""
        s = self.stack = Stack()
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        try:
            s.sim("set_app", {"app": {
                "id": "/other", "instances": 1,
                "labels": {"HAPROXY_GROUP": "external"},
                "portDefinitions": [{"port": port}],
                "tasks": [{"id": "other.t0", "host": "127.0.0.1", "state": "TASK_RUNNING",
                           "ports": [s.ports["db2"]]}]}})
            self.assertTrue(wait_until(lambda: len(s.status().get("rejected", {})) == 1, 10),
                            s.log("reloader.log"))
            reason = list(s.status()["rejected"].values())[0]["reason"]
            self.assertIn("Address already in use", reason)
            t0 = time.monotonic()
            s.scale_db(2)
            self.assertTrue(wait_until(lambda: s.db_answers() == {"db", "db2"}, 10),
                            s.log("controller.log"))
            print("\n  port in use: /other quarantined, /db live %.2f s after its change"
                  % (time.monotonic() - t0))
            q = [e for e in s.ctl_status()["quarantined"] if e["app_id"] == "/other"]
            self.assertEqual(len(q), 1, s.ctl_status())
            self.assertEqual(q[0]["source"], "reloader")
            self.assertIn("Address already in use", q[0]["reason"])
            self.assertEqual(s.get("web"), "web")
        finally:
            taken.close()

    def test_a_reload_time_failure_is_attributed_from_haproxys_stderr(self):
        """2.6 tells why a reload failed only on the master's stderr: a bind address not
        on this host passes `haproxy -c` and the port probe (nothing is in use), the
        reload failed with "show proc: failed 1" and nothing named the app. The
        entrypoint keeps HAProxy's stderr where the watcher reads the alerts."""
        s = self.stack = Stack()
        s.sim("set_app", {"app": {
            "id": "/other", "instances": 1,
            "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_BIND_ADDR": "192.0.2.1"},
            "portDefinitions": [{"port": free_port()}],
            "tasks": [{"id": "other.t0", "host": "127.0.0.1", "state": "TASK_RUNNING",
                       "ports": [s.ports["db2"]]}]}})
        self.assertTrue(wait_until(lambda: len(s.status().get("rejected", {})) == 1, 10),
                        s.log("reloader.log"))
        reason = list(s.status()["rejected"].values())[0]["reason"]
        self.assertIn("show proc: failed 1", reason)
        self.assertIn("Cannot assign requested address", reason)
        t0 = time.monotonic()
        s.scale_db(2)
        self.assertTrue(wait_until(lambda: s.db_answers() == {"db", "db2"}, 10),
                        s.log("controller.log"))
        print("\n  bind address not on the host: /other quarantined, /db live %.2f s after "
              "its change" % (time.monotonic() - t0))
        q = [e for e in s.ctl_status()["quarantined"] if e["app_id"] == "/other"]
        self.assertEqual(len(q), 1, s.ctl_status())
        self.assertEqual(q[0]["source"], "reloader")
        self.assertIn("Cannot assign requested address", q[0]["reason"])
        self.assertEqual(s.get("web"), "web")
        # HAProxy's own lines still reach the entrypoint's output.
        self.assertIn("Loading failure", s.log("haproxy.log"))

    def test_unattributable_alert_holds_publishing(self):
        s = self.stack = Stack(["--no-validate"])
        good = os.path.basename(os.readlink(os.path.join(s.state, "current")))
        # A controller restarted with a global template HAProxy refuses: no app owns it.
        tdir = os.path.join(s.dir, "templates")
        os.makedirs(tdir)
        with open(os.path.join(HERE, "..", "templates", "HAPROXY_HEAD.mustache")) as f:
            head = f.read()
        with open(os.path.join(tdir, "HAPROXY_HEAD.mustache"), "w") as f:
            f.write(head.replace("global\n", "global\n  bogus-global-directive\n", 1))
        s.restart_controller(["--no-validate", "--templates-dir", tdir])
        self.assertTrue(wait_until(lambda: len(s.status().get("rejected", {})) == 1, 10),
                        s.log("reloader.log"))

        def held():
            last = s.ctl_status()["last_sync"]
            return last["fault"] == "reloader_rejected" and "no app owns" in last["detail"]
        self.assertTrue(wait_until(held, 10), s.ctl_status())
        self.assertEqual(s.ctl_metric("mlb_controller_reloader_rejections_total",
                                      {"attributed": "false"}), 1)
        self.assertTrue(wait_until(lambda: s.ctl_status()["reloader"] == "rejected", 5))
        # Changes keep coming: bundles are held with backoff, never one per change, and
        # the last good config keeps serving.
        for n in (2, 1, 2, 1, 2, 1, 2, 1):
            s.scale_db(n)
            time.sleep(0.5)
        rejected = len(s.status()["rejected"])
        print("\n  unattributable: %d bundles rejected for 8 changes in 4 s" % rejected)
        self.assertLessEqual(rejected, 3)
        self.assertEqual(s.status()["applied_version"], good)
        self.assertEqual(s.get("api"), "api")


if __name__ == "__main__":
    unittest.main(verbosity=2)
