"""Helpers shared by the end-to-end tests and the benchmarks: loopback ports, small
HTTP calls, a bounded load generator, bounded polling, Prometheus text, and stopping
the processes a test started (by their Popen objects only). Standard library only."""
import hashlib
import json
import re
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from http.client import HTTPConnection, HTTPException


_GIVEN = set()


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago, never one this process was
    given before (the kernel may hand a released port out again at once: a test that
    takes 30 ports one by one could get the same one twice)."""
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p not in _GIVEN:
            _GIVEN.add(p)
            return p


def http(url, data=None, timeout=5, context=None):
    """GET `url`, or POST `data` as JSON when given; the body as text. Raises on errors.
    `context`: the ssl.SSLContext for an https URL."""
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None
                                 else None, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
        return r.read().decode()


def http_get(host_port, path="/", headers=None, timeout=3):
    """(status, body) of one GET to "host:port", any status."""
    c = HTTPConnection(*host_port.split(":"), timeout=timeout)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


class Load(threading.Thread):
    """Bounded HTTP load on loopback: GETs to `targets` in turn until finish() (or the
    stop flag) or `limit` seconds, every 200 kept with its time and body, every other
    answer or error kept as a failure. A target is a port (127.0.0.1:port, "/") or a
    tuple ("host:port" or port, path, headers). `keepalive` reuses each target's
    connection while the server keeps it open; otherwise every request closes it."""

    def __init__(self, targets, limit=120, keepalive=False, pause=0.005, timeout=5):
        super().__init__(daemon=True)
        if isinstance(targets, (int, str, tuple)):
            targets = [targets]  # one target
        self.targets = [t if isinstance(t, tuple) else (t, "/", {}) for t in targets]
        self.limit, self.keepalive, self.pause, self.timeout = limit, keepalive, pause, timeout
        self.answers = []  # (monotonic time, body) of every 200
        self.errors = []   # every failure, described
        self.stop_flag = threading.Event()
        self._conns = {}
        self._marks = (0, 0)

    def run(self):
        end = time.monotonic() + self.limit
        i = 0
        while not self.stop_flag.is_set() and time.monotonic() < end:
            self._request(*self.targets[i % len(self.targets)])
            i += 1
            if self.pause:
                time.sleep(self.pause)
        for conn in self._conns.values():
            conn.close()

    def _request(self, where, path, headers):
        host, port = ("127.0.0.1", where) if isinstance(where, int) else where.rsplit(":", 1)
        conn = self._conns.pop(where, None)
        try:
            if conn is None:
                conn = HTTPConnection(host, int(port), timeout=self.timeout)
            conn.request("GET", path, headers=dict(headers) if self.keepalive
                         else dict(headers, Connection="close"))
            r = conn.getresponse()
            body = r.read().decode(errors="replace").strip()
            if r.status == 200:
                self.answers.append((time.monotonic(), body))
            else:
                self.errors.append("%s%s -> %d %s" % (where, path, r.status, body[:60]))
            if self.keepalive and r.getheader("Connection", "").lower() != "close":
                self._conns[where], conn = conn, None
        except Exception as e:  # noqa: BLE001 - every failure counts
            self.errors.append("%s%s -> %r" % (where, path, e))
        finally:
            if conn is not None:
                conn.close()

    def phase(self):
        """(ok, failed) since the last call."""
        ok, failed = len(self.answers), len(self.errors)
        delta = (ok - self._marks[0], failed - self._marks[1])
        self._marks = (ok, failed)
        return delta

    def finish(self, join_timeout=15):
        """Stops the load; (ok, failed) in all."""
        self.stop_flag.set()
        self.join(join_timeout)
        return len(self.answers), len(self.errors)


def bundle_config(bundle_dir):
    """A bundle's configuration as its readers get it: its haproxy.cfg, or its base's
    with its edits (haproxy.cfg.edits, common/fs/config_edits.h), each replaced range
    checked against its digest. `bundle_dir` may be a symlink (current, live)."""
    whole = os.path.join(bundle_dir, "haproxy.cfg")
    if os.path.exists(whole):
        with open(whole) as f:
            return f.read()
    with open(os.path.join(bundle_dir, "haproxy.cfg.edits"), "rb") as f:
        data = f.read()
    magic = b"mlb-config-edits 1\n"
    assert data.startswith(magic), "not an edits file"
    pos = len(magic)

    def line():
        nonlocal pos
        end = data.index(b"\n", pos)
        text, pos = data[pos:end].decode(), end + 1
        return text

    _, base, base_size = line().split(" ")
    bundles = os.path.dirname(os.path.realpath(bundle_dir))
    with open(os.path.join(bundles, base, "haproxy.cfg"), "rb") as f:
        src = f.read()
    assert len(src) == int(base_size), "base size"
    out, at = [], 0
    while True:
        head = line()
        if head == "end":
            break
        _, off, old_len, old_sha, length = head.split(" ")
        off, old_len, length = int(off), int(old_len), int(length)
        assert hashlib.sha256(src[off:off + old_len]).hexdigest() == old_sha, "base differs"
        out += [src[at:off], data[pos:pos + length]]
        at, pos = off + old_len, pos + length + 1
    out.append(src[at:])
    return b"".join(out).decode()


def wait_until(pred, timeout=10.0, step=0.05):
    """Polls `pred` until it returns something true (returned) or `timeout` seconds
    pass (None). Connection errors and half-written files count as "not yet"."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = pred()
            if v:
                return v
        except (OSError, ValueError, HTTPException):
            pass
        time.sleep(step)
    return None


_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def metric(text, name, labels=None):
    """Sum of the samples of `name` in Prometheus text whose labels include `labels`;
    None when there is no such sample."""
    total = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m or m.group(1) != name:
            continue
        lab = dict(_LABEL.findall(m.group(2) or ""))
        if labels and any(lab.get(k) != v for k, v in labels.items()):
            continue
        total += float(m.group(3))
        found = True
    return total if found else None


def stop_all(procs, timeout=10):
    """SIGTERM to each still-running process of `procs` (newest first), then waits;
    a process that outlives `timeout` is killed."""
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def unix_command(path, cmd, timeout=5):
    """One command line (or a ';' batch) on an HAProxy unix socket (master CLI or
    stats socket); everything it answers until it closes."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall((cmd + "\n").encode())
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
        return out.decode()
    finally:
        s.close()


def _proc_stat_ppid(pid):
    with open("/proc/%s/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def child_pids(pid):
    """Pids of the live children of `pid` (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if _proc_stat_ppid(d) == pid:
                    out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def haproxy_masters(state):
    """Pids of the HAProxy masters of this state dir (from /proc): HAProxy processes
    with its pid file on their command line that are children of no such process."""
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().split(b"\0")
            ppid = _proc_stat_ppid(d)
        except (OSError, IndexError, ValueError):
            continue
        if cmd and os.path.basename(cmd[0]).startswith(b"haproxy") and \
                (state + "/haproxy.pid").encode() in cmd:
            procs[int(d)] = ppid
    return sorted(p for p, ppid in procs.items() if ppid not in procs)
