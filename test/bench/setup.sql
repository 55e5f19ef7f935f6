-- test/bench/setup.sql: schema, data and definition generator for engine.sh.
--
-- bench.deals (watched as entity "deal") and bench.deals_twin (identical,
-- no trigger), 100,000 rows each.  bench.add_definitions(n, mix) brings the
-- number of active definitions on "deal" up to n, following the mix
-- described in doc/benchmark.md: definition k (k = 0, 1, 2, ...) has the
-- kind k % 10, except that k = 0 and k = 1 are the two workflows the
-- matching workload (match.sql) flips between.  mix 'basic' (the default)
-- is the mix of 0.1.0-0.3.0 and runs on any version; mix 'full' (0.4.0 and
-- later) puts the rules language of 0.4.0 in it: rules with 2 and 3
-- condition groups, fire_when becomes_true (the two flip workflows
-- included), relative-date conditions.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS automation;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;

CREATE TABLE bench.deals (
	id integer PRIMARY KEY,
	name text NOT NULL,
	status text NOT NULL,
	stage_id integer NOT NULL,
	value numeric(14, 2) NOT NULL,
	owner_id integer,
	tags text[] NOT NULL DEFAULT '{}',
	custom jsonb NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 85);
CREATE INDEX deals_owner_idx ON bench.deals (owner_id);

INSERT INTO bench.deals (id, name, status, stage_id, value, owner_id, tags, custom)
SELECT g, 'Deal ' || g,
	   (ARRAY['open', 'qualified', 'proposal', 'negotiation'])[1 + g % 4],
	   1 + g % 10, (g % 997) * 100.25, 1 + g % 50,
	   ARRAY['crm', 'q' || (1 + g % 4)],
	   jsonb_build_object('industry', (ARRAY['saas', 'retail', 'energy'])[1 + g % 3])
  FROM generate_series(1, 100000) g;

CREATE TABLE bench.deals_twin (LIKE bench.deals INCLUDING ALL) WITH (fillfactor = 85);
INSERT INTO bench.deals_twin SELECT * FROM bench.deals;

SELECT automation.watch('deal', 'bench.deals') IS NOT NULL AS watched;

/*
 * add_full(k): definition k of the 'full' mix (doc/benchmark.md, "0.4.0").
 * Kinds 1, 2, 4, 6, 7 are those of the basic mix; the others carry the
 * rules language of 0.4.0.  As in the basic mix no constant occurs in the
 * data and no relative date holds (created_at and updated_at are the load
 * time or later), so only the two flip workflows ever fire.
 */
CREATE FUNCTION bench.add_full(k integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	hook constant jsonb := '{"url": "https://example.com/hooks/deal", "method": "POST"}';
	limit_ constant integer := 100000000;
	notify constant jsonb := jsonb_build_array(jsonb_build_object('action_type', 'NOTIFY', 'recipient', 'ops', 'message', 'rule {{rule.name}}'));
	kind integer := k % 10;
	field text;
	operator text;
	value text;
	fire_when text := 'every_change';
BEGIN
	IF k < 2 THEN
		-- the flips, level-triggered and edge-fired by becomes_true: the
		-- same one firing per transaction as changed_to, with OLD evaluated
		kind := -1;
		field := 'status'; operator := 'equals';
		value := CASE k WHEN 0 THEN 'bench_a' ELSE 'bench_b' END;
		fire_when := 'becomes_true';
	ELSIF kind = 0 THEN
		-- half of them becomes_true
		field := 'status'; operator := 'equals'; value := 'status ' || k;
		IF (k / 10) % 2 = 1 THEN fire_when := 'becomes_true'; END IF;
	ELSIF kind = 1 THEN
		field := 'status'; operator := 'changed_to'; value := 'status ' || k;
	ELSIF kind = 2 THEN
		field := 'stage_id'; operator := 'changed_to'; value := (1000 + k)::text;
	ELSIF kind = 3 THEN
		field := 'stage_id'; operator := 'equals'; value := (1000 + k)::text;
		fire_when := 'becomes_true';
	ELSIF kind = 4 THEN
		field := 'owner_id'; operator := 'changed'; value := '';
	ELSIF kind = 9 AND (k / 10) % 5 = 4 THEN
		-- one in five: a relative date nothing guards, evaluated on every row
		field := 'created_at'; operator := 'older_than'; value := '3650 days';
	ELSIF kind = 9 THEN
		field := 'value'; operator := 'greater_than'; value := (100000000 + k)::text;
	END IF;
	IF field IS NOT NULL THEN
		PERFORM automation.create_workflow(jsonb_build_object(
			'name', CASE WHEN k < 2 THEN 'flip ' ELSE 'wf ' END || k, 'condition_entity', 'deal',
			'condition_field', field, 'condition_operator', operator, 'condition_value', value,
			'fire_when', fire_when,
			'action_type', 'webhook', 'action_config', hook,
			'max_triggers_per_day', limit_));
		RETURN;
	END IF;
	CASE kind
	WHEN 5 THEN
		-- 2 groups, becomes_true: (status AND value) OR (stage_id AND, for
		-- half of them, created_at within the last 30 days; else value)
		PERFORM automation.create_rule(jsonb_build_object(
			'name', 'rule ' || k, 'entity_type', 'deal', 'trigger_type', 'DEAL_UPDATED',
			'fire_when', 'becomes_true',
			'conditions', jsonb_build_array(
				jsonb_build_object('field_path', 'status', 'operator', 'EQUALS', 'value_string', 'rstatus ' || k, 'sort_order', 0, 'group', 0),
				jsonb_build_object('field_path', 'value', 'operator', 'GT', 'value_int', 50000, 'sort_order', 1, 'group', 0),
				jsonb_build_object('field_path', 'stage_id', 'operator', 'EQUALS', 'value_int', 1000 + k, 'sort_order', 2, 'group', 1),
				CASE WHEN (k / 10) % 2 = 0
					THEN jsonb_build_object('field_path', 'created_at', 'operator', 'WITHIN_LAST', 'value_string', '30 days', 'sort_order', 3, 'group', 1)
					ELSE jsonb_build_object('field_path', 'value', 'operator', 'LT', 'value_int', 1000, 'sort_order', 3, 'group', 1) END),
			'actions', jsonb_build_array(jsonb_build_object('action_type', 'NOTIFY', 'recipient', 'sales', 'message', 'Deal {{deal.name}}'))));
	WHEN 6 THEN
		PERFORM automation.create_rule(jsonb_build_object(
			'name', 'rule ' || k, 'entity_type', 'deal', 'trigger_type', 'DEAL_UPDATED',
			'conditions', jsonb_build_array(
				jsonb_build_object('field_path', 'stage_id', 'operator', 'CHANGED_TO', 'value_int', 1000 + k, 'sort_order', 0)),
			'actions', jsonb_build_array(jsonb_build_object('action_type', 'TAG', 'tag', 'stage ' || k))));
	WHEN 7 THEN
		PERFORM automation.create_rule(jsonb_build_object(
			'name', 'rule ' || k, 'entity_type', 'deal', 'trigger_type', 'DEAL_UPDATED',
			'conditions', jsonb_build_array(
				jsonb_build_object('field_path', (ARRAY['name', 'tags', 'custom.industry'])[1 + (k / 10) % 3], 'operator', 'CHANGED', 'sort_order', 0),
				jsonb_build_object('field_path', 'value', 'operator', 'GTE', 'value_int', 10000 + k, 'sort_order', 1)),
			'actions', jsonb_build_array(jsonb_build_object('action_type', 'NOTIFY', 'recipient', 'ops', 'message', '{{deal.name}} changed'))));
	ELSE	-- 8: 3 groups: the basic mix's (text/value AND owner_id IN), OR
			-- status IN (two values), OR status AND updated_at older than 10 years
		PERFORM automation.create_rule(jsonb_build_object(
			'name', 'rule ' || k, 'entity_type', 'deal', 'trigger_type', 'DEAL_UPDATED',
			'conditions', jsonb_build_array(
				jsonb_build_object('field_path', (ARRAY['name', 'tags', 'value'])[1 + (k / 10) % 3],
					'operator', (ARRAY['STARTS_WITH', 'CONTAINS', 'GTE'])[1 + (k / 10) % 3],
					'value_' || (ARRAY['string', 'string', 'int'])[1 + (k / 10) % 3],
					CASE (k / 10) % 3 WHEN 0 THEN to_jsonb('vip ' || k) WHEN 1 THEN to_jsonb('tag ' || k) ELSE to_jsonb(200000 + k) END,
					'sort_order', 0, 'group', 0),
				jsonb_build_object('field_path', 'owner_id', 'operator', 'IN', 'value_array', jsonb_build_array((1 + k % 50)::text, (2 + k % 50)::text), 'sort_order', 1, 'group', 0),
				jsonb_build_object('field_path', 'status', 'operator', 'IN', 'value_array', jsonb_build_array('won ' || k, 'lost ' || k), 'sort_order', 2, 'group', 1),
				jsonb_build_object('field_path', 'status', 'operator', 'EQUALS', 'value_string', 'stale ' || k, 'sort_order', 3, 'group', 2),
				jsonb_build_object('field_path', 'updated_at', 'operator', 'OLDER_THAN', 'value_string', '3650 days', 'sort_order', 4, 'group', 2)),
			'actions', notify));
	END CASE;
END
$$;

/*
 * add_definitions(n, mix): create definitions k = current .. n-1 through
 * the definitions API.  Values never occur in the data (statuses are open,
 * qualified, proposal, negotiation; stage_id 1..10; value < 100,000), so
 * only the two flip workflows can ever fire.
 */
CREATE FUNCTION bench.add_definitions(n integer, mix text DEFAULT 'basic') RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	full_ constant boolean := mix = 'full';
	have integer;
	hook constant jsonb := '{"url": "https://example.com/hooks/deal", "method": "POST"}';
	limit_ constant integer := 100000000;
BEGIN
	SELECT (SELECT count(*) FROM automation.workflows) + (SELECT count(*) FROM automation.rules)
	  INTO have;
	IF mix NOT IN ('basic', 'full') THEN
		RAISE EXCEPTION 'mix is basic or full, not %', mix;
	END IF;
	FOR k IN have .. n - 1 LOOP
		IF full_ THEN
			PERFORM bench.add_full(k);
			CONTINUE;
		END IF;
		IF k < 2 THEN
			PERFORM automation.create_workflow(jsonb_build_object(
				'name', 'flip ' || k, 'condition_entity', 'deal',
				'condition_field', 'status', 'condition_operator', 'changed_to',
				'condition_value', CASE k WHEN 0 THEN 'bench_a' ELSE 'bench_b' END,
				'action_type', 'webhook', 'action_config', hook,
				'max_triggers_per_day', limit_));
			CONTINUE;
		END IF;
		CASE k % 10
		WHEN 0, 1, 2, 3, 4, 9 THEN
			PERFORM automation.create_workflow(jsonb_build_object(
				'name', 'wf ' || k, 'condition_entity', 'deal',
				'condition_field', (ARRAY['status', 'status', 'stage_id', 'stage_id', 'owner_id', 'value'])[1 + CASE WHEN k % 10 = 9 THEN 5 ELSE k % 10 END],
				'condition_operator', (ARRAY['equals', 'changed_to', 'changed_to', 'equals', 'changed', 'greater_than'])[1 + CASE WHEN k % 10 = 9 THEN 5 ELSE k % 10 END],
				'condition_value', CASE k % 10
					WHEN 0 THEN 'status ' || k WHEN 1 THEN 'status ' || k
					WHEN 2 THEN (1000 + k)::text WHEN 3 THEN (1000 + k)::text
					WHEN 4 THEN '' ELSE (100000000 + k)::text END,
				'action_type', 'webhook', 'action_config', hook,
				'max_triggers_per_day', limit_));
		WHEN 5 THEN
			PERFORM automation.create_rule(jsonb_build_object(
				'name', 'rule ' || k, 'entity_type', 'deal', 'trigger_type', 'DEAL_UPDATED',
				'conditions', jsonb_build_array(
					jsonb_build_object('field_path', 'status', 'operator', 'EQUALS', 'value_string', 'rstatus ' || k, 'sort_order', 0),
					jsonb_build_object('field_path', 'value', 'operator', 'GT', 'value_int', 50000, 'sort_order', 1)),
				'actions', jsonb_build_array(jsonb_build_object('action_type', 'NOTIFY', 'recipient', 'sales', 'message', 'Deal {{deal.name}}'))));
		WHEN 6 THEN
			PERFORM automation.create_rule(jsonb_build_object(
				'name', 'rule ' || k, 'entity_type', 'deal', 'trigger_type', 'DEAL_UPDATED',
				'conditions', jsonb_build_array(
					jsonb_build_object('field_path', 'stage_id', 'operator', 'CHANGED_TO', 'value_int', 1000 + k, 'sort_order', 0)),
				'actions', jsonb_build_array(jsonb_build_object('action_type', 'TAG', 'tag', 'stage ' || k))));
		WHEN 7 THEN
			PERFORM automation.create_rule(jsonb_build_object(
				'name', 'rule ' || k, 'entity_type', 'deal', 'trigger_type', 'DEAL_UPDATED',
				'conditions', jsonb_build_array(
					jsonb_build_object('field_path', (ARRAY['name', 'tags', 'custom.industry'])[1 + (k / 10) % 3], 'operator', 'CHANGED', 'sort_order', 0),
					jsonb_build_object('field_path', 'value', 'operator', 'GTE', 'value_int', 10000 + k, 'sort_order', 1)),
				'actions', jsonb_build_array(jsonb_build_object('action_type', 'NOTIFY', 'recipient', 'ops', 'message', '{{deal.name}} changed'))));
		ELSE	-- 8: level-triggered, no equality and no edge: evaluated on every row
			PERFORM automation.create_rule(jsonb_build_object(
				'name', 'rule ' || k, 'entity_type', 'deal', 'trigger_type', 'DEAL_UPDATED',
				'conditions', jsonb_build_array(
					jsonb_build_object('field_path', (ARRAY['name', 'tags', 'value'])[1 + (k / 10) % 3],
						'operator', (ARRAY['STARTS_WITH', 'CONTAINS', 'GTE'])[1 + (k / 10) % 3],
						'value_' || (ARRAY['string', 'string', 'int'])[1 + (k / 10) % 3],
						CASE (k / 10) % 3 WHEN 0 THEN to_jsonb('vip ' || k) WHEN 1 THEN to_jsonb('tag ' || k) ELSE to_jsonb(200000 + k) END,
						'sort_order', 0),
					jsonb_build_object('field_path', 'owner_id', 'operator', 'IN', 'value_array', jsonb_build_array((1 + k % 50)::text, (2 + k % 50)::text), 'sort_order', 1)),
				'actions', jsonb_build_array(jsonb_build_object('action_type', 'NOTIFY', 'recipient', 'ops', 'message', 'rule {{rule.name}}'))));
		END CASE;
	END LOOP;
	RETURN n;
END
$$;

/*
 * The mix actually loaded, for the report; with 0.4.0's columns, groups
 * are ORed and becomes_true definitions are marked.
 */
DO $$
DECLARE
	v04 constant boolean := EXISTS (SELECT FROM pg_attribute
		WHERE attrelid = 'automation.rule_conditions'::regclass AND attname = 'group');
BEGIN
	EXECUTE format($v$
CREATE VIEW bench.mix AS
SELECT 'workflow' AS kind, condition_field || ' ' || condition_operator || %s AS conditions, count(*) AS n
  FROM automation.workflows GROUP BY 2
UNION ALL
SELECT 'rule ' || trigger_type, conditions, count(*)
  FROM (SELECT r.trigger_type, string_agg(g.conditions, ' OR ' ORDER BY g.grp) || %s AS conditions
		  FROM automation.rules r
		  JOIN (SELECT c.rule_id, %s AS grp,
					   string_agg(c.field_path || ' ' || c.operator, ' AND ' ORDER BY c.sort_order) AS conditions
				  FROM automation.rule_conditions c GROUP BY 1, 2) g ON g.rule_id = r.id
		 GROUP BY r.id, r.trigger_type) x
 GROUP BY 1, 2
 ORDER BY 1, 2
$v$,
		CASE WHEN v04 THEN $q$CASE WHEN fire_when = 'becomes_true' THEN ' (becomes_true)' ELSE '' END$q$ ELSE $q$''$q$ END,
		CASE WHEN v04 THEN $q$CASE WHEN bool_or(r.fire_when = 'becomes_true') THEN ' (becomes_true)' ELSE '' END$q$ ELSE $q$''$q$ END,
		CASE WHEN v04 THEN 'c."group"' ELSE '0' END);
END
$$;
VACUUM ANALYZE bench.deals;
VACUUM ANALYZE bench.deals_twin;
