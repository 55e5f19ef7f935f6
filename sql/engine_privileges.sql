-- engine_privileges: SPEC section 10.  An application role with only
-- INSERT/UPDATE/DELETE on its table and USAGE on its own schema fires
-- automation (jobs, firings, cooldown checks, breaker trips and alerts are
-- written with the extension owner's rights), yet cannot read or change
-- anything in schema automation nor call its functions (42501).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
DROP ROLE IF EXISTS regress_engine_app;
RESET client_min_messages;
CREATE SCHEMA engine_privileges;
SET search_path = engine_privileges, public;

CREATE ROLE regress_engine_app NOLOGIN;
CREATE TABLE deals (id int PRIMARY KEY, status text, amount numeric);
GRANT USAGE ON SCHEMA engine_privileges TO regress_engine_app;
GRANT INSERT, UPDATE, DELETE ON deals TO regress_engine_app;
SELECT automation.watch('deal', 'engine_privileges.deals') ->> 'entity' AS watched;

-- try(q): 'ok' or the error's SQLSTATE and message (runs as the caller).
\set try_style state
\i sql/include/helpers.sql

-- Definitions by the superuser: a level workflow with a budget of 2, and a
-- rule with a cooldown.  Nothing has touched the table yet, so the
-- application role is the one that first compiles them.
DO $$ BEGIN
	PERFORM automation.create_workflow('{"name": "won", "condition_entity": "deal",
		"condition_field": "status", "condition_operator": "equals", "condition_value": "won",
		"action_type": "webhook", "action_config": {"url": "https://example.com/h"},
		"max_triggers_per_day": 2}');
	PERFORM automation.create_rule('{"name": "big", "entity_type": "deal",
		"trigger_type": "DEAL_UPDATED", "cooldown_hours": 1,
		"conditions": [{"field_path": "amount", "operator": "GT", "value_int": 100}],
		"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "{{deal.status}}"}]}');
	PERFORM automation.create_rule('{"name": "gone", "entity_type": "deal",
		"trigger_type": "DEAL_DELETED",
		"conditions": [{"field_path": "status", "operator": "EXISTS"}],
		"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "gone"}]}');
END $$;

-- The application writes: an insert, two updates (the third match of 'won'
-- exceeds its budget of 2 and trips the breaker; the second match of 'big'
-- is in cooldown), a delete.
SET ROLE regress_engine_app;
INSERT INTO deals VALUES (1, 'won', 0);
UPDATE deals SET amount = 500;
UPDATE deals SET amount = 600;
DELETE FROM deals;
RESET ROLE;
SELECT f.operation, coalesce(w.name, r.name) AS definition, f.outcome
  FROM automation.firings f
  LEFT JOIN automation.workflows w ON w.id = f.workflow_id
  LEFT JOIN automation.rules r ON r.id = f.rule_id
 ORDER BY f.id;
SELECT source, action_type, record_key, run_as = current_user AS runs_as_creator,
	   payload #>> '{event,operation}' AS op, payload -> 'config' AS config
  FROM automation.jobs ORDER BY id;
SELECT enabled, disabled_reason FROM automation.workflows WHERE name = 'won';
SELECT kind, message FROM automation.alerts;

-- The application role can do nothing in schema automation.
SET ROLE regress_engine_app;
SELECT q, try(q) AS result FROM unnest(ARRAY[
	'SELECT count(*) FROM automation.jobs',
	'SELECT count(*) FROM automation.firings',
	'SELECT count(*) FROM automation.workflows',
	'SELECT count(*) FROM automation.circuit_breakers',
	'DELETE FROM automation.jobs',
	'INSERT INTO automation.alerts (kind, message) VALUES (''job_dead'', ''x'')',
	'UPDATE automation.workflows SET enabled = true',
	'SELECT automation.create_workflow(''{}'')',
	'SELECT automation.get_rule(gen_random_uuid())',
	'SELECT automation.enable_workflow(''x'')',
	'SELECT * FROM automation.explain(''deal'', ''{"id": 1}'')',
	'SELECT automation.prune(''1 day'')',
	'SELECT automation.watch(''mine'', ''engine_privileges.deals'')',
	'SELECT automation._raise_alert(''job_dead'', ''x'')',
	'SET automation.max_depth = 100'
]) AS q;
RESET ROLE;

-- Nor can PUBLIC: no grant on the schema or its tables and views.
SELECT count(*) AS public_grants FROM (
	SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a
	 WHERE n.nspname = 'automation' AND a.grantee = 0
	UNION ALL
	SELECT 1 FROM pg_class c, aclexplode(c.relacl) a
	 WHERE c.relnamespace = 'automation'::regnamespace AND a.grantee = 0) g;

SET client_min_messages = warning;
DROP SCHEMA engine_privileges CASCADE;
DROP EXTENSION automation CASCADE;
DROP ROLE regress_engine_app;
