#!/usr/bin/env python3
"""The soak's traffic: visitors through nginx until STOP exists.

    traffic.py URL ACKS STATS STOP [THREADS]

Each visitor (a full IPv4 address from the documentation ranges, sent as
X-Forwarded-For: nginx's realip makes it the client's) records a choice,
then does a few of: a /consent/check, /collect events, a withdrawal, an
objection, an export, an erasure. Every acknowledged state change is
appended to ACKS as "ACTION CONSENT_ID" (the soak checks each is stored);
STATS gets the answers by route and status every few seconds (JSON)."""
import json
import os
import random
import re
import sys
import threading
import time
import urllib.error
import urllib.request

URL, ACKS, STATS, STOP = sys.argv[1:5]
THREADS = int(sys.argv[5]) if len(sys.argv) > 5 else 4
LOCK = threading.Lock()
COUNTS = {}
ack_file = open(ACKS, "a", buffering=1)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def ip():
    return "%s.%d" % (random.choice(["203.0.113", "198.51.100"]), random.randint(1, 254))


def call(route, method, path, addr, body=None, ctype="application/json", cookie=None):
    req = urllib.request.Request(URL + path, data=body.encode() if body is not None else None, method=method)
    req.add_header("X-Forwarded-For", addr)
    if body is not None:
        req.add_header("Content-Type", ctype)
    if cookie:
        req.add_header("Cookie", "cg_id=" + cookie)
    status, headers = 0, {}
    try:
        with OPENER.open(req, timeout=15) as r:
            status, headers = r.status, r.headers
            r.read()
    except urllib.error.HTTPError as e:
        status, headers = e.code, e.headers
    except Exception:
        status = -1  # the connection failed (nginx reloading, restarted)
    with LOCK:
        k = "%s %d" % (route, status)
        COUNTS[k] = COUNTS.get(k, 0) + 1
    return status, headers


def ack(action, cid):
    with LOCK:
        ack_file.write("%s %s\n" % (action, cid))


def visitor():
    addr = ip()
    choices = {p: random.random() < 0.5 for p in ("preferences", "statistics", "marketing")}
    st, h = call("choice", "POST", "/consent", addr,
                 json.dumps({"choices": choices, "policy_version": "2023-12"}))
    m = re.search(r"cg_id=([A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{22})", " ".join(h.get_all("Set-Cookie") or []) if h else "")
    if st != 200 or not m:
        return
    cid = m.group(1)
    ack("choice", cid)
    for _ in range(random.randint(1, 4)):
        r = random.random()
        if r < 0.3:
            call("check", "GET", "/consent/check?purpose=statistics", addr, cookie=cid)
        elif r < 0.6:
            call("collect", "POST", "/collect", addr,
                 json.dumps({"events": [{"name": "soak_%d" % random.randint(1, 10**6)}]}), "text/plain", cid)
        elif r < 0.7:
            if call("withdraw", "DELETE", "/consent", addr, cookie=cid)[0] == 200:
                ack("withdraw", cid)
        elif r < 0.8:
            if call("objection", "POST", "/consent/objection", addr, '{"purpose":"statistics"}', cookie=cid)[0] == 200:
                ack("objection", cid)
        elif r < 0.93:
            call("export", "GET", "/consent/export", addr, cookie=cid)
        else:
            if call("erase", "POST", "/consent/erase", addr, cookie=cid)[0] == 200:
                ack("erase", cid)
            return


def worker():
    while not os.path.exists(STOP):
        visitor()


def main():
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        with LOCK:
            snap = dict(COUNTS)
        with open(STATS + ".tmp", "w") as f:
            json.dump(snap, f, sort_keys=True)
        os.replace(STATS + ".tmp", STATS)
        time.sleep(2)
    with open(STATS, "w") as f:
        json.dump(COUNTS, f, sort_keys=True)


main()
