#!/usr/bin/env python3
"""The project's own conformance cases (cases/<name>/): each is a shared case's input
with labels spelled the way marathon-lb also accepts (or reads as absent/false), one
class of input per case (see each description.txt).

Two checks:
1. always: `mlb render` of apps.json gives the same bytes (config and maps) as of
   canonical-apps.json, the same apps with the canonical spelling;
2. when the shared checker is present (../shared/conformance, or MLB_CONFORMANCE_DIR):
   the routing of apps.json equals marathon-lb's (expected.json, marathon-lb's routing
   of the canonical case).

usage: check_cases.py MLB_BINARY
"""
import filecmp
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")


def case_args(case):
    out = []
    for line in open(os.path.join(CASES, case, "args.txt")):
        line = line.strip()
        if line:
            out.extend(line.split(" ", 1))
    return out


def render(mlb, apps, args, out):
    os.makedirs(out)
    r = subprocess.run([mlb, "render", "--apps", apps, "--out", out] + args,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("mlb render %s: exit %d\n%s" % (apps, r.returncode, r.stderr))


def same_bytes(mlb, case, tmp):
    # Both into the same directory (the config names it), one after the other.
    a, b = os.path.join(tmp, case, "variant"), os.path.join(tmp, case, "out")
    render(mlb, os.path.join(CASES, case, "apps.json"), case_args(case), b)
    os.rename(b, a)
    render(mlb, os.path.join(CASES, case, "canonical-apps.json"), case_args(case), b)
    files = sorted(os.listdir(b))
    if "haproxy.cfg" not in files or os.path.getsize(os.path.join(b, "haproxy.cfg")) == 0:
        return "no haproxy.cfg rendered"
    if sorted(os.listdir(a)) != files:
        return "different files: %s vs %s" % (sorted(os.listdir(a)), files)
    diff = [f for f in files if not filecmp.cmp(os.path.join(a, f), os.path.join(b, f),
                                                 shallow=False)]
    return "differs in %s" % diff if diff else ""


def main():
    mlb = os.path.abspath(sys.argv[1])
    cases = sorted(c for c in os.listdir(CASES)
                   if os.path.isfile(os.path.join(CASES, c, "canonical-apps.json")))
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            problem = same_bytes(mlb, case, tmp)
            print("%-32s %s" % (case, problem or "same bytes as the canonical spelling"))
            if problem:
                failed.append(case)
    shared = os.environ.get("MLB_CONFORMANCE_DIR",
                            os.path.join(HERE, "..", "..", "shared", "conformance"))
    checker = os.path.join(shared, "run_cases.py")
    if os.path.isfile(checker):
        r = subprocess.run([sys.executable, checker, "-q", "--cases", CASES, "--cmd",
                            mlb + " render --apps {apps} --out {outdir} {args}"])
        if r.returncode != 0:
            failed.append("routing against marathon-lb's (run_cases.py)")
    else:
        print("routing against marathon-lb's: not checked here (no checker at %s)" % shared)
    print("FAILED: %s" % failed if failed else "%d cases PASSED" % len(cases))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
