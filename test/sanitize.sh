#!/usr/bin/env bash
# test/sanitize.sh: automation-worker and automation-api under
# AddressSanitizer and UndefinedBehaviorSanitizer, through their end-to-end
# suites (the API: test/e2e/api_hostile.sh and test/e2e/api.sh).
#
# Builds a sanitized copy of the worker in a temp directory (PGXS's COPT adds
# the flags to compiling and linking), starts a throwaway cluster, runs
# test/e2e/worker.sh with WORKER pointing at that binary, and fails if any
# sanitizer report appears in the worker logs.  The pure parsers run under the
# same sanitizers in `make -C test/unit check`; test/e2e/worker_lease.sh runs
# with it too; the server-side library runs
# under valgrind (test/memcheck.sh).  Not part of test/run-all.sh (about 2 min).
set -uo pipefail
cd "$(dirname "$0")/.."
. test/lib/deps.sh
. test/lib/cluster.sh
install_deps && build_and_install || exit 1

build=$(mktemp -d /tmp/automation-asan.XXXXXX)
cp src/worker/*.c src/worker/*.h src/worker/Makefile "$build"/
make -s -C "$build" PG_CONFIG=$PGBIN/pg_config VOCABULARY_DIR="$PWD/src" \
	COPT="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g" || exit 1
# a sanitizer that is not linked in would make this test pass vacuously
# (the symbols are read first: grep -q closing a pipe early makes nm fail
# with SIGPIPE under pipefail)
symbols=$(nm -D "$build/automation-worker")
if ! grep -q __asan_init <<<"$symbols" || ! grep -q __ubsan_handle <<<"$symbols"; then
	echo "the worker was not built with AddressSanitizer and UBSan"
	exit 1
fi
logs=$(mktemp -d /tmp/automation-asan-logs.XXXXXX)
chmod 777 "$logs"

cluster_start || exit 1
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$logs/ubsan"
WORKER="$build/automation-worker" bash test/e2e/worker.sh
status=$?
# the lease arithmetic and the hand-back path, with two workers
WORKER="$build/automation-worker" bash test/e2e/worker_lease.sh || status=1

# the HTTP API: the hostile sweep and the end-to-end suite
api_build=$(mktemp -d /tmp/automation-api-asan.XXXXXX)
cp src/api/*.c src/api/*.h src/api/openapi.json src/api/Makefile "$api_build"/
rm -f "$api_build/openapi.c"
make -s -C "$api_build" PG_CONFIG=$PGBIN/pg_config \
	COPT="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g" || exit 1
symbols=$(nm -D "$api_build/automation-api")
if ! grep -q __asan_init <<<"$symbols" || ! grep -q __ubsan_handle <<<"$symbols"; then
	echo "automation-api was not built with AddressSanitizer and UBSan"
	exit 1
fi
APIBIN="$api_build/automation-api" bash test/e2e/api_hostile.sh || status=1
APIBIN="$api_build/automation-api" bash test/e2e/api.sh || status=1
rm -rf "$api_build"

reports=$(cat "$logs"/asan* "$logs"/ubsan* 2>/dev/null | grep -E "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error" | sort | uniq -c)
rm -rf "$build"
if [ -n "$reports" ]; then
	echo "sanitizer reports (full logs in $logs):"
	echo "$reports"
	status=1
else
	rm -rf "$logs"
	echo "no sanitizer report"
fi
exit $status
