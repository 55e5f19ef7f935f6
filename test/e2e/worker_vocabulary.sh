#!/usr/bin/env bash
# test/e2e/worker_vocabulary.sh: automation-worker dispatches by the
# vocabulary (src/vocabulary.h), exhaustively (issue 12).
#
# A job whose action type the worker's build does not know (a newer
# extension's type, or a row written around the domain's CHECK) fails
# permanently at once, with an error naming the type, and is never sent
# down another path (0.3.0 sent anything that was not send_email as an HTTP
# request).  Known types keep their paths; --types accepts exactly the
# vocabulary's job spellings; every type of the vocabulary has its wake-up.
#
# Needs PGHOST/PGPORT/PGUSER of a cluster with automation preloaded and the
# worker installed (make install).  Creates and drops its own database.
# Prints "N passed, M failed"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/../.."
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WORKER=${WORKER:-$($PGBIN/pg_config --bindir)/automation-worker}
DB=worker_vocabulary_e2e
export PGDATABASE=$DB
TMP=$(mktemp -d /tmp/worker-vocab.XXXXXX)
passed=0
failed=0
pids=()

cleanup() {
	for p in "${pids[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null; done
	$PGBIN/dropdb --if-exists -f "$DB" >/dev/null 2>&1
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
# job TYPE CONFIG-JSON: insert a job as the engine would; prints its id.
job() {
	sql -v type="$1" -v cfg="$2" <<-'EOF'
	INSERT INTO automation.jobs (source, workflow_id, action_type, entity, record_key, payload, run_as)
	VALUES ('workflow', 'wf_e2e', :'type', 'deal', '42',
	        jsonb_build_object('event', jsonb_build_object('operation', 'UPDATE', 'entity', 'deal',
	                               'record_key', '42', 'at', now(), 'depth', 0, 'source', 'workflow',
	                               'workflow_id', 'wf_e2e', 'name', 'e2e'),
	                           'config', :'cfg'::jsonb, 'new', '{"id": 42}'::jsonb, 'old', null),
	        'postgres')
	RETURNING id;
	EOF
}
field() { sql -c "SELECT $2 FROM automation.jobs WHERE id = $1"; }

[ -x "$WORKER" ] || { echo "worker not installed at $WORKER"; echo "0 passed, 1 failed"; exit 1; }
$PGBIN/dropdb --if-exists -f "$DB" >/dev/null 2>&1
$PGBIN/createdb "$DB" && sql -c 'CREATE EXTENSION automation' || { echo "0 passed, 1 failed"; exit 1; }

python3 test/worker/http_receiver.py "$TMP/http.port" "$TMP/http.log" & pids+=($!)
for _ in $(seq 100); do [ -s "$TMP/http.port" ] && break; sleep 0.05; done
HTTP="http://127.0.0.1:$(cat "$TMP/http.port")"
touch "$TMP/http.log"

# --types: exactly the vocabulary's job spellings
known=$(sql -c "SELECT array_to_string(automation._job_action_types(), ',')")
"$WORKER" --dbname "dbname=$DB" --once --types "$known" >/dev/null 2>"$TMP/types-ok.log"
check "--types accepts every job spelling of the vocabulary ($known)" eq "$?" 0
"$WORKER" --dbname "dbname=$DB" --once --types webhook,fax >/dev/null 2>"$TMP/types-bad.log"
rc=$?
check "--types refuses a type outside the vocabulary (exit 2, names it and the known ones)" \
	bash -c "[ $rc = 2 ] && grep -q 'unknown action type \"fax\" (known: webhook, ' '$TMP/types-bad.log'"

# the database's own list is the vocabulary's: a type outside it is refused
out=$(job fax '{"url": "http://127.0.0.1/"}' 2>&1)
check "jobs.action_type refuses a type outside the vocabulary (domain CHECK generated from it)" \
	bash -c "grep -q 'job_action_type_check' <<<'$out'"

# every action type of the vocabulary wakes workers: one real firing of each
# type (a workflow or a rule per type), and a listener hears
# NOTIFY automation_jobs '<type>' for each (wakeup.c keeps one bit per
# ActionType; a type missing below fails this check, not silently)
sql >/dev/null <<-'EOF'
	CREATE TABLE deals (id int PRIMARY KEY, name text, owner_id text, stage_id int, tags text[]);
	CREATE TABLE tasks (id serial PRIMARY KEY, title text);
	SELECT automation.watch('deal', 'public.deals');
	SELECT automation.watch('task', 'public.tasks');
	INSERT INTO automation.channels (name, format, url) VALUES ('sales', 'slack', 'http://127.0.0.1:9/');
	CREATE FUNCTION wf(t text, cfg jsonb) RETURNS void LANGUAGE sql AS $$
		SELECT automation.create_workflow(jsonb_build_object('name', t, 'condition_entity', 'deal',
			'condition_field', 'id', 'condition_operator', 'greater_than', 'condition_value', '0',
			'action_type', t, 'action_config', cfg)) $$;
	CREATE FUNCTION rl(t text, cfg jsonb) RETURNS void LANGUAGE sql AS $$
		SELECT automation.create_rule(jsonb_build_object('name', t, 'entity_type', 'deal',
			'trigger_type', 'DEAL_CREATED', 'conditions', '[{"field_path": "id", "operator": "GT", "value_int": 0}]'::jsonb,
			'actions', jsonb_build_array(cfg || jsonb_build_object('action_type', t)))) $$;
	SELECT wf('webhook', '{"url": "http://127.0.0.1:9/"}');
	SELECT wf('send_channel_message', '{"channel": "sales", "message": "m"}');
	SELECT wf('send_email', '{"to": "a@example.com", "subject": "s", "body": "b"}');
	SELECT wf('update_field', '{"field": "name", "value": "x"}');
	SELECT wf('create_task', '{"title": "t"}');
	SELECT rl('ASSIGN_USER', jsonb_build_object('assign_pool_id', automation.create_user_pool('reps', '{ann}')));
	SELECT rl('CHANGE_STAGE', '{"stage_id": 2}');
	SELECT rl('TAG', '{"tag": "a"}');
	SELECT rl('UNTAG', '{"tag": "b"}');
	SELECT rl('NOTIFY', '{"recipient": "ann", "message": "m"}');
	EOF
woken=$(/usr/bin/python3 - <<-'EOF'
	import select, time, psycopg2
	listener = psycopg2.connect(""); listener.autocommit = True
	listener.cursor().execute("LISTEN automation_jobs")
	writer = psycopg2.connect(""); writer.autocommit = True
	writer.cursor().execute("INSERT INTO deals (id, name) VALUES (1, 'Acme')")
	got = set()
	deadline = time.time() + 10
	while time.time() < deadline:
	    if select.select([listener], [], [], 0.2)[0]:
	        listener.poll()
	        while listener.notifies:
	            got.add(listener.notifies.pop(0).payload)
	    cur = writer.cursor()
	    cur.execute("SELECT count(DISTINCT action_type) FROM automation.jobs")
	    if len(got) >= cur.fetchone()[0] and got:
	        break
	print(",".join(sorted(got)))
	EOF
)
check "every action type of the vocabulary wakes workers (one NOTIFY automation_jobs per type enqueued)" \
	eq "$woken" "$(sql -c "SELECT string_agg(t, ',' ORDER BY t COLLATE \"C\") FROM unnest(automation._job_action_types()) t")"
sql -c "DELETE FROM automation.jobs; DELETE FROM automation.workflows; DELETE FROM automation.rules" >/dev/null

# a job of a type this worker does not know: as a newer extension would
# enqueue it (its domain allows the type), simulated by dropping the CHECK
sql -c 'ALTER DOMAIN automation.job_action_type DROP CONSTRAINT job_action_type_check'
fax=$(job fax "{\"url\": \"$HTTP/ok/fax\", \"to\": \"ann@example.com\", \"subject\": \"s\", \"body\": \"b\"}")
hook=$(job webhook "{\"url\": \"$HTTP/ok/hook\"}")

timeout 20 "$WORKER" --dbname "dbname=$DB" --once --allow-host 127.0.0.1 --worker-id vocab 2>"$TMP/once.log"
check "--once drains and exits 0" eq "$?" 0
check "unknown type: dead after one attempt (permanent, not retried)" \
	eq "$(field "$fax" "status || ' ' || attempts")" "dead 1"
check "unknown type: the error names the type and what to do" \
	bash -c "[[ \"\$(psql -XAtq -c \"SELECT last_error FROM automation.jobs WHERE id = $fax\")\" == 'unknown action type \"fax\": this automation-worker does not know it (known: webhook, '*'upgrade the worker to the extension'\"'\"'s version' ]]"
check "unknown type: nothing was sent (no HTTP request for it)" \
	eq "$(grep -c '"path": "/ok/fax"' "$TMP/http.log")" 0
check "unknown type: the worker's log line says failed with the cause" \
	grep -q "job=$fax type=fax outcome=failed attempt=1/5 latency_ms=[0-9.]* cause=unknown action type" "$TMP/once.log"
check "a known type on the same claim still goes its own way (webhook: HTTP, succeeded)" \
	bash -c "[ \"\$(psql -XAtq -c \"SELECT status FROM automation.jobs WHERE id = $hook\")\" = succeeded ] && grep -q '\"path\": \"/ok/hook\"' '$TMP/http.log'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
