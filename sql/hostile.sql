-- hostile: every function of schema automation, enumerated from pg_proc (so
-- a new function cannot be forgotten), called with NULLs, empty, huge,
-- deeply nested and wrong-typed-but-castable values, each call in its own
-- subtransaction that is always rolled back.  No call may end in an internal
-- error (SQLSTATE class XX) or crash the backend (the test would die), and
-- the public API (functions not starting with "_") may only answer with a
-- documented SQLSTATE (doc/reference.md, doc/definitions.md).  Trigger
-- functions cannot be called from SQL; they are attached by hand to wrong
-- tables, with wrong timings and levels, and fired.
--
-- The output lists only failures (expected: none) and a few lower bounds,
-- so it does not change when functions are added.  doc/memory_safety.md
-- explains how to read a failure.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA hostile;
SET search_path = hostile, public;
-- A lock wait fails (55P03) instead of hanging the suite; a function that
-- waits forever fails the whole test instead of hanging it (after 10
-- minutes, unless the session already has a limit: test/memcheck.sh sets a
-- longer one, Valgrind being 20-50 times slower).
SET lock_timeout = '5s';
DO $$ BEGIN
	IF current_setting('statement_timeout') = '0' THEN
		SET statement_timeout = '10min';
	END IF;
END $$;

-------------------------------------------------------------------------------
-- Fixtures: a watched table with a column of every type family, a task
-- table, a channel, workflows and rules with conditions on all of them, so
-- the calls reach past "unknown entity" into the validators and evaluator.
CREATE TABLE deal (id bigint PRIMARY KEY, name text, status varchar(20), code char(3),
	amount numeric(12,2), qty int, closed_on date, closed_at timestamptz, won boolean,
	owner_id uuid, stage_id int, tags text[], custom jsonb, tenant text);
CREATE TABLE task (id serial PRIMARY KEY, title text NOT NULL, deal_id bigint);
CREATE TABLE scratch (id int PRIMARY KEY, name text);
CREATE VIEW scratch_view AS SELECT * FROM scratch;
SELECT automation.watch('deal', 'deal', tenant_column => 'tenant') ->> 'entity' AS watched;
SELECT automation.watch('task', 'task') ->> 'entity' AS watched;
SELECT automation.create_channel('slack', 'https://example.com/slack') ->> 'name' AS channel;
DO $$ BEGIN
	PERFORM automation.create_workflow('{"name": "won", "condition_entity": "deal",
		"condition_field": "status", "condition_operator": "changed_to", "condition_value": "won",
		"action_type": "webhook", "action_config": {"url": "https://example.com/h/{{deal.name}}",
		"headers": {"X-A": "{{deal.code}}"}, "body": {"n": "{{deal.custom.utm.source}}"}}}');
	PERFORM automation.create_workflow('{"name": "big", "condition_entity": "deal",
		"condition_field": "amount", "condition_operator": "greater_than", "condition_value": "1000",
		"action_type": "send_channel_message", "action_config": {"channel": "slack",
		"message": "{{deal.name}} {{old.amount}} {{workflow.name}} {{event.at}}"}}');
	PERFORM automation.create_workflow('{"name": "vip", "condition_entity": "deal",
		"condition_field": "tags", "condition_operator": "contains", "condition_value": "vip",
		"action_type": "update_field", "action_config": {"field": "stage_id", "value": "2"}}');
	PERFORM automation.create_workflow('{"name": "tech", "condition_entity": "deal",
		"condition_field": "custom.industry", "condition_operator": "equals", "condition_value": "tech",
		"action_type": "create_task", "action_config": {"title": "{{deal.name}}", "delay_minutes": 5}}');
	PERFORM automation.create_workflow('{"name": "soon", "condition_entity": "deal",
		"condition_field": "closed_on", "condition_operator": "less_than", "condition_value": "2030-01-01",
		"action_type": "send_email", "action_config": {"to": "a@example.com", "subject": "s", "body": "b"}}');
	PERFORM automation.create_rule('{"name": "all types", "entity_type": "deal",
		"trigger_type": "DEAL_UPDATED", "cooldown_hours": 1,
		"conditions": [
			{"field_path": "name", "operator": "STARTS_WITH", "value_string": "a"},
			{"field_path": "amount", "operator": "GT", "value_int": 10},
			{"field_path": "closed_at", "operator": "GTE", "value_datetime": "2020-01-01T00:00:00Z"},
			{"field_path": "tags", "operator": "CONTAINS", "value_string": "vip"},
			{"field_path": "custom.utm.source", "operator": "EQUALS", "value_string": "x"},
			{"field_path": "won", "operator": "CHANGED_TO", "value_bool": true},
			{"field_path": "qty", "operator": "IN", "value_array": [1, 2]},
			{"field_path": "owner_id", "operator": "EXISTS"},
			{"field_path": "code", "operator": "EQUALS", "value_string": "abc"},
			{"field_path": "status", "operator": "NOT_IN", "value_array": ["lost"]}],
		"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "{{rule.name}}"},
			{"action_type": "TAG", "tag": "hot"},
			{"action_type": "CHANGE_STAGE", "stage_id": "3"}]}');
	PERFORM automation.create_rule('{"name": "lost deleted", "entity_type": "deal",
		"trigger_type": "DEAL_DELETED", "stop_subsequent_rules": true,
		"conditions": [{"field_path": "status", "operator": "EQUALS", "value_string": "lost"}],
		"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/x"}]}');
END $$;

-------------------------------------------------------------------------------
-- vals: hostile values per argument type, as SQL expressions (cast to the
-- argument's type by the caller).  Every one must cast cleanly: the harness
-- checks that before each call.
CREATE TABLE vals (typ regtype, expr text);
INSERT INTO vals (typ, expr)
SELECT 'text', e FROM unnest(ARRAY[
	$v$NULL$v$, $v$''$v$, $v$' '$v$, $v$'x'$v$, $v$'X'$v$, $v$E'\t\n\r'$v$, $v$E'\x01\x7f'$v$,
	$v$'deal'$v$, $v$'DEAL'$v$, $v$'task'$v$, $v$'name'$v$, $v$'custom'$v$, $v$'deal.custom.a.b.c.d.e.f.g'$v$,
	$v$'custom.a.b.c.d.e.f.g.h.i'$v$, $v$'a.'$v$, $v$'.a'$v$, $v$'a..b'$v$, $v$'deal.'$v$,
	$v$repeat('x', 1000000)$v$, $v$repeat('a.', 200000) || 'a'$v$, $v$repeat('é', 300000)$v$,
	$v$'{{'$v$, $v$'}}'$v$, $v$'{{}}'$v$, $v$'{{deal.name}}'$v$, $v$'{{ old . name }}'$v$,
	$v$'{{deal.nope}} {{event.x}} {{workflow.name}} {{rule.name}}'$v$, $v$'{{{{deal.name}}}}'$v$,
	$v$repeat('{{', 200000)$v$, $v$repeat('{{deal.name}}', 50000)$v$,
	$v$'{{' || repeat('a.', 100000) || 'a}}'$v$,
	$v$'conditions[99999999999999][x]'$v$, $v$'conditions[0][value_array][]'$v$,
	$v$'a[b][c][d][e][f][g][h][i][j]'$v$, $v$'a[]'$v$, $v$'[]'$v$, $v$'['$v$, $v$']'$v$, $v$'a[b'$v$,
	$v$'a[-1]'$v$, $v$'a[' || repeat('9', 1000) || ']'$v$, $v$repeat('[a]', 100000)$v$,
	$v$U&'\202E\200B\FEFF'$v$, $v$U&'\+01F600'$v$, $v$'-1'$v$, $v$'0'$v$, $v$'99999999999999999999'$v$,
	$v$'1e400'$v$, $v$'NaN'$v$, $v$'infinity'$v$, $v$'-infinity'$v$, $v$'true'$v$, $v$'null'$v$,
	$v$'{}'$v$, $v$'[1]'$v$, $v$'{"a": 1}'$v$, $v$'wf_00000000000000000000000000'$v$,
	$v$'00000000-0000-0000-0000-000000000000'$v$,
	$v$'equals'$v$, $v$'EQUALS'$v$, $v$'greater_than'$v$, $v$'changed'$v$, $v$'IN'$v$, $v$'CHANGED_FROM'$v$,
	$v$'webhook'$v$, $v$'WEBHOOK'$v$, $v$'update_field'$v$, $v$'create_task'$v$, $v$'ASSIGN_USER'$v$,
	$v$'TAG'$v$, $v$'workflow'$v$, $v$'rule'$v$, $v$'DEAL_CREATED'$v$, $v$'DEAL_DELETED'$v$, $v$'X_UPDATED'$v$,
	$v$'http://x'$v$, $v$'https://user:pw@example.com/'$v$, $v$'javascript:alert(1)'$v$,
	$v$'https://' || repeat('a', 3000)$v$, $v$'https://{{deal.name}}/'$v$,
	$v$'pg_catalog'$v$, $v$'automation'$v$, $v$'22023'$v$, $v$'P0002'$v$, $v$'2BP01'$v$,
	$v$'UPDATE'$v$, $v$'INSERT'$v$, $v$'SELECT'$v$, $v$'json'$v$, $v$'slack'$v$,
	$v$'postgres'$v$, $v$'"; DROP TABLE deal; --'$v$, $v$'%s %n %x'$v$]) AS e;
INSERT INTO vals (typ, expr)
SELECT 'jsonb', e FROM unnest(ARRAY[
	$v$NULL$v$, $v$'null'$v$, $v$'{}'$v$, $v$'[]'$v$, $v$'""'$v$, $v$'"x"'$v$, $v$'0'$v$, $v$'-1'$v$,
	$v$'1e400'$v$, $v$'-1e-400'$v$, $v$'true'$v$, $v$'[{}]'$v$, $v$'[null]'$v$, $v$'[[]]'$v$,
	$v$'{"": ""}'$v$, $v$'{"a": null}'$v$, $v$'{"a": "1"}'$v$, $v$'{"a": 1.5}'$v$,
	$v$(repeat('[', 2000) || repeat(']', 2000))$v$,
	$v$(repeat('{"a":', 2000) || '1' || repeat('}', 2000))$v$,
	$v$(repeat('{"url":', 2000) || '"x"' || repeat('}', 2000))$v$,
	$v$(repeat('[', 10000) || repeat(']', 10000))$v$,
	$v$to_jsonb(repeat('x', 1000000))$v$,
	$v$jsonb_build_object('name', repeat('x', 1000000))$v$,
	$v$(SELECT jsonb_agg(i) FROM generate_series(1, 100000) i)$v$,
	$v$(SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 5000) i)$v$,
	$v$(SELECT jsonb_object_agg('conditions[' || i || '][field_path]', 'name') FROM generate_series(1, 3000) i)$v$,
	-- form fields
	$v$'{"conditions[99999999999999][x]": "1"}'$v$,
	$v$'{"conditions[0][value_array][]": "1", "conditions[0][value_array][0]": "2"}'$v$,
	$v$'{"conditions[][x]": "1"}'$v$, $v$'{"conditions[-1][x]": "1"}'$v$, $v$'{"conditions[0][": "1"}'$v$,
	$v$'{"conditions[0][a][b][c][d][e][f][g][h]": "1"}'$v$, $v$'{"[": "", "]": "", "a]": ""}'$v$,
	$v$'{"actions[0][headers][X-A][b]": "x", "actions[0][action_type]": "WEBHOOK"}'$v$,
	$v$'{"name": "f", "entity_type": "deal", "trigger_type": "DEAL_UPDATED", "conditions[0][field_path]": "qty", "conditions[0][operator]": "IN", "conditions[0][value_array][999]": "1", "actions[0][action_type]": "NOTIFY", "actions[0][recipient]": ["x"], "actions[0][message]": {"a": 1}}'$v$,
	$v$'{"name": "f", "entity_type": "deal", "trigger_type": "DEAL_UPDATED", "conditions[0][field_path]": 1, "conditions[0][operator]": null, "actions": 3}'$v$,
	-- workflow bodies
	$v$'{"name": 1, "condition_entity": [], "condition_field": {}, "condition_operator": true, "condition_value": 1.5, "action_type": null, "action_config": "x"}'$v$,
	$v$'{"name": "w", "condition_entity": "deal", "condition_field": "amount", "condition_operator": "greater_than", "condition_value": "1e400", "action_type": "webhook", "action_config": {"url": "https://e.com"}, "max_triggers_per_day": 1e400}'$v$,
	$v$'{"name": "w", "condition_entity": "deal", "condition_field": "qty", "condition_operator": "equals", "condition_value": "99999999999999999999", "action_type": "webhook", "action_config": {"url": "https://e.com"}, "max_triggers_per_day": "99999999999999999999"}'$v$,
	$v$'{"name": "w", "condition_entity": "deal", "condition_field": "closed_at", "condition_operator": "less_than", "condition_value": "infinity", "action_type": "webhook", "action_config": {"url": "https://e.com", "delay_minutes": "NaN"}, "max_triggers_per_day": -1, "enabled": "maybe"}'$v$,
	$v$'{"name": "w", "condition_entity": "deal", "condition_field": "custom", "condition_operator": "equals", "condition_value": "{\"a\":", "action_type": "webhook", "action_config": {"url": "https://e.com", "headers": {"X": ["a"]}, "method": 1}}'$v$,
	$v$'{"name": "w", "condition_entity": "deal", "condition_field": "stage_id", "condition_operator": "changed_to", "condition_value": "1", "action_type": "update_field", "action_config": {"field": "stage_id", "value": {"a": 1}, "delay_minutes": 1e10}}'$v$,
	$v$jsonb_build_object('name', 'w', 'condition_entity', 'deal', 'condition_field', 'status', 'condition_operator', 'equals', 'condition_value', 'x', 'action_type', 'webhook', 'action_config', jsonb_build_object('url', 'https://e.com', 'body', (repeat('[', 2000) || repeat(']', 2000))::jsonb))$v$,
	$v$jsonb_build_object('name', 'w', 'condition_entity', 'deal', 'condition_field', 'status', 'condition_operator', 'equals', 'condition_value', 'x', 'action_type', 'webhook', 'action_config', jsonb_build_object('url', 'https://e.com', 'body', (repeat('[', 10000) || repeat(']', 10000))::jsonb))$v$,
	$v$jsonb_build_object('name', 'w', 'condition_entity', 'deal', 'condition_field', 'status', 'condition_operator', 'equals', 'condition_value', repeat('x', 100000), 'action_type', 'create_task', 'action_config', jsonb_build_object('title', repeat('{{deal.name}}', 5000)))$v$,
	-- rule bodies
	$v$'{"name": "r", "entity_type": "deal", "trigger_type": "DEAL_UPDATED", "conditions": {}, "actions": "x"}'$v$,
	$v$'{"name": "r", "entity_type": "deal", "trigger_type": "DEAL_UPDATED", "conditions": [[]], "actions": [null]}'$v$,
	$v$'{"name": "r", "entity_type": "deal", "trigger_type": "DEAL_UPDATED", "conditions": [1, "x", true], "actions": [[1]]}'$v$,
	$v$'{"name": "r", "entity_type": "deal", "trigger_type": "DEAL_UPDATED", "conditions": [{"field_path": [], "operator": 1, "sort_order": 1e100}], "actions": [{"action_type": []}]}'$v$,
	$v$'{"name": "r", "entity_type": "deal", "trigger_type": "DEAL_UPDATED", "priority": "NaN", "cooldown_hours": "1e3", "conditions": [{"field_path": "amount", "operator": "GT", "value_int": "99999999999999999999999"}], "actions": [{"action_type": "NOTIFY", "recipient": "a", "message": "m", "delay_minutes": -1}]}'$v$,
	$v$'{"name": "r", "entity_type": "deal", "trigger_type": "DEAL_UPDATED", "conditions": [{"field_path": "closed_at", "operator": "GTE", "value_datetime": "294277-01-01"}, {"field_path": "closed_on", "operator": "LT", "value_datetime": "infinity"}, {"field_path": "closed_at", "operator": "LT", "value_datetime": "yesterday"}], "actions": [{"action_type": "ASSIGN_USER", "assign_pool_id": "not-a-uuid"}]}'$v$,
	$v$'{"name": "r", "entity_type": "deal", "trigger_type": "DEAL_UPDATED", "conditions": [{"field_path": "qty", "operator": "IN", "value_array": [[1], {"a": 1}, null]}, {"field_path": "tags", "operator": "CONTAINS", "value_string": 5, "value_int": 5}], "actions": [{"action_type": "TAG", "tag": null, "tags_field": "name"}]}'$v$,
	$v$(SELECT jsonb_build_object('name', 'r', 'entity_type', 'deal', 'trigger_type', 'DEAL_UPDATED', 'conditions', jsonb_build_array(jsonb_build_object('field_path', 'qty', 'operator', 'IN', 'value_array', jsonb_agg(i))), 'actions', jsonb_build_array('{"action_type": "NOTIFY", "recipient": "a", "message": "m"}'::jsonb)) FROM generate_series(1, 1001) i)$v$,
	$v$(SELECT jsonb_build_object('name', 'r', 'entity_type', 'deal', 'trigger_type', 'DEAL_UPDATED', 'conditions', jsonb_agg('{"field_path": "id", "operator": "EXISTS"}'::jsonb), 'actions', jsonb_agg('{"action_type": "NOTIFY", "recipient": "a", "message": "m"}'::jsonb)) FROM generate_series(1, 101) i)$v$,
	-- rows for explain and the queue: every column the wrong JSON type
	$v$'{"id": "x", "amount": "abc", "qty": 1.5, "closed_on": "yesterday", "won": "maybe", "owner_id": "x", "tags": "notarray", "custom": "{"}'$v$,
	$v$'{"id": 1e100, "name": 1, "status": [1], "code": "toolong", "amount": 1e400, "qty": 99999999999, "closed_at": "infinity", "won": 1, "tags": [[1]], "custom": null, "tenant": 5}'$v$,
	$v$'{"id": 1, "name": {"a": 1}, "amount": [1], "tags": {"a": 1}, "owner_id": [], "closed_at": {}, "stage_id": true}'$v$,
	$v$jsonb_build_object('id', 1, 'name', repeat('x', 1000000), 'tags', (SELECT jsonb_agg('vip'::text) FROM generate_series(1, 100000)), 'custom', (repeat('{"utm":', 1000) || '{"source": "x"}' || repeat('}', 1000))::jsonb)$v$,
	$v$jsonb_build_object('id', 1, 'custom', jsonb_build_object('utm', (repeat('[', 2000) || repeat(']', 2000))::jsonb, 'industry', jsonb_build_object('a', 1)))$v$
	]) AS e;
INSERT INTO vals (typ, expr)
SELECT 'uuid', e FROM unnest(ARRAY[$v$NULL$v$, $v$'00000000-0000-0000-0000-000000000000'$v$,
	$v$'ffffffff-ffff-ffff-ffff-ffffffffffff'$v$]) AS e;
INSERT INTO vals (typ, expr)
SELECT 'name', e FROM unnest(ARRAY[$v$NULL$v$, $v$''$v$, $v$'x'$v$, $v$'postgres'$v$, $v$'pg_signal_backend'$v$,
	$v$'public'$v$, $v$'id'$v$, $v$'ctid'$v$, $v$'tableoid'$v$, $v$'custom'$v$, $v$'tags'$v$, $v$'won'$v$,
	$v$'name'$v$, $v$repeat('x', 100)$v$, $v$'"; DROP TABLE deal; --'$v$]) AS e;
INSERT INTO vals (typ, expr)
SELECT 'regclass', e FROM unnest(ARRAY[$v$NULL$v$, $v$0$v$, $v$4294967295$v$, $v$'pg_class'$v$,
	$v$'automation.jobs'$v$, $v$'automation.workflows'$v$, $v$'hostile.scratch'$v$, $v$'hostile.scratch_view'$v$,
	$v$'hostile.deal'$v$, $v$'hostile.task'$v$, $v$'hostile.deal_pkey'$v$, $v$'pg_toast.pg_toast_2619'$v$]) AS e;
INSERT INTO vals (typ, expr)
SELECT 'boolean', e FROM unnest(ARRAY[$v$NULL$v$, $v$true$v$, $v$false$v$]) AS e;
INSERT INTO vals (typ, expr)
SELECT t, e FROM unnest(ARRAY['bigint', 'integer', 'smallint']::regtype[]) t,
	unnest(ARRAY[$v$NULL$v$, $v$0$v$, $v$1$v$, $v$-1$v$, $v$32767$v$, $v$-32768$v$]) AS e;
INSERT INTO vals (typ, expr)
SELECT t, e FROM unnest(ARRAY['bigint', 'integer']::regtype[]) t,
	unnest(ARRAY[$v$2147483647$v$, $v$-2147483648$v$]) AS e;
INSERT INTO vals (typ, expr)
SELECT 'bigint', e FROM unnest(ARRAY[$v$9223372036854775807$v$, $v$-9223372036854775808$v$]) AS e;
INSERT INTO vals (typ, expr)
SELECT 'oid', e FROM unnest(ARRAY[$v$NULL$v$, $v$0$v$, $v$4294967295$v$, $v$'text'::regtype$v$,
	$v$'int4'::regtype$v$, $v$'jsonb'::regtype$v$, $v$'text[]'::regtype$v$, $v$'record'::regtype$v$,
	$v$'anyelement'::regtype$v$, $v$'automation._field'::regtype$v$, $v$'pg_class'::regclass$v$]) AS e;
INSERT INTO vals (typ, expr)
SELECT 'interval', e FROM unnest(ARRAY[$v$NULL$v$, $v$'0'$v$, $v$'-1 day'$v$, $v$'1 microsecond'$v$,
	$v$'178000000 years'$v$, $v$'-178000000 years'$v$, $v$'2147483647 days'$v$]) AS e;
INSERT INTO vals (typ, expr)
SELECT 'timestamptz', e FROM unnest(ARRAY[$v$NULL$v$, $v$'infinity'$v$, $v$'-infinity'$v$,
	$v$'4714-11-24 00:00:00+00 BC'$v$, $v$'294276-12-31 23:59:59+00'$v$]) AS e;
INSERT INTO vals (typ, expr)
SELECT 'text[]', e FROM unnest(ARRAY[$v$NULL$v$, $v$'{}'$v$, $v$'{NULL}'$v$, $v$'{"",""}'$v$,
	$v$'{{a,b},{c,d}}'$v$, $v$array_fill('x'::text, ARRAY[100000])$v$]) AS e;
INSERT INTO vals (typ, expr)
SELECT 'automation._field', e FROM unnest(ARRAY[$v$NULL$v$, $v$'(,,,,,,,,)'$v$,
	$v$automation._resolve_field('deal', 'custom.utm.source', 'f')$v$,
	$v$automation._resolve_field('deal', 'tags', 'f')$v$,
	$v$ROW('pg_class'::regclass, 'relname', 1, 19, -1, 19, 'S', 0, NULL)$v$,
	$v$ROW('hostile.deal'::regclass, 'name', 2, 0, -1, 0, 'S', 0, NULL)$v$,
	$v$ROW('hostile.deal'::regclass, 'name', 2, 4294967295, 999999, 4294967295, 'Z', 4294967295, '{a,b}')$v$,
	$v$ROW('hostile.deal'::regclass, 'amount', -1, 'numeric'::regtype, -1, 'numeric'::regtype, 'N', 0, '{a}')$v$,
	$v$ROW('hostile.deal'::regclass, 'tags', 12, 'text[]'::regtype, -1, 'text[]'::regtype, 'A', 'record'::regtype, NULL)$v$,
	$v$ROW(0, '', 0, 'record'::regtype, -1, 'anyelement'::regtype, 'P', 0, '{}')$v$]) AS e;
INSERT INTO vals (typ, expr)
SELECT 'automation.rule_conditions', format($f$jsonb_populate_record((SELECT c FROM automation.rule_conditions c ORDER BY id LIMIT 1), %L)$f$, e)
  FROM unnest(ARRAY[
	'{"field_path": "amount", "operator": "GT", "value_int": null}',
	'{"field_path": "amount", "operator": "bogus", "value_int": 1}',
	'{"field_path": null, "operator": null}',
	'{"field_path": "custom.a", "operator": "IN", "value_array": null}',
	'{"field_path": "tags", "operator": "CONTAINS", "value_string": null, "value_int": 1, "value_bool": true}',
	'{"field_path": "closed_on", "operator": "LT", "value_datetime": "infinity"}',
	'{"field_path": "won", "operator": "CHANGED_FROM", "value_bool": null, "value_array": ["a"]}']) AS e;

-- defs: the plausible value of an argument, by name and type (name NULL: by
-- type alone), used for the arguments not under test.
CREATE TABLE defs (argname text, typ regtype, expr text);
INSERT INTO defs VALUES
	('entity', 'text', $$'deal'$$), ('entity_type', 'text', $$'deal'$$),
	('condition_entity', 'text', $$'deal'$$), ('path', 'text', $$'custom.utm.source'$$),
	('id', 'text', $$(SELECT id FROM automation.workflows ORDER BY name LIMIT 1)$$),
	('wid', 'text', $$(SELECT id FROM automation.workflows ORDER BY name LIMIT 1)$$),
	('workflow_id', 'text', $$(SELECT id FROM automation.workflows ORDER BY name LIMIT 1)$$),
	('id', 'uuid', $$(SELECT id FROM automation.rules ORDER BY name LIMIT 1)$$),
	('rid', 'uuid', $$(SELECT id FROM automation.rules ORDER BY name LIMIT 1)$$),
	('rule_id', 'uuid', $$(SELECT id FROM automation.rules ORDER BY name LIMIT 1)$$),
	('kind', 'text', $$'workflow'$$), ('action', 'text', $$'webhook'$$), ('op', 'text', $$'equals'$$),
	('val', 'text', $$'won'$$), ('key', 'text', $$'name'$$), ('field', 'text', $$'name'$$),
	('state', 'text', $$'22023'$$), ('msg', 'text', $$'m'$$), ('message', 'text', $$'m'$$),
	('template', 'text', $$'{{deal.name}}'$$), ('s', 'text', $$'{{deal.name}}'$$),
	('url', 'text', $$'https://example.com/h'$$), ('trigger_type', 'text', $$'DEAL_UPDATED'$$),
	('label', 'text', $$'l'$$), ('what', 'text', $$'rule'$$), ('priv', 'text', $$'UPDATE'$$),
	('format', 'text', $$'slack'$$), ('name', 'text', $$'slack'$$), ('v', 'text', $$'won'$$),
	('detail', 'text', 'NULL'), ('hint', 'text', 'NULL'), ('tenant_id', 'text', 'NULL'),
	(NULL, 'text', $$'x'$$),
	('creator', 'name', 'current_user'), ('col', 'name', $$'stage_id'$$),
	('key_column', 'name', 'NULL'), ('tenant_column', 'name', 'NULL'), (NULL, 'name', 'current_user'),
	(NULL, 'regclass', $$'hostile.deal'$$),
	('new_row', 'jsonb', $${"id": 1, "name": "a", "status": "won", "amount": 5000, "tags": ["vip"], "custom": {"industry": "tech", "utm": {"source": "x"}}}$$),
	('old_row', 'jsonb', 'NULL'), ('config', 'jsonb', $${"url": "https://example.com/h"}$$),
	('obj', 'jsonb', $${"a": "1"}$$), ('v', 'jsonb', $$'"x"'$$), ('conds', 'jsonb', $$'[]'$$),
	('acts', 'jsonb', $$'[]'$$), (NULL, 'jsonb', $$'{}'$$),
	(NULL, 'boolean', 'false'), ('minv', 'bigint', '0'), ('maxv', 'bigint', '10'),
	(NULL, 'bigint', '1'), ('typmod', 'integer', '-1'), (NULL, 'integer', '1'),
	(NULL, 'smallint', '1'), (NULL, 'oid', $$'text'::regtype$$), (NULL, 'interval', $$'1 day'$$),
	(NULL, 'timestamptz', $$'2026-01-01T00:00:00Z'$$), (NULL, 'text[]', $$'{a}'$$),
	(NULL, 'automation._field', $$automation._resolve_field('deal', 'name', 'f')$$);
UPDATE defs SET expr = quote_literal(expr) WHERE expr LIKE '{%';

-------------------------------------------------------------------------------
-- The sweep.
CREATE TABLE results (fn regprocedure, call text, sqlstate text, message text, ms numeric);

-- try: run the statements in a subtransaction that is always rolled back;
-- record 'ok' or the SQLSTATE of the error.
CREATE FUNCTION try(fn regprocedure, stmts text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	s text;
	t0 timestamptz := clock_timestamp();
BEGIN
	RAISE LOG 'hostile: %', left(array_to_string(stmts, '; '), 2000);
	BEGIN
		FOREACH s IN ARRAY stmts LOOP
			EXECUTE s;
		END LOOP;
		RAISE EXCEPTION 'rollback' USING ERRCODE = 'ZZ999';
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	END;
	INSERT INTO hostile.results
	VALUES (fn, left(array_to_string(stmts, '; '), 300),
			CASE st WHEN 'ZZ999' THEN 'ok' ELSE st END, left(msg, 200),
			extract(epoch FROM clock_timestamp() - t0) * 1000);
END
$$;

-- call: check the arguments alone (a failure there is the harness's), then
-- the call.
CREATE FUNCTION call(fn regprocedure, args text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	types regtype[] := (SELECT proargtypes::regtype[] FROM pg_proc WHERE oid = fn);
	typed text[] := '{}';
	st text;
	msg text;
BEGIN
	FOR i IN 1 .. coalesce(array_length(args, 1), 0) LOOP
		typed := typed || format('(%s)::%s', args[i], format_type(types[i - 1], NULL));
	END LOOP;
	IF array_length(typed, 1) > 0 THEN
		BEGIN
			EXECUTE 'SELECT ' || array_to_string(typed, ', ');
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
			INSERT INTO hostile.results VALUES (fn, left(array_to_string(typed, ', '), 300), 'harness ' || st, msg, NULL);
			RETURN;
		END;
	END IF;
	PERFORM hostile.try(fn, ARRAY[format(
		CASE (SELECT prokind FROM pg_proc WHERE oid = fn) WHEN 'p' THEN 'CALL %s.%I(%s)' ELSE 'SELECT * FROM %s.%I(%s)' END,
		(SELECT nspname FROM pg_namespace n JOIN pg_proc p ON p.pronamespace = n.oid WHERE p.oid = fn),
		(SELECT proname FROM pg_proc WHERE oid = fn),
		array_to_string(typed, ', '))]);
END
$$;

-- def_for / vals_for: the plausible value and the hostile values of an
-- argument.  A composite type without listed values gets NULL, an all-NULL
-- row and a real row of its table.
CREATE FUNCTION def_for(argname text, typ regtype) RETURNS text
LANGUAGE sql AS $$
	SELECT coalesce(
		(SELECT expr FROM hostile.defs d WHERE d.argname = $1 AND d.typ = $2),
		(SELECT expr FROM hostile.defs d WHERE d.argname IS NULL AND d.typ = $2),
		CASE WHEN (SELECT typrelid FROM pg_type WHERE oid = $2) <> 0
			 AND (SELECT relkind FROM pg_class WHERE oid = (SELECT typrelid FROM pg_type WHERE oid = $2)) = 'r'
			 THEN format('(SELECT t FROM %s t LIMIT 1)', $2) END,
		'NULL')
$$;
CREATE FUNCTION vals_for(typ regtype) RETURNS SETOF text
LANGUAGE sql AS $$
	SELECT expr FROM hostile.vals v WHERE v.typ = $1
	UNION ALL
	SELECT e FROM unnest(ARRAY['NULL',
			format('jsonb_populate_record(NULL::%s, %L)', $1, '{}'),
			format('(SELECT t FROM %s t LIMIT 1)', $1)]) e
	 WHERE NOT EXISTS (SELECT FROM hostile.vals v WHERE v.typ = $1)
	   AND (SELECT typrelid FROM pg_type WHERE oid = $1) <> 0
	   AND (SELECT relkind FROM pg_class WHERE oid = (SELECT typrelid FROM pg_type WHERE oid = $1)) = 'r'
	UNION ALL
	SELECT 'NULL'
	 WHERE NOT EXISTS (SELECT FROM hostile.vals v WHERE v.typ = $1)
	   AND coalesce((SELECT relkind FROM pg_class WHERE oid = (SELECT typrelid FROM pg_type WHERE oid = $1)), '-') <> 'r'
$$;

-- Every non-trigger function and procedure: all arguments NULL, all plausible, then each
-- argument in turn takes each hostile value of its type while the others
-- stay plausible.
-- (Notices the functions raise, say of a truncated identifier, are not
-- the point here.)
SET client_min_messages = warning;
DO $$
DECLARE
	f record;
	plausible text[];
	v text;
	args text[];
BEGIN
	FOR f IN SELECT p.oid::regprocedure AS fn, p.pronargs AS n,
					coalesce(p.proargnames, '{}') AS names, p.proargmodes AS modes,
					p.proargtypes::regtype[] AS types
			   FROM pg_proc p
			  WHERE p.pronamespace = 'automation'::regnamespace
				AND p.prorettype <> 'trigger'::regtype AND p.prokind IN ('f', 'p')
			  ORDER BY p.proname, p.oid::regprocedure::text
	LOOP
		plausible := '{}';
		FOR i IN 0 .. f.n - 1 LOOP
			-- proargnames lists OUT arguments too; input ones come first here
			-- (no function of automation puts an OUT argument before an IN one).
			plausible := plausible || hostile.def_for(f.names[i + 1], f.types[i]);
		END LOOP;
		IF f.n = 0 THEN
			PERFORM hostile.call(f.fn, '{}');
			CONTINUE;
		END IF;
		PERFORM hostile.call(f.fn, array_fill('NULL'::text, ARRAY[f.n]));
		PERFORM hostile.call(f.fn, plausible);
		FOR i IN 1 .. f.n LOOP
			FOR v IN SELECT hostile.vals_for(f.types[i - 1]) LOOP
				args := plausible;
				args[i] := v;
				PERFORM hostile.call(f.fn, args);
			END LOOP;
		END LOOP;
	END LOOP;
END
$$;

-- Trigger functions: attached by hand with every timing, level and event,
-- to an unwatched table, the watched one and a view, and fired.
DO $$
DECLARE
	f record;
	tbl text;
	spec text;
	dml text;
BEGIN
	FOR f IN SELECT p.oid::regprocedure AS fn FROM pg_proc p
			  WHERE p.pronamespace = 'automation'::regnamespace
				AND p.prorettype = 'trigger'::regtype
			  ORDER BY p.proname
	LOOP
		FOREACH tbl IN ARRAY ARRAY['hostile.scratch', 'hostile.deal'] LOOP
			FOREACH spec IN ARRAY ARRAY[
				'BEFORE INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW',
				'AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW',
				'BEFORE INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT',
				'AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT',
				'AFTER TRUNCATE ON %s FOR EACH STATEMENT',
				'AFTER INSERT ON %s REFERENCING NEW TABLE AS n FOR EACH ROW',
				'AFTER UPDATE ON %s REFERENCING OLD TABLE AS o NEW TABLE AS n FOR EACH STATEMENT'] LOOP
				FOREACH dml IN ARRAY ARRAY[
					format('INSERT INTO %s (id, name) VALUES (1, %L), (2, NULL)', tbl, repeat('x', 100000)),
					format('INSERT INTO %s (id, name) VALUES (1, ''a''); UPDATE %s SET name = ''b''; DELETE FROM %s', tbl, tbl, tbl),
					format('INSERT INTO %s (id, name) VALUES (1, ''a''); TRUNCATE %s', tbl, tbl)] LOOP
					PERFORM hostile.try(f.fn, ARRAY[
						format('CREATE TRIGGER hostile_t ' || spec || ' EXECUTE FUNCTION automation.%I(%L, %L)',
							   tbl, (SELECT proname FROM pg_proc WHERE oid = f.fn), 'x', repeat('y', 10000))]
						|| string_to_array(dml, '; '));
				END LOOP;
			END LOOP;
		END LOOP;
		PERFORM hostile.try(f.fn, ARRAY[
			format('CREATE TRIGGER hostile_t INSTEAD OF INSERT OR UPDATE OR DELETE ON hostile.scratch_view FOR EACH ROW EXECUTE FUNCTION automation.%I()',
				   (SELECT proname FROM pg_proc WHERE oid = f.fn)),
			'INSERT INTO hostile.scratch_view VALUES (1, ''a'')',
			'UPDATE hostile.scratch_view SET name = ''b''',
			'DELETE FROM hostile.scratch_view']);
	END LOOP;
END
$$;


-- The engine: the application's writes carrying hostile values fire the
-- fixtures' workflows and rules (and one whose webhook body is nested 2000
-- deep); each write in its own rolled-back subtransaction, recorded under
-- _row_trigger.  An application write may fail only with an error of its
-- own (none here), never with an internal one.
DO $$
DECLARE
	w text;
	big text := $b$jsonb_build_object('name', 'deep', 'condition_entity', 'deal', 'condition_field', 'name', 'condition_operator', 'changed', 'condition_value', '', 'action_type', 'webhook', 'action_config', jsonb_build_object('url', 'https://e.com/{{deal.name}}/{{deal.custom.utm.source}}', 'body', (repeat('[', 2000) || '"{{deal.name}} {{old.tags}}"' || repeat(']', 2000))::jsonb))$b$;
BEGIN
	FOREACH w IN ARRAY ARRAY[
		$q$INSERT INTO hostile.deal (id) VALUES (1)$q$,
		$q$INSERT INTO hostile.deal (id, name, status, code, amount, qty, closed_on, closed_at, won, owner_id, stage_id, tags, custom, tenant)
		   VALUES (1, repeat('é', 1000000), 'won', 'abc', 9999999999.99, 2, 'infinity', '-infinity', true,
				   '00000000-0000-0000-0000-000000000000', 2147483647, array_fill('vip'::text, ARRAY[100000]),
				   jsonb_build_object('industry', 'tech', 'utm', jsonb_build_object('source', repeat('x', 1000000))), NULL)$q$,
		$q$INSERT INTO hostile.deal (id, name, tags, custom) VALUES (1, E'{{deal.name}}\t"\\', '{NULL,VIP}',
				   (repeat('{"utm":', 2000) || '1' || repeat('}', 2000))::jsonb)$q$,
		$q$INSERT INTO hostile.deal (id, name, custom) VALUES (1, 'a', '{"utm": {"source": ["x", {"a": null}]}, "industry": 1e400}')$q$,
		$q$INSERT INTO hostile.deal (id, name, custom) VALUES (1, 'a', '"x"'), (2, 'b', '[1]'), (3, 'c', 'null')$q$,
		$q$INSERT INTO hostile.deal (id, name, tenant) VALUES (1, 'a', repeat('t', 1000000)), (2, 'b', ''), (3, 'c', E'\x01')$q$,
		$q$INSERT INTO hostile.deal (id, name, status, won, tags) SELECT i, 'a' || i, 'open', false, '{}' FROM generate_series(1, 2000) i;
		   UPDATE hostile.deal SET status = 'won', won = true, amount = 5000, tags = '{vip}', closed_at = now(), qty = 1, code = 'ABC',
				  owner_id = '00000000-0000-0000-0000-000000000000', custom = '{"industry": "TECH", "utm": {"source": "X"}}';
		   DELETE FROM hostile.deal WHERE id % 2 = 0;
		   UPDATE hostile.deal SET status = 'lost'; DELETE FROM hostile.deal$q$,
		$q$SELECT automation.create_workflow($q$ || big || $q$);
		   INSERT INTO hostile.deal (id, name, tags) VALUES (1, repeat('x', 100000), '{a,b}');
		   UPDATE hostile.deal SET name = repeat('é', 100000);
		   SELECT count(*) FROM automation.explain('deal', '{"id": 1, "name": "b"}', '{"id": 1, "name": "a"}')$q$,
		$q$SET LOCAL automation.tenant = 'a-tenant';
		   INSERT INTO hostile.deal (id, name, status, tenant) VALUES (1, 'a', 'won', 'a-tenant');
		   SELECT count(*) FROM automation.explain('deal', '{"id": 1, "tenant": "a-tenant"}')$q$,
		$q$COPY hostile.deal (id, name, status) FROM PROGRAM 'seq 1 3 | sed "s/$/\tx\twon/"'$q$,
		$q$INSERT INTO hostile.deal (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET name = 'b';
		   INSERT INTO hostile.deal (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET name = excluded.name || 'c';
		   MERGE INTO hostile.deal d USING (VALUES (1, 'won'), (2, 'lost')) v(id, st) ON d.id = v.id
		   WHEN MATCHED THEN UPDATE SET status = v.st WHEN NOT MATCHED THEN INSERT (id, status) VALUES (v.id, v.st)$q$,
		$q$ALTER TABLE hostile.deal DROP COLUMN tags; INSERT INTO hostile.deal (id, name, status) VALUES (1, 'a', 'won')$q$,
		$q$ALTER TABLE hostile.deal ALTER COLUMN amount TYPE text; INSERT INTO hostile.deal (id, amount, status) VALUES (1, 'lots', 'won')$q$,
		$q$ALTER TABLE hostile.deal RENAME COLUMN status TO state; INSERT INTO hostile.deal (id, state) VALUES (1, 'won')$q$]
	LOOP
		PERFORM hostile.try('automation._row_trigger()'::regprocedure, regexp_split_to_array(w, ';\s*\n\s*'));
	END LOOP;
END
$$;

RESET client_min_messages;

-------------------------------------------------------------------------------
-- Results.  The sweep reached every function of the schema, made many calls,
-- and a good share of them succeeded (the plausible values are plausible).
SELECT count(DISTINCT fn) > 40 AS functions_checked, count(*) > 5000 AS calls_made,
	   count(DISTINCT fn) FILTER (WHERE sqlstate = 'ok') > 30 AS functions_with_a_successful_call
  FROM results;
-- Functions of the schema the sweep did not call (none).
SELECT p.oid::regprocedure AS not_called FROM pg_proc p
 WHERE p.pronamespace = 'automation'::regnamespace
   AND NOT EXISTS (SELECT FROM results r WHERE r.fn = p.oid)
 ORDER BY p.oid::regprocedure::text;
-- Arguments the harness could not even build (none).
SELECT fn, call, sqlstate, message FROM results WHERE sqlstate LIKE 'harness%' ORDER BY fn::text, 2;
-- Internal errors (none): class XX is a bug, whatever the input.
SELECT count(*) AS internal_errors FROM results WHERE sqlstate LIKE 'XX%';
SELECT fn, call, sqlstate, message FROM results WHERE sqlstate LIKE 'XX%' ORDER BY fn::text, 2;
-- The public API answers only with a documented SQLSTATE (none other):
-- 22023 invalid_parameter_value, 23505 unique_violation, 42501
-- insufficient_privilege, P0002 no_data_found, 2BP01
-- dependent_objects_still_exist, 55000 object_not_in_prerequisite_state, and
-- 55P03 lock_not_available (this test's lock_timeout).
SELECT fn, sqlstate, count(*) AS calls, min(call) AS example, min(message) AS message
  FROM results
 WHERE fn::text NOT LIKE 'automation.\_%' AND sqlstate NOT LIKE 'harness%'
   AND sqlstate NOT IN ('ok', '22023', '23505', '42501', 'P0002', '2BP01', '55000', '55P03')
 GROUP BY 1, 2 ORDER BY fn::text, 2;
-- Internal helpers (automation._*) may raise PostgreSQL's own errors for
-- input the API never passes them, but never an error without a SQLSTATE of
-- their own (P0001, a bare RAISE) or an assertion (P0004).
SELECT fn, sqlstate, count(*) AS calls, min(call) AS example, min(message) AS message
  FROM results
 WHERE fn::text LIKE 'automation.\_%' AND sqlstate IN ('P0001', 'P0004')
 GROUP BY 1, 2 ORDER BY fn::text, 2;

-- The backend is still healthy and the fixtures are intact (every call was
-- rolled back).
SELECT (SELECT count(*) FROM automation.workflows) AS workflows,
	   (SELECT count(*) FROM automation.rules) AS rules,
	   (SELECT count(*) FROM automation.jobs) AS jobs,
	   (SELECT count(*) FROM deal) AS deals;

SET client_min_messages = warning;
DROP SCHEMA hostile CASCADE;
DROP EXTENSION automation CASCADE;
RESET client_min_messages;
