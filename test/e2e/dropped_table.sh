#!/usr/bin/env bash
# test/e2e/dropped_table.sh: a watched table dropped leaves a clean state
# (issue 11, item 1).  In 0.2.0, automation._explain() on its entity
# dereferenced a NULL relation: a segfault, and the whole cluster restarted.
# Checks that the server keeps running (same postmaster start time, the
# other session's connection survives), explain answers P0002, unwatch
# cleans up and the entity can be watched again.
#
# Runs against the cluster of PGHOST/PGPORT/PGUSER (automation preloaded);
# creates and drops its own database.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib/expect.sh
DB=automation_dropped_$$
cleanup() { dropdb --if-exists "$DB" >/dev/null 2>&1; }
trap cleanup EXIT
createdb "$DB" || exit 1
qv() { psql -X -q -At -v VERBOSITY=verbose -d "$1" -c "$2" 2>&1; }

q "$DB" "CREATE EXTENSION automation;
	CREATE TABLE deals (id int PRIMARY KEY, stage text);
	SELECT automation.watch('deal', 'public.deals');
	SELECT automation.create_workflow('{\"name\": \"won\", \"condition_entity\": \"deal\",
		\"condition_field\": \"stage\", \"condition_operator\": \"equals\", \"condition_value\": \"won\",
		\"action_type\": \"webhook\", \"action_config\": {\"url\": \"https://example.com/w\"}}');
	INSERT INTO deals VALUES (1, 'won');" >/dev/null || { echo "setup failed"; exit 1; }
started=$(q "$DB" "SELECT pg_postmaster_start_time()")
# a second session that must survive whatever the first one does
coproc watcher { psql -X -q -At -d "$DB"; }
echo "SELECT 'alive';" >&"${watcher[1]}"
read -r -t 10 first <&"${watcher[0]}"
check "a second session is connected" "alive" "$first"

q "$DB" "DROP TABLE deals" >/dev/null
check "automation._explain on the dropped table's entity: P0002" "P0002" \
	"$(qv "$DB" "SELECT * FROM automation._explain('deal', '{\"id\": 1}', NULL)" | grep -o 'P0002' | head -1)"
check "automation.explain on it: P0002, not a syntax error" "P0002" \
	"$(qv "$DB" "SELECT * FROM automation.explain('deal', '{\"id\": 1}')" | grep -o 'P0002\|42601' | head -1)"
check "the server did not restart" "$started" "$(q "$DB" "SELECT pg_postmaster_start_time()")"
echo "SELECT 'still alive';" >&"${watcher[1]}"
read -r -t 10 second <&"${watcher[0]}"
check "the other session survived" "still alive" "$second"
echo '\q' >&"${watcher[1]}"
check "unwatch cleans up" "0" \
	"$(q "$DB" "SELECT automation.unwatch('deal', cascade => true); SELECT count(*) FROM automation.entities" | tail -1)"
check "the entity can be watched again" "deal" \
	"$(q "$DB" "CREATE TABLE deals (id int PRIMARY KEY, stage text);
	             SELECT automation.watch('deal', 'public.deals') ->> 'entity'")"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
