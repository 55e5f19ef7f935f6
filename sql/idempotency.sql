-- idempotency: Idempotency-Key semantics of create_workflow and create_rule.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA idempotency;
SET search_path = idempotency, public;
\pset format unaligned
\pset tuples_only on
-- try(q): run q; 'ok' (rolled back unless keep) or the error's SQLSTATE,
-- message, detail and hint, with ids masked.
\set try_style verbose
\set try_keep param
\i sql/include/helpers.sql
CREATE TABLE deals (id bigserial PRIMARY KEY, status text);
SELECT automation.watch('deal', 'deals') ->> 'entity';
SELECT automation.create_workflow('{"name": "once", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed", "condition_value": "",
  "action_type": "webhook", "action_config": {"url": "https://example.com/h"}}',
  '11111111-1111-1111-1111-111111111111') AS first \gset
-- the same key and body (keys in another order) replay the first response
SELECT automation.create_workflow('{"condition_value": "", "name": "once", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed",
  "action_type": "webhook", "action_config": {"url": "https://example.com/h"}}',
  '11111111-1111-1111-1111-111111111111') = :'first'::jsonb AS replayed;
SELECT count(*) AS workflows FROM automation.workflows;
-- the same key with a different body is an error
SELECT regexp_replace(try($$SELECT automation.create_workflow('{"name": "twice", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed", "condition_value": "",
  "action_type": "webhook", "action_config": {"url": "https://example.com/h"}}',
  '11111111-1111-1111-1111-111111111111')$$), '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', '<time>');
-- without a key, the same body is a duplicate name
SELECT try($$SELECT automation.create_workflow('{"name": "once", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed", "condition_value": "",
  "action_type": "webhook", "action_config": {"url": "https://example.com/h"}}')$$);
-- the replay returns the first response even after the workflow changed
SELECT automation.update_workflow(:'first'::jsonb ->> 'id', '{"max_triggers_per_day": 7}') ->> 'max_triggers_per_day';
SELECT automation.create_workflow('{"name": "once", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed", "condition_value": "",
  "action_type": "webhook", "action_config": {"url": "https://example.com/h"}}',
  '11111111-1111-1111-1111-111111111111') ->> 'max_triggers_per_day' AS replayed_max;
-- a failed request stores nothing: the key stays free
SELECT try($$SELECT automation.create_workflow('{"name": "bad"}', '22222222-2222-2222-2222-222222222222')$$);
SELECT count(*) AS keys FROM automation.idempotency_keys;
-- keys are per kind: a workflow key does not block a rule with the same key
-- (the first rule request fails: deals has no tags column yet; nothing is stored)
SELECT try($$SELECT automation.create_rule('{"name": "r", "entity_type": "deal", "trigger_type": "DEAL_UPDATED",
  "conditions": [{"field_path": "status", "operator": "CHANGED"}],
  "actions": [{"action_type": "TAG", "tag": "x"}]}',
  '11111111-1111-1111-1111-111111111111')$$);
ALTER TABLE deals ADD COLUMN tags text[];
SELECT automation.create_rule('{"name": "r", "entity_type": "deal", "trigger_type": "DEAL_UPDATED",
  "conditions": [{"field_path": "status", "operator": "CHANGED"}],
  "actions": [{"action_type": "TAG", "tag": "x"}]}',
  '11111111-1111-1111-1111-111111111111') AS r1 \gset
SELECT automation.create_rule('{"name": "r", "entity_type": "deal", "trigger_type": "DEAL_UPDATED",
  "conditions": [{"field_path": "status", "operator": "CHANGED"}],
  "actions": [{"action_type": "TAG", "tag": "x"}]}',
  '11111111-1111-1111-1111-111111111111') = :'r1'::jsonb AS rule_replayed;
SELECT regexp_replace(try($$SELECT automation.create_rule('{"name": "r2", "entity_type": "deal", "trigger_type": "DEAL_UPDATED",
  "conditions": [{"field_path": "status", "operator": "CHANGED"}],
  "actions": [{"action_type": "TAG", "tag": "x"}]}',
  '11111111-1111-1111-1111-111111111111')$$), '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', '<time>');
SELECT count(*) AS rules FROM automation.rules;
-- after 24 hours the key is forgotten: the request creates again
UPDATE automation.idempotency_keys SET created_at = now() - interval '25 hours' WHERE kind = 'workflow';
SELECT automation.delete_workflow(:'first'::jsonb ->> 'id');
SELECT automation.create_workflow('{"name": "once", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed", "condition_value": "",
  "action_type": "webhook", "action_config": {"url": "https://example.com/h"}}',
  '11111111-1111-1111-1111-111111111111') ->> 'id' <> (:'first'::jsonb ->> 'id') AS created_anew;
SELECT kind, created_at > now() - interval '1 minute' AS fresh FROM automation.idempotency_keys ORDER BY kind;

SET client_min_messages = warning;
DROP SCHEMA idempotency CASCADE;
DROP EXTENSION automation;
