-- backtest: automation.backtest(definition jsonb | id text, sample) (SPEC
-- section 12): every field of the result, body and id forms, "matches as a
-- state", validation errors that change nothing, privileges, row-level
-- security and tenancy through a non-owner role, sample bounds,
-- statement_timeout, and nothing written.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
DROP ROLE IF EXISTS regress_bt_admin;
DROP ROLE IF EXISTS regress_bt_reader;
RESET client_min_messages;
CREATE SCHEMA bt;
SET search_path = bt, public;
\i sql/include/helpers.sql

-- a dropped column: the scan's columns are the table's attribute numbers
CREATE TABLE contacts (id int PRIMARY KEY, gone int, status text, score int, org text,
					   note text, seen date);
ALTER TABLE contacts DROP COLUMN gone;
-- 30 contacts: every third is VIP; odd ids are acme's, even ids beta's
INSERT INTO contacts (id, status, score, org, note, seen)
SELECT g, CASE WHEN g % 3 = 0 THEN 'VIP' ELSE 'regular' END, g,
	   CASE WHEN g % 2 = 1 THEN 'acme' ELSE 'beta' END,
	   CASE WHEN g <= 4 THEN NULL ELSE 'n' || g END, date '2026-01-01' + g
  FROM generate_series(1, 30) g;
SELECT automation.watch('contact', 'bt.contacts', tenant_column => 'org') ->> 'entity' AS watched;

-- 1. a create_workflow body: nothing is created; every field of the result
SELECT automation.backtest('{"name": "vip", "condition_entity": "contact",
	"condition_field": "status", "condition_operator": "equals", "condition_value": "vip",
	"action_type": "webhook", "action_config": {"url": "https://example.com/vip"}}'::jsonb, 3);
-- an untyped literal is read as the body too; the default sample is 10
SELECT automation.backtest('{"name": "vip", "condition_entity": "contact",
	"condition_field": "status", "condition_operator": "equals", "condition_value": "vip",
	"action_type": "webhook", "action_config": {"url": "https://example.com/vip"}}');
SELECT count(*) AS workflows_created FROM automation.workflows;

-- 2. "as a state": changed_to X as value = X, changed as not null, CHANGED_FROM never
SELECT automation.backtest('{"name": "to vip", "condition_entity": "contact",
	"condition_field": "status", "condition_operator": "changed_to", "condition_value": "VIP",
	"action_type": "webhook", "action_config": {"url": "https://example.com/vip"}}'::jsonb, 0) ->> 'matched' AS changed_to_vip;
SELECT automation.backtest('{"name": "note", "condition_entity": "contact",
	"condition_field": "note", "condition_operator": "changed", "condition_value": "",
	"action_type": "webhook", "action_config": {"url": "https://example.com/n"}}'::jsonb, 0) ->> 'matched' AS changed_note;
SELECT automation.backtest('{"name": "from vip", "entity_type": "contact", "trigger_type": "CONTACT_UPDATED",
	"conditions": [{"field_path": "status", "operator": "CHANGED_FROM", "value_string": "regular"}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/r"}]}'::jsonb, 0) ->> 'matched' AS changed_from;
-- a rule body in form fields; its trigger type does not matter for a state
SELECT automation.backtest('{"name": "high", "entity_type": "contact", "trigger_type": "CONTACT_DELETED",
	"conditions[0][field_path]": "score", "conditions[0][operator]": "GTE", "conditions[0][value_int]": "25",
	"conditions[1][field_path]": "seen", "conditions[1][operator]": "LT", "conditions[1][value_datetime]": "2026-01-30T00:00:00Z",
	"actions[0][action_type]": "WEBHOOK", "actions[0][url]": "https://example.com/h"}'::jsonb);

-- 3. would_trip_breaker: firing every match today against max_triggers_per_day
SELECT automation.backtest('{"name": "tight", "condition_entity": "contact",
	"condition_field": "status", "condition_operator": "equals", "condition_value": "vip",
	"max_triggers_per_day": 9, "action_type": "webhook", "action_config": {"url": "https://example.com/t"}}'::jsonb, 0) ->> 'would_trip_breaker' AS nine_of_10;
SELECT automation.backtest('{"name": "tight", "condition_entity": "contact",
	"condition_field": "status", "condition_operator": "equals", "condition_value": "vip",
	"max_triggers_per_day": 10, "action_type": "webhook", "action_config": {"url": "https://example.com/t"}}'::jsonb, 0) ->> 'would_trip_breaker' AS ten_of_10;
-- an existing workflow counts today's firings: 3 taken + 10 matched > 12
SELECT automation.create_workflow('{"name": "vip12", "condition_entity": "contact",
	"condition_field": "status", "condition_operator": "equals", "condition_value": "vip",
	"max_triggers_per_day": 12, "action_type": "webhook", "action_config": {"url": "https://example.com/v"}}') ->> 'id' AS wf \gset
SELECT automation.backtest(:'wf', 0);
UPDATE contacts SET note = note WHERE id IN (3, 6, 9);
SELECT automation.backtest(:'wf', 0);
-- a disabled workflow is backtested too (before enabling it)
SELECT automation.disable_workflow(:'wf') ->> 'enabled' AS enabled;
SELECT automation.backtest(:'wf', 2) -> 'sample' AS sample;

-- 4. in_cooldown: matched rows whose record the rule fired for within its cooldown
SELECT automation.create_rule('{"name": "cool", "entity_type": "contact", "trigger_type": "CONTACT_UPDATED",
	"cooldown_hours": 24, "conditions": [{"field_path": "score", "operator": "GTE", "value_int": 25}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/c"}]}') ->> 'id' AS rid \gset
SELECT automation.backtest(:'rid', 0);
-- a rule's id in any spelling of its uuid
SELECT automation.backtest(upper(:'rid'), 0) ->> 'matched' AS upper_case_id;
UPDATE contacts SET note = 'x' WHERE id IN (25, 26, 2);
SELECT automation.backtest(:'rid', 0);
-- per tenant, like the engine: another tenant's firing for the same key does not count
UPDATE automation.firings SET tenant_id = 'other' WHERE rule_id = :'rid'::uuid AND record_key = '26';
SELECT automation.backtest(:'rid', 0) ->> 'in_cooldown' AS in_cooldown;
CREATE TABLE after_setup AS
SELECT (SELECT count(*) FROM automation.workflows) AS workflows,
	   (SELECT count(*) FROM automation.rules) AS rules,
	   (SELECT count(*) FROM automation.jobs) AS jobs,
	   (SELECT count(*) FROM automation.firings) AS firings,
	   (SELECT count(*) FROM automation.alerts) AS alerts;

-- 5. validation: create_workflow's and create_rule's own errors, nothing created
SELECT try($$SELECT automation.backtest('{"name": "x", "condition_entity": "contact",
	"condition_field": "nope", "condition_operator": "equals", "condition_value": "vip",
	"action_type": "webhook", "action_config": {"url": "https://example.com/x"}}'::jsonb)$$);
SELECT try($$SELECT automation.backtest('{"name": "vip12", "condition_entity": "contact",
	"condition_field": "status", "condition_operator": "equals", "condition_value": "vip",
	"action_type": "webhook", "action_config": {"url": "https://example.com/x"}}'::jsonb)$$);
SELECT try($$SELECT automation.backtest('{"name": "x", "condition_entity": "contact",
	"condition_field": "score", "condition_operator": "equals", "condition_value": "many",
	"action_type": "webhook", "action_config": {"url": "https://example.com/x"}}'::jsonb)$$);
SELECT try($$SELECT automation.backtest('{"name": "r", "entity_type": "contact", "trigger_type": "CONTACT_CREATED",
	"conditions": [], "actions": [{"action_type": "WEBHOOK", "url": "https://example.com/r"}]}'::jsonb)$$);
SELECT try($$SELECT automation.backtest('{"name": "x", "condition_entity": "lead", "condition_field": "status",
	"condition_operator": "equals", "condition_value": "vip", "action_type": "webhook",
	"action_config": {"url": "https://example.com/x"}}'::jsonb)$$);
SELECT try($$SELECT automation.backtest('{"name": "x"}'::jsonb)$$);
SELECT try($$SELECT automation.backtest('[1, 2]'::jsonb)$$);
SELECT try($$SELECT automation.backtest('{not json')$$);
SELECT try($$SELECT automation.backtest(NULL::jsonb)$$);
-- the id form: unknown ids are not found
SELECT try($$SELECT automation.backtest('wf_00000000000000000000000000')$$);
SELECT try($$SELECT automation.backtest('00000000-0000-0000-0000-000000000000')$$);
SELECT try($$SELECT automation.backtest('deal-42')$$);
-- sample: 0 to 1000
SELECT try(format('SELECT automation.backtest(%L, -1)', :'wf'));
SELECT try(format('SELECT automation.backtest(%L, 1001)', :'wf'));
SELECT try(format('SELECT automation.backtest(%L, NULL)', :'wf'));
SELECT jsonb_array_length(automation.backtest(:'wf', 1000) -> 'sample') AS sample_of_1000;
-- enroll_existing in a backtested body enrolls nothing
SELECT automation.backtest('{"name": "enrolling", "enroll_existing": true, "condition_entity": "contact",
	"condition_field": "status", "condition_operator": "equals", "condition_value": "vip",
	"action_type": "webhook", "action_config": {"url": "https://example.com/e"}}'::jsonb, 0) ->> 'matched' AS matched;
SELECT a.workflows = n.workflows AND a.rules = n.rules AND a.jobs = n.jobs AND a.firings = n.firings
	   AND a.alerts = n.alerts AS nothing_changed
  FROM after_setup a, (SELECT (SELECT count(*) FROM automation.workflows) AS workflows,
	   (SELECT count(*) FROM automation.rules) AS rules, (SELECT count(*) FROM automation.jobs) AS jobs,
	   (SELECT count(*) FROM automation.firings) AS firings, (SELECT count(*) FROM automation.alerts) AS alerts) n;

-- 6. as a non-owner role: its privileges, the table's row-level security, its tenant
CREATE ROLE regress_bt_admin;
CREATE ROLE regress_bt_reader;
SELECT cardinality(automation.grant_role('regress_bt_admin', 'admin')) AS admin_grants;
SELECT cardinality(automation.grant_role('regress_bt_reader', 'admin')) AS reader_grants;
GRANT USAGE ON SCHEMA bt TO regress_bt_admin, regress_bt_reader;
GRANT EXECUTE ON FUNCTION try(text) TO regress_bt_admin, regress_bt_reader;
GRANT SELECT ON contacts TO regress_bt_admin;
-- the reader may read some columns only
GRANT SELECT (id, status, org) ON contacts TO regress_bt_reader;
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY low_scores ON contacts FOR SELECT TO regress_bt_admin USING (score <= 26);
CREATE POLICY everything ON contacts FOR SELECT TO regress_bt_reader USING (true);
SET ROLE regress_bt_admin;
-- row-level security: the VIPs 3, 6, ..., 24 of the 26 rows it sees
SELECT automation.backtest(:'wf', 0) - 'sample' AS through_rls;
-- tenancy: a session of tenant acme counts acme's rows only (3, 9, 15, 21)
SET automation.tenant = 'acme';
SELECT automation.backtest(:'wf', 10) AS acme_session;
-- a definition of tenant acme (its body, created as acme) counts acme's rows only
SELECT automation.backtest('{"name": "acme vip", "condition_entity": "contact",
	"condition_field": "status", "condition_operator": "equals", "condition_value": "vip",
	"action_type": "webhook", "action_config": {"url": "https://example.com/a"}}'::jsonb, 0) - 'sample' AS acme_definition;
-- the rule's cooldowns, of acme's rows: 25 matched, and in cooldown
SELECT automation.backtest(:'rid', 0) - 'sample' AS acme_cooldowns;
RESET automation.tenant;
-- without a tenant: every row it sees (25, 26 match), but no tenant's
-- history is read (no cooldown counted)
SELECT automation.backtest(:'rid', 0) - 'sample' AS global_session;
RESET ROLE;
SET ROLE regress_bt_reader;
-- column privileges: status is readable, score is not (42501)
SELECT automation.backtest(:'wf', 0) ->> 'matched' AS status_readable;
SELECT try(format('SELECT automation.backtest(%L)', :'rid'));
RESET ROLE;
-- no SELECT on the table at all: 42501
REVOKE SELECT ON contacts FROM regress_bt_admin;
SET ROLE regress_bt_admin;
SELECT try(format('SELECT automation.backtest(%L)', :'wf'));
RESET ROLE;
-- another tenant's definition is not found
SET automation.tenant = 'beta';
SELECT automation.create_workflow('{"name": "beta only", "condition_entity": "contact",
	"condition_field": "status", "condition_operator": "equals", "condition_value": "vip",
	"action_type": "webhook", "action_config": {"url": "https://example.com/b"}}') ->> 'id' AS beta_wf \gset
RESET automation.tenant;
GRANT SELECT ON contacts TO regress_bt_admin;
SET ROLE regress_bt_admin;
SET automation.tenant = 'acme';
SELECT regexp_replace(try(format('SELECT automation.backtest(%L)', :'beta_wf')), 'wf_[0-9A-Z]{26}', 'wf_<id>') AS other_tenant;
RESET automation.tenant;
RESET ROLE;
ALTER TABLE contacts DISABLE ROW LEVEL SECURITY;

-- 7. cancellable: statement_timeout ends a long scan (57014), nothing left behind
CREATE TABLE big (id int PRIMARY KEY, v int);
INSERT INTO big SELECT g, g % 7 FROM generate_series(1, 400000) g;
SELECT automation.watch('item', 'bt.big') ->> 'entity' AS watched;
SELECT automation.create_rule('{"name": "sevens", "entity_type": "item", "trigger_type": "ITEM_CREATED",
	"conditions": [{"field_path": "v", "operator": "EQUALS", "value_int": 3}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/7"}]}') ->> 'id' AS big_rule \gset
SELECT automation.backtest(:'big_rule', 1) - 'sample' AS whole_table;
SELECT set_config('bt.rule', :'big_rule', false) IS NOT NULL AS rule_set;
-- (try() cannot catch a cancel: a PL/pgSQL handler for query_canceled can)
SET statement_timeout = '20ms';
DO $$
BEGIN
	PERFORM automation.backtest(current_setting('bt.rule'), 1);
	RAISE NOTICE 'id form: finished';
EXCEPTION WHEN query_canceled THEN
	RAISE NOTICE 'id form: % %', SQLSTATE, SQLERRM;
END
$$;
DO $$
BEGIN
	PERFORM automation.backtest('{"name": "sevens 2", "entity_type": "item", "trigger_type": "ITEM_CREATED",
		"conditions": [{"field_path": "v", "operator": "EQUALS", "value_int": 3}],
		"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/7"}]}'::jsonb);
	RAISE NOTICE 'body form: finished';
EXCEPTION WHEN query_canceled THEN
	RAISE NOTICE 'body form: % %', SQLSTATE, SQLERRM;
END
$$;
RESET statement_timeout;
SELECT count(*) AS rules_named_sevens FROM automation.rules WHERE name LIKE 'sevens%';

-- 8. nothing written by any backtest: only the writes of this script changed history
SELECT a.workflows + 1 = n.workflows AS one_workflow_more, a.rules + 1 = n.rules AS one_rule_more,
	   a.jobs = n.jobs AS same_jobs, a.firings = n.firings AS same_firings, a.alerts = n.alerts AS same_alerts
  FROM after_setup a, (SELECT (SELECT count(*) FROM automation.workflows) AS workflows,
	   (SELECT count(*) FROM automation.rules) AS rules, (SELECT count(*) FROM automation.jobs) AS jobs,
	   (SELECT count(*) FROM automation.firings) AS firings, (SELECT count(*) FROM automation.alerts) AS alerts) n;
SELECT operation, outcome, count(*) FROM automation.firings GROUP BY 1, 2 ORDER BY 1, 2;

DROP SCHEMA bt CASCADE;
DROP EXTENSION automation CASCADE;
DROP OWNED BY regress_bt_admin, regress_bt_reader;
DROP ROLE regress_bt_admin;
DROP ROLE regress_bt_reader;
