-- engine_relative_dates: within_last / within_next / older_than (rules:
-- WITHIN_LAST / WITHIN_NEXT / OLDER_THAN), SPEC section 3.
--   * now() is the time of evaluation: the transaction's start, as SQL
--     now(); every row below is written relative to now() in its own
--     statement, so the boundaries are exact and nothing sleeps;
--   * within_last: now - v <= value <= now; within_next: now <= value <=
--     now + v; older_than: value < now - v; NULL holds none of them;
--   * timestamptz is an instant; timestamp is UTC wall-clock time and a
--     date is its midnight UTC, whatever the session's TimeZone (this suite
--     runs in UTC+14, where the local date is often not the UTC date);
--   * the value is an interval; a bare whole number (or a rule's value_int)
--     means days; validated at creation (22023 naming the key);
--   * explain shows the operator, the value and the reason.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA engine_relative_dates;
SET search_path = engine_relative_dates, public;
\i sql/include/helpers.sql
SET TimeZone = 'Pacific/Kiritimati';

CREATE DOMAIN due_day AS date;
CREATE TABLE tickets (id int PRIMARY KEY, label text NOT NULL,
	due timestamptz, due_local timestamp, due_date date, due_day due_day,
	n int, custom jsonb);
SELECT automation.watch('ticket', 'tickets') ->> 'entity' AS watched;

CREATE FUNCTION wf(name text, field text, op text, val text) RETURNS text
LANGUAGE sql AS $$
	SELECT try(format('SELECT automation.create_workflow(%L)', jsonb_build_object('name', name,
		'condition_entity', 'ticket', 'condition_field', field,
		'condition_operator', op, 'condition_value', val,
		'action_type', 'webhook', 'action_config', '{"url": "https://example.com/hook"}'::jsonb)))
$$;
CREATE FUNCTION rule(name text, trig text, cond jsonb) RETURNS text
LANGUAGE sql AS $$
	SELECT try(format('SELECT automation.create_rule(%L)', jsonb_build_object('name', name,
		'entity_type', 'ticket', 'trigger_type', trig, 'conditions', jsonb_build_array(cond),
		'actions', '[{"action_type": "WEBHOOK", "url": "https://example.com/hook"}]'::jsonb)))
$$;
-- fired: per row, the definitions that fired for it, in firing order
CREATE VIEW fired AS
SELECT t.label,
	   coalesce(string_agg(j.payload -> 'event' ->> 'name', ' ' ORDER BY j.id), '-') AS fired
  FROM tickets t LEFT JOIN automation.jobs j ON j.record_key = t.id::text
 GROUP BY t.id, t.label ORDER BY t.id;
CREATE FUNCTION reset() RETURNS void LANGUAGE sql AS $$
	DELETE FROM automation.rules;
	DELETE FROM automation.workflows;
	DELETE FROM automation.jobs;
	DELETE FROM automation.firings;
	DELETE FROM engine_relative_dates.tickets;
$$;

-------------------------------------------------------------------------------
-- 1. timestamptz, workflows: the boundaries are inclusive for within_*,
-- strict for older_than; NULL holds nothing
SELECT wf('last 3 days', 'due', 'within_last', '3 days') AS last3,
	   wf('next 2 hours', 'due', 'within_next', '2 hours') AS next2h,
	   wf('older 30 days', 'ticket.due', 'older_than', '30 days') AS older30;
INSERT INTO tickets (id, label, due) VALUES (1, 'now - 3 days', now() - interval '3 days');
INSERT INTO tickets (id, label, due) VALUES (2, 'now - 3 days - 1us', now() - interval '3 days 0.000001 seconds');
INSERT INTO tickets (id, label, due) VALUES (3, 'now', now());
INSERT INTO tickets (id, label, due) VALUES (4, 'now + 1us', now() + interval '0.000001 seconds');
INSERT INTO tickets (id, label, due) VALUES (5, 'now + 2 hours', now() + interval '2 hours');
INSERT INTO tickets (id, label, due) VALUES (6, 'now + 2 hours + 1us', now() + interval '2 hours 0.000001 seconds');
INSERT INTO tickets (id, label, due) VALUES (7, 'now - 30 days', now() - interval '30 days');
INSERT INTO tickets (id, label, due) VALUES (8, 'now - 30 days - 1us', now() - interval '30 days 0.000001 seconds');
INSERT INTO tickets (id, label, due) VALUES (9, 'null', NULL);
INSERT INTO tickets (id, label, due) VALUES (10, '-infinity', '-infinity');
INSERT INTO tickets (id, label, due) VALUES (11, 'infinity', 'infinity');
SELECT * FROM fired;
-- level-triggered: an edit of another column fires again while it holds
UPDATE tickets SET n = 1 WHERE id = 3;
SELECT count(*) AS fired_for_now FROM automation.jobs WHERE record_key = '3';
SELECT reset();

-------------------------------------------------------------------------------
-- 2. rules, timestamp (UTC wall-clock) and a month: calendar arithmetic in
-- UTC; value_int means days, and so does a bare number in value_string
SELECT rule('last 7 (int)', 'TICKET_CREATED', '{"field_path": "due_local", "operator": "WITHIN_LAST", "value_int": 7}') AS r1,
	   rule('next month', 'TICKET_CREATED', '{"field_path": "due_local", "operator": "WITHIN_NEXT", "value_string": "1 month"}') AS r2,
	   rule('older 90 min', 'TICKET_CREATED', '{"field_path": "due_local", "operator": "OLDER_THAN", "value_string": "90 minutes"}') AS r3,
	   rule('last 2 (text)', 'TICKET_CREATED', '{"field_path": "due_local", "operator": "WITHIN_LAST", "value_string": " 2 "}') AS r4;
INSERT INTO tickets (id, label, due_local) VALUES (1, 'utc now - 7 days', (now() AT TIME ZONE 'UTC') - interval '7 days');
INSERT INTO tickets (id, label, due_local) VALUES (2, 'utc now - 7 days - 1us', (now() AT TIME ZONE 'UTC') - interval '7 days 0.000001 seconds');
INSERT INTO tickets (id, label, due_local) VALUES (3, 'utc now - 2 days', (now() AT TIME ZONE 'UTC') - interval '2 days');
INSERT INTO tickets (id, label, due_local) VALUES (4, 'utc now - 90 min - 1us', (now() AT TIME ZONE 'UTC') - interval '90 minutes 0.000001 seconds');
INSERT INTO tickets (id, label, due_local) VALUES (5, 'utc now + 1 month', (now() AT TIME ZONE 'UTC') + interval '1 month');
INSERT INTO tickets (id, label, due_local) VALUES (6, 'utc now + 1 month + 1us', (now() AT TIME ZONE 'UTC') + interval '1 month 0.000001 seconds');
-- local wall-clock time (UTC+14) is not UTC: 14 hours ahead, so "in the future"
INSERT INTO tickets (id, label, due_local) VALUES (7, 'local now', now()::timestamp);
SELECT * FROM fired;
SELECT reset();

-------------------------------------------------------------------------------
-- 3. a date is its midnight UTC (a domain over date too); only rows whose
-- outcome does not depend on the hour the suite runs at
SELECT wf('date next day', 'due_date', 'within_next', '1 day') AS w1,
	   wf('date last day', 'due_date', 'within_last', '1') AS w2,
	   wf('date older 30', 'due_date', 'older_than', '30 days') AS w3,
	   rule('domain last day', 'TICKET_CREATED', '{"field_path": "due_day", "operator": "WITHIN_LAST", "value_int": 1}') AS r1;
INSERT INTO tickets (id, label, due_date, due_day) VALUES
	(1, 'utc today', (now() AT TIME ZONE 'UTC')::date, (now() AT TIME ZONE 'UTC')::date);
INSERT INTO tickets (id, label, due_date, due_day) VALUES
	(2, 'utc tomorrow', (now() AT TIME ZONE 'UTC')::date + 1, (now() AT TIME ZONE 'UTC')::date + 1);
INSERT INTO tickets (id, label, due_date, due_day) VALUES
	(3, 'utc today - 2', (now() AT TIME ZONE 'UTC')::date - 2, (now() AT TIME ZONE 'UTC')::date - 2);
INSERT INTO tickets (id, label, due_date) VALUES (4, 'utc today - 31', (now() AT TIME ZONE 'UTC')::date - 31);
INSERT INTO tickets (id, label, due_date) VALUES (5, 'utc today - 29', (now() AT TIME ZONE 'UTC')::date - 29);
INSERT INTO tickets (id, label, due_date) VALUES (6, '-infinity', '-infinity');
INSERT INTO tickets (id, label, due_date) VALUES (7, 'null', NULL);
SELECT * FROM fired;
SELECT reset();

-------------------------------------------------------------------------------
-- 4. explain shows the operator, the value as written and the reason
SELECT wf('explained', 'due', 'within_last', '3 days') AS w,
	   rule('explained rule', 'TICKET_UPDATED', '{"field_path": "due", "operator": "OLDER_THAN", "value_int": 10}') AS r;
SELECT e.name, e.fires, c ->> 'operator' AS operator, c ->> 'value' AS value, c ->> 'reason' AS reason
  FROM automation.explain('ticket', jsonb_build_object('id', 1, 'label', 'x', 'due', now() - interval '1 day'),
						  jsonb_build_object('id', 1, 'label', 'x')) e,
	   jsonb_array_elements(e.conditions) c
 ORDER BY e.name;
SELECT e.name, e.fires, c ->> 'reason' AS reason
  FROM automation.explain('ticket', jsonb_build_object('id', 1, 'label', 'x', 'due', now() - interval '11 days'),
						  jsonb_build_object('id', 1, 'label', 'x')) e,
	   jsonb_array_elements(e.conditions) c
 ORDER BY e.name;
SELECT e.name, e.fires, c ->> 'reason' AS reason
  FROM automation.explain('ticket', jsonb_build_object('id', 1, 'label', 'x', 'due', now() + interval '1 day'),
						  jsonb_build_object('id', 1, 'label', 'x')) e,
	   jsonb_array_elements(e.conditions) c
 ORDER BY e.name;
SELECT reset();

-------------------------------------------------------------------------------
-- 5. validation at creation: 22023 naming the key; nothing is created
-- the field: date, timestamp or timestamptz columns, not a json path
SELECT wf('v', 'label', 'within_last', '3 days');
SELECT wf('v', 'n', 'older_than', '3 days');
SELECT wf('v', 'custom.when', 'within_next', '3 days');
SELECT rule('v', 'TICKET_CREATED', '{"field_path": "label", "operator": "WITHIN_LAST", "value_int": 3}');
-- the value: an interval, not negative, at most 1000 years
SELECT wf('v', 'due', 'within_last', 'soon');
SELECT wf('v', 'due', 'within_last', '');
SELECT wf('v', 'due', 'within_last', '-3 days');
SELECT wf('v', 'due', 'older_than', '3 days ago');
SELECT wf('v', 'due', 'within_next', '1001 years');
SELECT wf('v', 'due', 'within_next', '99999999999');
SELECT rule('v', 'TICKET_CREATED', '{"field_path": "due", "operator": "WITHIN_LAST", "value_int": -1}');
SELECT rule('v', 'TICKET_CREATED', '{"field_path": "due", "operator": "WITHIN_LAST", "value_string": "abc"}');
SELECT rule('v', 'TICKET_CREATED', '{"field_path": "due", "operator": "WITHIN_LAST", "value_datetime": "2026-01-01T00:00:00Z"}');
SELECT rule('v', 'TICKET_CREATED', '{"field_path": "due", "operator": "WITHIN_LAST"}');
SELECT rule('v', 'TICKET_CREATED', '{"field_path": "due", "operator": "WITHIN_LAST", "value_int": 1, "value_string": "1 day"}');
SELECT count(*) AS workflows, (SELECT count(*) FROM automation.rules) AS rules FROM automation.workflows;
-- the limits themselves are accepted; level operators fit a DELETED rule
SELECT wf('zero', 'due', 'within_next', '0') AS zero,
	   wf('max', 'due', 'older_than', '1000 years') AS max,
	   rule('on delete', 'TICKET_DELETED', '{"field_path": "due", "operator": "OLDER_THAN", "value_string": "1 day"}') AS deleted;
INSERT INTO tickets (id, label, due) VALUES (1, 'old', now() - interval '2 days');
DELETE FROM tickets WHERE id = 1;
SELECT j.payload -> 'event' ->> 'name' AS fired, j.payload -> 'event' ->> 'operation' AS operation
  FROM automation.jobs j ORDER BY j.id;
-- the operators are in the vocabulary the hints list
SELECT wf('v', 'due', 'newer_than', '3 days');
SELECT reset();

DROP SCHEMA engine_relative_dates CASCADE;
