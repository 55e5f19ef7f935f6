-- engine_explain: automation.explain(entity, new_row, old_row) (SPEC
-- section 8) reports, per workflow and rule and condition by condition,
-- whether a change would fire and why; it agrees with what the trigger
-- does; and it has no side effect (no job, no firing, no breaker slot).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA engine_explain;
SET search_path = engine_explain, public;

CREATE TABLE deals (id int PRIMARY KEY, status text, amount numeric, tags text[],
	custom jsonb);
SELECT automation.watch('deal', 'deals') ->> 'entity' AS watched;

DO $$ BEGIN
	PERFORM automation.create_workflow('{"name": "won", "condition_entity": "deal",
		"condition_field": "status", "condition_operator": "changed_to", "condition_value": "won",
		"action_type": "webhook", "action_config": {"url": "https://example.com/h"}}');
	PERFORM automation.create_workflow('{"name": "big", "condition_entity": "deal",
		"condition_field": "amount", "condition_operator": "greater_than", "condition_value": "1000",
		"action_type": "webhook", "action_config": {"url": "https://example.com/h"}}');
	PERFORM automation.create_rule('{"name": "vip tech", "entity_type": "deal",
		"trigger_type": "DEAL_CREATED", "priority": 10, "stop_subsequent_rules": true,
		"conditions": [
			{"field_path": "tags", "operator": "CONTAINS", "value_string": "vip"},
			{"field_path": "custom.industry", "operator": "IN", "value_array": ["tech", "bio"]}],
		"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "m"}]}');
	PERFORM automation.create_rule('{"name": "any new deal", "entity_type": "deal",
		"trigger_type": "DEAL_CREATED", "priority": 20,
		"conditions": [{"field_path": "id", "operator": "EXISTS"}],
		"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "m"}]}');
	PERFORM automation.create_rule('{"name": "lost deleted", "entity_type": "deal",
		"trigger_type": "DEAL_DELETED",
		"conditions": [{"field_path": "status", "operator": "EQUALS", "value_string": "LOST"},
					   {"field_path": "amount", "operator": "NOT_EXISTS", "value_bool": false}],
		"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "m"}]}');
END $$;

-- ex: explain's verdict per definition; exc: its conditions, one per row.
CREATE FUNCTION ex(new_row jsonb, old_row jsonb DEFAULT NULL)
RETURNS TABLE (source text, name text, fires boolean, reason text)
LANGUAGE sql AS $$
	SELECT source, name, fires, reason FROM automation.explain('deal', new_row, old_row)
$$;
CREATE FUNCTION exc(new_row jsonb, old_row jsonb DEFAULT NULL)
RETURNS TABLE (name text, field text, operator text, value text, holds boolean, reason text)
LANGUAGE sql AS $$
	SELECT e.name, c ->> 'field', c ->> 'operator', c ->> 'value', (c ->> 'holds')::boolean, c ->> 'reason'
	  FROM automation.explain('deal', new_row, old_row) WITH ORDINALITY e
	 CROSS JOIN LATERAL jsonb_array_elements(e.conditions) WITH ORDINALITY AS x(c, n)
	 ORDER BY e.ordinality, x.n
$$;

-------------------------------------------------------------------------------
-- An insert: workflows in creation order, then rules by priority; the
-- matching rule with stop_subsequent_rules ends the chain.
SELECT * FROM ex('{"id": 1, "status": "Won", "amount": 5000, "tags": ["VIP"], "custom": {"industry": "Tech"}}');
SELECT * FROM exc('{"id": 1, "status": "Won", "amount": 5000, "tags": ["VIP"], "custom": {"industry": "Tech"}}');
-- One condition of the AND fails: that rule does not fire, the next one does.
SELECT * FROM ex('{"id": 2, "status": "open", "tags": ["vip"], "custom": {"industry": "retail"}}');
SELECT * FROM exc('{"id": 2, "status": "open", "tags": ["vip"], "custom": {"industry": "retail"}}')
 WHERE name = 'vip tech';

-------------------------------------------------------------------------------
-- An update: changed_to fires on the transition only.
SELECT * FROM ex('{"id": 1, "status": "won", "amount": 10}', '{"id": 1, "status": "open", "amount": 10}');
SELECT * FROM exc('{"id": 1, "status": "won", "amount": 10}', '{"id": 1, "status": "WON", "amount": 10}')
 WHERE name = 'won';
SELECT * FROM exc('{"id": 1, "status": null, "amount": null}', '{"id": 1, "status": "won"}')
 WHERE name IN ('won', 'big');

-------------------------------------------------------------------------------
-- A delete (old_row only): workflows are not evaluated; DELETED rules read
-- OLD.
SELECT * FROM ex(NULL, '{"id": 3, "status": "lost", "amount": 1}');
SELECT * FROM exc(NULL, '{"id": 3, "status": "lost"}') WHERE name = 'lost deleted';

-------------------------------------------------------------------------------
-- explain agrees with the trigger: for each change, the definitions explain
-- says fire are exactly those that enqueue jobs when the change is made.
CREATE TABLE scenarios (n int, op text, new_row jsonb, old_row jsonb);
INSERT INTO scenarios VALUES
	(1, 'INSERT', '{"id": 10, "status": "won", "amount": 2000, "tags": ["vip"], "custom": {"industry": "bio"}}', NULL),
	(2, 'INSERT', '{"id": 11, "status": "open", "amount": 1000, "tags": ["x"], "custom": {}}', NULL),
	(3, 'UPDATE', '{"id": 11, "status": "won", "amount": 1000.01, "tags": ["x"], "custom": {}}',
				  '{"id": 11, "status": "open", "amount": 1000, "tags": ["x"], "custom": {}}'),
	(4, 'DELETE', NULL, '{"id": 10, "status": "Lost", "amount": 2000, "tags": ["vip"], "custom": {"industry": "bio"}}'),
	(5, 'DELETE', NULL, '{"id": 11, "status": "lost", "amount": null, "tags": ["x"], "custom": {}}');
CREATE FUNCTION apply(s scenarios) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF s.op = 'INSERT' THEN
		INSERT INTO deals SELECT * FROM jsonb_populate_record(NULL::deals, s.new_row);
	ELSIF s.op = 'UPDATE' THEN
		UPDATE deals d SET status = r.status, amount = r.amount, tags = r.tags, custom = r.custom
		  FROM jsonb_populate_record(NULL::deals, s.new_row) r WHERE d.id = r.id;
	ELSE
		-- make the row what old_row says, then delete it
		UPDATE deals d SET status = r.status, amount = r.amount
		  FROM jsonb_populate_record(NULL::deals, s.old_row) r WHERE d.id = r.id;
		DELETE FROM automation.jobs;
		DELETE FROM deals WHERE id = (s.old_row ->> 'id')::int;
	END IF;
END $$;
CREATE TABLE verdicts (n int, explained text, fired text);
DO $$
DECLARE s scenarios;
BEGIN
	FOR s IN SELECT * FROM scenarios ORDER BY n LOOP
		DELETE FROM automation.jobs;
		INSERT INTO verdicts (n, explained)
		SELECT s.n, coalesce(string_agg(name, ', ' ORDER BY name) FILTER (WHERE fires), '-')
		  FROM automation.explain('deal', s.new_row, s.old_row);
		PERFORM apply(s);
		UPDATE verdicts v SET fired = (SELECT coalesce(string_agg(payload #>> '{event,name}', ', '
								ORDER BY payload #>> '{event,name}'), '-') FROM automation.jobs)
		 WHERE v.n = s.n;
	END LOOP;
END $$;
SELECT s.n, s.op, v.explained, v.fired, v.explained = v.fired AS agree
  FROM scenarios s JOIN verdicts v USING (n) ORDER BY n;

-------------------------------------------------------------------------------
-- No side effect: explaining five times a change that fires a workflow with
-- max_triggers_per_day = 1 leaves no job, no firing, no alert and does not
-- spend its budget: the first real change still fires, the second trips.
SELECT automation.create_workflow('{"name": "once", "condition_entity": "deal",
	"condition_field": "status", "condition_operator": "equals", "condition_value": "once",
	"action_type": "webhook", "action_config": {"url": "https://example.com/h"},
	"max_triggers_per_day": 1}') ->> 'name' AS created;
DELETE FROM automation.jobs;
DELETE FROM automation.firings;
SELECT count(*) FILTER (WHERE fires) AS would_fire
  FROM generate_series(1, 5) i,
	   LATERAL automation.explain('deal', '{"id": 99, "status": "once"}') e
 WHERE e.name = 'once';
SELECT (SELECT count(*) FROM automation.jobs) AS jobs,
	   (SELECT count(*) FROM automation.firings) AS firings,
	   (SELECT count(*) FROM automation.alerts) AS alerts,
	   (SELECT count(*) FROM deals WHERE id = 99) AS rows;
SELECT name, triggers_today, remaining, tripped FROM automation.circuit_breakers WHERE name = 'once';
INSERT INTO deals (id, status) VALUES (99, 'once'), (100, 'once');
SELECT record_key, outcome FROM automation.firings f
  JOIN automation.workflows w ON w.id = f.workflow_id WHERE w.name = 'once' ORDER BY f.id;

-------------------------------------------------------------------------------
-- Past the conditions, explain predicts what the trigger checks next: a
-- workflow whose breaker has no firing left today, a rule already fired for
-- this record within its cooldown.  The trigger agrees.
SELECT automation.create_workflow('{"name": "limit one", "condition_entity": "deal",
	"condition_field": "status", "condition_operator": "equals", "condition_value": "limited",
	"action_type": "webhook", "action_config": {"url": "https://example.com/h"},
	"max_triggers_per_day": 1}') ->> 'name' AS created;
SELECT fires, reason FROM ex('{"id": 101, "status": "limited"}') WHERE name = 'limit one';
INSERT INTO deals (id, status) VALUES (101, 'limited');
SELECT fires, reason FROM ex('{"id": 102, "status": "limited"}') WHERE name = 'limit one';
INSERT INTO deals (id, status) VALUES (102, 'limited');
SELECT record_key, outcome FROM automation.firings f
  JOIN automation.workflows w ON w.id = f.workflow_id WHERE w.name = 'limit one' ORDER BY f.id;

SELECT automation.create_rule('{"name": "cool", "entity_type": "deal",
	"trigger_type": "DEAL_UPDATED", "cooldown_hours": 2,
	"conditions": [{"field_path": "status", "operator": "CHANGED_TO", "value_string": "hot"}],
	"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "m"}]}') ->> 'name' AS created;
INSERT INTO deals (id, status) VALUES (103, 'cold'), (104, 'cold');
UPDATE deals SET status = 'hot' WHERE id = 103;
UPDATE deals SET status = 'cold' WHERE id = 103;
SELECT name, fires, regexp_replace(reason, 'until \S+', 'until <time>') AS reason
  FROM ex('{"id": 103, "status": "hot"}', '{"id": 103, "status": "cold"}') WHERE name = 'cool'
UNION ALL
SELECT name, fires, reason
  FROM ex('{"id": 104, "status": "hot"}', '{"id": 104, "status": "cold"}') WHERE name = 'cool'
UNION ALL
-- the record is the key as the column prints it, however the row spells it
SELECT name, fires, regexp_replace(reason, 'until \S+', 'until <time>')
  FROM ex('{"id": "0103", "status": "hot"}', '{"id": 103, "status": "cold"}') WHERE name = 'cool';
UPDATE deals SET status = 'hot' WHERE id IN (103, 104);
SELECT f.record_key, f.outcome FROM automation.firings f
  JOIN automation.rules r ON r.id = f.rule_id WHERE r.name = 'cool' ORDER BY f.id;

-------------------------------------------------------------------------------
-- Errors.
SELECT * FROM automation.explain('nope', '{"id": 1}');
SELECT * FROM automation.explain('deal', NULL, NULL);
SELECT * FROM automation.explain('deal', '[1, 2]');

SET client_min_messages = warning;
DROP SCHEMA engine_explain CASCADE;
DROP EXTENSION automation CASCADE;
