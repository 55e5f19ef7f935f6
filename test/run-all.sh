#!/usr/bin/env bash
# test/run-all.sh: every test of automation, from a fresh Debian 12 machine.
#
# Installs the dependencies, builds and installs the extension and worker,
# runs the unit tests and a bounded fuzz run of the pure parsers, starts a
# throwaway cluster (as postgres, temp dir, free port, automation preloaded),
# runs the regression and isolation suites and the worker's end-to-end tests,
# stops the cluster (also on failure) and exits non-zero on any failure.
#
#   FUZZ_SECONDS=N   seconds per fuzz harness (default 15)
#   KEEP_CLUSTER_LOG=1  keep the server log for inspection
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
. test/lib/deps.sh
. test/lib/cluster.sh

[ "${CI:-}" = true ] && export WERROR=1

install_deps || { echo "dependency installation failed"; exit 1; }
build_and_install || { echo "build failed"; exit 1; }

passed=0
failed=0
failed_names=()
step() {
	local name=$1; shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
		echo "--- ok: $name"
	else
		failed=$((failed + 1))
		failed_names+=("$name")
		echo "--- FAILED: $name"
	fi
}

show_diffs() {
	for f in regression.diffs output_iso/regression.diffs; do
		[ -s "$f" ] && { echo "----- $f"; head -300 "$f"; }
	done
	return 1
}

regress() {
	rm -f regression.diffs output_iso/regression.diffs
	make -s installcheck PG_CONFIG=$PGBIN/pg_config || show_diffs
}

[ -f test/unit/Makefile ] && step "unit tests (pure parsers, ASan+UBSan)" make -s -C test/unit check
[ -f test/fuzz/Makefile ] && step "fuzz (bounded, ${FUZZ_SECONDS:-15}s per harness)" make -s -C test/fuzz run FUZZ_SECONDS=${FUZZ_SECONDS:-15}

cluster_start || { echo "could not start the test cluster"; exit 1; }
# pg_regress writes results/ here and must read the suites; the server only
# needs the installed library.
step "regression and isolation suites" regress
for t in test/e2e/*.sh; do
	[ -f "$t" ] || continue
	step "end to end: $(basename "$t" .sh)" bash "$t"
done

echo
if [ $failed -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
