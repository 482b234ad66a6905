#!/usr/bin/env python3
"""Starts one run on a treeflow engine and follows it; prints one JSON line.

    engine_run.py API_URL ROOT_URL METHOD [--payload JSON] [--timeout S]
                  [--until completed | --until pending:N] [--run RUN_ID]

--until completed (default): waits for the run to end. tasks_per_s is
  tasks_total / (finished_at - created_at), both stamped by the engine: from
  the run's creation (POST /v1/runs) to its last task's completion.
--until pending:N: waits until at least N tasks are pending and none is
  running (used to leave a paused queue full of pending tasks).
--run RUN_ID: follow an existing run instead of starting one.
Polls GET /v1/runs/{id} every 10 ms (100 ms above 50 s).
"""
import argparse
import http.client
import json
import sys
import time
import urllib.parse


def call(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, json.loads(data) if data else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("api")
    ap.add_argument("url", nargs="?")
    ap.add_argument("method", nargs="?", default="POST")
    ap.add_argument("--payload")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--until", default="completed")
    ap.add_argument("--run")
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.api)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    t0 = time.monotonic()
    if a.run:
        run_id = a.run
    else:
        body = {"url": a.url, "method": a.method}
        if a.payload:
            body["payload"] = json.loads(a.payload)
        st, r = call(conn, "POST", "/v1/runs", body)
        if st != 201:
            print(json.dumps({"error": f"POST /v1/runs -> {st}", "body": r}))
            return 1
        run_id = r["run_id"]
    want_pending = int(a.until.split(":")[1]) if a.until.startswith("pending:") else None
    while True:
        st, r = call(conn, "GET", f"/v1/runs/{run_id}")
        wall = time.monotonic() - t0
        c = r.get("counts", {}) if st == 200 else {}
        done = (r["state"] != "running") if want_pending is None else \
            (c.get("pending", 0) >= want_pending and c.get("running", 0) == 0) or r["state"] != "running"
        if done or wall > a.timeout:
            break
        time.sleep(0.01 if wall < 50 else 0.1)
    out = {"run_id": run_id, "state": r["state"], "tasks_total": r["tasks_total"], "counts": c,
           "elapsed_ms": r["elapsed_ms"], "wall_s": round(wall, 3),
           "dispatches": r.get("dispatches"), "retries": r.get("retries"),
           "timed_out": not done}
    if want_pending is None and r["state"] == "completed" and r["elapsed_ms"] > 0:
        out["tasks_per_s"] = round(r["tasks_total"] / (r["elapsed_ms"] / 1000.0), 1)
    print(json.dumps(out))
    return 0 if done and (want_pending is not None or r["state"] == "completed") else 1


if __name__ == "__main__":
    sys.exit(main())
