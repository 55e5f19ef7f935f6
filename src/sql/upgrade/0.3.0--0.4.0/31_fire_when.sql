-- 31_fire_when.sql: fire_when on workflows and rules (SPEC section 3):
-- every_change (the default, and the meaning of every existing definition)
-- or becomes_true.
ALTER TABLE automation.workflows ADD COLUMN fire_when text NOT NULL DEFAULT 'every_change';
ALTER TABLE automation.rules ADD COLUMN fire_when text NOT NULL DEFAULT 'every_change';

CREATE FUNCTION automation._check_fire_when(v text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF v IS NULL OR v NOT IN ('every_change', 'becomes_true') THEN
		PERFORM automation._err('22023', format('invalid fire_when %s', automation._show(v)),
								'fire_when is every_change or becomes_true',
								'use "every_change" (the default) or "becomes_true"');
	END IF;
END
$$;
REVOKE ALL ON FUNCTION automation._check_fire_when(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION automation._workflow_json(w automation.workflows)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.jsonb_build_object(
		'id', w.id,
		'name', w.name,
		'enabled', w.enabled,
		'condition_entity', w.condition_entity,
		'condition_field', w.condition_field,
		'condition_operator', w.condition_operator,
		'condition_value', w.condition_value,
		'action_type', w.action_type,
		'action_config', w.action_config,
		'max_triggers_per_day', w.max_triggers_per_day,
		'payload_columns', w.payload_columns,
		'fire_when', w.fire_when,
		'last_triggered_at', (SELECT automation._iso(max(f.fired_at)) FROM automation.firings f
							   WHERE f.workflow_id = w.id AND f.outcome = 'fired'),
		'triggers_today', (SELECT count(*) FROM automation.firings f
							WHERE f.workflow_id = w.id AND f.outcome = 'fired'
							  AND f.fired_at >= GREATEST(pg_catalog.date_trunc('day', pg_catalog.now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
													  w.breaker_reset_at)),
		'disabled_reason', w.disabled_reason,
		'created_at', automation._iso(w.created_at),
		'updated_at', automation._iso(w.updated_at))
$$;

CREATE OR REPLACE FUNCTION automation._workflows_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	actions CONSTANT text[] := '{send_email,create_task,send_channel_message,webhook,update_field}';
	f automation._field;
	t automation._field;
	other text;
	v jsonb;
	tgt_type text;
BEGIN
	/* rows a restore loads were validated when first written (10_common.sql) */
	IF TG_OP = 'INSERT' AND automation._restoring(TG_RELID) THEN
		RETURN NEW;
	END IF;
	IF TG_OP = 'UPDATE' THEN
		IF NEW.id IS DISTINCT FROM OLD.id THEN
			PERFORM automation._err('22023', 'the id of a workflow cannot change',
									format('workflow %s', OLD.id));
		END IF;
		IF NEW.enabled AND NOT OLD.enabled THEN
			NEW.disabled_reason := NULL;
		END IF;
		IF (NEW.tenant_id, NEW.name, NEW.condition_entity, NEW.condition_field,
			NEW.condition_operator, NEW.condition_value, NEW.action_type,
			NEW.action_config, NEW.max_triggers_per_day, NEW.created_by, NEW.payload_columns,
			NEW.fire_when)
		   IS NOT DISTINCT FROM
		   (OLD.tenant_id, OLD.name, OLD.condition_entity, OLD.condition_field,
			OLD.condition_operator, OLD.condition_value, OLD.action_type,
			OLD.action_config, OLD.max_triggers_per_day, OLD.created_by, OLD.payload_columns,
			OLD.fire_when) THEN
			IF NEW IS DISTINCT FROM OLD AND NEW.updated_at = OLD.updated_at THEN
				NEW.updated_at := clock_timestamp();
			END IF;
			RETURN NEW;			/* enabled/disabled_reason only: no re-validation */
		END IF;
		NEW.updated_at := clock_timestamp();
	ELSIF NEW.id IS NULL OR NEW.id !~ '^wf_[0-9A-HJKMNP-TV-Z]{26}$' THEN
		PERFORM automation._err('22023', format('invalid workflow id %s', automation._show(NEW.id)),
								'an id is wf_ followed by a 26-character ULID',
								'leave id to its default');
	END IF;

	/* name: 1..120 characters, unique per tenant */
	IF NEW.name IS NULL OR length(NEW.name) NOT BETWEEN 1 AND 120 OR btrim(NEW.name) = '' THEN
		PERFORM automation._err('22023', 'name must be 1 to 120 characters',
								format('got %s', automation._show(NEW.name)),
								'give a non-blank name of at most 120 characters');
	END IF;
	SELECT w.id INTO other FROM automation.workflows w
	 WHERE coalesce(w.tenant_id, '') = coalesce(NEW.tenant_id, '') AND w.name = NEW.name
	   AND w.id <> NEW.id;
	IF other IS NOT NULL THEN
		PERFORM automation._err('23505', 'duplicate workflow name',
								format('name %s is taken by workflow %s', automation._show(NEW.name), other),
								'choose another name');
	END IF;

	IF NEW.condition_entity IS NULL OR NOT EXISTS (SELECT 1 FROM automation.entities e WHERE e.name = NEW.condition_entity) THEN
		PERFORM automation._err('22023', format('condition_entity %s is not watched', automation._show(NEW.condition_entity)),
								format('watched entities: %s', coalesce((SELECT string_agg(e.name, ', ' ORDER BY e.name) FROM automation.entities e), 'none')),
								'call automation.watch(entity, table) first');
	END IF;
	IF TG_OP = 'INSERT' OR NEW.created_by IS DISTINCT FROM OLD.created_by
	   OR (NEW.action_type, NEW.action_config, NEW.condition_entity)
		  IS DISTINCT FROM (OLD.action_type, OLD.action_config, OLD.condition_entity) THEN
		PERFORM automation._check_creator(NEW.created_by);
	END IF;

	f := automation._validate_workflow_condition(NEW.condition_entity, NEW.condition_field,
												 NEW.condition_operator, NEW.condition_value);

	IF NEW.action_type IS NULL OR NEW.action_type <> ALL (actions) THEN
		PERFORM automation._err('22023', format('invalid action_type %s', automation._show(NEW.action_type)),
								NULL, 'use one of: ' || array_to_string(actions, ', '));
	END IF;
	NEW.action_config := automation._validate_action(NEW.action_type, NEW.action_config,
													 NEW.condition_entity, 'workflow',
													 'action_config', NEW.created_by, NEW.tenant_id);

	/* an update_field that writes its own condition field re-triggers itself */
	IF NEW.action_type = 'update_field' THEN
		t := automation._resolve_field(NEW.condition_entity, NEW.action_config ->> 'field', 'action_config.field');
		IF t.attnum = f.attnum THEN
			v := NEW.action_config -> 'value';
			IF NEW.condition_operator <> 'changed_to' THEN
				PERFORM automation._err('22023', 'unsupported operator/action combination',
										format('update_field writes %s, the condition field, and condition_operator is %s',
											   automation._show(f.column_name), automation._show(NEW.condition_operator)),
										'the workflow would re-trigger itself; use changed_to with a different value, or write another field');
			END IF;
			IF jsonb_typeof(v) = 'string' AND automation._has_tokens(v #>> '{}') THEN
				PERFORM automation._err('22023', 'unsupported operator/action combination',
										format('update_field writes %s, the condition field, with merge tokens %s',
											   automation._show(f.column_name), automation._show(v #>> '{}')),
										'write a literal value different from condition_value');
			END IF;
			IF jsonb_typeof(v) <> 'null' THEN
				tgt_type := format_type(f.type_oid, f.typmod);
				IF automation._is_json_field(f) OR f.category = 'S' THEN
					IF lower(v #>> '{}') = lower(NEW.condition_value) THEN
						other := 'same';
					END IF;
				ELSE
					EXECUTE format('SELECT CASE WHEN CAST(%L AS %s) = CAST(%L AS %s) THEN ''same'' END',
								   v #>> '{}', tgt_type, NEW.condition_value, tgt_type) INTO other;
				END IF;
				IF other = 'same' THEN
					PERFORM automation._err('22023', 'unsupported operator/action combination',
											format('update_field writes %s = %s, the value the condition changes to',
												   automation._show(f.column_name), automation._show(v #>> '{}')),
											'write a value different from condition_value');
				END IF;
			END IF;
		END IF;
	END IF;

	PERFORM automation._validate_payload_columns(NEW.condition_entity, NEW.payload_columns);

	IF NEW.max_triggers_per_day IS NULL OR NEW.max_triggers_per_day < 1 THEN
		PERFORM automation._err('22023', 'max_triggers_per_day must be a positive integer',
								format('got %s', coalesce(NEW.max_triggers_per_day::text, 'null')),
								'give an integer from 1 to 2147483647 (default 100)');
	END IF;
	IF NEW.enabled IS NULL THEN
		PERFORM automation._err('22023', 'enabled must be a boolean', 'got null', 'give true or false');
	END IF;
	PERFORM automation._check_fire_when(NEW.fire_when);
	IF NEW.enabled THEN
		NEW.disabled_reason := NULL;
	END IF;
	RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION automation._workflow_apply(w automation.workflows, body jsonb, creating boolean)
RETURNS automation.workflows
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
	req CONSTANT text[] := '{name,condition_entity,condition_field,condition_operator,condition_value,action_type,action_config}';
BEGIN
	IF body IS NULL OR jsonb_typeof(body) <> 'object' THEN
		PERFORM automation._err('22023', format('%s must be a JSON object', CASE WHEN creating THEN 'body' ELSE 'patch' END),
								format('got %s', automation._show_json(body)),
								'pass the seed''s JSON body, e.g. {"name": "...", "condition_entity": "deal", ...}');
	END IF;
	PERFORM automation._check_keys(body, req || '{max_triggers_per_day,enabled,payload_columns,fire_when}'::text[],
								   CASE WHEN creating THEN 'body' ELSE 'patch' END);
	IF creating THEN
		FOREACH k IN ARRAY req LOOP
			IF NOT body ? k THEN
				PERFORM automation._err('22023', format('%s is required', k),
										format('the body has no key "%s"', k),
										format('required keys: %s', array_to_string(req, ', ')));
			END IF;
		END LOOP;
	END IF;
	IF body ? 'name' THEN w.name := automation._json_text(body, 'name', 'name'); END IF;
	IF body ? 'condition_entity' THEN w.condition_entity := automation._json_text(body, 'condition_entity', 'condition_entity'); END IF;
	IF body ? 'condition_field' THEN w.condition_field := automation._json_text(body, 'condition_field', 'condition_field'); END IF;
	IF body ? 'condition_operator' THEN w.condition_operator := automation._json_text(body, 'condition_operator', 'condition_operator'); END IF;
	IF body ? 'condition_value' THEN w.condition_value := automation._json_text(body, 'condition_value', 'condition_value'); END IF;
	IF body ? 'action_type' THEN w.action_type := automation._json_text(body, 'action_type', 'action_type'); END IF;
	IF body ? 'action_config' THEN
		IF jsonb_typeof(body -> 'action_config') <> 'object' THEN
			PERFORM automation._err('22023', 'action_config must be an object',
									'got ' || automation._json_desc(body -> 'action_config'),
									'give the action''s keys as a JSON object');
		END IF;
		w.action_config := body -> 'action_config';
	END IF;
	IF body ? 'max_triggers_per_day' THEN
		w.max_triggers_per_day := automation._json_int(body, 'max_triggers_per_day', 'max_triggers_per_day', 1, 2147483647);
	END IF;
	IF body ? 'enabled' THEN
		w.enabled := automation._json_bool(body, 'enabled', 'enabled');
	END IF;
	IF body ? 'payload_columns' THEN
		w.payload_columns := automation._json_text_array(body, 'payload_columns', 'payload_columns');
	END IF;
	IF body ? 'fire_when' THEN
		w.fire_when := automation._json_text(body, 'fire_when', 'fire_when');
	END IF;
	RETURN w;
END
$$;

CREATE OR REPLACE FUNCTION automation.create_workflow(body jsonb, idempotency_key uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w automation.workflows;
	prior jsonb;
	res jsonb;
BEGIN
	IF idempotency_key IS NOT NULL THEN
		prior := automation._idempotency_lookup('workflow', idempotency_key, body);
		IF prior IS NOT NULL THEN
			RETURN prior;
		END IF;
	END IF;
	w.enabled := true;
	w.max_triggers_per_day := 100;
	w.fire_when := 'every_change';
	w := automation._workflow_apply(w, body, true);
	INSERT INTO automation.workflows (tenant_id, name, enabled, condition_entity, condition_field,
									  condition_operator, condition_value, action_type,
									  action_config, max_triggers_per_day, payload_columns,
									  fire_when)
	VALUES (nullif(current_setting('automation.tenant', true), ''), w.name, w.enabled,
			w.condition_entity, w.condition_field, w.condition_operator, w.condition_value,
			w.action_type, w.action_config, w.max_triggers_per_day, w.payload_columns,
			w.fire_when)
	RETURNING * INTO w;
	res := automation._workflow_json(w);
	IF idempotency_key IS NOT NULL THEN
		PERFORM automation._idempotency_store('workflow', idempotency_key, body, res);
	END IF;
	RETURN res;
END
$$;

CREATE OR REPLACE FUNCTION automation.update_workflow(id text, patch jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w automation.workflows := automation._workflow_get(id, true);
BEGIN
	w := automation._workflow_apply(w, patch, false);
	UPDATE automation.workflows x
	   SET name = w.name, enabled = w.enabled, condition_entity = w.condition_entity,
		   condition_field = w.condition_field, condition_operator = w.condition_operator,
		   condition_value = w.condition_value, action_type = w.action_type,
		   action_config = w.action_config, max_triggers_per_day = w.max_triggers_per_day,
		   payload_columns = w.payload_columns, fire_when = w.fire_when,
		   updated_at = clock_timestamp()
	 WHERE x.id = w.id
	RETURNING * INTO w;
	RETURN automation._workflow_json(w);
END
$$;

CREATE OR REPLACE FUNCTION automation._rules_validate()
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

CREATE OR REPLACE FUNCTION automation._rule_apply(r automation.rules, b jsonb, creating boolean)
RETURNS automation.rules
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
	what text := CASE WHEN creating THEN 'body' ELSE 'patch' END;
	req CONSTANT text[] := '{name,entity_type,trigger_type,conditions,actions}';
BEGIN
	PERFORM automation._check_keys(b, '{name,description,entity_type,trigger_type,priority,is_active,stop_subsequent_rules,cooldown_hours,conditions,actions,payload_columns,fire_when}', what);
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

CREATE OR REPLACE FUNCTION automation._rule_json(rid uuid)
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

CREATE OR REPLACE FUNCTION automation.create_rule(body jsonb, idempotency_key uuid DEFAULT NULL)
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
	res := automation._rule_json(r.id);
	IF idempotency_key IS NOT NULL THEN
		PERFORM automation._idempotency_store('rule', idempotency_key, body, res);
	END IF;
	RETURN res;
END
$$;

CREATE OR REPLACE FUNCTION automation.update_rule(id uuid, patch jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r automation.rules := automation._rule_get(id, true);
	b jsonb := automation._rule_body(patch, 'patch');
	conds jsonb;
	acts jsonb;
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
	RETURN automation._rule_json(r.id);
END
$$;
