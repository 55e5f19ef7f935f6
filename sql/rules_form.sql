-- rules_form: the seed's multipart form fields as a flat object give the same
-- rule as nested JSON; string coercion; malformed and hostile form keys.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA rules_form;
SET search_path = rules_form, public;
\pset format unaligned
\pset tuples_only on
-- try(q): run q; 'ok' (rolled back unless keep) or the error's SQLSTATE,
-- message, detail and hint, with ids masked.
\set try_style verbose
\set try_keep param
\i sql/include/helpers.sql
CREATE TABLE leads (id bigserial PRIMARY KEY, name text, status text, lead_source_id int,
	score numeric, owner_id text, tags text[], created timestamptz, custom jsonb);
SELECT automation.watch('lead', 'leads') ->> 'entity';
INSERT INTO automation.user_pools (id, name) VALUES ('00000000-0000-0000-0000-00000000000a', 'sdr');
-- shape(rule): a rule without its ids, timestamps and name, for comparison
CREATE FUNCTION shape(r jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT r - 'id' - 'name' - 'created_at' - 'updated_at'
		|| jsonb_build_object(
			'conditions', (SELECT jsonb_agg(c - 'id') FROM jsonb_array_elements(r -> 'conditions') c),
			'actions', (SELECT jsonb_agg(a - 'id') FROM jsonb_array_elements(r -> 'actions') a))
$$;

-- the seed's form fields, every value a string
SELECT automation.create_rule('{
  "name": "form", "priority": "10", "is_active": "1", "description": "from a form",
  "entity_type": "lead", "trigger_type": "LEAD_CREATED", "stop_subsequent_rules": "false",
  "cooldown_hours": "",
  "actions[0][sort_order]": "0", "actions[0][action_type]": "ASSIGN_USER",
  "actions[0][assign_pool_id]": "00000000-0000-0000-0000-00000000000a",
  "actions[1][action_type]": "TAG", "actions[1][tag]": "web", "actions[1][sort_order]": "1",
  "actions[1][delay_minutes]": "5",
  "conditions[0][operator]": "EQUALS", "conditions[0][field_path]": "lead.lead_source_id",
  "conditions[0][value_int]": "5", "conditions[0][sort_order]": "0",
  "conditions[1][operator]": "IN", "conditions[1][field_path]": "status",
  "conditions[1][value_array][0]": "new", "conditions[1][value_array][1]": "open",
  "conditions[1][sort_order]": "1",
  "conditions[2][operator]": "GT", "conditions[2][field_path]": "created",
  "conditions[2][value_datetime]": "2026-01-01T00:00:00Z", "conditions[2][value_int]": "",
  "conditions[2][sort_order]": "2"}') AS f \gset
-- the same rule as nested JSON
SELECT automation.create_rule('{
  "name": "json", "priority": 10, "is_active": true, "description": "from a form",
  "entity_type": "lead", "trigger_type": "LEAD_CREATED", "stop_subsequent_rules": false,
  "cooldown_hours": null,
  "conditions": [
    {"field_path": "lead.lead_source_id", "operator": "EQUALS", "value_int": 5, "sort_order": 0},
    {"field_path": "status", "operator": "IN", "value_array": ["new", "open"], "sort_order": 1},
    {"field_path": "created", "operator": "GT", "value_datetime": "2026-01-01T00:00:00Z", "sort_order": 2}],
  "actions": [
    {"action_type": "ASSIGN_USER", "sort_order": 0, "assign_pool_id": "00000000-0000-0000-0000-00000000000a"},
    {"action_type": "TAG", "tag": "web", "sort_order": 1, "delay_minutes": 5}]}') AS j \gset
SELECT shape(:'f') = shape(:'j') AS form_equals_json;
SELECT jsonb_pretty(shape(:'f'));
-- stored rows are identical too
SELECT count(*) AS differing_condition_rows FROM (
	SELECT sort_order, field_path, operator, value_int, value_string, value_bool, value_datetime, value_array
	  FROM automation.rule_conditions WHERE rule_id = (:'f'::jsonb ->> 'id')::uuid
	EXCEPT
	SELECT sort_order, field_path, operator, value_int, value_string, value_bool, value_datetime, value_array
	  FROM automation.rule_conditions WHERE rule_id = (:'j'::jsonb ->> 'id')::uuid) d;

-- sparse indexes keep their order; [] appends one element
SELECT shape(automation.create_rule('{"name": "sparse", "entity_type": "lead", "trigger_type": "LEAD_UPDATED",
  "conditions[7][field_path]": "status", "conditions[7][operator]": "EXISTS",
  "conditions[3][field_path]": "tags", "conditions[3][operator]": "CONTAINS", "conditions[3][value_string]": "vip",
  "conditions[999][field_path]": "lead_source_id", "conditions[999][operator]": "NOT_IN", "conditions[999][value_array][]": "9",
  "actions[5][action_type]": "NOTIFY", "actions[5][recipient]": "ops", "actions[5][message]": "{{lead.name}}"}')) -> 'conditions';

-- a blank optional field takes its default (SPEC section 5; doc/definitions.md):
-- priority 50, is_active true, stop_subsequent_rules false, cooldown_hours,
-- description and payload_columns null, sort_order 0, an absent value_int /
-- value_bool / value_datetime, delay_minutes, method, headers and the
-- *_field keys; free text (value_string) keeps its blank: it is a value
SELECT automation.create_rule('{"name": "blanks", "entity_type": "lead", "trigger_type": "LEAD_UPDATED",
  "priority": "", "is_active": " ", "stop_subsequent_rules": "", "cooldown_hours": "",
  "description": "", "payload_columns": "",
  "conditions[0][field_path]": "status", "conditions[0][operator]": "EQUALS",
  "conditions[0][value_string]": "", "conditions[0][sort_order]": "", "conditions[0][value_int]": "",
  "conditions[1][field_path]": "status", "conditions[1][operator]": "EXISTS", "conditions[1][value_bool]": "",
  "actions[0][action_type]": "TAG", "actions[0][tag]": "t", "actions[0][tags_field]": "",
  "actions[0][sort_order]": "", "actions[0][delay_minutes]": "",
  "actions[1][action_type]": "ASSIGN_USER", "actions[1][assign_pool_id]": "00000000-0000-0000-0000-00000000000a",
  "actions[1][assign_field]": " ",
  "actions[2][action_type]": "NOTIFY", "actions[2][recipient]": "ops", "actions[2][message]": "m",
  "actions[2][sort_order]": "2"}') AS j \gset
SELECT jsonb_pretty(shape(:'j'::jsonb));
-- the same blanks in nested JSON, and a blank in a patch sets the default
SELECT shape(automation.create_rule('{"name": "nested blanks", "entity_type": "lead", "trigger_type": "LEAD_UPDATED",
  "priority": "", "is_active": "", "stop_subsequent_rules": "", "description": " ",
  "conditions": [{"field_path": "status", "operator": "EXISTS", "sort_order": ""}],
  "actions": [{"action_type": "UNTAG", "tag": "x", "tags_field": "", "sort_order": ""}]}'))
  - 'conditions' - 'payload_columns' - 'cooldown_hours';
SELECT automation.update_rule((:'j'::jsonb ->> 'id')::uuid, '{"priority": "7", "is_active": "0", "stop_subsequent_rules": "1"}')
  -> 'priority' AS patched;
SELECT r ->> 'priority' AS priority, r ->> 'is_active' AS is_active, r ->> 'stop_subsequent_rules' AS stop
  FROM automation.update_rule((:'j'::jsonb ->> 'id')::uuid,
	   '{"priority": "", "is_active": "", "stop_subsequent_rules": ""}') r;

-- form keys that are malformed, unknown, too deep or too large
CREATE FUNCTION form(extra jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT try(format('SELECT automation.create_rule(%L)',
		'{"name": "probe", "entity_type": "lead", "trigger_type": "LEAD_UPDATED",
		  "conditions[0][field_path]": "status", "conditions[0][operator]": "EXISTS",
		  "actions[0][action_type]": "TAG", "actions[0][tag]": "t"}'::jsonb || extra))
$$;
SELECT form('{}');
SELECT form('{"conditions[0][operator": "EXISTS"}');
SELECT form('{"conditions[0]]": "x"}');
SELECT form('{"conditions[1000][operator]": "EXISTS"}');
SELECT form('{"conditions[99999999999999999999999][operator]": "EXISTS"}');
SELECT form('{"conditions[-1][operator]": "EXISTS"}');
SELECT form('{"conditions[0][a][b][c][d][e][f][g]": "x"}');
SELECT form('{"conditions[][operator]": "EXISTS"}');
SELECT form('{"conditions[x][operator]": "EXISTS"}');
SELECT form('{"conditions[0]": "x"}');
SELECT form('{"conditions[0][0]": "x"}');
SELECT form('{"conditions[0][operator][x]": "x"}');
SELECT form('{"rules[0][x]": "y"}');
SELECT form('{"name[0]": "y"}');
SELECT form('{"conditions": []}');
SELECT form('{"conditions[1][field_path]": "status"}');
SELECT form('{"conditions[0][value_array]": "a", "conditions[0][value_array][0]": "b"}');
SELECT form('{"conditions[0][bogus]": "x"}');
SELECT form('{"actions[0][delay_minutes]": "soon"}');
SELECT form('{"actions[0][tags_field]": ""}');
SELECT form(jsonb_build_object(repeat('k', 10000) || '[0]', 'x'));
SELECT form(jsonb_build_object('conditions[0][' || repeat('k', 64) || ']', 'x'));
SELECT form((SELECT jsonb_object_agg('x' || i, i) FROM generate_series(1, 2001) i));
SELECT form('{"priority": "١٠"}');
SELECT form('{"priority": " 10 "}');

-- a blank required field stays an error naming the field
SELECT form('{"name": ""}');
SELECT form('{"entity_type": " "}');
SELECT form('{"trigger_type": ""}');
SELECT form('{"conditions[0][field_path]": ""}');
SELECT form('{"conditions[0][operator]": ""}');
SELECT form('{"actions[0][action_type]": ""}');
SELECT form('{"actions[0][tag]": ""}');
SELECT form('{"actions[1][action_type]": "ASSIGN_USER", "actions[1][assign_pool_id]": ""}');
SELECT form('{"actions[1][action_type]": "NOTIFY", "actions[1][recipient]": "", "actions[1][message]": "m"}');
SELECT form('{"actions[1][action_type]": "NOTIFY", "actions[1][recipient]": "ops", "actions[1][message]": " "}');

SELECT count(*) AS rules FROM automation.rules;

SET client_min_messages = warning;
DROP SCHEMA rules_form CASCADE;
DROP EXTENSION automation;
