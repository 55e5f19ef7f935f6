-- engine_json: conditions on paths below json and jsonb columns (issue 11,
-- items 3 and 8).  A JSON string compares as text, a number as an exact
-- decimal; a constant that is not a decimal never equals a number.  A json
-- (not jsonb) value the table accepted never fails the application's write:
-- it is read from its text, never converted to jsonb.  Each block lists per
-- row the definitions that fired (from automation.jobs, in firing order).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA engine_json;
SET search_path = engine_json, public;

CREATE TABLE deals (id int PRIMARY KEY, label text NOT NULL, custom jsonb, meta json);
SELECT automation.watch('deal', 'deals') ->> 'entity' AS watched;

-- rule(name, trigger_type, condition): a rule with that one condition.
CREATE FUNCTION rule(name text, trig text, cond jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM automation.create_rule(jsonb_build_object('name', name,
		'entity_type', 'deal', 'trigger_type', trig,
		'conditions', jsonb_build_array(cond),
		'actions', '[{"action_type": "WEBHOOK", "url": "https://example.com/hook"}]'::jsonb));
END $$;
-- pair(name, trigger_type, condition): the rule on custom.<path> (jsonb),
-- named <name>, and on meta.<path> (json), named <name>_j.
CREATE FUNCTION pair(name text, trig text, cond jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM rule(name, trig, cond || jsonb_build_object('field_path', 'custom.' || (cond ->> 'field_path')));
	PERFORM rule(name || '_j', trig, cond || jsonb_build_object('field_path', 'meta.' || (cond ->> 'field_path')));
END $$;
-- wf(name, field, operator, value): a workflow.
CREATE FUNCTION wf(name text, field text, op text, val text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM automation.create_workflow(jsonb_build_object('name', name,
		'condition_entity', 'deal', 'condition_field', field,
		'condition_operator', op, 'condition_value', val,
		'action_type', 'webhook',
		'action_config', '{"url": "https://example.com/hook"}'::jsonb));
END $$;
-- add(id, label, value): a row with the same value in both columns.
CREATE FUNCTION add(id int, label text, v text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO engine_json.deals VALUES (id, label, v::jsonb, v::json);
$$;
CREATE VIEW fired AS
SELECT t.label,
	   coalesce(string_agg(j.payload -> 'event' ->> 'name', ' ' ORDER BY j.id), '-') AS fired
  FROM deals t LEFT JOIN automation.jobs j ON j.record_key = t.id::text
 GROUP BY t.id, t.label ORDER BY t.id;
CREATE FUNCTION reset() RETURNS void LANGUAGE sql AS $$
	DELETE FROM automation.rules;
	DELETE FROM automation.workflows;
	DELETE FROM automation.jobs;
	DELETE FROM automation.firings;
	DELETE FROM engine_json.deals;
$$;

-------------------------------------------------------------------------------
-- Item 8: a JSON string compares as text.  On 0.2.0 "02134" was taken for
-- a number, so it never equalled the string "02134"; it now does, in
-- EQUALS, IN, NOT_EQUALS, NOT_IN and a workflow's equals, case-insensitively
-- as text columns do.  A number equals only a constant written as a JSON
-- number: "02134" (a leading zero) is text, the number 2134 is not it, nor
-- is the string "2134".
DO $$ BEGIN
	PERFORM pair('eq', 'DEAL_CREATED', '{"field_path": "zip", "operator": "EQUALS", "value_string": "02134"}');
	PERFORM pair('in', 'DEAL_CREATED', '{"field_path": "zip", "operator": "IN", "value_array": ["02134", "x"]}');
	PERFORM pair('ne', 'DEAL_CREATED', '{"field_path": "zip", "operator": "NOT_EQUALS", "value_string": "02134"}');
	PERFORM pair('nin', 'DEAL_CREATED', '{"field_path": "zip", "operator": "NOT_IN", "value_array": ["02134"]}');
	PERFORM wf('wf_eq', 'custom.zip', 'equals', '02134');
	PERFORM wf('wf_code', 'meta.code', 'equals', 'Ab-1');
END $$;
SELECT add(1, '"02134"', '{"zip": "02134"}');
SELECT add(2, '2134', '{"zip": 2134}');
SELECT add(3, '"2134"', '{"zip": "2134"}');
SELECT add(4, '"AB-1" code', '{"code": "AB-1"}');
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- Item 8: a constant that is not a JSON number never equals a number.  On
-- 0.2.0 (strtod) "NaN" equalled every number, "0x10" equalled 16, and "1e"
-- and " 5" equalled 1 and 5; "+5" too.  As text they still equal the strings
-- they spell.  "5.0" is a JSON number: it equals 5.
DO $$ BEGIN
	PERFORM wf('nan', 'custom.x', 'equals', 'NaN');
	PERFORM wf('hex', 'custom.x', 'equals', '0x10');
	PERFORM wf('1e', 'custom.x', 'equals', '1e');
	PERFORM wf('sp5', 'custom.x', 'equals', ' 5');
	PERFORM wf('inf', 'custom.x', 'equals', 'Infinity');
	PERFORM wf('plus5', 'custom.x', 'equals', '+5');
	PERFORM wf('5.0', 'custom.x', 'equals', '5.0');
	PERFORM wf('nan_j', 'meta.x', 'equals', 'NaN');
	PERFORM wf('hex_j', 'meta.x', 'equals', '0x10');
	PERFORM wf('1e_j', 'meta.x', 'equals', '1e');
	PERFORM wf('sp5_j', 'meta.x', 'equals', ' 5');
	PERFORM rule('nan_gt', 'DEAL_CREATED', '{"field_path": "custom.x", "operator": "NOT_EQUALS", "value_string": "nan"}');
END $$;
SELECT add(1, '16', '{"x": 16}');
SELECT add(2, '1', '{"x": 1}');
SELECT add(3, '5', '{"x": 5}');
SELECT add(4, '0', '{"x": 0}');
SELECT add(5, '"NaN"', '{"x": "NaN"}');
SELECT add(6, '"0x10"', '{"x": "0x10"}');
SELECT add(7, '" 5"', '{"x": " 5"}');
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- Item 8: numbers compare as exact decimals, never as doubles.  On 0.2.0
-- 9007199254740993 equalled 9007199254740992 (both the same double), and
-- 1e400, 1e401 (beyond a double's range) were equal as infinities.  Equal
-- decimals written differently are equal: 1.10 = 1.1, 1e2 = 100, -0 = 0.
DO $$ BEGIN
	PERFORM pair('big_eq', 'DEAL_CREATED', '{"field_path": "n", "operator": "EQUALS", "value_int": 9007199254740993}');
	PERFORM pair('big_gt', 'DEAL_CREATED', '{"field_path": "n", "operator": "GT", "value_int": 9007199254740992}');
	PERFORM wf('e400_eq', 'custom.n', 'equals', '1e400');
	PERFORM wf('e400_gt', 'custom.n', 'greater_than', '1e399');
	PERFORM wf('e400_lt', 'custom.n', 'less_than', '-1e399');
	PERFORM wf('tiny_gt', 'meta.n', 'greater_than', '0');
	PERFORM wf('p1_10', 'meta.n', 'equals', '1.10');
	PERFORM wf('e2', 'custom.n', 'equals', '1e2');
	PERFORM wf('zero', 'custom.n', 'equals', '-0');
	PERFORM wf('third', 'custom.n', 'equals', '0.30000000000000004');
END $$;
SELECT add(1, '9007199254740992', '{"n": 9007199254740992}');
SELECT add(2, '9007199254740993', '{"n": 9007199254740993}');
SELECT add(3, '1e400', '{"n": 1e400}');
SELECT add(4, '1e401', '{"n": 1e401}');
SELECT add(5, '-1e400', '{"n": -1e400}');
SELECT add(6, '1e-400', '{"n": 1e-400}');
SELECT add(7, '1.1', '{"n": 1.1}');
SELECT add(8, '100.00', '{"n": 100.00}');
SELECT add(9, '0', '{"n": 0}');
SELECT add(10, '0.3', '{"n": 0.3}');
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- Order: a number against a decimal constant, exactly (GT/GTE/LT/LTE and a
-- workflow's greater_than/less_than); a string against a constant that is
-- not a number, as text (ISO dates order); a string is not ordered against
-- a number ("10" is not GT 9; as text it would be less), nor a number
-- against text; a boolean is not ordered.
DO $$ BEGIN
	PERFORM pair('gte', 'DEAL_CREATED', '{"field_path": "v", "operator": "GTE", "value_int": 10}');
	PERFORM pair('lt', 'DEAL_CREATED', '{"field_path": "v", "operator": "LT", "value_int": 10}');
	PERFORM wf('after_may', 'custom.v', 'greater_than', '2024-05-01');
	PERFORM wf('before_may_j', 'meta.v', 'less_than', '2024-05-01');
END $$;
SELECT add(1, '10.0', '{"v": 10.0}');
SELECT add(2, '9.99999999999999999999', '{"v": 9.99999999999999999999}');
SELECT add(3, '"10"', '{"v": "10"}');
SELECT add(4, '"2024-06-01"', '{"v": "2024-06-01"}');
SELECT add(5, '"2024-04-30"', '{"v": "2024-04-30"}');
SELECT add(6, 'true', '{"v": true}');
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- Booleans compare as "true"/"false" (the constant is text: the string
-- "TRUE" equals value_bool true too); a JSON array CONTAINS an element equal
-- to the constant by the same rules (the number 16 is "16.0", the string
-- "02134" is "02134", the number 2134 is not); substring operators apply to
-- strings only.
DO $$ BEGIN
	PERFORM pair('t', 'DEAL_CREATED', '{"field_path": "b", "operator": "EQUALS", "value_bool": true}');
	PERFORM pair('has_zip', 'DEAL_CREATED', '{"field_path": "tags", "operator": "CONTAINS", "value_string": "02134"}');
	PERFORM pair('has_16', 'DEAL_CREATED', '{"field_path": "tags", "operator": "CONTAINS", "value_string": "16.0"}');
	PERFORM pair('no_hex', 'DEAL_CREATED', '{"field_path": "tags", "operator": "NOT_CONTAINS", "value_string": "0x10"}');
	PERFORM pair('starts_1', 'DEAL_CREATED', '{"field_path": "b", "operator": "STARTS_WITH", "value_string": "1"}');
END $$;
SELECT add(1, 'b true, tags', '{"b": true, "tags": ["02134", 16, null, {"a": 1}, [2]]}');
SELECT add(2, 'b "TRUE", tags', '{"b": "TRUE", "tags": [2134, "16"]}');
SELECT add(3, 'b 1, tags []', '{"b": 1, "tags": []}');
SELECT add(4, 'b "12"', '{"b": "12"}');
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- CHANGED compares as the other operators: 10 -> 10.0 is no change, the
-- string "10" -> the number 10 is, [1, "a"] -> [1.0, "A"] is not, 1e400 ->
-- 1e401 is; CHANGED_TO and CHANGED_FROM the same; a json column the same.
INSERT INTO deals VALUES
	(1, '10 -> 10.0', '{"s": 10}', '{"s": 10}'),
	(2, '"10" -> 10', '{"s": "10"}', '{"s": "10"}'),
	(3, '[1, "a"] -> [1.0, "A"]', '{"s": [1, "a"]}', '{"s": [1, "a"]}'),
	(4, '1e400 -> 1e401', '{"s": 1e400}', '{"s": 1e400}'),
	(5, '"02134" -> 2134', '{"s": "02134"}', '{"s": "02134"}');
DO $$ BEGIN
	PERFORM pair('changed', 'DEAL_UPDATED', '{"field_path": "s", "operator": "CHANGED"}');
	PERFORM pair('to_2134', 'DEAL_UPDATED', '{"field_path": "s", "operator": "CHANGED_TO", "value_string": "2134"}');
	PERFORM pair('from_zip', 'DEAL_UPDATED', '{"field_path": "s", "operator": "CHANGED_FROM", "value_string": "02134"}');
END $$;
UPDATE deals SET custom = '{"s": 10.0}', meta = '{"s": 10.0}' WHERE id = 1;
UPDATE deals SET custom = '{"s": 10}', meta = '{"s": 10}' WHERE id = 2;
UPDATE deals SET custom = '{"s": [1.0, "A"]}', meta = '{"s": [1.0, "A"]}' WHERE id = 3;
UPDATE deals SET custom = '{"s": 1e401}', meta = '{"s": 1e401}' WHERE id = 4;
UPDATE deals SET custom = '{"s": 2134}', meta = '{"s": 2134}' WHERE id = 5;
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- Item 3: json values the table accepts and jsonb cannot hold.  0.2.0
-- converted the json column with jsonb_in, so these INSERTs failed with
-- "unsupported Unicode escape sequence" and "value overflows numeric
-- format".  Now the text is read as it is: a key elsewhere in the value does
-- not matter, 1e1000000 is an exact number, and a string holding \u0000 is
-- present but cannot be read: EXISTS holds, NOT_EXISTS does not, and every
-- comparing operator is false, its negation too.
DO $$ BEGIN
	PERFORM rule('plan', 'DEAL_CREATED', '{"field_path": "meta.plan", "operator": "EQUALS", "value_string": "pro"}');
	PERFORM rule('n_gt', 'DEAL_CREATED', '{"field_path": "meta.n", "operator": "GT", "value_int": 5}');
	PERFORM wf('n_eq', 'meta.n', 'equals', '1e1000000');
	PERFORM wf('n_lt', 'meta.n', 'less_than', '1e999999');
	PERFORM rule('note_exists', 'DEAL_CREATED', '{"field_path": "meta.note", "operator": "EXISTS"}');
	PERFORM rule('note_not_exists', 'DEAL_CREATED', '{"field_path": "meta.note", "operator": "NOT_EXISTS"}');
	PERFORM rule('note_eq', 'DEAL_CREATED', '{"field_path": "meta.note", "operator": "EQUALS", "value_string": "x"}');
	PERFORM rule('note_ne', 'DEAL_CREATED', '{"field_path": "meta.note", "operator": "NOT_EQUALS", "value_string": "x"}');
	PERFORM rule('note_nin', 'DEAL_CREATED', '{"field_path": "meta.note", "operator": "NOT_IN", "value_array": ["x"]}');
	PERFORM rule('note_ncont', 'DEAL_CREATED', '{"field_path": "meta.note", "operator": "NOT_CONTAINS", "value_string": "x"}');
	PERFORM rule('note_changed', 'DEAL_CREATED', '{"field_path": "meta.note", "operator": "CHANGED"}');
END $$;
INSERT INTO deals (id, label, meta) VALUES
	(1, 'note \u0000, plan pro', '{"note": "a\u0000b", "plan": "pro"}'),
	(2, 'n 1e1000000', '{"n": 1e1000000, "plan": "free"}'),
	(3, 'n -1e1000000', '{"n": -1e1000000}'),
	(4, 'n 1e10000000000000000', '{"n": 1e10000000000000000}'),
	(5, 'tags [\u0000]', '{"note": ["x", "\u0000"]}'),
	(6, 'note x', '{"note": "x"}'),
	(7, 'note "\u0078"', '{"note": "\u0078"}');
SELECT * FROM fired;
-- The same values on UPDATE: changed, changed_to and changed_from are false
-- when OLD or NEW cannot be read.
DO $$ BEGIN
	PERFORM rule('u_changed', 'DEAL_UPDATED', '{"field_path": "meta.note", "operator": "CHANGED"}');
	PERFORM rule('u_unchanged', 'DEAL_UPDATED', '{"field_path": "meta.note", "operator": "CHANGED", "value_bool": false}');
	PERFORM rule('u_to_x', 'DEAL_UPDATED', '{"field_path": "meta.note", "operator": "CHANGED_TO", "value_string": "x"}');
	PERFORM rule('u_from_x', 'DEAL_UPDATED', '{"field_path": "meta.note", "operator": "CHANGED_FROM", "value_string": "x"}');
END $$;
DELETE FROM automation.jobs;
UPDATE deals SET meta = '{"note": "x"}' WHERE id = 1;
UPDATE deals SET meta = '{"note": "\u0000"}' WHERE id = 6;
UPDATE deals SET meta = '{"note": "x"}' WHERE id = 7;
UPDATE deals SET label = label || ' (same, spaced)', meta = '{"note": [ "x", "\u0000" ]}' WHERE id = 5;
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- The json text as jsonb would read it: escapes in keys and strings, the
-- last of duplicate keys, any whitespace; a path through a scalar or an
-- array, or into a value that is not an object, is absent.  Deep nesting
-- beside the path (jsonb and json) is skipped.  (ASCII only: the suite runs
-- in any database encoding.)
DO $$ BEGIN
	PERFORM pair('plan', 'DEAL_CREATED', '{"field_path": "plan", "operator": "EQUALS", "value_string": "Pro \"1\"/2"}');
	PERFORM pair('absent', 'DEAL_CREATED', '{"field_path": "plan", "operator": "NOT_EXISTS"}');
	PERFORM pair('deep', 'DEAL_CREATED', '{"field_path": "a.b", "operator": "EXISTS"}');
END $$;
SELECT add(1, 'plain', '{"plan": "PRO \"1\"/2"}');
SELECT add(2, 'escapes', '{"pl\u0061n": "\u0050ro \u00221\"\/2"}');
SELECT add(3, 'duplicates', '{"plan": "free", "plan": "pro \"1\"/2"}');
SELECT add(4, 'duplicates, last free', '{"plan": "pro \"1\"/2", "plan": "free"}');
SELECT add(5, 'whitespace', e' \n{ "x" : [ 1 , { "plan" : 2 } ] ,\t"plan"\r: "pro \\"1\\"/2" } ');
SELECT add(6, 'array', '[{"plan": "pro \"1\"/2"}]');
SELECT add(7, 'scalar', '"pro \"1\"/2"');
SELECT add(8, 'a.b: a is a string', '{"a": "b"}');
SELECT add(9, 'a.b: a.b is null', '{"a": {"b": null}}');
SELECT add(10, 'a.b: 0', '{"a": {"b": 0}}');
SELECT add(11, 'deep', '{"d": ' || repeat('[', 5000) || repeat(']', 5000) || ', "plan": "pro \"1\"/2", "a": {"b": ' || repeat('{"b": ', 5000) || '1' || repeat('}', 5000) || '}}');
SELECT * FROM fired;
SELECT reset() \gset

-- A json value deeper than this session's stack allows jsonb_in to read (a
-- session with a larger max_stack_depth wrote it): 0.2.0 failed every later
-- write of the row with "stack depth limit exceeded".
DO $$ BEGIN
	PERFORM rule('plan', 'DEAL_UPDATED', '{"field_path": "meta.plan", "operator": "EQUALS", "value_string": "pro"}');
END $$;
SET max_stack_depth = '6MB';
INSERT INTO deals (id, label, meta)
	VALUES (1, 'deep', ('{"d": ' || repeat('[', 25000) || repeat(']', 25000) || ', "plan": "pro"}')::json);
RESET max_stack_depth;
UPDATE deals SET label = 'deeper' WHERE id = 1;
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- explain() uses the same evaluator: the same answers and reasons.
DO $$ BEGIN
	PERFORM rule('zip', 'DEAL_CREATED', '{"field_path": "custom.zip", "operator": "EQUALS", "value_string": "02134"}');
	PERFORM wf('nan', 'custom.zip', 'equals', 'NaN');
	PERFORM rule('big', 'DEAL_CREATED', '{"field_path": "meta.zip", "operator": "EQUALS", "value_int": 9007199254740993}');
END $$;
SELECT name, fires, c ->> 'reason' AS reason
  FROM automation.explain('deal', '{"id": 1, "label": "x", "custom": {"zip": "02134"}, "meta": {"zip": 9007199254740992}}') e
 CROSS JOIN LATERAL jsonb_array_elements(e.conditions) c ORDER BY name;
SELECT name, fires, c ->> 'reason' AS reason
  FROM automation.explain('deal', '{"id": 1, "label": "x", "custom": {"zip": 7}, "meta": {"zip": 9007199254740993}}') e
 CROSS JOIN LATERAL jsonb_array_elements(e.conditions) c ORDER BY name;
SELECT reset() \gset

SET client_min_messages = warning;
DROP SCHEMA engine_json CASCADE;
DROP EXTENSION automation CASCADE;
