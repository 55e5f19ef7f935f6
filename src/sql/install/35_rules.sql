/*
 * 35_rules.sql: rules (SPEC section 5, seed 002).
 *
 *   automation.create_rule(body jsonb, idempotency_key uuid) -> jsonb
 *   automation.get_rule(id uuid) -> jsonb
 *   automation.update_rule(id uuid, patch jsonb) -> jsonb
 *   automation.delete_rule(id uuid) -> void
 *
 * A body is nested JSON ("conditions": [{...}]) or the seed's multipart
 * fields as a flat object ("conditions[0][operator]": "EQUALS");
 * _rule_body turns the second into the first, and one code path coerces
 * values ("10" -> 10, "true"/"1" -> true, "" -> null where a blank means
 * absent), so both give the same rule.
 *
 * Invariants: every row of rules, rule_conditions and rule_actions passed
 * the BEFORE triggers below (the only copy of the rules of SPEC section 5);
 * a committed rule has at least one condition and one action (deferred
 * constraint triggers; create_rule and update_rule also check at once).
 */

/* Rule operators and action types: the vocabulary (05_vocabulary.sql, generated). */

/*
 * _rule_condition_label: how errors name condition row i of a rule:
 * conditions[i], and its group when it is not 0 ("conditions[3] (group 1)").
 */
CREATE FUNCTION automation._rule_condition_label(i integer, grp integer)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN coalesce(grp, 0) = 0 THEN pg_catalog.format('conditions[%s]', i)
				ELSE pg_catalog.format('conditions[%s] (group %s)', i, grp) END
$$;

/*
 * _validate_rule_condition: one condition of a rule on entity with
 * trigger_type; label names it in errors (conditions[0]).
 */
CREATE FUNCTION automation._validate_rule_condition(entity text, trigger_type text,
													c automation.rule_conditions, label text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f automation._field;
	js boolean;
	given text[];
	op text := c.operator;
	o record;
	typ text;
	e text;
	allowed_hint text;
	bad boolean;
BEGIN
	SELECT * INTO o FROM automation._operators() x WHERE x.rule = op;
	IF op IS NULL OR NOT FOUND THEN
		PERFORM automation._err('22023', format('invalid %s.operator %s', label, automation._show(op)),
								NULL, 'use one of: ' || array_to_string(automation._rule_operators(), ', '));
	END IF;
	f := automation._resolve_field(entity, c.field_path, label || '.field_path');
	js := automation._is_json_field(f);
	typ := format_type(f.type_oid, f.typmod);
	given := array_remove(ARRAY[
		CASE WHEN c.value_int IS NOT NULL THEN 'value_int' END,
		CASE WHEN c.value_string IS NOT NULL THEN 'value_string' END,
		CASE WHEN c.value_bool IS NOT NULL THEN 'value_bool' END,
		CASE WHEN c.value_datetime IS NOT NULL THEN 'value_datetime' END,
		CASE WHEN c.value_array IS NOT NULL THEN 'value_array' END], NULL);

	IF o.trigger = 'edge' AND trigger_type LIKE '%\_DELETED' THEN
		PERFORM automation._err('22023', format('%s.operator %s does not fit trigger_type %s', label, op, trigger_type),
								'a deleted row has no change to compare',
								'use EQUALS, EXISTS, ... on a DELETED rule, or trigger on _UPDATED');
	END IF;

	/* the value keys of the operator's value form (the vocabulary's "value") */
	CASE o.value
		WHEN 'list' THEN
			allowed_hint := 'value_array';
			bad := given IS DISTINCT FROM '{value_array}';
		WHEN 'ordered' THEN
			allowed_hint := 'value_int or value_datetime';
			bad := NOT given && '{value_int,value_datetime}';
		WHEN 'string' THEN
			allowed_hint := 'value_string';
			bad := given IS DISTINCT FROM '{value_string}';
		WHEN 'flag' THEN
			allowed_hint := 'no value, or value_bool';
			bad := cardinality(given) = 1 AND given <> '{value_bool}';
		WHEN 'scalar' THEN
			allowed_hint := 'exactly one of value_int, value_string, value_bool, value_datetime';
			bad := NOT given && '{value_int,value_string,value_bool,value_datetime}';
		WHEN 'interval' THEN
			allowed_hint := 'value_string (an interval) or value_int (days)';
			bad := NOT given && '{value_int,value_string}';
	END CASE;
	IF cardinality(given) > 1 THEN
		PERFORM automation._err('22023', format('%s has more than one value key', label),
								format('given: %s', array_to_string(given, ', ')),
								format('operator %s takes %s', op, allowed_hint));
	END IF;
	IF bad THEN
		PERFORM automation._err('22023', format('%s: operator %s takes %s', label, op, allowed_hint),
								format('given: %s', coalesce(nullif(array_to_string(given, ', '), ''), 'no value key')),
								format('set %s and no other value key', allowed_hint));
	END IF;

	/* the field must fit the operator, and the value key the field's type */
	PERFORM automation._check_operator_field(o.field, op, f, format('%s.operator %s', label, op),
											 format('field %s', automation._show(c.field_path)));
	IF o.value = 'interval' THEN
		PERFORM automation._check_interval(coalesce(c.value_string, c.value_int::text),
										   format('%s.%s', label, given[1]));
		RETURN;
	END IF;
	IF c.value_int IS NOT NULL THEN
		IF NOT js AND f.category <> 'N' THEN
			PERFORM automation._err('22023', format('%s.value_int does not fit field %s', label, automation._show(c.field_path)),
									format('column %s is %s', automation._show(f.column_name), typ),
									CASE f.category WHEN 'D' THEN 'use value_datetime' WHEN 'B' THEN 'use value_bool'
										 ELSE 'use value_string' END);
		END IF;
		PERFORM automation._check_value(f, c.value_int::text, label || '.value_int');
	END IF;
	IF c.value_datetime IS NOT NULL AND NOT js AND f.category <> 'D' THEN
		PERFORM automation._err('22023', format('%s.value_datetime does not fit field %s', label, automation._show(c.field_path)),
								format('column %s is %s', automation._show(f.column_name), typ),
								CASE f.category WHEN 'N' THEN 'use value_int' WHEN 'B' THEN 'use value_bool'
									 ELSE 'use value_string' END);
	END IF;
	IF c.value_bool IS NOT NULL AND o.value <> 'flag' AND NOT js AND f.category <> 'B' THEN
		PERFORM automation._err('22023', format('%s.value_bool does not fit field %s', label, automation._show(c.field_path)),
								format('column %s is %s', automation._show(f.column_name), typ),
								CASE f.category WHEN 'N' THEN 'use value_int' WHEN 'D' THEN 'use value_datetime'
									 ELSE 'use value_string' END);
	END IF;
	IF c.value_string IS NOT NULL THEN
		IF length(c.value_string) > 10000 THEN
			PERFORM automation._err('22023', format('%s.value_string is too long', label),
									format('%s characters, limit 10000', length(c.value_string)));
		END IF;
		IF NOT js AND f.category IN ('N', 'D', 'B') AND o.field <> 'text_array' THEN
			PERFORM automation._err('22023', format('%s.value_string does not fit field %s', label, automation._show(c.field_path)),
									format('column %s is %s', automation._show(f.column_name), typ),
									CASE f.category WHEN 'N' THEN 'use value_int' WHEN 'D' THEN 'use value_datetime'
										 ELSE 'use value_bool' END);
		END IF;
		IF NOT js AND o.field <> 'text' THEN
			PERFORM automation._check_value(f, c.value_string, label || '.value_string',
											o.field = 'text_array');
		END IF;
	END IF;
	IF c.value_array IS NOT NULL THEN
		IF cardinality(c.value_array) NOT BETWEEN 1 AND 1000 THEN
			PERFORM automation._err('22023', format('%s.value_array must have 1 to 1000 elements', label),
									format('got %s', cardinality(c.value_array)));
		END IF;
		IF array_position(c.value_array, NULL) IS NOT NULL THEN
			PERFORM automation._err('22023', format('%s.value_array must not contain null', label),
									format('element %s is null', array_position(c.value_array, NULL) - 1));
		END IF;
		IF NOT js THEN
			FOREACH e IN ARRAY c.value_array LOOP
				PERFORM automation._check_value(f, e, label || '.value_array element', true);
			END LOOP;
		END IF;
	END IF;
END
$$;

/* _rules_validate: BEFORE INSERT OR UPDATE on automation.rules. */
CREATE FUNCTION automation._rules_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	other uuid;
	c automation.rule_conditions;
	a automation.rule_actions;
	i integer;
	valid text[];
BEGIN
	/* rows a restore loads were validated when first written (10_common.sql) */
	IF TG_OP = 'INSERT' AND automation._restoring(TG_RELID) THEN
		RETURN NEW;
	END IF;
	IF TG_OP = 'UPDATE' THEN
		IF NEW.id IS DISTINCT FROM OLD.id THEN
			PERFORM automation._err('22023', 'the id of a rule cannot change', format('rule %s', OLD.id));
		END IF;
		IF NEW IS NOT DISTINCT FROM OLD THEN
			RETURN NEW;
		END IF;
		NEW.updated_at := clock_timestamp();
	ELSIF NEW.id IS NULL THEN
		PERFORM automation._err('22023', 'id must not be null', NULL, 'leave id to its default');
	END IF;
	IF NEW.name IS NULL OR length(NEW.name) NOT BETWEEN 1 AND 191 OR btrim(NEW.name) = '' THEN
		PERFORM automation._err('22023', 'name must be 1 to 191 characters',
								format('got %s', automation._show(NEW.name)),
								'give a non-blank name of at most 191 characters');
	END IF;
	SELECT r.id INTO other FROM automation.rules r
	 WHERE coalesce(r.tenant_id, '') = coalesce(NEW.tenant_id, '') AND r.name = NEW.name
	   AND r.id <> NEW.id;
	IF other IS NOT NULL THEN
		PERFORM automation._err('23505', 'duplicate rule name',
								format('name %s is taken by rule %s', automation._show(NEW.name), other),
								'choose another name');
	END IF;
	IF length(NEW.description) > 1000 THEN
		PERFORM automation._err('22023', 'description must be at most 1000 characters',
								format('got %s characters', length(NEW.description)));
	END IF;
	IF NEW.entity_type IS NULL OR NOT EXISTS (SELECT 1 FROM automation.entities e WHERE e.name = NEW.entity_type) THEN
		PERFORM automation._err('22023', format('entity_type %s is not watched', automation._show(NEW.entity_type)),
								format('watched entities: %s', coalesce((SELECT string_agg(e.name, ', ' ORDER BY e.name) FROM automation.entities e), 'none')),
								'call automation.watch(entity, table) first');
	END IF;
	valid := ARRAY[upper(NEW.entity_type) || '_CREATED', upper(NEW.entity_type) || '_UPDATED',
				   upper(NEW.entity_type) || '_DELETED'];
	IF NEW.trigger_type IS NULL OR NEW.trigger_type <> ALL (valid) THEN
		PERFORM automation._err('22023', format('invalid trigger_type %s', automation._show(NEW.trigger_type)),
								format('entity_type %s allows %s', automation._show(NEW.entity_type), array_to_string(valid, ', ')),
								'use one of those');
	END IF;
	IF NEW.priority IS NULL OR NEW.priority NOT BETWEEN 0 AND 100 THEN
		PERFORM automation._err('22023', 'priority is out of range',
								format('got %s, allowed 0 to 100', coalesce(NEW.priority::text, 'null')),
								'give an integer from 0 (first) to 100 (last); default 50');
	END IF;
	IF NEW.is_active IS NULL THEN
		PERFORM automation._err('22023', 'is_active must be a boolean', 'got null', 'give true or false');
	END IF;
	IF NEW.stop_subsequent_rules IS NULL THEN
		PERFORM automation._err('22023', 'stop_subsequent_rules must be a boolean', 'got null', 'give true or false');
	END IF;
	IF NEW.cooldown_hours < 0 OR NEW.cooldown_hours > 87600 THEN
		PERFORM automation._err('22023', 'cooldown_hours is out of range',
								format('got %s, allowed 0 to 87600 or null', NEW.cooldown_hours),
								'give a number of hours, or null for no cooldown');
	END IF;
	PERFORM automation._check_fire_when(NEW.fire_when);
	IF TG_OP = 'INSERT' OR NEW.created_by IS DISTINCT FROM OLD.created_by
	   OR NEW.entity_type IS DISTINCT FROM OLD.entity_type THEN
		PERFORM automation._check_creator(NEW.created_by);
	END IF;
	PERFORM automation._validate_payload_columns(NEW.entity_type, NEW.payload_columns);

	/* a new entity, trigger type or creator: the existing rows must still fit */
	IF TG_OP = 'UPDATE' AND (NEW.entity_type, NEW.trigger_type, NEW.created_by)
	   IS DISTINCT FROM (OLD.entity_type, OLD.trigger_type, OLD.created_by) THEN
		i := 0;
		FOR c IN SELECT * FROM automation.rule_conditions x WHERE x.rule_id = NEW.id ORDER BY x.sort_order, x.id LOOP
			PERFORM automation._validate_rule_condition(NEW.entity_type, NEW.trigger_type, c,
														automation._rule_condition_label(i, c."group"));
			i := i + 1;
		END LOOP;
		i := 0;
		FOR a IN SELECT * FROM automation.rule_actions x WHERE x.rule_id = NEW.id ORDER BY x.sort_order, x.id LOOP
			PERFORM automation._validate_action(lower(a.action_type), a.config, NEW.entity_type, 'rule',
												format('actions[%s]', i), NEW.created_by, NEW.tenant_id);
			i := i + 1;
		END LOOP;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER rules_validate
	BEFORE INSERT OR UPDATE ON automation.rules
	FOR EACH ROW EXECUTE FUNCTION automation._rules_validate();

/*
 * _rule_conditions_validate: BEFORE INSERT OR UPDATE on rule_conditions.
 * A new row is labelled conditions[n], n = the rule's rows so far.
 */
CREATE FUNCTION automation._rule_conditions_validate()
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

CREATE TRIGGER rule_conditions_validate
	BEFORE INSERT OR UPDATE ON automation.rule_conditions
	FOR EACH ROW EXECUTE FUNCTION automation._rule_conditions_validate();

/* _rule_actions_validate: BEFORE INSERT OR UPDATE on rule_actions. */
CREATE FUNCTION automation._rule_actions_validate()
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
		label := format('actions[%s]', (SELECT count(*) FROM automation.rule_actions x WHERE x.rule_id = NEW.rule_id));
		/* the API's limit holds for direct SQL too (the engine loads every one) */
		IF (SELECT count(*) FROM automation.rule_actions x WHERE x.rule_id = NEW.rule_id) >= 100 THEN
			PERFORM automation._err('22023', format('a rule has at most 100 actions'),
									format('rule %s already has 100', NEW.rule_id),
									'split it into several rules');
		END IF;
	ELSE
		label := format('action %s', OLD.id);
	END IF;
	IF NEW.sort_order IS NULL THEN
		PERFORM automation._err('22023', format('%s.sort_order must be an integer', label), 'got null');
	END IF;
	IF NEW.action_type IS NULL OR NEW.action_type <> ALL (automation._rule_action_types()) THEN
		PERFORM automation._err('22023', format('invalid %s.action_type %s', label, automation._show(NEW.action_type)),
								NULL, 'use one of: ' || array_to_string(automation._rule_action_types(), ', '));
	END IF;
	PERFORM automation._check_creator(r.created_by);
	NEW.config := automation._validate_action(lower(NEW.action_type), NEW.config, r.entity_type, 'rule',
											  label, r.created_by, r.tenant_id);
	RETURN NEW;
END
$$;

CREATE TRIGGER rule_actions_validate
	BEFORE INSERT OR UPDATE ON automation.rule_actions
	FOR EACH ROW EXECUTE FUNCTION automation._rule_actions_validate();

/*
 * _rules_complete: deferred check that a rule has at least one condition
 * and one action when its transaction commits.
 */
CREATE FUNCTION automation._rules_complete()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rid uuid;
	rname text;
BEGIN
	IF TG_TABLE_NAME = 'rules' THEN
		rid := NEW.id;
	ELSE
		rid := OLD.rule_id;
	END IF;
	SELECT r.name INTO rname FROM automation.rules r WHERE r.id = rid;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	/* a restore loads the rules before their conditions and actions */
	IF TG_OP = 'INSERT' AND automation._restoring(TG_RELID) THEN
		RETURN NULL;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM automation.rule_conditions c WHERE c.rule_id = rid) THEN
		PERFORM automation._err('22023', 'conditions must have at least 1 element',
								format('rule %s (%s) has no condition', automation._show(rname), rid),
								'add a condition to automation.rule_conditions in the same transaction');
	END IF;
	IF NOT EXISTS (SELECT 1 FROM automation.rule_actions a WHERE a.rule_id = rid) THEN
		PERFORM automation._err('22023', 'actions must have at least 1 element',
								format('rule %s (%s) has no action', automation._show(rname), rid),
								'add an action to automation.rule_actions in the same transaction');
	END IF;
	RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER rules_complete
	AFTER INSERT OR UPDATE ON automation.rules
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION automation._rules_complete();
CREATE CONSTRAINT TRIGGER rule_conditions_complete
	AFTER UPDATE OR DELETE ON automation.rule_conditions
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION automation._rules_complete();
CREATE CONSTRAINT TRIGGER rule_actions_complete
	AFTER UPDATE OR DELETE ON automation.rule_actions
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION automation._rules_complete();

/* _user_pools_in_use: BEFORE DELETE on user_pools; ASSIGN_USER actions name it. */
CREATE FUNCTION automation._user_pools_in_use()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	SELECT count(DISTINCT a.rule_id) INTO n FROM automation.rule_actions a
	 WHERE a.action_type = 'ASSIGN_USER' AND a.config ->> 'assign_pool_id' = OLD.id::text;
	IF n > 0 THEN
		PERFORM automation._err('2BP01', format('user pool %s is still used', automation._show(OLD.name)),
								format('%s rule(s) assign from it', n),
								'delete or change those rules first');
	END IF;
	RETURN OLD;
END
$$;

CREATE TRIGGER user_pools_in_use
	BEFORE DELETE ON automation.user_pools
	FOR EACH ROW EXECUTE FUNCTION automation._user_pools_in_use();

/*
 * _rule_blanks: a nested rule body whose blank optional fields ("" or
 * spaces) take their defaults (SPEC section 5: "A blank optional form field
 * takes its default"; doc/definitions.md lists them).  Applied to every
 * body, form or nested JSON (a flat body without brackets cannot be told
 * from nested JSON); on update_rule a blank field is set to its default,
 * not left unchanged.  Blank required fields stay as they are and fail
 * their validation, which names the field.  Free text (value_string,
 * message, body, a task's column values...) keeps a blank: it is a value.
 */
CREATE FUNCTION automation._rule_blanks(b jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH d (part, defaults, absent) AS (VALUES
		('top', jsonb '{"priority": 50, "is_active": true, "stop_subsequent_rules": false,
						"cooldown_hours": null, "description": null, "payload_columns": null,
						"fire_when": "every_change", "enroll_existing": false}', '{}'::text[]),
		('conditions', jsonb '{"sort_order": 0, "group": 0}',
		 '{value_int,value_bool,value_datetime}'),
		('actions', jsonb '{"sort_order": 0}',
		 '{delay_minutes,method,headers,assign_field,stage_field,tags_field}')),
	fix (part, i, fixed) AS (
		SELECT d.part, o.i,
			   CASE WHEN jsonb_typeof(o.obj) = 'object' THEN
					(SELECT coalesce(jsonb_object_agg(x.k,
								CASE WHEN x.blank AND d.defaults ? x.k THEN d.defaults -> x.k ELSE x.v END), '{}')
					   FROM (SELECT e.key AS k, e.value AS v,
									jsonb_typeof(e.value) = 'string' AND btrim(e.value #>> '{}') = '' AS blank
							   FROM jsonb_each(o.obj) e) x
					  WHERE NOT (x.blank AND x.k = ANY (d.absent)))
			   ELSE o.obj END
		  FROM d
		 CROSS JOIN LATERAL (
			SELECT b AS obj, 0::bigint AS i WHERE d.part = 'top'
			UNION ALL
			SELECT e.obj, e.i FROM jsonb_array_elements(CASE WHEN jsonb_typeof(b -> d.part) = 'array'
															  THEN b -> d.part END) WITH ORDINALITY AS e(obj, i)
			 WHERE d.part <> 'top') o)
	SELECT CASE WHEN jsonb_typeof(b) <> 'object' THEN b ELSE
		(SELECT f.fixed FROM fix f WHERE f.part = 'top')
		|| coalesce((SELECT jsonb_object_agg(l.part, l.list)
					   FROM (SELECT f.part, jsonb_agg(f.fixed ORDER BY f.i) AS list FROM fix f
							  WHERE f.part <> 'top' GROUP BY f.part) l), '{}')
	END
$$;

/*
 * _rule_body: a rule body as nested JSON.  A body with a key containing
 * '[' is read as multipart form fields: conditions[i][key],
 * conditions[i][value_array][j] (or [] once), actions[i][key],
 * actions[i][key][name] (an object member, e.g. headers); indexes give the
 * order and may be sparse.
 */
CREATE FUNCTION automation._rule_body(body jsonb, what text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
	v jsonb;
	segs text[];
	nseg integer;
	top jsonb := '{}';
	a_arr text[] := '{}';
	a_idx integer[] := '{}';
	a_key text[] := '{}';
	a_sub text[] := '{}';
	a_n integer[] := '{}';
	a_val jsonb[] := '{}';
	p_idx text[] := '{}';
	p_val jsonb[] := '{}';
	lists jsonb;
	bad text;
BEGIN
	IF body IS NULL OR jsonb_typeof(body) <> 'object' THEN
		PERFORM automation._err('22023', format('%s must be a JSON object', what),
								format('got %s', automation._show_json(body)),
								'pass nested JSON {"name": ..., "conditions": [...], "actions": [...]} or the form fields as a flat object');
	END IF;
	IF (SELECT count(*) FROM jsonb_object_keys(body)) > 2000 THEN
		PERFORM automation._err('22023', format('%s has too many keys', what),
								format('%s keys, limit 2000', (SELECT count(*) FROM jsonb_object_keys(body))));
	END IF;
	IF NOT EXISTS (SELECT 1 FROM jsonb_object_keys(body) x WHERE strpos(x, '[') > 0) THEN
		RETURN automation._rule_blanks(body);
	END IF;
	FOR k, v IN SELECT e.key, e.value FROM jsonb_each(body) e LOOP
		segs := automation._form_key_parse(k);
		nseg := cardinality(segs);
		/* payload_columns[i] / payload_columns[] (once): the list, in index order */
		IF segs[1] = 'payload_columns' AND nseg > 1 THEN
			IF nseg <> 2 OR segs[2] !~ '^[0-9]*$' THEN
				PERFORM automation._err('22023', format('unsupported form key %s', automation._show(k)),
										NULL, 'use payload_columns[<index>] or payload_columns[]');
			END IF;
			IF body ? 'payload_columns' THEN
				PERFORM automation._err('22023', format('%s mixes nested payload_columns with form keys', what),
										NULL, 'send either "payload_columns": [...] or payload_columns[0] keys, not both');
			END IF;
			p_idx := p_idx || segs[2];
			p_val := p_val || v;
			CONTINUE;
		END IF;
		IF nseg = 1 THEN
			IF k IN ('conditions', 'actions') THEN
				PERFORM automation._err('22023', format('%s mixes nested %s with form keys', what, k),
										NULL, format('send either "%s": [...] or %s[0][...] keys, not both', k, k));
			END IF;
			top := top || jsonb_build_object(k, v);
			CONTINUE;
		END IF;
		IF segs[1] NOT IN ('conditions', 'actions') THEN
			PERFORM automation._err('22023', format('unknown form key %s', automation._show(k)),
									'only conditions[i][...] and actions[i][...] have brackets',
									'check the key''s spelling');
		END IF;
		IF segs[2] !~ '^[0-9]+$' OR nseg < 3 OR segs[3] = '' OR segs[3] ~ '^[0-9]+$' OR nseg > 4
		   OR (nseg = 4 AND segs[1] = 'conditions' AND (segs[3] <> 'value_array' OR segs[4] !~ '^[0-9]*$'))
		   OR (nseg = 4 AND segs[1] = 'actions' AND segs[4] ~ '^[0-9]*$') THEN
			PERFORM automation._err('22023', format('unsupported form key %s', automation._show(k)),
									NULL, format('use %s[<index>][<key>]%s', segs[1],
												 CASE segs[1] WHEN 'conditions' THEN ' or conditions[<index>][value_array][<index>]'
												 ELSE ' or actions[<index>][<key>][<name>]' END));
		END IF;
		a_arr := a_arr || segs[1];
		a_idx := a_idx || segs[2]::integer;
		a_key := a_key || segs[3];
		a_sub := a_sub || CASE WHEN nseg = 4 THEN segs[4] END;
		a_n := a_n || nseg;
		a_val := a_val || v;
	END LOOP;
	/* a key given both whole and by parts */
	SELECT format('%s[%s][%s]', t.arr, t.idx, t.key) INTO bad
	  FROM unnest(a_arr, a_idx, a_key, a_n) AS t(arr, idx, key, n)
	 GROUP BY t.arr, t.idx, t.key HAVING count(DISTINCT t.n) > 1
	 ORDER BY 1 LIMIT 1;
	IF bad IS NOT NULL THEN
		PERFORM automation._err('22023', format('form key %s is given both whole and by parts', bad),
								NULL, 'send one of them');
	END IF;
	WITH t AS (
		SELECT * FROM unnest(a_arr, a_idx, a_key, a_sub, a_n, a_val) AS t(arr, idx, key, sub, n, val)
	), members AS (
		SELECT arr, idx, key, val FROM t WHERE n = 3
		UNION ALL
		SELECT arr, idx, key,
			   CASE WHEN arr = 'conditions'
					THEN jsonb_agg(val ORDER BY sub = '', nullif(sub, '')::integer)
					ELSE jsonb_object_agg(sub, val) END
		  FROM t WHERE n = 4 GROUP BY arr, idx, key
	), items AS (
		SELECT arr, idx, jsonb_object_agg(key, val) AS obj FROM members GROUP BY arr, idx
	)
	SELECT jsonb_object_agg(arr, list) INTO lists
	  FROM (SELECT arr, jsonb_agg(obj ORDER BY idx) AS list FROM items GROUP BY arr) l;
	IF cardinality(p_idx) > 0 THEN
		top := top || jsonb_build_object('payload_columns',
			(SELECT jsonb_agg(t.val ORDER BY t.idx = '', nullif(t.idx, '')::integer)
			   FROM unnest(p_idx, p_val) AS t(idx, val)));
	END IF;
	RETURN automation._rule_blanks(top || coalesce(lists, '{}'));
END
$$;

/* _rule_list: the conditions (1..250) or actions (1..100) array of a body. */
CREATE FUNCTION automation._rule_list(b jsonb, key text)
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

/*
 * _rule_insert_children: insert the conditions and actions of a body
 * (either may be NULL: unchanged).  Blank value_int/value_bool/
 * value_datetime and JSON nulls mean absent.
 */
CREATE FUNCTION automation._rule_insert_children(rid uuid, conds jsonb, acts jsonb)
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

/* _rule_apply: copy the scalar keys of a (nested) body onto r. */
CREATE FUNCTION automation._rule_apply(r automation.rules, b jsonb, creating boolean)
RETURNS automation.rules
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
	what text := CASE WHEN creating THEN 'body' ELSE 'patch' END;
	req CONSTANT text[] := '{name,entity_type,trigger_type,conditions,actions}';
BEGIN
	PERFORM automation._check_keys(b, '{name,description,entity_type,trigger_type,priority,is_active,stop_subsequent_rules,cooldown_hours,conditions,actions,payload_columns,fire_when,enroll_existing}', what);
	/* enroll_existing: acted on after the write (65_backtest.sql), never stored */
	PERFORM automation._enroll_requested(b);
	IF creating THEN
		FOREACH k IN ARRAY req LOOP
			IF NOT b ? k THEN
				PERFORM automation._err('22023', format('%s is required', k),
										format('the body has no key "%s"', k),
										format('required keys: %s', array_to_string(req, ', ')));
			END IF;
		END LOOP;
	END IF;
	IF b ? 'name' THEN r.name := automation._json_text(b, 'name', 'name'); END IF;
	IF b ? 'description' THEN r.description := automation._json_text(b, 'description', 'description', false, true); END IF;
	IF b ? 'entity_type' THEN r.entity_type := automation._json_text(b, 'entity_type', 'entity_type'); END IF;
	IF b ? 'trigger_type' THEN r.trigger_type := automation._json_text(b, 'trigger_type', 'trigger_type'); END IF;
	IF b ? 'priority' THEN r.priority := automation._json_int(b, 'priority', 'priority', 0, 100); END IF;
	IF b ? 'is_active' THEN r.is_active := automation._json_bool(b, 'is_active', 'is_active'); END IF;
	IF b ? 'stop_subsequent_rules' THEN
		r.stop_subsequent_rules := automation._json_bool(b, 'stop_subsequent_rules', 'stop_subsequent_rules');
	END IF;
	IF b ? 'cooldown_hours' THEN
		r.cooldown_hours := automation._json_int(b, 'cooldown_hours', 'cooldown_hours', 0, 87600, true, true);
	END IF;
	IF b ? 'payload_columns' THEN
		r.payload_columns := automation._json_text_array(b, 'payload_columns', 'payload_columns');
	END IF;
	IF b ? 'fire_when' THEN r.fire_when := automation._json_text(b, 'fire_when', 'fire_when'); END IF;
	RETURN r;
END
$$;

/* _rule_json: the API record of a rule, conditions and actions in order. */
CREATE FUNCTION automation._rule_json(rid uuid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.jsonb_build_object(
		'id', r.id,
		'name', r.name,
		'description', r.description,
		'entity_type', r.entity_type,
		'trigger_type', r.trigger_type,
		'priority', r.priority,
		'is_active', r.is_active,
		'stop_subsequent_rules', r.stop_subsequent_rules,
		'cooldown_hours', r.cooldown_hours,
		'payload_columns', r.payload_columns,
		'fire_when', r.fire_when,
		'conditions', coalesce((
			SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
						'id', c.id, 'field_path', c.field_path, 'operator', c.operator,
						'sort_order', c.sort_order, 'value_int', c.value_int,
						'value_string', c.value_string, 'value_bool', c.value_bool,
						'value_datetime', automation._iso(c.value_datetime),
						'value_array', c.value_array, 'group', c."group")) ORDER BY c.sort_order, c.id)
			  FROM automation.rule_conditions c WHERE c.rule_id = r.id), '[]'),
		'actions', coalesce((
			SELECT pg_catalog.jsonb_agg(a.config || pg_catalog.jsonb_build_object(
						'id', a.id, 'action_type', a.action_type, 'sort_order', a.sort_order)
						ORDER BY a.sort_order, a.id)
			  FROM automation.rule_actions a WHERE a.rule_id = r.id), '[]'),
		'created_at', automation._iso(r.created_at),
		'updated_at', automation._iso(r.updated_at))
	  FROM automation.rules r WHERE r.id = rid
$$;

/* create_rule: the seed's Create Rule, from nested JSON or form fields. */
CREATE FUNCTION automation.create_rule(body jsonb, idempotency_key uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	b jsonb;
	r automation.rules;
	conds jsonb;
	acts jsonb;
	prior jsonb;
	res jsonb;
BEGIN
	IF idempotency_key IS NOT NULL THEN
		prior := automation._idempotency_lookup('rule', idempotency_key, body);
		IF prior IS NOT NULL THEN
			RETURN prior;
		END IF;
	END IF;
	b := automation._rule_body(body, 'body');
	r.priority := 50;
	r.is_active := true;
	r.stop_subsequent_rules := false;
	r.fire_when := 'every_change';
	r := automation._rule_apply(r, b, true);
	conds := automation._rule_list(b, 'conditions');
	acts := automation._rule_list(b, 'actions');
	INSERT INTO automation.rules (tenant_id, name, description, entity_type, trigger_type, priority,
								  is_active, stop_subsequent_rules, cooldown_hours, payload_columns,
								  fire_when)
	VALUES (nullif(current_setting('automation.tenant', true), ''), r.name, r.description,
			r.entity_type, r.trigger_type, r.priority, r.is_active, r.stop_subsequent_rules,
			r.cooldown_hours, r.payload_columns, r.fire_when)
	RETURNING * INTO r;
	PERFORM automation._rule_insert_children(r.id, conds, acts);
	IF automation._enroll_requested(b) THEN
		res := pg_catalog.jsonb_build_object('enrollment', automation._enroll('rule', r.id::text));
		res := automation._rule_json(r.id) || res;
	ELSE
		res := automation._rule_json(r.id);
	END IF;
	IF idempotency_key IS NOT NULL THEN
		PERFORM automation._idempotency_store('rule', idempotency_key, body, res);
	END IF;
	RETURN res;
END
$$;

/* _rule_get: lock a rule or raise P0002. */
CREATE FUNCTION automation._rule_get(rid uuid, lock boolean)
RETURNS automation.rules
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r automation.rules;
BEGIN
	IF lock THEN
		SELECT * INTO r FROM automation.rules x WHERE x.id = rid FOR UPDATE;
	ELSE
		SELECT * INTO r FROM automation.rules x WHERE x.id = rid;
	END IF;
	IF NOT FOUND THEN
		PERFORM automation._err('P0002', format('rule %s not found', coalesce(rid::text, 'null')),
								NULL, 'see automation.rules');
	END IF;
	RETURN r;
END
$$;

/* get_rule: a rule with its conditions and actions. */
CREATE FUNCTION automation.get_rule(id uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM automation._rule_get(id, false);
	RETURN automation._rule_json(id);
END
$$;

/*
 * update_rule: partial update; conditions / actions, when given, replace
 * all the old ones.
 */
CREATE FUNCTION automation.update_rule(id uuid, patch jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r automation.rules := automation._rule_get(id, true);
	b jsonb := automation._rule_body(patch, 'patch');
	conds jsonb;
	acts jsonb;
	res jsonb;
BEGIN
	r := automation._rule_apply(r, b, false);
	conds := automation._rule_list(b, 'conditions');
	acts := automation._rule_list(b, 'actions');
	IF conds IS NOT NULL THEN
		DELETE FROM automation.rule_conditions c WHERE c.rule_id = r.id;
	END IF;
	IF acts IS NOT NULL THEN
		DELETE FROM automation.rule_actions a WHERE a.rule_id = r.id;
	END IF;
	UPDATE automation.rules x
	   SET name = r.name, description = r.description, entity_type = r.entity_type,
		   trigger_type = r.trigger_type, priority = r.priority, is_active = r.is_active,
		   stop_subsequent_rules = r.stop_subsequent_rules, cooldown_hours = r.cooldown_hours,
		   payload_columns = r.payload_columns, fire_when = r.fire_when,
		   updated_at = clock_timestamp()
	 WHERE x.id = r.id;
	PERFORM automation._rule_insert_children(r.id, conds, acts);
	IF automation._enroll_requested(b) THEN
		res := pg_catalog.jsonb_build_object('enrollment', automation._enroll('rule', r.id::text));
		RETURN automation._rule_json(r.id) || res;
	END IF;
	RETURN automation._rule_json(r.id);
END
$$;

/* delete_rule: remove a rule with its conditions and actions. */
CREATE FUNCTION automation.delete_rule(id uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM automation._rule_get(id, true);
	DELETE FROM automation.rules x WHERE x.id = delete_rule.id;
END
$$;
