#!/usr/bin/env python3
"""consentgate.ini(5) against the binary: every directive the page documents
is accepted by `consentgated -t`, and the default the page states is the one
in effect (`consentgated -t -v` prints the configuration in effect); every
directive the binary knows is on the page. The directive table of
docs/configuration.md is held to the same: the same directives, the same
defaults.

The page's form this reads: `.Ss [section]` (`[destination.NAME]` for the
destinations, `[vendor.NAME]` for the vendors), `.It Ic key ...` per
directive (several `.It` lines before one body share it), and in each body
either "The default is" with the value on the next `.Ql` line, or "Unset by
default", or "Required.", or (a vendor's keys) "The catalogue's value by
default".

The table's form: one row per directive, `[section] key` in the first cell,
the default in the second: `value` (the first code span), a cell starting
with "—" (unset), with "required" or with "the catalogue's".

A vendor's keys are checked against a configuration that declares one (the
minimal one declares none): each documented key printed, each printed key
documented; their defaults are the catalogue's, not the binary's.

usage: directives.py SRC_DIR BUILD_DIR
"""
import grp
import os
import re
import shutil
import subprocess
import sys
import tempfile

REQUIRED = object()
CATALOGUE = object()  # a [vendor.NAME] key: the catalogue's value
# how consentgated -t -v names the one section of a family the tests write
FAMILY = {"destination": "destination.t", "vendor": "vendor.t"}
# values for a minimal configuration: the page's Required directives
MINIMAL = {
    "server.site": "example.no", "policy.version": "2023-12",
    "destination.type": "webhook", "destination.url": "http://127.0.0.1:9/x",
    "destination.purpose": "statistics",
}


def page_directives(path):
    """[(section, key, default)] in page order; default: text, "" or REQUIRED"""
    out, section, pending, body, bad = [], None, [], [], []

    def close():
        if not pending:
            return
        text = "\n".join(body)
        m = re.search(r"The default is\n\.Ql (.*)", text)
        if m:
            value = re.sub(r" [.,;:]$", "", m.group(1)).strip()
            default = value[1:-1] if value.startswith('"') else value
        elif "Unset by default" in text:
            default = ""
        elif "The catalogue's value by default" in text:
            default = CATALOGUE
        elif "Required." in text:
            default = REQUIRED
        else:
            bad.append(f"[{section}] {', '.join(pending)}: the page states no default")
            default = None
        out.extend((section, k, default) for k in pending)
        pending.clear()
        body.clear()

    for line in open(path, encoding="utf-8").read().split("\n"):
        if line.startswith(".Ss "):
            close()
            m = re.match(r"\.Ss \[([a-z]+)", line)
            section = m.group(1) if m else None
        elif line.startswith(".It Ic ") and section:
            if body:
                close()
            pending.append(line.split()[2])
        elif line.startswith(".El") or line.startswith(".Sh "):
            close()
            if line.startswith(".Sh "):
                section = None
        elif pending:
            body.append(line)
    return out, bad


def table_directives(path):
    """the same from docs/configuration.md's table"""
    out, bad = [], []
    for line in open(path, encoding="utf-8"):
        m = re.match(r"\| `\[([a-z]+)(?:\.NAME)?\] ([a-z_0-9]+)` \| ([^|]*) \|", line)
        if not m:
            continue
        s, k, cell = m.groups()
        d = re.match(r"`([^`]*)`", cell.strip())
        if d:
            out.append((s, k, d.group(1)))
        elif cell.strip().startswith("—"):
            out.append((s, k, ""))
        elif cell.strip().startswith("required"):
            out.append((s, k, REQUIRED))
        elif cell.strip().startswith("the catalogue's"):
            out.append((s, k, CATALOGUE))
        else:
            bad.append(f"docs/configuration.md: [{s}] {k}: no default in the form this test reads")
    return out, bad


def compare(doc, directives, effect):
    """what a document says against what consentgated -t -v printed"""
    bad = []
    for s, k, d in directives:
        if s == "vendor" and FAMILY[s] not in effect:
            continue
        got = effect.get(FAMILY.get(s, s), {}).get(k)
        if got is None:
            bad.append(f"{doc}: [{s}] {k}: documented, but consentgated -t -v does not print it")
        elif d not in (REQUIRED, CATALOGUE, None) and got != d:
            bad.append(f"{doc}: [{s}] {k}: the default documented is '{d}', in effect is '{got}'")
    documented = {(s, k) for s, k, _ in directives}
    for sec, keys in effect.items():
        for k in keys:
            s = sec.split(".")[0]
            if (s, k) not in documented:
                bad.append(f"{doc}: [{s}] {k}: consentgated knows it, the document does not")
    return bad


def read_ini(text):
    """{section: {key: value}} of consentgated -t -v's output"""
    sections, cur = {}, None
    for line in text.split("\n"):
        m = re.match(r"\[(.+)\]$", line)
        if m:
            cur = sections.setdefault(m.group(1), {})
        elif " =" in line and cur is not None:
            k, _, v = line.partition(" =")
            cur[k] = v.strip()
    return sections


def write_ini(path, values):
    """values: {(section, key): value}; destinations as [destination.t], vendors as [vendor.t]"""
    by = {}
    for (s, k), v in values.items():
        by.setdefault(FAMILY.get(s, s), []).append(f"{k} = {v}")
    with open(path, "w") as f:
        for s, lines in by.items():
            f.write(f"[{s}]\n" + "\n".join(lines) + "\n\n")


def run(daemon, ini, *flags):
    p = subprocess.run([daemon, *flags, "-c", ini], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def full_values(src, build, t):
    """a value the binary must accept for every directive whose default
    cannot stand in a test (paths of this machine) or that has none"""
    os.makedirs(f"{t}/run")
    os.makedirs(f"{t}/lib")
    shutil.copytree(f"{src}/web", f"{t}/web", ignore=shutil.ignore_patterns("demo"))
    subprocess.run([f"{build}/consentctl", "banner", "stamp", f"{t}/web"], check=True, capture_output=True)
    subprocess.run(["perl", f"{src}/geoip/build-test-mmdb.pl", f"{src}/geoip/test-networks.csv",
                    f"{t}/lib/country.mmdb"], check=True, capture_output=True)
    for name in ("notice.html", "token"):
        with open(f"{t}/{name}", "w") as f:
            f.write("test\n")
    return {
        "server.listen": f"{t}/run/fcgi.sock", "server.socket_group": grp.getgrgid(os.getgid()).gr_name,
        "policy.allowed_origins": "https://example.no https://www.example.no", "policy.url": "/personvern",
        "policy.notice_file": f"{t}/notice.html", "banner.dir": f"{t}/web",
        "storage.database": f"{t}/lib/consent.db", "storage.url": "postgresql:///consentgate",
        "geoip.database": f"{t}/lib/country.mmdb", "controller.name": "Example AS",
        "controller.contact": "personvern@example.no", "signing.key_file": f"{t}/lib/signing.key",
        "signing.anchor_command": "cat", "destination.type": "ga4",
        "destination.measurement_id": "G-TEST", "destination.api_secret": "s3cret",
        "destination.recipient": "Example Analytics Inc", "destination.country": "US",
        "destination.transfer_basis": "dpf", "destination.property_id": "123456",
        "destination.deletion_url": "http://127.0.0.1:9/del", "destination.deletion_token_file": f"{t}/token",
        "destination.vendor": "t", "vendors.catalogue": f"{src}/conf/vendors.ini",
        # a vendor the catalogue does not know: every key
        "vendor.title": "T", "vendor.category": "statistics", "vendor.hosts": "https://t.example",
        "vendor.cookies": "_t _t_*", "vendor.storage": "t_*", "vendor.recipient": "Example Analytics Inc",
        "vendor.country": "US", "vendor.transfer_basis": "dpf", "vendor.source": "https://t.example/cookies",
    }


def main():
    src, build = sys.argv[1], sys.argv[2]
    daemon = f"{build}/consentgated"
    page, bad = page_directives(f"{src}/docs/man/consentgate.ini.5")
    print(f"consentgate.ini(5) documents {len(page)} directives")
    t = tempfile.mkdtemp(prefix="cg-directives.")
    try:
        # 1. defaults: a configuration of the Required directives only
        minimal = {(s, k): MINIMAL.get(f"{s}.{k}", "") for s, k, d in page if d is REQUIRED}
        write_ini(f"{t}/minimal.ini", minimal)
        rc, out, err = run(daemon, f"{t}/minimal.ini", "-t", "-v")
        effect = read_ini(out)
        if not effect:
            bad.append(f"consentgated -t -v printed no configuration (exit {rc}): {err.strip()}")
        bad += compare("consentgate.ini(5)", page, effect)
        table, why = table_directives(f"{src}/docs/configuration.md")
        bad += why + compare("docs/configuration.md", table, effect)
        # 2. every documented directive, given, is accepted by consentgated -t
        tries = full_values(src, build, t)
        full = {}
        for s, k, d in page:
            v = tries.get(f"{s}.{k}", MINIMAL.get(f"{s}.{k}") if d is REQUIRED or d == "" else d)
            if v is None:
                bad.append(f"[{s}] {k}: no value to try (add one to this test)")
            else:
                full[(s, k)] = v
        write_ini(f"{t}/full.ini", full)
        rc, out, err = run(daemon, f"{t}/full.ini", "-t")
        if rc != 0 or "configuration OK" not in out:
            bad.append(f"consentgated -t on every documented directive: exit {rc}: {err.strip()}")
        else:
            print(f"consentgated -t accepts all {len(full)} of them: {out.strip()}")
        # 3. what consentgated(8) says of -v: never the GA4 secret; only with -t
        rc, out, err = run(daemon, f"{t}/full.ini", "-t", "-v")
        if rc != 0 or "s3cret" in out or "api_secret = (set, not printed)" not in out:
            bad.append(f"consentgated -t -v: exit {rc}; api_secret must read '(set, not printed)'")
        # ...and a vendor's keys, as it prints them, against both documents
        vendor = {FAMILY["vendor"]: read_ini(out).get(FAMILY["vendor"], {})}
        if not vendor[FAMILY["vendor"]]:
            bad.append("consentgated -t -v printed no [vendor.t]")
        bad += compare("consentgate.ini(5)", [e for e in page if e[0] == "vendor"], vendor)
        bad += compare("docs/configuration.md", [e for e in table if e[0] == "vendor"], vendor)
        rc, out, err = run(daemon, f"{t}/full.ini", "-v")
        if rc != 2:
            bad.append(f"consentgated -v without -t: exit {rc}, not 2 (usage)")
    finally:
        shutil.rmtree(t, ignore_errors=True)
    for b in bad:
        print("FAIL -", b)
    print(f"{len(page)} directives, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
