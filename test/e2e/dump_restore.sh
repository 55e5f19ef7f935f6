#!/usr/bin/env bash
# test/e2e/dump_restore.sh: pg_dump -Fc of a database using automation, then
# pg_restore into a new database: every definition, pool, channel, pending
# job and firing is there, and the restored database fires.
#
# Runs against the cluster of PGHOST/PGPORT/PGUSER (automation preloaded);
# creates and drops its own databases.
set -uo pipefail
cd "$(dirname "$0")/../.."

SRC=automation_dump_src_$$
DST=automation_dump_dst_$$
DUMP=$(mktemp /tmp/automation-dump.XXXXXX)
cleanup() {
	dropdb --if-exists "$SRC" >/dev/null 2>&1
	dropdb --if-exists "$DST" >/dev/null 2>&1
	rm -f "$DUMP" "$DUMP.log"
}
trap cleanup EXIT

. test/lib/expect.sh

createdb "$SRC" || exit 1
psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" >/dev/null <<'SQL' || { echo "setup failed"; exit 1; }
CREATE EXTENSION automation;
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id serial PRIMARY KEY, org text, stage text, amount int,
						owner_id text, tags text[] DEFAULT '{}');
CREATE TABLE crm.tasks (id serial PRIMARY KEY, title text, deal_id int);
SELECT automation.watch('deal', 'crm.deals', tenant_column => 'org');
SELECT automation.watch('task', 'crm.tasks');
SELECT automation.create_channel('sales', 'https://hooks.example.com/sales');
-- (direct SQL: automation.create_user_pool may not exist yet)
WITH p AS (INSERT INTO automation.user_pools (name, next_position) VALUES ('closers', 1) RETURNING id)
INSERT INTO automation.user_pool_members (pool_id, position, member)
SELECT p.id, m.pos, m.member FROM p, unnest(ARRAY['ann', 'bob', 'cy']) WITH ORDINALITY AS m(member, pos);
SELECT automation.create_workflow('{"name": "big deal", "condition_entity": "deal",
	"condition_field": "amount", "condition_operator": "greater_than", "condition_value": "100",
	"action_type": "send_channel_message",
	"action_config": {"channel": "sales", "recipient": "#deals", "message": "{{deal.id}} is big"}}');
SELECT automation.create_workflow('{"name": "follow up", "condition_entity": "deal",
	"condition_field": "stage", "condition_operator": "changed_to", "condition_value": "won",
	"action_type": "create_task", "action_config": {"title": "thank {{deal.id}}"}}');
SET automation.tenant = 'acme';
SELECT automation.create_workflow('{"name": "big deal", "condition_entity": "deal",
	"condition_field": "amount", "condition_operator": "greater_than", "condition_value": "1000",
	"action_type": "webhook", "action_config": {"url": "https://acme.example.com/hook"}}',
	'00000000-0000-4000-8000-00000000000a');
SELECT automation.create_rule(('{"name": "assign won", "entity_type": "deal",
	"trigger_type": "DEAL_UPDATED", "priority": 10, "cooldown_hours": 2,
	"conditions": [{"field_path": "stage", "operator": "CHANGED_TO", "value_string": "won"},
				   {"field_path": "amount", "operator": "GTE", "value_int": 10}],
	"actions": [{"action_type": "ASSIGN_USER",
				 "assign_pool_id": "' || (SELECT id FROM automation.user_pools WHERE name = 'closers') || '"},
				{"action_type": "TAG", "tag": "won"},
				{"action_type": "NOTIFY", "recipient": "boss", "message": "{{deal.id}} won"}]}')::jsonb);
RESET automation.tenant;
INSERT INTO crm.deals (org, stage, amount) VALUES ('acme', 'new', 5000), ('beta', 'new', 500), (NULL, 'new', 50);
UPDATE crm.deals SET stage = 'won' WHERE org = 'acme';
-- "follow up" fired 10 days ago and once before that; prune('7 days') keeps
-- the newest (last_triggered_at survives prune and dump/restore, SPEC 4)
UPDATE automation.firings SET fired_at = now() - interval '10 days'
 WHERE workflow_id = (SELECT id FROM automation.workflows WHERE name = 'follow up');
INSERT INTO automation.firings (source, workflow_id, entity, tenant_id, operation, outcome, fired_at)
SELECT 'workflow', id, 'deal', 'acme', 'UPDATE', 'fired', now() - interval '12 days'
  FROM automation.workflows WHERE name = 'follow up';
SELECT automation.prune('7 days');
SQL

counts="SELECT (SELECT count(*) FROM automation.entities) || ' ' ||
  (SELECT count(*) FROM automation.workflows) || ' ' || (SELECT count(*) FROM automation.rules) || ' ' ||
  (SELECT count(*) FROM automation.rule_conditions) || ' ' || (SELECT count(*) FROM automation.rule_actions) || ' ' ||
  (SELECT count(*) FROM automation.user_pools) || ' ' || (SELECT count(*) FROM automation.user_pool_members) || ' ' ||
  (SELECT count(*) FROM automation.channels) || ' ' || (SELECT count(*) FROM automation.jobs WHERE status = 'queued') || ' ' ||
  (SELECT count(*) FROM automation.firings) || ' ' || (SELECT count(*) FROM automation.idempotency_keys)"
content="SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
  SELECT w::text FROM automation.workflows w UNION ALL
  SELECT row(r.*)::text FROM automation.rules r UNION ALL
  SELECT row(c.*)::text FROM automation.rule_conditions c UNION ALL
  SELECT row(a.*)::text FROM automation.rule_actions a UNION ALL
  SELECT row(p.*)::text FROM automation.user_pools p UNION ALL
  SELECT row(m.*)::text FROM automation.user_pool_members m UNION ALL
  SELECT row(c.*)::text FROM automation.channels c UNION ALL
  SELECT row(e.*)::text FROM automation.entities e UNION ALL
  SELECT row(j.*)::text FROM automation.jobs j UNION ALL
  SELECT row(f.*)::text FROM automation.firings f UNION ALL
  SELECT row(k.*)::text FROM automation.idempotency_keys k) t(x)"
before_counts=$(q "$SRC" "$counts")
before_content=$(q "$SRC" "$content")
before_jobs=$(q "$SRC" "SELECT max(id) FROM automation.jobs")
last_triggered="SELECT automation.get_workflow(id) ->> 'last_triggered_at' FROM automation.workflows WHERE name = 'follow up'"
before_last=$(q "$SRC" "$last_triggered")
check "last_triggered_at survives prune" "$(q "$SRC" "SELECT automation._iso(max(fired_at)) FROM automation.firings f
	JOIN automation.workflows w ON w.id = f.workflow_id WHERE w.name = 'follow up'") t" \
	"$before_last $(q "$SRC" "SELECT '$before_last'::timestamptz < now() - interval '9 days'")"
echo "# source: entities workflows rules conditions actions pools members channels queued firings keys = $before_counts"
check "the source has every kind of row" "2 3 1 2 3 1 3 1 9 7 1" "$before_counts"

pg_dump -Fc -f "$DUMP" "$SRC"
check "pg_dump -Fc succeeds" 0 $?
createdb "$DST"
pg_restore -d "$DST" "$DUMP" >"$DUMP.log" 2>&1
rc=$?
check "pg_restore succeeds without errors" "0 " "$rc $(grep -m1 -i error "$DUMP.log")"

check "every definition, pool, channel, pending job and firing is restored" "$before_counts" "$(q "$DST" "$counts")"
check "restored rows are identical" "$before_content" "$(q "$DST" "$content")"
check "last_triggered_at survives dump/restore" "$before_last" "$(q "$DST" "$last_triggered")"
check "row-level security survives" "13" \
	"$(q "$DST" "SELECT count(*) FROM pg_class WHERE relnamespace = 'automation'::regnamespace AND relrowsecurity")"
check "the row triggers are restored" "2" \
	"$(q "$DST" "SELECT count(*) FROM pg_trigger WHERE tgname = 'automation_row_trigger'")"

# the restored database fires: new jobs continue the job sequence
out=$(q "$DST" "INSERT INTO crm.deals (org, stage, amount) VALUES ('acme', 'new', 7000) RETURNING id")
new_id=$out
check "a change enqueues jobs (global and acme's workflow)" "big deal/acme big deal/" \
	"$(q "$DST" "SELECT string_agg((payload -> 'event' ->> 'name') || '/' || coalesce(w.tenant_id, ''), ' ' ORDER BY w.tenant_id NULLS LAST)
	              FROM automation.jobs j JOIN automation.workflows w ON w.id = j.workflow_id
	             WHERE j.record_key = '$new_id'")"
check "new job ids continue after the restored ones" "t" \
	"$(q "$DST" "SELECT min(id) > $before_jobs FROM automation.jobs WHERE record_key = '$new_id'")"
check "the rule fires with its restored conditions and actions" "assign_user tag notify" \
	"$(q "$DST" "UPDATE crm.deals SET stage = 'won' WHERE id = $new_id;
	             SELECT string_agg(action_type, ' ' ORDER BY id) FROM automation.jobs
	              WHERE record_key = '$new_id' AND source = 'rule'")"
check "the rule's cooldown reads the restored firings" "cooldown" \
	"$(q "$DST" "UPDATE crm.deals SET stage = 'new' WHERE id = 1; UPDATE crm.deals SET stage = 'won' WHERE id = 1;
	             SELECT outcome FROM automation.firings WHERE source = 'rule' AND record_key = '1' ORDER BY id DESC LIMIT 1")"
check "the idempotency key replays after restore" "t" \
	"$(q "$DST" "SET automation.tenant = 'acme';
	             SELECT (automation.create_workflow('{\"name\": \"big deal\", \"condition_entity\": \"deal\",
	\"condition_field\": \"amount\", \"condition_operator\": \"greater_than\", \"condition_value\": \"1000\",
	\"action_type\": \"webhook\", \"action_config\": {\"url\": \"https://acme.example.com/hook\"}}',
	'00000000-0000-4000-8000-00000000000a') ->> 'id') = (SELECT id FROM automation.workflows WHERE tenant_id = 'acme')")"
check "the API works on restored definitions" "sales" \
	"$(q "$DST" "SELECT automation.get_workflow((SELECT id FROM automation.workflows WHERE tenant_id IS NULL AND name = 'big deal')) -> 'action_config' ->> 'channel'")"

if [ $failed -ne 0 ]; then
	echo "# pg_restore output:"; sed 's/^/#   /' "$DUMP.log"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
