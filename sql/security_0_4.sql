-- security_0_4: findings of the 0.4.0 red-team pass (doc/redteam-0.4.0.md)
-- against backtest, enrollment and the relative-date operators.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
DROP SCHEMA IF EXISTS security_0_4 CASCADE;
DROP ROLE IF EXISTS regress_s04_owner;
DROP ROLE IF EXISTS regress_s04_writer;
DROP ROLE IF EXISTS regress_s04_mgr;
DROP ROLE IF EXISTS regress_s04_acme;
DROP ROLE IF EXISTS automation_tenant_regress_s04;
RESET client_min_messages;
CREATE SCHEMA security_0_4;
SET search_path = security_0_4, public;
\set try_style state
\i sql/include/helpers.sql

CREATE ROLE regress_s04_owner NOLOGIN;
CREATE ROLE regress_s04_writer NOLOGIN;
CREATE ROLE regress_s04_mgr NOLOGIN;
CREATE ROLE automation_tenant_regress_s04 NOLOGIN;
CREATE ROLE regress_s04_acme NOLOGIN IN ROLE automation_tenant_regress_s04;
SELECT automation.grant_role('regress_s04_mgr', 'admin') IS NOT NULL AS granted;
SELECT automation.grant_role('regress_s04_acme', 'admin') IS NOT NULL AS granted;
GRANT USAGE, CREATE ON SCHEMA security_0_4 TO regress_s04_owner;
GRANT USAGE ON SCHEMA security_0_4 TO regress_s04_writer, regress_s04_mgr, regress_s04_acme;
-- every planted function appends who ran it here
CREATE TABLE canary (ran_as name, what text);
GRANT INSERT, SELECT ON canary TO PUBLIC;

-- 1. (R1) Enrollment serialises the rows as the table's owner: a cast to
-- json of the owner's type never runs with the enrolling role's rights (a
-- definition manager, a superuser).  Before the fix it ran as the enrolling
-- role: the table owner became superuser when a superuser enrolled.
SET ROLE regress_s04_owner;
CREATE TYPE mood AS ENUM ('ok', 'bad');
CREATE FUNCTION mood_json(m mood) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO security_0_4.canary VALUES (current_user, 'cast to json');
	RETURN to_json(m::text);
END
$$;
CREATE CAST (mood AS json) WITH FUNCTION mood_json(mood);
CREATE TABLE leads (id int PRIMARY KEY, source text, mood mood DEFAULT 'ok');
GRANT SELECT, INSERT ON leads TO regress_s04_writer;
GRANT SELECT ON leads TO regress_s04_mgr;
RESET ROLE;
SELECT automation.watch('s04_lead', 'security_0_4.leads') ->> 'entity' AS watched;
SET ROLE regress_s04_writer;
INSERT INTO leads SELECT g, 'web' FROM generate_series(1, 3) g;
RESET ROLE;
-- the trigger: no definition yet, nothing serialised
SELECT count(*) AS casts_so_far FROM canary;
SET ROLE regress_s04_mgr;
SELECT automation.create_workflow('{"name": "enroll-web", "condition_entity": "s04_lead",
	"condition_field": "source", "condition_operator": "equals", "condition_value": "web",
	"action_type": "webhook", "action_config": {"url": "https://example.com/h"},
	"enroll_existing": true}') -> 'enrollment' AS by_manager;
RESET ROLE;
-- a superuser enrolling (the extension owner here) runs no other role's code
SELECT automation.create_rule('{"name": "enroll-web-rule", "entity_type": "s04_lead",
	"trigger_type": "S04_LEAD_CREATED",
	"conditions": [{"field_path": "source", "operator": "EQUALS", "value_string": "web"}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/r"}],
	"enroll_existing": true}') -> 'enrollment' AS by_superuser;
SELECT ran_as, what, count(*) FROM canary GROUP BY 1, 2 ORDER BY 1;
-- the payloads still carry the cast's output
SELECT count(*) FILTER (WHERE payload -> 'new' ->> 'mood' = 'ok') AS payloads_with_mood,
	   count(*) AS enrolled_jobs
  FROM automation.jobs WHERE payload -> 'event' ->> 'operation' = 'ENROLL';
-- a write still serialises as the writer (doc/security.md)
TRUNCATE canary;
SET ROLE regress_s04_writer;
INSERT INTO leads VALUES (4, 'web');
RESET ROLE;
SELECT ran_as, what, count(*) FROM canary GROUP BY 1, 2 ORDER BY 1;

-- 2. (R2) A clock operator's interval with a negative part: its total is
-- within 1000 years, but now() + its months overflows the timestamp range.
-- Refused at creation; a row that skipped validation is skipped by the
-- engine.  Before the fix every write the condition was evaluated for
-- failed with "timestamp out of range".
CREATE TABLE visits (id int PRIMARY KEY, at timestamptz);
GRANT SELECT, INSERT ON visits TO regress_s04_writer;
SELECT automation.watch('s04_visit', 'security_0_4.visits') ->> 'entity' AS watched;
SELECT try($$SELECT automation._check_interval('3600000 months -107900000 days', 'condition_value')$$);
SELECT try($$SELECT automation._check_interval('1000 years -1 second', 'condition_value')$$);
SELECT try($$SELECT automation._check_interval('2 days -3 hours', 'condition_value')$$);
SELECT automation._check_interval('1 year 2 days 3 hours', 'condition_value') AS fine;
SET ROLE regress_s04_mgr;
SELECT try($$SELECT automation.create_workflow('{"name": "soon", "condition_entity": "s04_visit",
	"condition_field": "at", "condition_operator": "within_next",
	"condition_value": "3600000 months -107900000 days", "action_type": "webhook",
	"action_config": {"url": "https://example.com/v"}}')$$);
SELECT try($$SELECT automation.create_rule('{"name": "recent", "entity_type": "s04_visit",
	"trigger_type": "S04_VISIT_CREATED",
	"conditions": [{"field_path": "at", "operator": "WITHIN_LAST", "value_string": "-3600000 months 108100000 days"}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/v"}]}')$$);
RESET ROLE;
-- a row that skipped validation (written with triggers off, as a restore of
-- an older version might) is skipped by the engine: the write goes through
SET session_replication_role = replica;
INSERT INTO automation.workflows (name, condition_entity, condition_field, condition_operator,
								  condition_value, action_type, action_config, created_by)
VALUES ('soon', 's04_visit', 'at', 'within_next', '3600000 months -107900000 days',
		'webhook', '{"url": "https://example.com/v"}', 'regress_s04_mgr');
RESET session_replication_role;
SET ROLE regress_s04_writer;
SELECT try($$INSERT INTO security_0_4.visits VALUES (1, now() + interval '1 day')$$);
RESET ROLE;
SELECT count(*) AS visits FROM visits;
SET client_min_messages = error;
SELECT regexp_replace(try(format('SELECT automation.backtest(%L)', id)), 'wf_[0-9A-Z]{26}', 'wf_<id>') AS backtest
  FROM automation.workflows WHERE name = 'soon';
RESET client_min_messages;
DELETE FROM automation.workflows WHERE name = 'soon';

-- 3. (R3) Backtest reads only the caller's own tenant's history: a tenant
-- backtesting a global rule on an entity without a tenant column does not
-- learn how many of the global tenant's records are in cooldown (firings it
-- may not read).  Before the fix it counted them, where explain() says it
-- did not look.
SELECT automation.create_rule('{"name": "cool", "entity_type": "s04_lead",
	"trigger_type": "S04_LEAD_UPDATED", "cooldown_hours": 24,
	"conditions": [{"field_path": "source", "operator": "EQUALS", "value_string": "web"}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/c"}]}') ->> 'id' AS cool \gset
GRANT UPDATE ON leads TO regress_s04_writer;
GRANT SELECT ON leads TO regress_s04_acme;
SET ROLE regress_s04_writer;
UPDATE leads SET source = 'web' WHERE id IN (1, 2);
RESET ROLE;
SELECT automation.backtest(:'cool', 0) - 'sample' AS global_view;
SET ROLE regress_s04_acme;
SET automation.tenant = 'regress_s04';
SELECT count(*) AS firings_acme_may_read FROM automation.firings;
SELECT automation.backtest(:'cool', 0) - 'sample' AS acme_view;
RESET automation.tenant;
RESET ROLE;

-- 4. (R4) A tenant's rule with stop_subsequent_rules ends its tenant's
-- chain, not the global rules: a tenant admin could silence a global audit
-- rule for its rows with a priority-0 rule that stops the chain.  A global
-- rule's stop still stops the tenant's later rules.
CREATE TABLE deals (org text, id int, name text, PRIMARY KEY (org, id));
GRANT SELECT, INSERT, UPDATE ON deals TO regress_s04_writer;
SELECT automation.watch('s04_deal', 'security_0_4.deals', key_column => 'id', tenant_column => 'org') ->> 'entity' AS watched;
INSERT INTO deals VALUES ('regress_s04', 1, 'a'), ('other', 2, 'b');
SELECT automation.create_rule('{"name": "audit", "entity_type": "s04_deal",
	"trigger_type": "S04_DEAL_UPDATED", "priority": 50,
	"conditions": [{"field_path": "name", "operator": "EXISTS"}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/audit"}]}') ->> 'name' AS global_rule;
SET ROLE regress_s04_acme;
SET automation.tenant = 'regress_s04';
SELECT automation.create_rule('{"name": "hush", "entity_type": "s04_deal",
	"trigger_type": "S04_DEAL_UPDATED", "priority": 0, "stop_subsequent_rules": true,
	"conditions": [{"field_path": "name", "operator": "EXISTS"}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/hush"}]}') ->> 'name' AS tenant_rule;
SELECT automation.create_rule('{"name": "later", "entity_type": "s04_deal",
	"trigger_type": "S04_DEAL_UPDATED", "priority": 60,
	"conditions": [{"field_path": "name", "operator": "EXISTS"}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/later"}]}') ->> 'name' AS tenant_rule;
SELECT name, fires, reason
  FROM automation.explain('s04_deal', '{"org": "regress_s04", "id": 1, "name": "a"}', '{"org": "regress_s04", "id": 1, "name": "z"}')
 ORDER BY name;
RESET automation.tenant;
RESET ROLE;
SET ROLE regress_s04_writer;
UPDATE deals SET name = name || '!';
RESET ROLE;
SELECT j.tenant_id, r.name AS rule, count(*)
  FROM automation.jobs j JOIN automation.rules r ON r.id = j.rule_id
 WHERE r.entity_type = 's04_deal' GROUP BY 1, 2 ORDER BY 1, 2;
-- a global rule's stop ends every later rule, the tenant's too
SELECT automation.update_rule(id, '{"priority": 0, "stop_subsequent_rules": true}') ->> 'name' AS stops_all
  FROM automation.rules WHERE name = 'audit';
DELETE FROM automation.jobs;
SET ROLE regress_s04_writer;
UPDATE deals SET name = name || '!';
RESET ROLE;
SELECT j.tenant_id, r.name AS rule, count(*)
  FROM automation.jobs j JOIN automation.rules r ON r.id = j.rule_id
 WHERE r.entity_type = 's04_deal' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT automation.unwatch('s04_deal', cascade => true) IS NOT NULL AS unwatched;

SELECT automation.unwatch('s04_lead', cascade => true) IS NOT NULL AS unwatched;
SELECT automation.unwatch('s04_visit') IS NOT NULL AS unwatched;
DROP SCHEMA security_0_4 CASCADE;
DROP OWNED BY regress_s04_owner, regress_s04_writer, regress_s04_mgr, regress_s04_acme;
DROP ROLE regress_s04_owner;
DROP ROLE regress_s04_writer;
DROP ROLE regress_s04_mgr;
DROP ROLE regress_s04_acme;
DROP ROLE automation_tenant_regress_s04;
