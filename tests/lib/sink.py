#!/usr/bin/env python3
"""A local sink standing in for analytics vendors: records every request it
gets (one JSON line each) and answers as told.

    sink.py PORT RECORDS.jsonl

POST /_control {"mode": "ok"|"500"|"429"|"400"|"hang"|"reset"|"hold"|"flaky"} changes
how it answers from then on; GET /_control returns the count of recorded
requests. "hold" records a request and keeps it waiting until the mode
changes, then answers it as the new mode says (a delivery in flight for as
long as a test needs). Only ever listens on 127.0.0.1."""
import json
import random
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = {"mode": "ok"}
LOCK = threading.Lock()
CHANGED = threading.Condition()
COUNT = {"n": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _answer(self, status, body=b"", ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        body = self._body()
        if self.path.startswith("/_control"):
            if self.command == "POST":
                with CHANGED:
                    MODE.update(json.loads(body or b"{}"))
                    CHANGED.notify_all()
            return self._answer(200, json.dumps({"count": COUNT["n"], **MODE}).encode())
        mode = MODE["mode"]
        rec = {"t": time.time(), "method": self.command, "path": self.path,
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "body": body.decode("utf-8", "replace"), "mode": mode}
        with LOCK:
            with open(sys.argv[2], "a") as f:
                f.write(json.dumps(rec) + "\n")
            COUNT["n"] += 1
        if mode == "flaky":  # the soak's: 30 % refused, 5 % hanging, the rest taken
            r = random.random()
            mode = "hang" if r < 0.05 else "500" if r < 0.35 else "ok"
        if mode == "hold":
            with CHANGED:
                CHANGED.wait_for(lambda: MODE["mode"] != "hold")
                mode = MODE["mode"]
        if mode == "hang":
            time.sleep(30)
            return
        if mode == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        if mode in ("500", "429", "400"):
            return self._answer(int(mode), b'{"error":"sink says no"}')
        if self.path.split("?")[0].endswith(".js"):
            return self._answer(200, b"window.__sink = true;", "application/javascript")
        return self._answer(204)

    do_GET = do_POST = do_HEAD = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
