"""Celery app for the chord benchmark (Debian python3-celery, redis broker+backend)."""
import http.client
import json
import os
import time
from celery import Celery

PORT = int(os.environ.get("REDIS_PORT", "16379"))
app = Celery("peers",
             broker=f"redis://127.0.0.1:{PORT}/0",
             backend=f"redis://127.0.0.1:{PORT}/1")
app.conf.update(
    task_serializer="json", result_serializer="json", accept_content=["json"],
    worker_hijack_root_logger=False, result_expires=3600,
    broker_connection_retry_on_startup=True,
)


# With NGINX_PORT set (bench/run.sh), each header task makes one keep-alive POST
# to the same loopback endpoint the engine calls (one connection per pool
# process), like the BullMQ and graphile-worker "-http" processors.
NGINX_PORT = os.environ.get("NGINX_PORT")
_conn = None


def _post(i):
    global _conn
    body = json.dumps({"i": i})
    for attempt in (1, 2):
        try:
            if _conn is None:
                _conn = http.client.HTTPConnection("127.0.0.1", int(NGINX_PORT), timeout=10)
            _conn.request("POST", "/leaf", body=body, headers={"Content-Type": "application/json"})
            r = _conn.getresponse()
            data = r.read()
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            return json.loads(data)
        except (http.client.HTTPException, OSError):
            _conn = None
            if attempt == 2:
                raise


@app.task(name="peers.noop")
def noop(i):
    if NGINX_PORT:
        return _post(i)["ok"] and i
    return i


@app.task(name="peers.join")
def join(results):
    # Record the wall-clock completion time of the chord callback so the driver
    # can measure worker-side completion without Celery's client result consumer
    # (which subscribes to every header task's result channel and adds seconds).
    app.backend.client.set("peers:join_done", f"{time.time()}:{len(results)}")
    return len(results)
