#!/usr/bin/env python3
"""Sends hostile FastCGI records straight to consentgated's unix socket.

    fcgi_raw.py SOCKET CASE      (prints what came back, if anything)

CASEs: oversized_param, lying_length, truncated_header, truncated_params,
dup_cookie, many_params, garbage, ok; other_request and abort_in_params
(whole to the intake's eye, never to libfcgi's) keep this side open and
print "held open" when the daemon neither answers nor closes within 10 s."""
import re
import socket
import struct
import sys

BEGIN, ABORT, PARAMS, STDIN = 1, 2, 4, 5


def record(rtype, body, rid=1):
    if len(body) > 65528:  # a stream longer than one record goes in several
        return record(rtype, body[:65528], rid) + record(rtype, body[65528:], rid)
    pad = (8 - len(body) % 8) % 8
    return struct.pack(">BBHHBB", 1, rtype, rid, len(body), pad, 0) + body + b"\0" * pad


def nv(name, value):
    def ln(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return ln(len(name)) + ln(len(value)) + name + value


def params(pairs):
    return b"".join(nv(k.encode(), v.encode()) for k, v in pairs)


def request(pairs, body=b"", stdin_records=True):
    out = record(BEGIN, struct.pack(">HB5x", 1, 0))
    out += record(PARAMS, params(pairs)) + record(PARAMS, b"")
    if stdin_records:
        if body:
            out += record(STDIN, body)
        out += record(STDIN, b"")
    return out


BASE = [("REQUEST_METHOD", "GET"), ("DOCUMENT_URI", "/consent/healthz"), ("REMOTE_ADDR", "192.0.2.1")]

CASES = {
    # a name length of 2^31-1 in a 16-byte record
    "oversized_param": record(BEGIN, struct.pack(">HB5x", 1, 0)) +
        record(PARAMS, struct.pack(">I", 0xFFFFFFFF) + b"\x01" + b"A" * 11),
    # says 4000 bytes of body, sends 10, then hangs up
    "lying_length": record(BEGIN, struct.pack(">HB5x", 1, 0)) +
        record(PARAMS, params([("REQUEST_METHOD", "POST"), ("DOCUMENT_URI", "/consent"),
                                ("CONTENT_TYPE", "application/json"), ("CONTENT_LENGTH", "4000")])) +
        record(PARAMS, b"") + record(STDIN, b'{"choices"') + record(STDIN, b""),
    "truncated_header": b"\x01\x01\x00",
    "truncated_params": record(BEGIN, struct.pack(">HB5x", 1, 0)) + record(PARAMS, params(BASE))[:-9],
    "plus_length": request([("REQUEST_METHOD", "POST"), ("DOCUMENT_URI", "/consent"),
                            ("CONTENT_TYPE", "application/json"), ("CONTENT_LENGTH", "+2")], b"{}"),
    "space_length": request([("REQUEST_METHOD", "POST"), ("DOCUMENT_URI", "/consent"),
                             ("CONTENT_TYPE", "application/json"), ("CONTENT_LENGTH", " 2")], b"{}"),
    "negative_length": request([("REQUEST_METHOD", "POST"), ("DOCUMENT_URI", "/consent"),
                                ("CONTENT_TYPE", "application/json"), ("CONTENT_LENGTH", "-1")], b"{}"),
    "dup_cookie": request([("REQUEST_METHOD", "GET"), ("DOCUMENT_URI", "/consent"),
                           ("HTTP_COOKIE", "cg_id=AAAAAAAAAAAAAAAAAAAAAA"),
                           ("HTTP_COOKIE", "cg_id=AAAAAAAAAAAAAAAAAAAAAQ")]),
    "many_params": request(BASE + [("HTTP_X_%d" % i, "v" * 50) for i in range(2000)]),
    "garbage": bytes(range(256)) * 8,
    "ok": request(BASE),
    # request 1's params, then the empty STDIN of request 2: libfcgi skips
    # it and waits for request 1's
    "other_request": request(BASE, stdin_records=False) + record(STDIN, b"", rid=2),
    # FCGI_ABORT_REQUEST in the middle of the params
    "abort_in_params": record(BEGIN, struct.pack(">HB5x", 1, 0)) + record(PARAMS, params(BASE)) +
        record(ABORT, b""),
}
# sent without closing this side: a daemon that waits for more never ends
HELD = {"other_request", "abort_in_params"}

if __name__ == "__main__":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    held = sys.argv[2] in HELD
    s.settimeout(10 if held else 3)
    s.connect(sys.argv[1])
    got = b""
    try:
        s.sendall(CASES[sys.argv[2]])
        if not held:
            s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except socket.timeout:
        if held:
            print("held open")
            sys.exit(0)
        got = b""
    except (ConnectionError, BrokenPipeError):
        got = b""
    # STDOUT records carry the CGI answer: print its status line, if any
    m = re.search(rb"Status: (\d{3})", got)
    print("Status: " + m.group(1).decode() if m else "no answer")
