# shellcheck shell=bash
# Tiny assertion helpers for the integration scripts. Each script ends with
# `cg_summary`, which prints "N passed, N failed" and sets the exit status.
CG_PASS=0
CG_FAIL=0

ok() { CG_PASS=$((CG_PASS + 1)); echo "ok   - $1"; }
not_ok() { CG_FAIL=$((CG_FAIL + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && echo "       $2"; }

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "expected [$2], got [$3]"; fi
}
# expect_match NAME REGEX ACTUAL
expect_match() {
	if [[ $3 =~ $2 ]]; then ok "$1"; else not_ok "$1" "expected to match [$2], got [$3]"; fi
}
# expect_ge NAME MIN ACTUAL: an integer at least MIN (prints what was measured)
expect_ge() {
	if [[ $3 =~ ^-?[0-9]+$ ]] && [ "$3" -ge "$2" ]; then ok "$1 ($3 >= $2)"; else not_ok "$1" "expected >= $2, got [$3]"; fi
}
expect_no_match() {
	if [[ $3 =~ $2 ]]; then not_ok "$1" "must not match [$2], got [$3]"; else ok "$1"; fi
}

cg_summary() {
	echo "$CG_PASS passed, $CG_FAIL failed"
	[ "$CG_FAIL" -eq 0 ]
}

# In the sanitizer builds a report lands in the daemon's log (stderr); the
# harness's stack_stop checks it too (tests/lib/stack.sh), so a report fails
# the test that caused it even where the test does not look.
CG_SANITIZER_REPORT='ThreadSanitizer|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:'
expect_clean_daemon_log() {
	local hits
	hits=$(grep -E "$CG_SANITIZER_REPORT" "$1" 2>/dev/null | head -3)
	expect_eq "no sanitizer report in the daemon log" "" "$hits"
}
