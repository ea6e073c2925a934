#!/usr/bin/env python3
"""Checks a consentgate regulator bundle offline, with nothing of
consentgate's: Python 3 and PyNaCl (Debian: python3-nacl).

  python3 verify.py [--min-retention-days N]     (in the unpacked bundle's directory)
  python3 verify.py --keys FILE_OR_URL --head HEAD.json [--tsa-cert PEM] BUNDLE_DIR
                                                 (a copy obtained out of band: README.txt)

1. SHA256SUMS is the one the site signed (SHA256SUMS.dsse.json), and every
   file is the one listed there, none missing, none added;
2. every signed chain head verifies against the keys (--keys; otherwise,
   loudly, keys.json): DSSE, Ed25519 over PAE(payloadType, payload), or for
   a head of before DSSE over its payload's bytes; each is this site's and
   its signed key id the envelope's; heads given with --head are checked
   against the chain here like the bundle's own;
3. every event, pruned link and log event has its digests and hash
   recomputed from its fields in its row format (README.txt: "The row
   formats"), and links to the one before it wherever both are here;
4. redaction claims nothing: a row of row format 2 without its salt holds
   no personal value and is followed by its visitor's erasure; a row whose
   IP prefix was cleared keeps only its digest;
5. removals only where retention allowed them: every pruned link here
   belongs to a purge (log_events.json) dated between its neighbours, before the
   heads signed over it and now, whose visitor's consent had ended
   events_days_after_end before it, and no row here of that visitor is
   older than the purge. Without --min-retention-days, a purge must also
   respect the highest retention an earlier purge recorded;
6. every signed head whose row is here names that row's hash;
7. what was shown: every file under artefacts/ is named by its SHA-256, each
   banner build's id is recomputed from its files, each notice's and vendor
   list's id is its file's SHA-256, and every event's build, notice and
   vendor list are in the bundle;
8. every row id of the period in chain.txt is in events.json (a bundle of
   one visitor: or others.json); events.csv says what events.json says;
   verification.txt's verdict on each head is recomputed; each RFC 3161
   anchor verifies (openssl ts -verify, with --tsa-cert).
Prints what it checked; exit status 0 when everything holds, 1 otherwise.
consentctl verify checks the same over the whole log (the bundle holds the
period's rows and what they need)."""
import argparse, base64, datetime, hashlib, json, os, re, sys

failures = []
notes = []
SLACK_MS = 3600 * 1000
DAY_MS = 86400 * 1000
SHOWN = re.compile(r"build=[0-9a-f]{32};notice=(?:[0-9a-f]{64}|-{64})(?:;vendors=[0-9a-f]{64})?"
                   r"(?:;mode=[A-Za-z0-9_.-]{1,64})?(?:;asserted)?$")
PURGE = re.compile(r"purge;ip_prefix_days=(0|[1-9][0-9]*);events_days_after_end=(0|[1-9][0-9]*);"
                   r"consent_max_age_days=(0|[1-9][0-9]*);refusal_max_age_days=(0|[1-9][0-9]*);"
                   r"rows=(0|[1-9][0-9]*);ids=[0-9a-f]{64}$")
PERSONAL = ("gpc", "dnt", "lang", "page", "ip_prefix", "ip_digest", "country")


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
    return None if v is None else {0: "0", 1: "1"}.get(v, "?")


def sha(*fields):
    h = hashlib.sha256()
    for f in fields:
        put(h, f)
    return h.hexdigest()


def labelled(label, text, digits=64):
    return hashlib.sha256((label + text).encode()).hexdigest()[:digits]


def ms(t):
    return round(datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
                 .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


# ---- the row formats (README.txt) -------------------------------------------------------------

def core_digest(e):
    fields = (e["recorded_at"], e["action"], e["policy_version"], tri(e["preferences"]),
              tri(e["statistics"]), tri(e["marketing"]), e["objection_purpose"], e["objections"] or "",
              e["choice_at"])
    if e["row_format"] == 1:
        return sha("consentgate/core/v1", str(e["id"]), e["subject"], *fields)
    if e.get("subject"):
        sd = labelled("consentgate/subject-digest/v2:", e["subject"])
    else:
        sd = e.get("subject_digest")   # a pruned link's; none for a log event
    return sha("consentgate/core/v2", str(e["id"]), sd, *fields, e["banner"], e.get("record"))


def personal_digest(e):
    if e["row_format"] == 1:
        return sha("consentgate/personal/v1", e["salt"] or "", tri(e["gpc"]), tri(e["dnt"]), e["lang"],
                   e["banner"], e["page"], e["ip_prefix"], e["country"])
    salt, ipd = e["salt"], e["ip_digest"]
    if salt and not ipd:   # as written: the salt the personal and IP salts come from
        psalt = labelled("consentgate/personal-salt/v2:", salt, 32)
        ipd = sha("consentgate/ip/v2", labelled("consentgate/ip-salt/v2:", salt, 32), e["ip_prefix"])
    else:                  # the IP cleared (the personal salt kept), or no salt at all
        psalt = salt
    return sha("consentgate/personal/v2", psalt, tri(e["gpc"]), tri(e["dnt"]), e["lang"], e["page"],
               e["country"], ipd)


def personal_left(e):
    return [f for f in PERSONAL if e.get(f) is not None]


def checkable(e, kind):
    if kind == "pruned":
        return False
    if e["salt"]:
        return True
    return e["row_format"] != 1 and (kind == "log" or e["action"] == "erase") and not personal_left(e)


def check_digests(e, kind):
    if e.get("malformed"):
        fail("event %d: its %s holds a value no row of this log can hold" % (e["id"], e["malformed"]))
    if e["row_format"] not in (1, 2):
        fail("event %d: row format %s is none verify.py knows" % (e["id"], e["row_format"]))
        return
    if not (kind == "pruned" and e["row_format"] == 1) and core_digest(e) != e["core_digest"]:
        fail("event %d: its core fields do not match core_digest" % e["id"])
    if checkable(e, kind) and personal_digest(e) != e["personal_digest"]:
        fail("event %d: its personal fields do not match personal_digest" % e["id"])
    link = hashlib.sha256((e["prev_hash"] + e["core_digest"] + e["personal_digest"]).encode()).hexdigest()
    if link != e["hash"]:
        fail("event %d: hash does not match prev_hash, core_digest and personal_digest" % e["id"])


def check_personal(e, erased_at):
    if e["row_format"] == 1:
        return
    if e["action"] == "choice" and e["banner"] is not None and not SHOWN.match(e["banner"]):
        fail("event %d: banner is not a record of what was shown" % e["id"])
    if e["salt"]:
        if e["ip_digest"] and e["ip_prefix"]:
            fail("event %d: ip_prefix holds a value beside the ip_digest that replaced it" % e["id"])
        return
    left = personal_left(e)
    if left:
        fail("event %d: its salt is NULL but %s still hold a value: its personal fields can no longer be checked"
             % (e["id"], ", ".join(left)))
    elif e["action"] != "erase" and erased_at.get(e["subject"], 0) < e["id"]:
        fail("event %d: erased (no salt, no personal field), but no erasure of its visitor follows" % e["id"])


# ---- removals -------------------------------------------------------------------------------------

def ended_ms(e, consent_days, refusal_days):
    if e["action"] in ("withdraw", "erase"):
        return ms(e["recorded_at"])
    base = ms(e["choice_at"]) if e["choice_at"] else ms(e["recorded_at"])
    granted = 1 in (e["preferences"], e["statistics"], e["marketing"])
    return base + (consent_days if granted else refusal_days) * DAY_MS


def purge_time_bounds(p, links, heads):
    t = ms(p["recorded_at"])
    if t > datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000 + SLACK_MS:
        fail("event %d: the purge is dated %s, in the future" % (p["id"], p["recorded_at"]))
    for n, late in ((p["id"] - 1, False), (p["id"] + 1, True)):
        other = links.get(n)
        if other and other[1].get("recorded_at"):
            u = ms(other[1]["recorded_at"])
            if (late and t > u + SLACK_MS) or (not late and t < u - SLACK_MS):
                fail("event %d: the purge is dated %s, %s" % (p["id"], p["recorded_at"],
                     "after the row after it" if late else "before the row before it"))
    for h in heads:
        if h["last_id"] >= p["id"] and t > ms(h["signed_at"]) + SLACK_MS:
            fail("event %d: the purge is dated %s, after the head signed at %s over event %d"
                 % (p["id"], p["recorded_at"], h["signed_at"], h["last_id"]))


def removals(log_events, pruned, rows, links, heads, floor, others=()):
    kept = {}   # the rows here by their visitor's subject digest
    for r in rows:
        kept.setdefault(labelled("consentgate/subject-digest/v2:", r["subject"]), []).append(r["id"])
    for r in others:
        kept.setdefault(r["subject_digest"], []).append(r["id"])
    most = None
    for p in sorted((e for e in log_events if e["action"] == "purge"), key=lambda e: e["id"]):
        m = PURGE.match(p.get("record") or "")
        if not m:
            fail("event %d: its record is not a purge's" % p["id"])
            continue
        rec = [int(x) for x in m.groups()[:4]]
        if most and any(rec[i] < most[i] for i in (1, 2, 3)):
            notes.append("the purge at event %d recorded a lowered retention: %s (earlier purges: up to %s)"
                         % (p["id"], rec[1:], most[1:]))
        due = list(rec)
        if floor is not None:
            due[1] = max(floor, rec[1])
        elif most:
            due = [max(a, b) for a, b in zip(rec, most)]
        most = [max(a, b) for a, b in zip(rec, most)] if most else rec
        purge_time_bounds(p, links, heads)
        t = ms(p["recorded_at"])
        groups = {}
        for link in (e for e in pruned if e["purge_id"] == p["id"]):
            if link["pruned_at"] != p["recorded_at"]:
                fail("event %d: pruned_at is not the time of the purge at event %d" % (link["id"], p["id"]))
            g = groups.setdefault(link["subject_digest"], link)
            if link["id"] > g["id"]:
                groups[link["subject_digest"]] = link
        for sd, last in groups.items():
            end = ended_ms(last, due[2], due[3])
            if end > t - due[1] * DAY_MS:
                fail("event %d: removed by the purge at event %d, but its visitor's consent ended %s, less than "
                     "%d days before it" % (last["id"], p["id"], datetime.datetime.fromtimestamp(
                         end / 1000, datetime.timezone.utc).isoformat(), due[1]))
            for r in kept.get(sd, []):
                if r < p["id"]:
                    fail("event %d: kept, but the purge at event %d removed event %d of the same visitor"
                         % (r, p["id"], last["id"]))
    for link in pruned:
        if not any(p["id"] == link["purge_id"] and p["action"] == "purge" for p in log_events):
            fail("event %d: removed by event %s, which is no purge" % (link["id"], link["purge_id"]))
    return most


def formats(links):
    fmt = [e for k, e in links.values() if k == "log" and e["action"] == "format"]
    at = fmt[0]["id"] if fmt else None
    for k, e in links.values():
        if e["row_format"] == 1 and (at is None or e["id"] > at):
            fail("event %d: row format 1 after the log moved to row format 2" % e["id"])
        if e["row_format"] != 1 and at is not None and e["id"] < at:
            fail("event %d: row format 2 before the format event" % e["id"])
    if at:
        notes.append("events before event %d are of row format 1: what was shown and the personal fields of "
                     "rows whose salt was cleared are not checked in them" % at)


def whole_chain(links):
    """chain.txt: every link from the first row here to the last one a row
    or head here needs: the hashes follow from one another, no id is
    missing, and every link here is the chain's"""
    if not os.path.exists("chain.txt"):
        return {}
    lines = [l.split() for l in open("chain.txt").read().splitlines() if l]
    entries, last = {}, None
    prev = lines[0][1] if lines and lines[0][0] == "prev" else None
    kinds = {"r": "row", "p": "pruned", "l": "log"}
    for i, k, core, pers, h in lines[1:]:
        i = int(i)
        if k == "p" and links.get(i, ("", {}))[0] != "pruned":   # its removal is here to be checked
            fail("event %d: a pruned link of the chain whose removal the bundle does not hold" % i)
        if links.get(i) and {"other": "row"}.get(links[i][0], links[i][0]) != kinds.get(k):
            fail("event %d: the chain has it as another kind of link" % i)
        if last is not None and i != last + 1:
            fail("event %d is missing from the chain (after event %d)" % (last + 1, last))
        if hashlib.sha256((prev + core + pers).encode()).hexdigest() != h:
            fail("event %d: its hash does not follow from the link before it" % i)
        entries[i] = (core, pers, h)
        prev, last = h, i
    for kind, e in links.values():
        c = entries.get(e["id"])
        if c and c != (e["core_digest"], e["personal_digest"], e["hash"]):
            fail("event %d: its digests or hash are not the chain's (chain.txt)" % e["id"])
    print("followed the chain over %d links" % len(entries))
    return entries


# ---- the rest ----------------------------------------------------------------------------------------

SUMS_TYPE = "application/vnd.consentgate.bundle-sha256sums"


def signed_sums(keys, allow_unsigned):
    """SHA256SUMS as the site signed it (SHA256SUMS.dsse.json), or None"""
    from nacl.signing import VerifyKey
    from nacl.exceptions import BadSignatureError
    if not os.path.exists("SHA256SUMS.dsse.json"):
        if not allow_unsigned:
            fail("SHA256SUMS.dsse.json is missing: SHA256SUMS is not signed, so any file can be replaced with "
                 "SHA256SUMS rewritten to match (--allow-unsigned checks the rest of a bundle written without "
                 "the signing key)")
            return None
        print("WARNING: SHA256SUMS is not signed (the bundle was written without the signing key): any file "
              "can be replaced with SHA256SUMS rewritten to match")
        notes.append("SHA256SUMS is not signed")
        return None
    try:
        env = json.load(open("SHA256SUMS.dsse.json"))
        t, sig = env["payloadType"], env["signatures"][0]
        body = b64(env["payload"])
        pk = keys.get(sig["keyid"])
        if t != SUMS_TYPE or pk is None:
            fail("SHA256SUMS.dsse.json: %s" % ("not the signature of a bundle's sums" if pk else
                                                "signed by key %s, which the keys given do not list" % sig["keyid"]))
            return None
        VerifyKey(pk).verify(b"DSSEv1 %d %s %d " % (len(t.encode()), t.encode(), len(body)) + body, b64(sig["sig"]))
    except BadSignatureError:
        fail("SHA256SUMS.dsse.json: the signature does not verify")
        return None
    except (KeyError, IndexError, TypeError, ValueError) as e:
        fail("SHA256SUMS.dsse.json: not a signed envelope (%s)" % e)
        return None
    return body.decode()


def sums(keys, allow_unsigned):
    signed = signed_sums(keys, allow_unsigned)
    text = open("SHA256SUMS").read()
    listed = {}
    for line in text.splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    if signed is not None:
        want = dict(reversed(line.split("  ", 1)) for line in signed.splitlines())
        for name in sorted(set(want) | set(listed)):
            if want.get(name) != listed.get(name):
                fail("%s: SHA256SUMS is not what the site signed for it" % name)
        listed = want
    n = 0
    for name, digest in sorted(listed.items()):
        if not os.path.exists(name):
            fail("%s is missing" % name)
        elif hashlib.sha256(open(name, "rb").read()).hexdigest() != digest:
            fail("%s differs from %sSHA256SUMS" % (name, "the signed " if signed is not None else ""))
        n += 1
    for root, _, files in os.walk("."):
        for f in files:
            name = os.path.relpath(os.path.join(root, f), ".")
            if name not in listed and name not in ("SHA256SUMS", "SHA256SUMS.dsse.json"):
                fail("%s is not listed in SHA256SUMS" % name)
    print("checked %d files against %sSHA256SUMS" % (n, "the signed " if signed is not None else ""))


HEAD_TYPE = "application/vnd.consentgate.chain-head+json"


def b64(s):
    """DSSE: either alphabet, padded or not"""
    s = s.replace("-", "+").replace("_", "/")
    return base64.b64decode(s + "=" * (-len(s) % 4), validate=True)


def open_envelope(env, keys):
    """(payload bytes, key id) of a chain head's envelope whose signature
    holds, or (None, why). DSSE: the signature is over PAE(type, payload),
    so the type is signed; an envelope of before ("consentgate/1") is
    signed over the bare payload and its kind read from what it signed."""
    from nacl.signing import VerifyKey
    from nacl.exceptions import BadSignatureError
    try:
        if "signatures" in env:
            if len(env["signatures"]) != 1:
                return None, "not one signature"
            t, kid = env["payloadType"], env["signatures"][0]["keyid"]
            payload, sig = b64(env["payload"]), b64(env["signatures"][0]["sig"])
            signed = b"DSSEv1 %d %s %d " % (len(t.encode()), t.encode(), len(payload)) + payload
        else:
            t, kid = None, env["key_id"]
            payload, sig = b64(env["payload"]), b64(env["signature"])
            signed = payload
    except (KeyError, TypeError, ValueError) as e:
        return None, "not a signed envelope (%s)" % e
    if kid not in keys:
        return None, "signed by key %s, which the keys given do not list" % kid
    try:
        VerifyKey(keys[kid]).verify(signed, sig)
    except BadSignatureError:
        return None, "the signature does not verify"
    try:
        head = json.loads(payload)
    except ValueError:
        return None, "the signed payload is not JSON"
    if (t is not None and t != HEAD_TYPE) or not isinstance(head, dict) or \
            head.get("type") != "consentgate/chain-head/1":
        return None, "the signed payload is not a chain head"
    if head.get("key_id") != kid:
        return None, "the signed key_id %s is not the envelope's %s" % (head.get("key_id"), kid)
    return head, kid


def heads(keys, site, extra=()):
    out = []
    files = [os.path.join("heads", n) for n in (sorted(os.listdir("heads")) if os.path.isdir("heads") else [])
             if n.endswith(".json")]
    for name in files + list(extra):
        try:
            env = json.load(open(name))
        except ValueError:
            fail("%s: not JSON" % name)
            continue
        head, why = open_envelope(env, keys)
        if head is None:
            fail("%s: %s" % (name, why))
            continue
        if site is not None and (head.get("site") != site or head.get("chain") != "consent_events"):
            fail("%s: signed for site %r, chain %r, not this bundle's %r" % (name, head.get("site"),
                                                                             head.get("chain"), site))
            continue
        out.append((name, head))
    print("verified the signatures of %d chain heads" % len(out))
    return out


def chain(signed, floor):
    evs = json.load(open("events.json"))
    extra = {name: json.load(open(name + ".json")) if os.path.exists(name + ".json") else []
             for name in ("log_events", "pruned", "erasures", "others")}
    rows = evs + extra.get("erasures", [])
    links = {}
    for kind, group in (("row", rows), ("pruned", extra.get("pruned", [])), ("log", extra.get("log_events", [])),
                        ("other", extra.get("others", []))):
        for e in group:
            if e["id"] in links:
                fail("event %d: twice in the bundle" % e["id"])
            links[e["id"]] = (kind, e)
    erased_at = {}   # each visitor's last erasure here
    for r in rows:
        if r["action"] == "erase":
            erased_at[r["subject"]] = max(r["id"], erased_at.get(r["subject"], 0))
    _, subject = bundle_site()
    mine = labelled("consentgate/subject-digest/v2:", subject) if subject else None
    for kind, e in links.values():
        if kind == "other":   # another visitor's row in a bundle of one: its core fields, no personal one
            check_digests(e, "pruned")
            if e.get("subject_digest") == mine:
                fail("event %d: in others.json, but it is this visitor's row" % e["id"])
            continue
        check_digests(e, kind)
        if kind == "row":
            check_personal(e, erased_at)
        prev = links.get(e["id"] - 1)
        if prev and prev[1]["hash"] != e["prev_hash"]:
            fail("event %d: prev_hash is not event %d's hash" % (e["id"], e["id"] - 1))
    entries = whole_chain(links)
    formats(links)
    removals(extra.get("log_events", []), extra.get("pruned", []), rows, links, signed, floor,
             extra.get("others", []))
    print("recomputed the hashes of %d events and their links" % len(evs))
    print("checked %d pruned links and %d log events" % (len(extra.get("pruned", [])),
                                                          len(extra.get("log_events", []))))
    by_id = {e["id"]: e for kind, e in links.values()}
    for i, (core, pers, h) in entries.items():   # heads may name a link only chain.txt holds
        by_id.setdefault(i, {"id": i, "hash": h, "subject": None, "banner": None})
    return by_id, (min(entries) if entries else None)


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
        if e.get("subject") is None:   # a pruned link, a log event: its build need not be held
            continue
        m = re.match(r"build=([0-9a-f]{32});notice=([0-9a-f]{64}|-{64})(?:;vendors=([0-9a-f]{64}))?", e["banner"] or "")
        for ref in (m.groups() if m else ()):
            if ref and not ref.startswith("-") and ref not in known:
                fail("event %d names %s, which the bundle does not hold" % (e["id"], ref))
    print("checked %d banner builds and notices against their files" % len(index))


def load_keys(src):
    """keys from FILE_OR_URL (the site's GET /consent/keys, obtained out of
    band), or, loudly, the bundle's own keys.json"""
    if src is None:
        print("WARNING: no --keys given: the signatures are checked against keys.json from inside this bundle, "
              "which whoever wrote the bundle chose. Obtain the site's keys out of band (GET /consent/keys) "
              "and pass --keys.")
        notes.append("the keys came from inside the bundle (no --keys)")
        text = open("keys.json").read()
    elif re.match(r"https?://", src):
        import urllib.request
        text = urllib.request.urlopen(src, timeout=30).read().decode()
    else:
        text = open(src).read()
    return {k["key_id"]: b64(k["public_key"]) for k in json.loads(text)["keys"]}


def bundle_site():
    """the site and visitor README.txt's header names (bound by SHA256SUMS)"""
    site = subject = None
    for line in open("README.txt").read().split("\n\n", 1)[0].splitlines():
        if line.startswith("site: "):
            site = line[6:]
        elif line.startswith("visitor (subject key): "):
            subject = line[len("visitor (subject key): "):]
    return site, subject


def csv_matches_json():
    """events.csv says what events.json says, row by row"""
    import csv
    if not os.path.exists("events.csv"):
        fail("events.csv is missing")
        return
    evs = {e["id"]: e for e in json.load(open("events.json"))}
    seen = set()
    for r in csv.DictReader(open("events.csv", newline="")):
        try:
            e = evs.get(int(r.get("id") or -1))
        except ValueError:
            e = None
        if e is None:
            fail("events.csv: row %s is not in events.json" % r.get("id"))
            continue
        seen.add(e["id"])
        for k, v in r.items():
            want = e.get(k)
            want = "" if want is None else ("true" if want is True else "false" if want is False else str(want))
            if k in e and v != want:
                fail("events.csv: event %d: %s is %r, events.json says %r" % (e["id"], k, v, want))
    for i in sorted(set(evs) - seen):
        fail("events.csv: event %d of events.json is missing" % i)
    print("compared events.csv with events.json (%d events)" % len(seen))


def recheck_verification(signed_envs, by_id, start):
    """verification.txt's lines about heads, recomputed from the heads and
    the chain here rather than trusted; what cannot be recomputed is said"""
    if not os.path.exists("verification.txt"):
        fail("verification.txt is missing")
        return
    text = open("verification.txt").read()
    n = 0
    for hid, head in signed_envs:
        line = re.search(r"^head %d, signed (\S+) by key (\S+), row (\d+): (.*)$" % hid, text, re.M)
        if line is None:
            fail("verification.txt: says nothing of head %d" % hid)
            continue
        row = by_id.get(head["last_id"])
        if head["last_id"] == 0:
            ok = head["hash"] == "0" * 64 and head["links"] == 0
        elif row is None:
            continue   # outside the chain here: cannot be recomputed
        else:
            ok = row["hash"] == head["hash"]
        if (line.group(1), line.group(2), int(line.group(3))) != (head["signed_at"], head["key_id"],
                                                                   head["last_id"]):
            fail("verification.txt: head %d: its line is not the signed head's" % hid)
        elif line.group(4).startswith("OK") and not ok:
            fail("verification.txt: head %d: says OK, the bundle shows it diverges" % hid)
        elif ok and not line.group(4).startswith("OK"):
            if "broken before it" in line.group(4):   # the rules over the whole log, not this head's hash
                notes.append("verification.txt: head %d: consentctl found the chain broken before it, under the "
                             "rules over the whole log; its hash is the row's here" % hid)
            else:
                fail("verification.txt: head %d: says %r, the bundle shows OK" % (hid, line.group(4)))
        n += 1
    claimed = len(re.findall(r"^head \d+,", text, re.M))
    if claimed != len(signed_envs):
        fail("verification.txt: names %d heads, heads/ holds %d that verify" % (claimed, len(signed_envs)))
    print("recomputed %d of verification.txt's head lines; its whole-log line (rows outside the period) "
          "cannot be recomputed from the bundle: consentctl verify on the log does" % n)


def anchors(tsa_cert):
    import subprocess, tempfile
    n = 0
    for name in sorted(os.listdir("heads")) if os.path.isdir("heads") else []:
        env = json.load(open(os.path.join("heads", name)))
        if not env.get("anchor"):
            continue
        if not tsa_cert:
            notes.append("heads/%s: its anchor is not checked (give --tsa-cert, the authority's certificate)"
                         % name)
            continue
        with tempfile.TemporaryDirectory() as t:
            open(t + "/head.bin", "wb").write(b64(env["payload"]))
            open(t + "/head.tsr", "wb").write(base64.b64decode(env["anchor"]))
            r = subprocess.run(["openssl", "ts", "-verify", "-in", t + "/head.tsr", "-data", t + "/head.bin",
                                "-CAfile", tsa_cert], capture_output=True, text=True)
        if r.returncode != 0 or "Verification: OK" not in r.stdout:
            fail("heads/%s: its RFC 3161 anchor does not verify against %s" % (name, tsa_cert))
        else:
            n += 1
    print("verified %d RFC 3161 anchors" % n)


def gaps(by_id, start, subject, signed):
    """every id from the first link to the last is a row, a pruned link or a
    log event here (chain.txt lists them)"""
    if not os.path.exists("chain.txt"):
        fail("chain.txt is missing: the ids between the events cannot be followed")
        return
    lines = [l.split() for l in open("chain.txt").read().splitlines() if l][1:]
    here = {e["id"] for e in json.load(open("events.json"))}
    others = {e["id"] for e in json.load(open("others.json"))} if os.path.exists("others.json") else set()
    if subject is not None and not os.path.exists("others.json"):
        fail("others.json is missing: a bundle of one visitor holds the other visitors' rows of the period there")
    for e in json.load(open("events.json")):
        if start is not None and e["id"] not in by_id:
            fail("event %d: not in chain.txt" % e["id"])
    rows = [int(i) for i, k, *_ in lines if k == "r"]
    span = here | others
    # chain.txt starts at the period's first link and goes on as far as a
    # row or head here needs: a row in it is the period's unless it lies
    # past the last one here and a head needs it
    last = max(span) if span else 0
    needed = max([h["last_id"] for h in signed] + [0])
    for i in rows:
        if i not in span and (i <= last or i > needed):
            fail("event %d: a row of the period in chain.txt, but %s does not hold it"
                 % (i, "events.json" if subject is None else "neither events.json nor others.json"))
    if subject is not None:
        notes.append("a bundle of one visitor: the %d other visitors' rows of the period are checked as links "
                     "(others.json): their personal fields, and rows outside the period, cannot be checked here"
                     % len(others))


def main():
    ap = argparse.ArgumentParser(description="checks this consentgate bundle offline")
    ap.add_argument("--min-retention-days", type=int, default=None,
                    help="accept any purge that kept rows this many days after their visitor's consent ended "
                         "(instead of the highest retention the log recorded before it)")
    ap.add_argument("--keys", metavar="FILE_OR_URL",
                    help="the site's public keys (GET /consent/keys), obtained out of band")
    ap.add_argument("--head", metavar="FILE", action="append", default=[],
                    help="a chain head obtained out of band (published, anchored): the bundle must hold it")
    ap.add_argument("--tsa-cert", metavar="PEM", help="the timestamp authority's certificate chain")
    ap.add_argument("--allow-unsigned", action="store_true",
                    help="check a bundle whose SHA256SUMS is not signed (written without the signing key)")
    ap.add_argument("bundle", nargs="?", help="the unpacked bundle's directory, when this verify.py is a copy "
                    "obtained out of band (default: the directory this file is in)")
    args = ap.parse_args()
    me = open(os.path.abspath(__file__), "rb").read()
    outside = [os.path.abspath(h) for h in args.head]
    keys_src = args.keys if args.keys is None or re.match(r"https?://", args.keys) else os.path.abspath(args.keys)
    tsa = os.path.abspath(args.tsa_cert) if args.tsa_cert else None
    os.chdir(os.path.abspath(args.bundle) if args.bundle else os.path.dirname(os.path.abspath(__file__)))
    if not args.bundle:
        print("WARNING: this verify.py came inside the bundle: whoever wrote the bundle wrote it. Run a copy "
              "obtained out of band (consentgate's source) with the bundle's directory as its argument.")
        notes.append("verify.py ran from inside the bundle")
    elif not os.path.exists("verify.py") or open("verify.py", "rb").read() != me:
        fail("verify.py in the bundle is not this verify.py")
    keys = load_keys(keys_src)
    sums(keys, args.allow_unsigned)
    site, subject = bundle_site()
    named = heads(keys, site)
    signed = [h for _, h in named]
    given = [h for _, h in heads(keys, site, outside)[len(named):]] if outside else []
    if not outside:
        print("WARNING: no --head given: nothing from outside the bundle binds its chain; whoever wrote it "
              "could have recomputed every hash. Obtain the site's published or anchored heads and pass --head.")
        notes.append("no head from outside the bundle (no --head)")
    by_id, start = chain(signed + given, args.min_retention_days)
    gaps(by_id, start, subject, signed + given)
    csv_matches_json()
    n = 0
    for h in signed + given:
        row = by_id.get(h["last_id"])
        if row is None:
            if h in given or (start is not None and h["last_id"] > start):
                fail("event %d: the head signed at %s names it, but the chain here does not reach it"
                     % (h["last_id"], h["signed_at"]))
            continue
        n += 1
        if row["hash"] != h["hash"]:
            fail("event %d: its hash is not the one the head signed at %s names" % (h["last_id"], h["signed_at"]))
    print("matched %d signed heads against their rows in the bundle" % n)
    recheck_verification([(int(os.path.basename(name)[:-5]), h) for name, h in named], by_id, start)
    anchors(tsa)
    shown(by_id)
    for line in notes:
        print("note:", line)
    print("OK" if not failures else "%d FAILURES" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
