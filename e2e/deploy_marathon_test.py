#!/usr/bin/env python3
"""deploy/marathon/: the pod definition (POST /v2/pods) and the host-mode group of
apps (POST /v2/groups) are valid JSON with the fields Marathon requires, and the
simulator (which applies Marathon's validation rules for these fields) accepts them;
broken variants are refused with 422."""
import copy
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.join(os.path.dirname(HERE), "deploy", "marathon")


def post(url, obj):
    req = urllib.request.Request(url, data=json.dumps(obj).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def main():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    sim = subprocess.Popen([sys.executable, os.path.join(HERE, "marathon_sim.py"), "--apps",
                            os.path.join(HERE, "demo", "apps.json"), "--listen",
                            "127.0.0.1:%d" % port], stderr=subprocess.DEVNULL)
    fails = []
    try:
        base = "http://127.0.0.1:%d" % port
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/ping", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        pod = json.load(open(os.path.join(DEPLOY, "mlb-pod.json")))
        group = json.load(open(os.path.join(DEPLOY, "mlb-host.json")))
        one = json.load(open(os.path.join(DEPLOY, "mlb-marathon-lb.json")))
        # The three roles, one image, one shared state volume.
        names = [c["name"] for c in pod["containers"]]
        if names != ["controller", "reloader", "haproxy"]:
            fails.append("pod containers %s" % names)
        if not all(m["mountPath"] == "/run/mlb" for c in pod["containers"]
                   for m in c["volumeMounts"]):
            fails.append("pod: every container mounts the state volume at /run/mlb")
        for a in group["apps"]:
            if a["id"] != "/mlb/controller" and {"key": "pid", "value": "host"} not in \
                    a["container"]["docker"].get("parameters", []):
                fails.append("%s: needs --pid=host" % a["id"])
            if a["networks"] != [{"mode": "host"}]:
                fails.append("%s: needs host networking" % a["id"])
        # marathon-lb's shape: one container, `args: ["sse", ...]`, host network.
        if one["args"][0] != "sse" or one["networks"] != [{"mode": "host"}]:
            fails.append("mlb-marathon-lb.json: not marathon-lb's shape")
        for path, obj in (("/v2/pods", pod), ("/v2/groups", group), ("/v2/apps", one)):
            code, body = post(base + path, obj)
            print("%s %s -> %d" % (path, obj["id"], code))
            if code != 201:
                fails.append("%s refused: %s" % (path, body))
        broken_pod = copy.deepcopy(pod)
        del broken_pod["containers"][0]["resources"]
        broken_pod["containers"][1]["volumeMounts"][0]["name"] = "nope"
        broken_group = copy.deepcopy(group)
        broken_group["apps"][0]["container"]["docker"]["image"] = ""
        for path, obj in (("/v2/pods", broken_pod), ("/v2/groups", broken_group)):
            code, body = post(base + path, obj)
            print("%s broken -> %d %s" % (path, code, [d["path"] for d in body.get("details",
                                                                                      [])]))
            if code != 422:
                fails.append("%s accepted a broken definition" % path)
    finally:
        sim.terminate()
        sim.wait(10)
    print("FAILED: %s" % fails if fails else "DEPLOY DEFINITIONS PASSED")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
