-- test/bench/setup.sql: schema, data and definition generator for engine.sh.
--
-- bench.deals (watched as entity "deal") and bench.deals_twin (identical,
-- no trigger), 100,000 rows each.  bench.add_definitions(n) brings the
-- number of active definitions on "deal" up to n, following the mix
-- described in doc/benchmark.md: definition k (k = 0, 1, 2, ...) has the
-- kind k % 10, except that k = 0 and k = 1 are the two workflows the
-- matching workload (match.sql) flips between.
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
 * add_definitions(n): create definitions k = current .. n-1 through the
 * definitions API.  Values never occur in the data (statuses are open,
 * qualified, proposal, negotiation; stage_id 1..10; value < 100,000), so
 * only the two flip workflows can ever fire.
 */
CREATE FUNCTION bench.add_definitions(n integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	have integer;
	hook constant jsonb := '{"url": "https://example.com/hooks/deal", "method": "POST"}';
	limit_ constant integer := 100000000;
BEGIN
	SELECT (SELECT count(*) FROM automation.workflows) + (SELECT count(*) FROM automation.rules)
	  INTO have;
	FOR k IN have .. n - 1 LOOP
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

/* The mix actually loaded, for the report. */
CREATE VIEW bench.mix AS
SELECT 'workflow' AS kind, condition_field || ' ' || condition_operator AS conditions, count(*) AS n
  FROM automation.workflows GROUP BY 2
UNION ALL
SELECT 'rule ' || trigger_type, conditions, count(*)
  FROM (SELECT r.trigger_type,
			   string_agg(c.field_path || ' ' || c.operator, ' AND ' ORDER BY c.sort_order) AS conditions
		  FROM automation.rules r JOIN automation.rule_conditions c ON c.rule_id = r.id
		 GROUP BY r.id, r.trigger_type) x
 GROUP BY 1, 2
 ORDER BY 1, 2;
VACUUM ANALYZE bench.deals;
VACUUM ANALYZE bench.deals_twin;
