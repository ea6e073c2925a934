#!/bin/sh
# Keeps the code in small pieces: no source file over 700 lines, no function
# over 60 (a function here: from a line that starts its definition in column
# 0 to its closing brace in column 0). Prints every offender.
src=${1:?usage: sizes.sh SRC_DIR}
bad=0
for f in "$src"/src/*/*.c "$src"/src/*/*.h "$src"/src/*/*/*.c "$src"/src/*/*/*.h "$src"/include/consentgate/*.h; do
	[ -f "$f" ] || continue
	n=$(wc -l <"$f")
	if [ "$n" -gt 700 ]; then echo "$f: $n lines (> 700)"; bad=1; fi
	awk -v F="$f" '/^[a-z][^;]*\(/ && !/;$/ { name = $0; start = NR }
		/^}/ { if (start && NR - start > 60) { print F ":" start ": " NR - start " lines (> 60): " name; bad = 1 } start = 0 }
		END { exit bad }' "$f" || bad=1
done
exit $bad
