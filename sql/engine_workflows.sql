-- engine_workflows: when workflows fire and what a firing leaves behind
-- (SPEC sections 3, 4, 7, 8): INSERT and UPDATE but not DELETE; level versus
-- edge triggering; the job and its payload (doc/CONTRACTS.md); delay_minutes;
-- the daily circuit breaker; the depth guard; bulk writes, COPY and writes
-- inside functions; cache invalidation within one session; a table altered
-- after a definition was created.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA engine_workflows;
SET search_path = engine_workflows, public;

CREATE TABLE deals (id int PRIMARY KEY, name text, status text, amount numeric,
	stage text, legacy text);
SELECT automation.watch('deal', 'deals') ->> 'entity' AS watched;

-- wf(name, field, operator, value, extra): create a webhook workflow and
-- return its id.
CREATE FUNCTION wf(name text, field text, op text, val text, extra jsonb DEFAULT '{}')
RETURNS text LANGUAGE sql AS $$
	SELECT automation.create_workflow(jsonb_build_object('name', name,
		'condition_entity', 'deal', 'condition_field', field,
		'condition_operator', op, 'condition_value', val,
		'action_type', 'webhook',
		'action_config', '{"url": "https://example.com/hook"}'::jsonb) || extra) ->> 'id'
$$;
-- log: the jobs, in order (record, operation, workflow name).
CREATE VIEW log AS
SELECT j.record_key AS key, j.payload -> 'event' ->> 'operation' AS op,
	   j.payload -> 'event' ->> 'name' AS workflow
  FROM automation.jobs j ORDER BY j.id;
CREATE FUNCTION reset() RETURNS void LANGUAGE sql AS $$
	DELETE FROM automation.workflows;
	DELETE FROM automation.rules;
	DELETE FROM automation.jobs;
	DELETE FROM automation.firings;
	DELETE FROM automation.alerts;
	DELETE FROM engine_workflows.deals;
$$;

-------------------------------------------------------------------------------
-- INSERT and UPDATE fire, DELETE does not.  equals is level-triggered: every
-- UPDATE whose NEW row matches fires, even when the field did not change;
-- changed_to is edge-triggered: only the transition fires.
SELECT wf('level equals won', 'status', 'equals', 'won') IS NOT NULL AS created;
SELECT wf('edge changed_to won', 'status', 'changed_to', 'won') IS NOT NULL AS created;
SELECT wf('edge changed', 'status', 'changed', '') IS NOT NULL AS created;
INSERT INTO deals (id, status) VALUES (1, 'won'), (2, 'open');
UPDATE deals SET amount = 10 WHERE id = 1;		-- still won: level only
UPDATE deals SET status = 'won' WHERE id = 2;	-- open -> won: all three
UPDATE deals SET amount = 20 WHERE id = 2;		-- still won: level only
UPDATE deals SET status = 'won' WHERE id = 2;	-- won -> won: level only
UPDATE deals SET status = 'lost' WHERE id = 2;	-- won -> lost: changed only
DELETE FROM deals;								-- nothing
SELECT * FROM log;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- One job per firing, with the columns of SPEC section 7 and the payload of
-- doc/CONTRACTS.md; merge tokens rendered; run_after = now() unless
-- delay_minutes; run_as = the creator; a 'fired' firing row.
SELECT wf('payload', 'status', 'changed_to', 'won',
	'{"action_config": {"url": "https://example.com/deals/{{deal.id}}", "method": "PUT",
	  "headers": {"X-Deal": "{{deal.name}}"}, "body": {"was": "{{old.status}}"}}}') AS wfid \gset
SELECT wf('delayed', 'status', 'changed_to', 'won',
	'{"action_config": {"url": "https://example.com/later", "delay_minutes": 90}}') AS wfid2 \gset
INSERT INTO deals (id, name, status) VALUES (7, 'Acme', 'open');
BEGIN;
UPDATE deals SET status = 'won' WHERE id = 7;
SELECT source, workflow_id = :'wfid' AS own_id, rule_id, action_type, entity, record_key,
	   status, attempts, depth, run_as = current_user AS run_as_creator,
	   run_after - now() AS delay, created_at = now() AS created_now
  FROM automation.jobs ORDER BY id;
COMMIT;
SELECT jsonb_pretty(payload #- '{event,at}' #- '{event,workflow_id}') AS payload,
	   (payload #>> '{event,at}')::timestamptz <= now() AS at_is_a_timestamp,
	   payload #>> '{event,workflow_id}' = :'wfid' AS event_workflow_id
  FROM automation.jobs WHERE workflow_id = :'wfid';
SELECT source, workflow_id = :'wfid' AS payload_wf, entity, record_key, operation, outcome, depth
  FROM automation.firings ORDER BY id;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- Circuit breaker, max_triggers_per_day = 3: exactly three firings run; the
-- fourth records 'circuit_breaker', disables the workflow with
-- disabled_reason 'circuit_breaker' and raises one alert; later changes do
-- not fire at all.  enable_workflow gives a fresh budget.
SELECT wf('limited', 'amount', 'greater_than', '0', '{"max_triggers_per_day": 3}') AS wfid \gset
INSERT INTO deals (id, amount) VALUES (1, 0);
SELECT workflow_id = :'wfid' AS own, name, max_triggers_per_day, triggers_today,
	   remaining, tripped, tripped_at IS NULL AS no_trip_time
  FROM automation.circuit_breakers;
UPDATE deals SET amount = 1;
UPDATE deals SET amount = 2;
UPDATE deals SET amount = 3;
UPDATE deals SET amount = 4;
UPDATE deals SET amount = 5;
SELECT record_key, operation, outcome FROM automation.firings ORDER BY id;
SELECT count(*) AS jobs FROM automation.jobs;
SELECT enabled, disabled_reason FROM automation.workflows WHERE id = :'wfid';
SELECT kind, workflow_id = :'wfid' AS own, message, details FROM automation.alerts;
SELECT name, max_triggers_per_day, triggers_today, remaining, tripped,
	   tripped_at IS NOT NULL AS has_trip_time
  FROM automation.circuit_breakers;
SELECT automation.enable_workflow(:'wfid') ->> 'enabled' AS enabled_again;
UPDATE deals SET amount = 6;
SELECT record_key, operation, outcome FROM automation.firings ORDER BY id OFFSET 4;
SELECT name, triggers_today, remaining, tripped FROM automation.circuit_breakers;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- Depth guard: a change made at automation.current_depth beyond
-- automation.max_depth records a 'depth_limit' firing and an alert and
-- enqueues nothing; at the limit it fires, stamping the depth.
SELECT wf('deep', 'status', 'equals', 'won') AS wfid \gset
INSERT INTO deals (id, status) VALUES (1, 'open');
SET automation.max_depth = 2;
SET automation.current_depth = 2;
UPDATE deals SET status = 'won';
SET automation.current_depth = 3;
UPDATE deals SET amount = 1;
RESET automation.current_depth;
RESET automation.max_depth;
SELECT operation, outcome, depth FROM automation.firings ORDER BY id;
SELECT depth, payload #> '{event,depth}' AS event_depth FROM automation.jobs ORDER BY id;
SELECT kind, workflow_id = :'wfid' AS own, message, details FROM automation.alerts;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- Every row of a bulk write fires: multi-row UPDATE, INSERT ... SELECT, COPY,
-- and writes inside a plpgsql function.
SELECT wf('big', 'amount', 'greater_than', '100') IS NOT NULL AS created;
INSERT INTO deals (id, amount) SELECT g, 1000 + g FROM generate_series(1, 50) g;
UPDATE deals SET amount = amount + 1 WHERE id <= 30;
COPY deals (id, amount) FROM STDIN;
101	500
102	50
103	501
\.
CREATE FUNCTION bump() RETURNS void LANGUAGE plpgsql AS $$
DECLARE i int;
BEGIN
	FOR i IN 101 .. 103 LOOP
		UPDATE deals SET amount = amount + 100 WHERE id = i;
	END LOOP;
END $$;
SELECT bump();
SELECT op, count(*) AS jobs, count(DISTINCT key) AS records
  FROM log GROUP BY op ORDER BY op;
SELECT key, op FROM log WHERE key::int > 100;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- Cache invalidation within one session: a new workflow fires on the next
-- change; after disable_workflow it does not; an updated condition is used
-- at once; after delete_workflow nothing fires.
INSERT INTO deals (id, status) VALUES (1, 'new');
UPDATE deals SET name = 'before any workflow';
SELECT wf('toggled', 'status', 'equals', 'new') AS wfid \gset
UPDATE deals SET name = 'created';
SELECT automation.disable_workflow(:'wfid') ->> 'enabled' AS enabled;
UPDATE deals SET name = 'disabled';
SELECT automation.enable_workflow(:'wfid') ->> 'enabled' AS enabled;
UPDATE deals SET name = 'enabled';
SELECT automation.update_workflow(:'wfid', '{"condition_value": "open"}') ->> 'condition_value' AS value;
UPDATE deals SET name = 'still new';
UPDATE deals SET name = 'now open', status = 'open';
SELECT automation.delete_workflow(:'wfid');
UPDATE deals SET name = 'deleted';
SELECT j.payload #>> '{new,name}' AS fired_for FROM automation.jobs j ORDER BY j.id;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- A table altered after definitions were created: a definition whose column
-- was dropped is skipped (with a warning) and the others still fire; a
-- column added later can be used at once.
SELECT wf('on legacy', 'legacy', 'equals', 'x') IS NOT NULL AS created;
SELECT wf('on status', 'status', 'equals', 'won') IS NOT NULL AS created;
SELECT automation.create_rule('{"name": "rule on legacy", "entity_type": "deal",
	"trigger_type": "DEAL_UPDATED",
	"conditions": [{"field_path": "legacy", "operator": "EXISTS"}],
	"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "m"}]}') ->> 'name' AS created;
INSERT INTO deals (id, status, legacy) VALUES (1, 'won', 'x');
UPDATE deals SET amount = 1;
ALTER TABLE deals DROP COLUMN legacy;
UPDATE deals SET amount = 2;
ALTER TABLE deals ADD COLUMN region text;
SELECT wf('on region', 'region', 'equals', 'EMEA') IS NOT NULL AS created;
UPDATE deals SET region = 'emea';
SELECT key, op, workflow, payload_amount FROM
	(SELECT j.id, j.record_key AS key, j.payload #>> '{event,operation}' AS op,
			j.payload #>> '{event,name}' AS workflow,
			j.payload #>> '{new,amount}' AS payload_amount
	   FROM automation.jobs j) s ORDER BY id;
SELECT reset() \gset

SET client_min_messages = warning;
DROP SCHEMA engine_workflows CASCADE;
DROP EXTENSION automation CASCADE;
