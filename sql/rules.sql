-- rules: create/get/update/delete from nested JSON (SPEC section 5), every
-- typing rule, direct-SQL validation and the at-least-one constraint.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA rules;
SET search_path = rules, public;
\pset format unaligned
\pset tuples_only on
-- try(q): run q; 'ok' (rolled back unless keep) or the error's SQLSTATE,
-- message, detail and hint, with ids masked.
CREATE FUNCTION try(q text, keep boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE st text; m text; d text; h text;
BEGIN
	BEGIN
		EXECUTE q;
		IF NOT keep THEN RAISE EXCEPTION USING ERRCODE = 'ZX001'; END IF;
		RETURN 'ok';
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT,
			d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
		IF st = 'ZX001' THEN RETURN 'ok'; END IF;
		RETURN regexp_replace(regexp_replace('ERROR ' || st || ': ' || m
			|| CASE WHEN d <> '' THEN E'\n  DETAIL: ' || d ELSE '' END
			|| CASE WHEN h <> '' THEN E'\n  HINT: ' || h ELSE '' END,
			'wf_[0-9A-Z]{26}', 'wf_<id>', 'g'),
			'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g');
	END;
END
$$;
-- rule(patch, drop): create_rule with a valid body changed by patch and
-- without the keys in drop; rolled back.
CREATE FUNCTION rule(patch jsonb, drop text[] DEFAULT '{}') RETURNS text
LANGUAGE sql AS $$
	SELECT try(format('SELECT automation.create_rule(%L)',
		('{"name": "probe", "entity_type": "lead", "trigger_type": "LEAD_UPDATED",
		   "conditions": [{"field_path": "status", "operator": "EQUALS", "value_string": "new"}],
		   "actions": [{"action_type": "TAG", "tag": "hot"}]}'::jsonb || patch) - drop))
$$;
-- cond(c): a rule with the single condition c
CREATE FUNCTION cond(c jsonb) RETURNS text
LANGUAGE sql AS $$ SELECT rule(jsonb_build_object('conditions', jsonb_build_array(c))) $$;
-- act(a): a rule with the single action a
CREATE FUNCTION act(a jsonb) RETURNS text
LANGUAGE sql AS $$ SELECT rule(jsonb_build_object('actions', jsonb_build_array(a))) $$;
CREATE TABLE leads (id bigserial PRIMARY KEY, name text, status text, lead_source_id int,
	score numeric, owner_id text, stage_id int, tags text[], created timestamptz,
	birthday date, custom jsonb, verified boolean, ext uuid, ids int[]);
CREATE TABLE opportunities (id int PRIMARY KEY, amount bigint);
SELECT automation.watch('lead', 'leads') ->> 'entity';
SELECT automation.watch('opportunity', 'opportunities') ->> 'entity';
INSERT INTO automation.user_pools (id, name) VALUES ('00000000-0000-0000-0000-00000000000a', 'sdr');

-- the seed's rule (ASSIGN_USER from a pool when the lead source is 5)
SELECT automation.create_rule('{"name": "Route web leads", "description": "web leads to SDRs",
  "entity_type": "lead", "trigger_type": "LEAD_CREATED", "priority": 10, "is_active": true,
  "stop_subsequent_rules": true, "cooldown_hours": 24,
  "conditions": [{"field_path": "lead.lead_source_id", "operator": "EQUALS", "value_int": 5, "sort_order": 0},
                 {"field_path": "status", "operator": "IN", "value_array": ["new", "open"], "sort_order": 1}],
  "actions": [{"action_type": "ASSIGN_USER", "sort_order": 0, "assign_pool_id": "00000000-0000-0000-0000-00000000000a"},
              {"action_type": "NOTIFY", "sort_order": 1, "recipient": "{{lead.owner_id}}", "message": "New lead {{lead.name}} ({{rule.name}})"}]}') AS r \gset
SELECT jsonb_pretty(:'r'::jsonb - 'id' - 'created_at' - 'updated_at');
SELECT (:'r'::jsonb ->> 'id') AS rid \gset
SELECT automation.get_rule(:'rid') = :'r'::jsonb AS get_equals_create;
SELECT sort_order, action_type, config FROM automation.rule_actions ORDER BY id;
-- defaults: priority 50, active, no stop, no cooldown, sort_order 0
SELECT automation.create_rule('{"name": "defaults", "entity_type": "opportunity", "trigger_type": "OPPORTUNITY_DELETED",
  "conditions": [{"field_path": "amount", "operator": "GT", "value_int": 1000}],
  "actions": [{"action_type": "WEBHOOK", "url": "https://example.com/{{opportunity.id}}"}]}')
  - 'id' - 'created_at' - 'updated_at' - 'conditions' - 'actions';

-- top-level keys
SELECT rule('{}', '{name}');
SELECT rule('{}', '{entity_type}');
SELECT rule('{}', '{trigger_type}');
SELECT rule('{}', '{conditions}');
SELECT rule('{}', '{actions}');
SELECT rule('{"enabled": true}');
SELECT try($$SELECT automation.create_rule('[1]')$$);
SELECT try($$SELECT automation.create_rule(NULL)$$);
SELECT rule(jsonb_build_object('name', repeat('n', 191)));
SELECT rule(jsonb_build_object('name', repeat('n', 192)));
SELECT rule('{"name": ""}');
SELECT rule('{"name": "Route web leads"}');
SELECT rule('{"name": ["x"]}');
SELECT rule(jsonb_build_object('description', repeat('d', 1000)));
SELECT rule(jsonb_build_object('description', repeat('d', 1001)));
SELECT rule('{"description": null}');
SELECT rule('{"entity_type": "contact"}');
SELECT rule('{"entity_type": "opportunity"}');
SELECT rule('{"trigger_type": "LEAD_CONVERTED"}');
SELECT rule('{"trigger_type": "lead_created"}');
SELECT rule('{"trigger_type": "OPPORTUNITY_CREATED"}');
SELECT rule('{"trigger_type": "LEAD_DELETED"}');
SELECT rule('{"priority": 0}');
SELECT rule('{"priority": 100}');
SELECT rule('{"priority": 101}');
SELECT rule('{"priority": -1}');
SELECT rule('{"priority": 1.5}');
SELECT rule('{"priority": "ten"}');
SELECT rule('{"priority": null}');
SELECT rule('{"is_active": "maybe"}');
SELECT rule('{"is_active": null}');
SELECT rule('{"stop_subsequent_rules": 2}');
SELECT rule('{"cooldown_hours": null}');
SELECT rule('{"cooldown_hours": 0}');
SELECT rule('{"cooldown_hours": -1}');
SELECT rule('{"cooldown_hours": 87601}');
SELECT rule('{"cooldown_hours": "abc"}');
SELECT rule('{"conditions": []}');
SELECT rule('{"actions": []}');
SELECT rule('{"conditions": {"field_path": "status"}}');
SELECT rule('{"conditions": [5]}');
SELECT rule('{"actions": [null]}');
SELECT rule(jsonb_build_object('conditions', (SELECT jsonb_agg('{"field_path": "status", "operator": "EXISTS"}'::jsonb) FROM generate_series(1, 251))));

-- conditions: keys, field paths, operators
SELECT cond('{"operator": "EXISTS"}');
SELECT cond('{"field_path": "status"}');
SELECT cond('{"field_path": "status", "operator": "EXISTS", "value": "x"}');
SELECT cond('{"field_path": "status", "operator": "LIKE", "value_string": "x"}');
SELECT cond('{"field_path": "status", "operator": "equals", "value_string": "x"}');
SELECT cond('{"field_path": "nope", "operator": "EXISTS"}');
SELECT cond('{"field_path": "opportunity.amount", "operator": "EXISTS"}');
SELECT cond('{"field_path": "custom.utm.source", "operator": "EQUALS", "value_string": "ads"}');
SELECT cond('{"field_path": "lead.custom.score", "operator": "GT", "value_int": 3}');
SELECT cond('{"field_path": "status", "operator": "EXISTS", "sort_order": "x"}');
-- IN / NOT_IN take value_array
SELECT cond('{"field_path": "lead_source_id", "operator": "IN", "value_array": [1, "2", 3]}');
SELECT cond('{"field_path": "lead_source_id", "operator": "NOT_IN", "value_array": ["x"]}');
SELECT cond('{"field_path": "lead_source_id", "operator": "IN", "value_array": []}');
SELECT cond('{"field_path": "lead_source_id", "operator": "IN", "value_array": [1, null]}');
SELECT cond('{"field_path": "lead_source_id", "operator": "IN", "value_array": [[1]]}');
SELECT cond('{"field_path": "lead_source_id", "operator": "IN", "value_array": "1,2"}');
SELECT cond('{"field_path": "lead_source_id", "operator": "IN", "value_int": 1}');
SELECT cond('{"field_path": "lead_source_id", "operator": "IN", "value_array": [1], "value_int": 1}');
SELECT cond(jsonb_build_object('field_path', 'status', 'operator', 'IN', 'value_array', (SELECT jsonb_agg(i::text) FROM generate_series(1, 1001) i)));
-- GT / GTE / LT / LTE take value_int (numbers) or value_datetime (date/times)
SELECT cond('{"field_path": "score", "operator": "GT", "value_int": 50}');
SELECT cond('{"field_path": "score", "operator": "GTE", "value_int": "50"}');
SELECT cond('{"field_path": "created", "operator": "LT", "value_datetime": "2026-04-17T11:05:00Z"}');
SELECT cond('{"field_path": "birthday", "operator": "LTE", "value_datetime": "2000-01-01"}');
SELECT cond('{"field_path": "score", "operator": "GT", "value_datetime": "2026-04-17T11:05:00Z"}');
SELECT cond('{"field_path": "created", "operator": "GT", "value_int": 5}');
SELECT cond('{"field_path": "status", "operator": "GT", "value_int": 5}');
SELECT cond('{"field_path": "score", "operator": "GT", "value_string": "5"}');
SELECT cond('{"field_path": "score", "operator": "GT"}');
SELECT cond('{"field_path": "score", "operator": "GT", "value_int": 5.5}');
SELECT cond('{"field_path": "lead_source_id", "operator": "GT", "value_int": 99999999999}');
SELECT cond('{"field_path": "created", "operator": "GT", "value_datetime": "tomorrow"}');
SELECT cond('{"field_path": "created", "operator": "GT", "value_datetime": "2026-13-01"}');
SELECT cond('{"field_path": "created", "operator": "GT", "value_datetime": 20260101}');
-- CONTAINS / NOT_CONTAINS / STARTS_WITH / ENDS_WITH take value_string
SELECT cond('{"field_path": "name", "operator": "CONTAINS", "value_string": "inc"}');
SELECT cond('{"field_path": "tags", "operator": "NOT_CONTAINS", "value_string": "vip"}');
SELECT cond('{"field_path": "ids", "operator": "CONTAINS", "value_string": "x"}');
SELECT cond('{"field_path": "name", "operator": "STARTS_WITH", "value_string": "Dr"}');
SELECT cond('{"field_path": "name", "operator": "ENDS_WITH", "value_string": "GmbH"}');
SELECT cond('{"field_path": "tags", "operator": "STARTS_WITH", "value_string": "v"}');
SELECT cond('{"field_path": "score", "operator": "CONTAINS", "value_string": "5"}');
SELECT cond('{"field_path": "name", "operator": "CONTAINS", "value_int": 5}');
SELECT cond('{"field_path": "name", "operator": "CONTAINS"}');
SELECT cond('{"field_path": "name", "operator": "CONTAINS", "value_string": 5}');
SELECT cond(jsonb_build_object('field_path', 'name', 'operator', 'CONTAINS', 'value_string', repeat('x', 10001)));
-- EXISTS / NOT_EXISTS / CHANGED take no value or value_bool
SELECT cond('{"field_path": "owner_id", "operator": "EXISTS"}');
SELECT cond('{"field_path": "owner_id", "operator": "NOT_EXISTS", "value_bool": false}');
SELECT cond('{"field_path": "owner_id", "operator": "CHANGED", "value_bool": "true"}');
SELECT cond('{"field_path": "owner_id", "operator": "EXISTS", "value_string": "x"}');
SELECT cond('{"field_path": "owner_id", "operator": "EXISTS", "value_bool": "perhaps"}');
-- EQUALS / NOT_EQUALS / CHANGED_TO / CHANGED_FROM take exactly one typed value
SELECT cond('{"field_path": "status", "operator": "EQUALS", "value_string": "won"}');
SELECT cond('{"field_path": "status", "operator": "EQUALS", "value_string": ""}');
SELECT cond('{"field_path": "lead_source_id", "operator": "NOT_EQUALS", "value_int": 3}');
SELECT cond('{"field_path": "verified", "operator": "CHANGED_TO", "value_bool": true}');
SELECT cond('{"field_path": "created", "operator": "CHANGED_FROM", "value_datetime": "2026-01-01T00:00:00+02:00"}');
SELECT cond('{"field_path": "ext", "operator": "EQUALS", "value_string": "00000000-0000-0000-0000-000000000001"}');
SELECT cond('{"field_path": "ext", "operator": "EQUALS", "value_string": "nope"}');
SELECT cond('{"field_path": "status", "operator": "EQUALS"}');
SELECT cond('{"field_path": "status", "operator": "EQUALS", "value_string": "a", "value_int": 1}');
SELECT cond('{"field_path": "status", "operator": "EQUALS", "value_array": ["a"]}');
SELECT cond('{"field_path": "status", "operator": "EQUALS", "value_int": 1}');
SELECT cond('{"field_path": "status", "operator": "EQUALS", "value_bool": true}');
SELECT cond('{"field_path": "lead_source_id", "operator": "EQUALS", "value_string": "3"}');
SELECT cond('{"field_path": "verified", "operator": "EQUALS", "value_string": "true"}');
SELECT cond('{"field_path": "created", "operator": "EQUALS", "value_string": "2026-01-01"}');
SELECT cond('{"field_path": "verified", "operator": "EQUALS", "value_int": 1}');
SELECT cond('{"field_path": "custom.flag", "operator": "EQUALS", "value_bool": true}');
SELECT cond('{"field_path": "status", "operator": "EQUALS", "value_string": null, "value_int": 7}');
SELECT cond('{"field_path": "status", "operator": "EQUALS", "value_string": "x", "value_int": ""}');
-- CHANGED* cannot fit a DELETED rule
SELECT rule('{"trigger_type": "LEAD_DELETED", "conditions": [{"field_path": "status", "operator": "CHANGED"}]}');
SELECT rule('{"trigger_type": "LEAD_DELETED", "conditions": [{"field_path": "status", "operator": "CHANGED_TO", "value_string": "x"}]}');

-- actions
SELECT act('{"tag": "x"}');
SELECT act('{"action_type": "tag", "tag": "x"}');
SELECT act('{"action_type": "ARCHIVE"}');
SELECT act('{"action_type": "TAG"}');
SELECT act('{"action_type": "TAG", "tag": ""}');
SELECT act('{"action_type": "TAG", "tag": 5}');
SELECT act('{"action_type": "UNTAG", "tag": "{{lead.status}}", "tags_field": "tags"}');
SELECT act('{"action_type": "TAG", "tag": "x", "tags_field": "name"}');
SELECT act('{"action_type": "TAG", "tag": "x", "tags_field": "labels"}');
SELECT act('{"action_type": "TAG", "tag": "x", "color": "red"}');
SELECT act('{"action_type": "TAG", "tag": "x", "sort_order": "two"}');
SELECT act('{"action_type": "ASSIGN_USER"}');
SELECT act('{"action_type": "ASSIGN_USER", "assign_pool_id": "not-a-uuid"}');
SELECT act('{"action_type": "ASSIGN_USER", "assign_pool_id": "00000000-0000-0000-0000-0000000000ff"}');
SELECT act('{"action_type": "ASSIGN_USER", "assign_pool_id": "00000000-0000-0000-0000-00000000000a", "assign_field": "nope"}');
SELECT act('{"action_type": "ASSIGN_USER", "assign_pool_id": "00000000-0000-0000-0000-00000000000A", "assign_field": "owner_id"}');
SELECT act('{"action_type": "ASSIGN_USER", "assign_pool_id": 10}');
SELECT act('{"action_type": "CHANGE_STAGE", "stage_id": 3}');
SELECT act('{"action_type": "CHANGE_STAGE", "stage_id": "three"}');
SELECT act('{"action_type": "CHANGE_STAGE", "stage_id": null}');
SELECT act('{"action_type": "CHANGE_STAGE", "stage_id": "x", "stage_field": "status"}');
SELECT act('{"action_type": "CHANGE_STAGE"}');
SELECT act('{"action_type": "NOTIFY", "recipient": "ops", "message": "{{rule.name}}: {{lead.name}} {{event.operation}}"}');
SELECT act('{"action_type": "NOTIFY", "recipient": "ops", "message": "{{workflow.name}}"}');
SELECT act('{"action_type": "NOTIFY", "recipient": "ops"}');
SELECT act('{"action_type": "UPDATE_FIELD", "field": "score", "value": 10, "delay_minutes": "15"}');
SELECT act('{"action_type": "UPDATE_FIELD", "field": "score", "value": "ten"}');
SELECT act('{"action_type": "WEBHOOK", "url": "http://example.com/x", "method": "PATCH"}');
SELECT act('{"action_type": "WEBHOOK", "url": "javascript:alert(1)"}');
SELECT act('{"action_type": "SEND_EMAIL", "to": "a@example.com", "subject": "s", "body": "b"}');
SELECT act('{"action_type": "SEND_CHANNEL_MESSAGE", "channel": "nope", "message": "m"}');
SELECT act('{"action_type": "CREATE_TASK", "title": "x"}');
SELECT rule('{"actions": [{"action_type": "TAG", "tag": "a"}, {"action_type": "TAG", "tag": "b"}, {"action_type": "BOOM"}]}');

-- rejected creates changed nothing
SELECT count(*) AS rules, (SELECT count(*) FROM automation.rule_conditions) AS conditions,
       (SELECT count(*) FROM automation.rule_actions) AS actions FROM automation.rules;

-- get / update / delete
SELECT try($$SELECT automation.get_rule('00000000-0000-0000-0000-000000000000')$$);
SELECT try($$SELECT automation.get_rule(NULL)$$);
SELECT try($$SELECT automation.get_rule('nope')$$);
SELECT automation.update_rule(:'rid', '{"priority": 20, "cooldown_hours": null}')
	- 'id' - 'created_at' - 'updated_at' - 'conditions' - 'actions';
SELECT jsonb_array_length(r -> 'conditions') AS conditions_kept, jsonb_array_length(r -> 'actions') AS actions_kept
  FROM automation.get_rule(:'rid') r;
SELECT automation.update_rule(:'rid', '{"conditions": [{"field_path": "score", "operator": "GTE", "value_int": 80}]}') -> 'conditions' -> 0 ->> 'field_path';
SELECT count(*) AS conditions_now FROM automation.rule_conditions WHERE rule_id = :'rid';
SELECT try(format('SELECT automation.update_rule(%L, %L)', :'rid', '{"conditions": []}'));
SELECT try(format('SELECT automation.update_rule(%L, %L)', :'rid', '{"actions": [{"action_type": "NOPE"}]}'));
SELECT try(format('SELECT automation.update_rule(%L, %L)', :'rid', '{"trigger_type": "LEAD_DELETED", "conditions": [{"field_path": "status", "operator": "CHANGED"}]}'));
SELECT try(format('SELECT automation.update_rule(%L, %L)', :'rid', '{"entity_type": "opportunity"}'));
SELECT try(format('SELECT automation.update_rule(%L, %L)', :'rid', '{"entity_type": "opportunity", "trigger_type": "OPPORTUNITY_UPDATED", "conditions": [{"field_path": "amount", "operator": "GT", "value_int": 1}]}'));
SELECT try(format('SELECT automation.update_rule(%L, %L)', :'rid', '{"name": "defaults"}'));
SELECT try(format('SELECT automation.update_rule(%L, %L)', :'rid', '{"id": "x"}'));
SELECT try($$SELECT automation.update_rule('00000000-0000-0000-0000-000000000000', '{}')$$);
SELECT count(*) AS conditions_unchanged FROM automation.rule_conditions WHERE rule_id = :'rid';
-- the pool an ASSIGN_USER action uses cannot be deleted
SELECT try($$DELETE FROM automation.user_pools WHERE name = 'sdr'$$);

-- direct SQL: the same validation, and at least one condition and action at commit
SELECT try(format($$INSERT INTO automation.rule_conditions (rule_id, field_path, operator, value_int) VALUES (%L, 'status', 'GT', 1)$$, :'rid'));
SELECT try(format($$INSERT INTO automation.rule_actions (rule_id, action_type, config) VALUES (%L, 'TAG', '{}')$$, :'rid'));
SELECT try(format($$UPDATE automation.rule_conditions SET operator = 'IN' WHERE rule_id = %L$$, :'rid'));
SELECT try($$UPDATE automation.rules SET priority = 500$$);
SELECT try($$UPDATE automation.rules SET trigger_type = 'LEAD_CREATED' WHERE name = 'defaults'$$);
SELECT try($$INSERT INTO automation.rules (name, entity_type, trigger_type) VALUES ('sql', 'lead', 'LEAD_MERGED')$$);
BEGIN;
INSERT INTO automation.rules (name, entity_type, trigger_type) VALUES ('sql', 'lead', 'LEAD_UPDATED');
\set VERBOSITY sqlstate
COMMIT;
\set VERBOSITY default
SELECT count(*) AS sql_rule_rolled_back FROM automation.rules WHERE name = 'sql';
BEGIN;
INSERT INTO automation.rules (id, name, entity_type, trigger_type) VALUES ('00000000-0000-0000-0000-000000000001', 'sql', 'lead', 'LEAD_UPDATED');
INSERT INTO automation.rule_conditions (rule_id, field_path, operator) VALUES ('00000000-0000-0000-0000-000000000001', 'status', 'EXISTS');
INSERT INTO automation.rule_actions (rule_id, action_type, config) VALUES ('00000000-0000-0000-0000-000000000001', 'TAG', '{"tag": "sql"}');
COMMIT;
SELECT automation.get_rule('00000000-0000-0000-0000-000000000001') -> 'actions' -> 0 ->> 'tag';
BEGIN;
DELETE FROM automation.rule_actions WHERE rule_id = '00000000-0000-0000-0000-000000000001';
\set VERBOSITY sqlstate
COMMIT;
\set VERBOSITY default
SELECT count(*) AS action_kept FROM automation.rule_actions WHERE rule_id = '00000000-0000-0000-0000-000000000001';

SELECT automation.delete_rule(:'rid');
SELECT try(format('SELECT automation.delete_rule(%L)', :'rid'));
SELECT count(*) AS children_gone FROM automation.rule_conditions WHERE rule_id = :'rid';

SET client_min_messages = warning;
DROP SCHEMA rules CASCADE;
DROP EXTENSION automation;
