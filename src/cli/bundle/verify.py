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
4. every signed head whose row is in the bundle names that row's hash;
5. what was shown: every file under artefacts/ is named by its SHA-256, each
   banner build's id is recomputed from its files, each notice's id is its
   file's SHA-256, and every event's build and notice are in the bundle.
Prints what it checked; exit status 0 when everything holds, 1 otherwise."""
import base64, hashlib, json, os, re, sys

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


def build_id(files):
    """A banner build's id: SHA-256 over its files by name, with banner.js's
    own id field read as zeros; the first 16 bytes, in hex."""
    h = hashlib.sha256(b"consentgate/banner-build/1\n")
    for name in sorted(files):
        data = files[name]
        if name == "banner.js":
            m = re.search(rb'cg-build:(.{32})"', data, re.S)
            if m:
                data = data[:m.start(1)] + b"0" * 32 + data[m.end(1):]
        h.update(name.encode() + b"\n%d\n" % len(files[name]) + data + b"\n")
    return h.hexdigest()[:32]


def shown(by_id):
    index = json.load(open("artefacts/index.json")) if os.path.exists("artefacts/index.json") else []
    known = {s["id"] for s in index}
    for name in os.listdir("artefacts") if os.path.isdir("artefacts") else []:
        if name != "index.json" and hashlib.sha256(open("artefacts/" + name, "rb").read()).hexdigest() != name:
            fail("artefacts/%s is not the file of that SHA-256" % name)
    for s in index:
        files = {f["name"]: open("artefacts/" + f["sha256"], "rb").read() for f in s["files"]}
        got = build_id(files) if s["kind"] == "banner" else hashlib.sha256(list(files.values())[0]).hexdigest()
        if got != s["id"]:
            fail("%s %s: its files give the id %s" % (s["kind"], s["id"], got))
    for e in by_id.values():
        m = re.match(r"build=([0-9a-f]{32});notice=([0-9a-f]{64}|-{64})", e["banner"] or "")
        for ref in (m.groups() if m else ()):
            if not ref.startswith("-") and ref not in known:
                fail("event %d names %s, which the bundle does not hold" % (e["id"], ref))
    print("checked %d banner builds and notices against their files" % len(index))


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
    shown(by_id)
    print("OK" if not failures else "%d FAILURES" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
