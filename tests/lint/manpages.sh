#!/bin/sh
# The manual pages are clean: `mandoc -T lint` at every level (the pages
# together, so that their .Xr to one another resolve) and man-db's groff with
# --warnings at 80 columns. Prints every complaint.
#
# Two notes are about this machine, not the pages, and are let through:
# mandoc looks up pages of other packages (nginx(8), addr2line(1)) in the
# system's manual database, which may lack them or be out of date.
src=${1:?usage: manpages.sh SRC_DIR}
cd "$src/docs/man" || exit 1
pages=$(ls ./*.[158])   # relative: mandoc resolves .Xr among the pages given
[ -n "$pages" ] || { echo "no manual pages in $src/docs/man"; exit 1; }
bad=0
# shellcheck disable=SC2086 # one word per page
out=$(mandoc -T lint $pages 2>&1)
out=$(printf '%s\n' "$out" | grep -v -e 'outdated mandoc\.db lacks [a-z0-9]*([0-9]) entry' \
	-e 'STYLE: referenced manual not found: Xr \(nginx 8\|addr2line 1\)' | grep .)
if [ -n "$out" ]; then printf 'mandoc -T lint:\n%s\n' "$out"; bad=1; fi
for p in $pages; do
	w=$(MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
	if [ -n "$w" ]; then printf 'man --warnings -l %s:\n%s\n' "$p" "$w"; bad=1; fi
done
[ $bad -eq 0 ] && echo "$(echo "$pages" | wc -l) manual pages clean under mandoc -T lint and man --warnings"
exit $bad
