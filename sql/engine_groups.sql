-- engine_groups: condition groups on rules (SPEC sections 3 and 5).  A
-- condition carries "group" (0..24, default 0; form key
-- conditions[i][group]); conditions of one group are ANDed, groups ORed; at
-- most 250 conditions; validation names the group and the row; the
-- candidate index files a rule under a guard of each group; explain reports
-- every group and condition; get_rule returns the group of each condition.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA engine_groups;
SET search_path = engine_groups, public;
\i sql/include/helpers.sql

CREATE TABLE leads (id int PRIMARY KEY, status text, source text, score int,
	tags text[], closed_at timestamptz);
SELECT automation.watch('lead', 'leads') ->> 'entity' AS watched;

CREATE FUNCTION rule(name text, trig text, conds jsonb, extra jsonb DEFAULT '{}')
RETURNS uuid LANGUAGE plpgsql AS $$
BEGIN
	RETURN (automation.create_rule(jsonb_build_object('name', name,
		'entity_type', 'lead', 'trigger_type', trig, 'conditions', conds,
		'actions', jsonb_build_array(jsonb_build_object('action_type', 'NOTIFY',
			'recipient', 'ops', 'message', name))) || extra) ->> 'id')::uuid;
END $$;
-- fired: which rules enqueued a job for which record, in order
CREATE VIEW fired AS
SELECT j.record_key AS key, j.payload -> 'event' ->> 'operation' AS op,
	   j.payload -> 'event' ->> 'name' AS rule
  FROM automation.jobs j ORDER BY j.id;
CREATE FUNCTION reset() RETURNS void LANGUAGE sql AS $$
	DELETE FROM automation.rules;
	DELETE FROM automation.jobs;
	DELETE FROM automation.firings;
	DELETE FROM engine_groups.leads;
$$;

-------------------------------------------------------------------------------
-- OR of AND-groups: (status = won AND score > 10) OR (source = referral)
-- OR (tags contains vip).  Each group's guard is a different kind of index
-- entry (value bucket, value bucket, always); a row that hits only group 1's
-- or group 2's guard still makes the rule a candidate.
SELECT rule('won big or referral or vip', 'LEAD_CREATED',
	'[{"field_path": "status", "operator": "EQUALS", "value_string": "won"},
	  {"field_path": "score", "operator": "GT", "value_int": 10},
	  {"field_path": "source", "operator": "EQUALS", "value_string": "referral", "group": 1},
	  {"field_path": "tags", "operator": "CONTAINS", "value_string": "vip", "group": 2}]') AS r1 \gset
INSERT INTO leads (id, status, score, source, tags) VALUES
	(1, 'won', 50, 'web', '{}'),		-- group 0
	(2, 'won', 5, 'web', '{}'),			-- group 0 half: nothing
	(3, 'open', 0, 'Referral', '{}'),	-- group 1 (case-insensitive)
	(4, 'open', 0, 'web', '{VIP}'),		-- group 2
	(5, 'open', 0, 'web', '{}'),		-- nothing
	(6, 'won', 11, 'referral', '{vip}');	-- all three: one job
SELECT * FROM fired;
SELECT reset();

-- Only indexed groups: value (EQUALS), threshold (GTE) and, on UPDATE, a
-- changed column; the rule is found through whichever guard the row hits.
SELECT rule('three guards', 'LEAD_UPDATED',
	'[{"field_path": "status", "operator": "EQUALS", "value_string": "lost", "group": 3},
	  {"field_path": "score", "operator": "GTE", "value_int": 90, "group": 7},
	  {"field_path": "closed_at", "operator": "CHANGED", "group": 24}]') IS NOT NULL AS created;
INSERT INTO leads (id, status, score) VALUES (10, 'open', 0), (11, 'open', 0), (12, 'open', 0), (13, 'open', 0);
UPDATE leads SET status = 'lost' WHERE id = 10;
UPDATE leads SET score = 95 WHERE id = 11;
UPDATE leads SET closed_at = '2026-01-01' WHERE id = 12;
UPDATE leads SET score = 89, status = 'Open' WHERE id = 13;
SELECT * FROM fired;
SELECT reset();

-- A group that can never hold on the event is left out (CHANGED_FROM on an
-- INSERT): the other groups still count.  Sort order orders conditions
-- within a group; group numbers need not be contiguous.
SELECT rule('insert or change', 'LEAD_CREATED',
	'[{"field_path": "status", "operator": "CHANGED_FROM", "value_string": "x", "group": 5},
	  {"field_path": "source", "operator": "EQUALS", "value_string": "ads", "group": 9, "sort_order": 2},
	  {"field_path": "score", "operator": "LT", "value_int": 0, "group": 9, "sort_order": 1}]') IS NOT NULL AS created;
INSERT INTO leads (id, source, score) VALUES (20, 'ads', -1), (21, 'ads', 1);
SELECT * FROM fired;

-------------------------------------------------------------------------------
-- explain reports every group and every condition, and which group holds.
SELECT rule('won big or referral or vip', 'LEAD_CREATED',
	'[{"field_path": "status", "operator": "EQUALS", "value_string": "won"},
	  {"field_path": "score", "operator": "GT", "value_int": 10},
	  {"field_path": "source", "operator": "EQUALS", "value_string": "referral", "group": 1},
	  {"field_path": "tags", "operator": "CONTAINS", "value_string": "vip", "group": 2}]') AS r1 \gset
SELECT name, fires, reason, jsonb_path_query_array(conditions, '$[*].group') AS groups,
	   jsonb_path_query_array(conditions, '$[*].holds') AS holds
  FROM automation.explain('lead', '{"id": 30, "status": "won", "score": 0, "source": "web", "tags": ["x"]}')
 ORDER BY name;
SELECT name, fires, reason FROM automation.explain('lead',
	'{"id": 30, "status": "open", "score": 0, "source": "web", "tags": ["vip"]}') ORDER BY name;
SELECT jsonb_pretty(conditions) FROM automation.explain('lead',
	'{"id": 30, "status": "won", "score": 20, "source": "referral", "tags": []}') WHERE name = 'won big or referral or vip';

-------------------------------------------------------------------------------
-- get_rule returns the group of every condition; existing rules and
-- conditions without the key are group 0.
SELECT c ->> 'field_path' AS field, c -> 'group' AS "group"
  FROM jsonb_array_elements(automation.get_rule(:'r1') -> 'conditions') c;
-- update_rule replaces the conditions, groups included
SELECT jsonb_path_query_array(automation.update_rule(:'r1',
	'{"conditions": [{"field_path": "status", "operator": "EXISTS", "group": 4}]}') -> 'conditions', '$[*].group') AS groups;
-- form keys conditions[i][group], as strings
SELECT jsonb_path_query_array(automation.create_rule('{"name": "form groups", "entity_type": "lead", "trigger_type": "LEAD_UPDATED",
	"conditions[0][field_path]": "status", "conditions[0][operator]": "EQUALS", "conditions[0][value_string]": "won",
	"conditions[1][field_path]": "source", "conditions[1][operator]": "EQUALS", "conditions[1][value_string]": "ads", "conditions[1][group]": "2",
	"conditions[2][field_path]": "score", "conditions[2][operator]": "EXISTS", "conditions[2][group]": "",
	"actions[0][action_type]": "NOTIFY", "actions[0][recipient]": "ops", "actions[0][message]": "m"}') -> 'conditions', '$[*].group') AS form_groups;

-------------------------------------------------------------------------------
-- Validation: group is an integer 0..24; errors name the group and the row.
SELECT try($$SELECT engine_groups.rule('g', 'LEAD_UPDATED', '[{"field_path": "status", "operator": "EXISTS", "group": 25}]')$$);
SELECT try($$SELECT engine_groups.rule('g', 'LEAD_UPDATED', '[{"field_path": "status", "operator": "EXISTS", "group": -1}]')$$);
SELECT try($$SELECT engine_groups.rule('g', 'LEAD_UPDATED', '[{"field_path": "status", "operator": "EXISTS", "group": "one"}]')$$);
SELECT try($$SELECT engine_groups.rule('g', 'LEAD_UPDATED', '[{"field_path": "status", "operator": "EXISTS", "group": 1.5}]')$$);
SELECT try($$SELECT engine_groups.rule('g', 'LEAD_UPDATED', '[{"field_path": "status", "operator": "EXISTS"},
	{"field_path": "status", "operator": "EXISTS", "group": 1}, {"field_path": "status", "operator": "LIKE", "value_string": "x", "group": 1}]')$$);
SELECT try($$SELECT engine_groups.rule('g', 'LEAD_UPDATED', '[{"field_path": "status", "operator": "EXISTS"},
	{"field_path": "score", "operator": "GT", "value_string": "x", "group": 3}]')$$);
SELECT try($$SELECT engine_groups.rule('g', 'LEAD_UPDATED', '[{"field_path": "nope", "operator": "EXISTS", "group": 2}]')$$);
-- direct SQL: the same range and label
SELECT try(format($$INSERT INTO automation.rule_conditions (rule_id, field_path, operator, "group")
				   VALUES (%L, 'status', 'EXISTS', 30)$$, :'r1'));
SELECT try(format($$INSERT INTO automation.rule_conditions (rule_id, field_path, operator, "group")
				   VALUES (%L, 'status', 'BAD', 6)$$, :'r1'));
SELECT count(*) AS rules FROM automation.rules WHERE name = 'g';

-- at most 250 conditions (in any groups), still at most 100 actions
SELECT try(format($$SELECT engine_groups.rule('max', 'LEAD_UPDATED', %L)$$,
	(SELECT jsonb_agg(jsonb_build_object('field_path', 'status', 'operator', 'EXISTS', 'group', g % 25)) FROM generate_series(1, 250) g)));
SELECT try(format($$SELECT engine_groups.rule('too many', 'LEAD_UPDATED', %L)$$,
	(SELECT jsonb_agg(jsonb_build_object('field_path', 'status', 'operator', 'EXISTS', 'group', g % 25)) FROM generate_series(1, 251) g)));
SELECT try($$SELECT automation.create_rule(jsonb_build_object('name', 'acts', 'entity_type', 'lead', 'trigger_type', 'LEAD_UPDATED',
	'conditions', '[{"field_path": "status", "operator": "EXISTS"}]'::jsonb,
	'actions', (SELECT jsonb_agg('{"action_type": "NOTIFY", "recipient": "ops", "message": "m"}'::jsonb) FROM generate_series(1, 101))))$$);
-- the 250-condition rule, 25 groups of 10 EXISTS: fires on the update
DELETE FROM automation.jobs;
UPDATE leads SET status = 'open' WHERE id = 20;
SELECT * FROM fired;

SELECT reset();

-- The trigger evaluates only the groups whose guard hit (and those without
-- a guard); explain evaluates every group.  25 groups, group g: status =
-- 'g<g>' AND score >= g (guarded by its value), and group 12 without a
-- guard (tags contains 'late').  Each row hits one group's guard; the rule
-- fires when that group holds or group 12 does.
SELECT rule('25 groups', 'LEAD_CREATED', (SELECT jsonb_agg(c ORDER BY g, k) FROM (
	SELECT g, 1 AS k, jsonb_build_object('field_path', 'status', 'operator', 'EQUALS', 'value_string', 'g' || g, 'group', g) AS c
	  FROM generate_series(0, 24) g WHERE g <> 12
	UNION ALL
	SELECT g, 2, jsonb_build_object('field_path', 'score', 'operator', 'GTE', 'value_int', g, 'group', g)
	  FROM generate_series(0, 24) g WHERE g <> 12
	UNION ALL
	SELECT 12, 1, '{"field_path": "tags", "operator": "CONTAINS", "value_string": "late", "group": 12}') x)) IS NOT NULL AS made;
INSERT INTO leads (id, status, score, tags) VALUES
	(30, 'g0', 0, '{}'),		-- group 0
	(31, 'g24', 24, '{}'),		-- group 24
	(32, 'g24', 23, '{}'),		-- group 24's guard hits, score fails: nothing
	(33, 'g7', 30, '{}'),		-- group 7
	(34, 'g7', 3, '{late}'),	-- group 7 fails, group 12 (no guard) holds
	(35, 'x', 99, '{}'),		-- no guard hits: nothing
	(36, 'G13', 13, '{}');		-- group 13 (case-insensitive bucket)
SELECT * FROM fired;
-- explain agrees, naming the group that holds
SELECT name, fires, reason FROM automation.explain('lead',
	'{"id": 37, "status": "g19", "score": 20, "tags": []}');
SELECT name, fires, reason FROM automation.explain('lead',
	'{"id": 38, "status": "g19", "score": 2, "tags": ["late"]}');

DROP SCHEMA engine_groups CASCADE;
DROP EXTENSION automation CASCADE;
