#!/usr/bin/env python3
"""A mutation harness for the verifiers: for each signed artefact (an
export with its receipt, a chain head, a regulator bundle) change every
field and every file in turn — for bundles rewriting SHA256SUMS to match, as
whoever holds the bundle would — and check that the verifier concerned fails
and names what changed; the untouched artefacts pass; envelopes of the
format before DSSE still verify.

    mutate.py WORK CONSENTCTL INI VERIFY_PY KEYFILE

WORK holds export.json and export2.json (two visitors' GET /consent/export),
head.json (consentctl head show), keys.json (GET /consent/keys) and bundle/
(an unpacked bundle's directory). KEYFILE is the instance's signing key: it
signs what a key holder could (heads of another site, legacy envelopes).
Prints "ok - ..." / "FAIL - ..." per check; exit status 1 on any failure."""
import base64, copy, glob, hashlib, json, os, shutil, subprocess, sys, tempfile

WORK, CTL, INI, VERIFY_PY, KEYFILE = sys.argv[1:6]
RECEIPT_T = "application/vnd.consentgate.receipt+json"
HEAD_T = "application/vnd.consentgate.chain-head+json"
failed = 0
count = 0


def check(name, good, detail=""):
    global failed, count
    count += 1
    if not good:
        failed += 1
        print("FAIL - %s\n       %s" % (name, detail.strip()[:600]))


def run(*argv):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def signer():
    from nacl.signing import SigningKey
    return SigningKey(base64.b64decode(open(KEYFILE).read().strip())[:32])


def pae(t, body):
    return b"DSSEv1 %d %s %d " % (len(t.encode()), t.encode(), len(body)) + body


def dsse(t, body, kid):
    sig = signer().sign(pae(t, body)).signature
    return {"payloadType": t, "payload": base64.b64encode(body).decode(),
            "signatures": [{"keyid": kid, "sig": base64.b64encode(sig).decode()}]}


def legacy(label, body, kid):
    """an envelope as signed before DSSE: over the bare payload, its label unsigned"""
    sig = signer().sign(body).signature
    return {"signed": "consentgate/1", "payload_type": label, "payload": base64.b64encode(body).decode(),
            "key_id": kid, "alg": "Ed25519", "signature": base64.b64encode(sig).decode()}


def leaves(v, path=()):
    if isinstance(v, dict):
        for k in v:
            yield from leaves(v[k], path + (k,))
    elif isinstance(v, list) and v:
        for i, e in enumerate(v):
            yield from leaves(e, path + (i,))
    else:
        yield path


def get(v, path):
    for p in path:
        v = v[p]
    return v


def put(v, path, x):
    get(v, path[:-1])[path[-1]] = x


def changed(x):
    if isinstance(x, bool):
        return not x
    if isinstance(x, int):
        return x + 1
    if isinstance(x, str):
        return x[:-1] + ("y" if x[-1:] != "y" else "z") if x else "x"
    return "x" if x is None else None


def dotted(path):
    out = ""
    for p in path:
        out += "[%d]" % p if isinstance(p, int) else ("." + p if out else p)
    return out


# ---- exports and receipts ------------------------------------------------------------------------

def receipt_verify(doc, tmp):
    with open(tmp, "w") as f:
        json.dump(doc, f)
    return run(CTL, "-c", INI, "receipt", "verify", "--keys", os.path.join(WORK, "keys.json"), tmp)


def expected_name(path):
    """what the verifier must name for a change at path"""
    if path[0] in ("receipt", "current_state"):
        return dotted(path)
    if path[0] in ("events", "purposes"):
        return dotted(path[:2])
    return path[0]


def exports(tmp):
    doc = json.load(open(os.path.join(WORK, "export.json")))
    other = json.load(open(os.path.join(WORK, "export2.json")))
    kid = doc["signed_receipt"]["signatures"][0]["keyid"]
    rc, out = receipt_verify(doc, tmp)
    check("receipt verify: an untouched export passes, saying what the signature covers", rc == 0 and
          out.startswith("OK") and "not covered by the signature: generated_at" in out, out)
    n = 0
    for path in leaves({k: v for k, v in doc.items() if k != "signed_receipt"}):
        d = copy.deepcopy(doc)
        put(d, path, changed(get(d, path)))
        rc, out = receipt_verify(d, tmp)
        n += 1
        if path[0] == "generated_at":   # when the export was made: not signed, and said so
            check("export: generated_at changed passes, named as not covered", rc == 0 and "generated_at" in out, out)
            continue
        want = expected_name(path)
        check("export: %s changed fails naming %s" % (dotted(path), want),
              rc == 1 and ("FAILED" in out) and (want + ":") in out or (want + " (row") in out, out)
    for k in [k for k in doc if k not in ("signed_receipt", "generated_at")]:
        d = copy.deepcopy(doc)
        del d[k]
        rc, out = receipt_verify(d, tmp)
        check("export: %s removed fails naming it" % k, rc == 1 and k in out, out)
    print("# changed %d fields of an export, removed each of its %d fields" % (n, len(doc) - 2))
    env = doc["signed_receipt"]
    for field, value in (("payloadType", HEAD_T), ("payload", base64.b64encode(
            base64.b64decode(env["payload"]).replace(b'"given"', b'"refused"', 1)).decode())):
        d = copy.deepcopy(doc)
        d["signed_receipt"][field] = value
        rc, out = receipt_verify(d, tmp)
        check("signed_receipt.%s changed fails" % field, rc == 1 and "signature does not match" in out, out)
    d = copy.deepcopy(doc)
    d["signed_receipt"]["signatures"][0]["keyid"] = "0123456789abcdef"
    rc, out = receipt_verify(d, tmp)
    check("signed_receipt keyid changed fails", rc == 1 and "does not list" in out, out)
    d = copy.deepcopy(doc)
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[5] ^= 1
    d["signed_receipt"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    rc, out = receipt_verify(d, tmp)
    check("signed_receipt sig changed fails", rc == 1 and "signature does not match" in out, out)
    # another visitor's signed receipt, with or without their readable copy
    for both in (False, True):
        d = copy.deepcopy(doc)
        d["signed_receipt"] = other["signed_receipt"]
        if both:
            d["receipt"] = other["receipt"]
        rc, out = receipt_verify(d, tmp)
        check("another visitor's signed receipt%s fails naming subject" % (" and receipt" if both else ""),
              rc == 1 and "subject: the signed receipt is another visitor's" in out, out)
    # a chain head relabelled as a receipt, in either envelope format
    head = json.load(open(os.path.join(WORK, "head.json")))
    d = copy.deepcopy(doc)
    d["signed_receipt"] = dict(head, payloadType=RECEIPT_T)
    rc, out = receipt_verify(d, tmp)
    check("a chain head relabelled as a receipt fails", rc == 1 and "FAILED" in out, out)
    d["signed_receipt"] = legacy("receipt", base64.b64decode(head["payload"]), kid)
    rc, out = receipt_verify(d, tmp)
    check("a chain head of the format before DSSE, labelled a receipt, fails", rc == 1 and "not of this kind" in out, out)
    # receipts signed before DSSE, and before exports were bound
    body = base64.b64decode(env["payload"])
    d = copy.deepcopy(doc)
    d["signed_receipt"] = legacy("receipt", body, kid)
    rc, out = receipt_verify(d, tmp)
    check("a receipt of the format before DSSE verifies", rc == 0 and "signed before DSSE" in out, out)
    r = json.loads(body)
    del r["exportBinding"]
    d["receipt"] = r
    d["signed_receipt"] = legacy("chain-head", json.dumps(r, separators=(",", ":"), sort_keys=True).encode(), kid)
    rc, out = receipt_verify(d, tmp)
    check("a receipt signed before exports were bound verifies (its label ignored), saying what it covers",
          rc == 0 and "signed before exports were bound" in out, out)
    d["events"][-1]["hash"] = "0" * 64
    rc, out = receipt_verify(d, tmp)
    check("... and still fails when its last event differs", rc == 1 and "events[last].hash" in out, out)


# ---- chain heads -----------------------------------------------------------------------------------

def verify_head(env, tmp):
    with open(tmp, "w") as f:
        json.dump(env, f)
    return run(CTL, "-c", INI, "verify", "--head", tmp)


def heads(tmp):
    env = json.load(open(os.path.join(WORK, "head.json")))
    kid = env["signatures"][0]["keyid"]
    payload = json.loads(base64.b64decode(env["payload"]))
    rc, out = verify_head(env, tmp)
    check("verify --head: the untouched head passes", rc == 0 and out.startswith("OK"), out)
    for k in payload:   # changed without the key: the signature fails
        p = dict(payload)
        p[k] = changed(p[k])
        e = dict(env, payload=base64.b64encode(json.dumps(p, separators=(",", ":")).encode()).decode())
        rc, out = verify_head(e, tmp)
        check("head: %s changed fails" % k, rc == 1 and "signature does not match" in out, out)
    for k, v in (("payloadType", RECEIPT_T), ("signatures", [{"keyid": "0123456789abcdef",
                                                              "sig": env["signatures"][0]["sig"]}])):
        rc, out = verify_head(dict(env, **{k: v}), tmp)
        check("head: envelope %s changed fails" % k, rc == 1 and "FAILED" in out, out)
    # signed with the site's key, but not this log's head
    for k, v, name in (("site", "other.example", "site:"), ("chain", "other_chain", "chain:"),
                       ("key_id", "0123456789abcdef", "key_id"), ("hash", "ab" * 32, "DIVERGES"),
                       ("links", payload["links"] + 1, "DIVERGES")):
        p = dict(payload, **{k: v})
        rc, out = verify_head(dsse(HEAD_T, json.dumps(p, separators=(",", ":")).encode(), kid), tmp)
        check("head signed with the key but %s changed fails naming %s" % (k, name), rc == 1 and name in out, out)
    body = base64.b64decode(env["payload"])
    for label in ("chain-head", "receipt"):
        rc, out = verify_head(legacy(label, body, kid), tmp)
        check("a head of the format before DSSE (labelled %s) verifies" % label, rc == 0 and out.startswith("OK"), out)
    doc = json.load(open(os.path.join(WORK, "export.json")))
    rc, out = verify_head(doc["signed_receipt"], tmp)
    check("a receipt given as a head fails", rc == 1 and "not a chain head" in out, out)
    rc, out = verify_head(legacy("chain-head", base64.b64decode(doc["signed_receipt"]["payload"]), kid), tmp)
    check("a receipt of the format before DSSE, labelled a head, fails", rc == 1 and "not a chain head" in out, out)


# ---- bundles --------------------------------------------------------------------------------------

def resum(d):
    """SHA256SUMS rewritten to match, as whoever holds the bundle can"""
    lines = []
    for line in open(os.path.join(d, "SHA256SUMS")).read().splitlines():
        name = line.split("  ", 1)[1]
        if os.path.exists(os.path.join(d, name)):
            lines.append("%s  %s" % (hashlib.sha256(open(os.path.join(d, name), "rb").read()).hexdigest(), name))
    open(os.path.join(d, "SHA256SUMS"), "w").write("\n".join(lines) + "\n")


def verify_bundle(d, *extra):
    return run(sys.executable, VERIFY_PY, "--keys", os.path.join(WORK, "keys.json"), "--head",
               os.path.join(WORK, "head.json"), *extra, d)


def bundle_case(src, tmpdir, name, change, want, *extra):
    d = os.path.join(tmpdir, "b")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(src, d)
    change(d)
    resum(d)
    rc, out = verify_bundle(d, *extra)
    check("bundle: %s fails naming %s" % (name, want), rc == 1 and want in out, out)


def edit_json(rel, path, value=None, drop=False):
    def change(d):
        p = os.path.join(d, rel)
        j = json.load(open(p))
        if drop:
            del get(j, path[:-1])[path[-1]]
        else:
            put(j, path, changed(get(j, path)) if value is None else value)
        json.dump(j, open(p, "w"))
    return change


def bundles(tmpdir):
    src = os.path.join(WORK, "bundle")
    rc, out = verify_bundle(src)
    check("verify.py: the untouched bundle passes", rc == 0 and out.rstrip().endswith("OK"), out)
    files = sorted(os.path.relpath(p, src) for p in glob.glob(os.path.join(src, "**"), recursive=True)
                   if os.path.isfile(p))
    n = 0
    for rel in files:
        if rel in ("SHA256SUMS",):
            continue
        # every file: one byte changed, and the file removed
        def flip(d, rel=rel):
            p = os.path.join(d, rel)
            b = bytearray(open(p, "rb").read())
            b[len(b) // 2] ^= 0x01 if b else 0
            open(p, "wb").write(bytes(b) if b else b"x")
        bundle_case(src, tmpdir, rel + " changed", flip, rel)
        bundle_case(src, tmpdir, rel + " removed", lambda d, rel=rel: os.remove(os.path.join(d, rel)), rel)
        n += 2
    # every field of the bundle's first event
    evs = json.load(open(os.path.join(src, "events.json")))
    for path in leaves(evs[0]):
        bundle_case(src, tmpdir, "events.json: event %d's %s changed" % (evs[0]["id"], dotted(path)),
                    edit_json("events.json", (0,) + path), "events.json")
        n += 1
    bundle_case(src, tmpdir, "an event dropped from events.json", edit_json("events.json", (1,), drop=True),
                "events.json")
    # without the signed sums (a bundle written without the key): what is left still names the change
    def unsigned(change):
        def both(d):
            os.remove(os.path.join(d, "SHA256SUMS.dsse.json"))
            change(d)
        return both
    bundle_case(src, tmpdir, "unsigned: an event dropped", unsigned(edit_json("events.json", (1,), drop=True)),
                "event %d" % evs[1]["id"], "--allow-unsigned")
    bundle_case(src, tmpdir, "unsigned: events.csv alone changed", unsigned(
        lambda d: open(os.path.join(d, "events.csv"), "a").write("")
        or open(os.path.join(d, "events.csv"), "w").write(open(os.path.join(d, "events.csv")).read()
                                                            .replace(",choice,", ",withdraw,", 1))), "events.csv",
                "--allow-unsigned")
    bundle_case(src, tmpdir, "unsigned: heads/ removed", unsigned(lambda d: shutil.rmtree(os.path.join(d, "heads"))),
                "verification.txt", "--allow-unsigned")
    print("# %d bundle mutations" % (n + 5))
    d = os.path.join(tmpdir, "b")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(src, d)
    open(os.path.join(d, "verify.py"), "a").write("\n# replaced\n")
    resum(d)
    rc, out = verify_bundle(d)
    check("bundle: verify.py replaced fails when run from a copy of its own", rc == 1 and "verify.py" in out, out)


def rewritten(d):
    """what a holder of the database without the key does to a bundle: heads/
    and the signed sums removed, an event's country changed and every digest,
    hash, chain.txt line, CSV cell and transcript line after it recomputed"""
    import csv, importlib.util
    spec = importlib.util.spec_from_file_location("v", VERIFY_PY)
    v = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(v)
    shutil.rmtree(os.path.join(d, "heads"))
    os.remove(os.path.join(d, "SHA256SUMS.dsse.json"))
    evs = json.load(open(os.path.join(d, "events.json")))
    evs[0]["country"] = "SE" if evs[0]["country"] != "SE" else "DK"
    evs[0]["personal_digest"] = v.personal_digest(evs[0])
    by_id = {e["id"]: e for e in evs}
    lines = open(os.path.join(d, "chain.txt")).read().splitlines()
    prev = lines[0].split()[1]
    for n, line in enumerate(lines[1:], 1):
        i, k, core, pers, _ = line.split()
        e = by_id.get(int(i))
        if e:
            e["prev_hash"], pers = prev, e["personal_digest"]
            e["hash"] = hashlib.sha256((prev + core + pers).encode()).hexdigest()
        prev = hashlib.sha256((prev + core + pers).encode()).hexdigest()
        lines[n] = " ".join((i, k, core, pers, prev))
    open(os.path.join(d, "chain.txt"), "w").write("\n".join(lines) + "\n")
    json.dump(evs, open(os.path.join(d, "events.json"), "w"), indent=2)
    rows = list(csv.DictReader(open(os.path.join(d, "events.csv"), newline="")))
    for r in rows:
        e = by_id[int(r["id"])]
        for k in ("country", "personal_digest", "prev_hash", "hash"):
            r[k] = e[k]
    with open(os.path.join(d, "events.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)
    t = open(os.path.join(d, "verification.txt")).read()
    open(os.path.join(d, "verification.txt"), "w").write("".join(l for l in t.splitlines(True) if not l.startswith("head ")))


def recomputed(tmpdir):
    src = os.path.join(WORK, "bundle")
    d = os.path.join(tmpdir, "b")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(src, d)
    rewritten(d)
    resum(d)
    rc, out = run(sys.executable, VERIFY_PY, "--keys", os.path.join(WORK, "keys.json"), "--allow-unsigned", d)
    check("a bundle rewritten without the key, heads/ removed, passes without a head from outside "
          "(the threat model: so verify.py says loudly it has none)", rc == 0 and "no --head given" in out, out)
    rc, out = verify_bundle(d, "--allow-unsigned")
    check("... and fails with the site's head obtained out of band", rc == 1 and "the head signed at" in out, out)


def one_visitor(tmpdir):
    """a bundle of one visitor (--consent-id): what it cannot check, it says"""
    src = os.path.join(WORK, "bundle1")
    rc, out = verify_bundle(src)
    check("verify.py: a bundle of one visitor passes, saying what it cannot check there",
          rc == 0 and "a bundle of one visitor" in out and out.rstrip().endswith("OK"), out)
    evs = json.load(open(os.path.join(src, "events.json")))
    bundle_case(src, tmpdir, "one visitor: an event dropped (sums rewritten, unsigned)", lambda d: (
        os.remove(os.path.join(d, "SHA256SUMS.dsse.json")), edit_json("events.json", (0,), drop=True)(d)),
        "event %d" % evs[0]["id"], "--allow-unsigned")


def main():
    with tempfile.TemporaryDirectory() as t:
        exports(os.path.join(t, "export.json"))
        heads(os.path.join(t, "head.json"))
        bundles(t)
        recomputed(t)
        one_visitor(t)
    print("%d checks, %d failed" % (count, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
