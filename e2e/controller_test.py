#!/usr/bin/env python3
"""mlb-controller against the Marathon simulator over real HTTP and SSE: every fault
leaves the published bundle unchanged and is counted; the controller recovers by
itself; a bad label on one app never holds back another app's change; a kill -9 at
any moment never leaves a partial file under the state dir. Every process started
here is ended here, by pid.

usage: controller_test.py  (env: CONTROLLER, HAPROXY)
"""
import json
import os
import random
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

from testlib import bundle_config, free_port, http, metric, stop_all, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
CONTROLLER = os.environ.get("CONTROLLER", "build/controller/mlb-controller")
HAPROXY = os.environ.get("HAPROXY", shutil.which("haproxy") or "/usr/sbin/haproxy")


class Env:
    """A simulator plus a controller on a fresh state dir."""

    def __init__(self, apps_file=None, generate=0, extra=(), marathon=None, start=True,
                 tls_names=None):
        """tls_names: serve the simulator over HTTPS with a self-signed certificate for
        these subjectAltNames (e.g. "IP:127.0.0.1"); the controller gets it as its CA."""
        self.dir = tempfile.mkdtemp(prefix="mlb-ct-")
        self.state = os.path.join(self.dir, "state")
        self.procs = []
        self.sim_port = free_port()
        self.ctl_port = free_port()
        cert = os.path.join(self.dir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        cert + ".key", "-out", cert + ".crt", "-days", "2", "-subj", "/CN=t"],
                       check=True, capture_output=True)
        with open(cert, "w") as out:
            for part in (".crt", ".key"):
                with open(cert + part) as f:
                    out.write(f.read())
        sim_args = [sys.executable, os.path.join(HERE, "marathon_sim.py"), "--listen",
                    "127.0.0.1:%d" % self.sim_port, "--heartbeat", "0.5"]
        sim_args += ["--generate", str(generate)] if generate else \
            ["--apps", apps_file or os.path.join(HERE, "demo", "apps.json")]
        self.sim_ca = None
        if tls_names:
            self.sim_ca = os.path.join(self.dir, "sim.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", self.sim_ca, "-out", self.sim_ca + ".crt", "-days", "2",
                            "-subj", "/CN=marathon", "-addext", "subjectAltName=" + tls_names],
                           check=True, capture_output=True)
            with open(self.sim_ca + ".crt") as f:
                crt = f.read()
            with open(self.sim_ca, "a") as f:
                f.write(crt)  # key then certificate: what --tls-cert reads
            sim_args += ["--tls-cert", self.sim_ca]
        self.sim_proc = self.spawn(sim_args, "sim.log")
        assert wait_until(lambda: self.http(self.sim_url + "/ping") == "pong", 30), "sim down"
        self.ctl_args = [CONTROLLER, "--marathon", marathon or self.sim_url, "--group",
                         "external", "--health-check", "--ssl-certs", cert, "--state-dir",
                         self.state, "--listen", "127.0.0.1:%d" % self.ctl_port,
                         "--haproxy-bin", HAPROXY, "--min-interval", "0.1",
                         "--marathon-timeout", "2", "--sse-silence-timeout", "2",
                         "--confirm-resyncs", "4", "--confirm-interval", "1"] + list(extra)
        if self.sim_ca:
            self.ctl_args += ["--marathon-ca-cert", self.sim_ca + ".crt"]
        self.ctl = None
        if start:
            self.start_controller()

    @property
    def sim_url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.sim_ca else "http", self.sim_port)

    def http(self, url, data=None):
        """http() that trusts the simulator's certificate, whatever name it has (the
        test's own calls; the controller's checks are what the TLS tests test)."""
        ctx = None
        if self.sim_ca:
            ctx = ssl.create_default_context(cafile=self.sim_ca + ".crt")
            ctx.check_hostname = False
        return http(url, data, context=ctx)

    @property
    def ctl_url(self):
        return "http://127.0.0.1:%d" % self.ctl_port

    def spawn(self, args, log):
        with open(os.path.join(self.dir, log), "ab") as f:
            p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def start_controller(self):
        self.ctl = self.spawn(self.ctl_args, "controller.log")
        assert wait_until(lambda: http(self.ctl_url + "/readyz").startswith("ready"), 60), \
            self.log("controller.log")

    def log(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read()

    def version(self):
        try:
            return os.path.basename(os.readlink(os.path.join(self.state, "current")))
        except OSError:
            return ""

    def config(self):
        return bundle_config(os.path.join(self.state, "current"))

    def metrics(self):
        return http(self.ctl_url + "/metrics")

    def status(self):
        return json.loads(http(self.ctl_url + "/v1/status"))

    def sim(self, action, **kw):
        return json.loads(self.http(self.sim_url + "/_sim/" + action, kw))

    def streams_and_publishes(self):
        """The event stream comes up, and a label change goes out through it."""
        if not wait_until(lambda: metric(self.metrics(), "mlb_controller_sse_connected") == 1,
                          10):
            return False
        v = self.version()
        self.sim("labels", app="/db", labels={"HAPROXY_0_BALANCE": "leastconn"})
        return wait_until(lambda: self.version() != v and "balance leastconn" in self.config(),
                          10)

    def close(self):
        stop_all(self.procs, 15)
        shutil.rmtree(self.dir, ignore_errors=True)


class MarathonLbCommandLineTests(unittest.TestCase):
    """marathon-lb's own command line runs unchanged (issue: a drop-in)."""

    MLB_ARGS = ["--group", "external", "--sse", "--skip-validation",
                "--syslog-socket", "/dev/null", "--log-level", "INFO",
                "--command", "/marathon-lb/reload_haproxy.sh", "--max-reload-retries", "3",
                "--reload-interval", "5", "--archive-versions", "3", "--log-format",
                "%(message)s", "--lru-cache-capacity", "500", "--skip-config-cleanup",
                "--max-backoff", "30"]

    def test_dry_prints_the_config_and_writes_nothing(self):
        env = Env(start=False)
        try:
            out_cfg = os.path.join(env.dir, "haproxy.cfg")
            p = subprocess.run([CONTROLLER, "-m", env.sim_url, "--haproxy-config", out_cfg,
                                "--ssl-certs", os.path.join(env.dir, "cert.pem"),
                                "--state-dir", env.state, "--dry"] + self.MLB_ARGS,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("\nbackend ", p.stdout)
            self.assertIn("frontend marathon_http_in", p.stdout)
            for flag in ("--command", "--archive-versions",
                         "--max-reload-retries", "--reload-interval", "--log-format",
                         "--lru-cache-capacity", "--skip-config-cleanup"):
                self.assertIn(flag + " (marathon-lb) is ignored: ", p.stderr)
            # --syslog-socket is honoured now (/dev/null: marathon-lb's "none").
            self.assertNotIn("--syslog-socket (marathon-lb) is ignored", p.stderr)
            self.assertFalse(os.path.exists(out_cfg))  # --dry writes nothing
            self.assertFalse(os.path.exists(os.path.join(env.state, "current")))
            # An unreachable Marathon: non-zero, with the reason.
            p = subprocess.run([CONTROLLER, "-m", "http://127.0.0.1:%d" % free_port(),
                                "--dry"] + self.MLB_ARGS, capture_output=True, text=True,
                               timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("marathon_unavailable", p.stderr)
        finally:
            env.close()

    def test_haproxy_config_gets_every_published_config(self):
        env = Env(start=False)
        try:
            out_cfg = os.path.join(env.dir, "etc", "haproxy.cfg")
            os.makedirs(os.path.dirname(out_cfg))
            env.ctl_args += ["--haproxy-config", out_cfg, "-H", "--log-level", "WARNING"]
            env.start_controller()
            self.assertTrue(wait_until(lambda: os.path.exists(out_cfg), 20))
            with open(out_cfg) as f:
                self.assertEqual(f.read(), env.config())
            self.assertTrue(env.streams_and_publishes())
            def written():
                with open(out_cfg) as f:
                    return f.read()
            self.assertTrue(wait_until(lambda: "balance leastconn" in written(), 10))
            self.assertNotIn("level=info", env.log("controller.log"))  # --log-level WARNING
        finally:
            env.close()

    def test_longhelp_prints_the_label_reference(self):
        p = subprocess.run([CONTROLLER, "--longhelp"], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertIn("HAPROXY_{n}_", p.stdout)
        self.assertIn("VHOST", p.stdout)


class FaultTests(unittest.TestCase):
    """Each Marathon fault: nothing published while it lasts, counted, recovered after."""

    @classmethod
    def setUpClass(cls):
        cls.env = Env()

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def change_under_fault(self, kind, metric_name, labels, hold=2.0):
        e = self.env
        before_version = e.version()
        before_count = metric(e.metrics(), metric_name, labels) or 0
        n = len(json.loads(http(e.sim_url + "/v2/apps/db"))["app"]["tasks"])
        e.sim("fault", kind=kind)
        try:
            # A real change, announced by events: it must not go out from a faulty answer.
            e.sim("scale", app="/db", instances=n + 1)
            time.sleep(hold)
            self.assertEqual(e.version(), before_version, "published during fault " + kind)
            counted = metric(e.metrics(), metric_name, labels) or 0
            self.assertGreater(counted, before_count, "fault %s not counted in %s" %
                               (kind, metric_name))
        finally:
            e.sim("fault", kind="none")
        # Recovery by itself: the change goes out once Marathon answers properly.
        self.assertTrue(wait_until(lambda: e.version() != before_version, 20),
                        "no recovery after " + kind)
        servers = len(re.findall(r"^\s+server ", e.config().split("\nbackend db_10003\n")[1]
                                 .split("\nbackend")[0], re.M))
        self.assertEqual(servers, n + 1)
        self.assertTrue(wait_until(lambda: e.status()["last_sync"]["result"] in
                                   ("published", "unchanged")))

    def test_http_500(self):
        self.change_under_fault("http500", "mlb_controller_marathon_faults_total",
                                {"kind": "marathon_unavailable"})

    def test_html_503(self):
        self.change_under_fault("html503", "mlb_controller_marathon_faults_total",
                                {"kind": "marathon_unavailable"})

    def test_truncated_json(self):
        self.change_under_fault("truncated", "mlb_controller_marathon_faults_total",
                                {"kind": "invalid_answer"})

    def test_empty_app_list_is_held(self):
        self.change_under_fault("empty", "mlb_controller_guard_holds_total", {"guard": "empty"})

    def test_hang(self):
        self.change_under_fault("hang", "mlb_controller_marathon_faults_total",
                                {"kind": "marathon_unavailable"}, hold=6.0)

    def test_lost_health_results_keep_servers(self):
        e = self.env
        before = e.config()
        e.sim("fault", kind="health_lost")
        try:
            e.sim("health", app="/shop/web", alive=True)  # an event: triggers a pass
            time.sleep(2)
            self.assertEqual(e.config(), before)  # unknown health is not unhealthy
        finally:
            e.sim("fault", kind="none")

    def test_dropped_and_silent_streams_reconnect(self):
        e = self.env
        m = e.metrics()
        connects = metric(m, "mlb_controller_sse_connects_total")
        drops = metric(m, "mlb_controller_sse_disconnects_total")
        e.sim("fault", kind="drop_stream", count=1)
        self.assertTrue(wait_until(lambda: metric(e.metrics(),
                                                  "mlb_controller_sse_connects_total") > connects,
                                   15), e.log("controller.log")[-2000:])
        e.sim("fault", kind="silent_stream")
        self.assertTrue(wait_until(
            lambda: metric(e.metrics(), "mlb_controller_sse_disconnects_total") >= drops + 2, 15))
        self.assertIn("silent for", e.log("controller.log"))
        e.sim("fault", kind="none")
        self.assertTrue(wait_until(lambda: metric(e.metrics(), "mlb_controller_sse_connected")
                                   == 1, 15))
        # Events flow again: a change goes out.
        v = e.version()
        e.sim("labels", app="/db", labels={"HAPROXY_0_BALANCE": "leastconn"})
        self.assertTrue(wait_until(lambda: e.version() != v, 10))
        self.assertIn("balance leastconn", e.config())


class IsolationTests(unittest.TestCase):
    def test_bad_label_on_one_app_does_not_hold_back_another(self):
        e = Env()
        try:
            v0 = e.version()
            # Same moment: /shop/api gets a label that could inject config, /db scales.
            e.sim("labels", app="/shop/api",
                  labels={"HAPROXY_0_BACKEND_HEAD": "backend x\n  bind :1\n"})
            e.sim("labels", app="/shop/web", labels={"HAPROXY_0_BALANCE": "source\nbind :2"})
            e.sim("scale", app="/db", instances=2, ports=[[18999]])
            self.assertTrue(wait_until(lambda: "127.0.0.1:18999" in e.config(), 10),
                            e.log("controller.log")[-2000:])
            self.assertNotEqual(e.version(), v0)
            cfg = e.config()
            self.assertNotIn("bind :2", cfg)
            self.assertIn("backend shop_web_10001", cfg)  # its last good fragment serves
            # /v1/status is updated right after the publish: wait for it.
            wait_until(lambda: "/shop/web" in {x["app_id"] for x in e.status()["quarantined"]})
            q = {x["app_id"]: x for x in e.status()["quarantined"]}
            self.assertIn("/shop/web", q)
            self.assertTrue(q["/shop/web"]["kept_last_good"])
            self.assertIn("HAPROXY_0_BALANCE", q["/shop/web"]["reason"])
            self.assertIn("app quarantined", e.log("controller.log"))
        finally:
            e.close()

    def test_haproxy_rejection_is_mapped_to_the_app(self):
        e = Env()
        try:
            # A template label that renders, passes label checks, and HAProxy rejects.
            e.sim("labels", app="/shop/api",
                  labels={"HAPROXY_0_BACKEND_HTTP_OPTIONS": "  balancee nonsense\n"})
            e.sim("scale", app="/db", instances=2, ports=[[18998]])
            self.assertTrue(wait_until(lambda: "127.0.0.1:18998" in e.config(), 15),
                            e.log("controller.log")[-3000:])
            self.assertNotIn("balancee", e.config())
            wait_until(lambda: "/shop/api" in {x["app_id"] for x in e.status()["quarantined"]})
            q = {x["app_id"]: x for x in e.status()["quarantined"]}
            self.assertEqual(q["/shop/api"]["source"], "haproxy")
            self.assertIn("balancee", q["/shop/api"]["reason"])
            self.assertTrue(wait_until(lambda: metric(e.metrics(),
                                                      "mlb_controller_quarantined_apps",
                                                      {"source": "haproxy"}) == 1))
        finally:
            e.close()


class FailoverTests(unittest.TestCase):
    def test_dead_first_url_fails_over(self):
        dead = "http://127.0.0.1:%d" % free_port()
        e = Env(start=False)
        try:
            e.ctl_args[e.ctl_args.index("--marathon") + 1:
                       e.ctl_args.index("--marathon") + 2] = [dead, e.sim_url]
            e.start_controller()
            self.assertEqual(e.status()["marathon_url"], e.sim_url)
            self.assertGreater(metric(e.metrics(), "mlb_controller_marathon_requests_total",
                                      {"url": dead}), 0)
        finally:
            e.close()

    def test_standby_redirects_the_event_stream_to_the_leader(self):
        leader = Env(start=False)
        try:
            standby_port = free_port()
            sb = leader.spawn([sys.executable, os.path.join(HERE, "marathon_sim.py"),
                               "--apps", os.path.join(HERE, "demo", "apps.json"),
                               "--listen", "127.0.0.1:%d" % standby_port], "standby.log")
            sb_url = "http://127.0.0.1:%d" % standby_port
            assert wait_until(lambda: http(sb_url + "/ping") == "pong", 30)
            http(sb_url + "/_sim/standby", {"leader": leader.sim_url})
            i = leader.ctl_args.index("--marathon")
            leader.ctl_args[i + 1] = sb_url
            leader.start_controller()
            self.assertTrue(wait_until(
                lambda: "event stream open" in leader.log("controller.log"), 10))
            syncs = metric(leader.metrics(), "mlb_controller_syncs_total")
            # An event on the leader's stream triggers a pass.
            leader.sim("labels", app="/db", labels={"X": "1"})
            self.assertTrue(wait_until(
                lambda: metric(leader.metrics(), "mlb_controller_syncs_total") > syncs, 10))
            self.assertTrue(wait_until(lambda: json.loads(http(
                leader.sim_url + "/_sim/state"))["subscribers"] >= 1, 5))
        finally:
            leader.close()


class DcosAuthTests(unittest.TestCase):
    """--dcos-auth-credentials: the controller logs in with an RS256 JWT and uses the
    token on /v2/apps and the event stream; a wrong key is refused and counted."""

    def keypair(self, d, name):
        key, pub = os.path.join(d, name + ".key"), os.path.join(d, name + ".pub")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", key], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                       capture_output=True)
        with open(key) as f:
            return f.read(), pub

    def env_with_login(self, private_key, pub):
        e = Env(start=False)
        e.sim_proc.terminate()
        e.sim_proc.wait(10)
        e.sim_proc = e.spawn([sys.executable, os.path.join(HERE, "marathon_sim.py"), "--apps",
                              os.path.join(HERE, "demo", "apps.json"), "--listen",
                              "127.0.0.1:%d" % e.sim_port, "--heartbeat", "0.5",
                              "--dcos-uid", "mlb-principal", "--dcos-public-key", pub],
                             "sim2.log")
        assert wait_until(lambda: http(e.sim_url + "/_sim/state"), 30)  # no auth needed
        creds = {"scheme": "RS256", "uid": "mlb-principal", "private_key": private_key,
                 "login_endpoint": e.sim_url + "/acs/api/v1/auth/login"}
        e.ctl_args += ["--dcos-auth-credentials", json.dumps(creds)]
        return e

    def test_service_account_login(self):
        d = tempfile.mkdtemp(prefix="mlb-dcos-")
        try:
            key, pub = self.keypair(d, "good")
            e = self.env_with_login(key, pub)
            try:
                e.start_controller()  # ready: /v2/apps was read with the token
                self.assertTrue(e.streams_and_publishes(), e.log("controller.log")[-2000:])
            finally:
                e.close()
            other_key, _ = self.keypair(d, "other")
            e = self.env_with_login(other_key, pub)  # signed by a key DC/OS does not know
            try:
                e.ctl = e.spawn(e.ctl_args, "controller.log")
                self.assertTrue(wait_until(lambda: "DC/OS login" in e.log("controller.log"), 15))
                self.assertTrue(wait_until(lambda: (metric(
                    e.metrics(), "mlb_controller_marathon_requests_total",
                    {"result": "login_refused"}) or 0) > 0, 10))
                self.assertFalse(os.path.exists(os.path.join(e.state, "current")))
            finally:
                e.close()
        finally:
            shutil.rmtree(d, ignore_errors=True)


class TlsTests(unittest.TestCase):
    """Marathon over HTTPS: the bulk GET and the event stream verify the certificate
    against --marathon-ca-cert and the host name; a certificate they cannot verify
    publishes nothing, unless --marathon-insecure-skip-verify."""

    def test_verified_tls_reads_apps_and_streams_events(self):
        e = Env(tls_names="IP:127.0.0.1")
        try:
            self.assertTrue(e.sim_url.startswith("https://"))
            self.assertTrue(e.streams_and_publishes(), e.log("controller.log")[-2000:])
        finally:
            e.close()

    def refused(self, e):
        e.ctl = e.spawn(e.ctl_args, "controller.log")
        self.assertTrue(wait_until(lambda: (metric(
            e.metrics(), "mlb_controller_marathon_faults_total", {"kind": "marathon_unavailable"})
            or 0) > 0, 15), e.log("controller.log")[-2000:])
        self.assertFalse(os.path.exists(os.path.join(e.state, "current")))
        self.assertEqual(metric(e.metrics(), "mlb_controller_sse_connected") or 0, 0)

    @staticmethod
    def without_ca(e, instead):
        """Replaces the controller's --marathon-ca-cert FILE by the `instead` args."""
        i = e.ctl_args.index("--marathon-ca-cert")
        e.ctl_args[i:i + 2] = instead

    def test_wrong_name_or_unknown_ca_is_refused_and_skip_verify_connects(self):
        # The certificate names another host: refused even with the right CA.
        e = Env(tls_names="DNS:marathon.example", start=False)
        try:
            self.refused(e)
        finally:
            e.close()
        # The right name, but the controller does not know the CA.
        e = Env(tls_names="IP:127.0.0.1", start=False)
        try:
            self.without_ca(e, [])
            self.refused(e)
        finally:
            e.close()
        e = Env(tls_names="IP:127.0.0.1", start=False)
        try:
            self.without_ca(e, ["--marathon-insecure-skip-verify"])
            e.start_controller()
            self.assertTrue(wait_until(lambda: metric(
                e.metrics(), "mlb_controller_sse_connected") == 1, 10))
        finally:
            e.close()


class PollModeTests(unittest.TestCase):
    def test_poll_interval_without_an_event_stream(self):
        e = Env(start=False)
        try:
            e.ctl_args += ["--poll-interval", "0.5"]
            e.start_controller()
            v = e.version()
            e.sim("scale", app="/db", instances=2, ports=[[18997]])
            self.assertTrue(wait_until(lambda: "127.0.0.1:18997" in e.config(), 10))
            self.assertNotEqual(e.version(), v)
            self.assertEqual(metric(e.metrics(), "mlb_controller_sse_connects_total"), 0)
            self.assertEqual(json.loads(http(e.sim_url + "/_sim/state"))["events_connections"],
                             0)
        finally:
            e.close()


class CrashTests(unittest.TestCase):
    def test_kill_9_never_leaves_a_partial_file(self):
        e = Env(generate=300, start=False, extra=("--no-validate", "--group", "*"))
        try:
            rng = random.Random(7)
            for i in range(12):
                p = e.spawn(e.ctl_args, "controller.log")
                time.sleep(rng.uniform(0.05, 0.6))
                e.sim("scale", app=json.loads(http(e.sim_url + "/v2/apps"))["apps"][i]["id"],
                      instances=3)
                time.sleep(rng.uniform(0.0, 0.2))
                p.kill()
                p.wait()
                self.check_state(e.state)
        finally:
            e.close()

    def check_state(self, state):
        bundles = os.path.join(state, "bundles")
        if not os.path.isdir(bundles):
            return
        for name in os.listdir(bundles):
            if name.startswith("."):
                continue  # temporary names: never read by the reloader, removed at start
            d = os.path.join(bundles, name)
            for f in ("domain2backend.map", "app2backend.map", "manifest.json"):
                self.assertTrue(os.path.exists(os.path.join(d, f)), (name, f))
            # The configuration whole, or as edits of a base that is still there.
            self.assertTrue(os.path.exists(os.path.join(d, "haproxy.cfg")) or
                            os.path.exists(os.path.join(d, "haproxy.cfg.edits")), name)
            with open(os.path.join(d, "manifest.json")) as f:
                self.assertEqual(json.load(f)["version"], name)
            # Complete files only (written under a temporary name, then renamed): the
            # configuration ends with its last line. (The name is a digest combined from
            # the pieces' digests, docs/architecture.md, not recomputable from the file.)
            text = bundle_config(d)
            self.assertTrue(text.endswith("\n") and "\nglobal" in "\n" + text, name)
        cur = os.path.join(state, "current")
        if os.path.lexists(cur):
            self.assertTrue(os.path.exists(os.path.join(cur, "manifest.json")))


class TaskInputTests(unittest.TestCase):
    """Task data is checked like labels: an agent known by name is resolved, a hostile
    or unresolvable one costs that task only and is visible."""

    def test_agent_names_resolve_and_bad_tasks_are_skipped_visibly(self):
        env = Env()
        try:
            env.sim("add_task", app="/db", host="localhost", ports=[18777])
            env.sim("add_task", app="/db", host="no-such-agent.invalid", ports=[18778])
            env.sim("add_task", app="/db", host="127.0.0.1\n  server evil 127.6.6.6",
                    ports=[18779])
            self.assertTrue(wait_until(lambda: "127.0.0.1:18777" in env.config(), 15),
                            env.log("controller.log"))
            cfg = env.config()
            self.assertNotIn("18778", cfg)
            self.assertNotIn("evil", cfg)
            # The three tasks may arrive over several passes: wait for the pass that
            # has seen them all.
            def reasons():
                return {t["reason"] for t in env.status()["skipped_tasks"]
                        if t["app_id"] == "/db"}
            wait_until(lambda: len(reasons()) == 2, 10)
            self.assertEqual(len(reasons()), 2, (reasons(), env.status()))
            self.assertGreaterEqual(metric(env.metrics(), "mlb_controller_skipped_tasks_total"), 2)
        finally:
            env.close()


class StartupTests(unittest.TestCase):
    """What can never work is refused at start, with the flag to change."""

    def test_missing_certificate_is_refused_and_relative_state_dir_made_absolute(self):
        d = tempfile.mkdtemp(prefix="mlb-st-")
        try:
            r = subprocess.run([CONTROLLER, "--marathon", "http://127.0.0.1:1", "--state-dir",
                                os.path.join(d, "s"), "--ssl-certs", os.path.join(d, "no.pem"),
                                "--haproxy-bin", HAPROXY], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("--ssl-certs", r.stderr)
            self.assertIn("--dont-bind-http-https", r.stderr)
            # A relative --state-dir: the stats socket HAProxy reads is an absolute path.
            env = Env(start=False)
            try:
                i = env.ctl_args.index("--state-dir")
                env.ctl_args[i + 1] = "rel-state"
                env.ctl = env.spawn(env.ctl_args, "controller.log")
                cur = os.path.join(os.getcwd(), "rel-state", "current")
                self.assertTrue(wait_until(lambda: os.path.exists(cur + "/manifest.json"), 30),
                                env.log("controller.log"))
                text = bundle_config(cur)
                self.assertIn("stats socket %s/rel-state/stats.sock" % os.getcwd(), text)
            finally:
                env.close()
                shutil.rmtree(os.path.join(os.getcwd(), "rel-state"), ignore_errors=True)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
