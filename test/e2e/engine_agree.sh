#!/usr/bin/env bash
# test/e2e/engine_agree.sh: explain agrees with the trigger (issue 12).
#
# Random definitions and random row events from a fixed seed
# (test/e2e/engine_agree.sql, which says how to extend it with more
# observers, e.g. backtest counts); for every event, what
# automation.explain() predicted before the change must equal what the row
# trigger recorded for it: the same definitions, the same outcomes (fired,
# cooldown, circuit_breaker, depth_limit), the same number of jobs.  And
# every 200 events, backtest's matched count of each definition equals the
# rows for which the trigger fires when the same rows are inserted.
#
#   AGREE_SEED (default 0.42), AGREE_EVENTS (600), AGREE_ROWS (40),
#   AGREE_WORKFLOWS (25), AGREE_RULES (60)
#
# Runs against the cluster of PGHOST/PGPORT/PGUSER (automation preloaded);
# creates and drops its own database.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib/expect.sh
DB=automation_engine_agree_$$
cleanup() { dropdb --if-exists "$DB" >/dev/null 2>&1; }
trap cleanup EXIT

createdb "$DB" || exit 1
q "$DB" "CREATE EXTENSION automation" >/dev/null
out=$(psql -X -q -v ON_ERROR_STOP=1 -d "$DB" \
	-v seed="${AGREE_SEED:-0.42}" -v events="${AGREE_EVENTS:-600}" -v rows="${AGREE_ROWS:-40}" \
	-v workflows="${AGREE_WORKFLOWS:-25}" -v rules="${AGREE_RULES:-60}" \
	-f test/e2e/engine_agree.sql 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
check "the agreement test ran" 0 "$rc"
check "explain predicted what the trigger did, event by event" "disagreements: 0" \
	"$(grep -o 'disagreements: [0-9]*' <<<"$out")"
check "backtest counted the rows the trigger fires for on their insert" "backtest mismatches: 0" \
	"$(grep -o 'backtest mismatches: [0-9]*' <<<"$out")"
check "backtest was compared with matches" yes \
	"$(n=$(sed -n 's/.*comparisons: [0-9]*, matches: \([0-9]*\).*/\1/p' <<<"$out"); [ "${n:-0}" -gt 0 ] && echo yes || echo "no ($n)")"
# the run must exercise the paths it compares
for outcome in fired cooldown circuit_breaker; do
	n=$(sed -n "s/^ *outcome $outcome: \([0-9]*\).*/\1/p" <<<"$out")
	check "the run has $outcome outcomes" yes "$([ "${n:-0}" -gt 0 ] && echo yes || echo "no ($n)")"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
