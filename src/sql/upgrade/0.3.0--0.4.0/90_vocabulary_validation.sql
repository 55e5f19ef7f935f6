/*
 * 90_vocabulary_validation.sql (0.3.0 -> 0.4.0): the validation of
 * workflows, rules and jobs reads the vocabulary (src/vocabulary.h,
 * 10_vocabulary.sql) instead of its own lists.  The functions' text is
 * that of src/sql/install/ (12_operators.sql, 15_actions_validate.sql,
 * 30_workflows.sql, 35_rules.sql, 46_database_actions.sql, 50_queue.sql),
 * merged with what the other 0.4.0 changes did to the same functions: this
 * fragment runs after them (90_), so its text is the final one
 * (test/e2e/upgrade.sh compares it with a fresh install).
 */


/*
 * _check_operator_field: field f fits the operator's field kind (the
 * vocabulary's "field": any, text, text_array, ordered, date); subject
 * names the operator and target the field in the error, as the caller
 * spells them.
 * A kind this function does not know raises CASE_NOT_FOUND: a new kind in
 * the vocabulary cannot pass unchecked.
 */
CREATE FUNCTION automation._check_operator_field(fits text, op text, f automation._field,
												 subject text, target text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	js boolean := automation._is_json_field(f);
	ok boolean;
	works_on text;
BEGIN
	CASE fits
		WHEN 'any' THEN
			ok := true;
		WHEN 'text' THEN
			ok := js OR f.category = 'S';
			works_on := 'text fields';
		WHEN 'text_array' THEN
			ok := js OR f.category IN ('S', 'A');
			works_on := 'text and array fields';
		WHEN 'ordered' THEN
			ok := js OR f.category IN ('N', 'D');
			works_on := 'numbers and date/times';
		WHEN 'date' THEN
			ok := NOT js AND f.base_type IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype);
			works_on := 'date, timestamp and timestamptz columns';
	END CASE;
	IF NOT ok THEN
		PERFORM automation._err('22023', format('%s does not fit %s', subject, target),
								format('column %s is %s', automation._show(f.column_name),
									   format_type(f.type_oid, f.typmod)),
								format('%s works on %s', op, works_on));
	END IF;
END
$$;

REVOKE ALL ON FUNCTION automation._check_operator_field(text, text, automation._field, text, text) FROM PUBLIC;
/* roles that could validate rule conditions need the new helper */
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT DISTINCT a.grantee::regrole::text AS grantee
			   FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
			  WHERE p.oid = 'automation._validate_rule_condition(text, text, automation.rule_conditions, text)'::regprocedure
				AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0
				AND a.grantee <> p.proowner
	LOOP
		EXECUTE format('GRANT EXECUTE ON FUNCTION automation._check_operator_field(text, text, automation._field, text, text) TO %s',
					   r.grantee);
	END LOOP;
END
$$;

/*
 * _check_interval: the value of a clock operator (within_last, within_next,
 * older_than): a PostgreSQL interval ("3 days", "90 minutes"), a bare whole
 * number meaning days (a rule's value_int), from 0 to 1000 years; field
 * names the value in errors.  The engine parses it the same way
 * (compile_interval in src/cache.c).
 */
CREATE FUNCTION automation._check_interval(v text, field text)
RETURNS interval
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	iv interval;
BEGIN
	IF v IS NULL OR length(v) > 100 THEN
		PERFORM automation._err('22023', format('%s must be an interval of at most 100 characters', field),
								format('got %s', automation._show(v)),
								'write an interval such as "3 days" or "90 minutes"');
	END IF;
	BEGIN
		iv := CASE WHEN v ~ '^ *[0-9]+ *$' THEN (btrim(v) || ' days')::interval ELSE v::interval END;
	EXCEPTION WHEN data_exception THEN
		PERFORM automation._err('22023', format('%s %s is not an interval', field, automation._show(v)),
								SQLERRM,
								'write an interval such as "3 days" or "90 minutes" (a bare whole number means days)');
	END;
	IF iv < interval '0' THEN
		PERFORM automation._err('22023', format('%s must not be negative', field),
								format('got %s', automation._show(v)),
								'give the length of the window: the operator says whether it looks back or ahead');
	END IF;
	IF iv > interval '1000 years' THEN
		PERFORM automation._err('22023', format('%s must be at most 1000 years', field),
								format('got %s', automation._show(v)));
	END IF;
	RETURN iv;
END
$$;

REVOKE ALL ON FUNCTION automation._check_interval(text, text) FROM PUBLIC;
/* roles that could validate rule conditions need the new helper */
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT DISTINCT a.grantee::regrole::text AS grantee
			   FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
			  WHERE p.oid = 'automation._validate_rule_condition(text, text, automation.rule_conditions, text)'::regprocedure
				AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0
				AND a.grantee <> p.proowner
	LOOP
		EXECUTE format('GRANT EXECUTE ON FUNCTION automation._check_interval(text, text) TO %s',
					   r.grantee);
	END LOOP;
END
$$;

/*
 * _validate_action: check config for action (lower-case action type) of a
 * definition of tenant (NULL: global) on entity created by creator; kind is
 * 'workflow' or 'rule' (merge token {{<kind>.name}}), field names the config
 * in errors (action_config, actions[0]).  Returns the normalised config.
 */
CREATE OR REPLACE FUNCTION automation._validate_action(action text, config jsonb, entity text,
											kind text, field text, creator name, tenant text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cfg jsonb := config;
	allowed text[];
	required text[];
	defaults jsonb;
	k text;
	v jsonb;
	f automation._field;
	rel regclass;
	s text;
	n bigint;
	att record;
BEGIN
	IF cfg IS NULL OR jsonb_typeof(cfg) <> 'object' THEN
		PERFORM automation._err('22023', format('%s must be an object', field),
								format('got %s', automation._show_json(cfg)),
								'give the action''s keys as a JSON object');
	END IF;
	IF octet_length(cfg::text) > 65536 THEN
		PERFORM automation._err('22023', format('%s is too large', field),
								format('%s bytes, limit 65536', octet_length(cfg::text)));
	END IF;

	/* the action type's keys, required keys and defaults (src/vocabulary.h) */
	SELECT t.keys, t.required, t.defaults INTO allowed, required, defaults
	  FROM automation._action_types() t WHERE t.job = action;
	IF NOT FOUND THEN
		PERFORM automation._err('22023', format('invalid action type %s', automation._show(action)),
								NULL, 'use one of: ' || array_to_string(automation._job_action_types(), ', '));
	END IF;
	IF allowed IS NOT NULL THEN
		PERFORM automation._check_keys(cfg, allowed || '{delay_minutes}'::text[], field);
	END IF;
	FOREACH k IN ARRAY required LOOP
		IF NOT cfg ? k THEN
			PERFORM automation._err('22023', format('%s.%s is required', field, k),
									format('%s for %s needs: %s', field, action, array_to_string(required, ', ')),
									format('add "%s" to %s', k, field));
		END IF;
	END LOOP;
	cfg := defaults || cfg;

	IF cfg ? 'delay_minutes' THEN
		n := automation._json_int(cfg, 'delay_minutes', field || '.delay_minutes', 0, 525600, true, true);
		IF n IS NULL THEN
			cfg := cfg - 'delay_minutes';
		ELSE
			cfg := jsonb_set(cfg, '{delay_minutes}', to_jsonb(n));
		END IF;
	END IF;

	IF action = 'webhook' THEN
		s := automation._check_template(cfg -> 'url', field || '.url', entity, kind, true, true);
		PERFORM automation._check_url(s, field || '.url');
		IF cfg ? 'method' THEN
			s := automation._json_text(cfg, 'method', field || '.method');
			IF s IS NULL OR upper(s) NOT IN ('POST', 'PUT', 'PATCH') THEN
				PERFORM automation._err('22023', format('invalid %s.method %s', field, automation._show(s)),
										NULL, 'use POST, PUT or PATCH');
			END IF;
			cfg := jsonb_set(cfg, '{method}', to_jsonb(upper(s)));
		END IF;
		IF cfg ? 'headers' THEN
			v := cfg -> 'headers';
			IF jsonb_typeof(v) <> 'object' THEN
				PERFORM automation._err('22023', format('%s.headers must be an object of strings', field),
										format('got %s', automation._show_json(v)));
			END IF;
			FOR k IN SELECT jsonb_object_keys(v) LOOP
				IF k !~ '^[!#$%&''*+.^_`|~0-9A-Za-z-]{1,128}$' THEN
					PERFORM automation._err('22023', format('invalid header name %s in %s.headers', automation._show(k), field),
											NULL, 'header names are letters, digits and !#$%&''*+.^_`|~-');
				END IF;
				IF lower(k) IN ('host', 'content-length', 'transfer-encoding', 'connection',
								'idempotency-key', 'x-automation-signature') THEN
					PERFORM automation._err('22023', format('header %s in %s.headers is set by the worker', automation._show(k), field),
											NULL, 'remove it');
				END IF;
				PERFORM automation._check_template(v -> k, format('%s.headers.%s', field, k), entity, kind, true, false);
			END LOOP;
		END IF;
		IF cfg ? 'body' THEN
			BEGIN
				FOR v IN SELECT x FROM jsonb_path_query(cfg -> 'body', 'strict $.**') AS x
						  WHERE jsonb_typeof(x) = 'string' LOOP
					PERFORM automation._check_template(v, field || '.body', entity, kind);
				END LOOP;
			EXCEPTION WHEN statement_too_complex OR program_limit_exceeded THEN
				PERFORM automation._err('22023', format('%s.body is nested too deeply', field),
										'its nesting exhausted the stack while it was checked',
										'flatten the body');
			END;
		END IF;

	ELSIF action = 'send_channel_message' THEN
		s := automation._json_text(cfg, 'channel', field || '.channel', true);
		/* the definition's tenant's channel or a global one (25_channels.sql) */
		IF NOT EXISTS (SELECT 1 FROM automation.channels c
						WHERE c.name = s AND (c.tenant_id IS NULL OR c.tenant_id = tenant)) THEN
			PERFORM automation._err('22023', format('channel %s does not exist', automation._show(s)),
									CASE WHEN tenant IS NULL
										 THEN format('%s.channel names no global channel', field)
										 ELSE format('%s.channel names no channel of tenant %s nor a global one', field, automation._show(tenant)) END,
									'create it with automation.create_channel(name, url)');
		END IF;
		PERFORM automation._check_template(cfg -> 'recipient', field || '.recipient', entity, kind, true);
		PERFORM automation._check_template(cfg -> 'message', field || '.message', entity, kind, false, true);

	ELSIF action = 'send_email' THEN
		PERFORM automation._check_template(cfg -> 'to', field || '.to', entity, kind, true, true);
		PERFORM automation._check_template(cfg -> 'subject', field || '.subject', entity, kind, true, true);
		PERFORM automation._check_template(cfg -> 'body', field || '.body', entity, kind, false, true);
		PERFORM automation._check_template(cfg -> 'cc', field || '.cc', entity, kind, true);
		PERFORM automation._check_template(cfg -> 'bcc', field || '.bcc', entity, kind, true);
		PERFORM automation._check_template(cfg -> 'reply_to', field || '.reply_to', entity, kind, true);

	ELSIF action = 'update_field' THEN
		f := automation._column_field(entity, cfg -> 'field', field || '.field');
		PERFORM automation._check_db_value(f, cfg -> 'value', field || '.value', entity, kind);
		PERFORM automation._check_column_privilege(creator, f.relation, f.column_name, 'UPDATE', field);

	ELSIF action = 'create_task' THEN
		SELECT e.relation INTO rel FROM automation.entities e WHERE e.name = 'task';
		IF rel IS NULL THEN
			PERFORM automation._err('22023', format('%s: create_task needs an entity named task', field),
									'no table is watched as task',
									'call automation.watch(''task'', ''<schema>.<tasks table>'')');
		END IF;
		FOR k IN SELECT jsonb_object_keys(cfg) ORDER BY 1 LOOP
			CONTINUE WHEN k = 'delay_minutes';
			IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
							WHERE a.attrelid = rel AND a.attname = k AND a.attnum > 0
							  AND NOT a.attisdropped) THEN
				PERFORM automation._err('22023', format('unknown key %s in %s', automation._show(k), field),
										format('task table %s has no column %s', rel::text, automation._show(k)),
										'the keys of a create_task action are columns of the task table');
			END IF;
			f := automation._resolve_field('task', k, format('%s.%s', field, k));
			PERFORM automation._check_db_value(f, cfg -> k, format('%s.%s', field, k), entity, kind);
		END LOOP;
		FOR att IN SELECT a.attname FROM pg_catalog.pg_attribute a
					WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
					  AND a.attnotnull AND NOT a.atthasdef AND a.attidentity = ''
					  AND a.attgenerated = '' AND NOT cfg ? a.attname::text
					ORDER BY a.attnum LOOP
			PERFORM automation._err('22023', format('%s.%s is required', field, att.attname),
									format('column %s of %s is NOT NULL without a default', automation._show(att.attname), rel::text),
									format('add "%s" to %s', att.attname, field));
		END LOOP;
		PERFORM automation._check_target_owner(creator, rel, field);
		IF NOT has_table_privilege(creator, rel, 'INSERT') THEN
			PERFORM automation._err('42501', format('permission denied for %s', field),
									format('role %s lacks INSERT on %s', automation._show(creator), rel::text),
									'grant INSERT on the task table to that role, or create the definition as a role that has it');
		END IF;

	ELSIF action = 'assign_user' THEN
		s := automation._json_text(cfg, 'assign_pool_id', field || '.assign_pool_id', true);
		IF s !~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
			PERFORM automation._err('22023', format('%s.assign_pool_id must be a uuid', field),
									format('got %s', automation._show(s)),
									'give the id returned by automation.create_user_pool()');
		END IF;
		IF NOT EXISTS (SELECT 1 FROM automation.user_pools p WHERE p.id = s::uuid) THEN
			PERFORM automation._err('22023', format('user pool %s does not exist', automation._show(s)),
									format('%s.assign_pool_id names no row of automation.user_pools', field),
									'create it with automation.create_user_pool(name, members)');
		END IF;
		cfg := jsonb_set(cfg, '{assign_pool_id}', to_jsonb(s::uuid::text));
		f := automation._column_field(entity, cfg -> 'assign_field', field || '.assign_field');
		PERFORM automation._check_column_privilege(creator, f.relation, f.column_name, 'UPDATE', field);

	ELSIF action = 'change_stage' THEN
		f := automation._column_field(entity, cfg -> 'stage_field', field || '.stage_field');
		IF jsonb_typeof(cfg -> 'stage_id') = 'null' THEN
			PERFORM automation._err('22023', format('%s.stage_id must not be null', field));
		END IF;
		PERFORM automation._check_db_value(f, cfg -> 'stage_id', field || '.stage_id', entity, kind);
		PERFORM automation._check_column_privilege(creator, f.relation, f.column_name, 'UPDATE', field);

	ELSIF action IN ('tag', 'untag') THEN
		f := automation._column_field(entity, cfg -> 'tags_field', field || '.tags_field');
		IF f.category <> 'A' THEN
			PERFORM automation._err('22023', format('%s.tags_field must name an array column', field),
									format('column %s is %s', automation._show(f.column_name), format_type(f.type_oid, f.typmod)),
									'tags live in an array column such as tags text[]');
		END IF;
		IF jsonb_typeof(cfg -> 'tag') <> 'string' THEN
			PERFORM automation._err('22023', format('%s.tag must be a string', field),
									format('got %s', automation._show_json(cfg -> 'tag')));
		END IF;
		IF btrim(cfg ->> 'tag') = '' THEN
			PERFORM automation._err('22023', format('%s.tag must not be empty', field));
		END IF;
		PERFORM automation._check_db_value(f, cfg -> 'tag', field || '.tag', entity, kind, true);
		PERFORM automation._check_column_privilege(creator, f.relation, f.column_name, 'UPDATE', field);

	ELSIF action = 'notify' THEN
		PERFORM automation._check_template(cfg -> 'recipient', field || '.recipient', entity, kind, true, true);
		PERFORM automation._check_template(cfg -> 'message', field || '.message', entity, kind, false, true);
	END IF;
	RETURN cfg;
END
$$;

/*
 * _validate_workflow_condition: the condition of a workflow against the
 * live schema.  Returns the resolved field.
 */
CREATE OR REPLACE FUNCTION automation._validate_workflow_condition(entity text, path text, op text, val text)
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
CREATE OR REPLACE FUNCTION automation._workflows_validate()
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

/*
 * _validate_rule_condition: one condition of a rule on entity with
 * trigger_type; label names it in errors (conditions[0]).
 */
CREATE OR REPLACE FUNCTION automation._validate_rule_condition(entity text, trigger_type text,
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

/*
 * execute_job: run a database action job and complete it.  A queued job is
 * claimed here; a running one (claimed by a worker) is taken as is.  If the
 * action fails the error propagates and the job is unchanged: the caller
 * (the worker, or run_database_jobs) records the failure with fail_job.
 *
 * Who runs the action comes from the definition, not from the job row: the
 * workflow's or rule's current created_by (jobs.run_as is informational).
 * The job must still match its definition: the definition exists (22023
 * otherwise), fires on the job's entity, has the job's action type and
 * belongs to no tenant or to the job's tenant (42501 otherwise).  What the
 * definition cannot tell (the record and the rendered config) only the
 * extension owner can write (automation._jobs_guard).
 */
CREATE OR REPLACE FUNCTION automation.execute_job(id bigint)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	job automation.jobs;
	ent automation.entities;
	config jsonb;
	action_result jsonb;
	written boolean;
	member text;
	previous_depth text := current_setting('automation.current_depth');
	def_kind text;
	def_found boolean;
	def_role name;
	def_entity text;
	def_tenant text;
	def_actions text[];
BEGIN
	SELECT * INTO job FROM automation.jobs j WHERE j.id = execute_job.id FOR UPDATE;
	/* row-level security: the caller must be able to see the job */
	IF FOUND AND automation._execute_as(automation._invoker(),
			'SELECT 1 FROM automation.jobs WHERE id OPERATOR(pg_catalog.=) $1::bigint', ARRAY[job.id::text]) = 0 THEN
		job := NULL;
	END IF;
	IF job.id IS NULL THEN
		PERFORM automation._err('P0002', format('job %s not found', coalesce(id::text, 'null')),
								NULL, 'see automation.jobs');
	END IF;
	IF job.status IN ('succeeded', 'dead') THEN
		PERFORM automation._err('22023', format('job %s is already %s', job.id, job.status),
								NULL, 'only queued or running jobs can be executed');
	END IF;
	/* where the action type runs (src/vocabulary.h) */
	IF NOT EXISTS (SELECT 1 FROM automation._action_types() t
					WHERE t.job = job.action_type AND t.runs = 'database') THEN
		PERFORM automation._err('22023', format('job %s is a %s job: automation-worker delivers it',
												job.id, job.action_type),
								NULL, 'execute_job runs database actions only');
	END IF;

	/* the definition decides who runs the action, where and what */
	IF job.source = 'workflow' THEN
		def_kind := format('workflow %s', coalesce(job.workflow_id, 'null'));
		SELECT true, w.created_by, w.condition_entity, w.tenant_id, ARRAY[w.action_type]
		  INTO def_found, def_role, def_entity, def_tenant, def_actions
		  FROM automation.workflows w WHERE w.id = job.workflow_id AND job.rule_id IS NULL;
	ELSE
		def_kind := format('rule %s', coalesce(job.rule_id::text, 'null'));
		SELECT true, r.created_by, r.entity_type, r.tenant_id,
			   ARRAY(SELECT lower(a.action_type) FROM automation.rule_actions a WHERE a.rule_id = r.id)
		  INTO def_found, def_role, def_entity, def_tenant, def_actions
		  FROM automation.rules r WHERE r.id = job.rule_id AND job.workflow_id IS NULL;
	END IF;
	IF def_found IS NULL THEN
		PERFORM automation._err('22023', format('job %s: its %s no longer exists', job.id, def_kind),
								NULL, 'a job runs only while its workflow or rule exists');
	END IF;
	IF def_entity IS DISTINCT FROM job.entity OR NOT job.action_type = ANY (def_actions)
	   OR (def_tenant IS NOT NULL AND def_tenant IS DISTINCT FROM job.tenant_id) THEN
		PERFORM automation._err('42501', format('job %s does not match its %s', job.id, def_kind),
								format('job: entity %s, action %s, tenant %s; %s: entity %s, actions %s, tenant %s',
									   automation._show(job.entity), job.action_type, automation._show(job.tenant_id),
									   def_kind, automation._show(def_entity), array_to_string(def_actions, ', '),
									   automation._show(def_tenant)),
								'the job was changed after it was enqueued; it is not run');
	END IF;

	IF job.status = 'queued' THEN
		UPDATE automation.jobs j SET status = 'running', attempts = j.attempts + 1,
			   locked_by = 'execute_job', locked_until = now() + interval '60 seconds'
		 WHERE j.id = job.id;
	END IF;

	/* absent keys take the vocabulary's defaults, as validation fills them */
	SELECT t.defaults || (job.payload -> 'config') INTO config
	  FROM automation._action_types() t WHERE t.job = job.action_type;
	SELECT * INTO ent FROM automation.entities e WHERE e.name = job.entity;
	IF job.action_type NOT IN ('create_task', 'notify') AND ent.name IS NULL THEN
		PERFORM automation._err('22023', format('entity %s is no longer watched', automation._show(job.entity)),
								NULL, NULL);
	END IF;

	/* the table may have changed hands since the definition was created */
	IF job.action_type = 'create_task' THEN
		PERFORM automation._check_target_owner(def_role, e.relation, format('job %s', job.id))
		   FROM automation.entities e WHERE e.name = 'task';
	ELSIF job.action_type <> 'notify' THEN
		PERFORM automation._check_target_owner(def_role, ent.relation, format('job %s', job.id));
	END IF;

	/* the action's own changes are one level deeper (loop guard) */
	PERFORM set_config('automation.current_depth', (job.depth + 1)::text, true);

	CASE job.action_type
	WHEN 'update_field' THEN
		written := automation._set_column(def_role, ent, job.record_key, job.tenant_id,
										  config ->> 'field', config ->> 'value');
		action_result := jsonb_build_object('updated', written, 'field', config ->> 'field',
									 'value', config -> 'value');
	WHEN 'change_stage' THEN
		written := automation._set_column(def_role, ent, job.record_key, job.tenant_id,
										  config ->> 'stage_field',
										  config ->> 'stage_id');
		action_result := jsonb_build_object('updated', written, 'field', config ->> 'stage_field',
									 'value', config -> 'stage_id');
	WHEN 'tag', 'untag' THEN
		written := automation._tag(def_role, ent, job.record_key, job.tenant_id,
								   config ->> 'tags_field', config ->> 'tag',
								   job.action_type = 'tag');
		action_result := jsonb_build_object('updated', written, 'field', config ->> 'tags_field',
									 'tag', config ->> 'tag');
	WHEN 'assign_user' THEN
		member := automation._next_pool_member((config ->> 'assign_pool_id')::uuid);
		written := automation._set_column(def_role, ent, job.record_key, job.tenant_id,
										  config ->> 'assign_field', member);
		action_result := jsonb_build_object('updated', written, 'field', config ->> 'assign_field',
									 'assigned', member);
	WHEN 'create_task' THEN
		action_result := automation._create_task(def_role, config);
	WHEN 'notify' THEN
		INSERT INTO automation.notifications (job_id, workflow_id, rule_id, tenant_id, entity,
											  record_key, recipient, message)
		VALUES (job.id, job.workflow_id, job.rule_id, job.tenant_id, job.entity, job.record_key,
				coalesce(config ->> 'recipient', ''), coalesce(config ->> 'message', ''))
		RETURNING jsonb_build_object('notification_id', notifications.id) INTO action_result;
		/* any role may LISTEN: the payload is the id only; listeners read the row under RLS */
		PERFORM pg_notify('automation_notifications',
						  jsonb_build_object('id', action_result -> 'notification_id')::text);
	END CASE;

	IF NOT coalesce((action_result ->> 'updated')::boolean, true) THEN
		action_result := action_result || jsonb_build_object('reason',
			automation._unwritten_reason(def_role, ent, job.record_key, job.tenant_id));
	END IF;
	PERFORM set_config('automation.current_depth', previous_depth, true);
	UPDATE automation.jobs j SET status = 'succeeded', result = action_result,
		   finished_at = now(), locked_by = NULL, locked_until = NULL, last_error = NULL
	 WHERE j.id = job.id;
	RETURN action_result;
END
$$;

/*
 * run_database_jobs: claim due database-action jobs and run each in its own
 * subtransaction; a failure is recorded with fail_job (permanent for
 * privilege and data errors, retried otherwise).  Returns how many succeeded.
 * SECURITY INVOKER: a tenant's role claims only its tenant's jobs.
 */
CREATE OR REPLACE FUNCTION automation.run_database_jobs(max_jobs integer DEFAULT 100)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	job automation.jobs;
	done integer := 0;
BEGIN
	IF max_jobs IS NULL OR max_jobs < 1 OR max_jobs > 10000 THEN
		PERFORM automation._err('22023', 'invalid max_jobs: must be between 1 and 10000',
								format('got %s', coalesce(max_jobs::text, 'null')), NULL);
	END IF;
	FOR job IN SELECT * FROM automation.claim_jobs('run_database_jobs', max_jobs, interval '60 seconds',
			ARRAY(SELECT t.job FROM automation._action_types() t WHERE t.runs = 'database' ORDER BY t.ord))
	LOOP
		BEGIN
			PERFORM automation.execute_job(job.id);
			done := done + 1;
		EXCEPTION WHEN OTHERS THEN
			PERFORM automation.fail_job(job.id, format('%s (SQLSTATE %s)', SQLERRM, SQLSTATE),
										NOT (SQLSTATE LIKE '42%' OR SQLSTATE LIKE '22%'));
		END;
	END LOOP;
	RETURN done;
END
$$;

/* _check_action_types: 22023 unless every element is a known action type. */
CREATE OR REPLACE FUNCTION automation._check_action_types(action_types text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	known constant text[] := automation._job_action_types();
	t text;
BEGIN
	IF action_types IS NULL THEN
		RETURN;
	END IF;
	IF cardinality(action_types) = 0 THEN
		PERFORM automation._err('22023', 'action_types must not be empty',
								'action_types is {}', 'pass NULL for every action type');
	END IF;
	FOREACH t IN ARRAY action_types LOOP
		IF t IS NULL OR NOT t = ANY (known) THEN
			PERFORM automation._err('22023', 'action_types: unknown action type',
									format('action type %s', coalesce(quote_literal(t), 'NULL')),
									'known: ' || array_to_string(known, ', '));
		END IF;
	END LOOP;
END
$$;
