-- automation--0.1.0--0.2.0.sql: ALTER EXTENSION automation UPDATE from 0.1.0

\echo Use "ALTER EXTENSION automation UPDATE TO '0.2.0'" to load this file. \quit

/*
 * 0.2.0: channel names are unique per tenant, not across tenants.  Two
 * tenants may both have a channel called "slack"; a tenant's channel shadows
 * a global channel of the same name for that tenant's definitions, and a
 * global definition uses global channels only.  Validation, the in-use check
 * and delete_channel follow that resolution; the engine records the
 * definition's tenant in each job's payload (event.definition_tenant_id) and
 * the worker resolves channels with it.
 * (Fresh installs: sql/install/00_schema.sql, 15_actions_validate.sql,
 * 25_channels.sql, 30_workflows.sql, 35_rules.sql.)
 */
ALTER TABLE automation.channels DROP CONSTRAINT channels_pkey;
CREATE UNIQUE INDEX channels_name_key
	ON automation.channels (name, (coalesce(tenant_id, '')));

/* _channels_validate: BEFORE INSERT OR UPDATE on automation.channels. */
CREATE OR REPLACE FUNCTION automation._channels_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	/* rows a restore loads were validated when first written (10_common.sql) */
	IF TG_OP = 'INSERT' AND automation._restoring(TG_RELID) THEN
		RETURN NEW;
	END IF;
	IF NEW.name IS NULL OR length(NEW.name) NOT BETWEEN 1 AND 120 OR NEW.name ~ '[[:cntrl:]]' THEN
		PERFORM automation._err('22023', 'channel name must be 1 to 120 characters',
								format('got %s', automation._show(NEW.name)),
								'give a short name without control characters, e.g. slack');
	END IF;
	IF NEW.format IS NULL OR NEW.format NOT IN ('slack', 'json') THEN
		PERFORM automation._err('22023', format('invalid channel format %s', automation._show(NEW.format)),
								NULL, 'use slack or json');
	END IF;
	IF automation._has_tokens(NEW.url) THEN
		PERFORM automation._err('22023', 'channel url must not contain merge tokens',
								format('got %s', automation._show(NEW.url)));
	END IF;
	PERFORM automation._check_url(NEW.url, 'channel url');
	IF TG_OP = 'UPDATE' AND NEW.name <> OLD.name THEN
		PERFORM automation._err('22023', 'a channel cannot be renamed',
								format('channel %s', automation._show(OLD.name)),
								'create a new channel and point the actions at it');
	END IF;
	/* actions resolve channels by tenant: moving one would redirect them */
	IF TG_OP = 'UPDATE' AND NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
		PERFORM automation._err('22023', 'a channel cannot move to another tenant',
								format('channel %s of %s', automation._show(OLD.name),
									   CASE WHEN OLD.tenant_id IS NULL THEN 'no tenant (global)'
											ELSE 'tenant ' || automation._show(OLD.tenant_id) END),
								'create the channel in the other tenant instead');
	END IF;
	IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM automation.channels c
									 WHERE c.name = NEW.name
									   AND coalesce(c.tenant_id, '') = coalesce(NEW.tenant_id, '')) THEN
		PERFORM automation._err('23505', format('channel %s already exists', automation._show(NEW.name)),
								format('name %s', automation._show(NEW.name))
								|| CASE WHEN NEW.tenant_id IS NOT NULL
										THEN format(', tenant %s', automation._show(NEW.tenant_id)) ELSE '' END,
								'choose another name or delete the channel first');
	END IF;
	RETURN NEW;
END
$$;

/*
 * _channels_in_use: BEFORE DELETE on automation.channels.  Counts the
 * definitions whose channel resolves to this row: a tenant's channel serves
 * that tenant's actions; a global channel serves the global actions and those
 * of every tenant without a channel of that name.  SECURITY DEFINER: the
 * count covers every tenant, not just the rows the caller can see.
 */
CREATE OR REPLACE FUNCTION automation._channels_in_use()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	nwf bigint;
	nrule bigint;
BEGIN
	/* it reads every tenant's definitions: only as the trigger it was made for */
	IF TG_RELID IS DISTINCT FROM 'automation.channels'::regclass OR TG_OP <> 'DELETE'
	   OR TG_LEVEL <> 'ROW' OR TG_WHEN <> 'BEFORE' THEN
		PERFORM automation._err('42501', 'automation._channels_in_use() is only the BEFORE DELETE trigger of automation.channels',
								format('called by %s %s %s on %s', TG_WHEN, TG_OP, TG_LEVEL, TG_RELID::regclass));
	END IF;
	SELECT count(*) INTO nwf FROM automation.workflows w
	 WHERE w.action_type = 'send_channel_message' AND w.action_config ->> 'channel' = OLD.name
	   AND CASE WHEN OLD.tenant_id IS NOT NULL THEN w.tenant_id = OLD.tenant_id
				ELSE w.tenant_id IS NULL
					 OR NOT EXISTS (SELECT 1 FROM automation.channels o
									 WHERE o.name = OLD.name AND o.tenant_id = w.tenant_id) END;
	SELECT count(DISTINCT a.rule_id) INTO nrule
	  FROM automation.rule_actions a JOIN automation.rules r ON r.id = a.rule_id
	 WHERE a.action_type = 'SEND_CHANNEL_MESSAGE' AND a.config ->> 'channel' = OLD.name
	   AND CASE WHEN OLD.tenant_id IS NOT NULL THEN r.tenant_id = OLD.tenant_id
				ELSE r.tenant_id IS NULL
					 OR NOT EXISTS (SELECT 1 FROM automation.channels o
									 WHERE o.name = OLD.name AND o.tenant_id = r.tenant_id) END;
	IF nwf + nrule > 0 THEN
		PERFORM automation._err('2BP01', format('channel %s is still used', automation._show(OLD.name)),
								format('%s workflow(s) and %s rule(s) send to it', nwf, nrule),
								'delete or change them first');
	END IF;
	RETURN OLD;
END
$$;

/*
 * delete_channel: remove the session's tenant's channel of that name (the
 * global one without a tenant), if no action uses it.
 */
CREATE OR REPLACE FUNCTION automation.delete_channel(name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM automation.channels c
	 WHERE c.name = delete_channel.name
	   AND c.tenant_id IS NOT DISTINCT FROM nullif(current_setting('automation.tenant', true), '');
	IF NOT FOUND THEN
		PERFORM automation._err('P0002', format('channel %s not found', automation._show(delete_channel.name)),
								NULL, 'see automation.channels for the channels');
	END IF;
END
$$;

/* _validate_action takes the definition's tenant (a new argument). */
DROP FUNCTION automation._validate_action(text, jsonb, text, text, text, name);
/*
 * _validate_action: check config for action (lower-case action type) of a
 * definition of tenant (NULL: global) on entity created by creator; kind is
 * 'workflow' or 'rule' (merge token {{<kind>.name}}), field names the config
 * in errors (action_config, actions[0]).  Returns the normalised config.
 */
CREATE FUNCTION automation._validate_action(action text, config jsonb, entity text,
											kind text, field text, creator name, tenant text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cfg jsonb := config;
	allowed text[];
	required text[];
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

	CASE action
		WHEN 'webhook' THEN
			allowed := '{url,method,headers,body}'; required := '{url}';
		WHEN 'send_channel_message' THEN
			allowed := '{channel,recipient,message}'; required := '{channel,message}';
		WHEN 'send_email' THEN
			allowed := '{to,subject,body,cc,bcc,reply_to}'; required := '{to,subject,body}';
		WHEN 'update_field' THEN
			allowed := '{field,value}'; required := '{field,value}';
		WHEN 'create_task' THEN
			allowed := NULL; required := '{}';
		WHEN 'assign_user' THEN
			allowed := '{assign_pool_id,assign_field}'; required := '{assign_pool_id}';
		WHEN 'change_stage' THEN
			allowed := '{stage_id,stage_field}'; required := '{stage_id}';
		WHEN 'tag', 'untag' THEN
			allowed := '{tag,tags_field}'; required := '{tag}';
		WHEN 'notify' THEN
			allowed := '{recipient,message}'; required := '{recipient,message}';
		ELSE
			PERFORM automation._err('22023', format('invalid action type %s', automation._show(action)));
	END CASE;
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
		IF NOT cfg ? 'assign_field' THEN
			cfg := cfg || '{"assign_field": "owner_id"}';
		END IF;
		f := automation._column_field(entity, cfg -> 'assign_field', field || '.assign_field');
		PERFORM automation._check_column_privilege(creator, f.relation, f.column_name, 'UPDATE', field);

	ELSIF action = 'change_stage' THEN
		IF NOT cfg ? 'stage_field' THEN
			cfg := cfg || '{"stage_field": "stage_id"}';
		END IF;
		f := automation._column_field(entity, cfg -> 'stage_field', field || '.stage_field');
		IF jsonb_typeof(cfg -> 'stage_id') = 'null' THEN
			PERFORM automation._err('22023', format('%s.stage_id must not be null', field));
		END IF;
		PERFORM automation._check_db_value(f, cfg -> 'stage_id', field || '.stage_id', entity, kind);
		PERFORM automation._check_column_privilege(creator, f.relation, f.column_name, 'UPDATE', field);

	ELSIF action IN ('tag', 'untag') THEN
		IF NOT cfg ? 'tags_field' THEN
			cfg := cfg || '{"tags_field": "tags"}';
		END IF;
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
REVOKE ALL ON FUNCTION automation._validate_action(text, jsonb, text, text, text, name, text) FROM PUBLIC;

/* ... and its callers pass it. */
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
			NEW.action_config, NEW.max_triggers_per_day, NEW.created_by)
		   IS NOT DISTINCT FROM
		   (OLD.tenant_id, OLD.name, OLD.condition_entity, OLD.condition_field,
			OLD.condition_operator, OLD.condition_value, OLD.action_type,
			OLD.action_config, OLD.max_triggers_per_day, OLD.created_by) THEN
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

	IF NEW.max_triggers_per_day IS NULL OR NEW.max_triggers_per_day < 1 THEN
		PERFORM automation._err('22023', 'max_triggers_per_day must be a positive integer',
								format('got %s', coalesce(NEW.max_triggers_per_day::text, 'null')),
								'give an integer from 1 to 2147483647 (default 100)');
	END IF;
	IF NEW.enabled IS NULL THEN
		PERFORM automation._err('22023', 'enabled must be a boolean', 'got null', 'give true or false');
	END IF;
	IF NEW.enabled THEN
		NEW.disabled_reason := NULL;
	END IF;
	RETURN NEW;
END
$$;

/* _rules_validate: BEFORE INSERT OR UPDATE on automation.rules. */
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
	IF TG_OP = 'INSERT' OR NEW.created_by IS DISTINCT FROM OLD.created_by
	   OR NEW.entity_type IS DISTINCT FROM OLD.entity_type THEN
		PERFORM automation._check_creator(NEW.created_by);
	END IF;

	/* a new entity, trigger type or creator: the existing rows must still fit */
	IF TG_OP = 'UPDATE' AND (NEW.entity_type, NEW.trigger_type, NEW.created_by)
	   IS DISTINCT FROM (OLD.entity_type, OLD.trigger_type, OLD.created_by) THEN
		i := 0;
		FOR c IN SELECT * FROM automation.rule_conditions x WHERE x.rule_id = NEW.id ORDER BY x.sort_order, x.id LOOP
			PERFORM automation._validate_rule_condition(NEW.entity_type, NEW.trigger_type, c, format('conditions[%s]', i));
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

/* _rule_actions_validate: BEFORE INSERT OR UPDATE on rule_actions. */
CREATE OR REPLACE FUNCTION automation._rule_actions_validate()
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
