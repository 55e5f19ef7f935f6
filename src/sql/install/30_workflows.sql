/*
 * 30_workflows.sql: workflows (SPEC section 4, seed 000).
 *
 *   automation.create_workflow(body jsonb, idempotency_key uuid) -> jsonb
 *   automation.get_workflow(id text) -> jsonb
 *   automation.update_workflow(id text, patch jsonb) -> jsonb
 *   automation.delete_workflow(id text) -> void
 *   automation.enable_workflow(id text, body jsonb, enroll_existing boolean) -> jsonb
 *   automation.disable_workflow(id text) -> jsonb
 *
 * Invariants: every row of automation.workflows passed _workflows_validate
 * (a BEFORE INSERT OR UPDATE trigger, the only copy of the rules) when its
 * definition last changed; changes of enabled / disabled_reason alone (the
 * circuit breaker) skip validation.  The API checks only the JSON shape of
 * the body (keys and JSON types) and lets the trigger check the rest.
 */

/* _workflow_json: the API record of a workflow (seed response shape). */
CREATE FUNCTION automation._workflow_json(w automation.workflows)
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

/*
 * _check_fire_when: fire_when of a workflow or rule (SPEC section 3):
 * every_change (fires on every event whose row matches) or becomes_true
 * (only when the condition holds for NEW and did not for OLD).
 */
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

/*
 * _validate_payload_columns: the payload_columns of a workflow or rule of
 * entity (NULL: every column).  At most 100 names, each a column of the
 * entity's table, none twice; [] is allowed (new / old are {}).  The engine
 * (src/cache.c) resolves the names again when it compiles the definition
 * and skips the definition when one no longer names a column.
 */
CREATE FUNCTION automation._validate_payload_columns(entity text, cols text[])
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
	i integer;
BEGIN
	IF cols IS NULL THEN
		RETURN;
	END IF;
	IF cardinality(cols) > 100 THEN
		PERFORM automation._err('22023', 'payload_columns must have at most 100 elements',
								format('got %s', cardinality(cols)),
								'name the columns the action needs, or pass null for all of them');
	END IF;
	SELECT e.relation INTO rel FROM automation.entities e WHERE e.name = entity;
	IF rel IS NULL THEN
		RETURN;				/* the caller reports the unwatched entity */
	END IF;
	FOR i IN 1 .. coalesce(array_length(cols, 1), 0) LOOP
		IF cols[i] IS NULL THEN
			PERFORM automation._err('22023', format('payload_columns[%s] must not be null', i - 1),
									NULL, 'give column names as strings');
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = cols[i]
						 AND a.attnum > 0 AND NOT a.attisdropped) THEN
			PERFORM automation._err('22023', format('payload_columns[%s] %s is not a column of %s', i - 1,
													automation._show(cols[i]), automation._show(entity)),
									format('columns: %s', (SELECT string_agg(a.attname, ', ' ORDER BY a.attnum)
															 FROM pg_attribute a WHERE a.attrelid = rel
															  AND a.attnum > 0 AND NOT a.attisdropped)),
									'name a column of the table (no entity prefix, no json keys)');
		END IF;
		IF cols[i] = ANY (cols[1:i - 1]) THEN
			PERFORM automation._err('22023', format('payload_columns[%s] %s is given twice', i - 1,
													automation._show(cols[i])),
									NULL, 'name each column once');
		END IF;
	END LOOP;
END
$$;

/*
 * _json_text_array: key of body as text[]: null (SQL NULL) or an array of
 * strings; field names it in errors.
 */
CREATE FUNCTION automation._json_text_array(body jsonb, key text, field text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := body -> key;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) <> 'array' THEN
		PERFORM automation._err('22023', format('%s must be an array of column names or null', field),
								'got ' || automation._json_desc(v),
								format('give e.g. "%s": ["id", "status"]', field));
	END IF;
	IF EXISTS (SELECT 1 FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string') THEN
		PERFORM automation._err('22023', format('%s elements must be strings', field),
								format('got %s', automation._show_json(v)));
	END IF;
	RETURN ARRAY(SELECT e #>> '{}' FROM jsonb_array_elements(v) WITH ORDINALITY AS t(e, o) ORDER BY o);
END
$$;

/*
 * _validate_workflow_condition: the condition of a workflow against the
 * live schema.  Returns the resolved field.
 */
CREATE FUNCTION automation._validate_workflow_condition(entity text, path text, op text, val text)
RETURNS automation._field
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f automation._field;
	o record;
	json_path boolean;
BEGIN
	SELECT * INTO o FROM automation._operators() x WHERE x.workflow = op;
	IF op IS NULL OR NOT FOUND THEN
		PERFORM automation._err('22023', format('invalid condition_operator %s', automation._show(op)),
								NULL, 'use one of: ' || array_to_string(automation._workflow_operators(), ', '));
	END IF;
	f := automation._resolve_field(entity, path, 'condition_field');
	json_path := automation._is_json_field(f);
	IF val IS NULL THEN
		PERFORM automation._err('22023', 'condition_value must not be null', NULL,
								'give a string ("" for changed)');
	END IF;
	IF length(val) > 10000 THEN
		PERFORM automation._err('22023', 'condition_value is too long',
								format('%s characters, limit 10000', length(val)));
	END IF;
	/* the value form of the operator (the vocabulary's "value") */
	CASE o.value
		WHEN 'flag' THEN
			IF val <> '' THEN
				PERFORM automation._err('22023', format('condition_value must be "" for condition_operator %s', automation._show(op)),
										format('got %s', automation._show(val)),
										'pass "" (the key is required, the value unused)');
			END IF;
			RETURN f;
		WHEN 'scalar', 'ordered', 'string', 'interval' THEN
			NULL;
	END CASE;
	PERFORM automation._check_operator_field(o.field, op, f,
											 format('condition_operator %s', automation._show(op)),
											 format('condition_field %s', automation._show(path)));
	IF o.value = 'interval' THEN
		PERFORM automation._check_interval(val, 'condition_value');
		RETURN f;
	END IF;
	IF json_path AND cardinality(f.json_path) = 0 AND NOT automation._value_parses(val, f.type_oid, f.typmod)
	   AND o.field <> 'text_array' THEN
		PERFORM automation._err('22023', format('condition_value %s is not valid json', automation._show(val)),
								format('column %s is %s', automation._show(f.column_name), format_type(f.type_oid, f.typmod)),
								'compare a key below the column (column.key) or give a JSON value');
	END IF;
	IF NOT json_path THEN
		PERFORM automation._check_value(f, val, 'condition_value', o.field = 'text_array');
	END IF;
	RETURN f;
END
$$;

/*
 * _workflows_validate: BEFORE INSERT OR UPDATE on automation.workflows; the
 * single copy of the workflow rules of SPEC section 4.
 */
CREATE FUNCTION automation._workflows_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
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

	IF NEW.action_type IS NULL OR NEW.action_type <> ALL (automation._workflow_action_types()) THEN
		PERFORM automation._err('22023', format('invalid action_type %s', automation._show(NEW.action_type)),
								NULL, 'use one of: ' || array_to_string(automation._workflow_action_types(), ', '));
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

CREATE TRIGGER workflows_validate
	BEFORE INSERT OR UPDATE ON automation.workflows
	FOR EACH ROW EXECUTE FUNCTION automation._workflows_validate();

/*
 * _workflow_apply: copy the keys of a create body or update patch onto w,
 * checking only the JSON shape (required keys, unknown keys, JSON types).
 */
CREATE FUNCTION automation._workflow_apply(w automation.workflows, body jsonb, creating boolean)
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
	PERFORM automation._check_keys(body, req || '{max_triggers_per_day,enabled,payload_columns,fire_when,enroll_existing}'::text[],
								   CASE WHEN creating THEN 'body' ELSE 'patch' END);
	/* enroll_existing: acted on after the write (65_backtest.sql), never stored */
	PERFORM automation._enroll_requested(body);
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

/* _workflow_get: lock and return a workflow, or raise P0002. */
CREATE FUNCTION automation._workflow_get(wid text, lock boolean)
RETURNS automation.workflows
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w automation.workflows;
BEGIN
	IF lock THEN
		SELECT * INTO w FROM automation.workflows x WHERE x.id = wid FOR UPDATE;
	ELSE
		SELECT * INTO w FROM automation.workflows x WHERE x.id = wid;
	END IF;
	IF NOT FOUND THEN
		PERFORM automation._err('P0002', format('workflow %s not found', automation._show(wid)),
								NULL, 'ids look like wf_01J...; see automation.workflows');
	END IF;
	RETURN w;
END
$$;

/* create_workflow: the seed's POST /v1/workflows. */
CREATE FUNCTION automation.create_workflow(body jsonb, idempotency_key uuid DEFAULT NULL)
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
	IF automation._enroll_requested(body) THEN
		res := pg_catalog.jsonb_build_object('enrollment', automation._enroll('workflow', w.id));
		res := automation._workflow_json(automation._workflow_get(w.id, false)) || res;
	END IF;
	IF idempotency_key IS NOT NULL THEN
		PERFORM automation._idempotency_store('workflow', idempotency_key, body, res);
	END IF;
	RETURN res;
END
$$;

/* get_workflow: GET /v1/workflows/{id}. */
CREATE FUNCTION automation.get_workflow(id text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN automation._workflow_json(automation._workflow_get(id, false));
END
$$;

/*
 * update_workflow: partial update; keys absent from patch keep their value,
 * action_config (when given) replaces the old one whole.
 */
CREATE FUNCTION automation.update_workflow(id text, patch jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w automation.workflows := automation._workflow_get(id, true);
	res jsonb;
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
	IF automation._enroll_requested(patch) THEN
		res := pg_catalog.jsonb_build_object('enrollment', automation._enroll('workflow', w.id));
		RETURN automation._workflow_json(automation._workflow_get(w.id, false)) || res;
	END IF;
	RETURN automation._workflow_json(w);
END
$$;

/* delete_workflow: remove a workflow (its history stays in firings/jobs). */
CREATE FUNCTION automation.delete_workflow(id text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM automation._workflow_get(id, true);
	DELETE FROM automation.workflows x WHERE x.id = delete_workflow.id;
END
$$;

/*
 * enable_workflow: enabled = true, disabled_reason cleared, and a fresh
 * budget for today: breaker_reset_at = now() (firings before it no longer
 * count) and the shared-memory count reset (60_engine.sql).  body may carry
 * "enroll_existing": true (SPEC section 12; the HTTP API passes its request
 * body), or the argument enroll_existing (it wins): then the enrollment
 * (65_backtest.sql), and the record as it is afterwards with "enrollment".
 */
CREATE FUNCTION automation.enable_workflow(id text, body jsonb DEFAULT NULL,
										   enroll_existing boolean DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w automation.workflows := automation._workflow_get(id, true);
	enroll boolean := enroll_existing;
	res jsonb;
BEGIN
	IF body IS NOT NULL AND jsonb_typeof(body) <> 'object' THEN
		PERFORM automation._err('22023', 'body must be a JSON object',
								format('got %s', automation._show_json(body)),
								'pass {"enroll_existing": true} or nothing');
	END IF;
	IF body IS NOT NULL THEN
		PERFORM automation._check_keys(body, '{enroll_existing}', 'body');
	END IF;
	enroll := coalesce(enroll, automation._enroll_requested(body));
	UPDATE automation.workflows x SET enabled = true, disabled_reason = NULL,
		   breaker_reset_at = now(), updated_at = clock_timestamp()
	 WHERE x.id = w.id RETURNING * INTO w;
	PERFORM automation._breaker_reset(w.id);
	IF enroll THEN
		res := pg_catalog.jsonb_build_object('enrollment', automation._enroll('workflow', w.id));
		RETURN automation._workflow_json(automation._workflow_get(w.id, false)) || res;
	END IF;
	RETURN automation._workflow_json(w);
END
$$;

/* disable_workflow: enabled = false, disabled_reason 'manual'. */
CREATE FUNCTION automation.disable_workflow(id text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w automation.workflows := automation._workflow_get(id, true);
BEGIN
	UPDATE automation.workflows x SET enabled = false, disabled_reason = 'manual',
		   updated_at = clock_timestamp()
	 WHERE x.id = w.id RETURNING * INTO w;
	RETURN automation._workflow_json(w);
END
$$;
