-- security_functions: internal functions and grants (issue 10, item 3;
-- SPEC section 10).
--   * every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp;
--     so does every SQL and PL/pgSQL function;
--   * every internal automation._* function is a SECURITY INVOKER SQL or
--     PL/pgSQL function (it runs with the caller's own rights) or is in an
--     explicit list below, each entry tested: a caller that is not the
--     owner gets 42501 even with EXECUTE on every function (0.2.0's
--     recommended grant), or the function acts as the caller;
--   * automation.grant_role(role, 'admin' | 'worker') grants exactly the
--     documented set, computed from the catalog, and only the owner may
--     call it; the roles it makes work, and nothing more.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
DROP ROLE IF EXISTS regress_sf_all;
DROP ROLE IF EXISTS regress_sf_admin;
DROP ROLE IF EXISTS regress_sf_worker;
DROP ROLE IF EXISTS automation_tenant_sfacme;
RESET client_min_messages;
CREATE SCHEMA sf;
SET search_path = sf, public;
\pset format unaligned
\pset tuples_only on
\set try_style verbose
\set try_keep false
\i sql/include/helpers.sql

-- 1. search_path: SECURITY DEFINER functions, then any SQL / PL/pgSQL
-- function without the pinned path (none)
SELECT p.oid::regprocedure AS security_definer, p.proconfig
  FROM pg_proc p WHERE p.pronamespace = 'automation'::regnamespace AND p.prosecdef ORDER BY p.oid::regprocedure::text COLLATE "C";
SELECT p.oid::regprocedure AS unpinned
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'automation'::regnamespace AND l.lanname IN ('sql', 'plpgsql')
   AND p.proconfig IS DISTINCT FROM '{"search_path=pg_catalog, pg_temp"}'
 ORDER BY p.oid::regprocedure::text COLLATE "C";

-- 2. every internal function, classified; the explicit list is what this
-- test checks below, and a new internal function that is neither a
-- SECURITY INVOKER SQL / PL/pgSQL function nor listed shows up as
-- UNCLASSIFIED
CREATE TABLE allowed (proname name PRIMARY KEY, class text NOT NULL);
INSERT INTO allowed VALUES
	('_execute_as', 'owner only: refuses every other caller'),
	('_channels_in_use', 'trigger of automation.channels only'),
	('_row_trigger', 'trigger (C): the engine'),
	('_definitions_changed', 'trigger (C): cache invalidation'),
	('_jobs_insert_guard', 'trigger (C): only the owner inserts jobs'),
	('_follow_columns', 'event trigger: follows watched key and tenant columns'),
	('_value_parses_as_owner', 'C: the type owner''s input runs as the type owner'),
	('_input_type', 'C: no user switch'),
	('_job_dead_alerted', 'definer, reads only: whether a job has its job_dead alert'),
	('_breaker_state', 'C: reads as the caller'),
	('_breaker_reset', 'C: needs UPDATE on the workflow'),
	('_explain', 'C: reads as the caller'),
	('_backtest', 'C: reads as the caller'),
	('_enroll', 'C: fires only a definition the caller wrote in this transaction'),
	('_check_preload', 'C: no user switch'),
	('_new_workflow_id', 'C: no user switch'),
	('_form_key_parse', 'C: no user switch'),
	('_merge_token_paths', 'C: no user switch'),
	('_invoker', 'C: no user switch'),
	('_wakeups_sent', 'C: no user switch'),
	('_api_authenticate', 'definer: API login roles only (automation.api_roles)'),
	('_ratelimit_take', 'C: owner only: the API''s rate-limit buckets');
SELECT coalesce(a.class, CASE WHEN l.lanname IN ('sql', 'plpgsql') AND NOT p.prosecdef
								 THEN 'invoker ' || l.lanname ELSE 'UNCLASSIFIED' END) AS class,
	   CASE WHEN bool_and(a.class IS NULL AND l.lanname IN ('sql', 'plpgsql') AND NOT p.prosecdef)
			THEN 'many' ELSE count(*)::text END AS functions,
	   string_agg(CASE WHEN a.class IS NOT NULL OR l.lanname NOT IN ('sql', 'plpgsql') OR p.prosecdef
					   THEN p.proname END, ' ' ORDER BY p.proname) AS listed
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang LEFT JOIN allowed a ON a.proname = p.proname
 WHERE p.pronamespace = 'automation'::regnamespace AND p.proname LIKE '\_%'
 GROUP BY 1 ORDER BY 1;
-- a listed function that no longer exists
SELECT a.proname AS gone FROM allowed a
 WHERE NOT EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = 'automation'::regnamespace AND p.proname = a.proname);

-- 3. each listed function, called by a role with EXECUTE on every function
-- of the schema (the grant 0.2.0's documentation recommended) and USAGE on
-- the schema, but no table privilege
CREATE ROLE regress_sf_all;
GRANT USAGE ON SCHEMA sf TO regress_sf_all;
GRANT CREATE ON SCHEMA sf TO regress_sf_all;
GRANT EXECUTE ON FUNCTION try(text) TO regress_sf_all;
GRANT USAGE ON SCHEMA automation TO regress_sf_all;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA automation TO regress_sf_all;
CREATE TABLE deals (id int PRIMARY KEY, org text, stage text);
SELECT automation.watch('deal', 'sf.deals', tenant_column => 'org') ->> 'entity';
SELECT automation.create_workflow('{"name": "w", "condition_entity": "deal", "condition_field": "stage",
	"condition_operator": "changed_to", "condition_value": "won", "action_type": "webhook",
	"action_config": {"url": "https://example.com/won"}}') ->> 'id' AS wf \gset
SET ROLE regress_sf_all;
-- owner only
SELECT try($$SELECT automation._execute_as('postgres', 'ALTER ROLE regress_sf_all SUPERUSER', NULL)$$);
SELECT try($$SELECT automation._execute_as(NULL, NULL, NULL)$$);
-- trigger functions: not callable; _channels_in_use refuses any other table
SELECT try($$SELECT automation._channels_in_use()$$);
SELECT try($$SELECT automation._row_trigger()$$);
SELECT try($$SELECT automation._definitions_changed()$$);
SELECT try($$SELECT automation._jobs_insert_guard()$$);
SELECT try($$SELECT automation._follow_columns()$$);
CREATE TABLE mine (id int);
CREATE TRIGGER t BEFORE DELETE ON mine FOR EACH ROW EXECUTE FUNCTION automation._channels_in_use();
INSERT INTO mine VALUES (1);
SELECT try($$DELETE FROM sf.mine$$);
DROP TRIGGER t ON mine;
-- the C functions that switch user read what the caller may read
SELECT try($$SELECT * FROM automation._breaker_state()$$);
SELECT try(format('SELECT automation._breaker_reset(%L)', :'wf'));
SELECT try($$SELECT * FROM automation._explain('deal', '{"id": 1, "stage": "won"}', '{"id": 1, "stage": "open"}')$$);
SELECT try(format('SELECT automation._backtest(NULL, %L, 10)', :'wf'));
SELECT try(format('SELECT automation._enroll(''workflow'', %L)', :'wf'));
-- grant_role is the owner's
SELECT try($$SELECT automation.grant_role('regress_sf_all', 'admin')$$);
-- the API's key check is for API login roles only, its buckets the owner's
SELECT try($$SELECT * FROM automation._api_authenticate('wbk_x', 'read:jobs', NULL)$$);
SELECT try($$SELECT * FROM automation._ratelimit_take('ak_x', 1)$$);
RESET ROLE;
SELECT rolsuper AS all_became_superuser FROM pg_roles WHERE rolname = 'regress_sf_all';

-- 4. grant_role: exactly these grants (the function list is computed from
-- the catalog), then what each role can and cannot do
CREATE ROLE automation_tenant_sfacme NOLOGIN;
CREATE ROLE regress_sf_admin IN ROLE automation_tenant_sfacme;
CREATE ROLE regress_sf_worker IN ROLE automation_tenant_sfacme;
GRANT USAGE ON SCHEMA sf TO regress_sf_admin, regress_sf_worker;
GRANT EXECUTE ON FUNCTION try(text) TO regress_sf_admin, regress_sf_worker;
SELECT try($$SELECT automation.grant_role('regress_sf_admin', 'owner')$$);
SELECT try($$SELECT automation.grant_role(NULL, 'admin')$$);
SELECT regexp_replace(s, 'FUNCTION .* TO', 'FUNCTION <list> TO') AS admin_grants
  FROM unnest(automation.grant_role('regress_sf_admin', 'admin')) s;
SELECT regexp_replace(s, 'FUNCTION .* TO', 'FUNCTION <list> TO') AS worker_grants
  FROM unnest(automation.grant_role('regress_sf_worker', 'worker')) s;
-- the functions each may not execute
SELECT r.rolname, string_agg(p.proname, ' ' ORDER BY p.proname) AS withheld
  FROM pg_roles r, pg_proc p
 WHERE r.rolname IN ('regress_sf_admin', 'regress_sf_worker') AND p.pronamespace = 'automation'::regnamespace
   AND NOT has_function_privilege(r.oid, p.oid, 'EXECUTE')
 GROUP BY 1 ORDER BY 1;
-- granting again changes nothing
SELECT cardinality(automation.grant_role('regress_sf_admin', 'admin')) AS statements_again;

-- the tenant administrator manages its tenant's definitions (a database
-- action needs its creator's privileges on the application's table: UPDATE
-- of the column, SELECT of the columns that find the row)
GRANT SELECT, UPDATE (stage) ON deals TO regress_sf_admin;
SET ROLE regress_sf_admin;
SET automation.tenant = 'sfacme';
SELECT automation.create_workflow('{"name": "acme db", "condition_entity": "deal", "condition_field": "stage",
	"condition_operator": "changed_to", "condition_value": "lost", "action_type": "update_field",
	"action_config": {"field": "stage", "value": "archived"}}') ->> 'name' AS created;
SELECT try($$SELECT automation.create_rule('{"name": "r", "entity_type": "deal", "trigger_type": "DEAL_UPDATED",
	"conditions": [{"field_path": "stage", "operator": "EQUALS", "value_string": "won"}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/r"}]}')$$);
SELECT name, tripped FROM automation.circuit_breakers ORDER BY name;
SELECT name, fires FROM automation.explain('deal', '{"id": 1, "org": "sfacme", "stage": "lost"}', '{"id": 1, "org": "sfacme", "stage": "open"}') ORDER BY name;
-- a global workflow it may use, not change
SELECT try($$SELECT automation.disable_workflow(id) FROM automation.workflows WHERE name = 'w'$$);
-- but no internal function that acts with more than its rights, and no job
SELECT try($$SELECT automation._execute_as('postgres', 'SELECT 1', NULL)$$);
SELECT try($$SELECT automation.claim_jobs('admin')$$);
SELECT try($$SELECT automation.grant_role('regress_sf_admin', 'worker')$$);
RESET automation.tenant;
RESET ROLE;

-- the tenant worker: its tenant's jobs only, queue columns only
INSERT INTO deals VALUES (1, 'sfacme', 'open'), (2, 'other', 'open');
UPDATE deals SET stage = 'lost';
UPDATE deals SET stage = 'won';
SELECT tenant_id, action_type, status FROM automation.jobs ORDER BY id;
SET ROLE regress_sf_worker;
SET automation.tenant = 'sfacme';
SELECT action_type, record_key FROM automation.claim_jobs('w1', 10) ORDER BY id;
SELECT automation.execute_job(id) FROM automation.jobs WHERE action_type = 'update_field';
SELECT try($$UPDATE automation.jobs SET run_as = 'postgres'$$);
SELECT try($$UPDATE automation.jobs SET payload = '{}'$$);
SELECT try($$UPDATE automation.jobs SET record_key = '2'$$);
SELECT automation.fail_job(id, 'gone', false) FROM automation.jobs WHERE status = 'running' AND action_type = 'webhook';
SELECT count(*) AS visible_jobs FROM automation.jobs;
SELECT try($$SELECT automation.create_workflow('{}')$$);
SELECT try($$SELECT * FROM automation._breaker_state()$$);
RESET automation.tenant;
RESET ROLE;
SELECT tenant_id, action_type, status, last_error FROM automation.jobs ORDER BY id;
SELECT kind, tenant_id, job_id IS NOT NULL AS for_a_job FROM automation.alerts ORDER BY id;
SELECT id, org, stage FROM deals ORDER BY id;

DROP SCHEMA sf CASCADE;
DROP EXTENSION automation CASCADE;
DROP OWNED BY regress_sf_all, regress_sf_admin, regress_sf_worker;
DROP ROLE regress_sf_all;
DROP ROLE regress_sf_admin;
DROP ROLE regress_sf_worker;
DROP ROLE automation_tenant_sfacme;
