-- payload_columns: a definition chooses which columns of its row a job's
-- payload carries in new / old (issue 11, item 13, second half).
-- Absent or null: every column, as before.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA pc;
SET search_path = pc, public;

\set try_style detail
\i sql/include/helpers.sql

CREATE TABLE docs (id int PRIMARY KEY, stage text, secret text, body text, meta json, score int);
SELECT automation.watch('doc', 'pc.docs') ->> 'entity' AS watched;

-- 1. A workflow with payload_columns: stored, shown, and only those columns
-- are serialised; merge tokens still read any column.
SELECT automation.create_workflow('{"name": "published", "condition_entity": "doc",
	"condition_field": "stage", "condition_operator": "equals", "condition_value": "published",
	"action_type": "webhook", "payload_columns": ["id", "stage", "body"],
	"action_config": {"url": "https://example.com/d/{{doc.secret}}"}}') -> 'payload_columns' AS created;
SELECT payload_columns FROM automation.workflows WHERE name = 'published';
SELECT automation.get_workflow(id) -> 'payload_columns' AS shown FROM automation.workflows WHERE name = 'published';
INSERT INTO docs VALUES (1, 'published', 's3cret', 'hello', '{"a": 1}', 7);
UPDATE docs SET stage = 'published', body = 'hello again' WHERE id = 1;
SELECT payload -> 'event' ->> 'operation' AS op, payload -> 'new' AS new, payload -> 'old' AS old,
	   payload -> 'config' ->> 'url' AS url
  FROM automation.jobs WHERE entity = 'doc' ORDER BY id;
DELETE FROM automation.jobs;

-- 2. null (or an update to null) sends every column again; [] sends none.
SELECT automation.update_workflow(id, '{"payload_columns": null}') -> 'payload_columns' AS all_columns
  FROM automation.workflows WHERE name = 'published';
UPDATE docs SET stage = 'published' WHERE id = 1;
SELECT payload -> 'new' AS new FROM automation.jobs WHERE entity = 'doc' ORDER BY id;
DELETE FROM automation.jobs;
SELECT automation.update_workflow(id, '{"payload_columns": []}') -> 'payload_columns' AS no_columns
  FROM automation.workflows WHERE name = 'published';
UPDATE docs SET stage = 'published' WHERE id = 1;
SELECT payload -> 'new' AS new, payload -> 'old' AS old FROM automation.jobs WHERE entity = 'doc' ORDER BY id;
DELETE FROM automation.jobs;

-- 3. Validation (22023, naming the field and the column): not a column
-- (an entity prefix, a json key, a system column, a dropped one), twice,
-- more than 100, not an array of strings; the table trigger checks direct
-- writes too.
SELECT try($$SELECT automation.update_workflow(id, '{"payload_columns": ["id", "nope"]}') FROM automation.workflows WHERE name = 'published'$$);
SELECT try($$SELECT automation.update_workflow(id, '{"payload_columns": ["doc.id"]}') FROM automation.workflows WHERE name = 'published'$$);
SELECT try($$SELECT automation.update_workflow(id, '{"payload_columns": ["ctid"]}') FROM automation.workflows WHERE name = 'published'$$);
SELECT try($$SELECT automation.update_workflow(id, '{"payload_columns": ["id", "stage", "id"]}') FROM automation.workflows WHERE name = 'published'$$);
SELECT try(format($$SELECT automation.update_workflow(id, '{"payload_columns": %s}') FROM automation.workflows WHERE name = 'published'$$,
	(SELECT jsonb_agg('id'::text) FROM generate_series(1, 101))));
SELECT try($$SELECT automation.update_workflow(id, '{"payload_columns": "id"}') FROM automation.workflows WHERE name = 'published'$$);
SELECT try($$SELECT automation.update_workflow(id, '{"payload_columns": ["id", null]}') FROM automation.workflows WHERE name = 'published'$$);
SELECT try($$SELECT automation.update_workflow(id, '{"payload_columns": ["id", 2]}') FROM automation.workflows WHERE name = 'published'$$);
SELECT try($$UPDATE automation.workflows SET payload_columns = '{id,NULL}' WHERE name = 'published'$$);
SELECT try($$UPDATE automation.workflows SET payload_columns = '{Stage}' WHERE name = 'published'$$);
SELECT try($$SELECT automation.create_workflow('{"name": "bad", "condition_entity": "doc",
	"condition_field": "stage", "condition_operator": "equals", "condition_value": "x",
	"action_type": "webhook", "payload_columns": ["score", "secrets"],
	"action_config": {"url": "https://example.com/x"}}')$$);
SELECT payload_columns FROM automation.workflows WHERE name = 'published';

-- 4. Rules: nested JSON and form keys payload_columns[i] (in index order)
-- or payload_columns[] once; get_rule shows the list; update_rule changes it.
SELECT automation.create_rule('{"name": "scored", "entity_type": "doc", "trigger_type": "DOC_UPDATED",
	"payload_columns": ["score", "id"],
	"conditions": [{"field_path": "score", "operator": "GT", "value_int": 10}],
	"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "{{doc.secret}} {{doc.body}}"}]}') -> 'payload_columns' AS rule_columns;
SELECT automation.create_rule('{"name": "form", "entity_type": "doc", "trigger_type": "DOC_UPDATED",
	"payload_columns[10]": "stage", "payload_columns[2]": "id",
	"conditions[0][field_path]": "score", "conditions[0][operator]": "LT", "conditions[0][value_int]": "0",
	"actions[0][action_type]": "NOTIFY", "actions[0][recipient]": "ops", "actions[0][message]": "low"}') -> 'payload_columns' AS form_columns;
SELECT automation.get_rule(id) -> 'payload_columns' AS shown FROM automation.rules WHERE name = 'form';
SELECT try($$SELECT automation.create_rule('{"name": "form2", "entity_type": "doc", "trigger_type": "DOC_UPDATED",
	"payload_columns": ["id"], "payload_columns[0]": "stage",
	"conditions[0][field_path]": "score", "conditions[0][operator]": "EXISTS",
	"actions[0][action_type]": "NOTIFY", "actions[0][recipient]": "ops", "actions[0][message]": "x"}')$$);
SELECT try($$SELECT automation.create_rule('{"name": "form3", "entity_type": "doc", "trigger_type": "DOC_UPDATED",
	"payload_columns[0][x]": "stage",
	"conditions[0][field_path]": "score", "conditions[0][operator]": "EXISTS",
	"actions[0][action_type]": "NOTIFY", "actions[0][recipient]": "ops", "actions[0][message]": "x"}')$$);
SELECT try($$SELECT automation.create_rule('{"name": "form4", "entity_type": "doc", "trigger_type": "DOC_UPDATED",
	"payload_columns[]": "nope",
	"conditions[0][field_path]": "score", "conditions[0][operator]": "EXISTS",
	"actions[0][action_type]": "NOTIFY", "actions[0][recipient]": "ops", "actions[0][message]": "x"}')$$);
SELECT try($$SELECT automation.update_rule(id, '{"payload_columns": ["score", "score"]}') FROM automation.rules WHERE name = 'scored'$$);
UPDATE docs SET score = 11 WHERE id = 1;
SELECT source, payload -> 'new' AS new, payload -> 'old' AS old, payload -> 'config' ->> 'message' AS message
  FROM automation.jobs WHERE entity = 'doc' ORDER BY id;
DELETE FROM automation.jobs;
SELECT automation.update_rule(id, '{"payload_columns": ["stage"]}') -> 'payload_columns' AS updated
  FROM automation.rules WHERE name = 'scored';
UPDATE docs SET score = 12 WHERE id = 1;
SELECT source, payload -> 'new' AS new FROM automation.jobs WHERE entity = 'doc' ORDER BY id;
DELETE FROM automation.jobs;

-- 5. The size cap and the json fallback apply to the chosen columns only:
-- an unchosen large column is neither sent nor named in omitted_columns,
-- an unchosen json value jsonb cannot hold does not null the others.
SELECT automation.update_workflow(id, '{"payload_columns": ["id", "body", "meta"]}') -> 'payload_columns' AS columns
  FROM automation.workflows WHERE name = 'published';
SET automation.payload_column_limit = '1kB';
UPDATE docs SET stage = 'published', secret = repeat('s', 5000), body = 'b', meta = '{"m": 1}' WHERE id = 1;
UPDATE docs SET stage = 'published', secret = 'x', body = repeat('b', 5000) WHERE id = 1;
RESET automation.payload_column_limit;
SELECT payload -> 'event' -> 'omitted_columns' AS omitted, payload -> 'new' ->> 'id' AS id,
	   length(payload -> 'new' ->> 'body') AS body, payload -> 'new' -> 'meta' AS meta,
	   payload -> 'new' ? 'secret' AS has_secret
  FROM automation.jobs WHERE entity = 'doc' AND source = 'workflow' ORDER BY id;
DELETE FROM automation.jobs;
UPDATE docs SET stage = 'published', meta = '{"bad": "\u0000"}' WHERE id = 1;
SELECT automation.update_workflow(id, '{"payload_columns": ["id", "body"]}') -> 'payload_columns' AS columns
  FROM automation.workflows WHERE name = 'published';
UPDATE docs SET stage = 'published', body = 'kept' WHERE id = 1;
SELECT (payload -> 'new') - 'body'::text AS new, length(payload -> 'new' ->> 'body') AS body FROM automation.jobs WHERE entity = 'doc' AND source = 'workflow' ORDER BY id;
DELETE FROM automation.jobs;

-- 6. A chosen column dropped later: the definition is skipped (LOG, alert,
-- explain), the write goes on; the other definitions still fire.
ALTER TABLE docs DROP COLUMN body;
UPDATE docs SET stage = 'published', score = 13 WHERE id = 1;
SELECT source, payload -> 'new' AS new FROM automation.jobs WHERE entity = 'doc' ORDER BY id;
SELECT kind, message FROM automation.alerts WHERE kind = 'definition_skipped' ORDER BY id;
SELECT source, name, fires, reason FROM automation.explain('doc', '{"id": 1, "stage": "published"}')
 WHERE name = 'published';

-- 7. A rule or workflow without payload_columns is unchanged: every column
-- (here also with a dropped column and the json fallback: meta still holds
-- a value jsonb cannot, so it is sent as null).
SELECT automation.create_workflow('{"name": "every", "condition_entity": "doc",
	"condition_field": "stage", "condition_operator": "equals", "condition_value": "all",
	"action_type": "webhook", "action_config": {"url": "https://example.com/a"}}') -> 'payload_columns' AS columns;
DELETE FROM automation.jobs;
UPDATE docs SET stage = 'all' WHERE id = 1;
SELECT source, payload -> 'new' AS new FROM automation.jobs WHERE entity = 'doc' ORDER BY id;

-- 8. A partition fires as its watched parent; the names are resolved
-- against the partition, whose columns may sit at other positions.
CREATE TABLE events (id int, kind text, note text, extra text, PRIMARY KEY (kind, id)) PARTITION BY LIST (kind);
CREATE TABLE events_a (junk int, extra text, note text, kind text NOT NULL, id int NOT NULL);
ALTER TABLE events_a DROP COLUMN junk;
ALTER TABLE events ATTACH PARTITION events_a FOR VALUES IN ('a');
SELECT automation.watch('happening', 'pc.events', key_column => 'id', tenant_column => 'kind') ->> 'entity' AS watched;
SELECT automation.create_rule('{"name": "happening", "entity_type": "happening", "trigger_type": "HAPPENING_CREATED",
	"payload_columns": ["note", "id"],
	"conditions": [{"field_path": "kind", "operator": "EQUALS", "value_string": "a"}],
	"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "{{happening.extra}}"}]}') -> 'payload_columns' AS columns;
INSERT INTO events VALUES (1, 'a', 'n1', 'x1');
SELECT payload -> 'new' AS new, payload -> 'config' ->> 'message' AS message
  FROM automation.jobs WHERE entity = 'happening' ORDER BY id;

DROP SCHEMA pc CASCADE;
