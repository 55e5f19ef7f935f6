-- privileges: nothing granted to PUBLIC; a role without grants gets 42501;
-- database actions need the creator's privilege; hostile inputs never
-- produce an internal error.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA privileges;
SET search_path = privileges, public;
\pset format unaligned
\pset tuples_only on
-- try(q): run q; 'ok' (rolled back unless keep) or the error's SQLSTATE,
-- message, detail and hint, with ids masked.
\set try_style verbose
\set try_keep param
\i sql/include/helpers.sql
CREATE TABLE deals (id bigserial PRIMARY KEY, status text, stage_id int, owner_id text);
CREATE TABLE tasks (id serial PRIMARY KEY, title text);
SELECT automation.watch('deal', 'deals') ->> 'entity';
SELECT automation.watch('task', 'tasks') ->> 'entity';
-- nothing in schema automation is granted to PUBLIC
SELECT count(*) AS public_function_grants FROM pg_proc p, aclexplode(p.proacl) a
 WHERE p.pronamespace = 'automation'::regnamespace AND a.grantee = 0;
-- the SECURITY DEFINER functions: execute_job runs actions as their
-- creator through _execute_as, which only the owner may call; the trigger
-- _channels_in_use counts the actions of every tenant using a channel;
-- the event trigger _follow_columns updates watched tables' column names;
-- _job_dead_alerted answers the alerts INSERT policy without recursion
SELECT p.proname AS security_definer_functions FROM pg_proc p
 WHERE p.pronamespace = 'automation'::regnamespace AND p.prosecdef ORDER BY 1;
SELECT count(*) AS functions_without_search_path FROM pg_proc p
 WHERE p.pronamespace = 'automation'::regnamespace AND p.prolang <> 13
   AND NOT coalesce(p.proconfig, '{}') && '{"search_path=pg_catalog, pg_temp"}';

SET client_min_messages = warning;
DROP ROLE IF EXISTS automation_nobody;
DROP ROLE IF EXISTS automation_admin;
RESET client_min_messages;
CREATE ROLE automation_nobody;
CREATE ROLE automation_admin;
GRANT USAGE ON SCHEMA privileges TO automation_nobody, automation_admin;
GRANT EXECUTE ON FUNCTION try(text, boolean) TO automation_nobody, automation_admin;
-- an admin role: the API, its helpers and the definition tables, but no
-- privilege on the application's tables
GRANT USAGE ON SCHEMA automation TO automation_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA automation TO automation_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA automation TO automation_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA automation TO automation_admin;

SET ROLE automation_nobody;
SELECT try($$SELECT automation.create_workflow('{}')$$);
SELECT try($$SELECT automation.get_workflow('wf_x')$$);
SELECT try($$SELECT automation.create_rule('{}')$$);
SELECT try($$SELECT automation.watch('x', 'deals')$$);
SELECT try($$SELECT * FROM automation.workflows$$);
SELECT try($$INSERT INTO automation.channels (name, url) VALUES ('x', 'https://x.example.com')$$);
RESET ROLE;

SET ROLE automation_admin;
-- a webhook needs no table privilege
SELECT try($$SELECT automation.create_workflow('{"name": "hook", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed", "condition_value": "",
  "action_type": "webhook", "action_config": {"url": "https://example.com/h"}}')$$, true);
-- database actions need the creator's privilege on the target
SELECT try($$SELECT automation.create_workflow('{"name": "upd", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed", "condition_value": "",
  "action_type": "update_field", "action_config": {"field": "stage_id", "value": 2}}')$$);
SELECT try($$SELECT automation.create_workflow('{"name": "task", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed", "condition_value": "",
  "action_type": "create_task", "action_config": {"title": "call"}}')$$);
SELECT try($$SELECT automation.create_rule('{"name": "stage", "entity_type": "deal", "trigger_type": "DEAL_UPDATED",
  "conditions": [{"field_path": "status", "operator": "CHANGED"}],
  "actions": [{"action_type": "CHANGE_STAGE", "stage_id": 3}]}')$$);
-- acting as another role through created_by is refused
SELECT try($$INSERT INTO automation.workflows (name, condition_entity, condition_field, condition_operator,
	condition_value, action_type, action_config, created_by)
	VALUES ('x', 'deal', 'status', 'changed', '', 'webhook', '{"url": "https://example.com/"}', 'postgres')$$);
-- watching needs the TRIGGER privilege on the table
SELECT try($$SELECT automation.watch('deal2', 'tasks')$$);
RESET ROLE;
-- with the column privilege it works
GRANT UPDATE (stage_id) ON deals TO automation_admin;
GRANT INSERT ON tasks TO automation_admin;
SET ROLE automation_admin;
SELECT try($$SELECT automation.create_workflow('{"name": "upd", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed", "condition_value": "",
  "action_type": "update_field", "action_config": {"field": "stage_id", "value": 2}}')$$);
SELECT try($$SELECT automation.create_workflow('{"name": "upd2", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed", "condition_value": "",
  "action_type": "update_field", "action_config": {"field": "owner_id", "value": "x"}}')$$);
SELECT try($$SELECT automation.create_workflow('{"name": "task", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed", "condition_value": "",
  "action_type": "create_task", "action_config": {"title": "call"}}')$$);
RESET ROLE;
SELECT name, created_by FROM automation.workflows ORDER BY name;
-- the superuser may change the admin's workflow (it is a member of every role)
SELECT automation.update_workflow(id, '{"action_config": {"url": "https://example.com/2"}}') ->> 'name'
  FROM automation.workflows WHERE name = 'hook';

-- hostile inputs: every one is a clean 22023/P0002/22P02, never XX000
CREATE TABLE hostile (label text, result text);
INSERT INTO hostile
SELECT label, try(q) FROM (VALUES
	('deep json body', format('SELECT automation.create_workflow(%L)', repeat('[', 5000) || repeat(']', 5000))),
	('deep action_config', format('SELECT automation.create_workflow(%L)',
		'{"name": "d", "condition_entity": "deal", "condition_field": "status", "condition_operator": "changed", "condition_value": "", "action_type": "webhook", "action_config": {"url": "https://example.com", "body": '
		|| repeat('{"a":', 1000) || '1' || repeat('}', 1000) || '}}')),
	('huge name', format('SELECT automation.create_workflow(%L)', jsonb_build_object('name', repeat('x', 1000000)))),
	('huge action_config', format('SELECT automation.create_workflow(%L)',
		jsonb_build_object('name', 'h', 'condition_entity', 'deal', 'condition_field', 'status', 'condition_operator', 'changed',
			'condition_value', '', 'action_type', 'webhook', 'action_config', jsonb_build_object('url', 'https://example.com/', 'body', repeat('b', 100000))))),
	('many merge tokens', format('SELECT automation.create_workflow(%L)',
		jsonb_build_object('name', 'm', 'condition_entity', 'deal', 'condition_field', 'status', 'condition_operator', 'changed',
			'condition_value', '', 'action_type', 'webhook', 'action_config', jsonb_build_object('url', 'https://example.com/' || repeat('{{deal.status}}', 2000))))),
	('nul-free control chars', format('SELECT automation.create_workflow(%L)',
		jsonb_build_object('name', E'\x01\x02', 'condition_entity', E'\x7f', 'condition_field', 'status', 'condition_operator', 'changed',
			'condition_value', '', 'action_type', 'webhook', 'action_config', '{}'::jsonb))),
	('unicode name', format('SELECT automation.create_workflow(%L)',
		jsonb_build_object('name', 'Ünïcødé 🚀', 'condition_entity', 'déal', 'condition_field', 'status', 'condition_operator', 'changed',
			'condition_value', '', 'action_type', 'webhook', 'action_config', '{}'::jsonb))),
	('nested conditions', $$SELECT automation.create_rule('{"name": "n", "entity_type": "deal", "trigger_type": "DEAL_UPDATED", "conditions": [[[[]]]], "actions": [{}]}')$$),
	('numbers everywhere', $$SELECT automation.create_rule('{"name": 1, "entity_type": 2, "trigger_type": 3, "conditions": 4, "actions": 5}')$$),
	('form key with NUL-like escapes', $$SELECT automation.create_rule('{"conditions[0][\u0001]": "x"}')$$),
	('form index overflow', $$SELECT automation.create_rule('{"actions[18446744073709551616][tag]": "x"}')$$),
	('uuid garbage', $$SELECT automation.get_rule('00000000-0000-0000-0000-00000000000g')$$),
	('huge priority', $$SELECT automation.create_rule('{"name": "p", "entity_type": "deal", "trigger_type": "DEAL_UPDATED", "priority": 1e1000, "conditions": [{}], "actions": [{}]}')$$),
	('merge token parser direct', $$SELECT automation._merge_token_paths(repeat('{{', 100000))$$),
	('form key parser direct', $$SELECT automation._form_key_parse(repeat('[', 100000))$$),
	('empty form key', $$SELECT automation._form_key_parse('')$$)
) v(label, q);
SELECT label, left(result, 140) FROM hostile ORDER BY label;
SELECT count(*) AS internal_errors FROM hostile WHERE result LIKE 'ERROR XX%';
SELECT automation._merge_token_paths('Hi {{ deal.name }}, {{deal.custom.a}} at {{event.at}}');
SELECT automation._form_key_parse('conditions[12][value_array][]');

SET client_min_messages = warning;
DROP SCHEMA privileges CASCADE;
DROP OWNED BY automation_nobody, automation_admin;
DROP EXTENSION automation;
DROP ROLE automation_nobody;
DROP ROLE automation_admin;
