-- test/e2e/engine_agree.sql: the randomized agreement test of the decision
-- path (driven by engine_agree.sh, which says how to run it).
--
-- Random definitions (workflows and rules: groups, up to 25 of them, fire_when, operators of
-- every value kind, relative dates (the clock index), tenants, cooldowns, breakers, stop_subsequent_rules,
-- priorities, trigger types) and random row events, from a fixed seed.  For
-- each event, in its own transaction: automation.explain() predicts, then the
-- change is made, and what the trigger recorded (firings and their outcomes,
-- jobs per definition) is compared with the prediction.
--
-- To extend (backtest counts, enrollment, new operators): add a generator
-- branch in agree.make_condition / agree.make_definitions, and one more
-- "observer" in agree.step(): a function of the same event that writes its
-- view into agree.seen(step, observer, definition, outcome, jobs); the
-- check at the end compares every observer with 'trigger'.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS agree CASCADE;
RESET client_min_messages;
CREATE SCHEMA agree;
CREATE TABLE agree.items (id int PRIMARY KEY, tenant text, status text, score int,
	tags text[], data jsonb, due timestamptz);
SELECT automation.watch('item', 'agree.items', 'id', 'tenant') IS NOT NULL AS watched;
SELECT setseed(:seed);

-- pick(array): a random element
CREATE FUNCTION agree.pick(a anyarray) RETURNS anyelement LANGUAGE sql VOLATILE AS
$$ SELECT a[1 + floor(random() * cardinality(a))::int] $$;

-- a random rule condition: field, operator and the value key it takes
CREATE FUNCTION agree.make_condition(trig text, grp int) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	f text := agree.pick(ARRAY['status', 'score', 'tags', 'data.k', 'tenant', 'due']);
	ops text[];
	op text;
	c jsonb;
BEGIN
	ops := CASE f
		WHEN 'status' THEN ARRAY['EQUALS', 'NOT_EQUALS', 'IN', 'NOT_IN', 'CONTAINS', 'NOT_CONTAINS', 'STARTS_WITH',
								 'ENDS_WITH', 'EXISTS', 'NOT_EXISTS', 'CHANGED', 'CHANGED_TO', 'CHANGED_FROM']
		WHEN 'score' THEN ARRAY['EQUALS', 'NOT_EQUALS', 'GT', 'GTE', 'LT', 'LTE', 'IN', 'NOT_IN', 'EXISTS', 'CHANGED',
								'CHANGED_TO', 'CHANGED_FROM']
		WHEN 'tags' THEN ARRAY['CONTAINS', 'NOT_CONTAINS', 'EXISTS', 'CHANGED']
		WHEN 'data.k' THEN ARRAY['EQUALS', 'NOT_EQUALS', 'EXISTS', 'NOT_EXISTS', 'CHANGED', 'CHANGED_TO']
		WHEN 'due' THEN ARRAY['WITHIN_LAST', 'WITHIN_NEXT', 'OLDER_THAN', 'WITHIN_LAST', 'OLDER_THAN', 'EXISTS']
		ELSE ARRAY['EQUALS', 'EXISTS'] END;
	IF trig LIKE '%DELETED' THEN
		ops := ARRAY(SELECT o FROM unnest(ops) o WHERE o NOT LIKE 'CHANGED%');
	END IF;
	op := agree.pick(ops);
	c := jsonb_build_object('field_path', f, 'operator', op, 'group', grp,
							'sort_order', floor(random() * 3)::int);
	IF op IN ('IN', 'NOT_IN') THEN
		c := c || jsonb_build_object('value_array', CASE f WHEN 'score'
			THEN to_jsonb(ARRAY[floor(random() * 6)::int::text, floor(random() * 6)::int::text])
			ELSE to_jsonb(ARRAY[agree.pick(ARRAY['new', 'open', 'won']), agree.pick(ARRAY['lost', 'won', 'Open'])]) END);
	ELSIF op IN ('EXISTS', 'NOT_EXISTS', 'CHANGED') THEN
		IF random() < 0.3 THEN c := c || jsonb_build_object('value_bool', random() < 0.5); END IF;
	ELSIF f = 'score' THEN
		c := c || jsonb_build_object('value_int', floor(random() * 6)::int);
	ELSIF f = 'due' THEN
		c := c || CASE WHEN random() < 0.3 THEN jsonb_build_object('value_int', floor(random() * 20)::int)
			ELSE jsonb_build_object('value_string', agree.pick(ARRAY['12 hours', '3 days', '10 days', '1 mon', '2 days 6 hours'])) END;
	ELSIF op IN ('STARTS_WITH', 'ENDS_WITH') THEN
		c := c || jsonb_build_object('value_string', agree.pick(ARRAY['o', 'n', 'W', 'st']));
	ELSIF f = 'tags' THEN
		c := c || jsonb_build_object('value_string', agree.pick(ARRAY['a', 'b', 'c']));
	ELSIF f = 'tenant' THEN
		c := c || jsonb_build_object('value_string', agree.pick(ARRAY['t1', 't2']));
	ELSE
		c := c || jsonb_build_object('value_string', agree.pick(ARRAY['new', 'open', 'won', 'lost', 'WON']));
	END IF;
	RETURN c;
END $$;

-- random workflows and rules; a definition validation refuses is skipped
CREATE FUNCTION agree.make_definitions(nworkflows int, nrules int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	made_w int := 0;
	made_r int := 0;
	trig text;
	conds jsonb;
	ngroups int;
	grp int;
	op text;
	f text;
	v text;
BEGIN
	FOR i IN 1 .. nworkflows LOOP
		PERFORM set_config('automation.tenant', agree.pick(ARRAY['', '', 't1', 't2']), true);
		f := agree.pick(ARRAY['status', 'score', 'status', 'score', 'due']);
		op := CASE WHEN f = 'due' THEN agree.pick(ARRAY['within_last', 'within_next', 'older_than'])
			ELSE agree.pick(ARRAY['equals', 'not_equals', 'contains', 'greater_than', 'less_than', 'changed', 'changed_to']) END;
		v := CASE WHEN op = 'changed' THEN '' WHEN f = 'score' THEN floor(random() * 6)::int::text
				  WHEN f = 'due' THEN agree.pick(ARRAY['1 day', '5 days', '12 hours', '1 mon', '15'])
				  ELSE agree.pick(ARRAY['new', 'open', 'won', 'Won']) END;
		BEGIN
			PERFORM automation.create_workflow(jsonb_build_object('name', 'w' || i,
				'condition_entity', 'item', 'condition_field', f, 'condition_operator', op,
				'condition_value', v, 'action_type', 'webhook',
				'action_config', jsonb_build_object('url', 'https://hooks.example.com/w' || i),
				'max_triggers_per_day', 1 + floor(random() * 6)::int,
				'fire_when', agree.pick(ARRAY['every_change', 'becomes_true'])));
			made_w := made_w + 1;
		EXCEPTION WHEN sqlstate '22023' THEN NULL;
		END;
	END LOOP;
	FOR i IN 1 .. nrules LOOP
		PERFORM set_config('automation.tenant', agree.pick(ARRAY['', '', 't1', 't2']), true);
		trig := agree.pick(ARRAY['ITEM_CREATED', 'ITEM_UPDATED', 'ITEM_UPDATED', 'ITEM_DELETED']);
		conds := '[]';
		IF random() < 0.3 THEN
			-- group-heavy: 4 to 25 groups spread over 0-24, so that the
			-- trigger, which evaluates only the groups whose index guard
			-- hit, is compared with explain, which evaluates every group
			FOREACH grp IN ARRAY ARRAY(SELECT x FROM generate_series(0, 24) x
									   ORDER BY random() LIMIT 4 + floor(random() * 22)::int) LOOP
				FOR k IN 1 .. 1 + floor(random() * 2)::int LOOP
					conds := conds || agree.make_condition(trig, grp);
				END LOOP;
			END LOOP;
		ELSE
			ngroups := 1 + floor(random() * 3)::int;
			FOR g IN 0 .. ngroups - 1 LOOP
				FOR k IN 1 .. 1 + floor(random() * 3)::int LOOP
					conds := conds || agree.make_condition(trig, g * (1 + floor(random() * 8)::int));
				END LOOP;
			END LOOP;
		END IF;
		BEGIN
			PERFORM automation.create_rule(jsonb_build_object('name', 'r' || i,
				'entity_type', 'item', 'trigger_type', trig, 'conditions', conds,
				'priority', floor(random() * 5)::int,
				'stop_subsequent_rules', random() < 0.2,
				'cooldown_hours', agree.pick(ARRAY[NULL, NULL, 0, 1]),
				'fire_when', agree.pick(ARRAY['every_change', 'becomes_true']),
				'actions', (SELECT jsonb_agg(jsonb_build_object('action_type', 'NOTIFY',
						'recipient', 'ops', 'message', 'r' || i || ' {{item.id}}'))
							  FROM generate_series(1, 1 + floor(random() * 2)::int))));
			made_r := made_r + 1;
		EXCEPTION WHEN sqlstate '22023' THEN NULL;
		END;
	END LOOP;
	PERFORM set_config('automation.tenant', '', true);
	RETURN made_w || ' workflows, ' || made_r || ' rules';
END $$;
SELECT agree.make_definitions(:workflows, :rules) AS made;

-- a random row (its id given)
CREATE FUNCTION agree.random_row(id int) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
	SELECT jsonb_build_object('id', id,
		'tenant', agree.pick(ARRAY[NULL, 't1', 't2', 't2']),
		'status', agree.pick(ARRAY[NULL, 'new', 'open', 'Open', 'won', 'lost']),
		'score', CASE WHEN random() < 0.15 THEN NULL ELSE floor(random() * 6)::int END,
		'tags', agree.pick(ARRAY['{}', '{a}', '{a,b}', '{C}', NULL]::text[][]),
		'data', agree.pick(ARRAY['{}', '{"k": "won"}', '{"k": "new"}', '{"k": null}', NULL]::jsonb[]),
		'due', CASE WHEN random() < 0.1 THEN NULL WHEN random() < 0.05 THEN '-infinity'::timestamptz
			ELSE now() + (random() * 60 - 30) * interval '1 day' END)
$$;

-- the events, drawn before any is applied: op, row id, and for an update
-- the columns to change (a random row's values for a random subset)
CREATE TABLE agree.events (step int PRIMARY KEY, op text, id int, change jsonb);
INSERT INTO agree.events
SELECT s, op, id, CASE op WHEN 'INSERT' THEN agree.random_row(id)
	WHEN 'UPDATE' THEN (SELECT jsonb_object_agg(key, value) FROM jsonb_each(agree.random_row(id))
						 WHERE key <> 'id' AND random() < 0.4) END
  FROM (SELECT s, agree.pick(ARRAY['INSERT', 'INSERT', 'UPDATE', 'UPDATE', 'UPDATE', 'DELETE']) AS op,
			   1 + floor(random() * :rows)::int AS id
		  FROM generate_series(1, :events) s) e;

CREATE TABLE agree.seen (step int, observer text, definition text, outcome text, jobs int);

-- step(n): predict with explain, apply the change, record what fired
CREATE FUNCTION agree.step(n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	e agree.events := (SELECT x FROM agree.events x WHERE x.step = n);
	old_row jsonb := (SELECT to_jsonb(t) FROM agree.items t WHERE t.id = e.id);
	new_row jsonb;
	op text := e.op;
	last_firing bigint := coalesce((SELECT max(id) FROM automation.firings), 0);
	last_job bigint := coalesce((SELECT max(id) FROM automation.jobs), 0);
BEGIN
	/* an insert of an existing id updates it; a missing row is inserted */
	IF op IN ('UPDATE', 'DELETE') AND old_row IS NULL THEN
		op := 'INSERT';
		e.change := agree.random_row(e.id);
	ELSIF op = 'INSERT' AND old_row IS NOT NULL THEN
		op := 'UPDATE';
	END IF;
	new_row := CASE op WHEN 'INSERT' THEN e.change WHEN 'UPDATE' THEN old_row || coalesce(e.change, '{}') END;

	/* observer: explain, before the change */
	INSERT INTO agree.seen
	SELECT n, 'explain', x.id,
		   CASE WHEN x.fires THEN 'fired'
				WHEN x.reason LIKE 'the conditions hold, but the rule is in cooldown%' THEN 'cooldown'
				WHEN x.reason LIKE 'the conditions hold, but the circuit breaker%' THEN 'circuit_breaker'
				WHEN x.reason LIKE 'the conditions hold, but the loop guard%' THEN 'depth_limit' END,
		   CASE WHEN x.fires THEN CASE x.source WHEN 'workflow' THEN 1
				ELSE (SELECT count(*) FROM automation.rule_actions a WHERE a.rule_id::text = x.id) END ELSE 0 END
	  FROM automation.explain('item', CASE WHEN op <> 'DELETE' THEN new_row END,
							  CASE WHEN op <> 'INSERT' THEN old_row END) x
	 WHERE x.fires OR x.reason LIKE 'the conditions hold, but %'
		   AND x.reason NOT LIKE '%fire_when becomes_true%';

	/* the change, made exactly as predicted */
	IF op = 'INSERT' THEN
		INSERT INTO agree.items SELECT * FROM jsonb_populate_record(NULL::agree.items, new_row);
	ELSIF op = 'UPDATE' THEN
		UPDATE agree.items t SET tenant = r.tenant, status = r.status, score = r.score, tags = r.tags, data = r.data,
			due = r.due
		  FROM jsonb_populate_record(NULL::agree.items, new_row) r WHERE t.id = e.id;
	ELSE
		DELETE FROM agree.items t WHERE t.id = e.id;
	END IF;

	/* observer: the trigger, what it recorded */
	INSERT INTO agree.seen
	SELECT n, 'trigger', coalesce(f.workflow_id, f.rule_id::text), f.outcome,
		   (SELECT count(*) FROM automation.jobs j
			 WHERE j.id > last_job AND coalesce(j.workflow_id, j.rule_id::text) = coalesce(f.workflow_id, f.rule_id::text))
	  FROM automation.firings f WHERE f.id > last_firing;
END $$;

-- observer: backtest (issue 12 item 5), every 200 steps and at the end.
-- Backtest's matched count of each definition over the current rows must
-- equal the rows for which the trigger fires (any outcome: a firing row is
-- recorded for every match) when the same rows are inserted, each
-- definition on its own: in a subtransaction rolled back afterwards, rules
-- are made ITEM_CREATED without stop_subsequent_rules, workflows enabled
-- with a budget no run reaches, and the rows deleted and inserted again.
CREATE TABLE agree.backtest_seen (round int, definition text, backtest int, trigger int);
CREATE FUNCTION agree.backtest_round(n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	mark bigint := coalesce((SELECT max(id) FROM automation.firings), 0);
	fired jsonb;
BEGIN
	INSERT INTO agree.backtest_seen (round, definition, backtest)
	SELECT n, d.id, (automation.backtest(d.id, 0) ->> 'matched')::int
	  FROM (SELECT w.id FROM automation.workflows w UNION ALL SELECT r.id::text FROM automation.rules r) d;
	BEGIN
		UPDATE automation.rules SET stop_subsequent_rules = false, trigger_type = 'ITEM_CREATED', is_active = true;
		UPDATE automation.workflows SET enabled = true, max_triggers_per_day = 1000000;
		CREATE TEMP TABLE agree_rows AS SELECT * FROM agree.items;
		DELETE FROM agree.items;
		INSERT INTO agree.items SELECT * FROM agree_rows ORDER BY id;
		SELECT jsonb_object_agg(d, c) INTO fired
		  FROM (SELECT coalesce(f.workflow_id, f.rule_id::text) AS d, count(*) AS c FROM automation.firings f
				 WHERE f.id > mark AND f.operation = 'INSERT' GROUP BY 1) x;
		RAISE EXCEPTION USING ERRCODE = 'ZX901';
	EXCEPTION WHEN sqlstate 'ZX901' THEN
		NULL;				/* everything above is rolled back */
	END;
	UPDATE agree.backtest_seen s SET trigger = coalesce((fired ->> s.definition)::int, 0) WHERE s.round = n;
END $$;

\o /dev/null
SELECT format('SELECT agree.step(%s)', step),
	   CASE WHEN step % 200 = 0 THEN format('SELECT agree.backtest_round(%s)', step) END
  FROM agree.events ORDER BY step \gexec
SELECT agree.backtest_round(:events + 1);
\o

-- coverage: what the trigger did, by outcome
SELECT 'outcome ' || outcome || ': ' || count(*) AS coverage FROM agree.seen WHERE observer = 'trigger' GROUP BY outcome ORDER BY 1;
-- disagreements: (step, definition, outcome, jobs) seen by one observer only
SELECT coalesce(t.step, x.step) AS step, coalesce(t.definition, x.definition) AS definition,
	   t.outcome AS trigger_outcome, t.jobs AS trigger_jobs, x.outcome AS explain_outcome, x.jobs AS explain_jobs
  FROM (SELECT * FROM agree.seen WHERE observer = 'trigger') t
  FULL JOIN (SELECT * FROM agree.seen WHERE observer = 'explain') x
	ON x.step = t.step AND x.definition = t.definition
 WHERE t.outcome IS DISTINCT FROM x.outcome OR t.jobs IS DISTINCT FROM x.jobs
 ORDER BY 1, 2 LIMIT 20;
SELECT 'disagreements: ' || count(*) AS result
  FROM (SELECT * FROM agree.seen WHERE observer = 'trigger') t
  FULL JOIN (SELECT * FROM agree.seen WHERE observer = 'explain') x
	ON x.step = t.step AND x.definition = t.definition
 WHERE t.outcome IS DISTINCT FROM x.outcome OR t.jobs IS DISTINCT FROM x.jobs;

-- backtest: definitions whose matched count differs from the trigger's firings
SELECT 'backtest rounds: ' || count(DISTINCT round) || ', comparisons: ' || count(*)
	   || ', matches: ' || sum(trigger) AS backtest_coverage FROM agree.backtest_seen;
SELECT round, definition, backtest, trigger FROM agree.backtest_seen
 WHERE backtest IS DISTINCT FROM trigger ORDER BY 1, 2 LIMIT 20;
SELECT 'backtest mismatches: ' || count(*) AS backtest_result FROM agree.backtest_seen
 WHERE backtest IS DISTINCT FROM trigger;
