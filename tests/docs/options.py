#!/usr/bin/env python3
"""consentctl(1) against the binary: the subcommands the page lists are the
ones `consentctl --help` lists; every option the page lists for a subcommand
is accepted by it (given with a value of the kind the page shows, then
--help, which consentctl answers only once the options before it parsed);
every other option the page names anywhere, a made-up one and an
abbreviation are refused with exit 2, naming the subcommand.

The page's form this reads (what consentctl_mdoc writes): under
`.Sh COMMANDS`, one `.It Xo` per subcommand, its name on the `.Cm` line that
follows, its synopsis up to `.Xc`, then its options as `.It Fl ...` entries
of a nested `.Bl`.

usage: options.py SRC_DIR BUILD_DIR
"""
import re
import subprocess
import sys

# a value for each kind of value the page shows (Ar metavariables); a Cm
# value is used as written
VALUES = {
    "YYYY-MM-DD": "2026-01-01", "n": "5", "time": "2026-01-31T12:00:00.000Z",
    "id": "AAAAAAAAAAAAAAAAAAAAAA", "hex": "0" * 64, "path": "/nonexistent/consent.db",
    "file": "/nonexistent/out", "dir": "/nonexistent/dir", "url": "postgresql:///nonexistent",
    "keys.json": "/nonexistent/keys.json", "head.json": "/nonexistent/head.json",
    "file.tar.gz": "/nonexistent/out.tar.gz",
}


def page_commands(path):
    """{subcommand: {option: (macro, value kind) or None}}"""
    cmds, cur, state, words = {}, None, None, []
    for line in open(path, encoding="utf-8").read().split("\n"):
        if line.startswith(".Sh "):
            state = "commands" if line == ".Sh COMMANDS" else None
        elif state is None:
            continue
        elif line == ".It Xo":
            state, words = "name", []
        elif state == "name" and line.startswith(".Cm "):
            words = line.split()[1:]  # the name; arguments and options follow
            state = "head"
        elif state == "head" and line == ".Xc":
            cur = " ".join(words)
            cmds[cur] = {}
            state = "body"
        elif state == "body" and line.startswith(".Bl"):
            state = "opts"
        elif state == "opts" and line.startswith(".It Fl "):
            toks = line.split()[1:]
            kinds = [(t, toks[i + 1]) for i, t in enumerate(toks[:-1]) if t in ("Ar", "Cm")]
            for i, t in enumerate(toks[:-1]):
                if t == "Fl":
                    cmds[cur]["-" + toks[i + 1]] = kinds[0] if kinds else None
        elif state == "opts" and line == ".El":
            state = "commands"
    return cmds


def run(ctl, args):
    p = subprocess.run([ctl, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def value_for(kind):
    if kind is None:
        return []
    macro, word = kind
    return [word if macro == "Cm" else VALUES.get(word, VALUES.get(word.lower()))]


def main():
    src, build = sys.argv[1], sys.argv[2]
    ctl = f"{build}/consentctl"
    cmds = page_commands(f"{src}/docs/man/consentctl.1")
    bad, tried = [], 0
    rc, out, _ = run(ctl, ["--help"])
    listed = [re.split(r"  +", ln.strip())[0] for ln in out.split("subcommands:\n", 1)[-1].split("\n\n")[0].split("\n")]
    if sorted(listed) != sorted(cmds):
        bad.append(f"consentctl --help lists {sorted(listed)}, the page {sorted(cmds)}")
    every = {o: k for opts in cmds.values() for o, k in opts.items()}
    every.update({"--no-such-option": None})
    for name, opts in cmds.items():
        words = name.split()
        for opt, kind in opts.items():
            v = value_for(kind)
            if None in v:
                bad.append(f"{name} {opt}: no value for '{kind[1]}' (add one to VALUES)")
                continue
            rc, out, err = run(ctl, words + [opt] + v + ["--help"])
            tried += 1
            if rc != 0 or not out.startswith(f"usage: consentctl ") or f" {name}" not in out.split("\n")[0]:
                bad.append(f"{name} {opt} {' '.join(v)} --help: exit {rc}, {err.strip() or out[:80]}")
        for opt, kind in every.items():
            if opt in opts:
                continue
            v = value_for(kind) if kind else ["x"]
            rc, out, err = run(ctl, words + [opt] + [x or "x" for x in v] + ["--help"])
            tried += 1
            if rc != 2 or f"is not an option of {name}" not in err:
                bad.append(f"{name} {opt}: the page does not list it, consentctl took it (exit {rc}) {err.strip()}")
        # an abbreviation of an option it takes is no option either
        for opt in opts:
            if opt.startswith("--") and len(opt) > 4:
                rc, out, err = run(ctl, words + [opt[:4], "x", "--help"])
                tried += 1
                if rc != 2:
                    bad.append(f"{name} {opt[:4]}: an abbreviation of {opt}, taken (exit {rc})")
                break
    for b in bad:
        print("FAIL -", b)
    print(f"{len(cmds)} subcommands, {sum(len(o) for o in cmds.values())} options on the page, "
          f"{tried} command lines tried, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
