-- enrollment: "enroll_existing": true on create_workflow, create_rule,
-- update_workflow, update_rule, and enable_workflow (its body, or the
-- enroll_existing argument)
-- (SPEC section 12): every row backtest counts as matched fires once, in
-- the same transaction, operation ENROLL, through the breaker and the
-- cooldown like any firing; a breaker that trips stops the enrollment with
-- its alert; the key is never stored.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA en;
SET search_path = en, public;
\i sql/include/helpers.sql

CREATE TABLE deals (id int PRIMARY KEY, stage text, amount int, org text);
-- 12 deals: 1..5 won; odd ids acme's, even ids beta's
INSERT INTO deals SELECT g, CASE WHEN g <= 5 THEN 'won' ELSE 'open' END, g * 100,
						 CASE WHEN g % 2 = 1 THEN 'acme' ELSE 'beta' END
  FROM generate_series(1, 12) g;
SELECT automation.watch('deal', 'en.deals', tenant_column => 'org') ->> 'entity' AS watched;

-- 1. create_workflow: each matched row fires once, operation ENROLL, as its job's event
SELECT automation.create_workflow('{"name": "won", "enroll_existing": true, "condition_entity": "deal",
	"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
	"action_type": "webhook", "action_config": {"url": "https://example.com/won/{{deal.id}}"}}')
	- 'id' - 'created_at' - 'updated_at' - 'last_triggered_at' AS created;
SELECT workflow_id IS NOT NULL AS workflow, record_key, tenant_id, operation, outcome
  FROM automation.firings ORDER BY record_key::int;
SELECT record_key, payload -> 'event' ->> 'operation' AS operation, payload -> 'config' ->> 'url' AS url,
	   payload -> 'new' ->> 'stage' AS new_stage, payload -> 'old' AS old
  FROM automation.jobs ORDER BY record_key::int;
-- the key is not stored: the record and the table know nothing of it
SELECT automation.get_workflow(id) ? 'enroll_existing' AS in_record,
	   automation.get_workflow(id) ? 'enrollment' AS enrollment_in_record
  FROM automation.workflows WHERE name = 'won';
SELECT count(*) AS enroll_columns FROM pg_attribute
 WHERE attrelid IN ('automation.workflows'::regclass, 'automation.rules'::regclass) AND attname LIKE 'enroll%';
-- backtest counts the same rows
SELECT automation.backtest(id, 0) ->> 'matched' AS backtest_matched FROM automation.workflows WHERE name = 'won';
-- without enroll_existing (or false), existing rows do not fire
SELECT automation.create_workflow('{"name": "won quietly", "enroll_existing": false, "condition_entity": "deal",
	"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
	"action_type": "webhook", "action_config": {"url": "https://example.com/q"}}') ? 'enrollment' AS enrolled;
SELECT count(*) AS jobs FROM automation.jobs;

-- 2. the breaker: a workflow allowed 3 firings a day enrolls 3 rows, then
-- trips (workflow disabled, alert), and enrollment stops there
SELECT automation.create_workflow('{"name": "tight", "enroll_existing": true, "max_triggers_per_day": 3,
	"condition_entity": "deal", "condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
	"action_type": "webhook", "action_config": {"url": "https://example.com/t"}}')
	- 'id' - 'created_at' - 'updated_at' - 'last_triggered_at' AS created;
SELECT f.outcome, count(*) FROM automation.firings f JOIN automation.workflows w ON w.id = f.workflow_id
 WHERE w.name = 'tight' GROUP BY 1 ORDER BY 1;
SELECT kind, message FROM automation.alerts ORDER BY id;
SELECT name, triggers_today, remaining, tripped FROM automation.circuit_breakers WHERE name = 'tight';
-- enable_workflow with {"enroll_existing": true} in its body: in the enabling
-- transaction already the fresh budget; enrolled again up to it, tripped again
SELECT automation.enable_workflow(id, '{"enroll_existing": true}') - 'id' - 'created_at' - 'updated_at' - 'last_triggered_at' AS enabled
  FROM automation.workflows WHERE name = 'tight';
SELECT name, triggers_today, remaining, tripped FROM automation.circuit_breakers WHERE name = 'tight';
SELECT count(*) AS alerts FROM automation.alerts WHERE kind = 'circuit_breaker';
-- rolled back, an enabling enrollment leaves the breaker as it was
BEGIN;
SELECT automation.enable_workflow(id, enroll_existing => true) -> 'enrollment' AS enrollment FROM automation.workflows WHERE name = 'tight';
ROLLBACK;
SELECT name, enabled, triggers_today, remaining, tripped FROM automation.circuit_breakers
  JOIN automation.workflows USING (name) WHERE name = 'tight';
-- enable_workflow(id) alone, and enroll_existing => false, enroll nothing
SELECT automation.enable_workflow(id) ? 'enrollment' AS one_argument,
	   automation.enable_workflow(id, enroll_existing => false) ? 'enrollment' AS with_false,
	   automation.enable_workflow(id, '{"enroll_existing": false}') ? 'enrollment' AS body_false,
	   automation.enable_workflow(id, '{}') ? 'enrollment' AS empty_body
  FROM automation.workflows WHERE name = 'won quietly';
SELECT regexp_replace(try(format('SELECT automation.enable_workflow(%L, %L)', id, '{"enroll": true}')), 'wf_[0-9A-Z]{26}', 'wf_<id>') AS unknown_key,
	   try(format('SELECT automation.enable_workflow(%L, %L)', id, '[true]')) AS not_an_object
  FROM automation.workflows WHERE name = 'won quietly';

-- 3. the cooldown: a rule fired for deal 1 by a write is in cooldown for it
SELECT automation.create_rule('{"name": "big", "entity_type": "deal", "trigger_type": "DEAL_UPDATED",
	"cooldown_hours": 24, "conditions": [{"field_path": "amount", "operator": "GTE", "value_int": 1000}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/big"}]}') ->> 'id' AS rid \gset
UPDATE deals SET stage = 'open' WHERE id = 11;
SELECT automation.update_rule(:'rid', '{"enroll_existing": true}') -> 'enrollment' AS enrollment;
SELECT record_key, operation, outcome FROM automation.firings WHERE rule_id = :'rid' ORDER BY id;
-- enrolling again: every row is in cooldown now
SELECT automation.update_rule(:'rid', '{"enroll_existing": "true"}') -> 'enrollment' AS again;
-- a rule created with enrollment, from form fields
SELECT automation.create_rule('{"name": "open deals", "entity_type": "deal", "trigger_type": "DEAL_CREATED",
	"enroll_existing": "1", "conditions[0][field_path]": "stage", "conditions[0][operator]": "EQUALS",
	"conditions[0][value_string]": "open", "actions[0][action_type]": "NOTIFY", "actions[0][recipient]": "sales",
	"actions[0][message]": "deal {{deal.id}} is open"}') -> 'enrollment' AS form_rule;
SELECT action_type, payload -> 'config' ->> 'message' AS message FROM automation.jobs
 WHERE payload -> 'event' ->> 'name' = 'open deals' ORDER BY id LIMIT 2;

-- 4. a tenant's definition enrolls its tenant's rows only
SET automation.tenant = 'beta';
SELECT automation.create_workflow('{"name": "beta won", "enroll_existing": true, "condition_entity": "deal",
	"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
	"action_type": "webhook", "action_config": {"url": "https://example.com/b"}}') -> 'enrollment' AS beta;
RESET automation.tenant;
SELECT record_key, tenant_id FROM automation.jobs WHERE payload -> 'event' ->> 'name' = 'beta won' ORDER BY 1;

-- 5. update_workflow: enrolls under the updated definition
SELECT automation.update_workflow(id, '{"condition_value": "open", "enroll_existing": true}') -> 'enrollment' AS enrollment
  FROM automation.workflows WHERE name = 'won quietly';

-- 6. the same transaction: rolled back, nothing fired; an idempotent replay enrolls once
CREATE TABLE counts AS SELECT (SELECT count(*) FROM automation.jobs) AS jobs,
							  (SELECT count(*) FROM automation.firings) AS firings;
BEGIN;
SELECT automation.create_workflow('{"name": "rolled back", "enroll_existing": true, "condition_entity": "deal",
	"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
	"action_type": "webhook", "action_config": {"url": "https://example.com/r"}}') -> 'enrollment' AS enrollment;
ROLLBACK;
SELECT (SELECT count(*) FROM automation.jobs) = c.jobs AS same_jobs,
	   (SELECT count(*) FROM automation.firings) = c.firings AS same_firings FROM counts c;
SELECT automation.create_workflow('{"name": "once", "enroll_existing": true, "condition_entity": "deal",
	"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
	"action_type": "webhook", "action_config": {"url": "https://example.com/o"}}',
	'7f1e2a9c-0000-4000-8000-000000000001') -> 'enrollment' AS first;
SELECT automation.create_workflow('{"name": "once", "enroll_existing": true, "condition_entity": "deal",
	"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
	"action_type": "webhook", "action_config": {"url": "https://example.com/o"}}',
	'7f1e2a9c-0000-4000-8000-000000000001') -> 'enrollment' AS replay;
SELECT count(*) AS once_jobs FROM automation.jobs WHERE payload -> 'event' ->> 'name' = 'once';

-- 7. errors change nothing
TRUNCATE counts;
INSERT INTO counts SELECT (SELECT count(*) FROM automation.jobs), (SELECT count(*) FROM automation.firings);
SELECT try($$SELECT automation.create_workflow('{"name": "bad", "enroll_existing": "maybe", "condition_entity": "deal",
	"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
	"action_type": "webhook", "action_config": {"url": "https://example.com/x"}}')$$);
SELECT try($$SELECT automation.create_workflow('{"name": "off", "enroll_existing": true, "enabled": false,
	"condition_entity": "deal", "condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
	"action_type": "webhook", "action_config": {"url": "https://example.com/x"}}')$$);
SELECT try($$SELECT automation.create_rule('{"name": "gone", "entity_type": "deal", "trigger_type": "DEAL_DELETED",
	"enroll_existing": true, "conditions": [{"field_path": "stage", "operator": "EQUALS", "value_string": "won"}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/x"}]}')$$);
SELECT try($$SELECT automation.create_rule('{"name": "inactive", "entity_type": "deal", "trigger_type": "DEAL_CREATED",
	"is_active": false, "enroll_existing": true, "conditions": [{"field_path": "stage", "operator": "EQUALS", "value_string": "won"}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/x"}]}')$$);
-- _enroll itself fires only a definition this transaction wrote
SELECT regexp_replace(try(format('SELECT automation._enroll(''workflow'', %L)', id)), 'wf_[0-9A-Z]{26}', 'wf_<id>') AS direct
  FROM automation.workflows WHERE name = 'won';
SELECT try($$SELECT automation._enroll('job', 'x')$$);
SELECT (SELECT count(*) FROM automation.jobs) = c.jobs AS same_jobs,
	   (SELECT count(*) FROM automation.firings) = c.firings AS same_firings,
	   (SELECT count(*) FROM automation.workflows WHERE name IN ('bad', 'off')) AS created,
	   (SELECT count(*) FROM automation.rules WHERE name IN ('gone', 'inactive')) AS rules_created
  FROM counts c;

-- 8. the loop guard stops enrollment at the first firing it refuses
SET automation.max_depth = 0;
SELECT set_config('automation.current_depth', '1', false) AS depth;
SELECT automation.create_workflow('{"name": "too deep", "enroll_existing": true, "condition_entity": "deal",
	"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
	"action_type": "webhook", "action_config": {"url": "https://example.com/d"}}') -> 'enrollment' AS enrollment;
RESET automation.current_depth;
RESET automation.max_depth;
SELECT f.outcome, count(*) FROM automation.firings f JOIN automation.workflows w ON w.id = f.workflow_id
 WHERE w.name = 'too deep' GROUP BY 1;

SELECT operation, outcome, count(*) FROM automation.firings GROUP BY 1, 2 ORDER BY 1, 2;

DROP SCHEMA en CASCADE;
DROP EXTENSION automation CASCADE;
