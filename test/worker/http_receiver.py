#!/usr/bin/env python3
"""http_receiver.py: the HTTP endpoint of the worker's end-to-end tests.

Usage: http_receiver.py PORTFILE LOGFILE
Binds 127.0.0.1 on a free port (written to PORTFILE) and appends one JSON
line per request to LOGFILE: {"phase": "start"|"done", "path", "method",
"headers", "body", "t"}.  Behaviour by path:
  /ok/...          200
  /bad/...         400
  /flaky/<k>       503 with Retry-After: 1 the first time for <k>, then 200
  /slow/<secs>/... waits <secs> seconds, then 200
  /hang-once/<k>   the first time for <k>: waits 20 s; then 200
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
seen = set()
log = open(sys.argv[2], "a", buffering=1)


def record(handler, phase, body):
    entry = {
        "phase": phase,
        "path": handler.path,
        "method": handler.command,
        "headers": {k.lower(): v for k, v in handler.headers.items()},
        "body": body.decode("utf-8", "replace"),
        "t": time.time(),
    }
    with lock:
        log.write(json.dumps(entry) + "\n")


def first_time(key):
    with lock:
        if key in seen:
            return False
        seen.add(key)
        return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, headers=()):
        payload = b'{"ok": %s}' % (b"true" if status < 300 else b"false")
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        record(self, "start", body)
        parts = self.path.strip("/").split("/")
        kind = parts[0]
        status, headers = 200, ()
        if kind == "bad":
            status = 400
        elif kind == "flaky" and first_time(self.path):
            status, headers = 503, (("Retry-After", "1"),)
        elif kind == "slow":
            time.sleep(float(parts[1]))
        elif kind == "hang-once" and first_time(self.path):
            time.sleep(20)
        record(self, "done", body)
        try:
            self.reply(status, headers)
        except OSError:
            pass

    do_POST = do_PUT = do_PATCH = do_GET = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
