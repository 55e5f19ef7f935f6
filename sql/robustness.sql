-- robustness: SPEC section 10, "automation never breaks the application"
-- (issue 11).  Dropped tables, renamed and dropped key and tenant columns.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA robustness;
SET search_path = robustness, public;

CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; m text; h text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
	RETURN st || ': ' || m || coalesce(' (' || nullif(h, '') || ')', '');
END $$;

-- 1. A watched table dropped: explain says so (P0002), never a crash or a
-- syntax error; unwatch cleans up; the name can be watched again.
CREATE TABLE deals (id int PRIMARY KEY, stage text);
SELECT automation.watch('deal', 'robustness.deals') ->> 'entity' AS watched;
DO $$ BEGIN
	PERFORM automation.create_workflow('{"name": "won", "condition_entity": "deal",
		"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
		"action_type": "webhook", "action_config": {"url": "https://example.com/w"}}');
END $$;
DROP TABLE deals;
SELECT try($$SELECT * FROM automation.explain('deal', '{"id": 1}')$$);
SELECT try($$SELECT * FROM automation._explain('deal', '{"id": 1}', NULL)$$);
SELECT try($$SELECT automation.unwatch('deal', cascade => true)$$);
CREATE TABLE deals (id int PRIMARY KEY, stage text);
SELECT automation.watch('deal', 'robustness.deals') ->> 'entity' AS watched_again;

-- 2. Renaming the key or tenant column of a watched table is followed.
CREATE TABLE leads (org text NOT NULL, id int NOT NULL, stage text, PRIMARY KEY (org, id));
SELECT automation.watch('lead', 'robustness.leads', key_column => 'id', tenant_column => 'org') ->> 'entity' AS watched;
SET automation.tenant = 'acme';
SELECT automation.create_rule('{"name": "won", "entity_type": "lead", "trigger_type": "LEAD_UPDATED",
	"cooldown_hours": 1,
	"conditions": [{"field_path": "stage", "operator": "EQUALS", "value_string": "won"}],
	"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "{{lead.stage}}"}]}') ->> 'name' AS created;
RESET automation.tenant;
INSERT INTO leads VALUES ('acme', 1, 'new');
ALTER TABLE leads RENAME COLUMN id TO lead_id;
ALTER TABLE leads RENAME COLUMN org TO account;
SELECT key_column, tenant_column FROM automation.entities WHERE name = 'lead';
UPDATE leads SET stage = 'won';
UPDATE leads SET stage = 'lost';
UPDATE leads SET stage = 'won';   -- in cooldown: the record key is still read
SELECT record_key, tenant_id, outcome FROM automation.firings ORDER BY id;
SELECT record_key, tenant_id FROM automation.jobs ORDER BY id;

-- 3. Dropping them is refused while the table is watched.
SELECT try('ALTER TABLE robustness.leads DROP COLUMN account');
SELECT try('ALTER TABLE robustness.leads DROP COLUMN lead_id CASCADE');
SELECT try('ALTER TABLE robustness.leads DROP COLUMN stage');
SELECT attname FROM pg_attribute WHERE attrelid = 'robustness.leads'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
-- other tables' DDL is not affected
CREATE TABLE other (a int, b int);
ALTER TABLE other DROP COLUMN b;
ALTER TABLE other RENAME COLUMN a TO c;

-- 4. json values the table accepts but jsonb cannot hold never fail the
-- write: the payload carries the row with its json columns null, a merge
-- token on them renders empty.
CREATE TABLE notes (id int PRIMARY KEY, stage text, doc json, meta jsonb);
SELECT automation.watch('note', 'robustness.notes') ->> 'entity' AS watched;
DO $$ BEGIN
	PERFORM automation.create_workflow('{"name": "won", "condition_entity": "note",
		"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
		"action_type": "webhook", "action_config": {"url": "https://example.com/n",
		"body": {"a": "{{note.doc.a}}", "m": "{{note.meta.m}}"}}}');
END $$;
INSERT INTO notes VALUES (1, 'won', '{"a": "x\u0000y"}', '{"m": 1}');
INSERT INTO notes VALUES (2, 'won', '{"a": 1e1000000}', '{"m": 2}');
INSERT INTO notes VALUES (3, 'won', '{"a": "fine"}', '{"m": 3}');
UPDATE notes SET stage = 'won' WHERE id = 1;
SELECT record_key, payload -> 'new' -> 'doc' AS doc, payload -> 'new' -> 'meta' AS meta,
	   payload -> 'config' -> 'body' AS body
  FROM automation.jobs WHERE entity = 'note' ORDER BY id;

-- 5. A definition its table no longer fits is skipped, shown by explain()
-- with the reason, and reported once as an alert; writes go on.
CREATE TABLE opps (id int PRIMARY KEY, stage text, amount int);
SELECT automation.watch('opp', 'robustness.opps') ->> 'entity' AS watched;
DO $$ BEGIN
	PERFORM automation.create_workflow('{"name": "won opp", "condition_entity": "opp",
		"condition_field": "stage", "condition_operator": "equals", "condition_value": "won",
		"action_type": "webhook", "action_config": {"url": "https://example.com/o"}}');
	PERFORM automation.create_rule('{"name": "big opp", "entity_type": "opp", "trigger_type": "OPP_CREATED",
		"conditions": [{"field_path": "amount", "operator": "GT", "value_int": 10}],
		"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "big"}]}');
END $$;
ALTER TABLE opps ALTER COLUMN stage TYPE integer USING 0;
ALTER TABLE opps DROP COLUMN amount;
INSERT INTO opps VALUES (1, 0);
INSERT INTO opps VALUES (2, 0);
SELECT source, name, fires, reason FROM automation.explain('opp', '{"id": 3, "stage": 0}') ORDER BY source;
-- a reload (any definition change) does not report them again
SELECT automation.disable_workflow(id) ->> 'enabled' AS other_disabled FROM automation.workflows WHERE condition_entity = 'note';
INSERT INTO opps VALUES (3, 0);
SELECT kind, message, workflow_id IS NOT NULL AS workflow, rule_id IS NOT NULL AS rule
  FROM automation.alerts WHERE kind = 'definition_skipped' ORDER BY id;

-- 6. A payload is bounded: a column value over automation.payload_column_limit
-- (kB, default 64) is sent as null and named in event.omitted_columns.
CREATE TABLE docs (id int PRIMARY KEY, stage text, body text, blob bytea);
SELECT automation.watch('doc', 'robustness.docs') ->> 'entity' AS watched;
DO $$ BEGIN
	PERFORM automation.create_workflow('{"name": "published", "condition_entity": "doc",
		"condition_field": "stage", "condition_operator": "equals", "condition_value": "published",
		"action_type": "webhook", "action_config": {"url": "https://example.com/d"}}');
END $$;
SHOW automation.payload_column_limit;
INSERT INTO docs VALUES (1, 'published', repeat('x', 70000), 'small');
INSERT INTO docs VALUES (2, 'published', 'small', convert_to(repeat('y', 100), 'UTF8'));
UPDATE docs SET body = repeat('z', 2000), stage = 'published' WHERE id = 1;
SET automation.payload_column_limit = '1kB';
UPDATE docs SET stage = 'published' WHERE id = 1;
RESET automation.payload_column_limit;
SELECT record_key, payload -> 'event' -> 'omitted_columns' AS omitted,
	   length(payload -> 'new' ->> 'body') AS new_body, length(payload -> 'old' ->> 'body') AS old_body,
	   pg_column_size(payload) < 10000 AS small
  FROM automation.jobs WHERE entity = 'doc' ORDER BY id;

-- 7. Record keys: of any length (the cooldown index hashes them), and
-- printed the same way in every session (a date key in the writer's
-- DateStyle was read back as another date by the worker).
CREATE TABLE tokens (k bytea PRIMARY KEY, stage text);
SELECT automation.watch('token', 'robustness.tokens') ->> 'entity' AS watched;
SELECT automation.create_rule('{"name": "seen", "entity_type": "token", "trigger_type": "TOKEN_UPDATED",
	"cooldown_hours": 1, "conditions": [{"field_path": "stage", "operator": "EXISTS"}],
	"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "seen"}]}') ->> 'name' AS created;
INSERT INTO tokens SELECT decode(string_agg(md5(g::text), ''), 'hex'), 'new' FROM generate_series(1, 94) g;
UPDATE tokens SET stage = 'a';
UPDATE tokens SET stage = 'b';
SELECT length(record_key), outcome FROM automation.firings WHERE rule_id IS NOT NULL
   AND record_key IN (SELECT k::text FROM tokens) ORDER BY id;
CREATE TABLE days (d date PRIMARY KEY, approved boolean NOT NULL DEFAULT false);
INSERT INTO days VALUES ('2026-01-02'), ('2026-02-01');
SELECT automation.watch('day', 'robustness.days') ->> 'entity' AS watched;
SELECT automation.create_rule('{"name": "approve", "entity_type": "day", "trigger_type": "DAY_UPDATED",
	"cooldown_hours": 24, "conditions": [{"field_path": "approved", "operator": "EQUALS", "value_bool": false}],
	"actions": [{"action_type": "UPDATE_FIELD", "field": "approved", "value": true}]}') ->> 'name' AS created;
SET DateStyle = 'SQL, DMY';
UPDATE days SET approved = false WHERE d = '2026-02-01';
SET DateStyle = 'German';
UPDATE days SET approved = false WHERE d = '2026-02-01';
RESET DateStyle;
SELECT record_key, outcome FROM automation.firings f JOIN automation.rules r ON r.id = f.rule_id
 WHERE r.name = 'approve' ORDER BY f.id;
SELECT automation.run_database_jobs() AS ran;
SELECT to_char(d, 'YYYY-MM-DD') AS day, approved FROM days ORDER BY d;

-- 8. Limits hold for direct SQL too: at most 250 conditions and 100
-- actions per rule (the engine loads every one of them in every backend).
SELECT id AS big_rule FROM automation.rules WHERE name = 'seen' \gset
INSERT INTO automation.rule_conditions (rule_id, sort_order, field_path, operator)
SELECT :'big_rule', g, 'stage', 'EXISTS' FROM generate_series(1, 249) g;
SELECT try(format($$INSERT INTO automation.rule_conditions (rule_id, sort_order, field_path, operator)
				   VALUES (%L, 250, 'stage', 'EXISTS')$$, :'big_rule'));
SELECT count(*) AS conditions FROM automation.rule_conditions WHERE rule_id = :'big_rule';

-- 9. Renames through any ALTER tag and drops through a cascade are caught too.
ALTER VIEW leads RENAME COLUMN account TO org;
ALTER FOREIGN TABLE leads RENAME COLUMN lead_id TO id;
SELECT key_column, tenant_column FROM automation.entities WHERE name = 'lead';
CREATE DOMAIN robustness.code AS text;
CREATE TABLE coded (c robustness.code PRIMARY KEY, note text);
SELECT automation.watch('coded', 'robustness.coded') ->> 'entity' AS watched;
SELECT try('DROP DOMAIN robustness.code CASCADE');
SELECT attname FROM pg_attribute WHERE attrelid = 'robustness.coded'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
-- dropping a watched table itself stays possible (explain then answers P0002)
DROP TABLE coded;
SELECT automation.unwatch('coded');
SELECT count(*) AS still_watched FROM automation.entities WHERE name = 'coded';

-- 10. Cooldowns are per tenant: with keys unique only per tenant, another
-- tenant's record of the same key is not in this one's cooldown.
CREATE TABLE accounts (org text NOT NULL, id int NOT NULL, stage text, PRIMARY KEY (org, id));
SELECT automation.watch('account', 'robustness.accounts', key_column => 'id', tenant_column => 'org') ->> 'entity' AS watched;
SELECT automation.create_rule('{"name": "won account", "entity_type": "account",
	"trigger_type": "ACCOUNT_UPDATED", "cooldown_hours": 1,
	"conditions": [{"field_path": "stage", "operator": "EQUALS", "value_string": "won"}],
	"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "won"}]}') ->> 'name' AS created;
INSERT INTO accounts VALUES ('acme', 1, 'new'), ('beta', 1, 'new');
UPDATE accounts SET stage = 'won' WHERE org = 'acme';
UPDATE accounts SET stage = 'won' WHERE org = 'beta';
UPDATE accounts SET stage = 'new' WHERE org = 'acme';
UPDATE accounts SET stage = 'won' WHERE org = 'acme';
SELECT f.tenant_id, f.record_key, f.outcome FROM automation.firings f
  JOIN automation.rules r ON r.id = f.rule_id WHERE r.name = 'won account' ORDER BY f.id;
