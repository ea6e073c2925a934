#!/usr/bin/env python3
"""Local peers that try to pin consentgated's workers (loopback only, bounded).

    stall_peers.py SOCKET STALLERS TRICKLERS INTERVAL LIMIT

STALLERS connections each send the first byte of a FastCGI record and go
quiet; TRICKLERS connections send a valid request one byte every INTERVAL
seconds. Each waits for the daemon to close it, for at most LIMIT seconds.
Prints "closed N of M, longest S s" and exits 0 only if every one was closed."""
import selectors
import socket
import struct
import sys
import time

path, stallers, tricklers, interval, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])


def record(rtype, body):
    return struct.pack(">BBHHBB", 1, rtype, 1, len(body), 0, 0) + body


req = record(1, b"\0\1\0\0\0\0\0\0") + record(4, b"\x0e\x03REQUEST_METHODGET") + record(4, b"") + record(5, b"")
sel = selectors.DefaultSelector()
peers = []
start = time.monotonic()
for i in range(stallers + tricklers):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(req[:1])
    s.setblocking(False)
    p = {"sock": s, "sent": 1, "trickle": i >= stallers, "closed": None}
    peers.append(p)
    sel.register(s, selectors.EVENT_READ, p)
print(f"# {len(peers)} peers connected", flush=True)
next_byte = start + interval
while time.monotonic() - start < limit and any(p["closed"] is None for p in peers):
    for key, _ in sel.select(timeout=0.05):
        p = key.data
        try:
            data = p["sock"].recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            p["closed"] = time.monotonic() - start
            sel.unregister(p["sock"])
            p["sock"].close()
    if time.monotonic() >= next_byte:
        next_byte += interval
        for p in peers:
            if p["trickle"] and p["closed"] is None and p["sent"] < len(req) - 1:
                try:
                    p["sock"].send(req[p["sent"]:p["sent"] + 1])
                    p["sent"] += 1
                except OSError:
                    pass
closed = [p["closed"] for p in peers if p["closed"] is not None]
print(f"closed {len(closed)} of {len(peers)}, longest {max(closed) if closed else 0:.1f} s")
sys.exit(0 if len(closed) == len(peers) else 1)
