/*
 * 40_backtest.sql: backtest and enrollment (SPEC section 12; install:
 * src/sql/install/65_backtest.sql).  New: _backtest, _enroll,
 * _enroll_requested, backtest(jsonb, int), backtest(text, int).  Changed:
 * enable_workflow gains body and enroll_existing (below); the create and
 * update functions of workflows and rules accept "enroll_existing" (_workflow_apply,
 * create_workflow, update_workflow, _rule_apply, create_rule, update_rule)
 * and grant_role grants _backtest and _enroll.  firings.operation is free
 * text: 'ENROLL' needs no constraint change.  Roles granted by grant_role
 * get the new functions when it is run again (doc/security.md).
 */

CREATE FUNCTION automation._backtest(definition jsonb, id text, sample integer)
RETURNS jsonb
	LANGUAGE c CALLED ON NULL INPUT AS 'MODULE_PATHNAME', 'automation_backtest';

CREATE FUNCTION automation._enroll(kind text, id text)
RETURNS jsonb
	LANGUAGE c CALLED ON NULL INPUT AS 'MODULE_PATHNAME', 'automation_enroll';

CREATE FUNCTION automation._enroll_requested(body jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(automation._json_bool(body, 'enroll_existing', 'enroll_existing'), false)
$$;

CREATE FUNCTION automation.backtest(definition jsonb, sample integer DEFAULT 10)
RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT automation._backtest(definition, NULL, sample)
$$;

CREATE FUNCTION automation.backtest(id text, sample integer DEFAULT 10)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	body jsonb;
BEGIN
	IF ltrim(id) LIKE '{%' THEN
		BEGIN
			body := id::jsonb;
		EXCEPTION WHEN invalid_text_representation THEN
			PERFORM automation._err('22023', 'definition is not valid JSON',
									format('got %s', automation._show(id)),
									'pass a create_workflow or create_rule body, or the id of a workflow or rule');
		END;
		RETURN automation._backtest(body, NULL, sample);
	END IF;
	RETURN automation._backtest(NULL, id, sample);
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

CREATE OR REPLACE FUNCTION automation.update_workflow(id text, patch jsonb)
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

CREATE OR REPLACE FUNCTION automation.grant_role(role regrole, kind text)
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	worker_entry constant text[] := ARRAY['claim_jobs', 'complete_job', 'complete_jobs', 'fail_job',
										  'next_job_at', 'execute_job', 'run_database_jobs'];
	c_helpers constant text[] := ARRAY['_new_workflow_id', '_form_key_parse', '_merge_token_paths',
									   '_invoker', '_breaker_state', '_breaker_reset', '_explain',
									   '_value_parses_as_owner', '_input_type', '_backtest', '_enroll'];
	stmts text[] := '{}';
	funcs text;
	s text;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r, pg_catalog.pg_extension e
					WHERE r.rolname = current_user AND e.extname = 'automation'
					  AND (r.rolsuper OR r.oid = e.extowner)) THEN
		PERFORM automation._err('42501', 'permission denied for function automation.grant_role',
								format('role %s is not the owner of extension automation', current_user),
								'call it as the extension owner or a superuser');
	END IF;
	IF role IS NULL THEN
		PERFORM automation._err('22023', 'role must not be null', NULL, NULL);
	END IF;
	IF kind IS NULL OR kind NOT IN ('admin', 'worker') THEN
		PERFORM automation._err('22023', format('invalid kind %s', automation._show(kind)),
								NULL, 'use ''admin'' (definitions) or ''worker'' (the queue)');
	END IF;
	SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.proname, p.oid::regprocedure::text) INTO funcs
	  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
	 WHERE p.pronamespace = 'automation'::regnamespace
	   AND CASE
		   WHEN p.proname LIKE '\_%' THEN
				(l.lanname IN ('sql', 'plpgsql') AND NOT p.prosecdef
				 AND p.prorettype <> 'pg_catalog.trigger'::regtype)
				OR (l.lanname = 'c' AND p.proname = ANY (c_helpers))
				/* watch() creates the row trigger as the caller; it acts only on watched tables */
				OR (kind = 'admin' AND p.proname = '_row_trigger')
				/* the INSERT policy on alerts asks it as the worker (fail_job's job_dead alert) */
				OR p.proname = '_job_dead_alerted'
		   WHEN kind = 'worker' THEN p.proname = ANY (worker_entry)
		   ELSE NOT (p.proname = ANY (worker_entry) OR p.proname = 'grant_role')
		   END;
	stmts := stmts || format('GRANT USAGE ON SCHEMA automation TO %s', role);
	stmts := stmts || format('GRANT EXECUTE ON FUNCTION %s TO %s', funcs, role);
	IF kind = 'admin' THEN
		stmts := stmts || format('GRANT SELECT, INSERT, UPDATE, DELETE ON automation.entities, automation.workflows, '
								 'automation.rules, automation.rule_conditions, automation.rule_actions, '
								 'automation.user_pools, automation.user_pool_members, automation.channels, '
								 'automation.idempotency_keys TO %s', role);
		stmts := stmts || format('GRANT SELECT, DELETE ON automation.jobs, automation.firings, automation.alerts, '
								 'automation.notifications TO %s', role);
		stmts := stmts || format('GRANT UPDATE (read_at) ON automation.notifications TO %s', role);
		stmts := stmts || format('GRANT SELECT ON automation.circuit_breakers TO %s', role);
		stmts := stmts || format('GRANT USAGE ON SEQUENCE automation.rule_conditions_id_seq, '
								 'automation.rule_actions_id_seq TO %s', role);
	ELSE
		stmts := stmts || format('GRANT SELECT, UPDATE (status, attempts, max_attempts, run_after, locked_by, '
								 'locked_until, last_error, result, finished_at) ON automation.jobs TO %s', role);
		stmts := stmts || format('GRANT SELECT ON automation.channels TO %s', role);
		stmts := stmts || format('GRANT SELECT, INSERT ON automation.alerts TO %s', role);
		stmts := stmts || format('GRANT USAGE ON SEQUENCE automation.alerts_id_seq TO %s', role);
	END IF;
	FOREACH s IN ARRAY stmts LOOP
		EXECUTE s;
	END LOOP;
	RETURN stmts;
END
$$;

/*
 * enable_workflow(id) becomes enable_workflow(id, body jsonb DEFAULT NULL,
 * enroll_existing boolean DEFAULT NULL): calls with the id alone are
 * unchanged.  The roles that could execute the old function can execute
 * the new one (its grants are carried over below).
 */
CREATE TEMP TABLE enable_workflow_grantees ON COMMIT DROP AS
	SELECT x.grantee::regrole::text AS grantee
	  FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) x
	 WHERE p.oid = 'automation.enable_workflow(text)'::regprocedure
	   AND x.privilege_type = 'EXECUTE' AND x.grantee <> 0 AND x.grantee <> p.proowner;
DROP FUNCTION automation.enable_workflow(text);
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

REVOKE ALL ON FUNCTION automation._backtest(jsonb, text, integer),
	automation._enroll(text, text), automation._enroll_requested(jsonb),
	automation.backtest(jsonb, integer), automation.backtest(text, integer),
	automation.enable_workflow(text, jsonb, boolean) FROM PUBLIC;
DO $$
DECLARE g text;
BEGIN
	FOR g IN SELECT grantee FROM enable_workflow_grantees LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION automation.enable_workflow(text, jsonb, boolean) TO %s', g);
	END LOOP;
END
$$;
DROP TABLE enable_workflow_grantees;
