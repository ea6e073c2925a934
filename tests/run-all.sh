#!/usr/bin/env bash
# The test command: installs what is missing, builds six times and runs the
# tests in each: -Werror (every test), ASan+UBSan and ThreadSanitizer (the
# unit tests and the integration tests that load the daemon:
# tests/CMakeLists.txt leaves the browser, mutation and package tests to the
# plain build), each backend alone, and the fuzz targets. Each build's wall time is printed; the
# last line is the total.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"

bash conf/install-deps.sh --test || exit 1

# One private PostgreSQL cluster for the whole run (initdb in a temporary
# directory as the user postgres, a unix socket there only); every test that
# runs on PostgreSQL makes its own database in it. Stopped at the end.
export CG_SRC=$src
# shellcheck source=lib/pg.sh
source "$src/tests/lib/pg.sh"
cg_pg_start || { echo "cannot start the tests' PostgreSQL cluster"; echo "0 passed, 1 failed"; exit 1; }
trap cg_pg_stop EXIT

jobs=$(nproc)
total_pass=0
total_fail=0
status=0
# werror: the tests; asan: under ASan+UBSan (+LeakSanitizer); tsan: under
# ThreadSanitizer (its own build: it cannot share a process with ASan;
# optimised, as TSan is meant to run); sqlite-only, pg-only: each backend
# built alone (it links without the other), its unit tests and one
# integration test; fuzz: every libFuzzer target for CG_FUZZ_SECONDS
# (default 30 s) each
walls=()
for variant in werror asan tsan sqlite-only pg-only fuzz; do
	dir="$src/build-test-$variant"
	opts=(-DCG_WERROR=ON -DCMAKE_INSTALL_PREFIX=/usr)
	started=$SECONDS
	[ "$variant" = asan ] && opts+=(-DCG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
	[ "$variant" = tsan ] && opts+=(-DCG_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
	[ "$variant" = sqlite-only ] && opts+=(-DCG_POSTGRESQL=OFF)
	[ "$variant" = pg-only ] && opts+=(-DCG_SQLITE=OFF)
	only=()
	case $variant in *-only) only=(-R '^(unit_|layers_|integration_consent(_pg)?$)') ;; esac
	[ "$variant" = fuzz ] && opts+=(-DCMAKE_C_COMPILER=clang -DCG_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
	                               "-DCG_FUZZ_SECONDS=${CG_FUZZ_SECONDS:-30}")
	echo "=== build: $variant"
	if ! cmake -S "$src" -B "$dir" "${opts[@]}" >"$dir.cmake.log" 2>&1 ||
	   ! cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1; then
		cat "$dir.cmake.log" "$dir.build.log" 2>/dev/null | tail -40
		echo "build $variant failed"
		total_fail=$((total_fail + 1))
		status=1
		walls+=("$variant $((SECONDS - started)) s (build failed)")
		continue
	fi
	echo "=== tests: $variant"
	# LeakSanitizer runs with ASan; abort on the first UBSan report. TSan:
	# its suppressions (third-party libraries only, each with its reason);
	# a report in the daemon's log fails the test (tests/lib/stack.sh), one
	# in a tool's output makes it exit 66
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	TSAN_OPTIONS="suppressions=$src/tests/tsan.supp:second_deadlock_stack=1" \
		ctest --test-dir "$dir" --output-on-failure -j "$jobs" "${only[@]}" 2>&1 | tee "$dir.ctest.log"
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
	line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$dir.ctest.log" | tail -1)
	if [ -n "$line" ]; then
		n=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
		f=$(sed -E 's/.*passed, ([0-9]+) tests failed.*/\1/' <<<"$line")
		total_pass=$((total_pass + n - f))
		total_fail=$((total_fail + f))
	else
		total_fail=$((total_fail + 1))
		status=1
	fi
	walls+=("$variant $((SECONDS - started)) s")
	echo "=== $variant: $((SECONDS - started)) s (build and tests)"
done
echo "wall time per build: ${walls[*]/%/;} all $SECONDS s"
echo "$total_pass passed, $total_fail failed"
exit $status
