-- engine_clock_index: the candidate index of relative dates (candidates.c,
-- "clock index").  A group that only a within_last / within_next /
-- older_than condition guards is filed under the condition's interval,
-- sorted per column; a row is a candidate of the spans its distance from
-- now passes (one binary search each way), not evaluated against every
-- such definition.  The index must leave out nothing that holds: here
-- several intervals share each column (the binary search has something to
-- search), rows sit on and one microsecond around every boundary, at the
-- infinities and NULL, on timestamptz, timestamp and date columns, and
-- the trigger's firings are compared with explain, which evaluates every
-- definition without the index, in the same transaction (same now()).
-- An interval with months is not indexable (the definition is evaluated
-- on every row) and must fire the same.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA engine_clock_index;
SET search_path = engine_clock_index, public;
\i sql/include/helpers.sql
SET TimeZone = 'UTC';	-- rows are written with UTC calendar arithmetic, as the engine's

CREATE TABLE t (id int PRIMARY KEY, label text NOT NULL, status text,
	at timestamptz, at_local timestamp, day date);
SELECT automation.watch('thing', 't') ->> 'entity' AS watched;

CREATE FUNCTION wf(name text, field text, op text, val text) RETURNS text
LANGUAGE sql AS $$
	SELECT try(format('SELECT automation.create_workflow(%L)', jsonb_build_object('name', name,
		'condition_entity', 'thing', 'condition_field', field,
		'condition_operator', op, 'condition_value', val,
		'action_type', 'webhook', 'action_config', '{"url": "https://example.com/hook"}'::jsonb)))
$$;

-- several spans per operator and column, in no particular order
SELECT wf('last 3d', 'at', 'within_last', '3 days') AS a,
	   wf('last 1d', 'at', 'within_last', '1 day') AS b,
	   wf('last 30d', 'at', 'within_last', '30 days') AS c,
	   wf('last 90m', 'at', 'within_last', '90 minutes') AS d,
	   wf('next 1d', 'at', 'within_next', '1 day') AS e,
	   wf('next 3d', 'at', 'within_next', '3 days') AS f,
	   wf('next 0', 'at', 'within_next', '0') AS g,
	   wf('older 3d', 'at', 'older_than', '3 days') AS h,
	   wf('older 1d', 'at', 'older_than', '1 day') AS i,
	   wf('older 30d', 'at', 'older_than', '30') AS j,
	   wf('older 1mon', 'at', 'older_than', '1 mon') AS k,
	   wf('last 1mon', 'at', 'within_last', '1 mon 2 days') AS l,
	   wf('local older 36h', 'at_local', 'older_than', '36 hours') AS m,
	   wf('local next 2d', 'at_local', 'within_next', '2 days') AS n,
	   wf('day last 2', 'day', 'within_last', '2') AS o,
	   wf('day older 1', 'day', 'older_than', '1') AS p;
-- a rule: (status = 'won') OR (at within the last 2 days): the second
-- group is guarded by the clock index only
SELECT try(format('SELECT automation.create_rule(%L)', jsonb_build_object('name', 'won or recent',
	'entity_type', 'thing', 'trigger_type', 'THING_CREATED',
	'conditions', '[{"field_path": "status", "operator": "EQUALS", "value_string": "won", "group": 0},
					{"field_path": "at", "operator": "WITHIN_LAST", "value_string": "2 days", "group": 1}]'::jsonb,
	'actions', '[{"action_type": "WEBHOOK", "url": "https://example.com/hook"}]'::jsonb))) AS rule;

-- the rows, relative to now(), and in the same transaction each row's
-- explain: every definition that fires according to one and not the other
BEGIN;
INSERT INTO t (id, label, status, at, at_local, day)
SELECT n, label, CASE WHEN n = 3 THEN 'won' END,
	   now() + o, (now() AT TIME ZONE 'UTC') + o, ((now() AT TIME ZONE 'UTC') + o)::date
  FROM (VALUES (1, '-31d', interval '-31 days'), (2, '-30d', '-30 days'),
			   (3, '-30d-1us', '-30 days -1 microsecond'), (4, '-3d-1us', '-3 days -1 microsecond'),
			   (5, '-3d', '-3 days'), (6, '-3d+1us', '-3 days 1 microsecond'),
			   (7, '-36h', '-36 hours'), (8, '-2d', '-2 days'), (9, '-1d-1us', '-1 day -1 microsecond'),
			   (10, '-1d', '-1 day'), (11, '-90m', '-90 minutes'), (12, '-1us', '-1 microsecond'),
			   (13, 'now', '0'), (14, '+1us', '1 microsecond'), (15, '+1d', '1 day'),
			   (16, '+1d+1us', '1 day 1 microsecond'), (17, '+2d', '2 days'), (18, '+3d', '3 days'),
			   (19, '+3d+1us', '3 days 1 microsecond'), (20, '-1mon-2d', '-1 mon -2 days'),
			   (21, '-1mon-2d-1us', '-1 mon -2 days -1 microsecond'), (22, '-40d', '-40 days'))
	   AS r(n, label, o);
INSERT INTO t (id, label, at, at_local, day) VALUES
	(23, 'infinity', 'infinity', 'infinity', 'infinity'),
	(24, '-infinity', '-infinity', '-infinity', '-infinity'),
	(25, 'null', NULL, NULL, NULL);
SELECT count(*) AS disagreements
  FROM (SELECT t.id, x.name
		  FROM t, automation.explain('thing', to_jsonb(t)) x WHERE x.fires) e
  FULL JOIN (SELECT record_key::int AS id, coalesce(w.name, r.name) AS name
			   FROM automation.firings f
			   LEFT JOIN automation.workflows w ON w.id = f.workflow_id
			   LEFT JOIN automation.rules r ON r.id = f.rule_id) g USING (id, name)
 WHERE e.name IS NULL OR g.name IS NULL;
COMMIT;
-- what fired, per row (the semantics: engine_relative_dates)
SELECT t.label, string_agg(coalesce(w.name, r.name), ', ' ORDER BY coalesce(w.name, r.name)) AS fired
  FROM t LEFT JOIN automation.firings f ON f.record_key = t.id::text
  LEFT JOIN automation.workflows w ON w.id = f.workflow_id
  LEFT JOIN automation.rules r ON r.id = f.rule_id
 GROUP BY t.id, t.label ORDER BY t.id;

-- an UPDATE that moves a row across a boundary is decided on NEW
BEGIN;
DELETE FROM automation.firings;
UPDATE t SET at = now() - interval '2 days', status = 'x' WHERE id = 22;
SELECT string_agg(coalesce(w.name, r.name), ', ' ORDER BY coalesce(w.name, r.name)) AS fired
  FROM automation.firings f
  LEFT JOIN automation.workflows w ON w.id = f.workflow_id
  LEFT JOIN automation.rules r ON r.id = f.rule_id;
COMMIT;

SET client_min_messages = warning;
DROP SCHEMA engine_clock_index CASCADE;
RESET client_min_messages;
