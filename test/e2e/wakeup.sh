#!/usr/bin/env bash
# test/e2e/wakeup.sh: coalesced wake-ups and breaker recovery, end to end.
#
# Run by test/run-all.sh against its cluster (PGHOST, PGPORT, CLUSTER_DIR).
# Proves: commits never NOTIFY themselves, yet every burst of committed jobs
# is followed by a NOTIFY automation_jobs (fewer than one per commit); a
# commit after an idle period (notifier exited) is woken; a rollback wakes
# nobody; a notifier killed with SIGKILL (crash restart) comes back and
# wake-ups resume; a server restart rebuilds breaker counts from firings.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
createdb wakeup_e2e
trap 'dropdb --if-exists wakeup_e2e >/dev/null 2>&1 || true' EXIT
PGDATABASE=wakeup_e2e /usr/bin/python3 test/e2e/wakeup.py
