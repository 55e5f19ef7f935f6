-- engine_fire_when: fire_when on workflows and rules (SPEC section 3).
-- every_change (the default) fires on every event whose row matches;
-- becomes_true only when the whole condition holds for NEW and did not hold
-- for OLD (an INSERT counts as becoming true), evaluated on OLD by the same
-- evaluator; edge operators (changed*) behave as under every_change.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA engine_fire_when;
SET search_path = engine_fire_when, public;
\i sql/include/helpers.sql

CREATE TABLE contacts (id int PRIMARY KEY, status text, name text, email text,
	greeted boolean DEFAULT false, score int);
CREATE TABLE tasks (id serial PRIMARY KEY, title text);
SELECT automation.watch('contact', 'contacts') ->> 'entity' AS watched;
SELECT automation.watch('task', 'tasks') ->> 'entity' AS watched;
SELECT automation.create_channel('crm', 'https://hooks.example.com/crm') ->> 'name' AS channel;

-- jobs per definition name and depth
CREATE VIEW jobs AS
SELECT j.payload -> 'event' ->> 'name' AS definition, j.depth, count(*) AS jobs
  FROM automation.jobs j GROUP BY 1, 2 ORDER BY 1, 2;
CREATE FUNCTION reset() RETURNS void LANGUAGE sql AS $$
	DELETE FROM automation.workflows;
	DELETE FROM automation.rules;
	DELETE FROM automation.jobs;
	DELETE FROM automation.firings;
	DELETE FROM engine_fire_when.contacts;
	DELETE FROM engine_fire_when.tasks;
$$;

-------------------------------------------------------------------------------
-- The issue's case: five "status equals vip" workflows on contacts, one of
-- them update_field of another column.  Running the database jobs updates
-- the contact (depth 1): with becomes_true, status was vip already, so none
-- fires again; with every_change all five fire again one level deeper.
CREATE FUNCTION five(fire_when text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	a record;
BEGIN
	FOR a IN SELECT * FROM (VALUES
		('email', 'send_email', '{"to": "{{contact.email}}", "subject": "Welcome", "body": "hi"}'::jsonb),
		('webhook', 'webhook', '{"url": "https://hooks.example.com/vip"}'),
		('channel', 'send_channel_message', '{"channel": "crm", "message": "{{contact.name}} is vip"}'),
		('task', 'create_task', '{"title": "Call {{contact.name}}"}'),
		('greet', 'update_field', '{"field": "greeted", "value": "true"}')) AS t(name, type, config)
	LOOP
		PERFORM automation.create_workflow(jsonb_build_object('name', fire_when || ' ' || a.name,
			'condition_entity', 'contact', 'condition_field', 'status',
			'condition_operator', 'equals', 'condition_value', 'vip',
			'action_type', a.type, 'action_config', a.config, 'fire_when', fire_when));
	END LOOP;
END $$;

SELECT five('becomes_true');
INSERT INTO contacts (id, status, name, email) VALUES (1, 'vip', 'Ada', 'ada@example.com');
SELECT automation.run_database_jobs() AS ran;
SELECT greeted FROM contacts WHERE id = 1;
SELECT * FROM jobs;
-- an edit that keeps it vip fires nothing; leaving vip and coming back does
UPDATE contacts SET name = 'Ada L.' WHERE id = 1;
SELECT count(*) AS jobs_after_edit FROM automation.jobs;
UPDATE contacts SET status = 'lead' WHERE id = 1;
UPDATE contacts SET status = 'vip' WHERE id = 1;
SELECT * FROM jobs;
SELECT reset();

SELECT five('every_change');
INSERT INTO contacts (id, status, name, email) VALUES (1, 'vip', 'Ada', 'ada@example.com');
SELECT automation.run_database_jobs() AS ran;
SELECT * FROM jobs;
SELECT reset();

-------------------------------------------------------------------------------
-- Rules: becomes_true over the whole condition (groups included), and
-- explain predicts it with the same evaluator.
CREATE FUNCTION rule(name text, trig text, conds jsonb, extra jsonb DEFAULT '{}')
RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN
	RETURN (automation.create_rule(jsonb_build_object('name', name,
		'entity_type', 'contact', 'trigger_type', trig, 'conditions', conds,
		'actions', jsonb_build_array(jsonb_build_object('action_type', 'NOTIFY',
			'recipient', 'ops', 'message', name))) || extra) ->> 'id')::uuid;
END $$;
SELECT rule('hot', 'CONTACT_UPDATED',
	'[{"field_path": "status", "operator": "EQUALS", "value_string": "vip"},
	  {"field_path": "score", "operator": "GT", "value_int": 50, "group": 1}]',
	'{"fire_when": "becomes_true"}') AS hot \gset
SELECT rule('hot always', 'CONTACT_UPDATED',
	'[{"field_path": "status", "operator": "EQUALS", "value_string": "vip"},
	  {"field_path": "score", "operator": "GT", "value_int": 50, "group": 1}]') IS NOT NULL AS created;
SELECT automation.get_rule(:'hot') ->> 'fire_when' AS fire_when;
INSERT INTO contacts (id, status, score) VALUES (2, 'lead', 10);
-- group 1 becomes true: both fire
UPDATE contacts SET score = 60 WHERE id = 2;
-- group 0 becomes true too, but the condition held already: only "hot always"
UPDATE contacts SET status = 'vip' WHERE id = 2;
-- the explain of that same change says why
SELECT name, fires, reason FROM automation.explain('contact',
	'{"id": 2, "status": "vip", "score": 60}', '{"id": 2, "status": "lead", "score": 60}') ORDER BY name;
-- neither group holds any more, then one does again: "hot" fires again
UPDATE contacts SET status = 'lead', score = 0 WHERE id = 2;
UPDATE contacts SET score = 99 WHERE id = 2;
SELECT * FROM jobs;
SELECT reset();

-- Edge operators behave as under every_change: changed_to fires on each
-- change to the value, changed on every change (OLD's own change is not
-- known, so the condition never "held before").
SELECT rule('to vip', 'CONTACT_UPDATED', '[{"field_path": "status", "operator": "CHANGED_TO", "value_string": "vip"}]',
	'{"fire_when": "becomes_true"}') IS NOT NULL AS created;
SELECT rule('name changed', 'CONTACT_UPDATED', '[{"field_path": "name", "operator": "CHANGED"}]',
	'{"fire_when": "becomes_true"}') IS NOT NULL AS created;
-- a level condition with an edge one: the edge keeps it firing
SELECT rule('vip and renamed', 'CONTACT_UPDATED', '[{"field_path": "status", "operator": "EQUALS", "value_string": "vip"},
	{"field_path": "name", "operator": "CHANGED"}]', '{"fire_when": "becomes_true"}') IS NOT NULL AS created;
INSERT INTO contacts (id, status, name) VALUES (3, 'lead', 'a');
UPDATE contacts SET status = 'vip', name = 'b' WHERE id = 3;
UPDATE contacts SET name = 'c' WHERE id = 3;
UPDATE contacts SET name = 'd' WHERE id = 3;
SELECT * FROM jobs;
SELECT reset();

-- INSERT counts as becoming true; DELETE rules are not affected (a delete
-- reads OLD, which has no "before").
SELECT rule('created vip', 'CONTACT_CREATED', '[{"field_path": "status", "operator": "EQUALS", "value_string": "vip"}]',
	'{"fire_when": "becomes_true"}') IS NOT NULL AS created;
SELECT rule('deleted vip', 'CONTACT_DELETED', '[{"field_path": "status", "operator": "EQUALS", "value_string": "vip"}]',
	'{"fire_when": "becomes_true"}') IS NOT NULL AS created;
INSERT INTO contacts (id, status) VALUES (4, 'vip');
DELETE FROM contacts WHERE id = 4;
SELECT * FROM jobs;
SELECT reset();

-------------------------------------------------------------------------------
-- The API: default every_change, validated (22023), patched by update_*,
-- returned by get_*, form key fire_when.
SELECT automation.create_workflow('{"name": "w", "condition_entity": "contact", "condition_field": "status",
	"condition_operator": "equals", "condition_value": "vip", "action_type": "webhook",
	"action_config": {"url": "https://hooks.example.com/w"}}') ->> 'id' AS wid \gset
SELECT automation.get_workflow(:'wid') ->> 'fire_when' AS default_fire_when;
SELECT automation.update_workflow(:'wid', '{"fire_when": "becomes_true"}') ->> 'fire_when' AS patched;
SELECT automation.get_workflow(:'wid') ->> 'fire_when' AS stored;
SELECT try(format($$SELECT automation.update_workflow(%L, '{"fire_when": "sometimes"}')$$, :'wid'));
SELECT try(format($$SELECT automation.update_workflow(%L, '{"fire_when": 1}')$$, :'wid'));
SELECT try(format($$SELECT automation.update_workflow(%L, '{"fire_when": null}')$$, :'wid'));
SELECT automation.get_workflow(:'wid') ->> 'fire_when' AS unchanged;
SELECT rule('r', 'CONTACT_UPDATED', '[{"field_path": "status", "operator": "EXISTS"}]') AS rid \gset
SELECT automation.get_rule(:'rid') ->> 'fire_when' AS default_fire_when;
SELECT automation.update_rule(:'rid', '{"fire_when": "becomes_true"}') ->> 'fire_when' AS patched;
SELECT try(format($$SELECT automation.update_rule(%L, '{"fire_when": "BECOMES_TRUE"}')$$, :'rid'));
SELECT try($$SELECT engine_fire_when.rule('bad', 'CONTACT_UPDATED', '[{"field_path": "status", "operator": "EXISTS"}]', '{"fire_when": "always"}')$$);
SELECT automation.create_rule('{"name": "form", "entity_type": "contact", "trigger_type": "CONTACT_UPDATED",
	"fire_when": "becomes_true",
	"conditions[0][field_path]": "status", "conditions[0][operator]": "EXISTS",
	"actions[0][action_type]": "NOTIFY", "actions[0][recipient]": "ops", "actions[0][message]": "m"}') ->> 'fire_when' AS form;
-- direct SQL is validated too
SELECT try($$UPDATE automation.rules SET fire_when = 'never'$$);

DROP SCHEMA engine_fire_when CASCADE;
DROP EXTENSION automation CASCADE;
