#!/usr/bin/env bash
# consentctl against hostile files and paths. A symbolic link planted at
# every file it writes (each output path, each temporary file) never makes
# it write through the link; -o '' and a missing -o are refused naming the
# flag; file names and hashes planted in the database ('../x') never take a
# file out of the directory given (notice show) or a member out of the
# bundle's folder; migrate --to refuses an empty, non-PostgreSQL or
# database-less target before anything is touched (on PostgreSQL runs the
# libpq defaults point at a real empty database, where the old behaviour
# moved the log and sealed the file); impossible days are refused; the
# daemon registers no notice under a name consentctl would refuse; a full
# disk leaves no cut file and says so. Both backends.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
CG_DIR=$(mktemp -d /tmp/cg-test.XXXXXX)
chmod 755 "$CG_DIR"
export CG_DIR
# the notice's name is also what a writer that took -o '' as "" would
# create at the root: a name of this test's own, removed if that happens
NAME=cg-hostile-notice.html
root_had=$([ -e "/$NAME" ] && echo 1)
DEFAULTS_DB=
trap 'umount "$CG_DIR/full" 2>/dev/null; [ -z "$root_had" ] && rm -f "/$NAME"; [ -n "$DEFAULTS_DB" ] && cg_pg_dropdb "$DEFAULTS_DB"; stack_stop' EXIT
printf '<!doctype html><title>Personvern</title><p>...\n' >"$CG_DIR/$NAME"
export CG_INI_EXTRA="
[policy]
notice_file = $CG_DIR/$NAME
"
stack_start || exit 1
CTL=("$CG_BUILD/consentctl" -c "$CG_INI")
today=$(date -u +%F)
NOTICE=$(sha256sum <"$CG_DIR/$NAME" | cut -c1-64)
expect_eq "a visitor chooses (the events name the build and the notice)" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		-d '{"choices":{"preferences":true,"statistics":false,"marketing":false},"policy_version":"2023-12"}' \
		"$CG_URL/consent")"
cg_stop_daemon # what follows is consentctl's alone

V=$CG_DIR/victim
printf 'precious\n' >"$V"
victim_intact() { # checks the victim, then restores it (the next case starts afresh)
	expect_eq "$1: the file the link points to is untouched" precious "$(cat "$V")"
	printf 'precious\n' >"$V"
}
plain_file() { [ -f "$1" ] && [ ! -L "$1" ] && echo regular; }

echo "# banner stamp DIR: its temporary file"
W=$CG_DIR/w
mkdir "$W" && cp "$CG_DIR/web/banner.js" "$CG_DIR/web/banner.css" "$W/"
printf '\n.x { }\n' >>"$W/banner.css" # a new build: stamping rewrites banner.js
ln -s "$V" "$W/.banner.js.stamp"      # the name older versions used
ln -s "$V" "$W/.banner.js.tmp"
out=$("$CG_BUILD/consentctl" banner stamp "$W" 2>&1); rc=$?
victim_intact "banner stamp with links at its temporary names"
expect_match "... refused, naming the temporary file in the way" '^1 .*\.banner\.js\.tmp.*exists' "$rc $out"
rm "$W/.banner.js.tmp"
out=$("$CG_BUILD/consentctl" banner stamp "$W" 2>&1); rc=$?
expect_match "once it is removed the stamp succeeds" '^0 [0-9a-f]{32}$' "$rc $out"
victim_intact "... and"
expect_eq "... banner.js stays a regular file in DIR, carrying the id" "regular $out" \
	"$(plain_file "$W/banner.js") $("$CG_BUILD/consentctl" banner id "$W" 2>&1)"
expect_eq "... and nothing else appears in DIR" ".banner.js.stamp banner.css banner.js" "$(ls -A "$W" | tr '\n' ' ' | sed 's/ $//')"
rm "$W/banner.js" && cp "$CG_DIR/web/banner.js" "$CG_DIR/banner-copy.js" &&
	ln -s "$CG_DIR/banner-copy.js" "$W/banner.js"
"$CG_BUILD/consentctl" banner stamp "$W" >/dev/null 2>&1
expect_eq "banner.js itself a link out of DIR: the link is replaced, its target untouched" "regular same" \
	"$(plain_file "$W/banner.js") $(cmp -s "$CG_DIR/web/banner.js" "$CG_DIR/banner-copy.js" && echo same)"

echo "# report -o FILE"
mkdir "$CG_DIR/r"
ln -s "$V" "$CG_DIR/r/report.txt"
out=$("${CTL[@]}" report -o "$CG_DIR/r/report.txt" 2>&1); rc=$?
victim_intact "report -o a link"
expect_eq "... the report replaces the link, in its directory" "0 regular" "$rc $(plain_file "$CG_DIR/r/report.txt")"
expect_match "... and holds the report" "^day +country" "$(head -1 "$CG_DIR/r/report.txt")"
ln -s "$V" "$CG_DIR/r/.report.txt.tmp"
out=$("${CTL[@]}" report -o "$CG_DIR/r/report.txt" 2>&1); rc=$?
victim_intact "report -o with a link at its temporary file"
expect_match "... refused, naming it" '^1 .*\.report\.txt\.tmp.*exists' "$rc $out"
rm "$CG_DIR/r/.report.txt.tmp"

echo "# notice show ID -o DIR, bundle -o FILE: links at the outputs"
mkdir "$CG_DIR/n"
ln -s "$V" "$CG_DIR/n/$NAME"
out=$("${CTL[@]}" notice show "$NOTICE" -o "$CG_DIR/n" 2>&1); rc=$?
victim_intact "notice show into a DIR with a link at the file's name"
expect_match "... refused" "^1 .*$NAME" "$rc $out"
rm "$CG_DIR/n/$NAME"
out=$("${CTL[@]}" notice show "$NOTICE" -o "$CG_DIR/n" 2>&1); rc=$?
expect_eq "notice show writes the notice, byte for byte" "0 same" "$rc $(cmp -s "$CG_DIR/n/$NAME" "$CG_DIR/$NAME" && echo same)"
mkdir "$CG_DIR/b"
ln -s "$V" "$CG_DIR/b/proof.tar.gz"
out=$("${CTL[@]}" bundle --from "$today" --to "$today" -o "$CG_DIR/b/proof.tar.gz" 2>&1); rc=$?
victim_intact "bundle -o a link"
expect_match "... refused: it never overwrites" '^1 .*exists already' "$rc $out"
ln -s "$CG_DIR/b/nowhere" "$CG_DIR/b/dangling.tar.gz"
out=$("${CTL[@]}" bundle --from "$today" --to "$today" -o "$CG_DIR/b/dangling.tar.gz" 2>&1); rc=$?
expect_eq "bundle -o a dangling link: refused, nothing created where it points" "1 absent" \
	"$rc $([ -e "$CG_DIR/b/nowhere" ] && echo present || echo absent)"
out=$("${CTL[@]}" bundle --from "$today" --to "$today" -o "$CG_DIR/b/real.tar.gz" 2>&1); rc=$?
expect_match "bundle writes its archive" "^0 wrote .*: 1 events" "$rc $out"
expect_eq "... leaving no temporary file in the directory" "dangling.tar.gz proof.tar.gz real.tar.gz" \
	"$(ls -A "$CG_DIR/b" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "... every member inside the bundle's folder" "" \
	"$(tar -tzf "$CG_DIR/b/real.tar.gz" | grep -Ev "^consentgate-bundle-$today-$today/([a-zA-Z0-9_-][a-zA-Z0-9_.-]*/?)+$")"

echo "# a full disk: no cut file left behind, and the reason given"
mkdir "$CG_DIR/full"
mount -t tmpfs -o size=8k tmpfs "$CG_DIR/full" || { echo "cannot mount a tmpfs (needs root)"; exit 1; }
out=$("${CTL[@]}" notice show "$(cat "$CG_DIR/build-id")" -o "$CG_DIR/full" 2>&1); rc=$?
expect_match "notice show BUILD on a full disk: fails, saying why" "^1 .*banner\.js: No space left on device" "$rc $out"
expect_eq "... banner.js not left cut short (banner.css fitted)" "banner.css" "$(ls -A "$CG_DIR/full" | tr '\n' ' ' | sed 's/ $//')"
dd if=/dev/zero of="$CG_DIR/full/filler" bs=1k count=8 2>/dev/null
out=$("${CTL[@]}" report -o "$CG_DIR/full/report.txt" 2>&1); rc=$?
expect_match "report -o on a full disk: fails, saying why" "^1 .*No space left on device" "$rc $out"
expect_eq "... nothing left of it" "banner.css filler" "$(ls -A "$CG_DIR/full" | tr '\n' ' ' | sed 's/ $//')"
umount "$CG_DIR/full"

echo "# -o empty or missing"
for args in "report" "bundle --from $today --to $today" "notice show $NOTICE"; do
	# shellcheck disable=SC2086 # the words of each case
	out=$("${CTL[@]}" $args -o '' 2>&1); rc=$?
	expect_match "$args -o '': refused, naming the flag" "^2 .*(-o|--output)" "$rc $out"
	# shellcheck disable=SC2086
	out=$("${CTL[@]}" $args --output= 2>&1); rc=$?
	expect_match "$args --output=: refused, naming the flag" "^2 .*(-o|--output)" "$rc $out"
done
expect_eq "... nothing was written at the root" "" "$([ -z "$root_had" ] && [ -e "/$NAME" ] && echo "/$NAME")"
out=$("${CTL[@]}" notice show "$NOTICE" 2>&1); rc=$?
expect_match "notice show without -o: refused, naming the flag" "^2 .*-o DIR" "$rc $out"
out=$("${CTL[@]}" bundle --from "$today" --to "$today" 2>&1); rc=$?
expect_match "bundle without -o: refused, naming the flag" "^2 .*-o FILE" "$rc $out"

echo "# names and hashes planted in the database"
for evil in "../escaped.html" "../../escaped.html" ".." "sub/x.html"; do
	rm -rf "$CG_DIR/o" "$CG_DIR/escaped.html" && mkdir -p "$CG_DIR/o/sub"
	sql "UPDATE shown_files SET name = '$evil' WHERE hash = '$NOTICE'" >/dev/null
	out=$("${CTL[@]}" notice show "$NOTICE" -o "$CG_DIR/o/sub" 2>&1); rc=$?
	expect_match "notice show, the store naming the file '$evil': refused" "^1 .*not a plain file name" "$rc $out"
	expect_eq "... nothing written in or around DIR" "" \
		"$(find "$CG_DIR/o" -mindepth 1 ! -path "$CG_DIR/o/sub"; ls "$CG_DIR/escaped.html" 2>/dev/null)"
	out=$("${CTL[@]}" bundle --from "$today" --to "$today" -o "$CG_DIR/o/evil.tar.gz" 2>&1); rc=$?
	expect_eq "bundle, the store naming a file '$evil': refused, no archive" "1 absent" \
		"$rc $([ -e "$CG_DIR/o/evil.tar.gz" ] && echo present || echo absent)"
done
sql "UPDATE shown_files SET name = '$NAME' WHERE hash = '$NOTICE'" >/dev/null
for evil in "../../../escaped" "../${NOTICE:3}"; do
	rm -f "$CG_DIR/o/evil.tar.gz"
	sql "UPDATE shown_files SET hash = '$evil' WHERE hash = '$NOTICE'; UPDATE artefacts SET hash = '$evil' WHERE hash = '$NOTICE'" >/dev/null
	out=$("${CTL[@]}" bundle --from "$today" --to "$today" -o "$CG_DIR/o/evil.tar.gz" 2>&1); rc=$?
	expect_eq "bundle, the store giving a file the hash '$evil': refused, no archive" "1 absent" \
		"$rc $([ -e "$CG_DIR/o/evil.tar.gz" ] && echo present || echo absent)"
	expect_match "... saying why" "not a SHA-256" "$out"
	sql "UPDATE shown_files SET hash = '$NOTICE' WHERE hash = '$evil'; UPDATE artefacts SET hash = '$NOTICE' WHERE hash = '$evil'" >/dev/null
done
out=$("${CTL[@]}" bundle --from "$today" --to "$today" -o "$CG_DIR/o/fine.tar.gz" 2>&1); rc=$?
expect_eq "with the rows put back, the bundle is written" 0 "$rc"

echo "# migrate --to: only a PostgreSQL URL or conninfo naming its database"
S=$CG_DIR/source.ini SRC=$CG_DIR/source.db
printf '[server]\nsite = test.example\nlisten = %s\n[policy]\nversion = 2023-12\n[storage]\ndatabase = %s\n' \
	"$CG_DIR/none.sock" "$SRC" >"$S"
"$CG_BUILD/consentctl" -c "$S" migrate >/dev/null
if [ "$CG_BACKEND" = postgresql ]; then
	# libpq's defaults lead to a real, empty database: where an unchecked
	# target would have gone
	DEFAULTS_DB=${CG_PG_DB}_defaults
	cg_pg_createdb "$DEFAULTS_DB" >/dev/null
	export PGHOST=$CG_PG_HOST PGPORT=$CG_PG_PORT PGUSER=cg PGDATABASE=$DEFAULTS_DB
fi
for to in "" "$SRC" "consentgate" "mysql://localhost/consentgate" "http://localhost/consentgate" \
	"host=/run/postgresql user=cg" "postgresql://localhost" "postgres://cg@localhost:5432/" "dbname=" \
	"postgresql://[::1/consentgate"; do
	out=$("$CG_BUILD/consentctl" -c "$S" migrate --to "$to" 2>&1); rc=$?
	expect_match "migrate --to '$to': refused" "^2 .*--to" "$rc $out"
	expect_eq "... the source untouched (not sealed)" 0 "$(sqlite3 "$SRC" "SELECT count(*) FROM meta WHERE key = 'moved_to'")"
done
out=$("$CG_BUILD/consentctl" -c "$S" migrate --to "dbname=nosuch host=$CG_DIR/nowhere" 2>&1); rc=$?
expect_match "a conninfo naming its database is taken (then fails to connect)" "^1 .*target" "$rc $out"
expect_no_match "... never printing the target's password" "s3cret" \
	"$("$CG_BUILD/consentctl" -c "$S" migrate --to "postgresql://cg:s3cret@localhost" 2>&1)"
if [ -n "$DEFAULTS_DB" ]; then
	expect_eq "nothing reached the database libpq's defaults name" "" \
		"$(pgsql "$DEFAULTS_DB" "SELECT relname FROM pg_class WHERE relname = 'events'")"
	unset PGHOST PGPORT PGUSER PGDATABASE
fi

echo "# impossible days"
for bad in "--from 2026-02-30 --to 2026-03-01" "--from 2026-01-01 --to 2026-13-01" \
	"--from 2025-02-29 --to 2025-03-01" "--from 2026-04-31 --to 2026-05-01" "--from 2026-1-01 --to 2026-01-02"; do
	# shellcheck disable=SC2086
	out=$("${CTL[@]}" bundle $bad -o "$CG_DIR/days.tar.gz" 2>&1); rc=$?
	expect_match "bundle $bad: refused, naming the day" "^2 .*is not a day" "$rc $out"
	expect_eq "... no archive written" absent "$([ -e "$CG_DIR/days.tar.gz" ] && echo present || echo absent)"
	rm -f "$CG_DIR/days.tar.gz"
done
out=$("${CTL[@]}" report --since 2026-02-30 2>&1); rc=$?
expect_match "report --since 2026-02-30: refused" "^2 .*--since.*is not a day" "$rc $out"
out=$("${CTL[@]}" purge --dry-run --now 2026-02-30T12:00:00.000Z 2>&1); rc=$?
expect_match "purge --now 2026-02-30T12:00:00.000Z: refused" "^2 .*--now" "$rc $out"
out=$("${CTL[@]}" bundle --from 2024-02-29 --to 2024-02-29 -o "$CG_DIR/leap.tar.gz" 2>&1); rc=$?
expect_match "a leap day is a day" "^0 wrote .*: 0 events" "$rc $out"

echo "# the daemon registers no file name consentctl would refuse"
cp "$CG_DIR/$NAME" "$CG_DIR/personvern erklæring.html"
sed "s#^notice_file = .*#notice_file = $CG_DIR/personvern erklæring.html#" "$CG_INI" >"$CG_DIR/bad-name.ini"
out=$("$CG_BUILD/consentgated" -t -c "$CG_DIR/bad-name.ini" 2>&1); rc=$?
expect_match "-t: a notice file whose name is not a plain one is refused, naming the rule" \
	"^1 .*notice_file: .*A-Z a-z 0-9 \. _ \+ -" "$rc $out"

cg_summary
