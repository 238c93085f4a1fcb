#!/usr/bin/env python3
"""Two mlb instances on one host, as two containers with --pid=host: each runs its
entrypoint (`mlb-reloader haproxy`) and watcher in a mount namespace of its own where its
own directory is mounted at the same state path. Bundles (reloads) go to both for a
while: neither may signal the other's HAProxy, both keep serving. Needs root (unshare,
mount); every process started here is ended here, by pid.

usage: instances_test.py  (env: RELOADER, HAPROXY, INSTANCES_SECONDS)
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from reloader_test import HAPROXY, RELOADER, config, get, show_proc
from testlib import free_port, metric, stop_all, wait_until

SHARED_PATH = "/run/mlb-instances-test"  # the state path both instances use


def publish_into(state, version, text):
    d = os.path.join(state, "bundles", version)
    os.makedirs(d)
    for name in ("domain2backend.map", "app2backend.map"):
        open(os.path.join(d, name), "w").close()
    with open(os.path.join(d, "haproxy.cfg"), "w") as f:
        f.write(text)
    tmp = os.path.join(state, "current.tmp")
    os.symlink("bundles/" + version, tmp)
    os.rename(tmp, os.path.join(state, "current"))


class Instance:
    """One instance: its own directory, mounted at SHARED_PATH in its own namespace."""

    def __init__(self, name, root):
        self.name = name
        self.dir = os.path.join(root, name)  # the host's view of its state dir
        os.makedirs(self.dir)
        self.port = free_port()
        self.watch_port = free_port()
        self.n = 0

    def publish(self):
        self.n += 1
        v = "%s%03d" % (self.name, self.n)
        publish_into(self.dir, v, config(SHARED_PATH, self.port, v))
        return v

    def start(self):
        script = (
            "mount --make-rprivate / && mkdir -p {p} && mount --bind {d} {p} || exit 1; "
            "{r} haproxy --state-dir {p} --haproxy-bin {h} --wait-bundle 10 "
            ">>{d}/haproxy.log 2>&1 & echo $! > {d}/entrypoint.pid; "
            "exec {r} watch --state-dir {p} --haproxy-bin {h} --listen 127.0.0.1:{w} "
            "--min-reload-interval 0.2 --recheck-interval 0.3 >>{d}/watch.log 2>&1"
        ).format(p=SHARED_PATH, d=self.dir, r=os.path.abspath(RELOADER), h=HAPROXY,
                 w=self.watch_port)
        self.watch = subprocess.Popen(["unshare", "-m", "sh", "-c", script])
        wait_until(lambda: os.path.exists(os.path.join(self.dir, "entrypoint.pid")), 10)
        with open(os.path.join(self.dir, "entrypoint.pid")) as f:
            self.entrypoint = int(f.read())

    def serves(self):
        try:
            return get(self.port)[0] == 200
        except OSError:
            return False

    def master(self):
        return show_proc(self.dir)["master"]

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return f.read()[-3000:]
        except OSError:
            return ""


@unittest.skipUnless(os.geteuid() == 0, "needs root for unshare/mount (CI runs as root)")
class TwoInstancesTests(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="mlb-two-")
        self.a, self.b = Instance("a", self.root), Instance("b", self.root)

    def tearDown(self):
        for i in (self.a, self.b):
            stop_all([i.watch], 10)
            try:
                os.kill(i.entrypoint, 15)  # the entrypoint's pid became its HAProxy master
            except (OSError, AttributeError):
                pass
        time.sleep(0.5)
        shutil.rmtree(self.root, ignore_errors=True)

    def test_neither_instance_signals_the_other(self):
        seconds = float(os.environ.get("INSTANCES_SECONDS", "20"))
        for i in (self.a, self.b):
            i.publish()
            i.start()
            self.assertTrue(wait_until(i.serves, 15), i.log("haproxy.log") + i.log("watch.log"))
        masters = {i.name: i.master() for i in (self.a, self.b)}
        end, rounds = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            for i in (self.a, self.b):
                v = i.publish()
                self.assertTrue(wait_until(lambda i=i, v=v: get(i.port)[1] == v, 10),
                                "%s: %s" % (i.name, i.log("watch.log")))
            rounds += 1
        for i in (self.a, self.b):
            self.assertEqual(i.master(), masters[i.name], i.log("watch.log"))
            self.assertTrue(i.serves())
            text = get(i.watch_port, "/metrics")[1]
            self.assertEqual(metric(text, "mlb_reloader_haproxy_processes",
                                    {"role": "stale_master"}), 0, i.log("watch.log"))
            self.assertNotIn("soft-stopping HAProxy masters", i.log("watch.log"))
        print("\n  two instances at %s: %d reloads each, 0 signals across" % (
            SHARED_PATH, rounds), file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
