#!/usr/bin/env python3
"""mlb's Marathon simulator: a faithful stand-in for Marathon's REST API and event
stream, driven from fixture files, with a control interface that scripts changes and
faults. Python standard library only (the machine has no PyPI).

Served like Marathon (see ../shared/marathon/API.md); apps created through the write
API are normalised as Marathon does (its defaults, health-check defaults, service ports
0 assigned in portDefinitions and portMappings, a repeated port refused with 422) and
answer Marathon's derived fields (deployments, tasksStaged/Running/Healthy/Unhealthy,
versionInfo); e2e/sim_fidelity_test.py checks the answers against every field of
Marathon's own API examples:
  GET /v2/apps[?embed=apps.tasks]   {"apps": [...]}; tasks only with the tasks embed
  GET /v2/apps/<id>                 {"app": {...}} or 404 {"message": "App '/x' does not exist"}
  GET /v2/events                    SSE exactly as Marathon sends it: 200 with
                                    `Connection: close`, no chunked encoding, CRLF
                                    framing, a bare "\\r" + "\\n" keep-alive every
                                    --heartbeat seconds, event_type filters, 405 unless
                                    Accept is exactly text/event-stream
  GET /v2/info, /v2/leader, /ping, /v2/tasks, /v2/deployments

Marathon's write API (what `mlb deploy` drives), with deployments that start tasks one
by one (--deploy-delay s apart), Marathon health results that turn alive --health-grace
s after a task starts (never, for an app whose env has SIM_NEVER_HEALTHY), and, with
--backends, a real HTTP server on 127.0.0.1 for every task started this way (it answers
every GET with the app id and its env VERSION, "/web-green v2"):
  POST   /v2/apps                   create (409 if it exists, 422 if invalid)
  PUT    /v2/apps/<id>[?force=true] update: {"instances": n} scales; other fields replace
  DELETE /v2/apps/<id>              kill every task, remove the app
  POST   /v2/tasks/delete[?scale=true]  {"ids": [...]}: kill; scale=true lowers instances
  GET    /v2/deployments            the deployments in progress

Control (POST JSON to /_sim/<action>; every change emits the events Marathon emits):
  scale        {"app": "/a", "instances": 3, "ports": [[p], ...]?, "host": "127.0.0.1"?}
  labels       {"app": "/a", "labels": {"K": "v", "GONE": null}}
  kill_task    {"app": "/a", "task": "<id>"?}                (the last task by default)
  add_task     {"app": "/a", "host": "...", "ports": [p], "alive": true?}
  health       {"app": "/a", "alive": false, "task": "<id>"?}
  set_app      {"app": {...full app with tasks...}}          (create or replace)
  remove_app   {"app": "/a"}
  fault        {"kind": K, "count": N?}   K: none, http500, html503, truncated, empty,
               hang, drop_stream, silent_stream, health_lost, redirect
               (count: how many /v2/apps answers get it; default until cleared)
  standby      {"leader": "http://host:port" | null}   /v2/events answers 302 to leader
  storm        {"events": 10000, "seconds": 10}         status events for existing tasks
  GET /_sim/state                                       counters, for tests
"""
import argparse
import copy
import datetime
import http.server
import json
import queue
import socketserver
import sys
import threading
import time
import urllib.parse

RELEVANT_KEYS_LEGACY_14 = ("ports", "portDefinitions")


def now_ts():
    d = datetime.datetime.now(datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


class State:
    """All simulated Marathon state, under one lock."""

    def __init__(self, apps, heartbeat):
        self.lock = threading.RLock()
        self.apps = {}  # id -> app dict (with tasks)
        self.order = []  # answer order (Marathon answers in its own order)
        self.cache = {}  # id -> serialized app (with tasks)
        self.cache_notasks = {}
        for a in apps:
            self._put(a)
        self.subscribers = []  # (queue, filter set or None)
        self.heartbeat = heartbeat
        self.fault = "none"
        self.fault_left = -1
        self.standby_leader = None
        self.next_port = 31000
        self.task_seq = 0
        self.counters = {"apps_requests": 0, "events_connections": 0, "events_sent": 0,
                         "faults_served": 0}
        self.deploy_delay = 0.5
        self.health_grace = 1.0
        self.start_backends = False
        self.backends = {}  # task id -> TaskBackend
        self.deployments = {}  # deployment id -> {"id", "app", "version"}
        self.next_service_port = 10100

    def _put(self, app):
        app_id = app["id"]
        if app_id not in self.apps:
            self.order.append(app_id)
        app.setdefault("tasks", [])
        app.setdefault("labels", {})
        self.apps[app_id] = app
        self.cache[app_id] = json.dumps(app, separators=(",", ":"))
        stripped = {k: v for k, v in app.items() if k != "tasks"}
        self.cache_notasks[app_id] = json.dumps(stripped, separators=(",", ":"))

    def touch(self, app_id):
        """Marathon's derived fields of an app: task counts and deployments."""
        app = self.apps[app_id]
        tasks = app["tasks"]
        app["tasksStaged"] = sum(1 for t in tasks if t.get("state") == "TASK_STAGING")
        app["tasksRunning"] = sum(1 for t in tasks if t.get("state") == "TASK_RUNNING")
        app["tasksHealthy"] = sum(1 for t in tasks
                                  if any(r.get("alive") for r in t.get("healthCheckResults", [])))
        app["tasksUnhealthy"] = sum(1 for t in tasks if t.get("healthCheckResults") and
                                    not any(r.get("alive") for r in t["healthCheckResults"]))
        app["deployments"] = [{"id": d["id"]} for d in self.deployments.values()
                              if d["app"] == app_id]
        self._put(app)

    def apps_body(self, embed_tasks):
        with self.lock:
            cache = self.cache if embed_tasks else self.cache_notasks
            return ('{"apps":[' + ",".join(cache[i] for i in self.order) + "]}").encode()

    def emit(self, event_type, payload):
        payload = dict(payload)
        payload["eventType"] = event_type
        payload["timestamp"] = now_ts()
        frame = ("event: %s\r\ndata: %s\r\n\r\n" %
                 (event_type, json.dumps(payload, separators=(",", ":")))).encode()
        with self.lock:
            subs = list(self.subscribers)
        for q, filt in subs:
            if filt is None or event_type in filt:
                q.put(frame)

    STREAM_FAULTS = ("drop_stream", "silent_stream")

    def take_fault(self, stream=False):
        """The fault this answer gets (consuming one of `count`): stream faults only
        for the event stream, the others only for /v2/apps."""
        with self.lock:
            if self.fault == "none" or (self.fault in self.STREAM_FAULTS) != stream:
                return "none"
            kind = self.fault
            if self.fault_left > 0:
                self.fault_left -= 1
                if self.fault_left == 0:
                    self.fault = "none"
            self.counters["faults_served"] += 1
            return kind

    # ---- scripted changes -------------------------------------------------------

    def new_task(self, app, host, ports, alive=True):
        self.task_seq += 1
        tid = "%s.sim-%06d" % (app["id"].lstrip("/").replace("/", "_"), self.task_seq)
        task = {"id": tid, "appId": app["id"], "host": host, "ports": ports,
                "ipAddresses": [{"ipAddress": host, "protocol": "IPv4"}],
                "state": "TASK_RUNNING", "stagedAt": now_ts(), "startedAt": now_ts(),
                "version": app.get("version", now_ts()), "slaveId": "sim-agent-1",
                "servicePorts": service_ports(app), "localVolumes": [],
                "region": "sim-region", "zone": "sim-zone", "role": "*"}
        if app.get("healthChecks"):
            task["healthCheckResults"] = [{
                "alive": alive, "consecutiveFailures": 0 if alive else 1,
                "firstSuccess": now_ts() if alive else None,
                "lastSuccess": now_ts() if alive else None,
                "lastFailure": None if alive else now_ts(),
                "instanceId": tid.replace(".sim-", ".marathon-sim-"),
            }]
        return task

    def status_event(self, app, task, status):
        self.emit("status_update_event", {
            "slaveId": task.get("slaveId", "sim-agent-1"), "taskId": task["id"],
            "taskStatus": status, "message": "", "appId": app["id"], "host": task["host"],
            "ipAddresses": task.get("ipAddresses", []), "ports": task.get("ports", []),
            "version": app.get("version", now_ts())})

    def api_post(self, app, uri):
        stripped = {k: v for k, v in app.items() if k != "tasks"}
        self.emit("api_post_event", {"clientIp": "127.0.0.1", "uri": uri,
                                     "appDefinition": stripped})


    # ---- Marathon's write API: deployments ----------------------------------------

    def create_app(self, definition):
        app = normalize_app(copy.deepcopy(definition))
        app["version"] = now_ts()
        app["versionInfo"] = {"lastScalingAt": app["version"],
                              "lastConfigChangeAt": app["version"]}
        self.assign_service_ports(app)
        app["tasks"] = []
        self._put(app)
        self.touch(app["id"])
        self.api_post(app, "/v2/apps")
        return self.deploy(app)

    def assign_service_ports(self, app):
        """Service port 0 ("assign one") in portDefinitions or in the container's
        portMappings gets the next free port of Marathon's range (from 10000; here 10100)."""
        c = app.get("container") or {}
        for entries, key in ((app.get("portDefinitions") or [], "port"),
                             (c.get("portMappings") or [], "servicePort"),
                             ((c.get("docker") or {}).get("portMappings") or [], "servicePort")):
            for e in entries:
                if not e.get(key):
                    e[key] = self.next_service_port
                    self.next_service_port += 1

    def update_app(self, app_id, change):
        app = self.apps[app_id]
        for k, v in change.items():
            if k not in ("id", "tasks", "version", "versionInfo"):
                app[k] = copy.deepcopy(v)
        normalize_app(app)
        self.assign_service_ports(app)
        app["version"] = now_ts()
        app.setdefault("versionInfo", {})["lastScalingAt"] = app["version"]
        if set(change) - {"instances", "id"}:
            app["versionInfo"]["lastConfigChangeAt"] = app["version"]
        self.touch(app_id)
        self.api_post(app, "/v2/apps" + app_id)
        return self.deploy(app)

    def delete_app(self, app_id):
        app = self.apps[app_id]
        for t in list(app["tasks"]):
            self.kill(app, t)
        del self.apps[app_id]
        self.order.remove(app_id)
        del self.cache[app_id]
        del self.cache_notasks[app_id]
        for d in [d for d in self.deployments.values() if d["app"] == app_id]:
            del self.deployments[d["id"]]
        self.emit("app_terminated_event", {"appId": app_id})
        return {"deploymentId": "sim-delete-%d" % time.monotonic_ns(), "version": now_ts()}

    def kill(self, app, task):
        app["tasks"] = [t for t in app["tasks"] if t["id"] != task["id"]]
        backend = self.backends.pop(task["id"], None)
        if backend:
            backend.close()
        self.touch(app["id"])
        self.status_event(app, task, "TASK_KILLED")

    def kill_tasks(self, ids, scale):
        killed = []
        for app_id in list(self.order):
            app = self.apps[app_id]
            mine = [t for t in app["tasks"] if t["id"] in ids]
            for t in mine:
                self.kill(app, t)
                killed.append(t)
            if mine and scale:
                app["instances"] = max(0, app["instances"] - len(mine))
                app["version"] = now_ts()
                app.setdefault("versionInfo", {})["lastScalingAt"] = app["version"]
                self.touch(app_id)
            elif mine:
                self.deploy(app)  # Marathon replaces killed tasks
        if scale:
            return {"deploymentId": "sim-kill-%d" % time.monotonic_ns(), "version": now_ts()}
        return {"tasks": killed}

    def deploy(self, app):
        """Start the deployment that brings `app` to its instance count: extra tasks
        are killed now, missing ones started one per deploy_delay."""
        while len(app["tasks"]) > app["instances"]:
            self.kill(app, app["tasks"][-1])
        dep_id = "sim-dep-%d" % time.monotonic_ns()
        for d in [d for d in self.deployments.values() if d["app"] == app["id"]]:
            del self.deployments[d["id"]]
        self.deployments[dep_id] = {"id": dep_id, "app": app["id"], "version": app["version"]}
        self.touch(app["id"])
        threading.Thread(target=self.run_deployment, args=(dep_id,), daemon=True).start()
        return {"deploymentId": dep_id, "version": app["version"]}

    def run_deployment(self, dep_id):
        while True:
            time.sleep(self.deploy_delay)
            with self.lock:
                dep = self.deployments.get(dep_id)
                app = self.apps.get(dep["app"]) if dep else None
                if app is None:
                    return
                if len(app["tasks"]) < app["instances"]:
                    self.start_task(app)
                elif self.deployment_done(app):
                    del self.deployments[dep_id]
                    self.touch(app["id"])
                    self.emit("deployment_success", {"id": dep_id, "plan": {
                        "id": dep_id, "version": dep["version"]}})
                    return

    def deployment_done(self, app):
        if not app.get("healthChecks"):
            return True
        return all(any(r.get("alive") for r in t.get("healthCheckResults", []))
                   for t in app["tasks"])

    def start_task(self, app):
        width = max(1, len(app.get("portDefinitions", []) or []))
        if self.start_backends:
            backend = TaskBackend("%s %s" % (app["id"], (app.get("env") or {}).get(
                "VERSION", "")))
            ports = [backend.port] + [free_loopback_port() for _ in range(width - 1)]
        else:
            backend = None
            ports = list(range(self.next_port, self.next_port + width))
            self.next_port += width
        task = self.new_task(app, "127.0.0.1", ports, alive=False)
        if backend:
            self.backends[task["id"]] = backend
        app["tasks"].append(task)
        self.touch(app["id"])
        self.status_event(app, task, "TASK_RUNNING")
        if app.get("healthChecks") and not (app.get("env") or {}).get("SIM_NEVER_HEALTHY"):
            threading.Timer(self.health_grace, self.turn_alive,
                            args=(app["id"], task["id"])).start()

    def turn_alive(self, app_id, task_id):
        with self.lock:
            app = self.apps.get(app_id)
            task = next((t for t in (app or {}).get("tasks", []) if t["id"] == task_id), None)
            if task is None:
                return
            for r in task.get("healthCheckResults", []):
                r.update({"alive": True, "consecutiveFailures": 0, "lastSuccess": now_ts(),
                          "firstSuccess": now_ts()})
            self.touch(app_id)
            self.emit("health_status_changed_event", {
                "appId": app_id, "instanceId": task_id, "version": app.get("version"),
                "alive": True})

    def deployments_body(self):
        return [{"id": d["id"], "version": d["version"], "affectedApps": [d["app"]],
                 "affectedPods": [], "steps": [{"actions": [
                     {"action": "ScaleApplication", "app": d["app"]}]}],
                 "currentActions": [{"action": "ScaleApplication", "app": d["app"],
                                     "readinessCheckResults": []}],
                 "currentStep": 1, "totalSteps": 1}
                for d in self.deployments.values()]


def free_loopback_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TaskBackend:
    """A task's process: an HTTP/1.1 server on 127.0.0.1 answering `text` to every GET
    (/slow?s=N waits N seconds first). Killing it (close) resets every open connection,
    as a killed process would: a request still in flight fails."""

    def __init__(self, text):
        body = (text.strip() + "\n").encode()
        self.open = set()
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with outer.lock:
                    outer.open.add(self.connection)

            def finish(self):
                with outer.lock:
                    outer.open.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_GET(self):
                if self.path.startswith("/slow"):
                    q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                    time.sleep(min(120.0, float(q.get("s", ["5"])[0])))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_HEAD(self):  # HAProxy's httpchk
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_OPTIONS = do_HEAD

            def log_message(self, *a):
                pass

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass  # health checks connect and close

        self.server = S(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()

    def close(self):
        import socket
        with self.lock:
            conns = list(self.open)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        threading.Thread(target=self._close, daemon=True).start()

    def _close(self):
        self.server.shutdown()
        self.server.server_close()


class Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0 replies: no chunked encoding, the event stream is close-delimited.
    protocol_version = "HTTP/1.0"
    server_version = "Jetty(9.4.8.v20171121)"
    state = None  # set in main()

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("sim: " + fmt % args + "\n")

    # ---- helpers ----

    def send_json(self, code, obj, extra_headers=()):
        body = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
        self.send_response(code)
        self.send_header("Content-Type", "application/json; qs=2")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Marathon-Leader", "http://%s:%d" % self.server.server_address[:2])
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_html(self, code, text):
        body = ("<html><head><title>Error %d</title></head><body><h2>HTTP ERROR %d</h2>"
                "<p>%s</p></body></html>" % (code, code, text)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html;charset=iso-8859-1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def auth_ok(self):
        if self.server.dcos_uid:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("token=") and auth[6:] in self.server.dcos_tokens:
                return True
            self.send_json(401, {"message": "Authentication required: token=<DC/OS token>"})
            return False
        creds = self.server.credentials
        if not creds:
            return True
        import base64
        want = "Basic " + base64.b64encode(creds.encode()).decode()
        if self.headers.get("Authorization") == want:
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="Mesosphere"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    # ---- GET ----

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        qs = urllib.parse.parse_qs(url.query)
        path = url.path
        st = self.state
        if path.startswith("/_sim/"):
            return self.sim_get(path)
        if not self.auth_ok():
            return
        if path == "/ping":
            body = b"pong"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(body)
            return
        if path == "/v2/info":
            return self.send_json(200, {
                "name": "marathon", "version": "1.10.17", "buildref": "sim", "elected": True,
                "leader": "%s:%d" % self.server.server_address[:2],
                "frameworkId": "sim-framework", "marathon_config": {}, "zookeeper_config": {},
                "http_config": {"http_port": self.server.server_address[1], "https_port": 8443}})
        if path == "/v2/leader":
            return self.send_json(200, {"leader": "%s:%d" % self.server.server_address[:2]})
        if path == "/v2/events":
            return self.events(qs)
        if path == "/v2/apps" or path == "/v2/apps/":
            with st.lock:
                st.counters["apps_requests"] += 1
            embed = qs.get("embed", [])
            tasks = any(e in ("apps.tasks", "app.tasks", "tasks", "apps.failures")
                        for e in embed)
            return self.apps_answer(st.apps_body(tasks))
        if path.startswith("/v2/apps/"):
            app_id = path[len("/v2/apps"):]
            with st.lock:
                app = st.apps.get(app_id)
                body = ('{"app":' + st.cache[app_id] + "}").encode() if app else None
            if st.fault == "empty":  # a Marathon that lost its state knows no app
                st.take_fault()
                body = None
            if body is None:
                return self.send_json(404, {"message": "App '%s' does not exist" % app_id})
            return self.apps_answer(body, single=True)
        if path == "/v2/deployments":
            with st.lock:
                return self.send_json(200, st.deployments_body())
        if path == "/v2/tasks":
            with st.lock:
                tasks = [t for i in st.order for t in st.apps[i]["tasks"]]
            return self.send_json(200, {"tasks": tasks})
        self.send_json(404, {"message": "Not found: " + path})

    def apps_answer(self, body, single=False):
        kind = self.state.take_fault()
        if kind == "http500":
            return self.send_json(500, {"message": "An unexpected server error occurred."})
        if kind == "html503":
            return self.send_html(503, "Could not determine the current leader")
        if kind == "truncated":
            cut = body[: max(1, len(body) * 2 // 3)]
            return self.send_json(200, cut)
        if kind == "empty":
            return self.send_json(200, b'{"apps":[]}')  # (/v2/apps/<id> answers 404 above)
        if kind == "hang":
            # Headers, then nothing, until the client gives up (bounded: 120 s).
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            for _ in range(1200):
                time.sleep(0.1)
                if self.state.fault != "hang":
                    break
            return
        if kind == "health_lost":
            obj = json.loads(body)
            for app in ([obj["app"]] if single else obj["apps"]):
                for t in app.get("tasks", []):
                    t.pop("healthCheckResults", None)
            return self.send_json(200, json.dumps(obj).encode())
        self.send_json(200, body)

    def events(self, qs):
        st = self.state
        if "text/event-stream" not in [v.strip() for v in self.headers.get_all("Accept", [])]:
            return self.send_html(405, "HTTP method GET is not supported by this URL")
        if st.standby_leader:
            self.send_response(302)
            self.send_header("Location", st.standby_leader + "/v2/events?" +
                             urllib.parse.urlsplit(self.path).query)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        filt = set(qs["event_type"]) if "event_type" in qs else None
        q = queue.Queue()
        with st.lock:
            st.subscribers.append((q, filt))
            st.counters["events_connections"] += 1
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream;charset=utf-8")
            self.send_header("Connection", "close")
            self.send_header("Cache-Control", "no-cache, no-store, must-revalidate")
            self.send_header("Pragma", "no-cache")
            self.send_header("Expires", "0")
            self.send_header("X-Marathon-Leader",
                             "http://%s:%d" % self.server.server_address[:2])
            self.end_headers()
            self.wfile.flush()
            st.emit("event_stream_attached", {"remoteAddress": self.client_address[0]})
            next_beat = time.monotonic() + st.heartbeat
            while not self.server.stopping:
                fault = st.fault
                if fault == "drop_stream":
                    st.take_fault(stream=True)
                    return
                timeout = max(0.0, next_beat - time.monotonic())
                try:
                    frame = q.get(timeout=min(timeout, 0.5))
                except queue.Empty:
                    frame = None
                if st.fault == "silent_stream":
                    continue  # open, but neither events nor keep-alives
                if frame is not None:
                    self.wfile.write(frame)
                    self.wfile.flush()
                    with st.lock:
                        st.counters["events_sent"] += 1
                elif time.monotonic() >= next_beat:
                    # Jetty's heartbeat: "\r", flush, "\n", flush.
                    self.wfile.write(b"\r")
                    self.wfile.flush()
                    self.wfile.write(b"\n")
                    self.wfile.flush()
                    next_beat = time.monotonic() + st.heartbeat
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with st.lock:
                st.subscribers = [s for s in st.subscribers if s[0] is not q]

    # ---- control ----

    def sim_get(self, path):
        st = self.state
        if path == "/_sim/state":
            with st.lock:
                out = dict(st.counters)
                out["subscribers"] = len(st.subscribers)
                out["apps"] = len(st.apps)
                out["fault"] = st.fault
            return self.send_json(200, out)
        self.send_json(404, {"message": "unknown control " + path})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(length) or b"{}")
        except ValueError as e:
            return self.send_json(400, {"message": "Invalid JSON: %s" % e})
        if url.path == "/acs/api/v1/auth/login" and self.server.dcos_uid:
            return self.dcos_login(req)
        if url.path in ("/v2/apps", "/v2/apps/") or url.path == "/v2/tasks/delete":
            if not self.auth_ok():
                return
            return self.write_api("POST", url, req)
        if url.path in ("/v2/groups", "/v2/pods"):
            errors = validate_definition(url.path, req)
            if errors:
                return self.send_json(422, {"message": "Object is not valid",
                                            "details": [{"path": p, "errors": [e]}
                                                        for p, e in errors]})
            return self.send_json(201, {"deploymentId": "sim-%d" % time.monotonic_ns(),
                                        "version": now_ts()},
                                  [("Marathon-Deployment-Id", "sim")])
        if not url.path.startswith("/_sim/"):
            return self.send_json(405, {"message": "read-only simulator"})
        action = url.path[len("/_sim/"):]
        fn = getattr(self, "sim_" + action, None)
        if fn is None:
            return self.send_json(404, {"message": "unknown action " + action})
        st = self.state
        try:
            with st.lock:
                result = fn(st, req)
        except KeyError as e:
            return self.send_json(404, {"message": "unknown app or task: %s" % e})
        self.send_json(200, result or {"ok": True})

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"{}")
        except ValueError as e:
            self.send_json(400, {"message": "Invalid JSON: %s" % e})
            return None

    def do_PUT(self):
        url = urllib.parse.urlsplit(self.path)
        req = self.read_json()
        if req is not None and self.auth_ok():
            self.write_api("PUT", url, req)

    def do_DELETE(self):
        url = urllib.parse.urlsplit(self.path)
        if self.auth_ok():
            self.write_api("DELETE", url, {})

    def write_api(self, method, url, req):
        """Marathon's write API: 200/201 with a deployment, 404 unknown app, 409 an app
        that exists, 422 an invalid definition."""
        st = self.state
        path = url.path.rstrip("/")
        qs = urllib.parse.parse_qs(url.query)
        with st.lock:
            if method == "POST" and path == "/v2/tasks/delete":
                scale = qs.get("scale", ["false"])[0] == "true"
                return self.send_json(200, st.kill_tasks(set(req.get("ids", [])), scale))
            if method == "POST":
                errors = validate_definition("/v2/apps", req)
                if errors:
                    return self.send_json(422, {"message": "Object is not valid", "details": [
                        {"path": p, "errors": [e]} for p, e in errors]})
                if req["id"] in st.apps:
                    return self.send_json(409, {"message": "An app with id [%s] already "
                                                "exists." % req["id"]})
                dep = st.create_app(req)
                out = dict(json.loads(st.cache_notasks[req["id"]]),
                           deployments=[{"id": dep["deploymentId"]}])
                return self.send_json(201, out, [("Marathon-Deployment-Id", dep["deploymentId"])])
            app_id = path[len("/v2/apps"):]
            if not path.startswith("/v2/apps/") or app_id not in st.apps:
                if method == "PUT" and path.startswith("/v2/apps/"):
                    req = dict(req, id=app_id)
                    errors = validate_definition("/v2/apps", req)
                    if not errors:
                        return self.send_json(201, st.create_app(req))
                return self.send_json(404, {"message": "App '%s' does not exist" % app_id})
            if method == "PUT":
                return self.send_json(200, st.update_app(app_id, req))
            return self.send_json(200, st.delete_app(app_id))

    def dcos_login(self, req):
        """DC/OS service login: {"uid", "token": RS256 JWT signed by the account's
        private key} -> {"token": ...}. The signature is checked with openssl."""
        import base64
        import subprocess
        import tempfile

        def unb64(x):
            return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        try:
            head, payload, sig = req["token"].split(".")
            claims = json.loads(unb64(payload))
            with tempfile.TemporaryDirectory() as d:
                with open(d + "/in", "wb") as f:
                    f.write((head + "." + payload).encode())
                with open(d + "/sig", "wb") as f:
                    f.write(unb64(sig))
                ok = subprocess.run(["openssl", "dgst", "-sha256", "-verify",
                                     self.server.dcos_public_key, "-signature", d + "/sig",
                                     d + "/in"], capture_output=True).returncode == 0
        except (KeyError, ValueError, TypeError):
            ok, claims = False, {}
        if not ok or req.get("uid") != self.server.dcos_uid or \
                claims.get("uid") != self.server.dcos_uid or claims.get("exp", 0) < time.time():
            return self.send_json(401, {"title": "Unauthorized",
                                        "description": "Login token invalid", "code":
                                        "ERR_INVALID_LOGIN_TOKEN"})
        token = "sim-dcos-%d" % (len(self.server.dcos_tokens) + 1)
        self.server.dcos_tokens.add(token)
        self.send_json(200, {"token": token})

    def sim_scale(self, st, req):
        app = st.apps[req["app"]]
        n = int(req["instances"])
        ports = req.get("ports", [])
        host = req.get("host", "127.0.0.1")
        app["instances"] = n
        added, killed = [], []
        while len(app["tasks"]) < n:
            p = ports[len(added)] if len(added) < len(ports) else None
            if p is None:
                width = max(1, len(app.get("portDefinitions", [])) or 1)
                p = list(range(st.next_port, st.next_port + width))
                st.next_port += width
            t = st.new_task(app, host, p)
            app["tasks"].append(t)
            added.append(t)
        while len(app["tasks"]) > n:
            killed.append(app["tasks"].pop())
        app.setdefault("versionInfo", {})["lastScalingAt"] = now_ts()
        st.touch(app["id"])
        st.api_post(app, "/v2/apps" + app["id"])
        for t in added:
            st.status_event(app, t, "TASK_RUNNING")
        for t in killed:
            st.status_event(app, t, "TASK_KILLED")
        return {"ok": True, "tasks": [t["id"] for t in app["tasks"]]}

    def sim_labels(self, st, req):
        app = st.apps[req["app"]]
        for k, v in req["labels"].items():
            if v is None:
                app["labels"].pop(k, None)
            else:
                app["labels"][k] = v
        app["version"] = now_ts()
        st.touch(app["id"])
        st.api_post(app, "/v2/apps" + app["id"])

    def sim_kill_task(self, st, req):
        app = st.apps[req["app"]]
        tid = req.get("task")
        idx = len(app["tasks"]) - 1 if tid is None else \
            next(i for i, t in enumerate(app["tasks"]) if t["id"] == tid)
        t = app["tasks"].pop(idx)
        st.touch(app["id"])
        st.status_event(app, t, "TASK_KILLED")
        return {"ok": True, "task": t["id"]}

    def sim_add_task(self, st, req):
        app = st.apps[req["app"]]
        t = st.new_task(app, req.get("host", "127.0.0.1"), req["ports"], req.get("alive", True))
        app["tasks"].append(t)
        st.touch(app["id"])
        st.status_event(app, t, "TASK_RUNNING")
        return {"ok": True, "task": t["id"]}

    def sim_health(self, st, req):
        app = st.apps[req["app"]]
        alive = bool(req["alive"])
        for t in app["tasks"]:
            if req.get("task") not in (None, t["id"]):
                continue
            for r in t.setdefault("healthCheckResults", [{}]):
                r["alive"] = alive
                r["lastSuccess" if alive else "lastFailure"] = now_ts()
            st.emit("health_status_changed_event", {
                "appId": app["id"], "instanceId": t["id"], "version": app.get("version"),
                "alive": alive})
        st.touch(app["id"])

    def sim_set_app(self, st, req):
        app = copy.deepcopy(req["app"])
        st._put(app)
        st.touch(app["id"])
        st.api_post(app, "/v2/apps" + app["id"])

    def sim_remove_app(self, st, req):
        app_id = req["app"]
        del st.apps[app_id]
        st.order.remove(app_id)
        del st.cache[app_id]
        del st.cache_notasks[app_id]
        st.emit("app_terminated_event", {"appId": app_id})

    def sim_fault(self, st, req):
        st.fault = req.get("kind", "none")
        st.fault_left = int(req.get("count", -1))

    def sim_standby(self, st, req):
        st.standby_leader = req.get("leader")

    def sim_storm(self, st, req):
        n, secs = int(req.get("events", 10000)), float(req.get("seconds", 10))
        tasks = [(st.apps[i], t) for i in st.order for t in st.apps[i]["tasks"]]

        def run():
            if not tasks:
                return
            start = time.monotonic()
            for k in range(n):
                app, t = tasks[k % len(tasks)]
                st.status_event(app, t, "TASK_RUNNING")
                delay = start + secs * (k + 1) / n - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        threading.Thread(target=run, daemon=True).start()
        return {"ok": True, "events": n}


def service_ports(app):
    """The app's service ports, in port order (portDefinitions or portMappings)."""
    c = app.get("container") or {}
    for entries, key in ((app.get("portDefinitions"), "port"),
                         (c.get("portMappings"), "servicePort"),
                         ((c.get("docker") or {}).get("portMappings"), "servicePort")):
        if entries:
            return [e.get(key, 0) for e in entries]
    return []


# What Marathon (1.9+) answers for fields an app definition leaves out
# (AppDefinition's and the health checks' defaults).
APP_DEFAULTS = {
    "cmd": None, "args": None, "user": None, "env": {}, "instances": 1, "cpus": 1.0,
    "mem": 128.0, "disk": 0.0, "gpus": 0, "executor": "", "constraints": [], "uris": [],
    "fetch": [], "storeUrls": [], "backoffSeconds": 1, "backoffFactor": 1.15,
    "maxLaunchDelaySeconds": 300, "container": None, "healthChecks": [],
    "readinessChecks": [], "dependencies": [], "labels": {}, "acceptedResourceRoles": None,
    "ipAddress": None, "requirePorts": False, "secrets": {}, "taskKillGracePeriodSeconds": None,
    "killSelection": "YOUNGEST_FIRST", "tty": False,
    "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
    "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
    "networks": [{"mode": "host"}]}
HEALTH_DEFAULTS = {"gracePeriodSeconds": 300, "intervalSeconds": 60, "timeoutSeconds": 20,
                   "maxConsecutiveFailures": 3, "delaySeconds": 15, "ignoreHttp1xx": False}


def normalize_app(app):
    """An app definition as Marathon stores and answers it: defaults filled, health
    checks completed (portIndex 0 unless a port is given, path "/" for HTTP ones), one
    port definition (port 0: assigned) for a host-networking app that gives none."""
    docker_net = ((app.get("container") or {}).get("docker") or {}).get("network")
    if "networks" not in app and docker_net in ("BRIDGE", "USER"):
        app["networks"] = [{"mode": "container/bridge" if docker_net == "BRIDGE"
                            else "container"}]
    for k, v in APP_DEFAULTS.items():
        app.setdefault(k, copy.deepcopy(v))
    c = app.get("container") or {}
    host_net = all(n.get("mode") == "host" for n in app["networks"])
    if host_net and "portDefinitions" not in app and not c.get("portMappings") and not (
            c.get("docker") or {}).get("portMappings"):
        app["portDefinitions"] = [{"port": 0, "protocol": "tcp"}]
    for pd in app.get("portDefinitions") or []:
        pd.setdefault("protocol", "tcp")
        pd.setdefault("labels", {})
    for hc in app["healthChecks"]:
        for k, v in HEALTH_DEFAULTS.items():
            hc.setdefault(k, v)
        if "port" not in hc:
            hc.setdefault("portIndex", 0)
        if hc.get("protocol", "HTTP") in ("HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS"):
            hc.setdefault("path", "/")
        hc.setdefault("protocol", "HTTP")
    return app


def duplicate_ports(app):
    """Marathon refuses an app whose portDefinitions repeat a port other than 0."""
    ports = [pd.get("port") for pd in app.get("portDefinitions") or [] if pd.get("port")]
    return len(ports) != len(set(ports))


def validate_definition(path, d):
    """The checks Marathon's validators make that matter for mlb's definitions
    (ids, resources, containers, volumes, networks). Returns [(json path, error)]."""
    errs = []

    def need(cond, where, msg):
        if not cond:
            errs.append((where, msg))

    def check_id(v, where):
        need(isinstance(v, str) and v.startswith("/") and all(
            seg and all(c.isalnum() and c.islower() or c.isdigit() or c in "-."
                        for c in seg) for seg in v[1:].split("/")), where,
            "must be an absolute path of lowercase letters, digits, '-' and '.'")

    def check_app(a, where):
        if not isinstance(a, dict):
            return need(False, where, "must be an object")
        check_id(a.get("id"), where + "/id")
        need(any(k in a for k in ("cmd", "args", "container")), where,
             "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'")
        for k in ("cpus", "mem"):
            need(isinstance(a.get(k, 1), (int, float)) and a.get(k, 1) >= 0, where + "/" + k,
                 "must be a non-negative number")
        need(isinstance(a.get("instances", 1), int), where + "/instances", "must be an integer")
        c = a.get("container")
        if c is not None:
            need(c.get("type") in ("DOCKER", "MESOS"), where + "/container/type",
                 "must be DOCKER or MESOS")
            need(bool((c.get("docker") or {}).get("image")), where + "/container/docker/image",
                 "must not be empty")
            for i, v in enumerate(c.get("volumes", [])):
                need(v.get("containerPath") and v.get("mode") in ("RO", "RW"),
                     "%s/container/volumes(%d)" % (where, i), "containerPath and mode RO|RW")
        need(not duplicate_ports(a), where + "/portDefinitions", "Ports must be unique.")
        for i, n in enumerate(a.get("networks", [])):
            need(n.get("mode") in ("host", "container/bridge", "container"),
                 "%s/networks(%d)/mode" % (where, i), "unknown network mode")
        for i, hc in enumerate(a.get("healthChecks", [])):
            need(hc.get("protocol") in ("HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP",
                                        "MESOS_HTTPS", "MESOS_TCP"),
                 "%s/healthChecks(%d)/protocol" % (where, i), "unknown protocol")
            pi = hc.get("portIndex")
            need(pi is None or pi < len(a.get("portDefinitions", []) or
                                         (c or {}).get("portMappings", [])),
                 "%s/healthChecks(%d)/portIndex" % (where, i), "portIndex out of range")

    if path == "/v2/apps":
        check_app(d, "")
    elif path == "/v2/groups":
        check_id(d.get("id"), "/id")
        need(isinstance(d.get("apps"), list) and d["apps"], "/apps", "must list apps")
        for i, a in enumerate(d.get("apps") or []):
            check_app(a, "/apps(%d)" % i)
            need(isinstance(a.get("id"), str) and a["id"].startswith(d.get("id", "") + "/"),
                 "/apps(%d)/id" % i, "must be inside the group")
    else:  # /v2/pods
        check_id(d.get("id"), "/id")
        conts = d.get("containers")
        need(isinstance(conts, list) and conts, "/containers", "must not be empty")
        vols = {v.get("name") for v in d.get("volumes", [])}
        names = set()
        for i, c in enumerate(conts or []):
            w = "/containers(%d)" % i
            need(c.get("name") and c["name"] not in names, w + "/name", "must be unique")
            names.add(c.get("name"))
            r = c.get("resources") or {}
            need(isinstance(r.get("cpus"), (int, float)) and isinstance(r.get("mem"),
                                                                          (int, float)),
                 w + "/resources", "cpus and mem are required")
            img = c.get("image") or {}
            need(img.get("kind") in ("DOCKER", "APPC") and img.get("id"), w + "/image",
                 "kind DOCKER|APPC and id")
            for j, m in enumerate(c.get("volumeMounts", [])):
                need(m.get("name") in vols, "%s/volumeMounts(%d)" % (w, j),
                     "names no pod volume")
            eps = {e.get("name") for e in c.get("endpoints", [])}
            hc = (c.get("healthCheck") or {}).get("http")
            need(hc is None or hc.get("endpoint") in eps, w + "/healthCheck",
                 "names no endpoint")
        for i, n in enumerate(d.get("networks", [])):
            need(n.get("mode") in ("host", "container", "container/bridge"),
                 "/networks(%d)/mode" % i, "unknown network mode")
    return errs


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    stopping = False
    verbose = False
    credentials = None
    dcos_uid = None
    dcos_public_key = None
    dcos_tokens = set()


def load_apps(args):
    if args.generate:
        sys.path.insert(0, args.fixture_dir)
        import gen_fixture  # noqa: E402  (bench/gen_fixture.py, the shared generator)
        import io
        import contextlib
        import tempfile
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            # Marathon's default service port range holds ~8000 generated apps; a larger
            # cluster raises --local_port_max, as its operators would.
            port_max = 20000 if args.generate <= 8000 else 10101 + 3 * args.generate
            argv = ["gen_fixture.py", "--apps", str(args.generate), "--seed", str(args.seed),
                    "--out", f.name, "--compact", "--service-port-max", str(port_max)]
            old = sys.argv
            sys.argv = argv
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    gen_fixture.main()
            finally:
                sys.argv = old
            with open(f.name) as fh:
                return json.load(fh)["apps"]
    if args.apps is None:
        return []
    with open(args.apps) as f:
        return json.load(f)["apps"]


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", default="127.0.0.1:8080", help="host:port (port 0: any)")
    p.add_argument("--apps", help="fixture file: a /v2/apps?embed=apps.tasks answer")
    p.add_argument("--generate", type=int, default=0, help="generate N apps instead")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fixture-dir", default=None, help="where gen_fixture.py lives")
    p.add_argument("--heartbeat", type=float, default=10.0, help="SSE keep-alive seconds")
    p.add_argument("--credentials", default=None, help="user:password for HTTP Basic")
    p.add_argument("--dcos-uid", default=None,
                   help="require DC/OS auth: the service account allowed to log in")
    p.add_argument("--dcos-public-key", default=None, help="its public key (PEM)")
    p.add_argument("--port-file", default=None, help="write the bound port here")
    p.add_argument("--tls-cert", default=None,
                   help="serve HTTPS with this PEM file (certificate and key)")
    p.add_argument("--deploy-delay", type=float, default=0.5,
                   help="seconds between the tasks a deployment starts")
    p.add_argument("--health-grace", type=float, default=1.0,
                   help="seconds until a started task's health result turns alive")
    p.add_argument("--backends", action="store_true",
                   help="a real HTTP server on 127.0.0.1 for every task a deployment starts")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    if not args.apps and not args.generate:
        args.apps = None
    if args.fixture_dir is None:
        import os
        args.fixture_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "bench")
    host, port = args.listen.rsplit(":", 1)
    Handler.state = State(load_apps(args), args.heartbeat)
    Handler.state.deploy_delay = args.deploy_delay
    Handler.state.health_grace = args.health_grace
    Handler.state.start_backends = args.backends
    srv = Server((host, int(port)), Handler)
    srv.verbose = args.verbose
    srv.credentials = args.credentials
    srv.dcos_uid = args.dcos_uid
    srv.dcos_public_key = args.dcos_public_key
    srv.dcos_tokens = set()
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    sys.stderr.write("marathon-sim: serving %d apps on %s:%d\n" %
                     (len(Handler.state.apps), host, srv.server_address[1]))
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stopping = True


if __name__ == "__main__":
    main()
