#!/usr/bin/env python3
"""Writes e2e/marathon_api_fields.json: every field (as a JSON path, lists as "[]")
of Marathon's own REST API examples for apps, tasks and deployments, with its JSON
type. The simulator's fidelity test (e2e/sim_fidelity_test.py) requires each in the
simulator's answers with that type.

usage: scripts/marathon_api_fields.py MARATHON_GIT_DIR > e2e/marathon_api_fields.json
  (MARATHON_GIT_DIR: a clone of github.com/mesosphere/marathon, e.g. a bare mirror)
"""
import json
import subprocess
import sys

EXAMPLES = "docs/docs/rest-api/public/api/v2/examples/"
# example file -> (what it is, how to reach one object of it)
SOURCES = {
    "app_list.json": ("app", lambda d: d["apps"][0]),
    "app.json": ("app", lambda d: d),
    "app_tasks.json": ("task", lambda d: d["tasks"][0]),
    "tasks.json": ("task", lambda d: d["tasks"][0]),
    "deployments.json": ("deployment", lambda d: d[0]),
}


def json_type(v):
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null"}.get(type(v), "number")


def walk(value, path, out):
    out.setdefault(path, set()).add(json_type(value))
    if isinstance(value, dict):
        for k, v in value.items():
            walk(v, path + "/" + k, out)
    elif isinstance(value, list):
        for v in value:
            walk(v, path + "/[]", out)


def main():
    git = sys.argv[1]
    commit = subprocess.run(["git", "-C", git, "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    kinds = {}
    for name, (kind, pick) in SOURCES.items():
        text = subprocess.run(["git", "-C", git, "show", "HEAD:" + EXAMPLES + name],
                              check=True, capture_output=True, text=True).stdout
        walk(pick(json.loads(text)), "", kinds.setdefault(kind, {}))
    out = {"source": "github.com/mesosphere/marathon@%s %s" % (commit, EXAMPLES),
           "files": sorted(SOURCES)}
    for kind, fields in kinds.items():
        # Every type the examples show a field with ("null" among them: Marathon answers
        # it null when unset).
        out[kind] = {p: sorted(t) for p, t in sorted(fields.items()) if p}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
