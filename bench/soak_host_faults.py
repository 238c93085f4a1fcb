"""The soak's faults of the host (issue 23), for soak.py --host-faults. Needs root: mount
namespaces (unshare, nsenter, mount --bind) and a DNS server on 127.0.0.2:53.

- A second instance (its controller, watcher and HAProxy; group "internal") in a mount
  namespace of its own where its own directory is mounted at the first instance's state
  path, under load too, and handed over now and then.
- A handover of the first instance to an HAProxy binary that exits 1.
- The watcher's `haproxy -c` killed by SIGKILL for a few seconds (no verdict).
- A new app whose service port another process holds.
- Tasks on named agents (`agentN.soak.test`), resolved through a DNS server that is slow
  most of the time: every process of both instances sees an /etc/resolv.conf naming it.
"""
import os
import socket
import subprocess
import sys
import threading
import time

DNS_ADDR = "127.0.0.2"
DNS_CODE = r"""
import socket, struct, sys, threading, time
addr, delay_file = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 53))
def delay():
    try:
        with open(delay_file) as f:
            return float(f.read() or 0)
    except (OSError, ValueError):
        return 0.0
def answer(data, peer):
    time.sleep(delay())
    i, labels = 12, []
    while data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace"))
        i += 1 + data[i]
    qtype = struct.unpack(">H", data[i + 1:i + 3])[0]
    question = data[12:i + 5]
    name = ".".join(labels).lower()
    ours = name.endswith(".soak.test")
    qid = struct.unpack(">H", data[:2])[0]
    if ours and qtype == 1:
        rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 5, 4) + socket.inet_aton("127.0.0.1")
        s.sendto(struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + rr, peer)
    else:  # no AAAA for ours; no such name otherwise (nothing leaves the host)
        rcode = 0 if ours else 3
        s.sendto(struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, 0, 0, 0) + question, peer)
end = time.time() + 7200
while time.time() < end:
    data, peer = s.recvfrom(512)
    threading.Thread(target=answer, args=(data, peer), daemon=True).start()
"""

NS_SCRIPT = ('mount --make-rprivate / && mount --bind {resolv} /etc/resolv.conf && '
             'exec "$0" "$@"')


def dns_answers():
    """An A query for agent1.soak.test is answered."""
    query = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             b"\x06agent1\x04soak\x04test\x00\x00\x01\x00\x01")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        try:
            s.sendto(query, (DNS_ADDR, 53))
            return s.recv(512)[:2] == b"\x12\x34"
        except OSError:
            return False


def alive(pid):
    """The process runs (a zombie does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class HostFaults:
    def __init__(self, soak):
        self.soak = soak
        # nsenter runs a command from the target's working directory: absolute paths.
        self.reloader = os.path.abspath(soak.bins["reloader"])
        self.controller = os.path.abspath(soak.bins["controller"])
        self.dir = soak.dir
        self.counts = {"b_handovers": 0, "broken_handovers": 0, "check_kills": 0,
                       "port_conflicts": 0, "named_tasks": 0, "dns_slow": 0}
        self.stopped_while_current = []  # (instance, pid)
        self.named_absent = 0
        self.named_samples = 0
        self.named_seen = False
        self.recoveries = []  # seconds from a working check to the pending version applied
        self.held = None  # the socket holding the conflicting service port
        self.b_masters = []
        self.next_agent = 2
        self.resolv = os.path.join(self.dir, "resolv.conf")
        self.delay_file = os.path.join(self.dir, "dns.delay")
        self.check_fail = os.path.join(self.dir, "check.fail")

    # -- set-up ------------------------------------------------------------------
    def prepare(self):
        """Before any mlb process: the DNS server, resolv.conf, the HAProxy stand-ins."""
        with open(self.resolv, "w") as f:
            f.write("nameserver %s\noptions timeout:5 attempts:1\n" % DNS_ADDR)
        self.set_delay(0.0)
        self.soak.spawn([sys.executable, "-c", DNS_CODE, DNS_ADDR, self.delay_file], "dns.log")
        # A first lookup that fails is cached as a failure (30 s): answer before mlb asks.
        assert self.soak.wait_until(dns_answers, 10), "the soak's DNS server does not answer"
        real = self.soak.haproxy
        self.flaky = self.script("haproxy-flaky", (
            'if [ "$1" = "-c" ] && [ -e %s ]; then kill -9 $$; fi\nexec %s "$@"\n'
            % (self.check_fail, real)))
        self.broken = self.script("haproxy-broken", 'echo "broken HAProxy" >&2\nexit 1\n')

    def script(self, name, body):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)
        return path

    def in_ns(self, args):
        """`args` run in a mount namespace whose /etc/resolv.conf names the slow DNS."""
        return ["unshare", "-m", "sh", "-c", NS_SCRIPT.format(resolv=self.resolv)] + args

    def set_delay(self, seconds):
        with open(self.delay_file, "w") as f:
            f.write("%.3f" % seconds)

    def start_second_instance(self):
        soak = self.soak
        self.b_dir = os.path.join(self.dir, "b-state")
        os.makedirs(self.b_dir)
        self.b_ctl_port, self.b_watch_port = soak.free_port(), soak.free_port()
        ctl = [self.controller, "--marathon", soak.sim_url, "--group", "internal",
               "--ssl-certs", soak.cert, "--state-dir", soak.state, "--maxconn", "2000",
               "--dont-bind-http-https", "--listen", "127.0.0.1:%d" % self.b_ctl_port,
               "--min-interval", "0.2"]
        script = (
            # The mounts first, then the processes (`a && b &` would put the mounts in
            # the background with the first process: the others could start before).
            "mount --make-rprivate / && mount --bind {b} {p} && mount --bind {r} "
            "/etc/resolv.conf || exit 1; "
            "{ctl} >>{d}/b-controller.log 2>&1 & echo $! > {d}/b-ctl.pid; "
            "{ep} >>{d}/b-haproxy.log 2>&1 & echo $! > {d}/b-master.pid; "
            "exec {rel} watch --state-dir {p} --haproxy-bin {h} --listen 127.0.0.1:{w} "
            "--min-reload-interval 0.2 --recheck-interval 0.5 >>{d}/b-watch.log 2>&1"
        ).format(b=self.b_dir, p=soak.state, r=self.resolv, d=self.dir, ctl=" ".join(ctl),
                 ep=" ".join(self.b_entrypoint_args()), rel=self.reloader,
                 h=soak.haproxy, w=self.b_watch_port)
        self.b_watch = soak.spawn(["unshare", "-m", "sh", "-c", script], "b-ns.log")
        pidfile = os.path.join(self.dir, "b-master.pid")
        assert soak.wait_until(lambda: os.path.exists(pidfile) and os.path.getsize(pidfile), 10)
        with open(os.path.join(self.dir, "b-ctl.pid")) as f:
            self.b_ctl = int(f.read())
        with open(pidfile) as f:
            self.b_masters.append(int(f.read()))

    def b_entrypoint_args(self):
        soak = self.soak
        return [self.reloader, "haproxy", "--state-dir", soak.state, "--haproxy-bin",
                soak.haproxy, "--listen", "127.0.0.1:%d" % soak.free_port()]

    # -- chaos ---------------------------------------------------------------------
    def act(self, rng):
        soak = self.soak
        r = rng.random()
        if r < 0.15:
            self.counts["b_handovers"] += 1
            p = soak.spawn(["nsenter", "-t", str(self.b_watch.pid), "-m", "--"] +
                           self.b_entrypoint_args(), "b-haproxy.log")
            old = self.b_masters[-1]
            self.b_masters.append(p.pid)
            soak.wait_until(lambda: not alive(old), 30)
        elif r < 0.25:
            self.counts["broken_handovers"] += 1
            p = soak.spawn([soak.bins["reloader"], "haproxy", "--state-dir", soak.state,
                            "--haproxy-bin", self.broken, "--listen",
                            "127.0.0.1:%d" % soak.free_port()], "haproxy.log")
            soak.expected_exits.add(p.pid)
            p.wait(30)
        elif r < 0.45:
            self.counts["check_kills"] += 1
            self.check_outage(rng.uniform(2, 8))
        elif r < 0.60:
            self.counts["port_conflicts"] += 1
            self.port_conflict(rng)
        elif r < 0.80:
            self.counts["named_tasks"] += 1
            app = rng.choice(soak.churn)
            soak.sim_call("add_task", {"app": app, "host": "agent%d.soak.test" % self.next_agent,
                                       "ports": [rng.choice(soak.pool)]})
            self.next_agent += 1
        else:
            self.counts["dns_slow"] += 1
            self.set_delay(rng.uniform(0.3, 1.2) if rng.random() < 0.8 else 0.0)

    def check_outage(self, seconds):
        """`haproxy -c` killed for `seconds`; then how long until what was pending when
        the check worked again is applied (measured in the background)."""
        open(self.check_fail, "w").close()
        # A change that needs `haproxy -c` (a label: a reload; server changes of a known
        # shape skip it) while no check gives a verdict: pending until it works again.
        self.balance = "leastconn" if getattr(self, "balance", "") != "leastconn" else "source"
        self.soak.sim_call("labels", {"app": self.soak.stable[1],
                                      "labels": {"HAPROXY_0_BALANCE": self.balance}})
        time.sleep(seconds)
        os.unlink(self.check_fail)
        t0 = time.monotonic()
        cur, applied = self.soak.versions()
        if not cur or cur == applied:
            return

        def wait():
            end = t0 + 120
            while time.monotonic() < end:
                now_cur, now_applied = self.soak.versions()
                if now_applied == cur or (now_applied != applied and now_applied == now_cur):
                    self.recoveries.append(time.monotonic() - t0)
                    return
                time.sleep(0.2)
            self.recoveries.append(float("inf"))
        threading.Thread(target=wait, daemon=True).start()

    def port_conflict(self, rng):
        soak = self.soak
        if self.held is None:
            self.held = socket.socket()
            self.held.bind(("127.0.0.1", 0))
            self.held.listen(1)
            soak.sim_call("set_app", {"app": {
                "id": "/churn/conflict", "instances": 1,
                "labels": {"HAPROXY_GROUP": "external"},
                "portDefinitions": [{"port": self.held.getsockname()[1]}],
                "tasks": [{"id": "conflict.t0", "host": "127.0.0.1", "state": "TASK_RUNNING",
                           "ports": [rng.choice(soak.pool)]}]}})
        else:
            self.release_port()

    def release_port(self):
        if self.held is not None:
            self.soak.sim_call("remove_app", {"app": "/churn/conflict"})
            self.held.close()
            self.held = None

    def check(self):
        """Masters stopped while current (by someone other than a handover of theirs),
        and whether the named task of /stable/s0 is in the live config."""
        for name, pid in (("a", self.soak.master.pid), ("b", self.b_masters[-1])):
            if not alive(pid) and (name, pid) not in self.stopped_while_current:
                self.stopped_while_current.append((name, pid))
        try:
            with open(os.path.join(self.soak.state, "live", "haproxy.cfg")) as f:
                live = f.read()
            present = "agent1_soak_test" in live
            self.named_seen = self.named_seen or present
            if self.named_seen:  # absences once it served: dropped at an expiry
                self.named_samples += 1
                self.named_absent += not present
        except OSError:
            pass

    # -- the end -------------------------------------------------------------------
    def settle(self):
        self.set_delay(0.0)
        if os.path.exists(self.check_fail):
            os.unlink(self.check_fail)
        self.release_port()

    def clean(self):
        return (not self.stopped_while_current and self.named_absent == 0 and
                all(r <= 30 for r in self.recoveries))

    def report(self):
        print("  host faults: %s" % " ".join("%s=%d" % kv for kv in sorted(self.counts.items())))
        rec = sorted(self.recoveries)
        print("  masters stopped while current (either instance) %d %s; named task absent "
              "%d of %d samples; check working -> pending applied: n=%d max %s s" % (
                  len(self.stopped_while_current), self.stopped_while_current,
                  self.named_absent, self.named_samples, len(rec),
                  "%.1f" % rec[-1] if rec else "-"))

    def close(self):
        self.release_port()
        pids = [self.b_ctl] + self.b_masters
        for pid in pids:
            if alive(pid):
                try:
                    os.kill(pid, 15)
                except OSError:
                    pass
        self.soak.wait_until(lambda: not any(alive(p) for p in pids), 15)
        # The namespace's mount of b-state goes with its last process.
        subprocess.run(["true"])
