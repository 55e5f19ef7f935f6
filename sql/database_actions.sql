-- database_actions: execute_job and run_database_jobs run field, stage, tag,
-- untag, assignment, task and notify actions inside the database, as the
-- definition's creator, without writing rows that would not change.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA dbact;
SET search_path = dbact, public;
CREATE TABLE leads (id serial PRIMARY KEY, name text, source int, owner_id text,
	tags text[] DEFAULT '{}', labels jsonb DEFAULT '[]', stage_id int);
CREATE TABLE tasks (id serial PRIMARY KEY, title text NOT NULL, due int);
-- counts real writes to leads, to prove that no-op actions do not write, and
-- records the search_path application triggers see (the default one, not
-- execute_job's locked-down pg_catalog, pg_temp)
CREATE TABLE writes (n int, search_path text);
INSERT INTO writes VALUES (0);
CREATE FUNCTION count_write() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN UPDATE dbact.writes SET n = n + 1, search_path = current_setting('search_path'); RETURN NULL; END $$;
CREATE TRIGGER count_write AFTER UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION count_write();
SELECT automation.watch('lead', 'dbact.leads') ->> 'entity' AS watched;
SELECT automation.watch('task', 'dbact.tasks') ->> 'entity' AS watched;
INSERT INTO leads (name, source) VALUES ('Ada', 7), ('Grace', 7), ('Linus', 3);
-- a job as the trigger would enqueue it, for a disabled workflow with that
-- action created by run_as (execute_job runs a job only for its definition,
-- as the definition's creator); the workflow row skips validation, so any
-- database action type can be tried
CREATE FUNCTION job(action text, config jsonb, lead int DEFAULT 1, run_as name DEFAULT 'postgres')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	wf text := 'wf_test_' || action || '_' || run_as;
	id bigint;
BEGIN
	ALTER TABLE automation.workflows DISABLE TRIGGER workflows_validate;
	INSERT INTO automation.workflows (id, name, enabled, condition_entity, condition_field,
									  condition_operator, action_type, created_by)
	VALUES (wf, wf, false, 'lead', 'name', 'changed', action, run_as) ON CONFLICT DO NOTHING;
	ALTER TABLE automation.workflows ENABLE TRIGGER workflows_validate;
	INSERT INTO automation.jobs (source, workflow_id, action_type, entity, record_key, payload, run_as)
	VALUES ('workflow', wf, action, 'lead', lead::text, jsonb_build_object('config', config), run_as)
	RETURNING jobs.id INTO id;
	RETURN id;
END $$;
\set try_style errm
\i sql/include/helpers.sql

-- each action type
SELECT automation.execute_job(job('update_field', '{"field": "name", "value": "Ada L."}'));
SELECT automation.execute_job(job('change_stage', '{"stage_id": "2", "stage_field": "stage_id"}'));
SELECT automation.execute_job(job('tag', '{"tag": "vip", "tags_field": "tags"}'));
SELECT automation.execute_job(job('tag', '{"tag": "vip", "tags_field": "labels"}'));
SELECT automation.execute_job(job('create_task', '{"title": "Call Ada", "due": 3, "delay_minutes": 5}'));
SELECT automation.execute_job(job('notify', '{"recipient": "ops", "message": "hello"}')) ? 'notification_id' AS notified;
SELECT id, name, tags, labels, stage_id FROM leads WHERE id = 1;
SELECT title, due FROM tasks;
SELECT recipient, message, entity, record_key FROM automation.notifications;
SELECT n AS writes_so_far, search_path AS trigger_saw FROM writes;

-- an action that would not change the row does not write it
SELECT automation.execute_job(job('update_field', '{"field": "name", "value": "Ada L."}'));
SELECT automation.execute_job(job('change_stage', '{"stage_id": "2"}'));
SELECT automation.execute_job(job('tag', '{"tag": "vip", "tags_field": "tags"}'));
SELECT automation.execute_job(job('tag', '{"tag": "vip", "tags_field": "labels"}'));
SELECT automation.execute_job(job('untag', '{"tag": "absent", "tags_field": "tags"}'));
SELECT n AS writes_unchanged FROM writes;
SELECT automation.execute_job(job('untag', '{"tag": "vip", "tags_field": "tags"}'));
SELECT automation.execute_job(job('untag', '{"tag": "vip", "tags_field": "labels"}'));
SELECT tags, labels FROM leads WHERE id = 1;

-- round robin over active members in order; the cursor is visible
SELECT automation.create_user_pool('sales', ARRAY['alice', 'bob', 'carol']) AS pool \gset
SELECT automation.execute_job(job('assign_user', jsonb_build_object('assign_pool_id', :'pool', 'assign_field', 'owner_id'), 1)) ->> 'assigned' AS assigned;
SELECT automation.execute_job(job('assign_user', jsonb_build_object('assign_pool_id', :'pool'), 2)) ->> 'assigned' AS assigned;
-- alice leaves the rotation: the turn after bob is still carol's
SELECT automation.set_pool_member_active(:'pool', 'alice', false);
SELECT automation.execute_job(job('assign_user', jsonb_build_object('assign_pool_id', :'pool'), 3)) ->> 'assigned' AS assigned_next_in_order;
SELECT next_position FROM automation.user_pools WHERE id = :'pool';
-- then it wraps around, skipping inactive alice
SELECT automation.execute_job(job('assign_user', jsonb_build_object('assign_pool_id', :'pool'), 1)) ->> 'assigned' AS assigned_skips_inactive;
SELECT next_position FROM automation.user_pools WHERE id = :'pool';
SELECT id, owner_id FROM leads ORDER BY id;
-- a job whose record was deleted writes nothing and says why
SELECT automation.execute_job(job('update_field', '{"field": "name", "value": "x"}', 99));

-- pool validation
SELECT try($$SELECT automation.create_user_pool('sales', ARRAY['x'])$$);
SELECT try($$SELECT automation.create_user_pool('empty', ARRAY[]::text[])$$);
SELECT try($$SELECT automation.create_user_pool('dups', ARRAY['a', 'a'])$$);
SELECT try($$SELECT automation.create_user_pool('nulls', ARRAY['a', NULL])$$);
SELECT try($$SELECT automation.create_user_pool('', ARRAY['a'])$$);
SELECT try($$SELECT automation.set_pool_member_active('00000000-0000-0000-0000-000000000000', 'a', true)$$);
SELECT try($$SELECT automation.delete_user_pool('00000000-0000-0000-0000-000000000000')$$);

-- errors: missing job, delivery type, finished job, hostile field names
SELECT try($$SELECT automation.execute_job(999999)$$);
SELECT try($$SELECT automation.execute_job(dbact.job('webhook', '{"url": "https://example.com"}'))$$);
SELECT try(format('SELECT automation.execute_job(%s)', min(id))) FROM automation.jobs;
SELECT try($$SELECT automation.execute_job(dbact.job('update_field', '{"field": "name\" = 1; DROP TABLE dbact.leads; --", "value": "x"}'))$$);
SELECT try($$SELECT automation.execute_job(dbact.job('tag', '{"tag": "x", "tags_field": "name"}'))$$);
SELECT count(*) AS leads_still_there FROM leads;

-- actions run as the definition's creator: without UPDATE the job fails
-- with 42501, permanently, and the row is unchanged
CREATE ROLE regress_dbact_creator;
GRANT USAGE ON SCHEMA dbact TO regress_dbact_creator;
GRANT SELECT ON leads TO regress_dbact_creator;
SELECT job('update_field', '{"field": "name", "value": "hacked"}', 2, 'regress_dbact_creator') AS denied_job \gset
SELECT try(format('SELECT automation.execute_job(%s)', :denied_job));
SELECT automation.run_database_jobs();
SELECT status, attempts, last_error FROM automation.jobs WHERE id = :denied_job;
SELECT name FROM leads WHERE id = 2;
SELECT kind, job_id = :denied_job AS for_that_job FROM automation.alerts;

-- a retryable failure (NOT NULL violated) is queued again with its cause
SELECT job('create_task', '{"due": 1}') AS retry_job \gset
SELECT automation.run_database_jobs();
SELECT status, attempts, run_after > now() AS later, last_error FROM automation.jobs WHERE id = :retry_job;

-- the action's own change is one level deeper: a workflow reacting to a
-- depth-2 job's change fires at depth 3; with automation.max_depth = 2 it
-- is stopped (depth_limit, an alert, no job)
SELECT automation.create_workflow('{"name": "renamed", "condition_entity": "lead",
	"condition_field": "name", "condition_operator": "changed", "condition_value": "",
	"action_type": "webhook", "action_config": {"url": "https://example.com/renamed"}}') IS NOT NULL AS created;
SELECT job('update_field', '{"field": "name", "value": "Grace H."}', 2) AS deep_job \gset
UPDATE automation.jobs SET depth = 2 WHERE id = :deep_job;
SELECT automation.run_database_jobs();
SELECT depth, outcome FROM automation.firings ORDER BY id;
SELECT depth FROM automation.jobs WHERE action_type = 'webhook' AND source = 'workflow' AND workflow_id NOT LIKE 'wf_test%';
SET automation.max_depth = 2;
SELECT job('update_field', '{"field": "name", "value": "Grace Hopper"}', 2) AS deeper_job \gset
UPDATE automation.jobs SET depth = 2 WHERE id = :deeper_job;
SELECT automation.run_database_jobs();
SELECT depth, outcome FROM automation.firings ORDER BY id;
SELECT count(*) AS webhook_jobs FROM automation.jobs WHERE action_type = 'webhook' AND workflow_id NOT LIKE 'wf_test%';
SELECT kind FROM automation.alerts ORDER BY id;
RESET automation.max_depth;

DROP SCHEMA dbact CASCADE;
DROP EXTENSION automation CASCADE;
DROP ROLE regress_dbact_creator;
