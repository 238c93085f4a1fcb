#!/usr/bin/env python3
"""The simulator answers as Marathon does: every field of Marathon's own REST API
examples for apps, tasks and deployments (e2e/marathon_api_fields.json, written by
scripts/marathon_api_fields.py from github.com/mesosphere/marathon) appears in the
simulator's answers with the same JSON type; service ports 0 are assigned for port
definitions and port mappings; health checks get Marathon's defaults; a repeated
service port is refused as Marathon refuses it. Tests that pass against the simulator
should not fail against Marathon for want of a field.

usage: sim_fidelity_test.py
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error

from testlib import http as fetch, stop_all, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
import marathon_api_fields  # noqa: E402  (the same walk wrote marathon_api_fields.json)
with open(os.path.join(HERE, "marathon_api_fields.json")) as f:
    FIELDS = json.load(f)

# Paths of the examples that are their own content, not fields Marathon answers for
# every app: an env variable, a label or a port name the example chose, its container
# (in the pre-1.5 `docker.portMappings` shape; the 1.5 shape is checked below) and
# readiness checks, its IP-per-task settings, an app that belongs to a pod. `ports` is Marathon < 1.5's list
# of service ports (the 2015 example still has it; 1.5+ answers portDefinitions), so a
# client must not need it.
EXAMPLE_CONTENT = ("/env/", "/labels/", "/container/", "/readinessChecks/", "/secrets/",
                   "/fetch/", "/constraints/", "/uris/", "/args/", "/dependencies/",
                   "/acceptedResourceRoles/", "/portDefinitions/[]/name",
                   "/portDefinitions/[]/labels/", "/ports",
                   "/currentActions/[]/readinessCheckResults/[]", "/steps/[]/actions/[]/pod",
                   "/affectedPods/[]", "/ipAddress/")


# Optional fields Marathon answers null when an app leaves them unset, though its
# examples all set them (the real Marathon answers in controller/testdata/marathon/
# have "ipAddress": null).
NULL_WHEN_UNSET = ("/ipAddress", "/taskKillGracePeriodSeconds")


def paths(value):
    """{JSON path: set of JSON types} of `value`, as the field list was written."""
    out = {}
    marathon_api_fields.walk(value, "", out)
    out.pop("", None)
    return out


def missing(kind, answers):
    """The example fields of `kind` absent from `answers`, or there with another type."""
    have = {}
    for a in answers:
        for p, t in paths(a).items():
            have.setdefault(p, set()).update(t)
    bad = []
    for p, types in FIELDS[kind].items():
        if any(p == c or p.startswith(c if c.endswith("/") else c + "/")
               for c in EXAMPLE_CONTENT):
            continue
        if p not in have:
            bad.append("%s: absent" % p)
        elif types != ["null"] and not (set(types) & have[p]) and not (
                p in NULL_WHEN_UNSET and have[p] == {"null"}):
            bad.append("%s: %s, Marathon's example: %s" % (p, sorted(have[p]), types))
    return bad


class SimFidelityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="mlb-simfid-")
        port_file = os.path.join(cls.dir, "port")
        cls.log = open(os.path.join(cls.dir, "sim.log"), "wb")
        cls.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "marathon_sim.py"), "--listen", "127.0.0.1:0",
             "--port-file", port_file, "--deploy-delay", "0.05", "--health-grace", "0.2"],
            stdout=cls.log, stderr=subprocess.STDOUT)
        assert wait_until(lambda: os.path.exists(port_file) and os.path.getsize(port_file), 30)
        with open(port_file) as f:
            cls.url = "http://127.0.0.1:%s" % f.read().strip()

    @classmethod
    def tearDownClass(cls):
        stop_all([cls.proc], 10)
        cls.log.close()

    def post(self, app):
        return json.loads(fetch(self.url + "/v2/apps", app))

    def test_every_field_of_marathons_examples_is_answered_with_its_type(self):
        self.post({"id": "/fid/web", "cmd": "serve", "instances": 2,
                   "portDefinitions": [{"port": 0}],
                   "healthChecks": [{"protocol": "MESOS_HTTP"}],
                   "labels": {"HAPROXY_GROUP": "external"}})
        # During the deployment: the app names it, /v2/deployments describes it.
        deps = json.loads(fetch(self.url + "/v2/deployments"))
        self.assertTrue(deps, "no deployment in progress right after the POST")
        self.assertEqual(missing("deployment", deps), [])
        app = json.loads(fetch(self.url + "/v2/apps/fid/web"))["app"]
        self.assertEqual([d["id"] for d in app["deployments"]], [deps[0]["id"]])
        self.assertTrue(wait_until(lambda: len(json.loads(fetch(
            self.url + "/v2/apps/fid/web?embed=app.tasks"))["app"]["tasks"]) == 2, 20))
        listed = json.loads(fetch(self.url + "/v2/apps?embed=apps.tasks"))["apps"]
        self.assertEqual(missing("app", listed), [])
        tasks = json.loads(fetch(self.url + "/v2/tasks"))["tasks"]
        self.assertEqual(missing("task", tasks), [])
        # Once healthy, the deployment is over and the app says so.
        self.assertTrue(wait_until(lambda: json.loads(fetch(
            self.url + "/v2/apps/fid/web"))["app"]["deployments"] == [], 20))

    def test_health_check_defaults_and_assigned_service_ports(self):
        self.post({"id": "/fid/db", "cmd": "serve", "instances": 0,
                   "container": {"type": "DOCKER", "docker": {"image": "pg"},
                                 "portMappings": [{"containerPort": 5432, "servicePort": 0},
                                                  {"containerPort": 80}]},
                   "networks": [{"mode": "container/bridge"}],
                   "healthChecks": [{"protocol": "TCP", "portIndex": 1}]})
        app = json.loads(fetch(self.url + "/v2/apps/fid/db"))["app"]
        ports = [m["servicePort"] for m in app["container"]["portMappings"]]
        self.assertTrue(all(10000 <= p < 20000 for p in ports), ports)
        self.assertNotIn("portDefinitions", app)  # not for container networking
        self.assertEqual(len(set(ports)), 2, ports)
        hc = app["healthChecks"][0]
        self.assertEqual((hc["gracePeriodSeconds"], hc["intervalSeconds"], hc["timeoutSeconds"],
                          hc["maxConsecutiveFailures"], hc["delaySeconds"], hc["portIndex"]),
                         (300, 60, 20, 3, 15, 1))
        self.assertNotIn("path", hc)  # a TCP check has none
        self.assertTrue(wait_until(lambda: json.loads(fetch(  # nothing to start
            self.url + "/v2/apps/fid/db"))["app"]["deployments"] == [], 10))
        # Scaled up: counts follow the tasks (unhealthy until the health grace is over).
        fetch(self.url + "/_sim/scale", {"app": "/fid/db", "instances": 2})
        app = json.loads(fetch(self.url + "/v2/apps/fid/db"))["app"]
        self.assertEqual((app["tasksStaged"], app["tasksRunning"]), (0, 2))
        self.assertEqual(app["tasksHealthy"] + app["tasksUnhealthy"], 2)

    def test_a_repeated_service_port_is_refused_as_marathon_refuses_it(self):
        with self.assertRaises(urllib.error.HTTPError) as e:
            self.post({"id": "/fid/twice", "cmd": "serve",
                       "portDefinitions": [{"port": 10777}, {"port": 10777}]})
        self.assertEqual(e.exception.code, 422)
        body = json.loads(e.exception.read())
        self.assertIn("Ports must be unique.", json.dumps(body["details"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
