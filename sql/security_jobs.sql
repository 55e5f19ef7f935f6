-- security_jobs: jobs carry nothing a worker can forge, and execute_job
-- never resolves a type through its caller's pg_temp (SPEC section 10,
-- issue 10 items 4 and 5).
--   * a worker role with SELECT, UPDATE (and even INSERT, BYPASSRLS) on
--     automation.jobs changes only the queue columns: every column that
--     decides who runs a job, what it targets or what it does is refused
--     (42501), a finished job stays finished, and it cannot insert a job;
--     execute_job then does the original action;
--   * execute_job runs a job only for its definition, as the definition's
--     creator, and only when the job matches it;
--   * pg_temp domains named like every type the action SQL casts to, with a
--     CHECK that calls the worker's own pg_temp function, never run as
--     another role.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
DROP ROLE IF EXISTS regress_sj_worker;
DROP ROLE IF EXISTS regress_sj_creator;
RESET client_min_messages;
CREATE SCHEMA sj;
SET search_path = sj, public;
\pset format unaligned
\pset tuples_only on
-- try(q): 'ok' (rolled back) or the error's SQLSTATE, message, detail, hint
\set try_style verbose
\set try_keep false
\i sql/include/helpers.sql

-- the application: leads and tasks; the definitions' creator may write them
CREATE TABLE leads (id int PRIMARY KEY, name text, score numeric(6,2), tags text[] DEFAULT '{}',
	labels jsonb DEFAULT '[]', due date, code varchar(8));
CREATE TABLE tasks (id serial PRIMARY KEY, title text NOT NULL, due date, points int);
INSERT INTO leads (id, name) VALUES (1, 'Ada'), (2, 'Grace');
SELECT automation.watch('lead', 'sj.leads') ->> 'entity';
SELECT automation.watch('task', 'sj.tasks') ->> 'entity';
CREATE ROLE regress_sj_creator;
GRANT USAGE ON SCHEMA sj TO regress_sj_creator;
GRANT SELECT, UPDATE (name, score, tags, labels, due, code) ON leads TO regress_sj_creator;
GRANT SELECT, INSERT ON tasks TO regress_sj_creator;
GRANT USAGE ON SEQUENCE tasks_id_seq TO regress_sj_creator;
-- a global worker: BYPASSRLS and more grants than it needs (INSERT too), so
-- that the jobs guard, not a missing privilege, is what refuses
CREATE ROLE regress_sj_worker BYPASSRLS;
GRANT USAGE ON SCHEMA sj, automation TO regress_sj_worker;
GRANT EXECUTE ON FUNCTION try(text) TO regress_sj_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON automation.jobs TO regress_sj_worker;
GRANT USAGE ON SEQUENCE automation.jobs_id_seq TO regress_sj_worker;
GRANT EXECUTE ON FUNCTION automation.execute_job(bigint), automation.claim_jobs(text, integer, interval, text[]),
	automation.fail_job(bigint, text, boolean, interval), automation.complete_job(bigint, jsonb),
	automation._err(text, text, text, text), automation._check_action_types(text[]),
	automation._job_action_types(), automation._job_state_error(bigint, text) TO regress_sj_worker;

-- workflows and a rule created by regress_sj_creator
SELECT automation.create_workflow(jsonb_build_object('name', 'rename', 'condition_entity', 'lead',
	'condition_field', 'name', 'condition_operator', 'changed_to', 'condition_value', 'Ada!',
	'action_type', 'update_field', 'action_config', '{"field": "name", "value": "Ada Lovelace"}'::jsonb
	)) ->> 'id' AS wf_rename \gset
SELECT automation.create_workflow(jsonb_build_object('name', 'task', 'condition_entity', 'lead',
	'condition_field', 'name', 'condition_operator', 'changed_to', 'condition_value', 'Task!',
	'action_type', 'create_task', 'action_config', '{"title": "Call {{lead.name}}", "due": "2030-01-02", "points": "3"}'::jsonb
	)) ->> 'id' AS wf_task \gset
SELECT automation.create_rule(jsonb_build_object('name', 'tagger', 'entity_type', 'lead',
	'trigger_type', 'LEAD_UPDATED',
	'conditions', jsonb_build_array(jsonb_build_object('field_path', 'name', 'operator', 'EQUALS', 'value_string', 'Tag!')),
	'actions', jsonb_build_array(jsonb_build_object('action_type', 'TAG', 'tag', 'vip'),
								 jsonb_build_object('action_type', 'UPDATE_FIELD', 'field', 'score', 'value', '9.5'),
								 jsonb_build_object('action_type', 'UPDATE_FIELD', 'field', 'due', 'value', '2031-03-04'),
								 jsonb_build_object('action_type', 'UPDATE_FIELD', 'field', 'code', 'value', 'X1')))) ->> 'id' AS rule_tagger \gset
-- (re-validated against the new creator's privileges)
UPDATE automation.workflows SET created_by = 'regress_sj_creator';
UPDATE automation.rules SET created_by = 'regress_sj_creator';
SELECT count(*) AS definitions_by_creator FROM (SELECT created_by FROM automation.workflows UNION ALL
	SELECT created_by FROM automation.rules) d WHERE created_by = 'regress_sj_creator';

-- 1. forging: the rename job for lead 1, as the engine enqueued it
UPDATE leads SET name = 'Ada!' WHERE id = 1;
SELECT id AS job FROM automation.jobs WHERE workflow_id = :'wf_rename' \gset
SELECT run_as, entity, record_key, action_type, payload -> 'config' AS config FROM automation.jobs WHERE id = :job;
-- every column of automation.jobs, rewritten by the worker (a column added
-- later shows up here without a value: classify it in automation._jobs_guard)
CREATE TABLE forged (col name PRIMARY KEY, value text);
INSERT INTO forged VALUES
	('id', '424242'), ('source', $$'rule'$$), ('workflow_id', $$'wf_00000000000000000000000000'$$),
	('rule_id', $$'00000000-0000-0000-0000-000000000001'$$), ('action_type', $$'create_task'$$),
	('entity', $$'task'$$), ('record_key', $$'2'$$), ('tenant_id', $$'beta'$$),
	('payload', $${"config": {"field": "name", "value": "pwned"}}'$$),
	('depth', '7'), ('run_as', $$'postgres'$$), ('idempotency_key', 'gen_random_uuid()'),
	('created_at', $$now() - interval '1 year'$$),
	('status', $$'running'$$), ('attempts', '3'), ('max_attempts', '9'), ('run_after', $$now() + interval '1 hour'$$),
	('locked_by', $$'w1'$$), ('locked_until', 'now()'), ('last_error', $$'e'$$), ('result', $$'{}'$$),
	('finished_at', 'now()');
UPDATE forged SET value = '''' || value WHERE col = 'payload';
GRANT SELECT ON forged TO regress_sj_worker;
SET ROLE regress_sj_worker;
SELECT a.attname, try(format('UPDATE automation.jobs SET %I = %s WHERE id = %s', a.attname, f.value, :job))
  FROM pg_attribute a LEFT JOIN forged f ON f.col = a.attname
 WHERE a.attrelid = 'automation.jobs'::regclass AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum;
-- also all at once, and through a whole-row update
SELECT try(format('UPDATE automation.jobs SET run_as = %L, record_key = %L WHERE id = %s', 'postgres', '2', :job));
SELECT try(format($$UPDATE automation.jobs j SET payload = jsonb_set(j.payload, '{config,value}', '"pwned"') WHERE id = %s$$, :job));
-- a job cannot be made up
SELECT try($$INSERT INTO automation.jobs (source, workflow_id, action_type, entity, record_key, payload, run_as)
	VALUES ('workflow', 'x', 'update_field', 'lead', '2', '{"config": {"field": "name", "value": "pwned"}}', 'postgres')$$);
SELECT try(format($$INSERT INTO automation.jobs (source, workflow_id, action_type, entity, record_key, payload, run_as)
	SELECT source, workflow_id, action_type, entity, '2', payload, run_as FROM automation.jobs WHERE id = %s$$, :job));
-- the queue columns are the worker's: claim, run
SELECT count(*) AS claimed FROM automation.claim_jobs('w1', 10);
SELECT automation.execute_job(:job);
RESET ROLE;
-- the original action ran: lead 1 renamed, lead 2 untouched
SELECT id, name FROM leads ORDER BY id;
SELECT status, run_as, record_key, payload -> 'config' AS config FROM automation.jobs WHERE id = :job;
-- a finished job stays finished (no replay)
SET ROLE regress_sj_worker;
SELECT try(format($$UPDATE automation.jobs SET status = 'queued' WHERE id = %s$$, :job));
SELECT try(format($$UPDATE automation.jobs SET status = 'running', locked_until = now() WHERE id = %s$$, :job));
-- deleting (pruning) is allowed
SELECT try(format('DELETE FROM automation.jobs WHERE id = %s', :job));
RESET ROLE;

-- 2. execute_job runs a job only for its definition, as its creator; the
-- owner (a superuser here) may still write jobs, so this is checked too
CREATE FUNCTION forge(wf text, rule uuid, action text, ent text, lead text, config jsonb, run_as name DEFAULT 'postgres',
	tenant text DEFAULT NULL)
RETURNS bigint LANGUAGE sql AS $$
	INSERT INTO automation.jobs (source, workflow_id, rule_id, action_type, entity, record_key, tenant_id, payload, run_as)
	VALUES (CASE WHEN rule IS NULL THEN 'workflow' ELSE 'rule' END, wf, rule, action, ent, lead, tenant,
			jsonb_build_object('config', config), run_as)
	RETURNING id $$;
-- runs as the creator (who may not write leads.id), not as jobs.run_as (postgres)
SELECT try(format('SELECT automation.execute_job(%s)',
	forge(:'wf_rename', NULL, 'update_field', 'lead', '2', '{"field": "id", "value": "5"}')));
SELECT try(format('SELECT automation.execute_job(%s)',
	forge(:'wf_rename', NULL, 'tag', 'lead', '2', '{"tag": "x"}')));
SELECT try(format('SELECT automation.execute_job(%s)',
	forge(:'wf_rename', NULL, 'update_field', 'task', '2', '{"field": "name", "value": "x"}')));
SELECT try(format('SELECT automation.execute_job(%s)',
	forge('wf_00000000000000000000000000', NULL, 'update_field', 'lead', '2', '{"field": "name", "value": "x"}')));
SELECT try(format('SELECT automation.execute_job(%s)',
	forge(NULL, :'rule_tagger', 'untag', 'lead', '2', '{"tag": "x"}')));
SELECT try(format('SELECT automation.execute_job(%s)',
	forge(:'wf_rename', :'rule_tagger', 'tag', 'lead', '2', '{"tag": "x"}')));
SELECT id, name, tags FROM leads ORDER BY id;
DELETE FROM automation.jobs WHERE status = 'queued';

-- 3. pg_temp look-alike types: the worker's session holds a domain named
-- like every type the action SQL casts to (every column type of the
-- watched tables, and text, jsonb, int8, bool, numeric...), whose CHECK
-- calls the worker's own pg_temp.canary(); it logs the role it ran as
CREATE TABLE canary_log (ran_as name, value text);
GRANT INSERT ON canary_log TO PUBLIC;
CREATE TABLE trap_types AS
	SELECT DISTINCT ty.typname
	  FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
	 WHERE a.attrelid IN (SELECT relation FROM automation.entities) AND a.attnum > 0 AND NOT a.attisdropped
	UNION SELECT unnest(ARRAY['text', 'jsonb', 'int8', 'int4', 'bool', 'numeric', 'date', 'uuid', '_text',
							  'varchar', 'bpchar', 'name', 'regclass', 'oid']);
GRANT SELECT ON trap_types TO regress_sj_worker;
SET ROLE regress_sj_worker;
CREATE FUNCTION pg_temp.canary(v text) RETURNS boolean LANGUAGE sql
	AS $$ INSERT INTO sj.canary_log VALUES (current_user, v) RETURNING true $$;
DO $$
DECLARE
	t record;
BEGIN
	FOR t IN SELECT typname FROM sj.trap_types ORDER BY 1 LOOP
		EXECUTE format('CREATE DOMAIN pg_temp.%I AS pg_catalog.%I CHECK (pg_temp.canary(VALUE::pg_catalog.text))',
					   t.typname, t.typname);
	END LOOP;
END
$$;
SELECT string_agg(typname, ' ' ORDER BY typname) AS trap_types FROM pg_type WHERE typnamespace = pg_my_temp_schema()
   AND typtype = 'd';
-- the trap is armed: in the worker's own session a bare name is its domain
SELECT 'armed'::text;
RESET ROLE;
SELECT ran_as, value FROM canary_log;
TRUNCATE canary_log;
-- the type names the action SQL casts to name the column's own type even
-- with pg_temp searched first (0.2.0 wrote format_type()'s bare names)
-- (this session is armed too: the test's own SQL names types qualified)
CREATE FUNCTION resolves_to(t pg_catalog.text) RETURNS pg_catalog.oid LANGUAGE plpgsql
SET search_path = pg_temp, pg_catalog AS $$
DECLARE r pg_catalog.oid;
BEGIN
	EXECUTE pg_catalog.format('SELECT pg_catalog.pg_typeof(NULL::%s)::pg_catalog.oid', t) INTO r;
	RETURN r;
END $$;
SELECT a.attrelid::pg_catalog.regclass AS tab, a.attname, automation._column_type(a.attrelid, a.attname) AS cast_to,
	   resolves_to(automation._column_type(a.attrelid, a.attname)) OPERATOR(pg_catalog.=) a.atttypid AS same_type
  FROM pg_attribute a
 WHERE a.attrelid IN ('sj.leads'::pg_catalog.regclass, 'sj.tasks'::pg_catalog.regclass) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY 1, a.attnum;
SELECT count(*) AS canary_runs FROM canary_log;
-- every database action, enqueued by the engine, run by the worker
UPDATE leads SET name = 'Tag!' WHERE id = 2;
UPDATE leads SET name = 'Task!' WHERE id = 1;
SET ROLE regress_sj_worker;
SELECT j.action_type, automation.execute_job(j.id) - 'reason' AS result
  FROM automation.jobs j WHERE j.status = 'queued' ORDER BY j.id;
RESET ROLE;
-- again (the actions' own writes fired the rule too): nothing left to
-- change, so each says why (_unwritten_reason casts the key once more)
UPDATE leads SET labels = '["again"]' WHERE id = 2;
SET ROLE regress_sj_worker;
SELECT action_type, result, count(*) FROM (
	SELECT j.action_type, automation.execute_job(j.id) AS result
	  FROM automation.jobs j WHERE j.status = 'queued' ORDER BY j.id) r
 GROUP BY 1, 2 ORDER BY action_type, result::pg_catalog.text;
RESET ROLE;
SELECT id, name, score, tags, labels, due, code FROM leads ORDER BY id;
SELECT title, due, points FROM tasks;
-- nothing ran the worker's code as another role
SELECT count(*) AS canary_runs_as_others FROM canary_log WHERE ran_as <> 'regress_sj_worker';

DROP SCHEMA sj CASCADE;
DROP EXTENSION automation CASCADE;
DROP OWNED BY regress_sj_worker, regress_sj_creator;
DROP ROLE regress_sj_worker;
DROP ROLE regress_sj_creator;
