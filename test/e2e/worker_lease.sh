#!/usr/bin/env bash
# test/e2e/worker_lease.sh: leases and a worker's backlog (issue 11, item 7).
#
# Two real automation-worker processes against the local HTTP receiver
# (test/worker/http_receiver.py) and a slow endpoint.  Every job must be
# delivered exactly once:
#   1. the issue's settings: --concurrency 1 --batch 10 --lease 6 --timeout 5,
#      7 jobs on a 2-second endpoint (0.2.0: 12 deliveries for 7 jobs, the
#      worker ran its backlog past the leases while the other reclaimed it);
#   2. a worker whose loop is stuck (a database action that takes 7 s) while
#      a claimed webhook's lease expires and the other worker delivers it: the
#      stuck worker must not start it afterwards;
#   3. the same with a 4 s stall: the webhook's lease has not expired but is
#      too short for a delivery; it is handed back with its attempt refunded,
#      with a warning, and delivered once.
# This is the concurrency test of item 7 (the race is between processes, so
# an isolation spec cannot drive it).  Needs PGHOST/PGPORT/PGUSER of a cluster
# with automation preloaded and the worker installed; ~25 s.  Prints
# "N passed, M failed"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/../.."
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WORKER=${WORKER:-$($PGBIN/pg_config --bindir)/automation-worker}
DB=worker_lease_e2e
export PGDATABASE=$DB
TMP=$(mktemp -d /tmp/worker-lease.XXXXXX)
passed=0
failed=0
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	$PGBIN/dropdb --if-exists -f "$DB" >/dev/null 2>&1
	sql -d postgres -c 'DROP ROLE IF EXISTS lease_worker' 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

check() {	# check NAME CONDITION-COMMAND...
	local name=$1; shift
	if "$@"; then
		passed=$((passed + 1)); echo "ok - $name"
	else
		failed=$((failed + 1)); echo "FAILED - $name"
	fi
}
sql() { $PGBIN/psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
eq() { [ "$1" = "$2" ] || { echo "   expected [$2], got [$1]"; return 1; }; }
wait_for() {	# wait_for SECONDS SQL-RETURNING-t
	local deadline=$((SECONDS + $1))
	while [ $SECONDS -lt $deadline ]; do
		[ "$(sql -c "$2")" = t ] && return 0
		sleep 0.1
	done
	return 1
}
# webhook PATH: a webhook job as the engine would insert it; prints its id.
webhook() {
	sql -v url="$HTTP$1" <<-'EOF'
	INSERT INTO automation.jobs (source, workflow_id, action_type, entity, record_key, payload, run_as)
	VALUES ('workflow', 'wf_lease', 'webhook', 'deal', '1',
	        jsonb_build_object('event', jsonb_build_object('operation', 'INSERT', 'entity', 'deal',
	                               'record_key', '1', 'at', now(), 'depth', 0, 'source', 'workflow',
	                               'workflow_id', 'wf_lease', 'name', 'lease'),
	                           'config', jsonb_build_object('url', :'url'), 'new', '{"id": 1}'::jsonb),
	        'postgres')
	RETURNING id;
	EOF
}
# deliveries PREFIX: "path count" per path starting with PREFIX, one a line.
deliveries() {
	python3 - "$TMP/http.log" "$1" <<-'EOF'
	import collections, json, sys
	c = collections.Counter(e["path"] for e in map(json.loads, open(sys.argv[1]))
	                        if e["phase"] == "start" and e["path"].startswith(sys.argv[2]))
	print(" ".join("%s=%d" % kv for kv in sorted(c.items())))
	EOF
}
stop() { for p in "$@"; do kill -TERM "$p" 2>/dev/null; done; for p in "$@"; do wait "$p" 2>/dev/null; done; }

[ -x "$WORKER" ] || { echo "worker not installed at $WORKER"; echo "0 passed, 1 failed"; exit 1; }
$PGBIN/dropdb --if-exists -f "$DB" >/dev/null 2>&1
sql -d postgres -c 'DROP ROLE IF EXISTS lease_worker' 2>/dev/null
$PGBIN/createdb "$DB" && sql -c 'CREATE EXTENSION automation' &&
	sql -c "CREATE ROLE lease_worker LOGIN" -c "SELECT automation.grant_role('lease_worker', 'worker')" >/dev/null ||
	{ echo "0 passed, 1 failed"; exit 1; }
python3 test/worker/http_receiver.py "$TMP/http.port" "$TMP/http.log" & pids+=($!)
for _ in $(seq 100); do [ -s "$TMP/http.port" ] && break; sleep 0.05; done
HTTP="http://127.0.0.1:$(cat "$TMP/http.port")"
touch "$TMP/http.log"
OPTS=(--dbname "dbname=$DB" --allow-host 127.0.0.1 --poll 1 --concurrency 1 --batch 10)

# ------------------------------------------- 1. the issue's settings, 7 jobs
ids=()
for i in 1 2 3 4 5 6 7; do ids+=("$(webhook "/slow/2/dup-$i")"); done
idlist=$(IFS=,; echo "${ids[*]}")
"$WORKER" "${OPTS[@]}" --lease 6 --timeout 5 --worker-id lease-a 2>"$TMP/a1.log" & a=$!; pids+=($a)
"$WORKER" "${OPTS[@]}" --lease 6 --timeout 5 --worker-id lease-b 2>"$TMP/b1.log" & b=$!; pids+=($b)
wait_for 30 "SELECT count(*) FILTER (WHERE status = 'succeeded') = 7 FROM automation.jobs WHERE id IN ($idlist)"
stop $a $b	# both finish whatever they still hold first
check "issue settings (--concurrency 1 --batch 10 --lease 6 --timeout 5, 2 s endpoint, two workers): 7 jobs, 7 deliveries, one each" \
	eq "$(deliveries /slow/2/dup-)" "/slow/2/dup-1=1 /slow/2/dup-2=1 /slow/2/dup-3=1 /slow/2/dup-4=1 /slow/2/dup-5=1 /slow/2/dup-6=1 /slow/2/dup-7=1"
check "issue settings: every job succeeded on its first attempt" \
	eq "$(sql -c "SELECT string_agg(status || '/' || attempts, ' ' ORDER BY id) FROM automation.jobs WHERE id IN ($idlist)")" \
	"$(printf 'succeeded/1 %.0s' 1 2 3 4 5 6; echo succeeded/1)"
check "issue settings: the claim is bounded by what can start within the lease (1 job at a time), logged at start" \
	grep -q "claims at most 1 job(s) at a time" "$TMP/a1.log"
check "issue settings: both workers delivered" \
	eq "$(sql -c "SELECT count(DISTINCT locked_by) FROM automation.jobs WHERE id IN ($idlist)")" 2

# --------------------- a database action that holds the worker's loop (stall)
sql >/dev/null <<-'EOF'
	CREATE TABLE slowt (id int PRIMARY KEY, v text, pause float8, w text);
	CREATE FUNCTION slowt_pause() RETURNS trigger LANGUAGE plpgsql AS
		$$BEGIN IF NEW.w = 'done' THEN PERFORM pg_sleep(NEW.pause); END IF; RETURN NEW; END$$;
	CREATE TRIGGER slowt_pause BEFORE UPDATE ON slowt FOR EACH ROW EXECUTE FUNCTION slowt_pause();
	SELECT automation.watch('slow', 'public.slowt');
	SELECT automation.create_workflow('{"name": "slow action", "condition_entity": "slow",
		"condition_field": "v", "condition_operator": "changed_to", "condition_value": "go",
		"action_type": "update_field", "action_config": {"field": "w", "value": "done"}}');
	EOF
# stall ID SECONDS: enqueue (through a real firing) a database action that takes SECONDS
stall() {
	sql -c "INSERT INTO slowt VALUES ($1, 'go', $2)" >/dev/null
	sql -c "SELECT id FROM automation.jobs WHERE action_type = 'update_field' AND record_key = '$1'"
}

# ------- 2. the loop is stuck past the lease: the other worker delivers, once
s2=$(stall 2 7)
h2=$(webhook /slow/1/expired)
# lease 6, timeout 2: two jobs fit in the lease at concurrency 1, so A claims both
"$WORKER" "${OPTS[@]}" --lease 6 --timeout 2 --worker-id stuck-a 2>"$TMP/a2.log" & a=$!; pids+=($a)
wait_for 5 "SELECT count(*) = 2 FROM automation.jobs WHERE id IN ($s2, $h2) AND locked_by = 'stuck-a'"
"$WORKER" "${OPTS[@]}" --lease 6 --timeout 2 --worker-id rescue-b 2>"$TMP/b2.log" & b=$!; pids+=($b)
check "stuck worker: the other worker delivers the webhook after its lease expired" \
	wait_for 15 "SELECT status = 'succeeded' AND locked_by = 'rescue-b' FROM automation.jobs WHERE id = $h2"
check "stuck worker: the slow database action completes" \
	wait_for 10 "SELECT status = 'succeeded' FROM automation.jobs WHERE id = $s2"
sleep 1.5	# give a stuck worker on the old code time to send the webhook again
stop $a $b
check "stuck worker: the webhook whose lease expired in its backlog is not started again (one delivery)" \
	eq "$(deliveries /slow/1/expired)" "/slow/1/expired=1"
check "stuck worker: a warning names the job it did not start" \
	grep -q "warning: job=$h2 type=webhook not started: its lease expired" "$TMP/a2.log"

# ------ 3. a lease too short for a delivery: handed back, attempt refunded
# (as a role with grant_role(..., 'worker') only: the hand-back needs no more)
s3=$(stall 3 4)
h3=$(webhook /slow/1/short)
"$WORKER" "${OPTS[@]}" --dbname "dbname=$DB user=lease_worker" --lease 6 --timeout 2 --worker-id short-a 2>"$TMP/a3.log" &
a=$!; pids+=($a)
check "short lease: the webhook is delivered" \
	wait_for 15 "SELECT status = 'succeeded' FROM automation.jobs WHERE id = $h3"
stop $a
check "short lease: released unstarted with a warning, then claimed again with a fresh lease" \
	grep -q "warning: job=$h3 type=webhook not started: its lease ends in [0-9.]*s, less than the 2.[0-9]*s a delivery may take; handed back to the queue" "$TMP/a3.log"
check "short lease: a worker role (grant_role 'worker') hands the job back" \
	grep -q "handed back 1 unstarted job(s) to the queue" "$TMP/a3.log"
check "short lease: one delivery, one attempt counted (the unstarted claim was refunded)" \
	eq "$(deliveries /slow/1/short) $(sql -c "SELECT attempts FROM automation.jobs WHERE id = $h3")" "/slow/1/short=1 1"

echo
echo "$passed passed, $failed failed"
if [ $failed -gt 0 ]; then
	for f in "$TMP"/[ab]*.log; do echo "----- $f"; tail -25 "$f"; done
	echo "----- deliveries: $(deliveries /)"
fi
[ $failed -eq 0 ]
