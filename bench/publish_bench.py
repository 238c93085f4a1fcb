#!/usr/bin/env python3
"""Event -> bundle published, measured end to end: the Marathon simulator with N
generated apps (gen_fixture.py --apps N --seed 1), a real mlb-controller, an app
scaled through the simulator's control API (which emits the events Marathon emits),
timed until `current` points at a new bundle. Then an event storm: 10,000 status
events in 10 s (plus one real change per second), with the number of passes and
publishes it caused and the controller's RSS sampled over the storm.

Prints figures; asserts nothing (not a timed test). Bounded: every loop ends.
Per size, side by side: event -> published p50/p99/max, the controller's CPU per event
(median; schedstat, all threads, from the event to 50 ms after the publish), the CPU of
a full resync (SIGHUP; median of 3), RSS, and how many samples ran haproxy -c (a
change of the configuration's shape) with the p99 of the others.
usage: publish_bench.py [--sizes 500,5000,10000] [--samples 20] [--no-validate] [--smoke]
"""
import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "e2e"))
from testlib import free_port, http, metric, stop_all  # noqa: E402


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def cpu_ms(pid):
    """Time the process has run on a CPU (all its threads), in ms: schedstat's first
    field (ns), precise where utime/stime count 10 ms ticks."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that just ended
    return total / 1e6


def full_resync_cpu(ctl, ctl_url, runs=3):
    """CPU of a full resync (SIGHUP: fetch everything, rebuild, render), median of runs."""
    out = []
    for _ in range(runs):
        before_passes = metric(http(ctl_url + "/metrics"), "mlb_controller_syncs_total") or 0
        c0 = cpu_ms(ctl.pid)
        ctl.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (metric(http(ctl_url + "/metrics"), "mlb_controller_syncs_total") or 0) > before_passes:
                break
            time.sleep(0.02)
        out.append(cpu_ms(ctl.pid) - c0)
        time.sleep(0.5)
    return statistics.median(out)


def validations_run(ctl_url):
    """Bundles haproxy -c checked so far (the others only changed servers)."""
    return metric(http(ctl_url + "/metrics"), "mlb_controller_validations_total", {"result": "run"}) or 0


def pct(values, p):
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def run_size(controller, n, samples, validate, storm):
    d = tempfile.mkdtemp(prefix="mlb-pb-")
    procs = []
    try:
        sim_port, ctl_port = free_port(), free_port()
        sim_url, ctl_url = "http://127.0.0.1:%d" % sim_port, "http://127.0.0.1:%d" % ctl_port
        state = os.path.join(d, "state")
        cert = os.path.join(d, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        cert + ".k", "-out", cert + ".c", "-days", "2", "-subj", "/CN=b"],
                       check=True, capture_output=True)
        with open(cert, "w") as out:
            out.write(open(cert + ".c").read() + open(cert + ".k").read())
        log = open(os.path.join(d, "sim.log"), "wb")
        procs.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "e2e", "marathon_sim.py"),
                                       "--generate", str(n), "--seed", "1", "--listen",
                                       "127.0.0.1:%d" % sim_port], stdout=log, stderr=log))
        t_end = time.monotonic() + 300
        while time.monotonic() < t_end:
            try:
                if http(sim_url + "/ping") == "pong":
                    break
            except OSError:
                time.sleep(0.2)
        args = [controller, "--marathon", sim_url, "--group", "*", "--ssl-certs", cert,
                "--state-dir", state, "--listen", "127.0.0.1:%d" % ctl_port,
                "--min-interval", "0.1", "--marathon-timeout", "60", "--max-shrink", "1"]
        if not validate:
            args.append("--no-validate")
        clog = open(os.path.join(d, "controller.log"), "wb")
        ctl = subprocess.Popen(args, stdout=clog, stderr=clog)
        procs.append(ctl)
        t_end = time.monotonic() + 300
        while time.monotonic() < t_end:
            try:
                if http(ctl_url + "/readyz").startswith("ready"):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        current = os.path.join(state, "current")
        apps = json.loads(http(sim_url + "/v2/apps", timeout=30))["apps"]
        rng = random.Random(1)
        # Not IP-per-task apps: the simulator starts every new task at 127.0.0.1 on the
        # container port, one server already there, so their scale changes nothing.
        candidates = [a["id"] for a in apps if a.get("instances", 0) >= 1 and
                      not any(n.get("mode") == "container" for n in a.get("networks", [])) and
                      not a.get("ipAddress")]
        rng.shuffle(candidates)
        lat, cpu = [], []
        validated, unvalidated = [], []  # by whether the pass ran haproxy -c
        noop = 0
        for app_id in candidates:
            if len(lat) >= samples or noop > samples * 3:
                break
            before = os.readlink(current)
            runs_before = validations_run(ctl_url)
            app = json.loads(http(sim_url + "/v2/apps" + app_id))["app"]
            c0 = cpu_ms(ctl.pid)
            t0 = time.monotonic()
            http(sim_url + "/_sim/scale", {"app": app_id, "instances": len(app["tasks"]) + 1})
            deadline = t0 + 10
            changed = False
            while time.monotonic() < deadline:
                if os.readlink(current) != before:
                    changed = True
                    break
                time.sleep(0.001)
            if changed:
                lat.append((time.monotonic() - t0) * 1000)
                time.sleep(0.05)  # the pass ends after `current` moves (status, memo)
                cpu.append(cpu_ms(ctl.pid) - c0)
                if validations_run(ctl_url) > runs_before:
                    validated.append(lat[-1])
                else:
                    unvalidated.append(lat[-1])
            else:
                noop += 1  # the app is not exposed (no ports, or filtered): no publish
            time.sleep(0.15)
        res = {"n": n, "samples": len(lat), "noop": noop, "rss_mb": rss_mb(ctl.pid)}
        if lat:
            res.update(p50=statistics.median(lat), p99=pct(lat, 99), max=max(lat),
                       cpu=statistics.median(cpu), validated=len(validated))
        if unvalidated:
            res.update(p99_unvalidated=pct(unvalidated, 99))
        res["resync_cpu"] = full_resync_cpu(ctl, ctl_url)
        res["rss_after_resync"] = rss_mb(ctl.pid)
        if storm:
            m0 = http(ctl_url + "/metrics")
            rss = [rss_mb(ctl.pid)]
            http(sim_url + "/_sim/storm", {"events": 10000, "seconds": 10}, timeout=30)
            t0 = time.monotonic()
            changes = 0
            while time.monotonic() - t0 < 11:
                if int(time.monotonic() - t0) >= changes and changes < 10:
                    app_id = candidates[changes % len(candidates)]
                    app = json.loads(http(sim_url + "/v2/apps" + app_id))["app"]
                    http(sim_url + "/_sim/scale", {"app": app_id,
                                                   "instances": len(app["tasks"]) + 1})
                    changes += 1
                rss.append(rss_mb(ctl.pid))
                time.sleep(0.1)
            time.sleep(1)
            m1 = http(ctl_url + "/metrics")

            def delta(name):
                return (metric(m1, name) or 0) - (metric(m0, name) or 0)

            res["storm"] = {
                "events_received": delta("mlb_controller_sse_events_total"),
                "passes": delta("mlb_controller_syncs_total"),
                "publishes": delta("mlb_controller_publishes_total"),
                "changes": changes, "rss_start": rss[0], "rss_peak": max(rss), "rss_end": rss[-1]}
        return res
    finally:
        stop_all(procs, 20)
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--controller", default=os.path.join(ROOT, "build", "controller",
                                                         "mlb-controller"))
    ap.add_argument("--sizes", default="500,5000,10000")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--no-validate", action="store_true")
    ap.add_argument("--storm-size", type=int, default=1000)
    ap.add_argument("--smoke", action="store_true", help="N=100, 3 samples, no storm")
    a = ap.parse_args()
    sizes = [100] if a.smoke else [int(x) for x in a.sizes.split(",")]
    samples = 3 if a.smoke else a.samples
    print("event -> published (ms), validation with haproxy -c: %s" %
          ("off" if a.no_validate else "on"))
    print("%6s %8s %8s %8s %8s %10s %12s %8s %10s" % ("apps", "samples", "p50", "p99", "max",
                                                      "CPU/event", "resync CPU", "RSS MB",
                                                      "validated"))
    for n in sizes:
        r = run_size(a.controller, n, samples, not a.no_validate,
                     storm=(not a.smoke and n == a.storm_size))
        print("%6d %8d %8.1f %8.1f %8.1f %10.1f %12.1f %8.1f %10s" % (
            n, r["samples"], r.get("p50", -1), r.get("p99", -1), r.get("max", -1),
            r.get("cpu", -1), r["resync_cpu"], max(r["rss_mb"], r["rss_after_resync"]),
            "%d (p99 of the others %.1f)" % (r.get("validated", 0), r.get("p99_unvalidated", -1))),
            flush=True)
        if "storm" in r:
            s = r["storm"]
            print("  storm at %d apps: %d status events in 10 s + %d real changes -> %d events "
                  "received, %d passes, %d publishes; RSS start %.1f, peak %.1f, end %.1f MB" %
                  (n, 10000, s["changes"], s["events_received"], s["passes"], s["publishes"],
                   s["rss_start"], s["rss_peak"], s["rss_end"]), flush=True)


if __name__ == "__main__":
    main()
