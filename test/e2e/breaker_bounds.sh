#!/usr/bin/env bash
# test/e2e/breaker_bounds.sh: the shared breaker table is bounded and
# evictable, and a full table degrades to counting from rows without an
# error, in this database or another, and without taking shared memory
# from the lock manager (issue 11, item 4).
#
# Own cluster (the table is shared by the whole server).  20,000 entries at
# most: database c fires 100 workflows, then is dropped.  Database a fires
# 20,100 workflows in one transaction that stays open (a reserved slot
# cannot be evicted): the dropped database's entries are evicted, 20,000
# entries fill the table and the last 100 workflows are counted from rows.
# While it is full, a new workflow is counted from rows, exactly, alone and
# under concurrency, and database b still fires.  Free shared memory never
# shrinks and a transaction taking 6,000 locks succeeds after all this.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
. test/lib/expect.sh
unset CLUSTER_DIR
cluster_start >/dev/null || exit 1
N=20100

free_shmem="SELECT size FROM pg_shmem_allocations WHERE name IS NULL"
many_locks="SELECT count(pg_advisory_xact_lock(g)) FROM generate_series(1, 6000) g"

# setup DB WORKFLOWS MAX: a watched table and WORKFLOWS workflows on it
setup() {
	createdb "$1" && q "$1" "CREATE EXTENSION automation;
		CREATE TABLE deals (id int PRIMARY KEY, status text);
		SELECT automation.watch('deal', 'public.deals');
		INSERT INTO automation.workflows (name, condition_entity, condition_field,
			condition_operator, condition_value, action_type, action_config, max_triggers_per_day)
		SELECT 'w' || g, 'deal', 'status', 'equals', 'won', 'webhook',
			   jsonb_build_object('url', 'https://hooks.example.com/won'), $3
		  FROM generate_series(1, $2) g;" >/dev/null
}

check "6,000 locks in one transaction before" 6000 "$(q postgres "$many_locks")"
q postgres "SELECT name, size FROM pg_shmem_allocations ORDER BY name" >"$CLUSTER_DIR/shmem0"
free0=$(q postgres "$free_shmem")

# database c: a few workflows fire once, then the database is dropped
setup c 100 100
q c "INSERT INTO deals VALUES (1, 'won')" >/dev/null
check "database c: 100 entries" 100 "$(q c "SELECT count(*) FROM automation._breaker_state()")"
dropdb c

# database a: more workflows than entries fire in a transaction that stays
# open (reserved slots cannot be evicted): the dropped database's entries
# make room, the table fills, the last 100 are counted from rows
setup a $N 100
coproc HOLD { psql -X -q -At -d a 2>&1; }
echo "BEGIN; INSERT INTO deals VALUES (1, 'won'); SELECT 'held';" >&"${HOLD[1]}"
read -r -t 120 held <&"${HOLD[0]}"
check "database a: $N workflows fire in one transaction, no error" held "$held"
check "database a: the dropped database's entries were evicted, the table is full" 20000 \
	"$(q a "SELECT count(*) FROM automation._breaker_state() WHERE reserved = 1")"

# a new workflow in the full table: counted from rows, exactly
q a "INSERT INTO automation.workflows (name, condition_entity, condition_field,
		condition_operator, condition_value, action_type, action_config, max_triggers_per_day)
	VALUES ('three', 'deal', 'status', 'equals', 'new', 'webhook', '{\"url\": \"https://hooks.example.com/new\"}', 3)" >/dev/null
for i in 1 2 3 4 5; do q a "INSERT INTO deals VALUES ($((100 + i)), 'new')" >/dev/null; done
check "degraded: 3 of 3 fire, the 4th trips, the 5th no longer matches" "circuit_breaker 1|fired 3|alerts 1|disabled circuit_breaker" \
	"$(q a "SELECT f.outcome || ' ' || count(*) FROM automation.firings f JOIN automation.workflows w ON w.id = f.workflow_id
	         WHERE w.name = 'three' GROUP BY f.outcome ORDER BY f.outcome;
	        SELECT 'alerts ' || count(*) FROM automation.alerts;
	        SELECT 'disabled ' || disabled_reason FROM automation.workflows WHERE name = 'three'" | paste -sd'|')"
check "degraded: the workflow has no entry" 0 "$(q a "SELECT count(*) FROM automation._breaker_state() s JOIN automation.workflows w ON w.id = s.workflow_id WHERE w.name = 'three'")"

# a rolled-back subtransaction gives its degraded slot back
q a "INSERT INTO automation.workflows (name, condition_entity, condition_field,
		condition_operator, condition_value, action_type, action_config, max_triggers_per_day)
	VALUES ('two', 'deal', 'status', 'equals', 'warm', 'webhook', '{\"url\": \"https://hooks.example.com/warm\"}', 2)" >/dev/null
psql -X -q -d a -c "BEGIN; SAVEPOINT s; INSERT INTO deals VALUES (201, 'warm'); ROLLBACK TO SAVEPOINT s;
	INSERT INTO deals VALUES (202, 'warm'); INSERT INTO deals VALUES (203, 'warm'); INSERT INTO deals VALUES (204, 'warm'); COMMIT;" 2>&1
check "degraded: a savepoint's slot comes back, 2 of 2 fire, one trip" "circuit_breaker 1|fired 2" \
	"$(q a "SELECT f.outcome || ' ' || count(*) FROM automation.firings f JOIN automation.workflows w ON w.id = f.workflow_id
	         WHERE w.name = 'two' GROUP BY f.outcome ORDER BY f.outcome" | paste -sd'|')"

# concurrently: 4 clients, 200 matching inserts, a budget of 50
q a "TRUNCATE automation.alerts;
	INSERT INTO automation.workflows (name, condition_entity, condition_field,
		condition_operator, condition_value, action_type, action_config, max_triggers_per_day)
	VALUES ('fifty', 'deal', 'status', 'equals', 'hot', 'webhook', '{\"url\": \"https://hooks.example.com/hot\"}', 50);
	CREATE SEQUENCE ids START 1000" >/dev/null
echo "INSERT INTO deals VALUES (nextval('ids'), 'hot');" >"$CLUSTER_DIR/hot.sql"
chmod a+r "$CLUSTER_DIR/hot.sql"
pgbench -n -c 4 -j 4 -t 50 -f "$CLUSTER_DIR/hot.sql" a >"$CLUSTER_DIR/pgbench.log" 2>&1
check "degraded under concurrency: every insert committed" 200 "$(q a "SELECT count(*) FROM deals WHERE status = 'hot'")"
check "degraded under concurrency: exactly 50 fired, one trip" "fired 50|alerts 1" \
	"$(q a "SELECT 'fired ' || count(*) FROM automation.firings f JOIN automation.workflows w ON w.id = f.workflow_id
	         WHERE w.name = 'fifty' AND f.outcome = 'fired';
	        SELECT 'alerts ' || count(*) FROM automation.alerts" | paste -sd'|')"

# another database fires while the table is full
setup b 1 100
check "database b: a write fires while the table is full" "INSERT 0 1|1" \
	"$(psql -X -q -d b -At -c "INSERT INTO deals VALUES (1, 'won')" -c "SELECT 'INSERT 0 ' || count(*) FROM deals" -c "SELECT count(*) FROM automation.firings WHERE outcome = 'fired'" 2>&1 | paste -sd'|')"

echo "COMMIT; SELECT 'committed';" >&"${HOLD[1]}"
read -r -t 120 held <&"${HOLD[0]}"
check "database a: the held transaction commits its $N firings" "committed $N" \
	"$held $(q a "SELECT count(*) FROM automation.firings f JOIN automation.workflows w ON w.id = f.workflow_id
	              WHERE w.name LIKE 'w%' AND f.outcome = 'fired'")"
echo '\q' >&"${HOLD[1]}"
wait "$HOLD_PID" 2>/dev/null

check "free shared memory never shrank" "$free0" "$(q postgres "$free_shmem")"
q postgres "SELECT name, size FROM pg_shmem_allocations ORDER BY name" | diff "$CLUSTER_DIR/shmem0" - || true
check "6,000 locks in one transaction after" 6000 "$(q postgres "$many_locks")"
check "PREPARE TRANSACTION refused for a firing transaction (0A000)" "0A000" \
	"$(psql -X -q -d b -v VERBOSITY=verbose -c "BEGIN" -c "INSERT INTO deals VALUES (2, 'won')" -c "PREPARE TRANSACTION 'p'" 2>&1 | grep -o '0A000')"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
