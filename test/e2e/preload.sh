#!/usr/bin/env bash
# test/e2e/preload.sh: without shared_preload_libraries, CREATE EXTENSION
# fails with an error that says what to do, and creates nothing.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
unset CLUSTER_DIR
cluster_start "shared_preload_libraries = ''" || exit 1
out=$(psql -X -c 'CREATE EXTENSION automation' 2>&1)
passed=0 failed=0
check() {
	if eval "$2"; then passed=$((passed + 1)); echo "ok - $1"
	else failed=$((failed + 1)); echo "FAILED - $1: $out"; fi
}
check "refused with the preload error" 'grep -q "automation must be loaded via shared_preload_libraries" <<<"$out"'
check "hint says how to fix it" "grep -q \"HINT:  Add 'automation' to shared_preload_libraries\" <<<\"\$out\""
check "nothing was created" '[ "$(psql -X -Atc "SELECT count(*) FROM pg_namespace WHERE nspname = '"'"'automation'"'"'")" = 0 ]'
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
