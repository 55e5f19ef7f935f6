#!/usr/bin/env bash
# test/e2e/upgrade.sh: ALTER EXTENSION automation UPDATE from every released
# version (doc/releasing.md).
#
# For each released install script src/sql/automation--V.sql: create the
# extension at V (with the library of this build), fill it with definitions,
# pools, channels, jobs, firings, an alert and a notification, check that the
# new library already works on the old schema, run ALTER EXTENSION automation
# UPDATE, and check that
#   - the catalog of the extension equals a fresh install of the current
#     version (every member object, column, constraint, index, trigger,
#     policy, privilege and function body, and pg_dump's config tables);
#   - every row is still there, unchanged;
#   - the updated database fires, claims, replays idempotency keys, keeps the
#     round-robin turn and the cooldowns, has what the new version adds, and
#     the new automation-worker delivers its queued channel messages.
#
# Runs against the cluster of PGHOST/PGPORT/PGUSER (automation preloaded);
# creates and drops its own databases.
set -uo pipefail
cd "$(dirname "$0")/../.."

CURRENT=$(sed -n "s/^default_version = '\(.*\)'/\1/p" automation.control)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WORKER=${WORKER:-$($PGBIN/pg_config --bindir)/automation-worker}
receiver=
OLD=automation_upgrade_old_$$
NEW=automation_upgrade_new_$$
TMP=$(mktemp -d /tmp/automation-upgrade.XXXXXX)
cleanup() {
	[ -n "$receiver" ] && kill "$receiver" 2>/dev/null
	dropdb --if-exists "$OLD" >/dev/null 2>&1
	dropdb --if-exists "$NEW" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

. test/lib/expect.sh
versions=0

# The extension's catalog, one sorted line per fact.  Columns are listed by
# position among the live ones, so an upgrade that appends a column a fresh
# install puts elsewhere shows up.
catalog="
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'automation'),
ns AS (SELECT 'automation'::regnamespace AS oid),
rels AS (SELECT c.oid, c.relname, c.relkind FROM pg_class c, ns WHERE c.relnamespace = ns.oid)
SELECT line FROM (
  SELECT 'member ' || pg_describe_object(d.classid, d.objid, d.objsubid)
    FROM pg_depend d, ext WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
  UNION ALL
  SELECT 'extension ' || e.extname || ' schema=' || e.extnamespace::regnamespace || ' relocatable=' || e.extrelocatable
         || ' config=' || coalesce((SELECT string_agg(c::regclass::text || ':' || coalesce(w, ''), ',' ORDER BY c::regclass::text)
                                      FROM unnest(e.extconfig, e.extcondition) AS u(c, w)), '')
    FROM pg_extension e, ext WHERE e.oid = ext.oid
  UNION ALL
  SELECT 'schema owner=' || n.nspowner::regrole || ' acl=' || coalesce(n.nspacl::text, '')
    FROM pg_namespace n, ns WHERE n.oid = ns.oid
  UNION ALL
  SELECT 'default privileges ' || d.defaclrole::regrole || ' ' || d.defaclobjtype::text || ' ' || d.defaclacl::text
    FROM pg_default_acl d, ns WHERE d.defaclnamespace = ns.oid
  UNION ALL
  SELECT 'relation ' || r.relname || ' kind=' || r.relkind::text || ' owner=' || c.relowner::regrole
         || ' persistence=' || c.relpersistence::text || ' rls=' || c.relrowsecurity || ' force=' || c.relforcerowsecurity
         || ' acl=' || coalesce(c.relacl::text, '') || ' options=' || coalesce(c.reloptions::text, '')
         || ' partitioned=' || c.relispartition || ' inherits=' || coalesce((SELECT string_agg(i.inhparent::regclass::text, ',')
                                                                         FROM pg_inherits i WHERE i.inhrelid = c.oid), '')
    FROM rels r JOIN pg_class c ON c.oid = r.oid
  UNION ALL
  SELECT 'column ' || r.relname || '.' || a.attname || ' #' || row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum)
         || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
         || ' default=' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '') || ' identity=' || a.attidentity::text
         || ' generated=' || a.attgenerated::text || ' collation=' || coalesce(a.attcollation::regcollation::text, '')
         || ' acl=' || coalesce(a.attacl::text, '')
    FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
   WHERE r.relkind IN ('r', 'v', 'p', 'c')
  UNION ALL
  SELECT 'constraint ' || coalesce(c.conrelid::regclass::text, c.contypid::regtype::text) || ' ' || c.conname
         || ' ' || pg_get_constraintdef(c.oid)
    FROM pg_constraint c, ns WHERE c.connamespace = ns.oid
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN rels r ON r.oid = i.indrelid
  UNION ALL
  SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
    FROM pg_trigger t JOIN rels r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
  UNION ALL
  SELECT 'policy ' || p.tablename || ' ' || p.policyname || ' ' || p.permissive || ' ' || p.cmd || ' ' || p.roles::text
         || ' using=' || coalesce(p.qual, '') || ' check=' || coalesce(p.with_check, '')
    FROM pg_policies p WHERE p.schemaname = 'automation'
  UNION ALL
  SELECT 'view ' || r.relname || ' ' || pg_get_viewdef(r.oid) || ' options=' || coalesce(c.reloptions::text, '')
    FROM rels r JOIN pg_class c ON c.oid = r.oid WHERE r.relkind = 'v'
  UNION ALL
  SELECT 'sequence ' || r.relname || ' ' || s.seqtypid::regtype || ' start=' || s.seqstart || ' by=' || s.seqincrement
         || ' min=' || s.seqmin || ' max=' || s.seqmax || ' cache=' || s.seqcache || ' cycle=' || s.seqcycle
         || ' owned_by=' || coalesce((SELECT pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid) FROM pg_depend d
                                       WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid AND d.deptype IN ('a', 'i')), '')
    FROM rels r JOIN pg_sequence s ON s.seqrelid = r.oid
  UNION ALL
  SELECT 'function ' || p.oid::regprocedure || ' owner=' || p.proowner::regrole || ' acl=' || coalesce(p.proacl::text, '') || E'\n'
         || pg_get_functiondef(p.oid)
    FROM pg_proc p, ns WHERE p.pronamespace = ns.oid
  UNION ALL
  SELECT 'type ' || t.typname || ' ' || t.typtype::text || ' owner=' || t.typowner::regrole || ' base=' || t.typbasetype::regtype
         || ' notnull=' || t.typnotnull || ' default=' || coalesce(t.typdefault, '') || ' acl=' || coalesce(t.typacl::text, '')
    FROM pg_type t, ns WHERE t.typnamespace = ns.oid AND t.typtype IN ('d', 'c', 'e', 'r', 'm')
  UNION ALL
  SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ' ' || d.description
    FROM pg_description d WHERE (pg_identify_object(d.classoid, d.objoid, d.objsubid)).schema = 'automation'
       OR (d.classoid = 'pg_extension'::regclass AND d.objoid = (SELECT oid FROM ext))
  UNION ALL
  -- what watch() put on the application's tables
  SELECT 'watched ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
   WHERE c.relnamespace = 'crm'::regnamespace AND NOT t.tgisinternal
) facts(line) ORDER BY line"

# Rows of every table, in a stable order: what an upgrade must not change.
content="SELECT string_agg(x, E'\n' ORDER BY x) FROM (
  SELECT 'entities ' || row(e.name, e.relation, e.key_column, e.tenant_column, e.created_at)::text
    FROM automation.entities e UNION ALL
  SELECT 'workflows ' || (to_jsonb(w) - 'payload_columns' - 'fire_when')::text FROM automation.workflows w UNION ALL
  SELECT 'rules ' || (to_jsonb(r) - 'payload_columns' - 'fire_when')::text FROM automation.rules r UNION ALL
  SELECT 'rule_conditions ' || (to_jsonb(c) - 'group')::text FROM automation.rule_conditions c UNION ALL
  SELECT 'rule_actions ' || row(a.*)::text FROM automation.rule_actions a UNION ALL
  SELECT 'user_pools ' || row(p.*)::text FROM automation.user_pools p UNION ALL
  SELECT 'user_pool_members ' || row(m.*)::text FROM automation.user_pool_members m UNION ALL
  SELECT 'channels ' || row(c.*)::text FROM automation.channels c UNION ALL
  SELECT 'idempotency_keys ' || row(k.*)::text FROM automation.idempotency_keys k UNION ALL
  SELECT 'jobs ' || row(j.*)::text FROM automation.jobs j UNION ALL
  SELECT 'firings ' || row(f.*)::text FROM automation.firings f UNION ALL
  SELECT 'alerts ' || row(a.*)::text FROM automation.alerts a UNION ALL
  SELECT 'notifications ' || row(n.*)::text FROM automation.notifications n) t(x)"

fill() {	# fill DB: the same application and definitions in any version
	psql -X -q -v ON_ERROR_STOP=1 -d "$1" >/dev/null <<-'SQL'
	CREATE SCHEMA crm;
	CREATE TABLE crm.deals (id serial PRIMARY KEY, org text, stage text, amount int,
							owner_id text, tags text[] DEFAULT '{}');
	CREATE TABLE crm.tasks (id serial PRIMARY KEY, title text, deal_id int, assignee text);
	SELECT automation.watch('deal', 'crm.deals', tenant_column => 'org');
	SELECT automation.watch('task', 'crm.tasks');
	SELECT automation.create_channel('sales', 'https://hooks.example.com/sales');
	SELECT automation.create_user_pool('closers', ARRAY['ann', 'bob', 'cy']);
	SELECT automation.create_workflow('{"name": "big deal", "condition_entity": "deal",
		"condition_field": "amount", "condition_operator": "greater_than", "condition_value": "100",
		"action_type": "send_channel_message",
		"action_config": {"channel": "sales", "recipient": "#deals", "message": "{{deal.id}} is big"}}');
	SELECT automation.create_workflow('{"name": "follow up", "condition_entity": "deal",
		"condition_field": "stage", "condition_operator": "changed_to", "condition_value": "won",
		"action_type": "create_task", "action_config": {"title": "thank {{deal.id}}"}}');
	SELECT automation.create_workflow('{"name": "once a day", "condition_entity": "deal",
		"condition_field": "stage", "condition_operator": "equals", "condition_value": "lost",
		"action_type": "webhook", "action_config": {"url": "https://ops.example.com/lost"},
		"max_triggers_per_day": 1}');
	SET automation.tenant = 'acme';
	SELECT automation.create_channel('acme-chat', 'https://acme.example.com/chat', 'json');
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
	-- the breaker of "once a day" trips: an alert, the workflow disabled
	UPDATE crm.deals SET stage = 'lost' WHERE org IS NULL;
	UPDATE crm.deals SET stage = 'lost' WHERE org = 'beta';
	-- run the database actions: a task, an assignment, a tag, a notification
	SELECT automation.run_database_jobs();
	SQL
}

for script in $(ls src/sql/automation--*.sql | grep -v -- '--.*--' | sort -V); do
	from=${script#src/sql/automation--}; from=${from%.sql}
	[ "$from" = "$CURRENT" ] && continue
	versions=$((versions + 1))
	echo "# from $from to $CURRENT"
	dropdb --if-exists "$OLD" >/dev/null 2>&1
	createdb "$OLD" || exit 1
	check "$from: CREATE EXTENSION automation VERSION '$from' with this build's library" "" \
		"$(q "$OLD" "CREATE EXTENSION automation VERSION '$from'")"
	fill "$OLD" || { echo "FAILED - $from: filling the database"; failed=$((failed + 1)); continue; }
	check "$from: filled (deals, tasks, jobs queued/done, firings, alerts, notifications)" "3 1 11 4 14 1 1" \
		"$(q "$OLD" "SELECT (SELECT count(*) FROM crm.deals) || ' ' || (SELECT count(*) FROM crm.tasks) || ' ' ||
		             (SELECT count(*) FROM automation.jobs WHERE status = 'queued') || ' ' ||
		             (SELECT count(*) FROM automation.jobs WHERE status = 'succeeded') || ' ' ||
		             (SELECT count(*) FROM automation.firings) || ' ' || (SELECT count(*) FROM automation.alerts) || ' ' ||
		             (SELECT count(*) FROM automation.notifications)")"

	# before ALTER EXTENSION UPDATE, the new library runs on the old schema
	check "$from: the new library fires on the old schema" "big deal" \
		"$(q "$OLD" "INSERT INTO crm.deals (org, stage, amount) VALUES (NULL, 'new', 300);
		             SELECT string_agg(payload -> 'event' ->> 'name', ' ') FROM automation.jobs
		              WHERE record_key = (SELECT id::text FROM crm.deals WHERE amount = 300)")"
	before=$(q "$OLD" "$content")
	before_jobs=$(q "$OLD" "SELECT max(id) FROM automation.jobs")

	# a role that may enable workflows keeps that right through a signature
	# change (0.4.0: enable_workflow(id) gained body and enroll_existing);
	# the probe's grants are taken back before the catalogs are compared
	q "$OLD" "DO \$\$ BEGIN CREATE ROLE upgrade_probe NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$;
	          GRANT USAGE ON SCHEMA automation TO upgrade_probe;
	          GRANT EXECUTE ON FUNCTION automation.enable_workflow(text) TO upgrade_probe" >/dev/null
	check "$from: ALTER EXTENSION automation UPDATE" "" "$(q "$OLD" "ALTER EXTENSION automation UPDATE")"
	check "$from: now at $CURRENT" "$CURRENT" "$(q "$OLD" "SELECT extversion FROM pg_extension WHERE extname = 'automation'")"
	check "$from: a role that could enable workflows still can" "t" \
		"$(q "$OLD" "SELECT bool_and(has_function_privilege('upgrade_probe', p.oid, 'EXECUTE'))
		             FROM pg_proc p WHERE p.proname = 'enable_workflow' AND p.pronamespace = 'automation'::regnamespace")"
	q "$OLD" "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA automation FROM upgrade_probe;
	          REVOKE USAGE ON SCHEMA automation FROM upgrade_probe" >/dev/null

	dropdb --if-exists "$NEW" >/dev/null 2>&1
	createdb "$NEW" && q "$NEW" "CREATE EXTENSION automation" >/dev/null && fill "$NEW" ||
		{ echo "FAILED - $from: a fresh install of $CURRENT, filled the same way"; failed=$((failed + 1)); continue; }
	psql -X -q -At -v ON_ERROR_STOP=1 -d "$OLD" -c "$catalog" >"$TMP/upgraded.catalog" 2>&1 &&
		psql -X -q -At -v ON_ERROR_STOP=1 -d "$NEW" -c "$catalog" >"$TMP/fresh.catalog" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || [ "$(grep -c '^member ' "$TMP/fresh.catalog")" -lt 50 ]; then
		check "$from: the extension's catalog can be listed" "" "$(cat "$TMP/upgraded.catalog" "$TMP/fresh.catalog" | head -5)"
	elif diff -u "$TMP/fresh.catalog" "$TMP/upgraded.catalog" >"$TMP/catalog.diff"; then
		check "$from: the updated catalog equals a fresh install ($(grep -c '^member ' "$TMP/fresh.catalog") member objects, $(grep -c '' "$TMP/fresh.catalog") lines)" same same
	else
		check "$from: the updated catalog equals a fresh install" same "different (diff: - fresh, + updated)"
		sed 's/^/#   /' "$TMP/catalog.diff" | head -60
	fi
	check "$from: (0.3.0) payload_columns is added empty (every column, as before)" "0 0" \
		"$(q "$OLD" "SELECT (SELECT count(payload_columns) FROM automation.workflows) || ' ' ||
		             (SELECT count(payload_columns) FROM automation.rules)")"
	check "$from: (0.4.0) every definition keeps its meaning: fire_when every_change, conditions in group 0" "every_change 0" \
		"$(q "$OLD" "SELECT (SELECT string_agg(DISTINCT fire_when, ',') FROM (SELECT fire_when FROM automation.workflows
		                     UNION ALL SELECT fire_when FROM automation.rules) d) || ' ' ||
		             (SELECT count(*) FROM automation.rule_conditions WHERE \"group\" <> 0)")"
	case "$before" in
		''|*ERROR*) check "$from: the rows can be listed" "rows" "$before" ;;
		*) check "$from: every row unchanged by the update ($(grep -c '' <<<"$before") rows)" "$before" "$(q "$OLD" "$content")" ;;
	esac

	# the updated database works
	check "$from: a change fires the global and acme's workflow" "big deal/ big deal/acme" \
		"$(q "$OLD" "INSERT INTO crm.deals (org, stage, amount) VALUES ('acme', 'new', 7000);
		             SELECT string_agg(w.name || '/' || coalesce(w.tenant_id, ''), ' ' ORDER BY w.tenant_id NULLS FIRST)
		               FROM automation.jobs j JOIN automation.workflows w ON w.id = j.workflow_id WHERE j.record_key = (SELECT id::text FROM crm.deals WHERE amount = 7000)")"
	check "$from: job ids continue after the old ones" "2 true" \
		"$(q "$OLD" "SELECT count(*) || ' ' || bool_and(id > $before_jobs) FROM automation.jobs
		              WHERE record_key = (SELECT id::text FROM crm.deals WHERE amount = 7000)")"
	check "$from: (0.2.0) jobs record the definition's tenant" "acme null" \
		"$(q "$OLD" "SELECT string_agg(coalesce(payload -> 'event' ->> 'definition_tenant_id', 'null'), ' '
		                               ORDER BY payload -> 'event' ->> 'definition_tenant_id' NULLS LAST)
		              FROM automation.jobs WHERE record_key = (SELECT id::text FROM crm.deals WHERE amount = 7000)")"
	check "$from: the rule fires; the round-robin turn continues from the old cursor (bob after ann)" "bob" \
		"$(q "$OLD" "UPDATE crm.deals SET stage = 'won' WHERE amount = 7000;
		             DO \$\$ BEGIN PERFORM automation.run_database_jobs(); END \$\$;
		             SELECT owner_id FROM crm.deals WHERE amount = 7000")"
	check "$from: the cooldown reads the old firings" "cooldown" \
		"$(q "$OLD" "UPDATE crm.deals SET stage = 'new' WHERE id = 1; UPDATE crm.deals SET stage = 'won' WHERE id = 1;
		             SELECT outcome FROM automation.firings WHERE source = 'rule' AND record_key = '1' ORDER BY id DESC LIMIT 1")"
	check "$from: the tripped breaker stays tripped" "false circuit_breaker" \
		"$(q "$OLD" "SELECT enabled || ' ' || disabled_reason FROM automation.workflows WHERE name = 'once a day'")"
	# the new worker delivers the queued channel messages, old and new
	if [ -x "$WORKER" ]; then
		rm -f "$TMP/http.port" "$TMP/http.log"
		python3 test/worker/http_receiver.py "$TMP/http.port" "$TMP/http.log" & receiver=$!
		for _ in $(seq 100); do [ -s "$TMP/http.port" ] && break; sleep 0.05; done
		q "$OLD" "UPDATE automation.channels SET url = 'http://127.0.0.1:$(cat "$TMP/http.port")/ok/' || name" >/dev/null
		queued=$(q "$OLD" "SELECT count(*) FROM automation.jobs WHERE action_type = 'send_channel_message' AND status = 'queued'")
		timeout 30 "$WORKER" --dbname "dbname=$OLD" --once --types send_channel_message \
			--allow-host 127.0.0.1 --worker-id upgrade-test 2>"$TMP/worker.log"
		check "$from: the new worker delivers the $queued queued channel messages" "$queued succeeded" \
			"$(q "$OLD" "SELECT count(*) || ' ' || string_agg(DISTINCT status, ',') FROM automation.jobs
			              WHERE action_type = 'send_channel_message'")"
		check "$from: each arrived once, at its channel" "$queued" \
			"$(grep -c '"phase": "start", "path": "/ok/sales"' "$TMP/http.log" 2>/dev/null)"
		kill "$receiver" 2>/dev/null; wait "$receiver" 2>/dev/null; receiver=
	else
		check "$from: automation-worker is installed" "$WORKER" "missing"
	fi
	check "$from: old queued webhook jobs are claimed" "t" \
		"$(q "$OLD" "SELECT count(*) >= 2 FROM automation.claim_jobs('upgrade-test', 100, '1 minute', ARRAY['webhook'])
		              WHERE id <= $before_jobs")"
	check "$from: the idempotency key replays" "t" \
		"$(q "$OLD" "SET automation.tenant = 'acme';
		             SELECT (automation.create_workflow('{\"name\": \"big deal\", \"condition_entity\": \"deal\",
		\"condition_field\": \"amount\", \"condition_operator\": \"greater_than\", \"condition_value\": \"1000\",
		\"action_type\": \"webhook\", \"action_config\": {\"url\": \"https://acme.example.com/hook\"}}',
		'00000000-0000-4000-8000-00000000000a') ->> 'id') = (SELECT id FROM automation.workflows WHERE tenant_id = 'acme')")"
	# what 0.3.0 adds: watched key and tenant columns followed by number
	check "$from: (0.3.0) the watched columns' numbers are filled in" "deal 1 2/task 1 " \
		"$(q "$OLD" "SELECT string_agg(name || ' ' || key_attnum || ' ' || coalesce(tenant_attnum::text, ''), '/' ORDER BY name)
		              FROM automation.entities")"
	check "$from: (0.3.0) a renamed tenant column is followed" "account" \
		"$(q "$OLD" "ALTER TABLE crm.deals RENAME COLUMN org TO account;
		             SELECT tenant_column FROM automation.entities WHERE name = 'deal';
		             ALTER TABLE crm.deals RENAME COLUMN account TO org" | head -1)"
	# what 0.2.0 adds: channel names per tenant
	check "$from: (0.2.0) a global definition cannot use a tenant's channel" "22023" \
		"$(q "$OLD" "DO \$\$ BEGIN PERFORM automation.create_workflow('{\"name\": \"to acme chat\", \"condition_entity\": \"deal\",
		\"condition_field\": \"amount\", \"condition_operator\": \"greater_than\", \"condition_value\": \"1000000\",
		\"action_type\": \"send_channel_message\",
		\"action_config\": {\"channel\": \"acme-chat\", \"recipient\": \"#x\", \"message\": \"y\"}}');
		             EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%', SQLSTATE; END \$\$" 2>&1 | sed -n 's/.*NOTICE: *//p')"
	check "$from: (0.2.0) a tenant may name a channel like a global one" "acme" \
		"$(q "$OLD" "SET automation.tenant = 'acme'; SELECT automation.create_channel('sales', 'https://acme.example.com/sales') ->> 'tenant_id'")"
	check "$from: (0.2.0) a global channel whose only user has a channel of its own is deletable" "acme" \
		"$(q "$OLD" "SET automation.tenant = 'acme';
		             DO \$\$ BEGIN PERFORM automation.create_workflow('{\"name\": \"to sales\", \"condition_entity\": \"deal\",
		\"condition_field\": \"amount\", \"condition_operator\": \"greater_than\", \"condition_value\": \"1000000\",
		\"action_type\": \"send_channel_message\",
		\"action_config\": {\"channel\": \"sales\", \"recipient\": \"#acme\", \"message\": \"big\"}}'); END \$\$;
		             RESET automation.tenant;
		             DO \$\$ BEGIN PERFORM automation.delete_workflow(id) FROM automation.workflows
		                              WHERE name = 'big deal' AND tenant_id IS NULL;
		                      PERFORM automation.delete_channel('sales'); END \$\$;
		             SELECT string_agg(tenant_id, ' ') FROM automation.channels WHERE name = 'sales'")"
done

[ "$versions" -gt 0 ] || { echo "FAILED - no released install script src/sql/automation--V.sql found"; failed=$((failed + 1)); }
echo "$passed passed, $failed failed ($versions released version(s) updated to $CURRENT)"
[ $failed -eq 0 ]
