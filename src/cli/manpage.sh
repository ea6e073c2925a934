#!/bin/sh
# manpage.sh PAGE GENERATOR [OUT]: PAGE with its COMMANDS section (from
# ".Sh COMMANDS" up to the next ".Sh") replaced by what GENERATOR
# (consentctl_mdoc) prints, written to OUT, or back over PAGE.
page=${1:?usage: manpage.sh PAGE GENERATOR [OUT]}
gen=${2:?usage: manpage.sh PAGE GENERATOR [OUT]}
out=${3:-$page}
tmp=$(mktemp) || exit 1
"$gen" >"$tmp.cmds" || { rm -f "$tmp" "$tmp.cmds"; exit 1; }
awk -v cmds="$tmp.cmds" '
	/^\.Sh COMMANDS$/ { while ((getline l < cmds) > 0) print l; skip = 1; next }
	skip && /^\.Sh / { skip = 0 }
	!skip { print }' "$page" >"$tmp" && mv "$tmp" "$out"
rc=$?
rm -f "$tmp" "$tmp.cmds"
exit $rc
