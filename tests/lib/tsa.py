#!/usr/bin/env python3
"""A local RFC 3161 timestamp authority for the tests: answers each POSTed
timestamp query with `openssl ts -reply` (tests/lib/tsa.sh makes its keys).

    tsa.py PORT DIR        (only ever on 127.0.0.1)"""
import os
import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, HTTPServer

DIR = sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        query = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with tempfile.TemporaryDirectory() as t:
            open(os.path.join(t, "q.tsq"), "wb").write(query)
            r = subprocess.run(["openssl", "ts", "-reply", "-config", os.path.join(DIR, "tsa.cnf"),
                                "-section", "tsa_config", "-queryfile", os.path.join(t, "q.tsq"),
                                "-out", os.path.join(t, "r.tsr")], capture_output=True)
            body = open(os.path.join(t, "r.tsr"), "rb").read() if r.returncode == 0 else b""
        self.send_response(200 if body else 400)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
