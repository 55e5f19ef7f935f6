/*
 * 15_actions_validate.sql: the one validator of action configurations,
 * shared by workflows (action_config) and rules (rule_actions.config).
 *
 * Invariants: _validate_action accepts exactly the keys of the vocabulary
 * (src/vocabulary.h, automation._action_types()) per action type, checks
 * every merge token against the live schema, checks a literal value of a
 * database action against the target column's type, checks that the
 * definition's creator holds the privilege the database action needs
 * (42501 otherwise), and returns the config normalised: delay_minutes an
 * integer, method upper-case, and absent keys filled with
 * the vocabulary's defaults (the *_field keys of assign_user / change_stage
 * / tag / untag).
 */

/*
 * _check_target_owner: a superuser's definition runs its database actions as
 * that superuser, and the target table's own code (its triggers, the casts
 * and output functions of its types) runs as whoever writes it: refuse the
 * table of a role that is not a superuser, or that role would run its code
 * as a superuser at will (doc/security.md).
 */
CREATE FUNCTION automation._check_target_owner(creator name, rel regclass, field text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	owner name;
BEGIN
	SELECT c.relowner::regrole::name INTO owner FROM pg_catalog.pg_class c WHERE c.oid = rel;
	IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = creator)
	   AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = owner) THEN
		PERFORM automation._err('42501', format('permission denied for %s', field),
								format('%s would write table %s of role %s as superuser %s: that role''s triggers and casts would run as a superuser',
									   field, rel::text, automation._show(owner), automation._show(creator)),
								format('create the definition as %s, or as a role with just the privileges it needs', automation._show(owner)));
	END IF;
END
$$;

/* _check_column_privilege: creator must hold priv on rel's column col. */
CREATE FUNCTION automation._check_column_privilege(creator name, rel regclass, col name,
												   priv text, field text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n smallint;
BEGIN
	PERFORM automation._check_target_owner(creator, rel, field);
	SELECT a.attnum INTO n FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
	IF n IS NULL OR NOT has_column_privilege(creator, rel, n, priv) THEN
		PERFORM automation._err('42501', format('permission denied for %s', field),
								format('role %s lacks %s on %s column %s', automation._show(creator), priv,
									   rel::text, automation._show(col)),
								format('grant %s on the column to that role, or create the definition as a role that has it', priv));
	END IF;
END
$$;

/*
 * _check_template: a string value of an action config; control characters
 * other than tab/newline are refused, and header-like fields (single_line)
 * refuse newlines too; merge tokens are checked.
 */
CREATE FUNCTION automation._check_template(v jsonb, field text, entity text, kind text,
										   single_line boolean DEFAULT false,
										   required boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s text;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		IF required THEN
			PERFORM automation._err('22023', format('%s is required', field), NULL,
									format('add "%s"', field));
		END IF;
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) <> 'string' THEN
		PERFORM automation._err('22023', format('%s must be a string', field),
								'got ' || automation._json_desc(v));
	END IF;
	s := v #>> '{}';
	IF required AND btrim(s) = '' THEN
		PERFORM automation._err('22023', format('%s must not be empty', field), NULL,
								format('give a value for %s', field));
	END IF;
	IF single_line AND s ~ '[\r\n]' THEN
		PERFORM automation._err('22023', format('%s must be a single line', field),
								format('got %s', automation._show(s)),
								'remove carriage returns and line feeds');
	END IF;
	IF s ~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]' THEN
		PERFORM automation._err('22023', format('%s contains control characters', field),
								format('got %s', automation._show(s)));
	END IF;
	PERFORM automation._merge_tokens_check(s, entity, kind, field);
	RETURN s;
END
$$;

/*
 * _check_db_value: a value an action writes into column f: a string with
 * merge tokens (checked), or a literal (string, number, boolean) that
 * parses as the column's type (its element type when as_element), or null
 * for a nullable column.
 */
CREATE FUNCTION automation._check_db_value(f automation._field, v jsonb, field text,
										   entity text, kind text,
										   as_element boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	is_notnull boolean;
BEGIN
	IF v IS NULL THEN
		PERFORM automation._err('22023', format('%s is required', field), NULL,
								format('add "%s"', field));
	END IF;
	IF jsonb_typeof(v) = 'null' THEN
		SELECT a.attnotnull INTO is_notnull FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid = f.relation AND a.attnum = f.attnum;
		IF is_notnull OR as_element THEN
			PERFORM automation._err('22023', format('%s must not be null', field),
									format('column %s is NOT NULL', automation._show(f.column_name)));
		END IF;
		RETURN;
	END IF;
	IF jsonb_typeof(v) IN ('object', 'array') THEN
		IF automation._is_json_field(f) AND NOT as_element THEN
			RETURN;
		END IF;
		PERFORM automation._err('22023', format('%s must be a string, number or boolean', field),
								'got ' || automation._json_desc(v));
	END IF;
	IF jsonb_typeof(v) = 'string' AND automation._has_tokens(v #>> '{}') THEN
		PERFORM automation._check_template(v, field, entity, kind);
		RETURN;
	END IF;
	IF automation._is_json_field(f) AND NOT as_element THEN
		RETURN;
	END IF;
	PERFORM automation._check_value(f, v #>> '{}', field, as_element);
END
$$;

/* _column_field: field names a plain column of entity (no json path). */
CREATE FUNCTION automation._column_field(entity text, v jsonb, field text)
RETURNS automation._field
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f automation._field;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) <> 'string' THEN
		PERFORM automation._err('22023', format('%s must be a string naming a column', field),
								format('got %s', automation._show_json(v)));
	END IF;
	f := automation._resolve_field(entity, v #>> '{}', field);
	IF cardinality(f.json_path) > 0 THEN
		PERFORM automation._err('22023', format('%s must name a column, not a path into one', field),
								format('got %s', automation._show(v #>> '{}')),
								format('write the whole column %s', automation._show(f.column_name)));
	END IF;
	RETURN f;
END
$$;

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
 * _check_creator: creator (created_by) must be an existing role the current
 * user is a member of; a definition acts with its creator's privileges.
 */
CREATE FUNCTION automation._check_creator(creator name)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF creator IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = creator) THEN
		PERFORM automation._err('22023', format('created_by %s is not a role', automation._show(creator)),
								NULL, 'leave created_by to its default, current_user');
	END IF;
	IF NOT pg_has_role(current_user, creator, 'MEMBER') THEN
		PERFORM automation._err('42501', format('permission denied to act as role %s', automation._show(creator)),
								format('role %s is not a member of role %s', current_user, creator),
								'a definition runs its database actions as created_by; only members of that role can set or change them');
	END IF;
END
$$;
