#!/usr/bin/env python3
"""By hand: marathon-lb's own deploy tool (zdd.py, which bluegreen_deploy.py links to),
run unchanged against mlb's whole stack (the simulator, mlb-controller, mlb-reloader
watch, HAProxy) under load: a first deploy, then blue -> green and green -> blue, each
with continuous requests to the service port and the vhost. Prints exit codes and
ok/failed requests per deploy.

usage: bench/zdd_compat.py MARATHON_LB_DIR
  MARATHON_LB_DIR: a checkout of github.com/mesosphere/marathon-lb (zdd.py, common.py,
  utils.py, lrucache.py, zdd_exceptions.py); run with Debian's python3 and its
  python3-requests, python3-six, python3-jwt, python3-pycurl, python3-dateutil.
  env: CONTROLLER, RELOADER, MLB, HAPROXY as for e2e/deploy_test.py.
The app is Marathon-1.5-shaped (container portMappings): zdd.py's own
get_service_port fails on portDefinitions (`['portDefinitions'][0].get`).
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from deploy_test import DeployStack, VHOST  # noqa: E402
from testlib import Load  # noqa: E402


def run(stack, tool_dir, version, load):
    path = stack.definition(version, bridge=True)
    args = ["/usr/bin/python3", os.path.join(tool_dir, "zdd.py"), "-j", path, "-m",
            stack.sim_url, "-l", "http://127.0.0.1:9090", "-f", "--step-delay", "1",
            "--max-wait", "60", "--syslog-socket", "/dev/null"]
    loads = [Load([stack.svc], limit=300, timeout=10),
             Load([(80, "/", {"Host": VHOST})], limit=300, timeout=10)] if load else []
    for one in loads:
        one.start()
    time.sleep(1 if load else 0)
    t0 = time.monotonic()
    p = subprocess.run(args, cwd=tool_dir, capture_output=True, text=True, timeout=300)
    took = time.monotonic() - t0
    time.sleep(1 if load else 0)
    res = [one.finish() for one in loads] or [(0, 0), (0, 0)]
    colours = sorted(a for a in stack.apps() if a.startswith("/web"))
    print("zdd.py %s: exit %d in %.1f s; service port ok/failed %d/%d, vhost ok/failed %d/%d;"
          " apps now %s" % (version, p.returncode, took, res[0][0], res[0][1], res[1][0],
                            res[1][1], colours))
    if p.returncode != 0:
        print(p.stderr[-3000:])
    return p.returncode == 0 and all(failed == 0 for _, failed in res)


def main():
    tool_dir = os.path.abspath(sys.argv[1])
    os.chdir(os.path.join(HERE, ".."))
    stack = DeployStack()
    try:
        ok = run(stack, tool_dir, "v1", load=False)
        time.sleep(3)
        ok = run(stack, tool_dir, "v2", load=True) and ok
        ok = run(stack, tool_dir, "v3", load=True) and ok
    finally:
        stack.close()
    print("ZDD COMPAT %s" % ("PASSED" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
