#!/usr/bin/env python3
"""References that resolve: every reference to a document of this repository
names a file it contains and, with an anchor, a heading of that file.

What counts as a reference:
  * a markdown link to a local file, [text](path) or [text](path#anchor), in
    any .md file (relative to that file's folder; http(s)/mailto links and
    pure #anchor links to the same file are checked too, the latter against
    the file itself);
  * the textual form used in source, tests and configuration comments and
    in messages: docs/FILE.md or docs/FILE.md#anchor, and README.md#anchor
    (relative to the repository's root);
  * a manual page of this project, NAME(SECTION) with a NAME starting with
    "consent", which must exist as docs/man/NAME.SECTION.
Anchors are GitHub's: the heading in lower case, punctuation other than
'-' and '_' removed, spaces turned into '-'; a repeated heading gets -1, -2.
It also fails on any mention of the internal notes DESIGN.md, FACTS.md or
EXAMPLES.md, and on the old section-quoting form (README: "Heading").

usage: refs.py SRC_DIR       prints every broken reference, exit 1 if any
"""
import os
import re
import sys

ROOTS = ["src", "include", "tests", "conf", "web", "docs", "geoip", "README.md", "CMakeLists.txt", ".ci"]
SKIP_DIRS = {"corpus", "regressions", "node_modules"}
TEXT_EXT = {".c", ".h", ".sh", ".py", ".pl", ".mjs", ".js", ".css", ".html", ".md", ".txt",
            ".ini", ".conf", ".in", ".sql", ".cmake", ".lua", ".php", ".service", ".json", ""}

MD_LINK = re.compile(r"\]\(([^)\s]+)\)")
TEXT_REF = re.compile(r"(?<![\w/.-])((?:docs/[\w./-]*?\.md|README\.md)(?:#[\w-]+)?)")
MAN_REF = re.compile(r"\b(consent[\w.]*)\((\d)\)")
FORBIDDEN = re.compile(r"\b(DESIGN|FACTS|EXAMPLES)\.md\b")
OLD_FORM = re.compile(r"README[:,]? *[\"“]|\(README\)|see (the )?README\b(?!\.md)")


def slug(heading):
    h = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        found, seen, fence = set(), {}, False
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("```"):
                    fence = not fence
                m = None if fence else re.match(r"#{1,6} +(.*?) *#*$", line.rstrip("\n"))
                if m:
                    s = slug(m.group(1))
                    n = seen.get(s, 0)
                    seen[s] = n + 1
                    found.add(s if n == 0 else f"{s}-{n}")
        cache[path] = found
    return cache[path]


def files(src):
    for root in ROOTS:
        top = os.path.join(src, root)
        if os.path.isfile(top):
            yield top
            continue
        for d, dirs, names in os.walk(top):
            dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
            for n in names:
                if os.path.splitext(n)[1] in TEXT_EXT or n.endswith((".1", ".5", ".8")):
                    yield os.path.join(d, n)


def check(src, path, target, base, where, bad):
    file, _, anchor = target.partition("#")
    full = os.path.normpath(os.path.join(base, file)) if file else path
    if not full.startswith(src):
        bad.append(f"{where}: {target}: outside the repository")
    elif not os.path.exists(full):
        bad.append(f"{where}: {target}: no such file")
    elif anchor and (not full.endswith(".md") or anchor not in anchors(full)):
        bad.append(f"{where}: {target}: no heading with anchor #{anchor} in {os.path.relpath(full, src)}")


def main():
    src = os.path.abspath(sys.argv[1])
    bad, n = [], 0
    for path in files(src):
        rel = os.path.relpath(path, src)
        if rel == "tests/lint/refs.py":
            continue
        try:
            text = open(path, encoding="utf-8").read()
        except UnicodeDecodeError:
            continue
        for no, line in enumerate(text.split("\n"), 1):
            where = f"{rel}:{no}"
            if FORBIDDEN.search(line):
                bad.append(f"{where}: mentions {FORBIDDEN.search(line).group(0)}, which this repository does not contain")
            if OLD_FORM.search(line):
                bad.append(f"{where}: a README section named without its file: write docs/FILE.md#anchor")
            if path.endswith(".md"):
                for m in MD_LINK.finditer(line):
                    t = m.group(1)
                    if re.match(r"[a-z]+:", t):
                        continue
                    n += 1
                    check(src, path, t, os.path.dirname(path), where, bad)
            else:
                for m in TEXT_REF.finditer(line):
                    n += 1
                    check(src, path, m.group(1), src, where, bad)
            for m in MAN_REF.finditer(line):
                n += 1
                page = os.path.join(src, "docs", "man", f"{m.group(1)}.{m.group(2)}")
                if not os.path.exists(page):
                    bad.append(f"{where}: {m.group(0)}: no manual page docs/man/{m.group(1)}.{m.group(2)}")
    for b in bad:
        print(b)
    print(f"{n} references checked, {len(bad)} broken")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
