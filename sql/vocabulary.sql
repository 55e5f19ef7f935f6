-- vocabulary: the operators and action types are defined once
-- (src/vocabulary.h) and generated into the SQL lookups, the domain of
-- jobs.action_type and the engine's tables (issue 12).
--   * the SQL side lists what the header says, in hint order;
--   * the spelling lists, the domain's CHECK and the validation agree with
--     the lookup tables;
--   * a definition whose action type or operator is outside the vocabulary
--     (a row that skipped validation) is skipped loudly by the engine:
--     explain names it, and the application's write goes on (0.3.0 failed
--     the write on the jobs domain, or wrote nothing without a reason).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA vocab;
SET search_path = vocab, public;
\i sql/include/helpers.sql
\pset null '(null)'

-- 1. the lookups, as generated
SELECT ord, workflow, rule, value, field, trigger, index, events FROM automation._operators() ORDER BY ord;
SELECT ord, workflow, rule, job, runs, keys, required, defaults FROM automation._action_types() ORDER BY ord;

-- 2. the spelling lists and the domain follow the lookups
SELECT automation._rule_operators() = ARRAY(SELECT rule FROM automation._operators() ORDER BY ord) AS rule_operators,
       automation._workflow_operators() = ARRAY(SELECT workflow FROM automation._operators() WHERE workflow IS NOT NULL ORDER BY ord) AS workflow_operators,
       automation._rule_action_types() = ARRAY(SELECT rule FROM automation._action_types() ORDER BY ord) AS rule_action_types,
       automation._workflow_action_types() = ARRAY(SELECT workflow FROM automation._action_types() WHERE workflow IS NOT NULL ORDER BY ord) AS workflow_action_types,
       automation._job_action_types() = ARRAY(SELECT job FROM automation._action_types() ORDER BY ord) AS job_action_types;
SELECT t, try(format('SELECT %L::automation.job_action_type', t)) AS domain
  FROM unnest(automation._job_action_types() || '{fax,WEBHOOK}'::text[]) t;
-- the job queue's type filter reads the same list
SELECT try($$SELECT automation.claim_jobs('w', 1, '1 minute', '{webhook,notify}')$$) AS known,
       try($$SELECT automation.claim_jobs('w', 1, '1 minute', '{webhook,fax}')$$) AS unknown;

-- 3. validation reads the vocabulary: each operator's value form and
-- field kind, each action type's keys, required keys and defaults
CREATE TABLE deals (id int PRIMARY KEY, name text, amount numeric, tags text[], owner_id text,
					stage_id int, closes date);
SELECT automation.watch('deal', 'vocab.deals') ->> 'entity' AS watched;
SELECT automation.create_user_pool('reps', '{ann,bob}') AS pool \gset
CREATE FUNCTION rule_with(cond jsonb, act jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT try(format('SELECT automation.create_rule(%L)', jsonb_build_object(
		'name', 'r' || md5(cond::text || act::text), 'entity_type', 'deal', 'trigger_type', 'DEAL_UPDATED',
		'conditions', jsonb_build_array(cond), 'actions', jsonb_build_array(act))))
$$;
-- every operator of the vocabulary is accepted with a value of its form
SELECT o.rule, rule_with(jsonb_build_object('field_path', CASE o.field WHEN 'text' THEN 'name' WHEN 'text_array' THEN 'name'
			 WHEN 'date' THEN 'closes' ELSE 'amount' END,
		'operator', o.rule) ||
		CASE o.value WHEN 'scalar' THEN '{"value_int": 1}'::jsonb WHEN 'ordered' THEN '{"value_int": 1}'
			 WHEN 'string' THEN '{"value_string": "a"}' WHEN 'list' THEN '{"value_array": ["1"]}'
			 WHEN 'flag' THEN '{}' WHEN 'interval' THEN '{"value_string": "3 days"}' END
		|| CASE WHEN o.field IN ('text', 'text_array') AND o.value = 'scalar' THEN '{"value_int": null, "value_string": "a"}'::jsonb ELSE '{}' END,
	'{"action_type": "TAG", "tag": "x"}') AS created
  FROM automation._operators() o ORDER BY o.ord;
-- a rule-only operator is not a workflow operator; the hint lists the vocabulary's
SELECT try($$SELECT automation.create_workflow('{"name": "w", "condition_entity": "deal", "condition_field": "name",
	"condition_operator": "starts_with", "condition_value": "a", "action_type": "webhook",
	"action_config": {"url": "https://example.com/"}}')$$);
-- keys, required keys and defaults of every action type
SELECT a.rule, rule_with('{"field_path": "amount", "operator": "GT", "value_int": 1}', jsonb_build_object('action_type', a.rule, 'nope', 1)) AS unknown_key
  FROM automation._action_types() a WHERE a.keys IS NOT NULL ORDER BY a.ord;
SELECT a.rule, rule_with('{"field_path": "amount", "operator": "GT", "value_int": 2}', jsonb_build_object('action_type', a.rule)) AS no_keys
  FROM automation._action_types() a WHERE cardinality(a.required) > 0 ORDER BY a.ord;
SELECT rule_with('{"field_path": "amount", "operator": "GT", "value_int": 3}',
				 jsonb_build_object('action_type', 'ASSIGN_USER', 'assign_pool_id', :'pool')) AS assign;
SELECT a.config - 'assign_pool_id' AS normalised FROM automation.rule_actions a WHERE a.action_type = 'ASSIGN_USER';
SELECT count(automation.delete_rule(r.id)) AS deleted FROM automation.rules r;

-- 4. outside the vocabulary: rows that skipped validation (triggers off,
-- as a superuser may) are skipped by the engine, loudly
SELECT automation.create_rule('{"name": "tagger", "entity_type": "deal", "trigger_type": "DEAL_CREATED",
	"conditions": [{"field_path": "amount", "operator": "GT", "value_int": 10}],
	"actions": [{"action_type": "TAG", "tag": "big"}]}') ->> 'id' AS rid \gset
SELECT automation.create_rule('{"name": "fine", "entity_type": "deal", "trigger_type": "DEAL_CREATED",
	"conditions": [{"field_path": "amount", "operator": "GT", "value_int": 10}],
	"actions": [{"action_type": "NOTIFY", "recipient": "ann", "message": "big"}]}') ->> 'id' AS fine \gset
SELECT automation.create_rule('{"name": "odd operator", "entity_type": "deal", "trigger_type": "DEAL_CREATED",
	"conditions": [{"field_path": "amount", "operator": "GT", "value_int": 10}],
	"actions": [{"action_type": "NOTIFY", "recipient": "bob", "message": "big"}]}') ->> 'id' AS odd \gset
ALTER TABLE automation.rule_actions DISABLE TRIGGER rule_actions_validate;
ALTER TABLE automation.rule_conditions DISABLE TRIGGER rule_conditions_validate;
UPDATE automation.rule_actions SET action_type = 'FAX' WHERE rule_id = :'rid';
UPDATE automation.rule_conditions SET operator = 'ROUGHLY' WHERE rule_id = :'odd';
ALTER TABLE automation.rule_actions ENABLE TRIGGER rule_actions_validate;
ALTER TABLE automation.rule_conditions ENABLE TRIGGER rule_conditions_validate;
SELECT name, fires, reason FROM automation.explain('deal', '{"id": 1, "amount": 50}') ORDER BY name;
SELECT try($$INSERT INTO deals (id, amount) VALUES (1, 50)$$) AS write;
SELECT j.action_type, j.rule_id = :'fine' AS from_fine FROM automation.jobs j ORDER BY j.id;

-- 5. database actions: execute_job runs the vocabulary's database types only;
-- run_database_jobs claims exactly those
SELECT automation.create_workflow('{"name": "hook", "condition_entity": "deal", "condition_field": "amount",
	"condition_operator": "greater_than", "condition_value": "100", "action_type": "webhook",
	"action_config": {"url": "https://example.com/"}}') IS NOT NULL AS created;
INSERT INTO deals (id, amount) VALUES (2, 500);
SELECT regexp_replace(try(format('SELECT automation.execute_job(%s)', j.id)), '[0-9]+', 'N', 'g') AS execute_webhook
  FROM automation.jobs j WHERE j.action_type = 'webhook';
SELECT automation.run_database_jobs() AS ran;
SELECT action_type, status FROM automation.jobs ORDER BY id;

DROP SCHEMA vocab CASCADE;
