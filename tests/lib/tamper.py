#!/usr/bin/env python3
"""The tamper suite's engine (tests/integration/test_tamper.sh): on copies
of a real log, changes it as someone with write access to the database
would, and checks that consentctl verify, verify --head and the bundle's
verify.py each fail, naming the row.

The changes are generated, not listed: for one row of every kind (a
choice, a withdrawal, an objection, an erasure tombstone, an erased row, a
row whose IP prefix was cleared, a pruned link, a purge), every column of
its table as the database catalogue lists it — and the subject and
context rows it points to — is changed by its type (a number +1 or
flipped, text appended to, bytes flipped, NULL given a value). Each change
is tried twice: as it is, and with what can be recomputed without the key
recomputed (the row's digests where its fields can be read, its hash and
every later link's: a rewrite of the chain from there), which only the
signed head (and the bundle's copy of it) can tell. Then the attacks of
issue 27, each its own case.

Prints "ok - ..." / "FAIL - ..." lines and exits 1 if any failed."""
import argparse, glob, importlib.util, json, os, re, shutil, sqlite3, subprocess, sys, tarfile

A = None           # the arguments
V = None           # verify.py, as a module: the row formats' digests
results = {"ok": 0, "fail": 0}


def ok(name, good, detail=""):
    results["ok" if good else "fail"] += 1
    print("%s - %s" % ("ok  " if good else "FAIL", name))
    if not good and detail:
        print("       " + detail.replace("\n", "\n       ")[:2000])


# ---- the database, either backend ------------------------------------------------------------------

class DB:
    """A copy of the log: SQLite file or PostgreSQL database."""

    def __init__(self, n):
        self.pg = A.pg is not None
        if self.pg:
            self.name = "%s_t%d" % (A.pg, n)
            self.psql("postgres", 'DROP DATABASE IF EXISTS "%s"' % self.name)
            self.psql("postgres", 'CREATE DATABASE "%s" TEMPLATE "%s"' % (self.name, A.pg))
            self.storage = "backend = postgresql\nurl = postgresql:///%s?host=%s&port=%s&user=cg\n" % (
                self.name, A.pg_host, A.pg_port)
        else:
            self.path = os.path.join(A.work, "t%d.db" % n)
            shutil.copy(A.sqlite, self.path)
            self.storage = "database = %s\n" % self.path
        self.ini = os.path.join(A.work, "t%d.ini" % n)
        text = open(A.ini).read().replace("[storage]\n", "[storage]\n" + self.storage, 1)
        open(self.ini, "w").write(text)
        self.unguard()

    def psql(self, db, sql):
        r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", A.pg_host, "-p",
                            str(A.pg_port), "-U", "cg", "-d", db, "-c", sql], capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("psql: %s: %s" % (sql[:200], r.stderr))
        return r.stdout

    def execute(self, sql):
        if self.pg:
            self.psql(self.name, sql)
        else:
            c = sqlite3.connect(self.path)
            c.executescript(sql)
            c.commit()
            c.close()

    def rows(self, sql):
        """the rows of a query as dicts (bytes as hex text, without \\x)"""
        if self.pg:
            out = self.psql(self.name, "SELECT row_to_json(q) FROM (%s) q" % sql)
            rows = [json.loads(line) for line in out.splitlines() if line]
            for r in rows:
                for k, v in r.items():
                    if isinstance(v, str) and v.startswith("\\x"):
                        r[k] = v[2:]
            return rows
        c = sqlite3.connect(self.path)
        c.row_factory = sqlite3.Row
        rows = [{k: (r[k].hex() if isinstance(r[k], bytes) else r[k]) for k in r.keys()}
                for r in c.execute(sql)]
        c.close()
        return rows

    def unguard(self):
        """the triggers that refuse updates: an attacker drops them"""
        if self.pg:
            for t in ("events", "pruned", "log_events", "subjects"):
                self.execute("ALTER TABLE %s DISABLE TRIGGER ALL" % t)
        else:
            for r in self.rows("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                               "('events', 'pruned', 'log_events')"):
                self.execute("DROP TRIGGER %s" % r["name"])

    def columns(self, table):
        """(name, kind) of every column, kind one of int, text, bytes"""
        if self.pg:
            rows = self.rows("SELECT column_name AS name, data_type AS type FROM information_schema.columns "
                             "WHERE table_name = '%s' ORDER BY ordinal_position" % table)
        else:
            rows = self.rows("SELECT name, type FROM pragma_table_info('%s')" % table)
        kinds = {"bytea": "bytes", "blob": "bytes", "text": "text"}
        return [(r["name"], kinds.get(r["type"].lower(), "int")) for r in rows]

    def bytes_literal(self, hexs):
        return "'\\x%s'::bytea" % hexs if self.pg else "X'%s'" % hexs

    def drop(self):
        if self.pg:
            self.psql("postgres", 'DROP DATABASE IF EXISTS "%s"' % self.name)


# ---- the verifiers -----------------------------------------------------------------------------------

def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


def verifiers(db, n, extra=()):
    ctl = [os.path.join(A.build, "consentctl"), "-c", db.ini]
    out = {"verify": run(ctl + ["verify"] + list(extra)),
           "verify --head": run(ctl + ["verify", "--head", A.head] + list(extra))}
    bundle = os.path.join(A.work, "b%d.tar.gz" % n)
    unpacked = os.path.join(A.work, "b%d" % n)
    rc, text = run(ctl + ["bundle", "--from", A.from_, "--to", A.to, "-o", bundle])
    if rc:
        out["verify.py"] = (rc, "bundle: " + text)
    else:
        with tarfile.open(bundle) as t:
            t.extractall(unpacked)
        script = glob.glob(os.path.join(unpacked, "*", "verify.py"))[0]
        floor = ["--min-retention-days", extra[1]] if extra else []
        # a copy of the log has no key beside it: its bundle's sums go unsigned
        out["verify.py"] = run([sys.executable, script, "--allow-unsigned"] + floor)
        shutil.rmtree(unpacked)
        os.remove(bundle)
    return out


def names(text, ids):
    """the failure text names one of these rows"""
    return any(re.search(r"\b(row|event) %d\b" % i, text) for i in ids)


def check(name, db, n, ids, words=None, head_only=False):
    """every verifier fails, naming one of ids (and saying `words`); with
    head_only, plain verify is not asked (a rewrite without the head)"""
    out = verifiers(db, n)
    for v, (rc, text) in out.items():
        if head_only and v == "verify":
            continue
        named = head_only or names(text, ids)
        said = head_only or not words or re.search(words, text)
        ok("%s: %s fails%s" % (name, v, "" if head_only else ", naming row %d" % ids[0]),
           rc != 0 and named and bool(said), "exit %d: %s" % (rc, text.strip()))


# ---- a rewrite of the chain, from a row on ----------------------------------------------------------

LINK_TABLES = (("consent_events", "events", "row"), ("consent_pruned", "pruned", "pruned"),
               ("consent_log", "log_events", "log"))


def chain(db):
    links = []
    for view, table, kind in LINK_TABLES:
        for e in db.rows("SELECT * FROM %s" % view):
            if kind == "log":
                e.update(action=e["kind"], row_format=2, policy_version=None, preferences=None,
                         statistics=None, marketing=None, objection_purpose=None, objections="",
                         choice_at=None, banner=None, subject=None, salt=None, gpc=None, dnt=None, lang=None,
                         page=None, ip_prefix=None, ip_digest=None, country=None)
            e["_table"], e["_kind"] = table, kind
            links.append(e)
    return sorted(links, key=lambda e: e["id"])


def reseal(db, from_id):
    """what anyone can recompute without the key, from row from_id on"""
    prev = "0" * 64
    sets = []
    for e in chain(db):
        if e["id"] >= from_id:
            core = e["core_digest"] if e["_kind"] == "pruned" and e["row_format"] == 1 else V.core_digest(e)
            pers = V.personal_digest(e) if V.checkable(e, e["_kind"]) else e["personal_digest"]
            h = V.hashlib.sha256((prev + core + pers).encode()).hexdigest()
            sets.append("UPDATE %s SET core_digest = %s, personal_digest = %s, hash = %s WHERE id = %d" % (
                e["_table"], db.bytes_literal(core), db.bytes_literal(pers), db.bytes_literal(h), e["id"]))
            e["hash"] = h
        prev = e["hash"]
    db.execute(";\n".join(sets))


# ---- generated changes -------------------------------------------------------------------------------

KINDS = [  # kind, view, condition
    ("choice", "consent_events", "action = 'choice' AND row_format = 2 AND ip_prefix IS NOT NULL"),
    ("ip-cleared", "consent_events", "row_format = 2 AND ip_digest IS NOT NULL"),
    ("withdraw", "consent_events", "action = 'withdraw' AND row_format = 2"),
    ("objection", "consent_events", "action = 'objection'"),
    ("erased", "consent_events", "salt IS NULL AND action <> 'erase' AND row_format = 2"),
    ("tombstone", "consent_events", "action = 'erase'"),
    ("pruned", "consent_pruned", "row_format = 2"),
    ("purge", "consent_log", "kind = 'purge'"),
]
TABLE = {"consent_events": "events", "consent_pruned": "pruned", "consent_log": "log_events"}
# what a change of these columns must be named as (any text otherwise)
WORDS = {"hash": "hash", "core_digest": "core", "salt": "personal|salt", "pruned_ms": "pruned_at",
         "purge_id": "purge", "fmt": "format", "record": "record|core", "ip_digest": "personal|ip_digest|salt",
         "page": "personal|salt", "lang": "personal|salt", "country": "personal|salt", "gpc": "personal|salt",
         "dnt": "personal|salt", "ip_prefix": "personal|salt|ip_prefix"}


def changed(db, name, kind, value):
    if value is None:
        return "1" if kind == "int" else "'x'" if kind == "text" else db.bytes_literal(
            "11" * (16 if name == "salt" else 32))
    if kind == "int":
        return str(1 - value if value in (0, 1) and name not in ("id", "sid", "cid") else value + 1000
                   if name in ("id",) else value + 1)
    if kind == "text":
        return "'%s'" % (value + "x").replace("'", "''")
    flipped = "%02x" % (int(value[:2], 16) ^ 0xff) + value[2:]
    return db.bytes_literal(flipped)


def targets(db0):
    """(label, table, key column, key, columns, rows the change may be named at)"""
    out = []
    for kind, view, cond in KINDS:
        r = db0.rows("SELECT id FROM %s WHERE %s ORDER BY id DESC LIMIT 1" % (view, cond))
        if not r:
            ok("a row of kind %s to change" % kind, False)
            continue
        i, table = r[0]["id"], TABLE[view]
        out.append((kind, table, "id", i, db0.columns(table), [i]))
        if table == "events":   # what the row points to: its visitor, its context (SQLite)
            sid = db0.rows("SELECT sid FROM events WHERE id = %d" % i)[0]["sid"]
            first = db0.rows("SELECT min(id) AS m FROM events WHERE sid = %d" % sid)[0]["m"]
            out.append((kind + "'s subject", "subjects", "sid", sid, [("digest", "bytes")], [first]))
            if not db0.pg:
                cid = db0.rows("SELECT cid FROM events WHERE id = %d" % i)[0]["cid"]
                if cid is not None:  # shared: any row that reads it may be the first to fail
                    users = [r["id"] for r in db0.rows("SELECT id FROM events WHERE cid = %d UNION ALL "
                                                        "SELECT id FROM pruned WHERE cid = %d ORDER BY 1" % (cid, cid))]
                    out.append((kind + "'s context", "contexts", "cid", cid,
                                [c for c in db0.columns("contexts") if c[0] != "cid"], users))
    return out


def generated(db0, n):
    for label, table, key, keyval, columns, ids in targets(db0):
        row = db0.rows("SELECT * FROM %s WHERE %s = %d" % (table, key, keyval))[0]
        for col, kind in columns:
            expect = list(ids)
            if col == "id":
                expect.append(keyval + 1000)
            if col == "purge_id":
                expect.append(row[col])
            if col == "sid":  # the row moved to another visitor: its own visitor's rows, or theirs, may fail first
                expect += [r["id"] for r in db0.rows("SELECT id FROM events WHERE sid IN (%d, %d)"
                                                     % (row[col], row[col] + 1))]
            # (a rewrite recomputes the digests and hash: it would undo a change of those)
            for rewrite in (False, True) if col not in ("core_digest", "personal_digest", "hash") else (False,):
                n += 1
                db = DB(n)
                try:
                    try:
                        db.execute("UPDATE %s SET %s = %s WHERE %s = %d" % (
                            table, col, changed(db, col, kind, row[col]), key, keyval))
                    except (sqlite3.DatabaseError, RuntimeError) as e:
                        ok("%s %s.%s changed: the database refuses it (%s)" % (label, table, col,
                                                                              str(e).splitlines()[0][:80]), True)
                        continue
                    if rewrite:
                        reseal(db, min(ids))
                    check("%s %s.%s changed%s" % (label, table, col, ", the chain re-sealed" if rewrite else ""),
                          db, n, expect, None if rewrite or col not in WORDS else "%s|%s" % (WORDS[col], col),
                          head_only=rewrite)
                finally:
                    db.drop()
    return n


# ---- the attacks -------------------------------------------------------------------------------------

def sd_of(subject):
    return V.labelled("consentgate/subject-digest/v2:", subject)


def prune(db, ids, with_fields):
    """rows moved to pruned links (keeping their fields if with_fields), as the purge would"""
    for i in ids:
        e = db.rows("SELECT * FROM consent_events WHERE id = %d" % i)[0]
        if db.pg:
            fields = ("sdigest, recorded_ms, action, policy_version, preferences, statistics, marketing, "
                      "objection_purpose, objections, choice_back_ms, banner, fmt")
            values = ("%s, e.recorded_ms, e.action, e.policy_version, e.preferences, e.statistics, e.marketing, "
                      "e.objection_purpose, e.objections, e.choice_back_ms, e.banner, 2" % db.bytes_literal(sd_of(e["subject"])))
        else:   # what was shown: a context of the banner alone, as the purge makes
            db.execute("INSERT OR IGNORE INTO contexts(lang, banner, country) SELECT '', c.banner, '' FROM events e "
                       "JOIN contexts c ON c.cid = e.cid WHERE e.id = %d AND c.banner <> ''" % i)
            fields = ("sdigest, recorded_ms, action, policy_version, preferences, statistics, marketing, "
                      "objection_purpose, objections, choice_back_ms, fmt, cid")
            values = ("%s, e.recorded_ms, e.action, e.policy_version, e.preferences, e.statistics, e.marketing, "
                      "e.objection_purpose, e.objections, e.choice_back_ms, 2, (SELECT k.cid FROM contexts c JOIN "
                      "contexts k ON k.banner = c.banner AND k.lang = '' AND k.country = '' WHERE c.cid = e.cid "
                      "AND c.banner <> '')" % db.bytes_literal(sd_of(e["subject"])))
        if not with_fields:
            fields, values = "fmt", "2"
        db.execute("INSERT INTO pruned(id, core_digest, personal_digest, hash, pruned_ms, %s) SELECT e.id, "
                   "e.core_digest, e.personal_digest, e.hash, 0, %s FROM events e WHERE e.id = %d; "
                   "DELETE FROM events WHERE id = %d" % (fields, values, i, i))


def fake_purge(db, ids, days=1095):
    """a purge appended at the tip, dated now, naming these rows: anyone can"""
    links = chain(db)
    tip = links[-1]
    now = subprocess.run(["date", "-u", "+%Y-%m-%dT%H:%M:%S.000Z"], capture_output=True, text=True).stdout.strip()
    digest = V.hashlib.sha256("".join("%d\n" % i for i in sorted(ids)).encode()).hexdigest()
    record = ("purge;ip_prefix_days=730;events_days_after_end=%d;consent_max_age_days=365;refusal_max_age_days=180;"
              "rows=%d;ids=%s" % (days, len(ids), digest))
    e = {"id": tip["id"] + 1, "row_format": 2, "recorded_at": now, "action": "purge", "policy_version": None,
         "preferences": None, "statistics": None, "marketing": None, "objection_purpose": None, "objections": "",
         "choice_at": None, "subject": None, "banner": None, "record": record, "salt": None, "gpc": None,
         "dnt": None, "lang": None, "page": None, "ip_prefix": None, "ip_digest": None, "country": None}
    core, pers = V.core_digest(e), V.personal_digest(e)
    h = V.hashlib.sha256((tip["hash"] + core + pers).encode()).hexdigest()
    ms = V.ms(now)
    db.execute("INSERT INTO log_events(id, recorded_ms, kind, record, core_digest, personal_digest, hash) VALUES("
               "%d, %d, 4, '%s', %s, %s, %s); UPDATE pruned SET purge_id = %d, pruned_ms = %d WHERE id IN (%s)" % (
                   e["id"], ms, record, db.bytes_literal(core), db.bytes_literal(pers), db.bytes_literal(h),
                   e["id"], ms, ",".join(str(i) for i in ids)))


def attacks(db0, n):
    week = [r["id"] for r in db0.rows("SELECT id FROM consent_events WHERE subject = '%s' ORDER BY id" % A.week_subject)]
    current = [r["id"] for r in db0.rows("SELECT id FROM consent_events WHERE subject = '%s' ORDER BY id"
                                         % A.current_subject)]
    live = [r["id"] for r in db0.rows("SELECT id FROM consent_events WHERE row_format = 2 AND ip_prefix IS NOT NULL "
                                      "AND action = 'choice' ORDER BY id DESC LIMIT 2")]
    cases = [
        ("a current visitor's rows pruned, with a purge appended", lambda db: (prune(db, current, True),
                                                                               fake_purge(db, current)),
         current, "consent ended"),
        ("last week's withdrawal pruned as the old attack did (its digests into pruned)",
         lambda db: prune(db, week[-1:], False), week[-1:], None),
        ("last week's withdrawal pruned with its fields and a purge appended",
         lambda db: (prune(db, week[-1:], True), fake_purge(db, week[-1:])), week, "purge"),
        ("a salt nulled and the fields rewritten",
         lambda db: db.execute("UPDATE events SET salt = NULL, page = 'https://shop.example/elsewhere' WHERE id = %d"
                               % live[0]), live[:1], "salt is NULL"),
        ("two rows' personal fields swapped",
         lambda db: db.execute("UPDATE events SET page = 'https://shop.example/one' WHERE id = %d;"
                               "UPDATE events SET page = 'https://shop.example/two' WHERE id = %d" % tuple(live)),
         sorted(live), "personal"),
    ]
    for name, attack, ids, words in cases:
        n += 1
        db = DB(n)
        try:
            attack(db)
            check(name, db, n, ids, words)
        finally:
            db.drop()
    return lowered(n + 1, week)


def lowered(n, week):
    """the operator lowers events_days_after_end to 1 and purges: last
    week's withdrawal goes; the log recorded 1095 before"""
    db = DB(n)
    try:
        text = open(db.ini).read().replace("[policy]\n", "[policy]\n", 1)
        text = re.sub(r"\[retention\][^\[]*", "", text) + "\n[retention]\nevents_days_after_end = 1\n"
        open(db.ini, "w").write(text)
        rc, out = run([os.path.join(A.build, "consentctl"), "-c", db.ini, "purge"])
        ok("a purge with events_days_after_end = 1 removes last week's withdrawal", rc == 0 and not db.rows(
            "SELECT id FROM consent_events WHERE subject = '%s'" % A.week_subject), out)
        removed = [r["id"] for r in db.rows("SELECT id FROM consent_pruned WHERE purge_id = "
                                            "(SELECT max(id) FROM consent_log WHERE kind = 'purge') ORDER BY id")]
        ok("... with the other rows whose consent ended more than a day before", set(week) <= set(removed), removed)
        check("a purge with retention lowered in the configuration", db, n, removed, "less than 1095 days")
        got = verifiers(db, n, ("--min-retention-days", "1"))
        for v, (rc, text) in got.items():
            ok("... which %s accepts with --min-retention-days 1, noting the lowering" % v,
               rc == 0 and "lowered" in text, text.strip())
    finally:
        db.drop()


def main():
    global A, V
    ap = argparse.ArgumentParser()
    ap.add_argument("--sqlite")
    ap.add_argument("--pg")
    ap.add_argument("--pg-host")
    ap.add_argument("--pg-port")
    ap.add_argument("--build", required=True)
    ap.add_argument("--ini", required=True)
    ap.add_argument("--head", required=True)
    ap.add_argument("--from", dest="from_", required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--week-subject", required=True)
    ap.add_argument("--current-subject", required=True)
    A = ap.parse_args()
    os.makedirs(A.work, exist_ok=True)
    spec = importlib.util.spec_from_file_location(
        "verify", os.path.join(os.path.dirname(__file__), "../../src/cli/bundle/verify.py"))
    V = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(V)
    db0 = DB(0)
    try:
        n = generated(db0, 0)
        attacks(db0, n)
    finally:
        db0.drop()
    print("%d passed, %d failed" % (results["ok"], results["fail"]))
    return 1 if results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
