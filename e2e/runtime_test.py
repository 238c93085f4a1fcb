#!/usr/bin/env python3
"""Server changes without a reload, with the real HAProxy: `mlb-reloader watch` applies
bundles whose only differences are servers through the Runtime API (stats socket), and
reloads for everything else. Real backends on loopback, load through HAProxy. Every
process started here is ended here, by pid.

usage: runtime_test.py  (env: RELOADER, HAPROXY)
"""
import http.client
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import unittest

from reloader_test import ReloaderCase, get, publish, show_proc
from testlib import Load, free_port, metric, unix_command, wait_until


class Backend:
    """A threaded HTTP/1.1 server on 127.0.0.1 answering its name; /slow takes 3 s."""

    def __init__(self, name):
        self.name = name
        self.port = free_port()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.path == "/slow":
                    time.sleep(3)
                body = outer.name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass  # health checks connect and close: not an error

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def server_line(name, port, sid, check=True):
    return "  server %s 127.0.0.1:%d id %d%s\n" % (
        name, port, sid, " check inter 200ms fall 2 rise 2" if check else "")


def runtime_config(state, port, servers, backend_extra="", balance="roundrobin"):
    """What the default templates give HAProxy, reduced: a stats socket at level admin,
    the server-state file loaded on reload, and one backend."""
    cfg = ("global\n"
           "  stats socket %s/stats.sock mode 600 level admin expose-fd listeners\n"
           "  server-state-file %s/server-state\n"
           "  hard-stop-after 60s\n"
           "defaults\n"
           "  mode http\n"
           "  load-server-state-from-file global\n"
           "  option idle-close-on-response\n"
           "  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n"
           "frontend web\n"
           "  bind 127.0.0.1:%d\n"
           "  default_backend app\n"
           "backend app\n"
           "  balance %s\n" % (state, state, port, balance)) + backend_extra
    for s in servers:
        cfg += s
    return cfg


def stats_cmd(state, cmd):
    """One command (or a ';' batch) on the stats socket, as mlb-reloader sends them."""
    return unix_command(os.path.join(state, "stats.sock"), cmd)


def runtime_servers(state):
    out = {}
    for line in stats_cmd(state, "show servers state app").splitlines():
        w = line.split()
        if len(w) >= 19 and not line.startswith("#"):
            out[w[3]] = {"op": int(w[5]), "admin": int(w[6]), "port": int(w[18]),
                         "weight": int(w[7])}
    return out


def server_stat(state, name):
    """(status, stot) of app/<name> from the worker's `show stat`."""
    out = stats_cmd(state, "show stat")
    header = None
    for line in out.splitlines():
        if line.startswith("# "):
            header = line[2:].split(",")
            continue
        f = line.split(",")
        if header and len(f) > 7 and f[0] == "app" and f[1] == name:
            return f[header.index("status")], int(f[header.index("stot")])
    return None, 0


class RuntimeCase(ReloaderCase):
    def setUp(self):
        super().setUp()
        self.backends = []
        self.n = 0

    def tearDown(self):
        super().tearDown()
        for b in self.backends:
            b.close()

    def backend(self, name):
        b = Backend(name)
        self.backends.append(b)
        return b

    def bundle(self, servers, **kw):
        self.n += 1
        version = "r%02d" % self.n
        publish(self.state, version, runtime_config(self.state, self.port, servers, **kw))
        return version

    def applied(self, version, timeout=15):
        return wait_until(lambda: self.status().get("applied_version") == version, timeout)

    def reloads(self):
        return show_proc(self.state)["reloads"]

    def begin(self, servers, *watch_args, **kw):
        version = self.bundle(servers, **kw)
        self.master = self.start_haproxy()
        self.start_watch(*watch_args)
        self.assertTrue(self.applied(version), self.log("watch.log"))
        return version

    def answers(self, n=20):
        return {get(self.port)[1] for _ in range(n)}

    def watch_metric(self, name, labels=None):
        return metric(get(self.watch_port, "/metrics")[1], name, labels) or 0


class RuntimeTests(RuntimeCase):
    def test_scale_up_and_down_under_load_without_a_reload(self):
        b1, b2 = self.backend("b1"), self.backend("b2")
        s1, s2 = server_line("b1", b1.port, 11), server_line("b2", b2.port, 12)
        self.begin([s1])
        before = self.reloads()
        loads = [Load([self.port], pause=0), Load([self.port], keepalive=True, pause=0)]
        for l in loads:
            l.start()
        t0 = time.monotonic()
        v = self.bundle([s1, s2])
        self.assertTrue(self.applied(v), self.log("watch.log"))
        applied_in = time.monotonic() - t0
        self.assertEqual(self.status()["reload_kind"], "runtime")
        self.assertTrue(wait_until(lambda: self.answers() == {"b1", "b2"}, 10))
        v = self.bundle([s2])  # b1's task killed
        self.assertTrue(self.applied(v))
        self.assertTrue(wait_until(lambda: "b1" not in runtime_servers(self.state), 10),
                        self.log("watch.log"))
        self.assertEqual(self.answers(), {"b2"})
        v = self.bundle([s1, s2])  # and back
        self.assertTrue(self.applied(v))
        self.assertTrue(wait_until(lambda: self.answers() == {"b1", "b2"}, 10))
        results = [l.finish() for l in loads]
        print("\n  runtime scale: applied in %.3f s, ok/failed = %s, reloads %d" % (
            applied_in, results, self.reloads() - before), file=sys.stderr)
        self.assertEqual(self.reloads(), before)
        for (ok, failed), l in zip(results, loads):
            self.assertGreater(ok, 50)
            self.assertEqual(failed, 0, l.errors[:5])
        self.assertEqual(self.watch_metric("mlb_reloader_reloads_total", {"kind": "runtime"}), 3)
        self.assertGreaterEqual(self.watch_metric("mlb_reloader_runtime_deleted_servers_total"), 1)
        self.assertEqual(os.readlink(os.path.join(self.state, "live")), "bundles/" + v)

    def test_a_new_task_enters_at_once_and_its_checks_take_it_out_if_it_is_dead(self):
        # As a reload brings a server in: UP at once (a replaced task never leaves its
        # app without a server for rise x inter), DOWN after its first failed checks.
        # marathon-lb's head redispatches a refused connection: no request fails.
        redispatch = "  option redispatch\n  retries 3\n"
        b1 = self.backend("b1")
        s1 = server_line("b1", b1.port, 11)
        self.begin([s1], backend_extra=redispatch)
        load = Load([self.port], pause=0)
        load.start()
        b2 = self.backend("b2")
        slow = "  server b2 127.0.0.1:%d id 12 check inter 60s fall 2 rise 2\n" % b2.port
        dead = server_line("dead", free_port(), 13)
        v = self.bundle([s1, slow, dead], backend_extra=redispatch)
        self.assertTrue(self.applied(v))
        self.assertEqual(self.status()["reload_kind"], "runtime")
        # b2 is checked once a minute: held down until `rise` checks, it would serve in 2 min.
        self.assertTrue(wait_until(lambda: "b2" in self.answers(), 2), runtime_servers(self.state))
        self.assertTrue(wait_until(lambda: server_stat(self.state, "dead")[0].startswith("DOWN"),
                                   5), server_stat(self.state, "dead"))
        ok, failed = load.finish()
        self.assertEqual(failed, 0, load.errors[:5])
        self.assertGreater(ok, 50)

    def unproven_bundle(self, servers, unproven, **kw):
        """A bundle whose manifest marks `unproven` (the controller's list of servers
        whose tasks no Marathon health check says alive yet)."""
        d = os.path.join(self.state, "bundles", "r%02d" % (self.n + 1))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "manifest.json"), "w") as f:
            json.dump({"unproven": ["app/" + n for n in unproven]}, f)
        return self.bundle(servers, **kw)

    def test_a_task_not_known_healthy_is_in_rotation_only_once_its_checks_pass(self):
        """Added UP (or loaded UP by a reload), a task Marathon has not seen healthy took
        requests before HAProxy's first check. Both paths: DOWN until `rise` checks pass,
        never a request before; one that never answers never gets one."""
        sid = iter(range(20, 40))

        def check(name, port):
            return "  server %s 127.0.0.1:%d id %d check inter 2s fall 2 rise 3\n" % (
                name, port, next(sid))
        b1 = self.backend("b1")
        serving, names = [server_line("b1", b1.port, 11)], {"b1"}
        self.begin(serving)
        # runtime: servers only; reload: the backend's body changes too
        for path, extra in (("runtime", ""), ("reload", "  hash-type consistent\n")):
            new, dead = self.backend("new-" + path), "dead-" + path
            lines = serving + [check(new.name, new.port), check(dead, free_port())]
            v = self.unproven_bundle(lines, [new.name, dead], backend_extra=extra)
            self.assertTrue(self.applied(v), self.log("watch.log"))
            self.assertEqual(self.status()["reload_kind"], path)
            self.assertEqual(self.answers(30), names)  # before its checks: no request
            for name in (new.name, dead):
                status, stot = server_stat(self.state, name)
                self.assertTrue(status.startswith("DOWN"), (path, name, status))
                self.assertEqual(stot, 0, (path, name))
            names.add(new.name)
            self.assertTrue(wait_until(lambda: self.answers() == names, 15),
                            (path, runtime_servers(self.state)))
            self.assertEqual(server_stat(self.state, dead)[1], 0)
            serving = lines[:-1]
            self.assertTrue(self.applied(self.bundle(serving, backend_extra=extra)))
            self.assertEqual(self.answers(), names)  # the earlier ones stay in

    def test_a_handover_starts_servers_in_the_states_the_old_master_holds_now(self):
        """The new master of a handover loaded the server-state file of the last reload,
        however old: a server held DOWN then, UP since, started DOWN again (and any
        other state of that day came back). Now it is rewritten from the old master."""
        b1, held = self.backend("b1"), self.backend("held")
        s1 = server_line("b1", b1.port, 11)
        self.begin([s1])
        line = "  server held 127.0.0.1:%d id 12 check inter 2s fall 2 rise 3\n" % held.port
        # A reload brings `held` in, held DOWN by the state file written for it.
        v = self.unproven_bundle([s1, line], ["held"], backend_extra="  hash-type consistent\n")
        self.assertTrue(self.applied(v), self.log("watch.log"))
        self.assertEqual(self.status()["reload_kind"], "reload")
        self.assertTrue(wait_until(lambda: self.answers() == {"b1", "held"}, 15))
        old = self.master
        new = self.start_haproxy(log="haproxy2.log")
        self.assertTrue(wait_until(lambda: show_proc(self.state)["master"] == new.pid, 15))
        old.wait(30)
        self.master = new
        status, _ = server_stat(self.state, "held")
        self.assertTrue(status.startswith("UP"), status)
        self.assertEqual(self.answers(), {"b1", "held"})

    def test_a_drained_server_finishes_its_long_connection_before_it_is_deleted(self):
        b1, b2 = self.backend("b1"), self.backend("b2")
        s1, s2 = server_line("b1", b1.port, 11), server_line("b2", b2.port, 12)
        self.begin([s2])
        result = {}

        def slow():
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            c.request("GET", "/slow")
            r = c.getresponse()
            result["answer"] = (r.status, r.read().decode())
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.5)  # the request is at b2
        v = self.bundle([s1])  # b2 removed while it serves
        self.assertTrue(self.applied(v))
        time.sleep(0.5)
        self.assertIn("b2", runtime_servers(self.state))  # draining, not deleted
        self.assertEqual(runtime_servers(self.state)["b2"]["admin"] & 0x08, 0x08)
        t.join(10)
        self.assertEqual(result.get("answer"), (200, "b2"))
        self.assertTrue(wait_until(lambda: "b2" not in runtime_servers(self.state), 10))
        self.assertEqual(self.answers(), {"b1"})

    def test_a_structural_change_reloads_with_the_current_servers_and_their_states(self):
        b1, b2 = self.backend("b1"), self.backend("b2")
        s1, s2 = server_line("b1", b1.port, 11), server_line("b2", b2.port, 12)
        dead = server_line("dead", free_port(), 13)
        self.begin([s1])
        v = self.bundle([s1, s2, dead])  # runtime: dead stays DOWN, b2 comes UP
        self.assertTrue(self.applied(v))
        self.assertTrue(wait_until(lambda: self.answers() == {"b1", "b2"}, 10))
        before = self.reloads()
        load = Load([self.port], keepalive=True, pause=0)
        load.start()
        v = self.bundle([s1, s2, dead], balance="leastconn")
        self.assertTrue(self.applied(v), self.log("watch.log"))
        self.assertEqual(self.status()["reload_kind"], "reload")
        self.assertEqual(self.reloads(), before + 1)
        # The new worker starts with the dumped states: dead is DOWN at once.
        status, stot = server_stat(self.state, "dead")
        self.assertTrue(status.startswith("DOWN") or status.startswith("MAINT"), status)
        time.sleep(1)
        ok, failed = load.finish()
        self.assertEqual(failed, 0, load.errors[:5])
        self.assertEqual(self.answers(), {"b1", "b2"})
        self.assertTrue(os.path.exists(os.path.join(self.state, "server-state")))
        self.assertEqual(self.watch_metric("mlb_reloader_runtime_fallbacks_total",
                                           {"reason": "configuration changed"}), 1)

    def test_a_server_deleted_behind_mlbs_back_is_added_again(self):
        b1, b2 = self.backend("b1"), self.backend("b2")
        s1, s2 = server_line("b1", b1.port, 11), server_line("b2", b2.port, 12)
        self.begin([s1, s2], "--drift-check-interval", "1")
        before = self.reloads()
        stats_cmd(self.state, "set server app/b2 state maint; del server app/b2")
        self.assertNotIn("b2", runtime_servers(self.state))
        self.assertTrue(wait_until(lambda: "b2" in runtime_servers(self.state), 10),
                        self.log("watch.log"))
        self.assertTrue(wait_until(lambda: self.answers() == {"b1", "b2"}, 10))
        self.assertEqual(self.reloads(), before)
        self.assertGreaterEqual(
            self.watch_metric("mlb_reloader_drift_repairs_total", {"how": "command"}), 1)

    def test_admin_state_and_weight_changed_behind_mlbs_back_are_repaired(self):
        # The drift check compared presence and address only: a server left in MAINT
        # by a runtime command stayed out of rotation for good.
        b1, b2 = self.backend("b1"), self.backend("b2")
        s1, s2 = server_line("b1", b1.port, 11), server_line("b2", b2.port, 12)
        self.begin([s1, s2], "--drift-check-interval", "1")
        before = self.reloads()
        stats_cmd(self.state, "set server app/b2 state maint; set server app/b1 weight 9")
        self.assertEqual(runtime_servers(self.state)["b2"]["admin"] & 0x01, 0x01)

        def repaired():
            s = runtime_servers(self.state)
            return s["b2"]["admin"] == 0 and s["b1"]["weight"] == 1
        self.assertTrue(wait_until(repaired, 10), self.log("watch.log"))
        self.assertTrue(wait_until(lambda: self.answers() == {"b1", "b2"}, 10))
        self.assertEqual(self.reloads(), before)

    def test_what_the_runtime_api_cannot_change_safely_reloads(self):
        b1, b2 = self.backend("b1"), self.backend("b2")
        s1, s2 = server_line("b1", b1.port, 11), server_line("b2", b2.port, 12)
        cookie = "  cookie SRV insert indirect nocache\n"
        self.begin([s1], backend_extra=cookie)
        before = self.reloads()
        v = self.bundle([s1, s2], backend_extra=cookie)
        self.assertTrue(self.applied(v))
        self.assertEqual(self.reloads(), before + 1)
        self.assertEqual(self.watch_metric("mlb_reloader_runtime_fallbacks_total",
                                           {"reason": "cookie persistence"}), 1)
        v = self.bundle([s1, s2], backend_extra=cookie, balance="source")
        self.assertTrue(self.applied(v))
        v = self.bundle([s1], backend_extra=cookie, balance="source")
        self.assertTrue(self.applied(v))
        self.assertEqual(self.reloads(), before + 3)

    def test_no_runtime_reloads_every_change(self):
        b1, b2 = self.backend("b1"), self.backend("b2")
        s1, s2 = server_line("b1", b1.port, 11), server_line("b2", b2.port, 12)
        self.begin([s1], "--no-runtime")
        before = self.reloads()
        v = self.bundle([s1, s2])
        self.assertTrue(self.applied(v))
        self.assertEqual(self.status()["reload_kind"], "reload")
        self.assertEqual(self.reloads(), before + 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
