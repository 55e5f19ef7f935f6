-- security_tenancy: tenant boundaries of issue 10 (items 6 and 7) on the SQL side
--   * idempotency keys are per tenant: another tenant's use of a key is a
--     new key (0.2.0: a raw idempotency_keys_pkey error), also for the
--     owner, whom row-level security does not filter;
--   * watch() requires a unique key: a unique index or primary key on the
--     key column, or, with a tenant column, on (tenant, key) in either order;
--   * database actions find their row by tenant and key, so one tenant's
--     action never writes another tenant's row with the same key.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA st;
SET search_path = st, public;
\pset format unaligned
\pset tuples_only on
\set try_style verbose
\set try_keep false
\set try_mask times
\i sql/include/helpers.sql

-- 1. watch() requires a unique key
CREATE TABLE deals (org text, id int, name text, status text, tags text[] DEFAULT '{}');
-- no index at all
SELECT try($$SELECT automation.watch('deal', 'st.deals', 'id')$$);
SELECT try($$SELECT automation.watch('deal', 'st.deals', 'id', 'org')$$);
-- a plain (non-unique) index, a partial unique index, a unique expression index
CREATE INDEX deals_id ON deals (id);
CREATE UNIQUE INDEX deals_id_partial ON deals (id) WHERE status IS NOT NULL;
CREATE UNIQUE INDEX deals_id_expr ON deals ((id + 0));
SELECT try($$SELECT automation.watch('deal', 'st.deals', 'id')$$);
-- unique only per tenant: not enough without the tenant column
CREATE UNIQUE INDEX deals_org_id ON deals (org, id);
SELECT try($$SELECT automation.watch('deal', 'st.deals', 'id')$$);
-- the key as an INCLUDE column does not count
CREATE UNIQUE INDEX deals_name_incl ON deals (name) INCLUDE (id);
SELECT try($$SELECT automation.watch('deal', 'st.deals', 'id')$$);
-- unique per tenant with the tenant column: accepted, in either column order
SELECT try($$SELECT automation.watch('deal', 'st.deals', 'id', 'org')$$);
DROP INDEX deals_org_id;
CREATE UNIQUE INDEX deals_id_org ON deals (id, org);
SELECT try($$SELECT automation.watch('deal', 'st.deals', 'id', 'org')$$);
-- a unique key alone is accepted with or without the tenant column, also
-- with INCLUDE columns; a unique constraint counts like an index
CREATE TABLE contacts (org text, email text, name text);
ALTER TABLE contacts ADD CONSTRAINT contacts_email_key UNIQUE (email) INCLUDE (name);
SELECT try($$SELECT automation.watch('contact', 'st.contacts', 'email')$$);
SELECT try($$SELECT automation.watch('contact', 'st.contacts', 'email', 'org')$$);
-- changing the key column of a watched entity is checked too
SELECT automation.watch('contact', 'st.contacts', 'email') ->> 'key_column';
SELECT try($$UPDATE automation.entities SET key_column = 'name' WHERE name = 'contact'$$);

-- 2. database actions find their row by tenant and key: acme, beta and an
-- untenanted row share id 1
DROP INDEX deals_id_partial, deals_id_expr, deals_name_incl;
SELECT automation.watch('deal', 'st.deals', 'id', 'org') ->> 'tenant_column';
INSERT INTO deals (org, id, name) VALUES ('acme', 1, 'a'), ('beta', 1, 'b'), (NULL, 1, 'n'), ('acme', 2, 'a2');
SELECT automation.create_workflow('{"name": "close", "condition_entity": "deal",
	"condition_field": "name", "condition_operator": "changed_to", "condition_value": "go",
	"action_type": "update_field", "action_config": {"field": "status", "value": "closed"}}') IS NOT NULL AS global_workflow;
SELECT automation.create_rule('{"name": "tag", "entity_type": "deal", "trigger_type": "DEAL_UPDATED",
	"conditions": [{"field_path": "name", "operator": "EQUALS", "value_string": "go"}],
	"actions": [{"action_type": "TAG", "tag": "won"}]}') IS NOT NULL AS global_rule;
UPDATE deals SET name = 'go' WHERE org = 'acme' AND id = 1;
SELECT tenant_id, record_key, action_type FROM automation.jobs ORDER BY id;
SELECT automation.run_database_jobs();
SELECT org, id, name, status, tags FROM deals ORDER BY org NULLS LAST, id;
-- the untenanted row's job writes only the untenanted row
UPDATE deals SET name = 'go' WHERE org IS NULL AND id = 1;
SELECT automation.run_database_jobs();
SELECT org, id, name, status, tags FROM deals ORDER BY org NULLS LAST, id;
-- a job whose row moved to another tenant finds nothing
UPDATE deals SET name = 'go' WHERE org = 'beta' AND id = 1;
UPDATE deals SET org = 'gamma' WHERE org = 'beta' AND id = 1;
SELECT j.record_key, j.tenant_id, automation.execute_job(j.id) ->> 'reason' AS reason
  FROM automation.jobs j WHERE j.status = 'queued' AND j.tenant_id = 'beta' ORDER BY j.id;
SELECT org, id, name, status, tags FROM deals ORDER BY org NULLS LAST, id;

-- 3. idempotency keys per tenant
SELECT set_config('automation.tenant', 'acme', false) AS tenant;
SELECT automation.create_workflow('{"name": "k", "condition_entity": "deal", "condition_field": "status",
	"condition_operator": "changed_to", "condition_value": "x", "action_type": "webhook",
	"action_config": {"url": "https://acme.example/hook"}}',
	'11111111-1111-1111-1111-111111111111') -> 'action_config' ->> 'url' AS acme_created;
SELECT set_config('automation.tenant', 'beta', false) AS tenant;
-- the same key in beta: beta's own request, not acme's response, not an error
SELECT automation.create_workflow('{"name": "k", "condition_entity": "deal", "condition_field": "status",
	"condition_operator": "changed_to", "condition_value": "x", "action_type": "webhook",
	"action_config": {"url": "https://beta.example/hook"}}',
	'11111111-1111-1111-1111-111111111111') -> 'action_config' ->> 'url' AS beta_created;
-- a different body under beta's key is refused; acme's body is no replay in beta
SELECT try($$SELECT automation.create_workflow('{"name": "k", "condition_entity": "deal", "condition_field": "status",
	"condition_operator": "changed_to", "condition_value": "x", "action_type": "webhook",
	"action_config": {"url": "https://acme.example/hook"}}',
	'11111111-1111-1111-1111-111111111111')$$);
-- and without a tenant, the key is free again
SELECT set_config('automation.tenant', '', false) AS tenant;
SELECT automation.create_workflow('{"name": "k", "condition_entity": "deal", "condition_field": "status",
	"condition_operator": "changed_to", "condition_value": "x", "action_type": "webhook",
	"action_config": {"url": "https://global.example/hook"}}',
	'11111111-1111-1111-1111-111111111111') -> 'action_config' ->> 'url' AS global_created;
-- replays stay within their tenant
SELECT set_config('automation.tenant', 'acme', false) AS tenant;
SELECT automation.create_workflow('{"name": "k", "condition_entity": "deal", "condition_field": "status",
	"condition_operator": "changed_to", "condition_value": "x", "action_type": "webhook",
	"action_config": {"url": "https://acme.example/hook"}}',
	'11111111-1111-1111-1111-111111111111') -> 'action_config' ->> 'url' AS acme_replayed;
SELECT set_config('automation.tenant', '', false) AS tenant;
SELECT coalesce(tenant_id, '(none)') AS tenant, kind, key, request -> 'action_config' ->> 'url' AS url
  FROM automation.idempotency_keys ORDER BY 1;
SELECT coalesce(tenant_id, '(none)') AS tenant, name, action_config ->> 'url' AS url
  FROM automation.workflows WHERE name = 'k' ORDER BY 1;
SELECT indexdef FROM pg_indexes WHERE schemaname = 'automation' AND tablename = 'idempotency_keys';

DROP SCHEMA st CASCADE;
DROP EXTENSION automation CASCADE;
