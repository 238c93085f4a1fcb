#!/usr/bin/env python3
"""mlb-reloader against the real HAProxy binary: valid and invalid bundles, a burst
of bundles, a handover between two entrypoint instances under load, the old-worker
governor, and every PID-safety case. Bundles are written into the state dir the way
the controller writes them. Every process started here is ended here, by pid.

usage: reloader_test.py  (env: RELOADER, HAPROXY)
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from testlib import Load, free_port, haproxy_masters, stop_all, unix_command, wait_until

RELOADER = os.environ.get("RELOADER", "build/reloader/mlb-reloader")
HAPROXY = os.environ.get("HAPROXY", shutil.which("haproxy") or "/usr/sbin/haproxy")
BASE_PORT = int(os.environ.get("MLB_TEST_BASE_PORT", "19500"))


def config(state, port, body, extra="", tcp_port=None, tcp_backend=None):
    cfg = ("global\n"
           "  stats socket %s/stats.sock mode 600 level admin expose-fd listeners\n"
           "  hard-stop-after 60s\n"
           "defaults\n"
           "  mode http\n"
           "  option idle-close-on-response\n"
           "  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n"
           "frontend web\n"
           "  bind 127.0.0.1:%d\n"
           "  http-request return status 200 content-type text/plain string %s\n"
           % (state, port, body)) + extra
    if tcp_port:
        cfg += ("listen hold\n  mode tcp\n  bind 127.0.0.1:%d\n  server s1 127.0.0.1:%d\n"
                % (tcp_port, tcp_backend))
    return cfg


def publish(state, version, text):
    """Writes bundles/<version>/haproxy.cfg and swaps `current`, as the controller does."""
    d = os.path.join(state, "bundles", version)
    os.makedirs(d, exist_ok=True)
    for name in ("domain2backend.map", "app2backend.map"):
        open(os.path.join(d, name), "w").close()
    with open(os.path.join(d, "haproxy.cfg.tmp"), "w") as f:
        f.write(text)
    os.rename(os.path.join(d, "haproxy.cfg.tmp"), os.path.join(d, "haproxy.cfg"))
    tmp = os.path.join(state, "current.tmp")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink("bundles/" + version, tmp)
    os.rename(tmp, os.path.join(state, "current"))


def get(port, path="/", timeout=2.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def master_cmd(state, cmd):
    return unix_command(os.path.join(state, "master.sock"), cmd, timeout=2)


def show_proc(state):
    # The master CLI refuses connections while the master re-executes (a reload).
    for _ in range(100):
        try:
            out = master_cmd(state, "show proc")
            break
        except ConnectionRefusedError:
            time.sleep(0.05)
    else:
        out = master_cmd(state, "show proc")
    res = {"master": None, "reloads": 0, "failed": 0, "workers": [], "old": []}
    section = None
    for line in out.splitlines():
        if line.startswith("#"):
            section = "old" if "old workers" in line else ("workers" if "workers" in line
                                                            else None)
            continue
        parts = line.split()
        if len(parts) < 3:
            continue
        if parts[1] == "master":
            res["master"] = int(parts[0])
            res["reloads"] = int(parts[2])
            if "[failed:" in parts:
                res["failed"] = int(parts[parts.index("[failed:") + 1].rstrip("]"))
        elif parts[1] == "worker" and section in ("workers", "old"):
            res[section].append((int(parts[0]), int(parts[2])))
    return res


class ReloaderCase(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="mlb-rt-")
        self.procs = []
        self.port = free_port()

    def tearDown(self):
        stop_all(self.procs, 10)
        if not os.environ.get("RT_KEEP"):
            shutil.rmtree(self.state, ignore_errors=True)

    def start(self, *args, log="x.log"):
        with open(os.path.join(self.state, log), "ab") as f:
            p = subprocess.Popen([RELOADER] + list(args), stdout=f, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def start_haproxy(self, log="haproxy.log"):
        return self.start("haproxy", "--state-dir", self.state, "--haproxy-bin", HAPROXY,
                          "--wait-bundle", "10", log=log)

    def start_watch(self, *extra):
        self.watch_port = free_port()
        return self.start("watch", "--state-dir", self.state, "--haproxy-bin", HAPROXY,
                          "--listen", "127.0.0.1:%d" % self.watch_port,
                          "--min-reload-interval", "0.2", "--recheck-interval", "0.3",
                          *extra, log="watch.log")

    def status(self):
        with open(os.path.join(self.state, "status.json")) as f:
            return json.load(f)

    def serving(self, body):
        return wait_until(lambda: get(self.port) == (200, body), 15)

    def log(self, name):
        try:
            with open(os.path.join(self.state, name)) as f:
                return f.read()
        except OSError:
            return ""

    def up(self, body="v1", **kw):
        publish(self.state, body, config(self.state, self.port, body, **kw))
        self.master = self.start_haproxy()
        self.assertTrue(self.serving(body), self.log("haproxy.log"))


class BundleTests(ReloaderCase):
    def test_valid_bundle_is_reloaded_and_verified(self):
        self.up("v1")
        self.start_watch()
        before = show_proc(self.state)["reloads"]
        publish(self.state, "v2", config(self.state, self.port, "v2"))
        self.assertTrue(self.serving("v2"), self.log("watch.log"))
        self.assertTrue(wait_until(lambda: self.status()["applied_version"] == "v2"))
        sp = show_proc(self.state)
        self.assertGreater(sp["reloads"], before)
        self.assertEqual(sp["master"], self.master.pid)  # the master keeps its pid
        self.assertEqual(os.readlink(os.path.join(self.state, "live")), "bundles/v2")
        # status.json is written before the counters move: wait for them.
        self.assertTrue(wait_until(lambda: 'mlb_reloader_reloads_total{kind="reload",'
                                   'result="success"} 1' in get(self.watch_port, "/metrics")[1]))
        self.assertIn("v2", get(self.watch_port, "/_haproxy_getconfig")[1])
        pids = get(self.watch_port, "/_haproxy_getpids")[1].split()
        self.assertIn(str(self.master.pid), pids)

    def test_invalid_bundle_is_rejected_and_old_config_keeps_serving(self):
        self.up("v1")
        self.start_watch()
        wait_until(lambda: self.status()["applied_version"] == "v1", 5)
        before = show_proc(self.state)["reloads"]
        publish(self.state, "bad", config(self.state, self.port, "bad") + "  balancee foo\n")
        st = wait_until(lambda: self.status()["rejected"].get("bad"), 10)
        self.assertTrue(st, self.log("watch.log"))
        self.assertIn("[ALERT]", st["reason"])
        self.assertIn("balancee", st["reason"])
        self.assertEqual(get(self.port), (200, "v1"))
        self.assertEqual(show_proc(self.state)["reloads"], before)  # HAProxy untouched
        self.assertEqual(os.readlink(os.path.join(self.state, "live")), "bundles/v1")
        # The next good bundle still goes out.
        publish(self.state, "v3", config(self.state, self.port, "v3"))
        self.assertTrue(self.serving("v3"))
        self.assertTrue(wait_until(lambda: 'mlb_reloader_validations_total{result="invalid"} 1'
                                   in get(self.watch_port, "/metrics")[1]))

    def test_burst_of_50_bundles_coalesces_and_the_last_one_serves(self):
        self.up("v0")
        self.start_watch()
        wait_until(lambda: self.status()["applied_version"] == "v0", 5)
        before = show_proc(self.state)["reloads"]
        for i in range(1, 51):
            publish(self.state, "b%02d" % i, config(self.state, self.port, "b%02d" % i))
            time.sleep(0.01)
        self.assertTrue(self.serving("b50"), self.log("watch.log"))
        self.assertTrue(wait_until(lambda: self.status()["applied_version"] == "b50"))
        reloads = show_proc(self.state)["reloads"] - before
        print("burst: 50 bundles -> %d reloads" % reloads, file=sys.stderr)
        self.assertGreaterEqual(reloads, 1)
        self.assertLess(reloads, 50)


class ForeignStatusTests(ReloaderCase):
    def test_a_status_file_with_nulls_does_not_stop_the_watcher(self):
        self.up("v1")
        with open(os.path.join(self.state, "status.json"), "w") as f:
            f.write('{"applied_version": null, "applied_at": 3, '
                    '"rejected": {"x": {"reason": null, "at": []}, "y": null}}')
        watch = self.start_watch()
        publish(self.state, "v2", config(self.state, self.port, "v2"))
        self.assertTrue(self.serving("v2"), self.log("watch.log"))
        self.assertTrue(wait_until(lambda: self.status()["applied_version"] == "v2", 10))
        self.assertIsNone(watch.poll())


class HandoverTests(ReloaderCase):
    def test_second_entrypoint_takes_over_under_load_without_losing_a_request(self):
        self.up("v1")
        old_master = self.master
        loads = [Load([self.port], pause=0), Load([self.port], keepalive=True, pause=0)]
        for l in loads:
            l.start()
        time.sleep(0.5)
        new_master = self.start_haproxy(log="haproxy2.log")
        # The old master soft-stops and exits once its workers drained.
        old_master.wait(20)
        self.assertTrue(wait_until(lambda: show_proc(self.state)["master"] == new_master.pid))
        time.sleep(0.5)
        results = [l.finish() for l in loads]
        print("handover: ok/failed (close, keep-alive) = %s" % results, file=sys.stderr)
        for (ok, failed), l in zip(results, loads):
            self.assertGreater(ok, 50)
            self.assertEqual(failed, 0, l.errors[:5])
        # (HAProxy's master drops -x/-sf from its own argv; the entrypoint logs them.)
        self.assertIn("-x %s/stats.sock -sf %d" % (self.state, old_master.pid),
                      self.log("haproxy2.log"))
        self.assertEqual(get(self.port), (200, "v1"))


class SignalTests(ReloaderCase):
    def test_marathon_lbs_sigusr1_reloads_and_sighup_is_not_a_stop(self):
        """In marathon-lb SIGUSR1 means "reload HAProxy" and SIGHUP "regenerate"; both
        killed mlb-reloader watch."""
        self.up("v1")
        watch = self.start_watch()
        self.assertTrue(wait_until(lambda: self.status().get("applied_version") == "v1", 10))
        before = show_proc(self.state)["reloads"]
        watch.send_signal(signal.SIGUSR1)
        self.assertTrue(wait_until(lambda: show_proc(self.state)["reloads"] == before + 1, 10),
                        self.log("watch.log"))
        watch.send_signal(signal.SIGHUP)
        time.sleep(1)
        self.assertIsNone(watch.poll())
        self.assertEqual(show_proc(self.state)["reloads"], before + 1)
        self.assertEqual(get(self.port), (200, "v1"))
        self.assertIn("signal: reloading HAProxy with the live bundle", self.log("watch.log"))


class FailedHandoverTests(ReloaderCase):
    def test_a_new_haproxy_that_fails_to_start_freezes_nothing(self):
        """A handover to an HAProxy that exits at once (a newer image refusing the live
        config, a bad binary): the old master keeps serving and stays governed — the next
        bundle goes live through it. It was refused as "not the master recorded"."""
        self.up("v1")
        self.start_watch()
        broken = os.path.join(self.state, "haproxy-broken")
        with open(broken, "w") as f:
            f.write("#!/bin/sh\necho 'refusing the configuration' >&2\nexit 1\n")
        os.chmod(broken, 0o755)
        bad = self.start("haproxy", "--state-dir", self.state, "--haproxy-bin", broken,
                         "--wait-bundle", "1", log="broken.log")
        self.assertEqual(bad.wait(30), 1, self.log("broken.log"))
        self.assertEqual(get(self.port), (200, "v1"))
        publish(self.state, "v2", config(self.state, self.port, "v2"))
        self.assertTrue(self.serving("v2"), self.log("watch.log")[-2000:])
        self.assertEqual(show_proc(self.state)["master"], self.master.pid)
        self.assertFalse(os.path.exists(os.path.join(self.state, "haproxy.master.next")))
        with open(os.path.join(self.state, "haproxy.master")) as f:
            self.assertEqual(int(f.read().split()[0]), self.master.pid)


class Publisher(threading.Thread):
    """Publishes a new bundle every `interval` seconds (bounded: at most 400)."""

    def __init__(self, case, interval=0.3):
        super().__init__(daemon=True)
        self.case, self.interval = case, interval
        self.latest = None
        self.stop_flag = threading.Event()

    def run(self):
        for i in range(400):
            if self.stop_flag.wait(self.interval):
                return
            body = "p%03d" % i
            publish(self.case.state, body, config(self.case.state, self.case.port, body))
            self.latest = body

    def finish(self):
        self.stop_flag.set()
        self.join(10)
        return self.latest


class HandoverRaceTests(ReloaderCase):
    def instance_masters(self):
        return haproxy_masters(self.state)

    def test_20_handovers_while_bundles_arrive_leave_no_stale_master(self):
        """A second entrypoint started while the watcher reloads (a bundle every 300 ms):
        the old master exits every time, nothing fails, the newest bundle serves."""
        self.up("v0")
        self.start_watch()
        loads = [Load([self.port], pause=0), Load([self.port], keepalive=True, pause=0)]
        for l in loads:
            l.start()
        pub = Publisher(self)
        pub.start()
        master = self.master
        stale = []
        for h in range(20):
            time.sleep(0.2 + 0.05 * (h % 5))
            new = self.start_haproxy(log="haproxy%02d.log" % h)
            try:
                master.wait(30)
            except subprocess.TimeoutExpired:
                stale.append(master.pid)
            ok = wait_until(lambda: show_proc(self.state)["master"] == new.pid, 15)
            self.assertTrue(ok, self.log("watch.log")[-2000:])
            master = new
        last = pub.finish()
        self.assertTrue(wait_until(lambda: self.status()["applied_version"] == last, 20),
                        self.log("watch.log")[-3000:])
        answers = {get(self.port)[1] for _ in range(20)}
        results = [l.finish() for l in loads]
        print("handover race: 20 handovers, ok/failed (close, keep-alive) = %s, stale = %s"
              % (results, stale), file=sys.stderr)
        self.assertEqual(stale, [])
        self.assertEqual(self.instance_masters(), [master.pid])
        self.assertEqual(answers, {last})
        for (ok, failed), l in zip(results, loads):
            self.assertGreater(ok, 50)
            self.assertEqual(failed, 0, l.errors[:5])
        self.assertNotIn("reload not confirmed", self.log("watch.log"))


class StaleMasterTests(ReloaderCase):
    def test_an_older_master_left_serving_is_soft_stopped(self):
        """A master a handover failed to stop (no -sf) shares the ports with the current
        one: the watcher soft-stops it, and only the current master serves."""
        self.up("v1")
        stale = self.master
        argv = [HAPROXY, "-W", "-S", self.state + "/master.sock,mode,600", "-p",
                self.state + "/haproxy.pid", "-f", self.state + "/live/haproxy.cfg"]
        with open(os.path.join(self.state, "current.log"), "ab") as f:
            current = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT)
        self.procs.append(current)
        self.assertTrue(wait_until(lambda: show_proc(self.state)["master"] == current.pid, 10))
        with open("/proc/%d/stat" % current.pid) as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
        with open(os.path.join(self.state, "haproxy.master"), "w") as f:
            f.write("%d %s v1\n" % (current.pid, start))
        self.start_watch()
        stale.wait(15)  # raises if the stale master survives
        self.assertIsNone(current.poll())
        self.assertEqual(get(self.port), (200, "v1"))
        self.assertTrue(wait_until(lambda: 'mlb_reloader_haproxy_processes{role="stale_master"} 0'
                                   in get(self.watch_port, "/metrics")[1], 5))
        self.assertIn("soft-stopping HAProxy masters of this state dir older",
                      self.log("watch.log"))


class StartupTests(ReloaderCase):
    def test_maxconn_beyond_the_open_files_limit_is_refused_with_the_fix(self):
        """HAProxy would exit at start (the watcher would only see "no pid file"): the
        entrypoint refuses with the numbers and the flag to change."""
        import resource
        publish(self.state, "big", config(self.state, self.port, "big").replace(
            "global\n", "global\n  maxconn 50000\n", 1))
        limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))  # noqa: E731
        r = subprocess.run([RELOADER, "haproxy", "--state-dir", self.state, "--haproxy-bin",
                            HAPROXY, "--wait-bundle", "2"], capture_output=True, text=True,
                           timeout=60, preexec_fn=limit)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        out = r.stdout + r.stderr
        self.assertIn("refusing to start HAProxy", out)
        self.assertIn("--maxconn to at most", out)
        self.assertIn("100256", out)


class HoldServer(threading.Thread):
    """A TCP backend that accepts connections and holds them open (slow clients)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []

    def run(self):
        end = time.monotonic() + 120
        self.sock.settimeout(0.5)
        while time.monotonic() < end:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                if self.sock.fileno() < 0:
                    return

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


class GovernorTests(ReloaderCase):
    def test_old_generations_are_bounded(self):
        hold = HoldServer()
        hold.start()
        tcp_port = free_port()
        self.up("g0", tcp_port=tcp_port, tcp_backend=hold.port)
        self.start_watch("--max-old-workers", "1", "--stop-grace", "1")
        wait_until(lambda: self.status()["applied_version"] == "g0", 5)
        clients = []
        try:
            peak = 0
            for i in range(1, 5):
                c = socket.create_connection(("127.0.0.1", tcp_port))
                clients.append(c)  # each generation keeps one long-lived connection
                time.sleep(0.3)
                publish(self.state, "g%d" % i, config(self.state, self.port, "g%d" % i,
                                                      tcp_port=tcp_port, tcp_backend=hold.port))
                self.assertTrue(self.serving("g%d" % i))
                peak = max(peak, len(show_proc(self.state)["old"]))
            # With at most one old generation allowed, the others are stopped.
            ok = wait_until(lambda: len(show_proc(self.state)["old"]) <= 1, 15)
            sp = show_proc(self.state)
            print("governor: peak old workers %d, now %d" % (peak, len(sp["old"])),
                  file=sys.stderr)
            self.assertTrue(ok, (sp, self.log("watch.log")))
            self.assertTrue(wait_until(lambda: 'mlb_reloader_governor_signals_total{signal='
                                       '"SIGUSR1"} 0' not in get(self.watch_port, "/metrics")[1]
                                       and 'mlb_reloader_governor_signals_total{signal='
                                       '"SIGUSR1"}' in get(self.watch_port, "/metrics")[1]))
        finally:
            for c in clients:
                c.close()
            hold.close()


class PidSafetyTests(ReloaderCase):
    """Plants each unsafe case and checks that nothing is signalled."""

    def plant_pid(self, pid, start_time=None):
        with open(os.path.join(self.state, "haproxy.pid"), "w") as f:
            f.write("%d\n" % pid)
        if start_time is not None:
            with open(os.path.join(self.state, "haproxy.master"), "w") as f:
                f.write("%d %d\n" % (pid, start_time))

    def start_time(self, pid):
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
        return int(stat[stat.rfind(")") + 2:].split()[19])

    def sleeper(self):
        p = subprocess.Popen(["sleep", "60"])
        self.procs.append(p)
        return p

    def test_sleep_process_in_pid_file_is_never_signalled(self):
        sl = self.sleeper()
        # Even with a matching start-time record: it is not an HAProxy.
        self.plant_pid(sl.pid, self.start_time(sl.pid))
        publish(self.state, "v1", config(self.state, self.port, "v1"))
        self.start_watch()
        time.sleep(1.5)
        self.assertIsNone(sl.poll())
        self.assertIn("not an HAProxy", self.log("watch.log"))
        # The entrypoint does not hand over to it either.
        self.master = self.start_haproxy()
        self.assertTrue(self.serving("v1"))
        self.assertNotIn("-sf", self.log("haproxy.log"))
        self.assertIsNone(sl.poll())

    def test_pid_one_and_garbage_are_never_signalled(self):
        for planted in ("1\n", "0\n", "-1\n", "garbage\n"):
            with open(os.path.join(self.state, "haproxy.pid"), "w") as f:
                f.write(planted)
            with open(os.path.join(self.state, "haproxy.master"), "w") as f:
                f.write("1 1\n")
            publish(self.state, "v1", config(self.state, self.port, "v1"))
            w = self.start_watch()
            time.sleep(1.0)
            w.send_signal(signal.SIGTERM)
            w.wait(10)
            self.assertIn("bundle waiting for HAProxy", self.log("watch.log"))

    def test_stale_pid_file_is_ignored(self):
        sl = subprocess.Popen(["true"])
        sl.wait()
        self.plant_pid(sl.pid, 12345)
        self.master = None
        publish(self.state, "v1", config(self.state, self.port, "v1"))
        self.master = self.start_haproxy()
        self.assertTrue(self.serving("v1"))
        self.assertNotIn("-sf", self.log("haproxy.log"))

    def test_reused_pid_with_other_start_time_is_refused(self):
        self.up("v1")
        # Record a different start time for the real master: as if the pid was reused.
        with open(os.path.join(self.state, "haproxy.master"), "w") as f:
            f.write("%d %d\n" % (self.master.pid, self.start_time(self.master.pid) + 1))
        self.start_watch()
        before = show_proc(self.state)["reloads"]
        publish(self.state, "v2", config(self.state, self.port, "v2"))
        time.sleep(1.5)
        self.assertEqual(show_proc(self.state)["reloads"], before)
        self.assertEqual(get(self.port), (200, "v1"))
        self.assertIn("reused", self.log("watch.log"))

    def test_haproxy_of_another_state_dir_is_never_signalled(self):
        other = tempfile.mkdtemp(prefix="mlb-other-")
        try:
            other_port = free_port()
            cfg = os.path.join(other, "h.cfg")
            with open(cfg, "w") as f:
                f.write(config(other, other_port, "other"))
            h = subprocess.Popen([HAPROXY, "-W", "-S", other + "/master.sock", "-p",
                                  other + "/haproxy.pid", "-f", cfg],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(h)
            self.assertTrue(wait_until(lambda: get(other_port) == (200, "other")))
            self.plant_pid(h.pid, self.start_time(h.pid))
            publish(self.state, "v1", config(self.state, self.port, "v1"))
            self.start_watch()
            time.sleep(1.5)
            self.assertIsNone(h.poll())
            self.assertEqual(show_proc(other)["reloads"], 0)
            self.master = self.start_haproxy()
            self.assertTrue(self.serving("v1"))
            self.assertNotIn("-sf", self.log("haproxy.log"))
            self.assertIsNone(h.poll())
        finally:
            shutil.rmtree(other, ignore_errors=True)


if __name__ == "__main__":
    if not (os.access(RELOADER, os.X_OK) and os.access(HAPROXY, os.X_OK)):
        print("reloader_test: need RELOADER (%s) and HAPROXY (%s)" % (RELOADER, HAPROXY))
        sys.exit(1)
    unittest.main(verbosity=2)
