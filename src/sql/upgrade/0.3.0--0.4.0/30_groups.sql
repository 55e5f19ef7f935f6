-- 30_groups.sql: condition groups (SPEC sections 3 and 5).  A rule's
-- conditions carry "group" (0..24, default 0): ANDed within a group, groups
-- ORed; at most 250 conditions per rule.  Existing conditions are group 0:
-- every rule keeps its meaning.
ALTER TABLE automation.rule_conditions ADD COLUMN "group" integer NOT NULL DEFAULT 0;

CREATE FUNCTION automation._rule_condition_label(i integer, grp integer)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN coalesce(grp, 0) = 0 THEN pg_catalog.format('conditions[%s]', i)
				ELSE pg_catalog.format('conditions[%s] (group %s)', i, grp) END
$$;
REVOKE ALL ON FUNCTION automation._rule_condition_label(integer, integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION automation._rule_conditions_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r automation.rules;
	label text;
BEGIN
	/* rows a restore loads were validated when first written (10_common.sql) */
	IF TG_OP = 'INSERT' AND automation._restoring(TG_RELID) THEN
		RETURN NEW;
	END IF;
	SELECT * INTO r FROM automation.rules x WHERE x.id = NEW.rule_id;
	IF NOT FOUND THEN
		RETURN NEW;				/* the foreign key reports it */
	END IF;
	IF TG_OP = 'INSERT' THEN
		label := automation._rule_condition_label(
			(SELECT count(*) FROM automation.rule_conditions x WHERE x.rule_id = NEW.rule_id)::integer, NEW."group");
		/* the API's limit holds for direct SQL too (the engine loads every one) */
		IF (SELECT count(*) FROM automation.rule_conditions x WHERE x.rule_id = NEW.rule_id) >= 250 THEN
			PERFORM automation._err('22023', format('a rule has at most 250 conditions'),
									format('rule %s already has 250', NEW.rule_id),
									'split it into several rules');
		END IF;
	ELSE
		label := format('condition %s', OLD.id);
	END IF;
	IF NEW.sort_order IS NULL THEN
		PERFORM automation._err('22023', format('%s.sort_order must be an integer', label), 'got null');
	END IF;
	IF NEW."group" IS NULL OR NEW."group" NOT BETWEEN 0 AND 24 THEN
		PERFORM automation._err('22023', format('%s.group is out of range', label),
								format('got %s, allowed 0 to 24', coalesce(NEW."group"::text, 'null')),
								'give a group number from 0 (the default) to 24');
	END IF;
	PERFORM automation._validate_rule_condition(r.entity_type, r.trigger_type, NEW, label);
	RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION automation._rule_list(b jsonb, key text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := b -> key;
	i integer;
	most CONSTANT integer := CASE key WHEN 'conditions' THEN 250 ELSE 100 END;
BEGIN
	IF v IS NULL THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) <> 'array' THEN
		PERFORM automation._err('22023', format('%s must be an array', key),
								'got ' || automation._json_desc(v),
								format('give "%s": [{...}] or form keys %s[0][...]', key, key));
	END IF;
	IF jsonb_array_length(v) > most THEN
		PERFORM automation._err('22023', format('%s must have at most %s elements', key, most),
								format('got %s', jsonb_array_length(v)),
								'split the rule');
	END IF;
	IF jsonb_array_length(v) = 0 THEN
		PERFORM automation._err('22023', format('%s must have at least 1 element', key),
								'got 0',
								CASE key WHEN 'conditions' THEN 'add a condition' ELSE 'add an action' END);
	END IF;
	FOR i IN 0 .. jsonb_array_length(v) - 1 LOOP
		IF jsonb_typeof(v -> i) <> 'object' THEN
			PERFORM automation._err('22023', format('%s[%s] must be an object', key, i),
									'got ' || automation._json_desc(v -> i));
		END IF;
	END LOOP;
	RETURN v;
END
$$;

CREATE OR REPLACE FUNCTION automation._rule_insert_children(rid uuid, conds jsonb, acts jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c jsonb;
	i integer;
	label text;
	row_ automation.rule_conditions;
	s text;
	x jsonb;
BEGIN
	FOR i IN 0 .. coalesce(jsonb_array_length(conds), 0) - 1 LOOP
		c := conds -> i;
		label := format('conditions[%s]', i);
		PERFORM automation._check_keys(c, '{field_path,operator,sort_order,value_int,value_string,value_bool,value_datetime,value_array,group}', label);
		row_ := NULL;
		/* the group first: every later error names it */
		row_."group" := coalesce(automation._json_int(c, 'group', label || '.group', 0, 24, true, true), 0);
		label := automation._rule_condition_label(i, row_."group");
		/* a null value key is an absent one (blank form values were
		 * already made absent by _rule_blanks, via _rule_body) */
		c := c - ARRAY(SELECT e.key FROM jsonb_each(c) e
						WHERE e.key LIKE 'value\_%' AND jsonb_typeof(e.value) = 'null');
		row_.field_path := automation._json_text(c, 'field_path', label || '.field_path', true);
		row_.operator := automation._json_text(c, 'operator', label || '.operator', true);
		row_.sort_order := coalesce(automation._json_int(c, 'sort_order', label || '.sort_order', -2147483648, 2147483647, true, true), 0);
		row_.value_int := automation._json_int(c, 'value_int', label || '.value_int', -9223372036854775807, 9223372036854775807);
		row_.value_string := automation._json_text(c, 'value_string', label || '.value_string');
		row_.value_bool := automation._json_bool(c, 'value_bool', label || '.value_bool');
		IF c ? 'value_datetime' THEN
			s := automation._json_text(c, 'value_datetime', label || '.value_datetime');
			IF s !~ '^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}' OR NOT automation._value_parses(s, 'timestamptz'::regtype, -1) THEN
				PERFORM automation._err('22023', format('%s.value_datetime is not a valid date/time', label),
										format('got %s', automation._show(s)),
										'give an ISO 8601 timestamp, e.g. 2026-04-17T11:05:00Z');
			END IF;
			row_.value_datetime := s::timestamptz;
		END IF;
		IF c ? 'value_array' THEN
			x := c -> 'value_array';
			IF jsonb_typeof(x) <> 'array' THEN
				PERFORM automation._err('22023', format('%s.value_array must be an array', label),
										'got ' || automation._json_desc(x),
										format('give ["a", "b"] or form keys %s[value_array][0], [1], ...', label));
			END IF;
			IF EXISTS (SELECT 1 FROM jsonb_array_elements(x) e WHERE jsonb_typeof(e) NOT IN ('string', 'number', 'boolean')) THEN
				PERFORM automation._err('22023', format('%s.value_array elements must be strings, numbers or booleans', label),
										format('got %s', automation._show_json(x)));
			END IF;
			row_.value_array := ARRAY(SELECT e #>> '{}' FROM jsonb_array_elements(x) WITH ORDINALITY AS t(e, o) ORDER BY o);
		END IF;
		INSERT INTO automation.rule_conditions (rule_id, sort_order, field_path, operator, value_int,
												value_string, value_bool, value_datetime, value_array,
												"group")
		VALUES (rid, row_.sort_order, row_.field_path, row_.operator, row_.value_int, row_.value_string,
				row_.value_bool, row_.value_datetime, row_.value_array, row_."group");
	END LOOP;
	FOR i IN 0 .. coalesce(jsonb_array_length(acts), 0) - 1 LOOP
		c := acts -> i;
		label := format('actions[%s]', i);
		INSERT INTO automation.rule_actions (rule_id, sort_order, action_type, config)
		VALUES (rid,
				coalesce(automation._json_int(c, 'sort_order', label || '.sort_order', -2147483648, 2147483647, true, true), 0),
				automation._json_text(c, 'action_type', label || '.action_type', true),
				c - 'action_type' - 'sort_order');
	END LOOP;
END
$$;
