-- tenancy: with a tenant column a row fires only its tenant's (and global)
-- definitions; row-level security limits each role to its tenant's
-- definitions, jobs and history; a role bound to a tenant cannot pick another.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
DROP ROLE IF EXISTS regress_tenant_acme;
DROP ROLE IF EXISTS regress_tenant_beta;
DROP ROLE IF EXISTS regress_tenant_app;
DROP ROLE IF EXISTS automation_tenant_acme;
DROP ROLE IF EXISTS automation_tenant_beta;
RESET client_min_messages;
CREATE SCHEMA tenancy;
SET search_path = tenancy, public;
\pset format unaligned
-- try(q): 'ok' (rolled back) or the error's SQLSTATE, message, detail, hint
\set try_style verbose
\set try_keep false
\i sql/include/helpers.sql
-- rows(q): how many rows q affects or returns
CREATE FUNCTION rows(q text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
	EXECUTE q;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
CREATE TABLE deals (id serial PRIMARY KEY, org text, stage text, amount int);
SELECT automation.watch('deal', 'tenancy.deals', tenant_column => 'org') ->> 'tenant_column' AS tenant_column;

-- Tenant administrators, each bound to its tenant by membership in
-- automation_tenant_<tenant>; granted DML on every table (more than
-- doc/tenancy.md recommends) to show that the policies alone hold.
CREATE ROLE automation_tenant_acme NOLOGIN;
CREATE ROLE automation_tenant_beta NOLOGIN;
CREATE ROLE regress_tenant_acme IN ROLE automation_tenant_acme;
CREATE ROLE regress_tenant_beta IN ROLE automation_tenant_beta;
-- an unbound role: trusted to choose its tenant (an application's pool role)
CREATE ROLE regress_tenant_app;
GRANT USAGE ON SCHEMA tenancy TO regress_tenant_acme, regress_tenant_beta, regress_tenant_app;
GRANT EXECUTE ON FUNCTION try(text), rows(text) TO regress_tenant_acme, regress_tenant_beta, regress_tenant_app;
GRANT USAGE ON SCHEMA automation TO regress_tenant_acme, regress_tenant_beta, regress_tenant_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA automation TO regress_tenant_acme, regress_tenant_beta, regress_tenant_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA automation TO regress_tenant_acme, regress_tenant_beta, regress_tenant_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA automation TO regress_tenant_acme, regress_tenant_beta, regress_tenant_app;

-- row-level security is on and not forced (the owner, the engine, is exempt)
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
  FROM pg_class c WHERE c.relnamespace = 'automation'::regnamespace AND c.relkind = 'r'
 ORDER BY 1;

CREATE FUNCTION big_deal(name text, url text) RETURNS text
LANGUAGE sql AS $$
	SELECT automation.create_workflow(jsonb_build_object('name', name,
		'condition_entity', 'deal', 'condition_field', 'amount',
		'condition_operator', 'greater_than', 'condition_value', '100',
		'action_type', 'webhook', 'action_config', jsonb_build_object('url', url))) ->> 'id'
$$;
GRANT EXECUTE ON FUNCTION big_deal(text, text) TO regress_tenant_acme, regress_tenant_beta, regress_tenant_app;
CREATE TABLE ids (tenant text, kind text, id text);
GRANT SELECT, INSERT ON ids TO regress_tenant_acme, regress_tenant_beta, regress_tenant_app;

-- a global workflow (no tenant), made by the owner
INSERT INTO ids SELECT NULL, 'workflow', big_deal('audit', 'https://global.example.com/audit');

-- each tenant makes a workflow of the same name, and a rule
SET ROLE regress_tenant_acme;
SET automation.tenant = 'acme';
INSERT INTO ids SELECT 'acme', 'workflow', big_deal('big deal', 'https://acme.example.com/hook');
INSERT INTO ids SELECT 'acme', 'rule', automation.create_rule('{"name": "won", "entity_type": "deal",
	"trigger_type": "DEAL_UPDATED",
	"conditions": [{"field_path": "stage", "operator": "CHANGED_TO", "value_string": "won"}],
	"actions": [{"action_type": "NOTIFY", "recipient": "acme-sales", "message": "won {{deal.id}}"}]}') ->> 'id';
SELECT automation.create_channel('acme-slack', 'https://hooks.example.com/acme') ->> 'tenant_id' AS channel_tenant;
RESET ROLE;
SET ROLE regress_tenant_beta;
SET automation.tenant = 'beta';
INSERT INTO ids SELECT 'beta', 'workflow', big_deal('big deal', 'https://beta.example.com/hook');
INSERT INTO ids SELECT 'beta', 'rule', automation.create_rule('{"name": "won", "entity_type": "deal",
	"trigger_type": "DEAL_UPDATED",
	"conditions": [{"field_path": "stage", "operator": "CHANGED_TO", "value_string": "won"}],
	"actions": [{"action_type": "NOTIFY", "recipient": "beta-sales", "message": "won {{deal.id}}"}]}') ->> 'id';
-- names are unique per tenant
SELECT try($$SELECT big_deal('big deal', 'https://beta.example.com/again')$$);
RESET ROLE;
RESET automation.tenant;

-- as the owner: every definition, with its tenant
SELECT tenant_id, name, created_by FROM automation.workflows ORDER BY tenant_id NULLS FIRST;
SELECT tenant_id, name, created_by FROM automation.rules ORDER BY tenant_id;

-- the application writes rows of both tenants (and one without a tenant)
INSERT INTO deals (org, stage, amount) VALUES ('acme', 'new', 500), ('beta', 'new', 700), (NULL, 'new', 900);
UPDATE deals SET stage = 'won' WHERE org IN ('acme', 'beta');
-- each row fired its own tenant's workflow and rule, plus the global workflow
SELECT d.org, j.tenant_id, j.source, j.payload -> 'event' ->> 'name' AS name,
	   coalesce(j.payload -> 'config' ->> 'url', j.payload -> 'config' ->> 'recipient') AS target
  FROM automation.jobs j JOIN deals d ON d.id::text = j.record_key
 ORDER BY d.id, j.source, name;
SELECT f.tenant_id, f.source, f.operation, count(*)
  FROM automation.firings f GROUP BY 1, 2, 3 ORDER BY 1 NULLS FIRST, 2, 3;
SELECT count(*) AS wrong_tenant_jobs FROM automation.jobs j
  LEFT JOIN automation.workflows w ON w.id = j.workflow_id
  LEFT JOIN automation.rules r ON r.id = j.rule_id
 WHERE coalesce(w.tenant_id, r.tenant_id) IS DISTINCT FROM j.tenant_id
   AND coalesce(w.tenant_id, r.tenant_id) IS NOT NULL;

-- acme sees its definitions and the global ones, and only its history
SET ROLE regress_tenant_acme;
SET automation.tenant = 'acme';
SELECT tenant_id, name FROM automation.workflows ORDER BY tenant_id NULLS FIRST;
SELECT tenant_id, name FROM automation.rules;
SELECT c.operator, c.value_string FROM automation.rule_conditions c;
SELECT a.action_type, a.config ->> 'recipient' AS recipient FROM automation.rule_actions a;
SELECT name, tenant_id FROM automation.channels;
SELECT tenant_id, source, record_key, status FROM automation.jobs ORDER BY id;
SELECT tenant_id, source, outcome FROM automation.firings ORDER BY id;
SELECT name, triggers_today FROM automation.circuit_breakers ORDER BY name, triggers_today;
SELECT name FROM automation.entities;

-- ... and cannot read, change or delete beta's
SELECT try(format('SELECT automation.get_workflow(%L)', (SELECT id FROM ids WHERE tenant = 'beta' AND kind = 'workflow')));
SELECT try(format('SELECT automation.update_workflow(%L, ''{"max_triggers_per_day": 1}'')', (SELECT id FROM ids WHERE tenant = 'beta' AND kind = 'workflow')));
SELECT try(format('SELECT automation.disable_workflow(%L)', (SELECT id FROM ids WHERE tenant = 'beta' AND kind = 'workflow')));
SELECT try(format('SELECT automation.delete_workflow(%L)', (SELECT id FROM ids WHERE tenant = 'beta' AND kind = 'workflow')));
SELECT try(format('SELECT automation.get_rule(%L)', (SELECT id FROM ids WHERE tenant = 'beta' AND kind = 'rule')));
SELECT try(format('SELECT automation.delete_rule(%L)', (SELECT id FROM ids WHERE tenant = 'beta' AND kind = 'rule')));
SELECT rows($$UPDATE automation.workflows SET max_triggers_per_day = 1 WHERE tenant_id = 'beta'$$) AS updated;
SELECT rows($$DELETE FROM automation.workflows WHERE tenant_id = 'beta'$$) AS deleted;
SELECT rows(format('UPDATE automation.rule_conditions SET value_string = ''lost'' WHERE rule_id = %L',
				   (SELECT id FROM ids WHERE tenant = 'beta' AND kind = 'rule'))) AS updated;
SELECT rows(format('DELETE FROM automation.rule_actions WHERE rule_id = %L',
				   (SELECT id FROM ids WHERE tenant = 'beta' AND kind = 'rule'))) AS deleted;
SELECT try(format('INSERT INTO automation.rule_actions (rule_id, action_type, config)
				   VALUES (%L, ''NOTIFY'', ''{"recipient": "x", "message": "y"}'')',
				  (SELECT id FROM ids WHERE tenant = 'beta' AND kind = 'rule')));
-- nor move a definition to beta, nor create one there
SELECT try($$UPDATE automation.workflows SET tenant_id = 'beta' WHERE name = 'big deal'$$);
SELECT try($$INSERT INTO automation.workflows (tenant_id, name, condition_entity, condition_field,
	condition_operator, condition_value, action_type, action_config)
	VALUES ('beta', 'sneaky', 'deal', 'amount', 'greater_than', '0', 'webhook', '{"url": "https://x.example.com"}')$$);
-- a direct INSERT gets the session's tenant
WITH w AS (INSERT INTO automation.workflows (name, condition_entity, condition_field,
	condition_operator, condition_value, action_type, action_config)
	VALUES ('direct', 'deal', 'amount', 'greater_than', '0', 'webhook', '{"url": "https://x.example.com"}')
	RETURNING tenant_id, created_by)
SELECT * FROM w;
DELETE FROM automation.workflows WHERE name = 'direct';
-- global definitions are read-only for a tenant
SELECT try(format('SELECT automation.update_workflow(%L, ''{"max_triggers_per_day": 1}'')', (SELECT id FROM ids WHERE tenant IS NULL)));
SELECT rows($$UPDATE automation.workflows SET enabled = false WHERE tenant_id IS NULL$$) AS updated;
SELECT rows($$DELETE FROM automation.workflows WHERE tenant_id IS NULL$$) AS deleted;
-- nor can a tenant watch or unwatch tables (shared by all tenants)
SELECT try($$SELECT automation.unwatch('deal', cascade => true)$$);
SELECT rows($$UPDATE automation.entities SET tenant_column = NULL$$) AS updated;

-- a tenant cannot COPY into automation's tables: only the owner or a
-- superuser can (a restore, whose rows skip the validation triggers)
\set VERBOSITY terse
COPY automation.workflows (name, condition_entity, condition_field, condition_operator,
	condition_value, action_type, action_config) FROM stdin;
copied	deal	nope	equals	x	webhook	{"url": "https://x.example.com"}
\.
\set VERBOSITY default
-- claiming: acme's jobs only (a tenant's worker); beta's stay queued
SELECT rows($$UPDATE automation.jobs SET status = 'running', locked_by = 'acme-worker',
			  locked_until = now() + interval '1 minute' WHERE status = 'queued'$$) AS claimed;
SELECT rows($$UPDATE automation.jobs SET status = 'running' WHERE tenant_id = 'beta'$$) AS claimed_beta;
SELECT rows($$DELETE FROM automation.jobs WHERE tenant_id IS DISTINCT FROM 'acme'$$) AS deleted;
SELECT try($$INSERT INTO automation.jobs (source, action_type, entity, payload, run_as)
			 VALUES ('workflow', 'webhook', 'deal', '{}', 'postgres')$$);

-- explain shows acme only its own and the global definitions, even for beta's row
SELECT source, name, fires, reason
  FROM automation.explain('deal', '{"id": 2, "org": "beta", "stage": "won", "amount": 700}',
						  '{"id": 2, "org": "beta", "stage": "new", "amount": 700}')
 ORDER BY source, name;
SELECT source, name, fires, reason
  FROM automation.explain('deal', '{"id": 1, "org": "acme", "stage": "won", "amount": 500}',
						  '{"id": 1, "org": "acme", "stage": "new", "amount": 500}')
 ORDER BY source, name;

-- a role bound to acme cannot act for beta, nor without a tenant
SET automation.tenant = 'beta';
SELECT try($$SELECT count(*) FROM automation.workflows$$);
SELECT try($$SELECT count(*) FROM automation.jobs$$);
SELECT try($$SELECT automation.create_channel('beta-2', 'https://hooks.example.com/b')$$);
SELECT try($$SELECT * FROM automation.explain('deal', '{"id": 2, "org": "beta", "stage": "won", "amount": 700}')$$);
RESET automation.tenant;
SELECT try($$SELECT count(*) FROM automation.rules$$);
RESET ROLE;

-- an unbound role chooses its tenant with the setting
SET ROLE regress_tenant_app;
SELECT name, tenant_id FROM automation.workflows ORDER BY 1, 2;
SELECT count(*) AS untenanted_jobs FROM automation.jobs;
SELECT try($$SELECT automation.update_workflow((SELECT id FROM automation.workflows WHERE name = 'audit'), '{"max_triggers_per_day": 50}')$$);
SET automation.tenant = 'beta';
SELECT name, tenant_id FROM automation.workflows ORDER BY 1, 2 NULLS FIRST;
SELECT tenant_id, source, status FROM automation.jobs ORDER BY id;
SELECT recipient FROM automation.rule_actions a, jsonb_to_record(a.config) AS c(recipient text);
RESET automation.tenant;
RESET ROLE;

-- idempotency keys replay only to their tenant
SET ROLE regress_tenant_acme;
SET automation.tenant = 'acme';
SELECT automation.create_workflow('{"name": "keyed", "condition_entity": "deal", "condition_field": "amount",
	"condition_operator": "greater_than", "condition_value": "1", "action_type": "webhook",
	"action_config": {"url": "https://acme.example.com/k"}}', '00000000-0000-4000-8000-000000000001') ->> 'name' AS created;
SELECT kind, tenant_id FROM automation.idempotency_keys;
RESET ROLE;
SET ROLE regress_tenant_beta;
SET automation.tenant = 'beta';
SELECT count(*) AS visible_keys FROM automation.idempotency_keys;
RESET ROLE;
RESET automation.tenant;

-- channel names are unique per tenant; a tenant's channel shadows the
-- global one of the same name, for sending and for the in-use check
CREATE FUNCTION to_channel(name text, channel text) RETURNS text
LANGUAGE sql AS $$
	SELECT automation.create_workflow(jsonb_build_object('name', name,
		'condition_entity', 'deal', 'condition_field', 'amount',
		'condition_operator', 'greater_than', 'condition_value', '1000000',
		'action_type', 'send_channel_message',
		'action_config', jsonb_build_object('channel', channel, 'recipient', '#won', 'message', 'won'))) ->> 'name'
$$;
GRANT EXECUTE ON FUNCTION to_channel(text, text) TO regress_tenant_acme, regress_tenant_beta;
SELECT automation.create_channel('sales', 'https://hooks.example.com/global') ->> 'tenant_id' AS global_channel;
SET ROLE regress_tenant_acme;
SET automation.tenant = 'acme';
SELECT automation.create_channel('sales', 'https://hooks.example.com/acme-sales') ->> 'tenant_id' AS acme_channel;
SELECT try($$SELECT automation.create_channel('sales', 'https://hooks.example.com/acme-again')$$);
SELECT to_channel('acme to sales', 'sales');
SELECT name, tenant_id, url FROM automation.channels WHERE name = 'sales' ORDER BY tenant_id NULLS FIRST;
RESET ROLE;
SET ROLE regress_tenant_beta;
SET automation.tenant = 'beta';
-- beta has no "sales" of its own yet: its action resolves to the global one
SELECT to_channel('beta to sales', 'sales');
RESET ROLE;
RESET automation.tenant;
SELECT try($$SELECT automation.delete_channel('sales')$$);
SET ROLE regress_tenant_beta;
SET automation.tenant = 'beta';
SELECT automation.create_channel('sales', 'https://hooks.example.com/beta-sales') ->> 'tenant_id' AS beta_channel;
SELECT name, tenant_id, url FROM automation.channels WHERE name = 'sales' ORDER BY tenant_id NULLS FIRST;
SELECT try($$SELECT automation.delete_channel('sales')$$);
RESET ROLE;
RESET automation.tenant;
-- now every tenant's action resolves to its own "sales": the global one is
-- unused, and the owner's delete_channel removes only the global one
SELECT automation.delete_channel('sales');
SELECT name, tenant_id FROM automation.channels WHERE name = 'sales' ORDER BY tenant_id;
SELECT try($$SELECT automation.delete_channel('sales')$$);
-- a definition uses its tenant's channels and the global ones only, also
-- when created by a role that bypasses row-level security (the owner)
SET automation.tenant = 'beta';
SELECT try($$SELECT to_channel('beta to acme', 'acme-slack')$$);
RESET automation.tenant;
SELECT try($$SELECT to_channel('global to acme', 'acme-slack')$$);
-- a channel stays with its tenant, even for a role that bypasses RLS
SELECT try($$UPDATE automation.channels SET tenant_id = 'beta' WHERE name = 'sales' AND tenant_id = 'acme'$$);
-- _channels_in_use counts every tenant's actions (SECURITY DEFINER): it
-- refuses to run as a trigger on anything but automation.channels
CREATE TABLE probe (name text, tenant_id text);
CREATE TRIGGER probe_in_use BEFORE DELETE ON probe
	FOR EACH ROW EXECUTE FUNCTION automation._channels_in_use();
INSERT INTO probe VALUES ('sales', 'beta');
SELECT try($$DELETE FROM probe$$);
DROP TABLE probe;

-- the owner still sees everything, nothing of beta changed
SELECT tenant_id, name, max_triggers_per_day, enabled FROM automation.workflows ORDER BY tenant_id NULLS FIRST, name;
SELECT tenant_id, status, count(*) FROM automation.jobs GROUP BY 1, 2 ORDER BY 1 NULLS FIRST, 2;
SELECT count(*) AS beta_rule_children FROM automation.rule_conditions c JOIN automation.rules r ON r.id = c.rule_id
 WHERE r.tenant_id = 'beta';

-- explain predicts a cooldown from the history the trigger reads, for the
-- caller's own rows: a global rule with a cooldown fired on acme's row; acme
-- is told of the cooldown; a role without a tenant, which row-level security
-- keeps from acme's firings, is not (it could otherwise probe them)
SELECT automation.create_rule('{"name": "closed once", "entity_type": "deal",
	"trigger_type": "DEAL_UPDATED", "cooldown_hours": 1,
	"conditions": [{"field_path": "stage", "operator": "CHANGED_TO", "value_string": "closed"}],
	"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "closed"}]}') ->> 'tenant_id' AS global_rule;
UPDATE deals SET stage = 'closed' WHERE org = 'acme';
UPDATE deals SET stage = 'won' WHERE org = 'acme';
-- (acme may not even read the firings: explain reads them as the owner)
REVOKE SELECT ON automation.firings FROM regress_tenant_acme;
SET ROLE regress_tenant_acme;
SET automation.tenant = 'acme';
SELECT try($$SELECT count(*) FROM automation.firings$$) AS firings_readable;
SELECT name, fires, regexp_replace(reason, 'until \S+', 'until <time>') AS reason
  FROM automation.explain('deal', '{"id": 1, "org": "acme", "stage": "closed", "amount": 500}',
						  '{"id": 1, "org": "acme", "stage": "won", "amount": 500}')
 WHERE name = 'closed once';
RESET automation.tenant;
RESET ROLE;
SET ROLE regress_tenant_app;
SELECT count(*) AS visible_firings FROM automation.firings f JOIN automation.rules r ON r.id = f.rule_id
 WHERE r.name = 'closed once';
SELECT name, fires, reason
  FROM automation.explain('deal', '{"id": 1, "org": "acme", "stage": "closed", "amount": 500}',
						  '{"id": 1, "org": "acme", "stage": "won", "amount": 500}')
 WHERE name = 'closed once';
RESET ROLE;

-- a tenant's prune keeps the newest 'fired' firing of each definition it
-- sees, so last_triggered_at survives it, and touches no other tenant's
GRANT SELECT ON automation.firings TO regress_tenant_acme;
SELECT now() - interval '10 days' AS ten \gset
UPDATE automation.firings SET fired_at = :'ten' WHERE source = 'workflow';
INSERT INTO automation.firings (source, workflow_id, entity, record_key, tenant_id, operation, outcome, fired_at)
SELECT source, workflow_id, entity, record_key, tenant_id, operation, outcome, fired_at - interval '2 days'
  FROM automation.firings WHERE source = 'workflow';
SELECT tenant_id, count(*) AS old_firings FROM automation.firings
 WHERE source = 'workflow' GROUP BY 1 ORDER BY 1 NULLS FIRST;
SET ROLE regress_tenant_acme;
SET automation.tenant = 'acme';
SELECT automation.prune('7 days') -> 'firings' AS acme_pruned;
SELECT w.name, w.tenant_id, automation.get_workflow(w.id) ->> 'last_triggered_at' = automation._iso(:'ten') AS last_triggered_kept
  FROM automation.workflows w ORDER BY w.tenant_id NULLS FIRST, w.name;
RESET ROLE;
RESET automation.tenant;
SELECT tenant_id, count(*) AS old_firings FROM automation.firings
 WHERE source = 'workflow' GROUP BY 1 ORDER BY 1 NULLS FIRST;

SET client_min_messages = warning;
DROP SCHEMA tenancy CASCADE;
DROP EXTENSION automation CASCADE;
DROP OWNED BY regress_tenant_acme, regress_tenant_beta, regress_tenant_app;
DROP ROLE regress_tenant_acme;
DROP ROLE regress_tenant_beta;
DROP ROLE regress_tenant_app;
DROP ROLE automation_tenant_acme;
DROP ROLE automation_tenant_beta;
RESET client_min_messages;
