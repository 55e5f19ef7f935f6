-- workflows: create/get/update/delete/enable/disable (SPEC section 4) and
-- every validation rule, accepted and rejected.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA workflows;
SET search_path = workflows, public;
\pset format unaligned
\pset tuples_only on
-- try(q): run q; 'ok' (rolled back unless keep) or the error's SQLSTATE,
-- message, detail and hint, with ids masked.
\set try_style verbose
\set try_keep param
\i sql/include/helpers.sql
-- wf(patch, drop): create_workflow with a valid body changed by patch and
-- without the keys in drop; rolled back.
CREATE FUNCTION wf(patch jsonb, drop text[] DEFAULT '{}') RETURNS text
LANGUAGE sql AS $$
	SELECT try(format('SELECT automation.create_workflow(%L)',
		('{"name": "probe", "condition_entity": "deal", "condition_field": "status",
		   "condition_operator": "equals", "condition_value": "won",
		   "action_type": "webhook", "action_config": {"url": "https://example.com/h"}}'::jsonb
		 || patch) - drop))
$$;
CREATE TYPE stage AS ENUM ('lead', 'qualified', 'won', 'lost');
CREATE DOMAIN pct AS int CHECK (VALUE BETWEEN 0 AND 100);
CREATE TABLE deals (id bigserial PRIMARY KEY, name text NOT NULL DEFAULT '', status text,
	value numeric(12,2), currency char(3), stage_id int, tags text[], owner_id text,
	custom jsonb, meta json, closed_at timestamptz, close_date date, won boolean,
	phase stage, probability pct, small smallint, ext_id uuid);
CREATE TABLE tasks (id serial PRIMARY KEY, title text NOT NULL, deal_id bigint, due date,
	done boolean NOT NULL DEFAULT false);
CREATE TABLE contacts (id int PRIMARY KEY, email text);
SELECT automation.watch('deal', 'deals') ->> 'entity';
SELECT automation.watch('contact', 'contacts') ->> 'entity';
SELECT automation.create_channel('slack', 'https://hooks.slack.com/services/x') ->> 'name';

-- the seed's example, and its response shape
SELECT automation.create_workflow('{
    "name": "Ping owner on won deals",
    "condition_entity": "deal",
    "condition_field": "status",
    "condition_operator": "changed_to",
    "condition_value": "won",
    "action_type": "send_channel_message",
    "action_config": {
      "channel": "slack",
      "recipient": "#sales-wins",
      "message": "Deal {{deal.name}} closed at {{deal.value}} {{deal.currency}}"
    },
    "max_triggers_per_day": 50
  }') AS wf \gset
SELECT :'wf'::jsonb ->> 'id' ~ '^wf_[0-9A-HJKMNP-TV-Z]{26}$' AS id_is_ulid,
       :'wf'::jsonb ->> 'created_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$' AS created_at_iso;
SELECT jsonb_pretty(:'wf'::jsonb - 'id' - 'created_at' - 'updated_at');
SELECT (:'wf'::jsonb ->> 'id') AS wfid \gset
SELECT automation.get_workflow(:'wfid') = :'wf'::jsonb AS get_equals_create;
SELECT created_by = current_user AS created_by_me, tenant_id IS NULL AS no_tenant FROM automation.workflows;

-- defaults: max_triggers_per_day 100, enabled true
SELECT automation.create_workflow('{"name": "defaults", "condition_entity": "deal",
  "condition_field": "status", "condition_operator": "changed", "condition_value": "",
  "action_type": "webhook", "action_config": {"url": "https://example.com/h"}}')
  - 'id' - 'created_at' - 'updated_at';

-- required keys, unknown keys, JSON shapes
SELECT wf('{}', '{name}');
SELECT wf('{}', '{condition_entity}');
SELECT wf('{}', '{condition_field}');
SELECT wf('{}', '{condition_operator}');
SELECT wf('{}', '{condition_value}');
SELECT wf('{}', '{action_type}');
SELECT wf('{}', '{action_config}');
SELECT wf('{"id": "wf_x"}');
SELECT wf('{"Name": "x"}');
SELECT try($$SELECT automation.create_workflow('[]')$$);
SELECT try($$SELECT automation.create_workflow('"x"')$$);
SELECT try($$SELECT automation.create_workflow('null')$$);
SELECT try($$SELECT automation.create_workflow(NULL)$$);
SELECT wf('{"name": 5}');
SELECT wf('{"name": null}');
SELECT wf('{"condition_value": 5}');
SELECT wf('{"condition_value": null}');
SELECT wf('{"condition_field": ["status"]}');
SELECT wf('{"action_config": "url=x"}');
SELECT wf('{"action_config": []}');
SELECT wf('{"action_config": null}');

-- name: 1 to 120 characters, unique
SELECT wf(jsonb_build_object('name', repeat('n', 120)));
SELECT wf(jsonb_build_object('name', repeat('n', 121)));
SELECT wf('{"name": ""}');
SELECT wf('{"name": "   "}');
SELECT wf('{"name": "Ping owner on won deals"}');
SELECT wf('{"name": "ping owner on won deals"}');

-- condition_entity must be watched
SELECT wf('{"condition_entity": "lead"}');
SELECT wf('{"condition_entity": "Deal"}');
SELECT wf('{"condition_entity": "contact", "condition_field": "email"}');

-- condition_field: column, entity prefix, json path
SELECT wf('{"condition_field": "deal.status"}');
SELECT wf('{"condition_field": "custom.industry"}');
SELECT wf('{"condition_field": "deal.custom.industry.sub"}');
SELECT wf('{"condition_field": "meta.x"}');
SELECT wf('{"condition_field": "nope"}');
SELECT wf('{"condition_field": "Status"}');
SELECT wf('{"condition_field": "deal.nope"}');
SELECT wf('{"condition_field": "contact.email"}');
SELECT wf('{"condition_field": "status.x"}');
SELECT wf('{"condition_field": ""}');
SELECT wf('{"condition_field": "a..b"}');
SELECT wf('{"condition_field": "a b"}');
SELECT wf('{"condition_field": "custom.a.b.c.d.e.f.g.h"}');
SELECT wf(jsonb_build_object('condition_field', repeat('x', 100000)));

-- condition_operator
SELECT wf('{"condition_operator": "foo"}');
SELECT wf('{"condition_operator": "EQUALS"}');
SELECT wf('{"condition_operator": "not_equals"}');
SELECT wf('{"condition_operator": "contains"}');
SELECT wf('{"condition_operator": "changed_to"}');
SELECT wf('{"condition_operator": "greater_than"}');
SELECT wf('{"condition_operator": "less_than", "condition_field": "won", "condition_value": "true"}');
SELECT wf('{"condition_operator": "contains", "condition_field": "stage_id", "condition_value": "1"}');
SELECT wf('{"condition_operator": "contains", "condition_field": "tags", "condition_value": "vip"}');
SELECT wf('{"condition_operator": "contains", "condition_field": "custom.tags", "condition_value": "vip"}');

-- changed takes condition_value ""
SELECT wf('{"condition_operator": "changed", "condition_value": ""}');
SELECT wf('{"condition_operator": "changed", "condition_value": "won"}');
SELECT wf('{"condition_operator": "changed", "condition_value": " "}');

-- condition_value parses as the column's type
SELECT wf('{"condition_field": "value", "condition_operator": "greater_than", "condition_value": "50000"}');
SELECT wf('{"condition_field": "value", "condition_operator": "greater_than", "condition_value": "50,000"}');
SELECT wf('{"condition_field": "value", "condition_operator": "greater_than", "condition_value": "1e20"}');
SELECT wf('{"condition_field": "stage_id", "condition_value": "3"}');
SELECT wf('{"condition_field": "stage_id", "condition_value": "3.5"}');
SELECT wf('{"condition_field": "stage_id", "condition_value": ""}');
SELECT wf('{"condition_field": "small", "condition_value": "40000"}');
SELECT wf('{"condition_field": "closed_at", "condition_operator": "less_than", "condition_value": "2026-04-17T11:05:00Z"}');
SELECT wf('{"condition_field": "closed_at", "condition_operator": "less_than", "condition_value": "yesterday-ish"}');
SELECT wf('{"condition_field": "close_date", "condition_operator": "greater_than", "condition_value": "2026-02-30"}');
SELECT wf('{"condition_field": "won", "condition_value": "true"}');
SELECT wf('{"condition_field": "won", "condition_value": "maybe"}');
SELECT wf('{"condition_field": "phase", "condition_operator": "changed_to", "condition_value": "won"}');
SELECT wf('{"condition_field": "phase", "condition_operator": "changed_to", "condition_value": "closed"}');
SELECT wf('{"condition_field": "phase", "condition_operator": "greater_than", "condition_value": "won"}');
SELECT wf('{"condition_field": "probability", "condition_operator": "greater_than", "condition_value": "80"}');
SELECT wf('{"condition_field": "probability", "condition_operator": "greater_than", "condition_value": "180"}');
SELECT wf('{"condition_field": "ext_id", "condition_value": "not-a-uuid"}');
SELECT wf('{"condition_field": "tags", "condition_value": "{a,b}"}');
SELECT wf('{"condition_field": "custom", "condition_value": "{\"a\": 1}"}');
SELECT wf('{"condition_field": "custom", "condition_value": "not json"}');
SELECT wf('{"condition_field": "currency", "condition_value": "EUR"}');
SELECT wf('{"condition_field": "status", "condition_value": ""}');
SELECT wf(jsonb_build_object('condition_value', repeat('v', 10001)));

-- action_type
SELECT wf('{"action_type": "assign_user"}');
SELECT wf('{"action_type": "WEBHOOK"}');
SELECT wf('{"action_type": ""}');

-- webhook
SELECT wf('{"action_config": {"url": "https://example.com/h", "method": "put", "headers": {"X-Deal": "{{deal.id}}"}, "body": {"deal": "{{deal.name}}", "n": [1, {"who": "{{old.owner_id}}"}]}, "delay_minutes": 5}}');
SELECT wf('{"action_config": {}}');
SELECT wf('{"action_config": {"url": "ftp://example.com"}}');
SELECT wf('{"action_config": {"url": 5}}');
SELECT wf('{"action_config": {"url": "https://{{deal.name}}.example.com/"}}');
SELECT wf('{"action_config": {"url": "{{deal.name}}"}}');
SELECT wf('{"action_config": {"url": "https://example.com/{{deal.name}}?x={{deal.id}}"}}');
SELECT wf('{"action_config": {"url": "https://example.com/", "method": "GET"}}');
SELECT wf('{"action_config": {"url": "https://example.com/", "method": "DELETE"}}');
SELECT wf('{"action_config": {"url": "https://example.com/", "headers": ["a"]}}');
SELECT wf('{"action_config": {"url": "https://example.com/", "headers": {"Bad Name": "x"}}}');
SELECT wf('{"action_config": {"url": "https://example.com/", "headers": {"X-A": "a\r\nBcc: evil"}}}');
SELECT wf('{"action_config": {"url": "https://example.com/", "headers": {"X-A": 5}}}');
SELECT wf('{"action_config": {"url": "https://example.com/", "headers": {"Host": "evil"}}}');
SELECT wf('{"action_config": {"url": "https://example.com/", "body": {"a": "{{deal.nope}}"}}}');
SELECT wf('{"action_config": {"url": "https://example.com/", "secret": "x"}}');
SELECT wf('{"action_config": {"url": "https://example.com/", "delay_minutes": -1}}');
SELECT wf('{"action_config": {"url": "https://example.com/", "delay_minutes": 1.5}}');
SELECT wf('{"action_config": {"url": "https://example.com/", "delay_minutes": 525601}}');
SELECT wf('{"action_config": {"url": "https://example.com/", "delay_minutes": "10"}}');

-- merge tokens
SELECT wf('{"action_config": {"url": "https://example.com/{{ deal.custom.industry }}/{{workflow.name}}/{{event.operation}}/{{event.at}}/{{old.status}}"}}');
SELECT wf('{"action_config": {"url": "https://example.com/{{rule.name}}"}}');
SELECT wf('{"action_config": {"url": "https://example.com/{{contact.email}}"}}');
SELECT wf('{"action_config": {"url": "https://example.com/{{event.nope}}"}}');
SELECT wf('{"action_config": {"url": "https://example.com/{{deal}}"}}');
SELECT wf('{"action_config": {"url": "https://example.com/{{deal.status.x}}"}}');
SELECT wf('{"action_config": {"url": "https://example.com/{{deal.name"}}');
SELECT wf('{"action_config": {"url": "https://example.com/{{}}"}}');
SELECT wf('{"action_config": {"url": "https://example.com/{{deal-name}}"}}');

-- send_channel_message
SELECT wf('{"action_type": "send_channel_message", "action_config": {"channel": "slack", "message": "hi"}}');
SELECT wf('{"action_type": "send_channel_message", "action_config": {"channel": "teams", "message": "hi"}}');
SELECT wf('{"action_type": "send_channel_message", "action_config": {"channel": "slack"}}');
SELECT wf('{"action_type": "send_channel_message", "action_config": {"channel": "slack", "message": ""}}');
SELECT wf('{"action_type": "send_channel_message", "action_config": {"channel": "slack", "message": "{{deal.nope}}"}}');
SELECT wf('{"action_type": "send_channel_message", "action_config": {"message": "hi"}}');
SELECT wf('{"action_type": "send_channel_message", "action_config": {"channel": "slack", "message": "hi", "url": "https://x.example.com"}}');

-- send_email
SELECT wf('{"action_type": "send_email", "action_config": {"to": "{{deal.owner_id}}", "subject": "Deal {{deal.name}}", "body": "line 1\nline 2", "cc": "a@example.com", "bcc": "b@example.com", "reply_to": "c@example.com"}}');
SELECT wf('{"action_type": "send_email", "action_config": {"to": "a@example.com", "subject": "s"}}');
SELECT wf('{"action_type": "send_email", "action_config": {"to": "a@example.com", "subject": "s\nBcc: evil@example.com", "body": "b"}}');
SELECT wf('{"action_type": "send_email", "action_config": {"to": "a@example.com\r\nBcc: evil@example.com", "subject": "s", "body": "b"}}');
SELECT wf('{"action_type": "send_email", "action_config": {"to": "a@example.com", "subject": "s", "body": "b", "from": "x@example.com"}}');

-- update_field
SELECT wf('{"action_type": "update_field", "action_config": {"field": "stage_id", "value": "4"}}');
SELECT wf('{"action_type": "update_field", "action_config": {"field": "stage_id", "value": 4}}');
SELECT wf('{"action_type": "update_field", "action_config": {"field": "stage_id", "value": "four"}}');
SELECT wf('{"action_type": "update_field", "action_config": {"field": "stage_id", "value": "{{deal.small}}"}}');
SELECT wf('{"action_type": "update_field", "action_config": {"field": "owner_id", "value": null}}');
SELECT wf('{"action_type": "update_field", "action_config": {"field": "name", "value": null}}');
SELECT wf('{"action_type": "update_field", "action_config": {"field": "closed_at", "value": "soon"}}');
SELECT wf('{"action_type": "update_field", "action_config": {"field": "deal.won", "value": true}}');
SELECT wf('{"action_type": "update_field", "action_config": {"field": "custom.x", "value": "1"}}');
SELECT wf('{"action_type": "update_field", "action_config": {"field": "nope", "value": "1"}}');
SELECT wf('{"action_type": "update_field", "action_config": {"field": "stage_id"}}');
SELECT wf('{"action_type": "update_field", "action_config": {"value": "1"}}');
SELECT wf('{"action_type": "update_field", "action_config": {"field": "stage_id", "value": [1]}}');
-- update_field writing the condition field: the self-retrigger combination
SELECT wf('{"condition_operator": "changed_to", "action_type": "update_field", "action_config": {"field": "status", "value": "archived"}}');
SELECT wf('{"condition_operator": "changed_to", "action_type": "update_field", "action_config": {"field": "deal.status", "value": "Won"}}');
SELECT wf('{"condition_operator": "changed_to", "action_type": "update_field", "action_config": {"field": "status", "value": "{{deal.name}}"}}');
SELECT wf('{"condition_operator": "equals", "action_type": "update_field", "action_config": {"field": "status", "value": "archived"}}');
SELECT wf('{"condition_operator": "changed", "condition_value": "", "action_type": "update_field", "action_config": {"field": "status", "value": "x"}}');
SELECT wf('{"condition_field": "stage_id", "condition_operator": "changed_to", "condition_value": "4", "action_type": "update_field", "action_config": {"field": "stage_id", "value": "04"}}');
SELECT wf('{"condition_field": "stage_id", "condition_operator": "changed_to", "condition_value": "4", "action_type": "update_field", "action_config": {"field": "stage_id", "value": 5}}');
SELECT wf('{"condition_field": "custom.stage", "condition_operator": "changed_to", "condition_value": "a", "action_type": "update_field", "action_config": {"field": "custom", "value": {"stage": "b"}}}');

-- create_task (columns of the table watched as task)
SELECT wf('{"action_type": "create_task", "action_config": {"title": "Call {{deal.name}}"}}');
SELECT automation.watch('task', 'tasks') ->> 'entity';
SELECT wf('{"action_type": "create_task", "action_config": {"title": "Call {{deal.name}}", "deal_id": "{{deal.id}}", "due": "2026-05-01", "delay_minutes": 60}}');
SELECT wf('{"action_type": "create_task", "action_config": {"deal_id": "{{deal.id}}"}}');
SELECT wf('{"action_type": "create_task", "action_config": {"title": "x", "priority": "high"}}');
SELECT wf('{"action_type": "create_task", "action_config": {"title": "x", "due": "someday"}}');
SELECT wf('{"action_type": "create_task", "action_config": {"title": "x", "deal_id": "{{task.id}}"}}');
SELECT wf('{"action_type": "create_task", "action_config": {}}');

-- max_triggers_per_day and enabled
SELECT wf('{"max_triggers_per_day": 1}');
SELECT wf('{"max_triggers_per_day": "50"}');
SELECT wf('{"max_triggers_per_day": 0}');
SELECT wf('{"max_triggers_per_day": -5}');
SELECT wf('{"max_triggers_per_day": 2.5}');
SELECT wf('{"max_triggers_per_day": 1e10}');
SELECT wf('{"max_triggers_per_day": null}');
-- a workflow body is JSON, not a form: a blank is no default (doc/definitions.md)
SELECT wf('{"max_triggers_per_day": ""}');
SELECT wf('{"enabled": ""}');
SELECT wf('{"max_triggers_per_day": true}');
SELECT wf('{"enabled": false}');
SELECT wf('{"enabled": "false"}');
SELECT wf('{"enabled": "yes"}');
SELECT wf('{"enabled": null}');
SELECT wf('{"enabled": 1}');

-- rejected creates changed nothing: only the two workflows created above exist
SELECT count(*) AS workflows FROM automation.workflows;

-- get / update / delete / enable / disable
SELECT try($$SELECT automation.get_workflow('wf_nope')$$);
SELECT try($$SELECT automation.get_workflow(NULL)$$);
SELECT automation.update_workflow(:'wfid', '{"max_triggers_per_day": 10, "condition_value": "lost"}')
	- 'id' - 'created_at' - 'updated_at' - 'action_config';
SELECT try(format('SELECT automation.update_workflow(%L, %L)', :'wfid', '{"condition_operator": "greater_than"}'));
SELECT try(format('SELECT automation.update_workflow(%L, %L)', :'wfid', '{"name": "defaults"}'));
SELECT try(format('SELECT automation.update_workflow(%L, %L)', :'wfid', '{"bogus": 1}'));
SELECT try(format('SELECT automation.update_workflow(%L, %L)', :'wfid', '[]'));
SELECT try(format('SELECT automation.update_workflow(%L, %L)', 'wf_nope', '{}'));
SELECT automation.get_workflow(:'wfid') ->> 'condition_value' AS unchanged_after_rejects;
SELECT automation.update_workflow(:'wfid', '{}') ->> 'name' AS empty_patch;
SELECT automation.disable_workflow(:'wfid') -> 'enabled', automation.get_workflow(:'wfid') ->> 'disabled_reason';
UPDATE automation.workflows SET disabled_reason = 'circuit_breaker' WHERE id = :'wfid';
SELECT automation.enable_workflow(:'wfid') -> 'enabled', automation.get_workflow(:'wfid') -> 'disabled_reason';
SELECT breaker_reset_at IS NOT NULL AS budget_reset FROM automation.workflows WHERE id = :'wfid';
SELECT try($$SELECT automation.enable_workflow('wf_nope')$$);
SELECT try($$SELECT automation.disable_workflow('wf_nope')$$);

-- triggers_today and last_triggered_at come from automation.firings
UPDATE automation.workflows SET breaker_reset_at = NULL WHERE id = :'wfid';
INSERT INTO automation.firings (source, workflow_id, entity, operation, outcome, fired_at)
VALUES ('workflow', :'wfid', 'deal', 'UPDATE', 'fired', now()),
       ('workflow', :'wfid', 'deal', 'UPDATE', 'fired', now()),
       ('workflow', :'wfid', 'deal', 'UPDATE', 'circuit_breaker', now()),
       ('workflow', :'wfid', 'deal', 'UPDATE', 'fired', now() - interval '3 days');
SELECT w ->> 'triggers_today' AS triggers_today,
       w ->> 'last_triggered_at' = automation._iso(now()) AS last_triggered_now
  FROM automation.get_workflow(:'wfid') w;

-- a channel in use cannot be deleted
SELECT try($$SELECT automation.delete_channel('slack')$$);
SELECT automation.delete_workflow(:'wfid');
SELECT try(format('SELECT automation.delete_workflow(%L)', :'wfid'));
SELECT automation.delete_channel('slack');

-- direct SQL: the same validation (one source of truth)
SELECT try($$INSERT INTO automation.workflows (name, condition_entity, condition_field, condition_operator,
	condition_value, action_type, action_config)
	VALUES ('sql', 'deal', 'status', 'foo', 'won', 'webhook', '{"url": "https://example.com/"}')$$);
SELECT try($$INSERT INTO automation.workflows (name, condition_entity, condition_field, condition_operator,
	condition_value, action_type, action_config)
	VALUES ('sql', 'deal', 'value', 'greater_than', 'abc', 'webhook', '{"url": "https://example.com/"}')$$);
SELECT try($$INSERT INTO automation.workflows (name, condition_entity, condition_field, condition_operator,
	condition_value, action_type, action_config)
	VALUES ('defaults', 'deal', 'status', 'changed', '', 'webhook', '{"url": "https://example.com/"}')$$);
SELECT try($$INSERT INTO automation.workflows (id, name, condition_entity, condition_field, condition_operator,
	condition_value, action_type, action_config)
	VALUES ('wf_1', 'sql', 'deal', 'status', 'changed', '', 'webhook', '{"url": "https://example.com/"}')$$);
SELECT try($$INSERT INTO automation.workflows (name, condition_entity, condition_field, condition_operator,
	condition_value, action_type, action_config, created_by)
	VALUES ('sql', 'deal', 'status', 'changed', '', 'webhook', '{"url": "https://example.com/"}', 'nobody_here')$$);
SELECT try($$INSERT INTO automation.workflows (name, condition_entity, condition_field, condition_operator,
	condition_value, action_type, action_config)
	VALUES ('sql', 'deal', 'status', 'changed', '', 'webhook', '{"url": "https://example.com/"}')$$);
SELECT try($$UPDATE automation.workflows SET condition_field = 'nope' WHERE name = 'defaults'$$);
SELECT try($$UPDATE automation.workflows SET action_config = '{"url": "ftp://x"}' WHERE name = 'defaults'$$);
SELECT try($$UPDATE automation.workflows SET max_triggers_per_day = 0 WHERE name = 'defaults'$$);
SELECT try($$UPDATE automation.workflows SET id = automation._new_workflow_id() WHERE name = 'defaults'$$);
-- the breaker's update of enabled/disabled_reason is not re-validated
ALTER TABLE deals RENAME COLUMN status TO state;
SELECT try($$UPDATE automation.workflows SET enabled = false, disabled_reason = 'circuit_breaker' WHERE name = 'defaults'$$);
SELECT try($$UPDATE automation.workflows SET max_triggers_per_day = 7 WHERE name = 'defaults'$$);
ALTER TABLE deals RENAME COLUMN state TO status;

-- last_triggered_at is the time of the last committed firing and survives
-- prune: prune keeps the newest 'fired' firing of each existing definition
SELECT automation.create_workflow('{"name": "pruned", "condition_entity": "deal",
  "condition_field": "won", "condition_operator": "changed", "condition_value": "",
  "action_type": "webhook", "action_config": {"url": "https://example.com/p"}}') ->> 'id' AS pwf \gset
INSERT INTO deals (name, won) VALUES ('fires', true);
SELECT count(*) AS fired FROM automation.firings WHERE workflow_id = :'pwf' AND outcome = 'fired';
SELECT now() - interval '10 days' AS ten, now() - interval '8 days' AS eight \gset
UPDATE automation.firings SET fired_at = :'ten' WHERE workflow_id = :'pwf';
INSERT INTO automation.firings (source, workflow_id, entity, operation, outcome, fired_at)
VALUES ('workflow', :'pwf', 'deal', 'UPDATE', 'fired', now() - interval '12 days'),
       ('workflow', :'pwf', 'deal', 'UPDATE', 'circuit_breaker', now() - interval '9 days'),
       ('workflow', 'wf_00000000000000000000000000', 'deal', 'UPDATE', 'fired', now() - interval '20 days');
SELECT automation.get_workflow(:'pwf') ->> 'last_triggered_at' = automation._iso(:'ten') AS ten_days_ago;
SELECT automation.prune('7 days') -> 'firings' AS pruned_firings;
SELECT automation.get_workflow(:'pwf') ->> 'last_triggered_at' = automation._iso(:'ten') AS still_ten_days_ago;
SELECT outcome, fired_at = :'ten' AS ten_days_ago FROM automation.firings WHERE workflow_id = :'pwf';
-- a newer firing takes over; the older one is pruned next time
INSERT INTO automation.firings (source, workflow_id, entity, operation, outcome, fired_at)
VALUES ('workflow', :'pwf', 'deal', 'UPDATE', 'fired', :'eight');
SELECT automation.prune('7 days') -> 'firings' AS pruned_firings;
SELECT automation.get_workflow(:'pwf') ->> 'last_triggered_at' = automation._iso(:'eight') AS eight_days_ago;

SET client_min_messages = warning;
DROP SCHEMA workflows CASCADE;
DROP EXTENSION automation;
