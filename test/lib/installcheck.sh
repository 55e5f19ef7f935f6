#!/usr/bin/env bash
# test/lib/installcheck.sh: what `make installcheck` runs (doc/CONTRACTS.md,
# "Tests").
#
# The regression suites (sql/, expected/) and the isolation specs
# (test/isolation/) need a server with automation preloaded, which an
# ordinary server is not.  So:
#   - PGHOST or PGPORT set, or USE_EXISTING=1: run them against that server
#     (test/run-all.sh, test/memcheck.sh and the README's cluster recipe
#     start one and export PGHOST/PGPORT);
#   - otherwise: start a throwaway instance of the PostgreSQL of PG_CONFIG
#     (test/lib/cluster.sh: as postgres, in a temp directory, on a free
#     port, shared_preload_libraries = automation), run them there, stop it
#     and remove it on exit, success or failure (KEEP_CLUSTER_LOG=1 keeps
#     its server log).  It installs nothing: `make install` into that
#     PostgreSQL first.
# REGRESS= and ISOLATION= given to make choose the suites and specs, as with
# PGXS (empty: none).  Exits with the suites' status.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
MAKE=${MAKE:-make}

run_suites() {
	# the command line's variables (REGRESS=...) reach it through MAKEFLAGS
	"$MAKE" --no-print-directory installcheck-existing
}

if [ "${USE_EXISTING:-}" = 1 ] || [ -n "${PGHOST:-}" ] || [ -n "${PGPORT:-}" ]; then
	run_suites
	exit
fi

# the PostgreSQL test/lib/cluster.sh starts
PGBIN=$("${PG_CONFIG:-pg_config}" --bindir) || { echo "installcheck: no pg_config" >&2; exit 1; }
if [ ! -f "$("${PG_CONFIG:-pg_config}" --pkglibdir)/automation.so" ]; then
	echo "installcheck: automation is not installed in $("${PG_CONFIG:-pg_config}" --pkglibdir); run make install first" >&2
	exit 1
fi
# shellcheck source=test/lib/cluster.sh
. test/lib/cluster.sh
# cluster_start stops the instance on EXIT.  A signal ends the suites and
# exits too: they run in the background, so the trap does not wait for them.
suites=
stop_suites() {
	[ -n "$suites" ] && kill "$suites" 2>/dev/null
	exit "$1"
}
trap 'stop_suites 130' INT
trap 'stop_suites 143' TERM
cluster_start || { echo "installcheck: could not start a temporary instance" >&2; exit 1; }
echo "installcheck: temporary instance on port $PGPORT (set PGPORT or USE_EXISTING=1 to use a running server)"
run_suites &
suites=$!
wait "$suites"
