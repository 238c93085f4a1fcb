#!/usr/bin/env python3
"""The multi-container end-to-end test: the real Dockerfile built with podman, and
three containers from that one image — mlb-controller, mlb-reloader watch (--pid=host)
and mlb-reloader haproxy (--pid=host) — sharing a state volume, --net=host. On the
host: the Marathon simulator and real backends. Under continuous load it checks
routing (vhost, path, X-Marathon-App-Id on :9091, service port), a scale (0 failed
requests), replacing the haproxy container (0 failed, the old one exits after
draining), a bad label (only that app quarantined), and the controller stopped
(HAProxy keeps serving) and restarted (converges). Debian's Prometheus server scrapes
both /metrics endpoints and HAProxy's exporter, and promtool checks both endpoints.

It creates containers named mlb-e2e-<pid>-* and the image localhost/mlb:e2e, and
removes only those containers. Needs root, podman, runc and debootstrap (CI installs
them). Ports: 80, 443, 9090, 9091 and 10001-10004 on the host.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from testlib import Load, child_pids, http, http_get, stop_all, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
P = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
U = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]
IMAGE = os.environ.get("MLB_E2E_IMAGE", "localhost/mlb:e2e")
# The same Dockerfile on Debian 13: HAProxy 3.0.
IMAGE30 = os.environ.get("MLB_E2E_IMAGE30", "localhost/mlb:e2e-trixie")
NAME = "mlb-e2e-%d" % os.getpid()
SIM_PORT = int(os.environ.get("MLB_E2E_SIM_PORT", "19480"))
CTL = "127.0.0.1:19402"
RLD = "127.0.0.1:19403"


def log(msg):
    print("container-e2e: " + msg, flush=True)


def run(args, **kw):
    return subprocess.run(args, check=True, **kw)


class Stack:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mlb-ce-")
        self.state = os.path.join(self.dir, "state")
        os.makedirs(self.state)
        os.chmod(self.state, 0o777)  # the containers run as uid 10001
        self.procs = []
        self.containers = []

    def spawn(self, args, logname):
        with open(os.path.join(self.dir, logname), "ab") as f:
            p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def container(self, suffix, args, pid_host=False, image=IMAGE):
        name = "%s-%s" % (NAME, suffix)
        cmd = P + ["run", "-d", "--name", name, "--net=host",
                   "-e", "MLB_RELOADER_URL=http://%s" % RLD] + U + \
            (["--pid=host"] if pid_host else []) + \
            ["-v", "%s:/run/mlb" % self.state, image] + args
        run(cmd, stdout=subprocess.DEVNULL)
        self.containers.append(name)
        return name

    def running(self, name):
        r = subprocess.run(P + ["inspect", "-f", "{{.State.Running}}", name],
                           capture_output=True, text=True)
        return r.stdout.strip() == "true"

    def logs(self, name):
        return subprocess.run(P + ["logs", name], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True).stdout[-3000:]

    def close(self):
        for name in self.containers:
            subprocess.run(P + ["rm", "-f", "-t", "5", name], capture_output=True)
        stop_all(self.procs, 10)
        shutil.rmtree(self.dir, ignore_errors=True)


def build_image(suite, image):
    """The real Dockerfile on a Debian base made with debootstrap (no registry here)."""
    run([os.path.join(HERE, "container", "make_base_image.sh"), suite])
    log("building %s from the Dockerfile on %s" % (image, suite))
    t0 = time.monotonic()
    run(P + ["build", "--network", "host"] + U + ["--build-arg",
        "BASE_IMAGE=localhost/mlb-%s-base:latest" % suite, "-t", image, ROOT],
        stdout=subprocess.DEVNULL)
    version = subprocess.run(P + ["run", "--rm"] + U + [image, "haproxy", "-v"],
                             capture_output=True, text=True).stdout.split("\n")[0]
    log("image built in %.0f s: %s" % (time.monotonic() - t0, version))


def stats_version():
    """The version on the stats page of the HAProxy serving :9090."""
    body = http_get("127.0.0.1:9090", "/haproxy?stats")[1]
    i = body.find("version ")
    return body[i + 8:i + 30].split(",")[0].split()[0] if i >= 0 else ""


def reloads(kind="reload"):
    m = http_get(RLD, "/metrics")[1]
    return sum(float(line.split()[-1]) for line in m.splitlines()
               if line.startswith("mlb_reloader_reloads_total{") and 'result="success"' in line
               and 'kind="%s"' % kind in line)


def main():
    for tool in ("podman", "runc", "debootstrap", "prometheus", "promtool"):
        if not shutil.which(tool):
            log("FAIL: %s is not installed (scripts/install-deps.sh installs it)" % tool)
            return 1
    for suite, image in (("bookworm", IMAGE), ("trixie", IMAGE30)):
        build_image(suite, image)
    s = Stack()
    failures = []

    def check(cond, what):
        log(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    try:
        # Host side: real backends and the simulator.
        for port, name in ((18081, "shop-web-1"), (18082, "shop-web-2"), (18083, "shop-api"),
                           (18084, "db"), (18086, "db-2")):
            www = os.path.join(s.dir, "www", name)
            os.makedirs(os.path.join(www, "api"))
            for f in (os.path.join(www, "index.html"), os.path.join(www, "api", "index.html")):
                with open(f, "w") as fh:
                    fh.write(name + "\n")
            s.spawn([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                     "--directory", www], "backend-%d.log" % port)
        s.spawn([sys.executable, os.path.join(HERE, "marathon_sim.py"), "--apps",
                 os.path.join(HERE, "demo", "apps.json"), "--listen",
                 "127.0.0.1:%d" % SIM_PORT, "--heartbeat", "1"], "sim.log")
        sim = "http://127.0.0.1:%d" % SIM_PORT
        assert wait_until(lambda: urllib.request.urlopen(sim + "/ping").read() == b"pong", 30)

        ctl_args = ["mlb-controller", "--marathon", sim, "--group", "external",
                    "--health-check", "--maxconn", "4000", "--listen", CTL,
                    "--min-interval", "0.2"]
        ctl = s.container("controller", ctl_args)
        s.container("reloader", ["mlb-reloader", "watch", "--listen", RLD,
                                 "--min-reload-interval", "0.2"], pid_host=True)
        hap1 = s.container("haproxy-1", ["mlb-reloader", "haproxy"], pid_host=True)
        served = wait_until(lambda: http_get("127.0.0.1:80", "/",
                                             {"Host": "shop.demo.local"})[0] == 200, 90)
        check(served, "HAProxy container serves the controller's bundle")
        if not served:
            for n in s.containers:
                log("logs of %s:\n%s" % (n, s.logs(n)))
            return 1

        routes = [("127.0.0.1:80", "/", {"Host": "shop.demo.local"}),
                  ("127.0.0.1:80", "/api/", {"Host": "shop.demo.local"}),
                  ("127.0.0.1:9091", "/api/", {"X-Marathon-App-Id": "/shop/api"}),
                  ("127.0.0.1:10003", "/", {})]
        for hp, path, hdr in routes:
            body = wait_until(lambda: http_get(hp, path, hdr)[1].strip(), 20)
            check(body in ("shop-web-1", "shop-web-2", "shop-api", "db"),
                  "route %s%s %s -> %s" % (hp, path, hdr, body))
        check(http_get("127.0.0.1:80", "/api/", {"Host": "shop.demo.local"})[1].strip()
              == "shop-api", "path routing sends /api/ to /shop/api")
        # HAProxy's own log lines on the container's output (the image's
        # MLB_HAPROXY_LOG=stdout): the requests just made are there.
        logged = wait_until(lambda: "marathon_http_in" in s.logs(hap1), 20)
        check(logged, "HAProxy's request log lines reach the haproxy container's output")

        # Prometheus for real: Debian's server scrapes both mlb endpoints and HAProxy's
        # own exporter; its HTTP API must show the targets up and the mlb_* series.
        prom_port = 19490
        prom_dir = os.path.join(s.dir, "prometheus")
        os.makedirs(prom_dir)
        with open(os.path.join(prom_dir, "prometheus.yml"), "w") as f:
            f.write("global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n" +
                    "".join("  - job_name: %s\n    static_configs: [{targets: ['%s']}]\n" % jt
                            for jt in (("mlb-controller", CTL), ("mlb-reloader", RLD),
                                       ("haproxy", "127.0.0.1:9090"))))
        s.spawn(["prometheus", "--config.file", os.path.join(prom_dir, "prometheus.yml"),
                 "--storage.tsdb.path", os.path.join(prom_dir, "data"),
                 "--web.listen-address", "127.0.0.1:%d" % prom_port], "prometheus.log")

        def prom(query):
            url = "http://127.0.0.1:%d/api/v1/query?%s" % (
                prom_port, urllib.parse.urlencode({"query": query}))
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.load(r)["data"]["result"]

        ups = wait_until(lambda: (lambda r: r if len(r) == 3 and all(x["value"][1] == "1"
                                                                       for x in r) else None)(
            prom("up")), 60)
        check(ups, "Prometheus scrapes controller, reloader and HAProxy: %s" %
              sorted((x["metric"]["job"], x["value"][1]) for x in (ups or [])))
        for series in ("mlb_controller_syncs_total", "mlb_controller_publishes_total",
                       "mlb_reloader_reloads_total", "mlb_reloader_haproxy_processes",
                       "haproxy_process_start_time_seconds"):
            found = wait_until(lambda: prom(series), 30)
            check(found, "Prometheus has %s" % series)
        for hp in (CTL, RLD):
            text = http_get(hp, "/metrics")[1]
            r = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True)
            check(r.returncode == 0, "promtool check metrics on %s %s" % (hp, r.stdout + r.stderr))

        cfg = wait_until(lambda: http_get("127.0.0.1:9090", "/_haproxy_getconfig")[1], 20)
        check(cfg and "frontend marathon_http_in" in cfg,
              "/_haproxy_getconfig on HAProxy's :9090 (answered by the reloader)")
        pids = http_get("127.0.0.1:9090", "/_haproxy_getpids")[1].split()
        check(len(pids) >= 2 and all(p.isdigit() for p in pids),
              "/_haproxy_getpids on :9090 -> %s" % pids)

        load = Load(routes, limit=600)
        load.start()
        time.sleep(2)
        log("phase steady: ok/failed = %d/%d" % load.phase())

        # A scale in the simulator: the new task serves, nothing fails.
        http(sim + "/_sim/scale", {"app": "/db", "instances": 2, "ports": [[18086]]})
        seen = wait_until(lambda: {http_get("127.0.0.1:10003")[1].strip() for _ in range(6)}
                          >= {"db", "db-2"}, 30)
        time.sleep(1)
        ok, failed = load.phase()
        log("phase scale: ok/failed = %d/%d" % (ok, failed))
        check(seen and failed == 0 and ok > 0, "scale: new server serving, 0 failed requests")

        # Replace the haproxy container by a new one (an upgrade): takeover, drain, exit.
        hap2 = s.container("haproxy-2", ["mlb-reloader", "haproxy"], pid_host=True)
        exited = wait_until(lambda: not s.running(hap1), 60)
        time.sleep(1)
        ok, failed = load.phase()
        log("phase handover: ok/failed = %d/%d" % (ok, failed))
        check(exited, "old haproxy container exited after draining")
        check(s.running(hap2) and failed == 0 and ok > 0,
              "haproxy container replaced: 0 failed requests")

        # The binary upgrade: a container with HAProxy 3.0 (Debian 13) takes the sockets
        # over from the 2.6 one under load; the 2.6 watcher reloads it from then on.
        v26 = stats_version()
        hap3 = s.container("haproxy-3", ["mlb-reloader", "haproxy"], pid_host=True,
                           image=IMAGE30)
        exited = wait_until(lambda: not s.running(hap2), 60)
        time.sleep(1)
        ok, failed = load.phase()
        v30 = wait_until(lambda: (lambda v: v if v.startswith("3.") else None)(
            stats_version()), 10)
        log("phase handover %s -> %s: ok/failed = %d/%d" % (v26, v30, ok, failed))
        check(v26.startswith("2.6") and v30, "HAProxy %s replaced by %s" % (v26, v30))
        check(exited and s.running(hap3) and failed == 0 and ok > 0,
              "handover from HAProxy 2.6 to 3.0 under load: 0 failed requests")

        # A bad label on one app: quarantined; another app's change still goes out.
        http(sim + "/_sim/labels", {"app": "/shop/api",
                                    "labels": {"HAPROXY_0_BALANCE": "roundrobin\nbind :1"}})
        http(sim + "/_sim/scale", {"app": "/db", "instances": 1})
        applied = wait_until(lambda: {http_get("127.0.0.1:10003")[1].strip()
                                      for _ in range(6)} == {"db"}, 30)
        status = json.loads(http_get(CTL, "/v1/status")[1])
        quarantined = [q["app_id"] for q in status["quarantined"]]
        check(applied and "/shop/api" in quarantined,
              "bad label: /shop/api quarantined (%s), /db's change applied" % quarantined)
        check(http_get("127.0.0.1:80", "/api/", {"Host": "shop.demo.local"})[1].strip()
              == "shop-api", "quarantined app keeps serving its last good config")

        # The controller stopped: HAProxy keeps serving; restarted: converges.
        run(P + ["stop", "-t", "5", ctl], stdout=subprocess.DEVNULL)
        time.sleep(2)
        ok, failed = load.phase()
        log("phase controller down: ok/failed = %d/%d" % (ok, failed))
        check(failed == 0 and ok > 0, "controller stopped: HAProxy keeps serving")
        http(sim + "/_sim/labels", {"app": "/shop/api", "labels": {"HAPROXY_0_BALANCE": None}})
        http(sim + "/_sim/scale", {"app": "/db", "instances": 2, "ports": [[18086]]})
        run(P + ["start", ctl], stdout=subprocess.DEVNULL)
        conv = wait_until(lambda: {http_get("127.0.0.1:10003")[1].strip() for _ in range(6)}
                          >= {"db", "db-2"}, 60)
        time.sleep(1)
        ok, failed = load.phase()
        log("phase controller restarted: ok/failed = %d/%d" % (ok, failed))
        check(conv and failed == 0, "controller restarted: converges, 0 failed requests")
        status = json.loads(http_get(CTL, "/v1/status")[1])
        check(not status["quarantined"] or all(q["app_id"] != "/shop/api"
                                                for q in status["quarantined"]),
              "fixed label leaves quarantine")
        # A change that needs a reload, applied by the 3.0 master (its reload status).
        before = reloads()
        http(sim + "/_sim/labels", {"app": "/db", "labels": {"HAPROXY_0_BALANCE": "leastconn"}})
        reloaded = wait_until(lambda: "balance leastconn" in http_get(
            "127.0.0.1:9090", "/_haproxy_getconfig")[1] and reloads() > before, 30)
        time.sleep(1)
        ok, failed = load.phase()
        log("phase reload on 3.0: ok/failed = %d/%d" % (ok, failed))
        check(reloaded and stats_version().startswith("3.") and failed == 0,
              "a reload of HAProxy 3.0 through its master CLI: %d -> %d, 0 failed requests"
              % (before, reloads()))
        m = http_get(RLD, "/metrics")[1]
        # Reloads and runtime changes (servers changed without a reload) both count.
        ok_reloads = [float(line.split()[-1]) for line in m.splitlines()
                      if line.startswith("mlb_reloader_reloads_total{") and
                      'result="success"' in line]
        check(ok_reloads and sum(ok_reloads) >= 1,
              "reloader metrics count changes gone live: %s" % ok_reloads)
        load.stop_flag.set()
        load.join(10)
        if load.errors:
            log("first errors: %s" % load.errors[:5])
        for name in list(s.containers):
            subprocess.run(P + ["rm", "-f", "-t", "30", name], capture_output=True)
            s.containers.remove(name)
        one_container(s, sim, routes, check)
    finally:
        if failures:
            for n in s.containers:
                log("logs of %s:\n%s" % (n, s.logs(n)))
        s.close()
    log("PASSED" if not failures else "FAILED: %s" % failures)
    return 0 if not failures else 1


def child_of(pid, prog):
    """The child of `pid` running `prog` (a process this test started, via podman)."""
    for c in child_pids(pid):
        try:
            with open("/proc/%d/cmdline" % c, "rb") as f:
                if f.read().split(b"\0")[0].endswith(prog.encode()):
                    return c
        except OSError:
            pass
    return 0


def environ_names(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return {e.split(b"=", 1)[0].decode() for e in f.read().split(b"\0") if e}
    except OSError:
        return None


def one_container(s, sim, routes, check):
    """marathon-lb's app definition as Marathon's Docker containerizer runs it: one
    container, `args: ["sse", ...]`, host network, env. Routes; a dead child is
    restarted; `podman stop` ends it with status 0."""
    app = json.load(open(os.path.join(ROOT, "deploy", "marathon", "mlb-marathon-lb.json")))
    args = [sim if a == "http://marathon.mesos:8080" else a for a in app["args"]]
    args += ["--maxconn", "4000"]  # this sandbox's open-files limit (marathon-lb: 50000)
    tmp = tempfile.mkdtemp(prefix="mlb-cert-", dir=s.dir)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=one-container.mlb.test", "-keyout", tmp + "/k", "-out",
                    tmp + "/c"], check=True, capture_output=True)
    pem = open(tmp + "/c").read() + open(tmp + "/k").read()
    env = dict(app["env"], HAPROXY_SSL_CERT=pem.replace("\n", "\\n"))
    params = ["--%s=%s" % (p["key"], p["value"])
              for p in app["container"]["docker"].get("parameters", [])]
    name = "%s-marathon-lb" % NAME
    cmd = P + ["run", "-d", "--name", name, "--net=host"] + params + U + \
        sum((["-e", "%s=%s" % kv] for kv in env.items()), []) + [IMAGE] + args
    run(cmd, stdout=subprocess.DEVNULL)
    s.containers.append(name)
    load = Load(routes, limit=600)
    served = wait_until(lambda: http_get("127.0.0.1:80", "/",
                                         {"Host": "shop.demo.local"})[0] == 200, 90)
    check(served, "one container (args %s) serves" % app["args"][:2])
    if not served:
        return
    load.start()
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:443", "-servername",
                          "x.test"], input="", capture_output=True, text=True).stdout
    check("one-container.mlb.test" in out, "HAPROXY_SSL_CERT served on :443")
    time.sleep(1)
    sup = int(subprocess.run(P + ["inspect", "-f", "{{.State.Pid}}", name],
                             capture_output=True, text=True).stdout.strip() or 0)
    ctl = child_of(sup, "mlb-controller")
    check(sup and ctl, "the supervisor (pid %d) runs mlb-controller (pid %d)" % (sup, ctl))
    hap = child_of(sup, "/haproxy")
    names = [environ_names(p) for p in (ctl, hap)]
    check(hap and all(n is not None and "HAPROXY_SSL_CERT" not in n for n in names),
          "the certificate's text is in neither the controller's nor HAProxy's environment")
    if ctl:
        os.kill(ctl, signal.SIGKILL)
        back = wait_until(lambda: (lambda c: c if c and c != ctl else 0)(
            child_of(sup, "mlb-controller")), 30)
        up = wait_until(lambda: http_get("127.0.0.1:9102", "/healthz")[0] == 200, 30)
        time.sleep(1)
        ok, failed = load.phase()
        log("phase one container, controller killed: ok/failed = %d/%d" % (ok, failed))
        check(back and up and failed == 0 and ok > 0,
              "a killed mlb-controller is restarted (pid %s), 0 failed requests" % back)
    load.stop_flag.set()
    load.join(10)
    run(P + ["stop", "-t", "30", name], stdout=subprocess.DEVNULL)
    code = subprocess.run(P + ["inspect", "-f", "{{.State.ExitCode}}", name],
                          capture_output=True, text=True).stdout.strip()
    logs = s.logs(name)
    check(code == "0" and 'msg="all stopped" exit=0' in logs,
          "podman stop: the three stop gracefully, exit status %s" % code)


if __name__ == "__main__":
    sys.exit(main())
