-- security_engine: SPEC section 10, the engine's owner scopes (owner.c).
-- Hostile roles plant look-alike operators, functions, temporary types and
-- casts; every planted function records who ran it.  Nothing may ever run
-- as another role, and automation must still fire.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
DROP ROLE IF EXISTS regress_sec_writer;
DROP ROLE IF EXISTS regress_sec_appowner;
DROP ROLE IF EXISTS regress_sec_acme;
DROP ROLE IF EXISTS regress_sec_beta;
DROP ROLE IF EXISTS regress_sec_mgr;
DROP ROLE IF EXISTS regress_sec_worker;
DROP ROLE IF EXISTS automation_tenant_regress_acme;
DROP ROLE IF EXISTS automation_tenant_regress_beta;
RESET client_min_messages;
CREATE SCHEMA security_engine;
SET search_path = security_engine, public;

CREATE ROLE regress_sec_writer NOLOGIN;
CREATE ROLE regress_sec_appowner NOLOGIN;
-- every planted function appends (who planted, who ran it) here
CREATE TABLE canary (planter name, ran_as name, what text);
GRANT INSERT, SELECT ON canary TO PUBLIC;
GRANT USAGE ON SCHEMA security_engine TO PUBLIC;

\set try_style state
\i sql/include/helpers.sql
GRANT EXECUTE ON FUNCTION try(text) TO PUBLIC;

-- The application's table; the writer may insert and update only email.
CREATE TABLE contacts (id int PRIMARY KEY, email text, status text, score int);
GRANT SELECT, INSERT ON contacts TO regress_sec_writer;
GRANT UPDATE (email) ON contacts TO regress_sec_writer;
SELECT automation.watch('contact', 'security_engine.contacts') ->> 'entity' AS watched;

-- 1. The cache load with no definition at all: a temporary domain named
-- like every type the owner's SQL casts to, with a CHECK that calls the
-- writer's canary.  The writer has only TEMP and UPDATE(email).
SET ROLE regress_sec_writer;
CREATE FUNCTION pg_temp.canary(v text) RETURNS boolean LANGUAGE sql AS
  $$ INSERT INTO security_engine.canary VALUES ('regress_sec_writer', current_user, 'temp domain') RETURNING true $$;
CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.canary(VALUE));
CREATE DOMAIN pg_temp.oid AS pg_catalog.oid CHECK (pg_temp.canary(VALUE::pg_catalog.text));
CREATE DOMAIN pg_temp.uuid AS pg_catalog.uuid CHECK (pg_temp.canary(VALUE::pg_catalog.text));
CREATE DOMAIN pg_temp.int4 AS pg_catalog.int4 CHECK (pg_temp.canary(VALUE::pg_catalog.text));
CREATE DOMAIN pg_temp.jsonb AS pg_catalog.jsonb CHECK (pg_temp.canary(VALUE::pg_catalog.text));
INSERT INTO contacts VALUES (1, 'a@example.com', 'new', 1);
RESET ROLE;
SELECT planter, ran_as, what, count(*) FROM canary WHERE ran_as <> planter GROUP BY 1, 2, 3;

-- Definitions by the superuser: a workflow, a rule with a cooldown and
-- database actions (they run as their creator, the superuser).
DO $$ BEGIN
	PERFORM automation.create_workflow('{"name": "vip", "condition_entity": "contact",
		"condition_field": "email", "condition_operator": "contains", "condition_value": "vip",
		"action_type": "webhook", "action_config": {"url": "https://example.com/h", "body": {"e": "{{contact.email}}"}},
		"max_triggers_per_day": 3}');
	PERFORM automation.create_rule('{"name": "changed", "entity_type": "contact",
		"trigger_type": "CONTACT_UPDATED", "cooldown_hours": 1,
		"conditions": [{"field_path": "email", "operator": "CONTAINS", "value_string": "@"}],
		"actions": [{"action_type": "UPDATE_FIELD", "field": "status", "value": "touched"}]}');
END $$;

-- 2. Every path as the writer, with its temporary domains, and with a
-- schema of its own first in search_path holding look-alike operators and
-- functions for the names the owner's SQL uses.
CREATE SCHEMA mine AUTHORIZATION regress_sec_writer;
SET ROLE regress_sec_writer;
CREATE FUNCTION mine.canary_text(a text, b text) RETURNS boolean LANGUAGE sql AS
  $$ INSERT INTO security_engine.canary VALUES ('regress_sec_writer', current_user, 'operator') RETURNING a OPERATOR(pg_catalog.=) b $$;
CREATE OPERATOR mine.= (LEFTARG = text, RIGHTARG = text, FUNCTION = mine.canary_text);
CREATE FUNCTION mine.now() RETURNS timestamptz LANGUAGE sql AS
  $$ INSERT INTO security_engine.canary VALUES ('regress_sec_writer', current_user, 'now()') RETURNING pg_catalog.now() $$;
CREATE FUNCTION mine.make_interval(hours int) RETURNS interval LANGUAGE sql AS
  $$ INSERT INTO security_engine.canary VALUES ('regress_sec_writer', current_user, 'make_interval()') RETURNING pg_catalog.make_interval(hours => hours) $$;
CREATE FUNCTION mine.count(anyelement) RETURNS bigint LANGUAGE sql AS
  $$ INSERT INTO security_engine.canary VALUES ('regress_sec_writer', current_user, 'count()') RETURNING 0::bigint $$;
CREATE FUNCTION mine.date_trunc(text, timestamp) RETURNS timestamp LANGUAGE sql AS
  $$ INSERT INTO security_engine.canary VALUES ('regress_sec_writer', current_user, 'date_trunc()') RETURNING pg_catalog.now()::timestamp $$;
SET search_path = mine, pg_catalog, security_engine;
UPDATE contacts SET email = 'vip1@example.com' WHERE id = 1;   -- workflow and rule fire
UPDATE contacts SET email = 'vip2@example.com' WHERE id = 1;   -- rule in cooldown
UPDATE contacts SET email = 'vip3@example.com' WHERE id = 1;
UPDATE contacts SET email = 'vip4@example.com' WHERE id = 1;   -- breaker trips (3 a day)
INSERT INTO contacts VALUES (2, 'vip@example.com', 'new', 2);
RESET ROLE;
-- the writer's temporary types live in this session (pg_regress runs every
-- role in one): drop them, or the test's own queries would resolve them
DISCARD TEMP;
SET search_path = security_engine, public;
SELECT what, count(*) FROM canary WHERE ran_as <> planter GROUP BY what ORDER BY what;
-- ... and automation fired correctly
SELECT f.operation, coalesce(w.name, r.name) AS definition, f.outcome
  FROM automation.firings f
  LEFT JOIN automation.workflows w ON w.id = f.workflow_id
  LEFT JOIN automation.rules r ON r.id = f.rule_id
 ORDER BY f.id;
SELECT action_type, payload -> 'config' -> 'body' ->> 'e' AS rendered, run_as
  FROM automation.jobs ORDER BY id;
SELECT kind, message FROM automation.alerts ORDER BY id;

-- 3. The database action runs as its creator (the superuser), executed by
-- the superuser here: the writer's temporary types belong to the writer's
-- session, so they are not in this one.  What the creator's statement
-- resolves through is pinned: pg_temp last.
SELECT automation.run_database_jobs() AS ran;
SELECT id, status FROM contacts ORDER BY id;

-- 4. Row serialisation and token rendering run as the writing role: a
-- table owner's enum type with a cast to json that records who ran it.
CREATE SCHEMA app AUTHORIZATION regress_sec_appowner;
SET ROLE regress_sec_appowner;
CREATE TYPE app.mood AS ENUM ('calm', 'angry');
CREATE FUNCTION app.mood_json(m app.mood) RETURNS json LANGUAGE sql AS
  $$ INSERT INTO security_engine.canary VALUES ('regress_sec_appowner', current_user, 'cast to json') RETURNING pg_catalog.to_json(m::text) $$;
CREATE CAST (app.mood AS json) WITH FUNCTION app.mood_json(app.mood);
RESET ROLE;
SET ROLE regress_sec_appowner;
CREATE TABLE app.people (id int PRIMARY KEY, mood app.mood, name text);
RESET ROLE;
SELECT automation.watch('person', 'app.people') ->> 'entity' AS watched;
DO $$ BEGIN
	PERFORM automation.create_workflow('{"name": "angry", "condition_entity": "person",
		"condition_field": "mood", "condition_operator": "equals", "condition_value": "angry",
		"action_type": "webhook", "action_config": {"url": "https://example.com/m", "body": {"m": "{{person.mood}}"}}}');
END $$;
SET ROLE regress_sec_appowner;
INSERT INTO app.people VALUES (1, 'angry', 'ann');
RESET ROLE;
SELECT planter, ran_as, what FROM canary WHERE what = 'cast to json';
SELECT payload -> 'new' ->> 'mood' AS mood, payload -> 'config' -> 'body' ->> 'm' AS rendered
  FROM automation.jobs WHERE entity = 'person';

-- 5. Internal functions refuse anyone but the owner, whatever was granted;
-- breakers and explain keep tenants apart.
CREATE ROLE automation_tenant_regress_acme NOLOGIN;
CREATE ROLE automation_tenant_regress_beta NOLOGIN;
CREATE ROLE regress_sec_acme NOLOGIN IN ROLE automation_tenant_regress_acme;
CREATE ROLE regress_sec_beta NOLOGIN IN ROLE automation_tenant_regress_beta;
GRANT USAGE ON SCHEMA automation TO regress_sec_acme, regress_sec_beta;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA automation TO regress_sec_acme, regress_sec_beta;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA automation TO regress_sec_acme, regress_sec_beta;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA automation TO regress_sec_acme, regress_sec_beta;
CREATE TABLE orgs_deals (org text NOT NULL, id int NOT NULL, stage text, PRIMARY KEY (org, id));
CREATE UNIQUE INDEX ON orgs_deals (id);
GRANT SELECT, INSERT, UPDATE ON orgs_deals TO regress_sec_acme, regress_sec_beta;
SELECT automation.watch('odeal', 'security_engine.orgs_deals', key_column => 'id', tenant_column => 'org') ->> 'entity' AS watched;
-- a global rule with a cooldown, one workflow per tenant with a budget of 1
DO $$ BEGIN
	PERFORM automation.create_rule('{"name": "won once an hour", "entity_type": "odeal",
		"trigger_type": "ODEAL_UPDATED", "cooldown_hours": 1,
		"conditions": [{"field_path": "stage", "operator": "EQUALS", "value_string": "won"}],
		"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "won"}]}');
END $$;
SET ROLE regress_sec_acme;
SET automation.tenant = 'regress_acme';
SELECT automation.create_workflow('{"name": "acme won", "condition_entity": "odeal",
	"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
	"action_type": "webhook", "action_config": {"url": "https://acme.example.com/h"},
	"max_triggers_per_day": 1}') ->> 'name' AS created;
SET ROLE regress_sec_beta;
SET automation.tenant = 'regress_beta';
SELECT automation.create_workflow('{"name": "beta won", "condition_entity": "odeal",
	"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
	"action_type": "webhook", "action_config": {"url": "https://beta.example.com/h"},
	"max_triggers_per_day": 1}') ->> 'name' AS created;
-- beta's deal 7 is won twice: beta's breaker trips
INSERT INTO orgs_deals VALUES ('regress_beta', 7, 'new');
UPDATE orgs_deals SET stage = 'won' WHERE id = 7;
UPDATE orgs_deals SET stage = 'lost' WHERE id = 7;
UPDATE orgs_deals SET stage = 'won' WHERE id = 7;
SELECT name, tripped FROM automation.circuit_breakers ORDER BY name;
-- acme, with every function granted
SET ROLE regress_sec_acme;
SET automation.tenant = 'regress_acme';
SELECT try($$SELECT automation._execute_as('postgres', 'ALTER ROLE regress_sec_acme SUPERUSER', NULL)$$);
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_sec_acme';
-- acme sees the global workflows' breakers (one shared budget), not beta's
SELECT count(*) AS breakers_seen,
	   bool_and(w.tenant_id IS NULL OR w.tenant_id = 'regress_acme') AS own_or_global
  FROM automation._breaker_state() s LEFT JOIN automation.workflows w ON w.id = s.workflow_id;
RESET ROLE;
SELECT count(*) AS all_breakers FROM automation._breaker_state();
SELECT id AS beta_workflow FROM automation.workflows WHERE name = 'beta won' \gset
SET ROLE regress_sec_acme;
SET automation.tenant = 'regress_acme';
SELECT regexp_replace(try(format('SELECT automation._breaker_reset(%L)', :'beta_workflow')),
					  'wf_[0-9A-Z]+', 'wf_<beta>') AS reset;
-- the engine's trigger functions work on their own tables only
RESET ROLE;
CREATE TABLE acme_own (id int);
ALTER TABLE acme_own OWNER TO regress_sec_acme;
SET ROLE regress_sec_acme;
CREATE TRIGGER flush AFTER INSERT ON acme_own FOR EACH STATEMENT
	EXECUTE FUNCTION automation._definitions_changed();
SELECT try('INSERT INTO security_engine.acme_own VALUES (1)');
-- explain: a probe row claiming acme, keyed like beta's deal, must not read
-- beta's firing of the global rule (its cooldown would show beta's time)
SELECT name, fires, reason FROM automation.explain('odeal',
	'{"org": "regress_acme", "id": 7, "stage": "won"}', '{"org": "regress_acme", "id": 7, "stage": "lost"}')
 WHERE source = 'rule';
-- acme's own deal with the same key in another org cannot exist (id is
-- unique here); acme's deal 8 is won: the global rule fires for acme
-- (its cooldown is per tenant), and acme's breaker is untouched by beta's
INSERT INTO orgs_deals VALUES ('regress_acme', 8, 'new');
UPDATE orgs_deals SET stage = 'won' WHERE id = 8;
RESET ROLE;
RESET automation.tenant;
SET ROLE regress_sec_beta;
SET automation.tenant = 'regress_beta';
SELECT name, tripped, triggers_today FROM automation.circuit_breakers ORDER BY name;
-- a rolled-back enable does not reset the budget
BEGIN;
SELECT automation.enable_workflow(:'beta_workflow') ->> 'enabled' AS enabled;
ROLLBACK;
RESET ROLE;
RESET automation.tenant;
SELECT name, tripped, remaining FROM automation.circuit_breakers WHERE name = 'beta won';
SELECT f.tenant_id, coalesce(w.name, r.name) AS definition, f.record_key, f.outcome
  FROM automation.firings f
  LEFT JOIN automation.workflows w ON w.id = f.workflow_id
  LEFT JOIN automation.rules r ON r.id = f.rule_id
 WHERE f.entity = 'odeal' ORDER BY f.id;

-- 6. The loop guard's alert carries the row's tenant.
SET automation.max_depth = 0;
SET automation.current_depth = 1;
UPDATE orgs_deals SET stage = 'lost' WHERE id = 8;
UPDATE orgs_deals SET stage = 'won' WHERE id = 8;
RESET automation.current_depth;
RESET automation.max_depth;
SELECT kind, tenant_id FROM automation.alerts WHERE kind = 'depth_limit' ORDER BY id;

-- 7. A caught error inside the trigger leaves no pin behind: reloads after
-- it free the old compiled definitions (in 0.2.0 every reload kept one).
CREATE TABLE notes (id int PRIMARY KEY, doc json);
SELECT automation.watch('note', 'security_engine.notes') ->> 'entity' AS watched;
DO $$ BEGIN
	PERFORM automation.create_workflow('{"name": "noted", "condition_entity": "note",
		"condition_field": "doc.n", "condition_operator": "contains", "condition_value": "5",
		"action_type": "webhook", "action_config": {"url": "https://example.com/n"}}');
END $$;
DO $$ BEGIN
	FOR i IN 1..20 LOOP
		BEGIN
			INSERT INTO notes VALUES (i, '{"n": 5, "x": "\u0000"}');
		EXCEPTION WHEN OTHERS THEN NULL;
		END;
		UPDATE automation.workflows SET name = 'noted ' || i WHERE name LIKE 'noted%';
		INSERT INTO notes VALUES (1000 + i, '{"n": 5}');
	END LOOP;
END $$;
SELECT count(*) AS compiled_copies
  FROM pg_backend_memory_contexts WHERE name = 'automation definitions';

-- 8. A superuser's database action never writes a table of a role that is
-- not a superuser: that role's triggers and casts would run as the
-- superuser whenever it writes a row that fires the definition.
RESET ROLE;
GRANT USAGE ON SCHEMA automation TO regress_sec_appowner;
SELECT automation.grant_role('regress_sec_appowner', 'admin') IS NOT NULL AS granted;
GRANT SELECT, INSERT, UPDATE, DELETE ON automation.workflows, automation.rules,
	automation.rule_conditions, automation.rule_actions TO regress_sec_appowner;
SELECT try($$SELECT automation.create_workflow('{"name": "calm down", "condition_entity": "person",
	"condition_field": "mood", "condition_operator": "changed_to", "condition_value": "angry",
	"action_type": "update_field", "action_config": {"field": "name", "value": "calmed"}}')$$);
-- the table's owner may: its own code runs as itself
SET ROLE regress_sec_appowner;
SELECT automation.create_workflow('{"name": "calm down", "condition_entity": "person",
	"condition_field": "mood", "condition_operator": "changed_to", "condition_value": "angry",
	"action_type": "update_field", "action_config": {"field": "name", "value": "calmed"}}') ->> 'name' AS created;
UPDATE app.people SET mood = 'calm';
UPDATE app.people SET mood = 'angry';
RESET ROLE;
-- a superuser's definition created while the table was a superuser's, and
-- the table given away afterwards: the job is refused when it runs
CREATE TABLE app.gadgets (id int PRIMARY KEY, state text, note text);
SELECT automation.watch('gadget', 'app.gadgets') ->> 'entity' AS watched;
SELECT automation.create_workflow('{"name": "gadget done", "condition_entity": "gadget",
	"condition_field": "state", "condition_operator": "equals", "condition_value": "new",
	"action_type": "update_field", "action_config": {"field": "note", "value": "done"}}') ->> 'name' AS created;
ALTER TABLE app.gadgets OWNER TO regress_sec_appowner;
SET ROLE regress_sec_appowner;
INSERT INTO app.gadgets VALUES (1, 'new');
RESET ROLE;
SELECT automation.run_database_jobs() AS succeeded;
SELECT j.action_type, j.status, regexp_replace(j.last_error, 'job [0-9]+', 'job N') AS last_error
  FROM automation.jobs j WHERE j.entity IN ('person', 'gadget') AND j.action_type = 'update_field'
 ORDER BY j.id;
SELECT * FROM app.people;
SELECT * FROM app.gadgets;
SELECT planter, ran_as, what, count(*) FROM canary WHERE ran_as <> planter GROUP BY 1, 2, 3;

-- 9. Constants are parsed as the owner: never with a domain's CHECK, not
-- even a domain that is an array's element; never failing the write.
CREATE SCHEMA crm AUTHORIZATION regress_sec_appowner;
SET ROLE regress_sec_appowner;
CREATE FUNCTION crm.esc(t text) RETURNS boolean LANGUAGE sql AS
  $$ INSERT INTO security_engine.canary VALUES ('regress_sec_appowner', current_user, 'domain CHECK') RETURNING true $$;
CREATE DOMAIN crm.tag AS text CHECK (crm.esc(VALUE));
CREATE DOMAIN crm.tags AS crm.tag[];
CREATE TABLE crm.deals (id int PRIMARY KEY, tags text[], labels text[], close_date date, stage text);
GRANT USAGE ON SCHEMA crm TO regress_sec_writer;
GRANT INSERT, UPDATE ON crm.deals TO regress_sec_writer;
GRANT EXECUTE ON FUNCTION crm.esc(text) TO PUBLIC;
RESET ROLE;
SELECT automation.watch('cdeal', 'crm.deals') ->> 'entity' AS watched;
SET DateStyle = 'SQL, DMY';
DO $$ BEGIN
	PERFORM automation.create_workflow('{"name": "vip tags", "condition_entity": "cdeal",
		"condition_field": "tags", "condition_operator": "equals", "condition_value": "{vip,hot}",
		"action_type": "webhook", "action_config": {"url": "https://example.com/t"}}');
	PERFORM automation.create_workflow('{"name": "vip labels", "condition_entity": "cdeal",
		"condition_field": "labels", "condition_operator": "equals", "condition_value": "{vip}",
		"action_type": "webhook", "action_config": {"url": "https://example.com/l"}}');
	PERFORM automation.create_workflow('{"name": "won", "condition_entity": "cdeal",
		"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
		"action_type": "webhook", "action_config": {"url": "https://example.com/w"}}');
END $$;
-- a date is validated as the engine reads it (ISO, MDY), whatever the
-- creator's DateStyle: DMY's 25/12/2026 is refused, not skipped later
SELECT try($$SELECT automation.create_workflow('{"name": "christmas", "condition_entity": "cdeal",
	"condition_field": "close_date", "condition_operator": "equals", "condition_value": "25/12/2026",
	"action_type": "webhook", "action_config": {"url": "https://example.com/c"}}')$$);
RESET DateStyle;
-- the table owner retypes the columns the definitions compare (red team S1)
SET ROLE regress_sec_appowner;
ALTER TABLE crm.deals ALTER COLUMN tags TYPE crm.tag[], ALTER COLUMN labels TYPE crm.tags;
RESET ROLE;
DELETE FROM canary;
-- the writer, in another DateStyle: its write succeeds, 'won' fires, the
-- two definitions that can no longer be compiled safely are skipped
SET ROLE regress_sec_writer;
SET DateStyle = 'ISO, MDY';
INSERT INTO crm.deals VALUES (1, '{vip,hot}', '{vip}', '2026-12-25', 'won');
RESET DateStyle;
RESET ROLE;
-- the domain's CHECK ran for the row's own three values, as the writer only
SELECT ran_as, what, count(*) FROM canary GROUP BY 1, 2;
SELECT w.name FROM automation.jobs j JOIN automation.workflows w ON w.id = j.workflow_id
 WHERE j.entity = 'cdeal' ORDER BY 1;
-- a column retyped after its definitions were validated: writes go on
ALTER TABLE crm.deals ALTER COLUMN stage TYPE integer USING 0;
SET ROLE regress_sec_writer;
INSERT INTO crm.deals VALUES (2, NULL, NULL, NULL, 7);
RESET ROLE;
SELECT id, stage FROM crm.deals ORDER BY id;

-- 10. Firings that still count cannot be deleted by a tenant: today's (the
-- breakers are rebuilt from them after a restart) and those in a cooldown.
SELECT count(*) AS acme_firings FROM automation.firings WHERE tenant_id = 'regress_acme';
SET ROLE regress_sec_acme;
SET automation.tenant = 'regress_acme';
DELETE FROM automation.firings;
SELECT (automation.prune('0 seconds') ->> 'firings')::int AS pruned_firings;
RESET ROLE;
RESET automation.tenant;
SELECT count(*) AS acme_firings FROM automation.firings WHERE tenant_id = 'regress_acme';

-- 11. A definition manager set up with grant_role can watch a table it may
-- put triggers on.
CREATE ROLE regress_sec_mgr NOLOGIN;
SELECT automation.grant_role('regress_sec_mgr', 'admin') IS NOT NULL AS granted;
CREATE TABLE managed (id int PRIMARY KEY, stage text);
GRANT TRIGGER ON managed TO regress_sec_mgr;
SET ROLE regress_sec_mgr;
SELECT automation.watch('managed', 'security_engine.managed') ->> 'entity' AS watched;
RESET ROLE;
DROP OWNED BY regress_sec_mgr;

-- 12. A table owner's domain CHECK never runs as whoever explains a row of
-- its table or validates a definition on it (a superuser here).
DELETE FROM canary;
SELECT automation.create_workflow('{"name": "christmas again", "condition_entity": "cdeal",
	"condition_field": "close_date", "condition_operator": "equals", "condition_value": "2026-12-25",
	"action_type": "webhook", "action_config": {"url": "https://example.com/c"}}') ->> 'name' AS created;
SET ROLE regress_sec_appowner;
CREATE DOMAIN crm.score AS int CHECK (crm.esc(VALUE::text));
ALTER TABLE crm.deals ADD COLUMN score crm.score;
RESET ROLE;
SELECT automation.create_workflow('{"name": "high score", "condition_entity": "cdeal",
	"condition_field": "score", "condition_operator": "greater_than", "condition_value": "90",
	"action_type": "webhook", "action_config": {"url": "https://example.com/s"}}') ->> 'name' AS created;
SELECT try($$SELECT automation.create_workflow('{"name": "tagged", "condition_entity": "cdeal",
	"condition_field": "tags", "condition_operator": "equals", "condition_value": "{vip}",
	"action_type": "webhook", "action_config": {"url": "https://example.com/t"}}')$$);
SELECT name, fires FROM automation.explain('cdeal', '{"id": 9, "score": 95, "tags": ["vip"]}')
 WHERE name = 'high score';
SELECT try($$SELECT * FROM automation.explain('cdeal', '{"id": 9, "score": "high"}')$$);
SELECT ran_as, what, count(*) FROM canary GROUP BY 1, 2 ORDER BY 1;

-- 13. A tenant deletes only finished jobs (prune), never the queued work
-- of global definitions on its rows.
SELECT count(*) AS queued_acme_jobs FROM automation.jobs WHERE tenant_id = 'regress_acme' AND status = 'queued';
SET ROLE regress_sec_acme;
SET automation.tenant = 'regress_acme';
DELETE FROM automation.jobs;
RESET ROLE;
SELECT count(*) AS queued_acme_jobs FROM automation.jobs WHERE tenant_id = 'regress_acme' AND status = 'queued';

-- 14. The validation helper parses only a type's own code: a row type (its
-- columns' domains belong to other roles) or a domain over a domain is
-- refused, whoever calls it (red team pass 3, T1).
SELECT 'crm.deals'::regtype::oid AS row_type, 'crm.score'::regtype::oid AS score_type \gset
SET ROLE regress_sec_acme;
SELECT try(format('SELECT automation._value_parses_as_owner(%L, %s, -1)', '(1,x)', :row_type));
SELECT automation._value_parses_as_owner('95', :score_type, -1) AS domain_value_parses;
RESET ROLE;
SELECT ran_as, what, count(*) FROM canary GROUP BY 1, 2 ORDER BY 1;

-- 15. A tenant's worker records one job_dead alert per dead job of its own
-- tenant, not more (red team pass 2, N7).
UPDATE automation.jobs SET status = 'dead', finished_at = now()
 WHERE id = (SELECT min(id) FROM automation.jobs WHERE tenant_id = 'regress_acme' AND status = 'queued');
SELECT max(id) AS dead_job FROM automation.jobs WHERE tenant_id = 'regress_acme' AND status = 'dead' \gset
CREATE ROLE regress_sec_worker NOLOGIN IN ROLE automation_tenant_regress_acme;
SELECT automation.grant_role('regress_sec_worker', 'worker') IS NOT NULL AS granted;
SET ROLE regress_sec_worker;
SET automation.tenant = 'regress_acme';
SELECT try(format($$INSERT INTO automation.alerts (kind, message, job_id, tenant_id)
				   VALUES ('job_dead', 'recorded', %s, 'regress_acme')$$, :dead_job));
SELECT try(format($$INSERT INTO automation.alerts (kind, message, job_id, tenant_id)
				   VALUES ('job_dead', 'again', %s, 'regress_acme')$$, :dead_job));
RESET ROLE;
RESET automation.tenant;
SELECT message FROM automation.alerts WHERE kind = 'job_dead' AND job_id = :dead_job;
DROP OWNED BY regress_sec_worker;
DROP ROLE regress_sec_worker;
