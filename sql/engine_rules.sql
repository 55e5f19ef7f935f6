-- engine_rules: how the row trigger runs rules (SPEC section 5): by trigger
-- type (DELETE reads OLD), conditions ANDed, one job per action in
-- sort_order, priority then creation order, stop_subsequent_rules, cooldown
-- per record, inactive rules.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA engine_rules;
SET search_path = engine_rules, public;

CREATE TABLE leads (id int PRIMARY KEY, status text, source text, score int, tags text[]);
SELECT automation.watch('lead', 'leads') ->> 'entity' AS watched;

-- rule(name, trigger_type, conditions, extra keys): a rule with a NOTIFY
-- action whose message names the rule.
CREATE FUNCTION rule(name text, trig text, conds jsonb, extra jsonb DEFAULT '{}')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM automation.create_rule(jsonb_build_object('name', name,
		'entity_type', 'lead', 'trigger_type', trig, 'conditions', conds,
		'actions', jsonb_build_array(jsonb_build_object('action_type', 'NOTIFY',
			'recipient', 'ops', 'message', name))) || extra);
END $$;
-- jobs: what was enqueued, in order.
CREATE VIEW jobs AS
SELECT j.record_key AS key, j.payload -> 'event' ->> 'operation' AS op,
	   j.payload -> 'event' ->> 'name' AS rule, j.action_type,
	   j.payload -> 'config' ->> 'message' AS message
  FROM automation.jobs j ORDER BY j.id;
-- firings: every match and its outcome, in order.
CREATE VIEW firings AS
SELECT f.record_key AS key, f.operation AS op, r.name AS rule, f.outcome
  FROM automation.firings f JOIN automation.rules r ON r.id = f.rule_id
 ORDER BY f.id;
CREATE FUNCTION reset() RETURNS void LANGUAGE sql AS $$
	DELETE FROM automation.rules;
	DELETE FROM automation.jobs;
	DELETE FROM automation.firings;
	DELETE FROM engine_rules.leads;
$$;

-------------------------------------------------------------------------------
-- Trigger types: _CREATED fires on INSERT only, _UPDATED on UPDATE only,
-- _DELETED on DELETE only, and a DELETED rule evaluates OLD.  The job of a
-- delete carries "old" and no "new".
DO $$ BEGIN
	PERFORM rule('created', 'LEAD_CREATED', '[{"field_path": "status", "operator": "EQUALS", "value_string": "won"}]');
	PERFORM rule('updated', 'LEAD_UPDATED', '[{"field_path": "status", "operator": "EQUALS", "value_string": "won"}]');
	PERFORM rule('deleted', 'LEAD_DELETED', '[{"field_path": "lead.status", "operator": "EQUALS", "value_string": "won"}]');
	PERFORM rule('deleted_exists', 'LEAD_DELETED', '[{"field_path": "score", "operator": "EXISTS"}]');
END $$;
INSERT INTO leads VALUES (1, 'won', 'web', NULL), (2, 'open', 'web', 7);
UPDATE leads SET score = 1 WHERE id = 1;
UPDATE leads SET score = 8 WHERE id = 2;
DELETE FROM leads WHERE id IN (1, 2);
SELECT * FROM jobs;
SELECT payload -> 'new' AS new, payload -> 'old' AS old
  FROM automation.jobs WHERE payload -> 'event' ->> 'operation' = 'DELETE' ORDER BY id;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- Conditions are ANDed; each action is one job, in sort_order (not in the
-- order given).
SELECT automation.create_rule('{
	"name": "hot web lead", "entity_type": "lead", "trigger_type": "LEAD_CREATED",
	"conditions": [
		{"field_path": "source", "operator": "EQUALS", "value_string": "web", "sort_order": 1},
		{"field_path": "score", "operator": "GTE", "value_int": 50, "sort_order": 0}],
	"actions": [
		{"action_type": "NOTIFY", "recipient": "ops", "message": "second", "sort_order": 2},
		{"action_type": "TAG", "tag": "hot", "sort_order": 1},
		{"action_type": "NOTIFY", "recipient": "ops", "message": "third", "sort_order": 3}]
}') ->> 'name' AS created;
INSERT INTO leads VALUES (1, 'open', 'web', 50), (2, 'open', 'web', 49), (3, 'open', 'ads', 90);
SELECT key, rule, action_type, message FROM jobs;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- Order: lower priority first; equal priorities in creation order, whatever
-- the names.  An inactive rule does not fire.
DO $$ BEGIN
	PERFORM rule('z p50 first created', 'LEAD_CREATED', '[{"field_path": "status", "operator": "EXISTS"}]');
	PERFORM rule('y p10 created 2nd', 'LEAD_CREATED', '[{"field_path": "status", "operator": "EXISTS"}]', '{"priority": 10}');
	PERFORM rule('a p10 created 3rd', 'LEAD_CREATED', '[{"field_path": "status", "operator": "EXISTS"}]', '{"priority": 10}');
	PERFORM rule('b p0', 'LEAD_CREATED', '[{"field_path": "status", "operator": "EXISTS"}]', '{"priority": 0}');
	PERFORM rule('inactive p0', 'LEAD_CREATED', '[{"field_path": "status", "operator": "EXISTS"}]', '{"priority": 0, "is_active": false}');
	PERFORM rule('c p100', 'LEAD_CREATED', '[{"field_path": "status", "operator": "EXISTS"}]', '{"priority": 100}');
END $$;
INSERT INTO leads VALUES (1, 'open', 'web', 1);
SELECT key, rule FROM jobs;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- stop_subsequent_rules: a matching rule with it ends the chain; a
-- non-matching one does not.
DO $$ BEGIN
	PERFORM rule('p10', 'LEAD_CREATED', '[{"field_path": "status", "operator": "EXISTS"}]', '{"priority": 10}');
	PERFORM rule('p20 stop if won', 'LEAD_CREATED', '[{"field_path": "status", "operator": "EQUALS", "value_string": "won"}]',
				 '{"priority": 20, "stop_subsequent_rules": true}');
	PERFORM rule('p30', 'LEAD_CREATED', '[{"field_path": "status", "operator": "EXISTS"}]', '{"priority": 30}');
END $$;
INSERT INTO leads VALUES (1, 'won', 'web', 1), (2, 'open', 'web', 1);
SELECT key, rule FROM jobs;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- Cooldown per record: within cooldown_hours of a 'fired' firing for the
-- same record, a match records outcome 'cooldown' and enqueues nothing;
-- other records are not affected; a rule without cooldown fires every time.
-- A match in cooldown still stops subsequent rules.
DO $$ BEGIN
	PERFORM rule('cool 1h', 'LEAD_UPDATED', '[{"field_path": "score", "operator": "GT", "value_int": 10}]',
				 '{"priority": 10, "cooldown_hours": 1}');
	PERFORM rule('no cooldown', 'LEAD_UPDATED', '[{"field_path": "score", "operator": "GT", "value_int": 10}]',
				 '{"priority": 20, "cooldown_hours": 0}');
	PERFORM rule('cool stop', 'LEAD_UPDATED', '[{"field_path": "status", "operator": "EQUALS", "value_string": "stop"}]',
				 '{"priority": 30, "cooldown_hours": 24, "stop_subsequent_rules": true}');
	PERFORM rule('after stop', 'LEAD_UPDATED', '[{"field_path": "status", "operator": "EQUALS", "value_string": "stop"}]',
				 '{"priority": 40}');
END $$;
INSERT INTO leads VALUES (1, 'open', 'web', 0), (2, 'open', 'web', 0);
UPDATE leads SET score = 11 WHERE id = 1;
UPDATE leads SET score = 12 WHERE id = 1;
UPDATE leads SET score = 13 WHERE id = 2;
UPDATE leads SET score = 0, status = 'stop' WHERE id = 1;
UPDATE leads SET score = 0, status = 'STOP' WHERE id = 1;
SELECT * FROM firings;
SELECT key, rule FROM jobs;
-- a cooldown older than the window no longer holds
UPDATE automation.firings SET fired_at = fired_at - interval '61 minutes';
UPDATE leads SET score = 14 WHERE id = 1;
SELECT key, rule, outcome FROM firings OFFSET 8;
SELECT reset() \gset

SET client_min_messages = warning;
DROP SCHEMA engine_rules CASCADE;
DROP EXTENSION automation CASCADE;
