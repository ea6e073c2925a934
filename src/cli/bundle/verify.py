#!/usr/bin/env python3
"""Checks a consentgate regulator bundle offline, with nothing of
consentgate's: Python 3 and PyNaCl (Debian: python3-nacl).

  python3 verify.py        (in the unpacked bundle's directory)

1. every file is the one listed in SHA256SUMS;
2. every signed chain head verifies against keys.json (Ed25519 over the
   exact bytes of its payload);
3. every event's hash is recomputed from its fields (core_digest always;
   personal_digest where the row is not redacted) and each row links to the
   previous row's hash wherever both are in the bundle;
4. every signed head whose row is in the bundle names that row's hash.
Prints what it checked; exit status 0 when everything holds, 1 otherwise."""
import base64, hashlib, json, os, sys

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL", msg)


def put(h, s):
    if s is None:
        h.update(b"-;")
    else:
        b = s.encode()
        h.update(b"%d:" % len(b) + b + b";")


def tri(v):
    return None if v is None else ("1" if v else "0")


def core_digest(e):
    h = hashlib.sha256()
    for s in ("consentgate/core/v1", str(e["id"]), e["subject"], e["recorded_at"], e["action"],
              e["policy_version"], tri(e["preferences"]), tri(e["statistics"]), tri(e["marketing"]),
              e["objection_purpose"], e["objections"] or "", e["choice_at"]):
        put(h, s)
    return h.hexdigest()


def personal_digest(e):
    h = hashlib.sha256()
    for s in ("consentgate/personal/v1", e["salt"] or "", tri(e["gpc"]), tri(e["dnt"]), e["lang"],
              e["banner"], e["page"], e["ip_prefix"], e["country"]):
        put(h, s)
    return h.hexdigest()


def sums():
    n = 0
    for line in open("SHA256SUMS"):
        digest, name = line.rstrip("\n").split("  ", 1)
        if hashlib.sha256(open(name, "rb").read()).hexdigest() != digest:
            fail("%s differs from SHA256SUMS" % name)
        n += 1
    print("checked %d files against SHA256SUMS" % n)


def heads(keys):
    from nacl.signing import VerifyKey
    from nacl.exceptions import BadSignatureError
    out = []
    for name in sorted(os.listdir("heads")) if os.path.isdir("heads") else []:
        if not name.endswith(".json"):
            continue
        env = json.load(open(os.path.join("heads", name)))
        pk = keys.get(env["key_id"])
        if pk is None:
            fail("heads/%s: signed by key %s, which keys.json does not list" % (name, env["key_id"]))
            continue
        payload = base64.b64decode(env["payload"])
        try:
            VerifyKey(pk).verify(payload, base64.b64decode(env["signature"]))
        except BadSignatureError:
            fail("heads/%s: the signature does not verify" % name)
            continue
        out.append(json.loads(payload))
    print("verified the signatures of %d chain heads" % len(out))
    return out


def events():
    evs = json.load(open("events.json"))
    by_id = {e["id"]: e for e in evs}
    for e in evs:
        if core_digest(e) != e["core_digest"]:
            fail("event %d: its core fields do not match core_digest" % e["id"])
        if e["salt"] and personal_digest(e) != e["personal_digest"]:
            fail("event %d: its personal fields do not match personal_digest" % e["id"])
        link = hashlib.sha256((e["prev_hash"] + e["core_digest"] + e["personal_digest"]).encode()).hexdigest()
        if link != e["hash"]:
            fail("event %d: hash does not match prev_hash, core_digest and personal_digest" % e["id"])
        prev = by_id.get(e["id"] - 1)
        if prev and prev["hash"] != e["prev_hash"]:
            fail("event %d: prev_hash is not event %d's hash" % (e["id"], e["id"] - 1))
    print("recomputed the hashes of %d events and their links" % len(evs))
    return by_id


def main():
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    sums()
    keys = {k["key_id"]: base64.urlsafe_b64decode(k["public_key"] + "=" * (-len(k["public_key"]) % 4))
            for k in json.load(open("keys.json"))["keys"]}
    signed = heads(keys)
    by_id = events()
    n = 0
    for h in signed:
        row = by_id.get(h["last_id"])
        if row is None:
            continue
        n += 1
        if row["hash"] != h["hash"]:
            fail("event %d: its hash is not the one the head signed at %s names" % (h["last_id"], h["signed_at"]))
    print("matched %d signed heads against their rows in the bundle" % n)
    print("OK" if not failures else "%d FAILURES" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
