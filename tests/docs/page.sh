#!/bin/sh
# consentctl(1) in the repository is what consentctl's command table says:
# its COMMANDS section, written anew by consentctl_mdoc, changes nothing.
# Fix: cmake --build BUILD --target consentctl_page, and commit the page.
src=${1:?usage: page.sh SRC_DIR BUILD_DIR}
build=${2:?usage: page.sh SRC_DIR BUILD_DIR}
t=$(mktemp) || exit 1
trap 'rm -f "$t"' EXIT
sh "$src/src/cli/manpage.sh" "$src/docs/man/consentctl.1" "$build/consentctl_mdoc" "$t" || exit 1
if ! diff -u "$src/docs/man/consentctl.1" "$t"; then
	echo "docs/man/consentctl.1 is not what the command table says:" \
	     "cmake --build $build --target consentctl_page, then commit the page"
	exit 1
fi
echo "docs/man/consentctl.1: its COMMANDS section is the command table's"
