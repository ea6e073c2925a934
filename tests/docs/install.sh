#!/usr/bin/env bash
# cmake --install puts the documentation where readers and Debian's tools
# look: each manual page of docs/man/ in share/man/manN/, gzip -9n (no file
# name, no time stamp, best compression) holding the page byte for byte and
# readable by man; the README and docs/ in the doc directory, in the
# repository's layout, so their links resolve there too.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
T=$(mktemp -d /tmp/cg-install-docs.XXXXXX)
trap 'rm -rf "$T"' EXIT

DESTDIR="$T" cmake --install "$CG_BUILD" >"$T/install.log" 2>&1; rc=$?
expect_eq "cmake --install to a DESTDIR" 0 "$rc"
[ "$rc" -eq 0 ] || tail -5 "$T/install.log"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$CG_BUILD/CMakeCache.txt")
mandir=$T$prefix/share/man
for page in "$CG_SRC"/docs/man/*.[158]; do
	name=$(basename "$page")
	gz=$mandir/man${name##*.}/$name.gz
	if [ ! -f "$gz" ]; then
		not_ok "$name installed as share/man/man${name##*.}/$name.gz" "$(cd "$T" && find . -name "$name*")"
		continue
	fi
	ok "$name installed as share/man/man${name##*.}/$name.gz"
	# gzip header: magic 1f 8b, method 8, flags (no FNAME 0x08), mtime 0, XFL 2 (-9)
	hdr=$(od -An -tx1 -N10 "$gz" | tr -d ' \n')
	expect_eq "$name.gz: gzip -9n (no name, no time stamp, best compression)" "1f8b0800000000000203" "$hdr"
	expect_eq "$name.gz holds the page byte for byte" "" "$(zcat "$gz" | cmp - "$page" 2>&1)"
	expect_match "man reads the installed $name.gz" "[A-Za-z]" "$(MANWIDTH=80 man -l "$gz" 2>/dev/null | head -3)"
done
docdir=$T$prefix/share/doc/consentgate
expect_eq "README.md in share/doc/consentgate" "" "$(cmp "$docdir/README.md" "$CG_SRC/README.md" 2>&1)"
missing=""
for f in $(cd "$CG_SRC" && ls docs/*.md docs/bench/*.md); do
	cmp -s "$CG_SRC/$f" "$docdir/$f" || missing="$missing $f"
done
expect_eq "every document of docs/ in share/doc/consentgate/docs/" "" "$missing"
expect_eq "no manual page source among the documents" "" "$(ls "$docdir/docs/man" 2>/dev/null)"
cg_summary
