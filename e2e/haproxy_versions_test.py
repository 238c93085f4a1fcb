#!/usr/bin/env python3
"""Every golden config and every conformance config through `haproxy -c` on the two
HAProxy versions mlb supports: Debian 12's 2.6 (this machine) and Debian 13's 3.0 (the
trixie image, under podman). A config fails on an error, and on any warning that
announces a removal or a deprecation.

usage: haproxy_versions_test.py MLB_BINARY
Needs the image localhost/mlb:e2e-trixie (MLB_E2E_IMAGE30), which container_test.py
builds (CTest runs this test after it). Sends no traffic: `haproxy -c` only.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
P = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
U = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]
IMAGE30 = os.environ.get("MLB_E2E_IMAGE30", "localhost/mlb:e2e-trixie")
SHARED = os.environ.get("MLB_CONFORMANCE_DIR",
                        os.path.join(ROOT, "..", "shared", "conformance"))
# Warnings that say a keyword goes away: what a config must not lean on.
REMOVAL = re.compile(r"deprecat|removed|will be|obsolete|no longer", re.I)


def rewrite(cfg, work, cert):
    """Paths that exist only on a real LB point into `work` (as the golden gtest does)."""
    cfg = re.sub(r"crt [^ \n]+", "crt " + cert, cfg)
    cfg = re.sub(r"lua-load [^ \n]+", "lua-load %s/mlb.lua" % work, cfg)
    cfg = cfg.replace("/run/mlb/current", work).replace("/run/mlb", work)
    return cfg


def case_args(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line:
            out.extend(line.split(" ", 1))
    return out


def collect(mlb, work, cert):
    """(name, path) of every config to check, written under `work`."""
    out = []
    golden = os.path.join(ROOT, "controller", "testdata", "golden")
    for f in sorted(os.listdir(golden)):
        cfg = open(os.path.join(golden, f)).read()
        cfg = cfg.split("# domain2backend.map\n")[0]  # a map golden lists its maps after
        out.append(("golden/" + f[:-4], cfg))
    case_dirs = [os.path.join(ROOT, "conformance", "cases")]
    if os.path.isdir(os.path.join(SHARED, "cases")):
        case_dirs.append(os.path.join(SHARED, "cases"))
    for d in case_dirs:
        for case in sorted(os.listdir(d)):
            apps = os.path.join(d, case, "apps.json")
            if not os.path.isfile(apps):
                continue
            odir = os.path.join(work, "render", case)
            r = subprocess.run([mlb, "render", "--apps", apps, "--out", odir] +
                               case_args(os.path.join(d, case, "args.txt")),
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("mlb render %s: %s" % (case, r.stderr))
            for m in ("domain2backend.map", "app2backend.map"):
                if os.path.exists(os.path.join(odir, m)):
                    shutil.copy(os.path.join(odir, m), os.path.join(work, m))
            shutil.copy(os.path.join(odir, "mlb.lua"), os.path.join(work, "mlb.lua"))
            out.append(("conformance/" + case, open(os.path.join(odir, "haproxy.cfg")).read()))
    for m in ("domain2backend.map", "app2backend.map"):
        open(os.path.join(work, m), "a").close()
    paths = []
    for name, cfg in out:
        path = os.path.join(work, name.replace("/", "__") + ".cfg")
        with open(path, "w") as f:
            f.write(rewrite(cfg, work, cert))
        paths.append((name, path))
    return paths


def check_all(prefix, paths, work):
    """Runs haproxy -c on each config with one shell (one container for 3.0)."""
    script = "".join("echo '=== %s'; haproxy -c -f %s 2>&1; echo \"=== rc $?\"\n" % (n, p)
                     for n, p in paths)
    r = subprocess.run(prefix + ["sh", "-c", script], capture_output=True, text=True)
    results, name, lines = {}, None, []
    for line in r.stdout.splitlines():
        if line.startswith("=== rc "):
            results[name] = (int(line[7:]), lines)
        elif line.startswith("=== "):
            name, lines = line[4:], []
        else:
            lines.append(line)
    return results, r.stdout[-2000:]


def main():
    mlb = os.path.abspath(sys.argv[1])
    for tool in ("podman", "haproxy"):
        if not shutil.which(tool):
            print("FAIL: %s is not installed (scripts/install-deps.sh installs it)" % tool)
            return 1
    if subprocess.run(P + ["image", "exists", IMAGE30]).returncode != 0:
        print("FAIL: no image %s (e2e/container_test.py builds it)" % IMAGE30)
        return 1
    work = tempfile.mkdtemp(prefix="mlb-hv-")
    os.chmod(work, 0o755)
    failed = []
    try:
        cert = os.path.join(work, "test.pem")
        shutil.copy(os.path.join(ROOT, "controller", "testdata", "tls", "test.pem"), cert)
        paths = collect(mlb, work, cert)
        for f in os.listdir(work):
            os.chmod(os.path.join(work, f), 0o644 if not os.path.isdir(
                os.path.join(work, f)) else 0o755)
        versions = (("2.6", []),
                    ("3.0", P + ["run", "--rm", "--net=none"] + U +
                     ["-v", "%s:%s:ro" % (work, work), IMAGE30]))
        for version, prefix in versions:
            results, tail = check_all(prefix, paths, work)
            if len(results) != len(paths):
                failed.append("%s: %d of %d configs checked\n%s" % (version, len(results),
                                                                   len(paths), tail))
                continue
            warned = 0
            for name, (rc, lines) in sorted(results.items()):
                removal = [ln for ln in lines if REMOVAL.search(ln)]
                warned += sum(1 for ln in lines if "[WARNING]" in ln)
                if rc != 0 or removal:
                    failed.append("%s %s: exit %d\n  %s" % (version, name, rc,
                                                            "\n  ".join(lines[-8:])))
            print("HAProxy %s: %d configs checked (%d golden, %d conformance), "
                  "%d warning lines, %d failed" % (
                      version, len(results), sum(n.startswith("golden/") for n in results),
                      sum(n.startswith("conformance/") for n in results), warned,
                      sum(1 for f in failed if f.startswith(version))))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for f in failed:
        print("FAIL " + f)
    print("FAILED" if failed else "PASSED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
