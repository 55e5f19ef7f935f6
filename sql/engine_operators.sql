-- engine_operators: every condition operator, in rule and workflow spelling,
-- on every supported type family (SPEC section 3), evaluated by the C row
-- trigger.  Each block creates definitions, writes labelled rows, and lists
-- per row the definitions that fired (from automation.jobs, in firing order).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA engine_operators;
SET search_path = engine_operators, public;

CREATE TABLE deals (id int PRIMARY KEY, label text NOT NULL,
	s text, v varchar(20), c char(5), n int, x numeric(10,2), b boolean,
	ts timestamptz, d date, tags text[], vtags varchar(10)[], nums int[],
	custom jsonb, meta json);
SELECT automation.watch('deal', 'deals') ->> 'entity' AS watched;

-- rule(name, trigger_type, condition): a rule with that one condition and a
-- webhook action.
CREATE FUNCTION rule(name text, trig text, cond jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM automation.create_rule(jsonb_build_object('name', name,
		'entity_type', 'deal', 'trigger_type', trig,
		'conditions', jsonb_build_array(cond),
		'actions', '[{"action_type": "WEBHOOK", "url": "https://example.com/hook"}]'::jsonb));
END $$;
-- wf(name, field, operator, value): a workflow with a webhook action.
CREATE FUNCTION wf(name text, field text, op text, val text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM automation.create_workflow(jsonb_build_object('name', name,
		'condition_entity', 'deal', 'condition_field', field,
		'condition_operator', op, 'condition_value', val,
		'action_type', 'webhook',
		'action_config', '{"url": "https://example.com/hook"}'::jsonb));
END $$;
-- fired: per row, the definitions that fired for it, in firing order.
CREATE VIEW fired AS
SELECT t.label,
	   coalesce(string_agg(j.payload -> 'event' ->> 'name', ' ' ORDER BY j.id), '-') AS fired
  FROM deals t LEFT JOIN automation.jobs j ON j.record_key = t.id::text
 GROUP BY t.id, t.label ORDER BY t.id;
-- reset: forget definitions, jobs, firings and rows between blocks.
CREATE FUNCTION reset() RETURNS void LANGUAGE sql AS $$
	DELETE FROM automation.rules;
	DELETE FROM automation.workflows;
	DELETE FROM automation.jobs;
	DELETE FROM automation.firings;
	DELETE FROM engine_operators.deals;
$$;

-------------------------------------------------------------------------------
-- text: case-insensitive on both sides; NULL never equals, so NOT_EQUALS,
-- NOT_IN, NOT_CONTAINS hold on NULL; '' exists.  EXISTS/NOT_EXISTS with
-- value_bool false are negated.
DO $$ BEGIN
	PERFORM rule('eq', 'DEAL_CREATED', '{"field_path": "s", "operator": "EQUALS", "value_string": "won"}');
	PERFORM rule('ne', 'DEAL_CREATED', '{"field_path": "s", "operator": "NOT_EQUALS", "value_string": "won"}');
	PERFORM rule('contains', 'DEAL_CREATED', '{"field_path": "deal.s", "operator": "CONTAINS", "value_string": "On"}');
	PERFORM rule('not_contains', 'DEAL_CREATED', '{"field_path": "s", "operator": "NOT_CONTAINS", "value_string": "ON"}');
	PERFORM rule('starts', 'DEAL_CREATED', '{"field_path": "s", "operator": "STARTS_WITH", "value_string": "WO"}');
	PERFORM rule('ends', 'DEAL_CREATED', '{"field_path": "s", "operator": "ENDS_WITH", "value_string": "FUL"}');
	PERFORM rule('in', 'DEAL_CREATED', '{"field_path": "s", "operator": "IN", "value_array": ["won", "LOST"]}');
	PERFORM rule('not_in', 'DEAL_CREATED', '{"field_path": "s", "operator": "NOT_IN", "value_array": ["won", "lost"]}');
	PERFORM rule('exists', 'DEAL_CREATED', '{"field_path": "s", "operator": "EXISTS"}');
	PERFORM rule('not_exists', 'DEAL_CREATED', '{"field_path": "s", "operator": "NOT_EXISTS"}');
	PERFORM rule('exists_false', 'DEAL_CREATED', '{"field_path": "s", "operator": "EXISTS", "value_bool": false}');
	PERFORM rule('not_exists_false', 'DEAL_CREATED', '{"field_path": "s", "operator": "NOT_EXISTS", "value_bool": false}');
	PERFORM wf('wf_equals', 's', 'equals', 'WON');
	PERFORM wf('wf_not_equals', 's', 'not_equals', 'won');
	PERFORM wf('wf_contains', 's', 'contains', 'ON');
END $$;
INSERT INTO deals (id, label, s) VALUES
	(1, 'Won', 'Won'), (2, 'LOST', 'LOST'), (3, 'Wonderful', 'Wonderful'),
	(4, 'null', NULL), (5, 'empty', '');
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- varchar and char(n): also text, case-insensitive; char(n) padding is not
-- significant (as in SQL: 'USD'::char(5) = 'usd  ').
DO $$ BEGIN
	PERFORM rule('v_eq', 'DEAL_CREATED', '{"field_path": "v", "operator": "EQUALS", "value_string": "Inbound"}');
	PERFORM rule('v_in', 'DEAL_CREATED', '{"field_path": "v", "operator": "IN", "value_array": ["referral", "INBOUND"]}');
	PERFORM rule('v_starts', 'DEAL_CREATED', '{"field_path": "v", "operator": "STARTS_WITH", "value_string": "in"}');
	PERFORM rule('c_eq', 'DEAL_CREATED', '{"field_path": "c", "operator": "EQUALS", "value_string": "usd"}');
	PERFORM wf('wf_v_equals', 'v', 'equals', 'inbound');
	PERFORM wf('wf_c_equals', 'c', 'equals', 'USD');
END $$;
INSERT INTO deals (id, label, v, c) VALUES
	(1, 'INBOUND/USD', 'INBOUND', 'USD'), (2, 'inbox/eur', 'inbox', 'eur'),
	(3, 'null/null', NULL, NULL);
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- integer and numeric: compared as numbers (10.00 = 10, 9 < 10 < 100).
DO $$ BEGIN
	PERFORM rule('n_eq', 'DEAL_CREATED', '{"field_path": "n", "operator": "EQUALS", "value_int": 10}');
	PERFORM rule('n_ne', 'DEAL_CREATED', '{"field_path": "n", "operator": "NOT_EQUALS", "value_int": 10}');
	PERFORM rule('n_gt', 'DEAL_CREATED', '{"field_path": "n", "operator": "GT", "value_int": 10}');
	PERFORM rule('n_gte', 'DEAL_CREATED', '{"field_path": "n", "operator": "GTE", "value_int": 10}');
	PERFORM rule('n_lt', 'DEAL_CREATED', '{"field_path": "n", "operator": "LT", "value_int": 10}');
	PERFORM rule('n_lte', 'DEAL_CREATED', '{"field_path": "n", "operator": "LTE", "value_int": 10}');
	PERFORM rule('n_in', 'DEAL_CREATED', '{"field_path": "n", "operator": "IN", "value_array": ["9", "100"]}');
	PERFORM rule('n_not_in', 'DEAL_CREATED', '{"field_path": "n", "operator": "NOT_IN", "value_array": ["9", "100"]}');
	PERFORM rule('x_eq', 'DEAL_CREATED', '{"field_path": "x", "operator": "EQUALS", "value_int": 10}');
	PERFORM rule('x_gt', 'DEAL_CREATED', '{"field_path": "x", "operator": "GT", "value_int": 10}');
	PERFORM wf('wf_n_equals', 'n', 'equals', '10');
	PERFORM wf('wf_x_equals', 'x', 'equals', '10.5');
	PERFORM wf('wf_x_gt', 'x', 'greater_than', '10');
	PERFORM wf('wf_x_lt', 'x', 'less_than', '10');
END $$;
INSERT INTO deals (id, label, n, x) VALUES
	(1, 'n=9 x=9.99', 9, 9.99), (2, 'n=10 x=10.00', 10, 10.00),
	(3, 'n=100 x=10.50', 100, 10.5), (4, 'nulls', NULL, NULL);
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- boolean.
DO $$ BEGIN
	PERFORM rule('b_eq_true', 'DEAL_CREATED', '{"field_path": "b", "operator": "EQUALS", "value_bool": true}');
	PERFORM rule('b_eq_false', 'DEAL_CREATED', '{"field_path": "b", "operator": "EQUALS", "value_bool": false}');
	PERFORM rule('b_ne_true', 'DEAL_CREATED', '{"field_path": "b", "operator": "NOT_EQUALS", "value_bool": true}');
	PERFORM wf('wf_b_true', 'b', 'equals', 'true');
	PERFORM wf('wf_b_not_true', 'b', 'not_equals', 'TRUE');
END $$;
INSERT INTO deals (id, label, b) VALUES (1, 'true', true), (2, 'false', false), (3, 'null', NULL);
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- timestamptz and date: instants, whatever the offset they are written with
-- (2024-06-01 02:00+02 is 2024-06-01 00:00Z).  Date constants are at noon
-- UTC so they name the same day in the session's time zone.
DO $$ BEGIN
	PERFORM rule('ts_eq', 'DEAL_CREATED', '{"field_path": "ts", "operator": "EQUALS", "value_datetime": "2024-06-01T00:00:00Z"}');
	PERFORM rule('ts_gt', 'DEAL_CREATED', '{"field_path": "ts", "operator": "GT", "value_datetime": "2024-06-01T00:00:00Z"}');
	PERFORM rule('ts_gte', 'DEAL_CREATED', '{"field_path": "ts", "operator": "GTE", "value_datetime": "2024-06-01T00:00:00Z"}');
	PERFORM rule('ts_lt', 'DEAL_CREATED', '{"field_path": "ts", "operator": "LT", "value_datetime": "2024-06-01T00:00:00Z"}');
	PERFORM rule('ts_lte', 'DEAL_CREATED', '{"field_path": "ts", "operator": "LTE", "value_datetime": "2024-06-01T00:00:00Z"}');
	PERFORM rule('d_gt', 'DEAL_CREATED', '{"field_path": "d", "operator": "GT", "value_datetime": "2024-06-01T12:00:00Z"}');
	PERFORM rule('d_lte', 'DEAL_CREATED', '{"field_path": "d", "operator": "LTE", "value_datetime": "2024-06-01T12:00:00Z"}');
	PERFORM wf('wf_ts_gt', 'ts', 'greater_than', '2024-06-01T00:00:00Z');
	PERFORM wf('wf_ts_lt', 'ts', 'less_than', '2024-06-01 02:00:00+02');
	PERFORM wf('wf_d_equals', 'd', 'equals', '2024-06-01');
	PERFORM wf('wf_d_lt', 'd', 'less_than', '2024-06-01');
END $$;
INSERT INTO deals (id, label, ts, d) VALUES
	(1, 'before', '2024-05-31 23:59:59+00', '2024-05-31'),
	(2, 'same instant', '2024-06-01 02:00:00+02', '2024-06-01'),
	(3, 'after', '2024-05-31 20:00:01-04', '2024-06-02'),
	(4, 'nulls', NULL, NULL);
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- arrays: CONTAINS means "has the element" (text elements ignore case);
-- NOT_CONTAINS holds on NULL.
DO $$ BEGIN
	PERFORM rule('tags_contains', 'DEAL_CREATED', '{"field_path": "tags", "operator": "CONTAINS", "value_string": "vip"}');
	PERFORM rule('tags_not_contains', 'DEAL_CREATED', '{"field_path": "tags", "operator": "NOT_CONTAINS", "value_string": "vip"}');
	PERFORM rule('nums_contains', 'DEAL_CREATED', '{"field_path": "nums", "operator": "CONTAINS", "value_string": "3"}');
	PERFORM wf('wf_tags_contains', 'tags', 'contains', 'VIP');
END $$;
INSERT INTO deals (id, label, tags, nums) VALUES
	(1, '{VIP,hot} {1,3}', '{VIP,hot}', '{1,3}'),
	(2, '{vipx} {33}', '{vipx}', '{33}'),
	(3, '{NULL} {NULL}', '{NULL}', '{NULL}'),
	(4, '{} {}', '{}', '{}'),
	(5, 'nulls', NULL, NULL);
SELECT * FROM fired;
SELECT reset() \gset

-- varchar[] elements are text too.
DO $$ BEGIN
	PERFORM rule('vtags_contains', 'DEAL_CREATED', '{"field_path": "vtags", "operator": "CONTAINS", "value_string": "vip"}');
END $$;
INSERT INTO deals (id, label, vtags) VALUES
	(1, '{VIP}', '{VIP}'), (2, '{vipx}', '{vipx}'), (3, 'null', NULL);
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- json paths: custom.industry compares strings case-insensitively,
-- custom.score numbers as numbers (10.0 = 10, 9 < 10); a missing key, a json
-- null and a NULL column are all absent; a string is not ordered against a
-- number (nor is a boolean); a json array CONTAINS its elements.  Paths into
-- a json (not jsonb) column work too.
DO $$ BEGIN
	PERFORM rule('industry_eq', 'DEAL_CREATED', '{"field_path": "custom.industry", "operator": "EQUALS", "value_string": "tech"}');
	PERFORM rule('industry_ne', 'DEAL_CREATED', '{"field_path": "custom.industry", "operator": "NOT_EQUALS", "value_string": "tech"}');
	PERFORM rule('industry_exists', 'DEAL_CREATED', '{"field_path": "deal.custom.industry", "operator": "EXISTS"}');
	PERFORM rule('industry_not_exists', 'DEAL_CREATED', '{"field_path": "custom.industry", "operator": "NOT_EXISTS"}');
	PERFORM rule('industry_in', 'DEAL_CREATED', '{"field_path": "custom.industry", "operator": "IN", "value_array": ["TECH", "retail"]}');
	PERFORM rule('score_eq', 'DEAL_CREATED', '{"field_path": "custom.score", "operator": "EQUALS", "value_int": 10}');
	PERFORM rule('score_gt', 'DEAL_CREATED', '{"field_path": "custom.score", "operator": "GT", "value_int": 9}');
	PERFORM rule('score_lt', 'DEAL_CREATED', '{"field_path": "custom.score", "operator": "LT", "value_int": 10}');
	PERFORM rule('city_starts', 'DEAL_CREATED', '{"field_path": "custom.address.city", "operator": "STARTS_WITH", "value_string": "ber"}');
	PERFORM rule('jtags_contains', 'DEAL_CREATED', '{"field_path": "custom.tags", "operator": "CONTAINS", "value_string": "vip"}');
	PERFORM rule('plan_eq', 'DEAL_CREATED', '{"field_path": "meta.plan", "operator": "EQUALS", "value_string": "pro"}');
	PERFORM wf('wf_industry', 'custom.industry', 'equals', 'Tech');
	PERFORM wf('wf_score_gt', 'deal.custom.score', 'greater_than', '9.5');
END $$;
INSERT INTO deals (id, label, custom, meta) VALUES
	(1, 'full', '{"industry": "Tech", "score": 10.0, "address": {"city": "Berlin"}, "tags": ["VIP", 1]}', '{"plan": "PRO"}'),
	(2, 'other', '{"industry": "retail", "score": 9, "address": {"city": "Paris"}, "tags": ["vipx"]}', '{"plan": "free"}'),
	(3, 'missing keys', '{"unrelated": 1}', '{}'),
	(4, 'json nulls', '{"industry": null, "score": null, "address": null, "tags": null}', '{"plan": null}'),
	(5, 'column null', NULL, NULL),
	(6, 'score "abc"', '{"score": "abc", "industry": 10}', '{"plan": ["pro"]}'),
	(7, 'score true', '{"score": true, "industry": {"name": "tech"}}', '{"plan": {"pro": 1}}');
SELECT * FROM fired;
SELECT reset() \gset

-------------------------------------------------------------------------------
-- edge operators.  INSERT: CHANGED holds when NEW is not NULL, CHANGED_TO
-- when NEW = value, CHANGED_FROM never.  UPDATE: CHANGED when OLD is
-- distinct from NEW, CHANGED_TO on the transition to the value only,
-- CHANGED_FROM on the transition away from it.  CHANGED with value_bool
-- false holds when the value did not change (on INSERT: when NEW is NULL).
DO $$ BEGIN
	PERFORM rule('ins_changed', 'DEAL_CREATED', '{"field_path": "s", "operator": "CHANGED"}');
	PERFORM rule('ins_unchanged', 'DEAL_CREATED', '{"field_path": "s", "operator": "CHANGED", "value_bool": false}');
	PERFORM rule('ins_changed_to', 'DEAL_CREATED', '{"field_path": "s", "operator": "CHANGED_TO", "value_string": "WON"}');
	PERFORM rule('ins_changed_from', 'DEAL_CREATED', '{"field_path": "s", "operator": "CHANGED_FROM", "value_string": "won"}');
	PERFORM wf('wf_changed', 's', 'changed', '');
	PERFORM wf('wf_changed_to', 's', 'changed_to', 'won');
END $$;
INSERT INTO deals (id, label, s) VALUES (1, 'insert won', 'won'), (2, 'insert null', NULL);
SELECT * FROM fired;
SELECT reset() \gset

INSERT INTO deals (id, label, s, n, custom) VALUES
	(1, 'open->won', 'open', 1, '{"industry": "tech"}'),
	(2, 'won->won', 'won', 1, '{"industry": "tech", "x": 1}'),
	(3, 'won->lost', 'won', 5, '{"industry": "tech"}'),
	(4, 'null->won', NULL, NULL, NULL),
	(5, 'won->null', 'won', 4, '{"industry": "tech"}');
DO $$ BEGIN
	PERFORM rule('upd_changed', 'DEAL_UPDATED', '{"field_path": "s", "operator": "CHANGED"}');
	PERFORM rule('upd_unchanged', 'DEAL_UPDATED', '{"field_path": "s", "operator": "CHANGED", "value_bool": false}');
	PERFORM rule('upd_changed_to', 'DEAL_UPDATED', '{"field_path": "s", "operator": "CHANGED_TO", "value_string": "Won"}');
	PERFORM rule('upd_changed_from', 'DEAL_UPDATED', '{"field_path": "s", "operator": "CHANGED_FROM", "value_string": "won"}');
	PERFORM rule('upd_n_changed_to', 'DEAL_UPDATED', '{"field_path": "n", "operator": "CHANGED_TO", "value_int": 5}');
	PERFORM rule('upd_n_changed_from', 'DEAL_UPDATED', '{"field_path": "n", "operator": "CHANGED_FROM", "value_int": 5}');
	PERFORM rule('upd_industry_changed', 'DEAL_UPDATED', '{"field_path": "custom.industry", "operator": "CHANGED"}');
	PERFORM wf('wf_changed', 's', 'changed', '');
	PERFORM wf('wf_changed_to', 's', 'changed_to', 'won');
END $$;
UPDATE deals SET s = 'WON', n = 5, custom = '{"industry": "retail"}' WHERE id = 1;
UPDATE deals SET s = 'won', n = 1, custom = '{"industry": "tech", "x": 2}' WHERE id = 2;
UPDATE deals SET s = 'lost', n = 6 WHERE id = 3;
UPDATE deals SET s = 'won', n = 5, custom = '{"industry": "tech"}' WHERE id = 4;
UPDATE deals SET s = NULL, n = 5, custom = '{}' WHERE id = 5;
SELECT * FROM fired;
SELECT reset() \gset

SET client_min_messages = warning;
DROP SCHEMA engine_operators CASCADE;
DROP EXTENSION automation CASCADE;
