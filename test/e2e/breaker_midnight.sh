#!/usr/bin/env bash
# test/e2e/breaker_midnight.sh: a transaction that starts before midnight
# UTC and fires after it counts for the day of its now(), in shared memory
# as in its firing row, so the budget is the same before and after a
# restart (issue 11, item 9).
#
# Own cluster, its clock moved with libfaketime (Debian's libfaketime) to
# a few seconds before the next midnight UTC.  A workflow allows 1 firing a
# day.  Session A begins before midnight, waits past it, fires and commits:
# it counts for the day before (its firing row says so).  Session B fires
# after midnight: the new day's budget is untouched, so it fires.  After a
# restart the count is rebuilt from the rows: a third firing is refused.
# In 0.2.0 A's slot was taken for the new day in memory (B refused) while
# its row said the day before (after a restart the new day looked unused).
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib/expect.sh

FAKELIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
if [ -z "$FAKELIB" ]; then
	echo "libfaketime not installed (test/lib/deps.sh installs it)"
	echo "0 passed, 1 failed"
	exit 1
fi
# the clock: 6 seconds before the next midnight UTC, from now on
now=$(date -u +%s)
midnight=$(( (now / 86400 + 1) * 86400 ))
export FAKETIME="+$(( midnight - 6 - now ))"
export FAKETIME_DONT_FAKE_MONOTONIC=1
export LD_PRELOAD=$FAKELIB
. test/lib/cluster.sh
unset CLUSTER_DIR
cluster_start >/dev/null || exit 1

DB=postgres
q "$DB" "CREATE EXTENSION automation;
	CREATE TABLE deals (id int PRIMARY KEY, stage text);
	SELECT automation.watch('deal', 'public.deals');
	SELECT automation.create_workflow('{\"name\": \"once a day\", \"condition_entity\": \"deal\",
		\"condition_field\": \"stage\", \"condition_operator\": \"equals\", \"condition_value\": \"won\",
		\"action_type\": \"webhook\", \"action_config\": {\"url\": \"https://example.com/w\"},
		\"max_triggers_per_day\": 1}')" >/dev/null || { echo "setup failed"; exit 1; }
check "the server's clock is just before midnight UTC" "t" \
	"$(q "$DB" "SELECT now() AT TIME ZONE 'UTC' < date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day'
	             AND now() AT TIME ZONE 'UTC' > date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day' - interval '60 seconds'")"

# A: starts before midnight, fires after it
q "$DB" "BEGIN;
	SELECT now();
	SELECT pg_sleep_until(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 day 1 second');
	INSERT INTO deals VALUES (1, 'won');
	COMMIT;" >/dev/null
check "A (started before midnight) fired" "fired" \
	"$(q "$DB" "SELECT outcome FROM automation.firings f JOIN deals d ON f.record_key = d.id::text WHERE d.id = 1")"
check "A's firing is dated the day before" "t" \
	"$(q "$DB" "SELECT fired_at < date_trunc('day', clock_timestamp() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
	             FROM automation.firings WHERE record_key = '1'")"
# B: after midnight, the new day's budget is untouched
q "$DB" "INSERT INTO deals VALUES (2, 'won')" >/dev/null
check "B (after midnight) fires: the new day's budget was not taken by A" "fired" \
	"$(q "$DB" "SELECT outcome FROM automation.firings WHERE record_key = '2'")"
# after a restart the count comes from the rows: the same budget
as_postgres "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w -t 60 -m fast restart >/dev/null
q "$DB" "INSERT INTO deals VALUES (3, 'won')" >/dev/null
check "after a restart a third firing is refused (B used the new day's one)" "circuit_breaker" \
	"$(q "$DB" "SELECT outcome FROM automation.firings WHERE record_key = '3'")"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
