#!/usr/bin/env python3
"""Join-latency endpoint: a minimal single-threaded HTTP/1.1 keep-alive server
(asyncio protocol, no framework) that serves a chain of pages:

  POST /jl/page {"page": k}   envelope: data = LEAVES items {"page": k, "i": j},
                              immediate_next each -> /jl/leaf,
                              sub_task_next (k < PAGES): custom {"page": k+1} -> /jl/page
  POST /jl/leaf {"page": k, "i": j}   a leaf (200, no envelope header)
  GET  /jl/stats              the measured latencies, JSON

Page k+1 is page k's join: the engine dispatches it only after all of page k's
leaves have answered. For each k the server records
  last_answer[k] = clock just after the last of page k's leaf answers was
                   written to its socket, and
  join_arrival[k+1] = clock when the first bytes of the request for page k+1
                   were read from the socket,
and the join latency is join_arrival[k+1] - last_answer[k]. It includes two
loopback hops and the engine's whole reaction: reading the answer, the
scheduler's transaction and its fsync (sync = "full"), the lease of the new
task and its dispatch. Usage: join_endpoint.py PORT PAGES LEAVES
"""
import asyncio
import json
import sys
import time

PORT, PAGES, LEAVES = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
LEAF = b'{"ok":true}'
last_answer = {}   # page -> ns
leaves_done = {}   # page -> count
join_arrival = {}  # page -> ns


def envelope(k):
    nxt = [{"url": "/jl/page", "input_type": "custom", "custom_input": {"page": k + 1}}] if k < PAGES else []
    return json.dumps({"id": "x",
                       "response": {"status_code": 200, "headers": {},
                                    "data": [{"page": k, "i": i} for i in range(LEAVES)]},
                       "immediate_next": [{"url": "/jl/leaf", "input_type": "each"}],
                       "sub_task_next": nxt}, separators=(",", ":")).encode()


def stats():
    lat = sorted((join_arrival[k + 1] - last_answer[k]) / 1e6
                 for k in range(1, PAGES) if k in last_answer and k + 1 in join_arrival)
    def pct(p):
        return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))] if lat else None
    return json.dumps({"samples": len(lat), "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99),
                       "max_ms": lat[-1] if lat else None, "min_ms": lat[0] if lat else None}).encode()


class Conn(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport
        self.buf = b""
        self.first_ns = None

    def data_received(self, data):
        if not self.buf and self.first_ns is None:
            self.first_ns = time.monotonic_ns()
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self.buf) < head_end + 4 + length:
                return
            body = self.buf[head_end + 4:head_end + 4 + length]
            self.buf = self.buf[head_end + 4 + length:]
            arrived = self.first_ns
            self.first_ns = time.monotonic_ns() if self.buf else None
            self.handle(head.split(" ")[1], body, arrived)

    def reply(self, body, envelope_header=False):
        hdr = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        if envelope_header:
            hdr += b"X-Workflow-Envelope: 1\r\n"
        self.t.write(hdr + b"\r\n" + body)

    def handle(self, path, body, arrived):
        if path == "/jl/page":
            k = json.loads(body)["page"]
            join_arrival[k] = arrived
            self.reply(envelope(k), True)
        elif path == "/jl/leaf":
            k = json.loads(body)["page"]
            self.reply(LEAF)
            now = time.monotonic_ns()
            leaves_done[k] = leaves_done.get(k, 0) + 1
            if leaves_done[k] == LEAVES:  # first attempts only: a retried leaf would count twice
                last_answer[k] = now
        elif path == "/jl/stats":
            self.reply(stats())
        else:
            self.t.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Conn, "127.0.0.1", PORT, backlog=1024)
    async with server:
        await server.serve_forever()


asyncio.run(main())
