-- automation--0.3.0.sql: assembled by the Makefile from sql/install/*.sql

\echo Use "CREATE EXTENSION automation" to load this file. \quit

/*
 * 00_schema.sql: the tables every other part of the extension stands on.
 *
 * Nothing here is granted to PUBLIC.  Definition tables are validated by
 * BEFORE triggers (10_validation.sql), so the API functions and direct SQL
 * share one source of truth.  Every definition and job table is registered
 * with pg_extension_config_dump so pg_dump keeps its rows.
 */

-- Fails with a clear error unless the library was preloaded (SPEC §2).
CREATE FUNCTION automation._check_preload() RETURNS void
	LANGUAGE c AS 'MODULE_PATHNAME', 'automation_check_preload';
SELECT automation._check_preload();

REVOKE ALL ON SCHEMA automation FROM PUBLIC;

/* wf_ + a ULID: 48-bit milliseconds and 80 random bits, Crockford base32. */
CREATE FUNCTION automation._new_workflow_id() RETURNS text
	LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'automation_new_workflow_id';

/* Watched tables. */
CREATE TABLE automation.entities (
	name text PRIMARY KEY
		CONSTRAINT entities_name_check CHECK (name ~ '^[a-z_][a-z0-9_]{0,62}$'),
	relation regclass NOT NULL UNIQUE,
	key_column name NOT NULL,
	tenant_column name,
	created_at timestamptz NOT NULL DEFAULT now(),
	key_attnum smallint,		-- the columns by number: renames are followed
	tenant_attnum smallint
);

/* Workflows: one condition, one action, a daily circuit breaker (SPEC §4). */
CREATE TABLE automation.workflows (
	id text PRIMARY KEY DEFAULT automation._new_workflow_id(),
	tenant_id text,
	name text NOT NULL,
	enabled boolean NOT NULL DEFAULT true,
	condition_entity text NOT NULL,
	condition_field text NOT NULL,
	condition_operator text NOT NULL,
	condition_value text NOT NULL DEFAULT '',
	action_type text NOT NULL,
	action_config jsonb NOT NULL DEFAULT '{}',
	max_triggers_per_day integer NOT NULL DEFAULT 100,
	disabled_reason text,
	breaker_reset_at timestamptz,	-- enable_workflow: fresh budget from here
	created_by name NOT NULL DEFAULT current_user,
	created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	payload_columns text[]			-- columns a job's new/old carry; NULL: all (0.3.0)
);
CREATE UNIQUE INDEX workflows_name_key
	ON automation.workflows ((coalesce(tenant_id, '')), name);
CREATE INDEX workflows_entity_idx ON automation.workflows (condition_entity);

/* Rules: many conditions and actions, priority, stop, cooldown (SPEC §5). */
CREATE TABLE automation.rules (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id text,
	name text NOT NULL,
	description text,
	entity_type text NOT NULL,
	trigger_type text NOT NULL,
	priority integer NOT NULL DEFAULT 50,
	is_active boolean NOT NULL DEFAULT true,
	stop_subsequent_rules boolean NOT NULL DEFAULT false,
	cooldown_hours integer,
	created_by name NOT NULL DEFAULT current_user,
	created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	payload_columns text[]			-- columns a job's new/old carry; NULL: all (0.3.0)
);
CREATE UNIQUE INDEX rules_name_key
	ON automation.rules ((coalesce(tenant_id, '')), name);
CREATE INDEX rules_entity_idx ON automation.rules (entity_type);

CREATE TABLE automation.rule_conditions (
	id bigserial PRIMARY KEY,
	rule_id uuid NOT NULL REFERENCES automation.rules (id) ON DELETE CASCADE,
	sort_order integer NOT NULL DEFAULT 0,
	field_path text NOT NULL,
	operator text NOT NULL,
	value_int bigint,
	value_string text,
	value_bool boolean,
	value_datetime timestamptz,
	value_array text[]
);
CREATE INDEX rule_conditions_rule_idx ON automation.rule_conditions (rule_id);

/* config holds the action-specific keys of SPEC §6 (assign_pool_id, tag, ...). */
CREATE TABLE automation.rule_actions (
	id bigserial PRIMARY KEY,
	rule_id uuid NOT NULL REFERENCES automation.rules (id) ON DELETE CASCADE,
	sort_order integer NOT NULL DEFAULT 0,
	action_type text NOT NULL,
	config jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX rule_actions_rule_idx ON automation.rule_actions (rule_id);

/* User pools for ASSIGN_USER; next_position is the round-robin cursor. */
CREATE TABLE automation.user_pools (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id text,
	name text NOT NULL,
	next_position integer NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX user_pools_name_key
	ON automation.user_pools ((coalesce(tenant_id, '')), name);

CREATE TABLE automation.user_pool_members (
	pool_id uuid NOT NULL REFERENCES automation.user_pools (id) ON DELETE CASCADE,
	position integer NOT NULL,
	member text NOT NULL,
	active boolean NOT NULL DEFAULT true,
	PRIMARY KEY (pool_id, position)
);

/*
 * Delivery channels for send_channel_message.  Names are unique per tenant;
 * a tenant's channel shadows a global one of the same name (since 0.2.0).
 */
CREATE TABLE automation.channels (
	name text NOT NULL,
	tenant_id text,
	format text NOT NULL DEFAULT 'slack'
		CONSTRAINT channels_format_check CHECK (format IN ('slack', 'json')),
	url text NOT NULL
		CONSTRAINT channels_url_check CHECK (url ~* '^https?://[^/?#@[:space:]]+'),
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX channels_name_key
	ON automation.channels (name, (coalesce(tenant_id, '')));

/*
 * Idempotency-Key: the first response of a (kind, key) within 24 hours.
 * Keys are per tenant: the tenant_id column and the unique index on
 * (tenant, kind, key) are added in 70_tenancy.sql (0.3.0; 0.2.0 had a
 * primary key on (kind, key), so a second tenant's key collided).
 */
CREATE TABLE automation.idempotency_keys (
	kind text NOT NULL,
	key uuid NOT NULL,
	request jsonb NOT NULL,
	response jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

/*
 * The fixed vocabularies of jobs and firings are domains, not table CHECK
 * constraints: a domain's check is compiled once per backend (typcache),
 * a table CHECK is re-read from the catalog by every INSERT the trigger
 * runs.
 */
CREATE DOMAIN automation.definition_source AS text
	CONSTRAINT definition_source_check CHECK (VALUE IN ('workflow', 'rule'));
CREATE DOMAIN automation.job_action_type AS text
	CONSTRAINT job_action_type_check CHECK (VALUE IN
		('webhook', 'send_channel_message', 'send_email', 'update_field',
		 'create_task', 'assign_user', 'change_stage', 'tag', 'untag', 'notify'));
CREATE DOMAIN automation.job_status AS text
	CONSTRAINT job_status_check CHECK (VALUE IN ('queued', 'running', 'succeeded', 'dead'));
CREATE DOMAIN automation.firing_outcome AS text
	CONSTRAINT firing_outcome_check CHECK (VALUE IN
		('fired', 'cooldown', 'circuit_breaker', 'depth_limit'));

/* One row per action to run (SPEC §7). */
CREATE TABLE automation.jobs (
	id bigserial PRIMARY KEY,
	source automation.definition_source NOT NULL,
	workflow_id text,
	rule_id uuid,
	action_type automation.job_action_type NOT NULL,
	entity text NOT NULL,
	record_key text,
	tenant_id text,
	payload jsonb NOT NULL,
	status automation.job_status NOT NULL DEFAULT 'queued',
	attempts integer NOT NULL DEFAULT 0,
	max_attempts integer NOT NULL DEFAULT 5,
	run_after timestamptz NOT NULL DEFAULT now(),
	locked_by text,
	locked_until timestamptz,
	last_error text,
	result jsonb,
	depth integer NOT NULL DEFAULT 0,
	run_as name NOT NULL,
	idempotency_key uuid NOT NULL DEFAULT gen_random_uuid(),
	created_at timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz
);
/* Claiming looks only at unfinished jobs, however long the history. */
CREATE INDEX jobs_due_idx ON automation.jobs (run_after, id)
	WHERE status = 'queued';
CREATE INDEX jobs_lease_idx ON automation.jobs (locked_until)
	WHERE status = 'running';
CREATE INDEX jobs_finished_idx ON automation.jobs (finished_at)
	WHERE status IN ('succeeded', 'dead');

/* Every match, whether or not it ran (SPEC §8). */
CREATE TABLE automation.firings (
	id bigserial PRIMARY KEY,
	source automation.definition_source NOT NULL,
	workflow_id text,
	rule_id uuid,
	entity text NOT NULL,
	record_key text,
	tenant_id text,
	operation text NOT NULL,
	outcome automation.firing_outcome NOT NULL,
	depth integer NOT NULL DEFAULT 0,
	fired_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX firings_workflow_idx ON automation.firings (workflow_id, fired_at)
	WHERE workflow_id IS NOT NULL;
/* the key hashed: a record key of any length is indexable (a long key failed the write) */
CREATE INDEX firings_rule_record_idx ON automation.firings (rule_id, pg_catalog.md5(record_key), fired_at)
	WHERE rule_id IS NOT NULL;
/* no index on fired_at alone: prune scans, firings stay cheap to insert */

CREATE TABLE automation.alerts (
	id bigserial PRIMARY KEY,
	kind text NOT NULL
		CONSTRAINT alerts_kind_check CHECK (kind IN
			('circuit_breaker', 'job_dead', 'depth_limit', 'definition_skipped')),
	workflow_id text,
	rule_id uuid,
	job_id bigint,
	tenant_id text,
	message text NOT NULL,
	details jsonb NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE automation.notifications (
	id bigserial PRIMARY KEY,
	job_id bigint,
	workflow_id text,
	rule_id uuid,
	tenant_id text,
	entity text,
	record_key text,
	recipient text NOT NULL,
	message text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	read_at timestamptz
);

SELECT pg_catalog.pg_extension_config_dump('automation.entities', '');
SELECT pg_catalog.pg_extension_config_dump('automation.workflows', '');
SELECT pg_catalog.pg_extension_config_dump('automation.rules', '');
SELECT pg_catalog.pg_extension_config_dump('automation.rule_conditions', '');
SELECT pg_catalog.pg_extension_config_dump('automation.rule_conditions_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('automation.rule_actions', '');
SELECT pg_catalog.pg_extension_config_dump('automation.rule_actions_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('automation.user_pools', '');
SELECT pg_catalog.pg_extension_config_dump('automation.user_pool_members', '');
SELECT pg_catalog.pg_extension_config_dump('automation.channels', '');
SELECT pg_catalog.pg_extension_config_dump('automation.idempotency_keys', '');
SELECT pg_catalog.pg_extension_config_dump('automation.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('automation.jobs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('automation.firings', '');
SELECT pg_catalog.pg_extension_config_dump('automation.firings_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('automation.alerts', '');
SELECT pg_catalog.pg_extension_config_dump('automation.alerts_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('automation.notifications', '');
SELECT pg_catalog.pg_extension_config_dump('automation.notifications_id_seq', '');

/*
 * _raise_alert: record an alert and wake its listeners.  Alerts are rare, so
 * a NOTIFY per alert is fine here (unlike jobs).  The payload is
 * {"id", "kind"} only: any role may LISTEN, so it carries nothing a tenant
 * must not see; listeners read the row from automation.alerts, where
 * row-level security applies.
 */
CREATE FUNCTION automation._raise_alert(kind text, message text,
	details jsonb DEFAULT '{}', workflow_id text DEFAULT NULL,
	rule_id uuid DEFAULT NULL, job_id bigint DEFAULT NULL,
	tenant_id text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	alert_id bigint;
BEGIN
	INSERT INTO automation.alerts (kind, message, details, workflow_id,
								   rule_id, job_id, tenant_id)
	VALUES (kind, message, coalesce(details, '{}'), workflow_id, rule_id,
			job_id, tenant_id)
	RETURNING id INTO alert_id;
	/* any role may LISTEN: ids only; listeners read the row under RLS */
	PERFORM pg_notify('automation_alerts',
					  json_build_object('id', alert_id, 'kind', kind)::text);
	RETURN alert_id;
END
$$;
/*
 * 10_common.sql: helpers shared by the definitions API and its validation
 * triggers (entities, workflows, rules, channels).
 *
 * Invariants:
 *   - every error raised here carries a SQLSTATE of SPEC section 9 (22023,
 *     23505, 42501, P0002, plus 2BP01 for dependencies), a lower-case message
 *     naming the field, a detail with the offending value or limit, and a
 *     hint where one helps;
 *   - user text shown in a message is quoted and cut to 100 characters;
 *   - every function pins search_path and schema-qualifies what it uses.
 */

/* _err: raise an error; detail and hint are optional. */
CREATE FUNCTION automation._err(state text, msg text, detail text DEFAULT NULL,
								hint text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF detail IS NOT NULL AND hint IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = state, MESSAGE = msg, DETAIL = detail, HINT = hint;
	ELSIF detail IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = state, MESSAGE = msg, DETAIL = detail;
	ELSIF hint IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = state, MESSAGE = msg, HINT = hint;
	ELSE
		RAISE EXCEPTION USING ERRCODE = state, MESSAGE = msg;
	END IF;
END
$$;

/* _show: a value quoted for a message, cut to 100 characters. */
CREATE FUNCTION automation._show(v text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN v IS NULL THEN 'null'
		WHEN pg_catalog.length(v) > 100
			THEN '"' || pg_catalog.left(v, 100) || '..." (' || pg_catalog.length(v) || ' characters)'
		ELSE '"' || v || '"'
	END
$$;

/* _show_json: a JSON value for a message, cut to 100 characters. */
CREATE FUNCTION automation._show_json(v jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN v IS NULL THEN 'missing'
		WHEN pg_catalog.length(v::text) > 100
			THEN pg_catalog.left(v::text, 100) || '...'
		ELSE v::text
	END
$$;

/* _json_desc: a JSON value with its type for a detail: number 5, null. */
CREATE FUNCTION automation._json_desc(v jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN v IS NULL THEN 'nothing'
		WHEN pg_catalog.jsonb_typeof(v) = 'null' THEN 'null'
		ELSE pg_catalog.jsonb_typeof(v) || ' ' || automation._show_json(v)
	END
$$;

/* _iso: a timestamp as the seed prints it, 2026-04-17T11:05:00Z. */
CREATE FUNCTION automation._iso(t timestamptz)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

/*
 * _json_text: a required-or-optional string member of a JSON object.
 * Missing -> NULL (or an error when required); JSON null -> NULL when
 * nullable; any other non-string -> 22023 naming the field.
 */
CREATE FUNCTION automation._json_text(obj jsonb, key text, field text,
									  required boolean DEFAULT false,
									  nullable boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := obj -> key;
BEGIN
	IF v IS NULL OR (jsonb_typeof(v) = 'null' AND nullable) THEN
		IF required THEN
			PERFORM automation._err('22023', format('%s is required', field),
									format('key "%s" is missing', key),
									format('add "%s"', key));
		END IF;
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) <> 'string' THEN
		PERFORM automation._err('22023', format('%s must be a string', field),
								'got ' || automation._json_desc(v));
	END IF;
	RETURN v #>> '{}';
END
$$;

/*
 * _json_int: an integer member, from a JSON integer or (form coercion) a
 * string of decimal digits.  "" gives NULL when blank_is_null.
 */
CREATE FUNCTION automation._json_int(obj jsonb, key text, field text,
									 minv bigint, maxv bigint,
									 nullable boolean DEFAULT false,
									 blank_is_null boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := obj -> key;
	s text;
	n numeric;
BEGIN
	IF v IS NULL THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) = 'null' THEN
		IF nullable THEN
			RETURN NULL;
		END IF;
		PERFORM automation._err('22023', format('%s must be an integer', field),
								'got null',
								format('give an integer from %s to %s', minv, maxv));
	END IF;
	IF jsonb_typeof(v) = 'number' THEN
		n := (v #>> '{}')::numeric;
	ELSIF jsonb_typeof(v) = 'string' THEN
		s := btrim(v #>> '{}');
		IF s = '' AND blank_is_null THEN
			RETURN NULL;
		END IF;
		IF s !~ '^[-+]?[0-9]{1,18}$' THEN
			PERFORM automation._err('22023', format('%s must be an integer', field),
									format('got %s', automation._show(v #>> '{}')),
									format('give an integer from %s to %s', minv, maxv));
		END IF;
		n := s::numeric;
	ELSE
		PERFORM automation._err('22023', format('%s must be an integer', field),
								'got ' || automation._json_desc(v),
								format('give an integer from %s to %s', minv, maxv));
	END IF;
	IF n <> trunc(n) THEN
		PERFORM automation._err('22023', format('%s must be an integer', field),
								format('got %s', automation._show_json(v)),
								format('give an integer from %s to %s', minv, maxv));
	END IF;
	IF n < minv OR n > maxv THEN
		PERFORM automation._err('22023', format('%s is out of range', field),
								format('got %s, allowed %s to %s', automation._show_json(v), minv, maxv),
								format('give an integer from %s to %s', minv, maxv));
	END IF;
	RETURN n::bigint;
END
$$;

/*
 * _json_bool: a boolean member, from a JSON boolean or (form coercion) one
 * of the strings true/false/1/0 (any case, blanks trimmed).
 */
CREATE FUNCTION automation._json_bool(obj jsonb, key text, field text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := obj -> key;
	s text;
BEGIN
	IF v IS NULL THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) = 'boolean' THEN
		RETURN (v #>> '{}')::boolean;
	END IF;
	IF jsonb_typeof(v) = 'string' THEN
		s := lower(btrim(v #>> '{}'));
		IF s IN ('true', '1') THEN
			RETURN true;
		ELSIF s IN ('false', '0') THEN
			RETURN false;
		END IF;
	END IF;
	PERFORM automation._err('22023', format('%s must be a boolean', field),
							format('got %s', automation._show_json(v)),
							'give true or false (form fields: "true", "false", "1" or "0")');
	RETURN NULL;
END
$$;

/* _check_keys: no key of obj outside allowed; field names the object. */
CREATE FUNCTION automation._check_keys(obj jsonb, allowed text[], field text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
BEGIN
	SELECT key INTO k FROM jsonb_object_keys(obj) AS key
	 WHERE key <> ALL (allowed) ORDER BY key LIMIT 1;
	IF k IS NOT NULL THEN
		PERFORM automation._err('22023', format('unknown key %s in %s', automation._show(k), field),
								format('%s accepts only: %s', field, array_to_string(allowed, ', ')),
								'remove the key or check its spelling');
	END IF;
END
$$;

/* _base_type: the type under any domains. */
CREATE FUNCTION automation._base_type(typ oid)
RETURNS oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH RECURSIVE d(t, depth) AS (
		SELECT typ, 0
		UNION ALL
		SELECT p.typbasetype, d.depth + 1 FROM pg_catalog.pg_type p JOIN d ON p.oid = d.t
		 WHERE p.typtype = 'd' AND d.depth < 100
	)
	SELECT t FROM d ORDER BY depth DESC LIMIT 1
$$;

/*
 * automation._field: a resolved field path.
 *   column_name/attnum/type_oid/typmod: the column (type_oid is the declared
 *     type, domains included; base_type is the type under the domains);
 *   category: pg_type.typcategory of base_type ('N' numbers, 'D' date/times,
 *     'S' strings, 'B' booleans, 'A' arrays, 'U' json/jsonb/uuid/...);
 *   elem_type: element type of an array column, else 0;
 *   json_path: the keys below a json/jsonb column ({} for the column itself).
 */
CREATE TYPE automation._field AS (
	relation regclass,
	column_name name,
	attnum smallint,
	type_oid oid,
	typmod integer,
	base_type oid,
	category "char",
	elem_type oid,
	json_path text[]
);

/*
 * _resolve_field: resolve a field path of an entity against the live schema.
 *
 * A path is 1..8 dot-separated identifiers ([A-Za-z_][A-Za-z0-9_]{0,62}).
 * If there are two or more identifiers and the first is the entity name, it
 * is dropped (lead.lead_source_id = lead_source_id); the next identifier
 * must name a column (the engine's compile_condition in src/cache.c reads
 * paths the same way).  Identifiers after the column are keys into a
 * json/jsonb column.  field names the path in errors.
 * The engine resolves stored paths with this same function.
 */
CREATE FUNCTION automation._resolve_field(entity text, path text, field text)
RETURNS automation._field
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
	parts text[];
	col text;
	rest text[];
	r automation._field;
	att record;
	subject text := CASE WHEN field LIKE 'merge token %' THEN field
							  ELSE field || ' ' || automation._show(path) END;
BEGIN
	SELECT e.relation INTO rel FROM automation.entities e WHERE e.name = entity;
	IF rel IS NULL THEN
		PERFORM automation._err('22023', format('entity %s is not watched', automation._show(entity)),
								NULL, 'call automation.watch() first');
	END IF;
	IF path IS NULL OR path = '' THEN
		PERFORM automation._err('22023', format('%s must not be empty', field), NULL,
								'name a column of the entity, e.g. status or deal.status');
	END IF;
	IF length(path) > 520 OR path !~ '^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62}){0,7}$' THEN
		PERFORM automation._err('22023', format('invalid %s %s', field, automation._show(path)),
								'a field path is 1 to 8 identifiers separated by dots',
								'name a column, optionally prefixed by the entity and followed by json keys, e.g. deal.custom.industry');
	END IF;
	parts := string_to_array(path, '.');
	IF array_length(parts, 1) > 1 AND parts[1] = entity THEN
		parts := parts[2:];
	END IF;
	col := parts[1];
	rest := coalesce(parts[2:], '{}');
	SELECT a.attname, a.attnum, a.atttypid, a.atttypmod INTO att
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		PERFORM automation._err('22023', format('%s names no column of entity %s', subject, automation._show(entity)),
								format('table %s has no column %s', rel::text, automation._show(col)),
								'name an existing column (column names are case-sensitive)');
	END IF;
	r.relation := rel;
	r.column_name := att.attname;
	r.attnum := att.attnum;
	r.type_oid := att.atttypid;
	r.typmod := att.atttypmod;
	r.base_type := automation._base_type(att.atttypid);
	SELECT t.typcategory, t.typelem INTO r.category, r.elem_type
	  FROM pg_catalog.pg_type t WHERE t.oid = r.base_type;
	IF r.category <> 'A' THEN
		r.elem_type := 0;
	END IF;
	r.json_path := rest;
	IF cardinality(rest) > 0 AND r.base_type NOT IN ('json'::regtype, 'jsonb'::regtype) THEN
		PERFORM automation._err('22023', format('%s goes below column %s, which is not json or jsonb',
												subject, automation._show(col)),
								format('column %s is %s', automation._show(col), format_type(att.atttypid, att.atttypmod)),
								'only json and jsonb columns have keys below them');
	END IF;
	RETURN r;
END
$$;

/* _is_json_field: the field is a json/jsonb column or a path into one. */
CREATE FUNCTION automation._is_json_field(f automation._field)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT f.base_type IN ('json'::pg_catalog.regtype, 'jsonb'::pg_catalog.regtype)
$$;

/*
 * _input_type: the type a value of typ is parsed as without running a
 * user's code: a domain as its base type (its CHECK is the type owner's
 * code), built-in, base and enum types and arrays of them as themselves;
 * NULL for a domain inside an array, a composite or a range type (their
 * input may reach a domain's CHECK).  C (owner.c): the engine's own rule,
 * the one it compiles constants by, so that validation agrees with it
 * (doc/security.md).
 */
CREATE FUNCTION automation._input_type(typ oid)
RETURNS oid
	LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'automation_input_type';

/* _value_parses_as_owner: the C half of _value_parses (owner.c). */
CREATE FUNCTION automation._value_parses_as_owner(v text, typ oid, typmod integer)
RETURNS boolean
	LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'automation_value_parses';

/*
 * _value_parses: does v parse as a value of type typ (typmod, a domain's
 * CHECK included)?  The type's input function runs as the type's owner in a
 * security-restricted scope (C, owner.c), never as the caller; types whose
 * input could reach another owner's code are refused (_input_type).
 */
CREATE FUNCTION automation._value_parses(v text, typ oid, typmod integer)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF v IS NULL THEN
		RETURN true;
	END IF;
	/* never a type whose input could reach another owner's code */
	IF automation._input_type(typ) IS NULL THEN
		RETURN false;
	END IF;
	/* a domain's CHECK runs as the domain's owner, not as the caller */
	RETURN automation._value_parses_as_owner(v, typ, typmod);
END
$$;

/*
 * _check_value: v must parse as the field's type (its element type when
 * as_element); any value fits a path below a json column.
 */
CREATE FUNCTION automation._check_value(f automation._field, v text, field text,
										as_element boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	typ oid := f.type_oid;
	typmod integer := f.typmod;
BEGIN
	IF cardinality(f.json_path) > 0 THEN
		RETURN;
	END IF;
	IF as_element AND f.elem_type <> 0 THEN
		typ := f.elem_type;
		typmod := -1;
	END IF;
	IF automation._input_type(typ) IS NULL THEN
		PERFORM automation._err('22023', format('%s: values of column %s cannot be compared', field, automation._show(f.column_name)),
								format('column %s is %s: a domain inside an array, a composite or a range type runs its owner''s code when a value is parsed',
									   automation._show(f.column_name), format_type(f.type_oid, f.typmod)),
								'use a column of a built-in, enum or domain type');
	END IF;
	IF NOT automation._value_parses(v, typ, typmod) THEN
		PERFORM automation._err('22023', format('%s %s is not a valid %s', field, automation._show(v),
												format_type(typ, typmod)),
								format('column %s is %s', automation._show(f.column_name), format_type(f.type_oid, f.typmod)),
								format('give a value that parses as %s', format_type(typ, typmod)));
	END IF;
END
$$;

/*
 * _merge_tokens_check: every merge token in s names something real.
 * Accepted: {{<entity>.<path>}} and {{old.<path>}} (a field of the entity,
 * see _resolve_field), {{<kind>.name}} (kind = workflow or rule),
 * {{event.operation}}, {{event.at}}.
 */
CREATE FUNCTION automation._merge_tokens_check(s text, entity text, kind text, field text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p text;
	parts text[];
BEGIN
	IF s IS NULL OR position('{{' IN s) = 0 THEN
		RETURN;
	END IF;
	FOREACH p IN ARRAY automation._merge_token_paths(s, field) LOOP
		parts := string_to_array(p, '.');
		IF p IN (kind || '.name', 'event.operation', 'event.at') THEN
			CONTINUE;
		END IF;
		IF cardinality(parts) >= 2 AND (parts[1] = entity OR parts[1] = 'old') THEN
			PERFORM automation._resolve_field(entity, array_to_string(parts[2:], '.'),
											  format('merge token {{%s}} in %s', p, field));
			CONTINUE;
		END IF;
		PERFORM automation._err('22023', format('unknown merge token {{%s}} in %s', p, field),
								format('entity is %s', automation._show(entity)),
								format('use {{%s.<field>}}, {{old.<field>}}, {{%s.name}}, {{event.operation}} or {{event.at}}',
									   entity, kind));
	END LOOP;
END
$$;

/* _has_tokens: does s contain a merge token opening? */
CREATE FUNCTION automation._has_tokens(s text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.strpos(s, '{{') > 0
$$;

/*
 * _check_url: an http(s) URL whose scheme and host hold no merge token.
 */
CREATE FUNCTION automation._check_url(url text, field text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	authority text;
BEGIN
	IF url IS NULL OR url !~* '^https?://' THEN
		PERFORM automation._err('22023', format('%s must be an http or https url', field),
								format('got %s', automation._show(url)),
								'start the url with http:// or https://');
	END IF;
	IF length(url) > 2048 THEN
		PERFORM automation._err('22023', format('%s is too long', field),
								format('%s characters, limit 2048', length(url)));
	END IF;
	IF regexp_replace(url, '\{\{[^{}]*\}\}', '', 'g') ~ '[[:space:][:cntrl:]]' THEN
		PERFORM automation._err('22023', format('%s must not contain spaces or control characters', field),
								format('got %s', automation._show(url)),
								'percent-encode spaces as %20');
	END IF;
	authority := substring(url FROM '^[A-Za-z]+://([^/?#]*)');
	IF strpos(authority, '{') > 0 OR strpos(authority, '}') > 0 THEN
		PERFORM automation._err('22023', format('%s must not have a merge token in its host', field),
								format('got %s', automation._show(url)),
								'merge tokens may appear only in the path and query of a url');
	END IF;
	IF authority !~ '^([A-Za-z0-9._~%-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$' THEN
		PERFORM automation._err('22023', format('%s has no valid host', field),
								format('got %s', automation._show(url)),
								'give a url like https://hooks.example.com/path (no user:password@)');
	END IF;
END
$$;

/* C wrappers around the pure parsers (src/sqlparsers.c). */
CREATE FUNCTION automation._form_key_parse(key text)
RETURNS text[]
LANGUAGE c IMMUTABLE STRICT
AS 'MODULE_PATHNAME', 'automation_form_key_parse';

CREATE FUNCTION automation._merge_token_paths(template text, field text DEFAULT 'template')
RETURNS text[]
LANGUAGE c IMMUTABLE
AS 'MODULE_PATHNAME', 'automation_merge_token_paths';

/*
 * _restoring: is this row loaded by a COPY FROM (pg_restore, a plain dump
 * run by psql) of a role that may disable the table's triggers anyway (a
 * superuser or the table's owner)?  Checks that depend on other tables
 * being loaded first (a rule's conditions and actions) skip such rows: each
 * table is restored in its own transaction, the rules before their
 * children.  Nobody gains a privilege: these roles could skip the checks
 * with ALTER TABLE ... DISABLE TRIGGER.
 */
CREATE FUNCTION automation._restoring(tab regclass)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.current_query() ~* '^\s*copy\s'
	   AND (pg_catalog.current_setting('is_superuser') = 'on'
			OR pg_catalog.pg_has_role(current_user,
				(SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = tab), 'USAGE'))
$$;
/*
 * 15_actions_validate.sql: the one validator of action configurations,
 * shared by workflows (action_config) and rules (rule_actions.config).
 *
 * Invariants: _validate_action accepts exactly the keys of doc/CONTRACTS.md
 * per action type, checks every merge token against the live schema, checks
 * a literal value of a database action against the target column's type,
 * checks that the definition's creator holds the privilege the database
 * action needs (42501 otherwise), and returns the config normalised:
 * delay_minutes an integer, method upper-case, and the *_field keys of
 * assign_user / change_stage / tag / untag filled with their defaults.
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
/*
 * 20_entities.sql: watched tables (SPEC section 2).
 *
 *   automation.watch(entity, relation, key_column, tenant_column) -> jsonb
 *   automation.unwatch(entity, cascade) -> void
 *
 * Invariants: a row of automation.entities names an ordinary or partitioned
 * permanent table outside the system schemas, a key column and an optional
 * tenant column that exist; the BEFORE trigger below checks this for the API
 * and for direct SQL alike.  An entity used by a workflow or a rule cannot be
 * removed (2BP01) unless unwatch(..., cascade => true) removes those first.
 */

/* _entity_json: the API shape of an entities row. */
CREATE FUNCTION automation._entity_json(e automation.entities)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.jsonb_build_object(
		'entity', e.name,
		'relation', e.relation::text,
		'key_column', e.key_column,
		'tenant_column', e.tenant_column,
		'created_at', automation._iso(e.created_at))
$$;

/* _entities_validate: BEFORE INSERT OR UPDATE on automation.entities. */
CREATE FUNCTION automation._entities_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cls record;
	pk name[];
	citus_type text;
BEGIN
	/* rows a restore loads were validated when first written (10_common.sql) */
	IF TG_OP = 'INSERT' AND automation._restoring(TG_RELID) THEN
		/* the columns by number too: renames are followed (_follow_columns) */
		NEW.key_attnum := (SELECT a.attnum FROM pg_catalog.pg_attribute a
							WHERE a.attrelid = NEW.relation AND a.attname = NEW.key_column
							  AND a.attnum > 0 AND NOT a.attisdropped);
		NEW.tenant_attnum := (SELECT a.attnum FROM pg_catalog.pg_attribute a
							   WHERE a.attrelid = NEW.relation AND a.attname = NEW.tenant_column
								 AND a.attnum > 0 AND NOT a.attisdropped);
		RETURN NEW;
	END IF;
	IF NEW.name IS NULL OR NEW.name !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
		PERFORM automation._err('22023', format('invalid entity name %s', automation._show(NEW.name)),
								'an entity name is a lower-case identifier of at most 63 characters',
								'use letters a-z, digits and _, starting with a letter or _, e.g. deal');
	END IF;
	IF NEW.name IN ('old', 'event', 'workflow', 'rule') THEN
		PERFORM automation._err('22023', format('entity name %s is reserved', automation._show(NEW.name)),
								'old, event, workflow and rule are merge-token prefixes',
								'choose another name');
	END IF;
	IF TG_OP = 'UPDATE' AND (NEW.name <> OLD.name OR NEW.relation <> OLD.relation) THEN
		PERFORM automation._err('22023', 'the name and relation of a watched entity cannot change',
								format('entity %s', automation._show(OLD.name)),
								'unwatch it and watch again');
	END IF;
	SELECT c.relkind, c.relpersistence, n.nspname INTO cls
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.oid = NEW.relation;
	IF NOT FOUND THEN
		PERFORM automation._err('22023', 'relation does not exist',
								format('oid %s', NEW.relation::oid));
	END IF;
	IF cls.relkind NOT IN ('r', 'p') THEN
		PERFORM automation._err('22023', format('relation %s is not a table', NEW.relation::text),
								format('relkind is %s', automation._show(cls.relkind::text)),
								'watch an ordinary or partitioned table');
	END IF;
	IF cls.relpersistence = 't' THEN
		PERFORM automation._err('22023', format('relation %s is a temporary table', NEW.relation::text),
								NULL, 'watch a permanent table');
	END IF;
	IF cls.nspname IN ('automation', 'pg_catalog', 'information_schema') OR cls.nspname LIKE 'pg\_toast%' THEN
		PERFORM automation._err('22023', format('relation %s is in system schema %s', NEW.relation::text, cls.nspname),
								NULL, 'watch a table of the application');
	END IF;
	/*
	 * A Citus table (distributed, reference or Citus local) is refused
	 * (0A000): Citus writes its rows in shards, other relations (on the
	 * workers, or on the coordinator for a local table), where the row
	 * trigger finds no watched entity: nothing would ever fire, silently.
	 * Read through Citus's catalog only when citus is installed, by
	 * dynamic SQL: without Citus the table does not exist.  See doc/citus.md.
	 */
	IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM pg_catalog.pg_extension x WHERE x.extname = 'citus')
	   AND pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
		EXECUTE 'SELECT CASE WHEN p.partkey IS NOT NULL THEN ''distributed'' '
				'WHEN p.repmodel = ''t'' THEN ''reference'' '
				'WHEN p.colocationid = 0 THEN ''local'' ELSE ''distributed'' END '
				'FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1'
		   INTO citus_type USING NEW.relation;
		IF citus_type IS NOT NULL THEN
			PERFORM automation._err('0A000',
				format('cannot watch %s: it is a Citus %s table', NEW.relation::text, citus_type),
				'Citus writes the rows of its tables in shards, where no entity is watched: '
				'no write to it would fire automation',
				format('watch a table Citus does not manage (undistribute_table(%L) makes it one); see doc/citus.md',
					   NEW.relation::text));
		END IF;
	END IF;
	IF NEW.key_column IS NULL THEN
		SELECT array_agg(a.attname ORDER BY k.ord) INTO pk
		  FROM pg_catalog.pg_index i
		  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
		  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		 WHERE i.indrelid = NEW.relation AND i.indisprimary;
		IF pk IS NULL THEN
			PERFORM automation._err('22023', format('table %s has no primary key', NEW.relation::text),
									'key_column defaults to the single-column primary key',
									'pass key_column => ''<column>'' naming a unique column');
		END IF;
		IF cardinality(pk) > 1 THEN
			PERFORM automation._err('22023', format('table %s has a composite primary key', NEW.relation::text),
									format('primary key columns: %s', array_to_string(pk, ', ')),
									'pass key_column => ''<column>'' naming a single unique column');
		END IF;
		NEW.key_column := pk[1];
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
					WHERE a.attrelid = NEW.relation AND a.attname = NEW.key_column
					  AND a.attnum > 0 AND NOT a.attisdropped) THEN
		PERFORM automation._err('22023', format('key_column %s does not exist', automation._show(NEW.key_column)),
								format('table %s has no column %s', NEW.relation::text, automation._show(NEW.key_column)),
								'name an existing column (column names are case-sensitive)');
	END IF;
	IF NEW.tenant_column IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid = NEW.relation AND a.attname = NEW.tenant_column
		   AND a.attnum > 0 AND NOT a.attisdropped) THEN
		PERFORM automation._err('22023', format('tenant_column %s does not exist', automation._show(NEW.tenant_column)),
								format('table %s has no column %s', NEW.relation::text, automation._show(NEW.tenant_column)),
								'name an existing column (column names are case-sensitive)');
	END IF;
	/*
	 * The key must identify one row: a database action writes the row of
	 * the job's key.  A valid, non-partial unique index (or the primary key)
	 * on exactly the key column, or, with a tenant column, on the tenant and
	 * key columns (in either order; then keys are unique per tenant and
	 * actions find the row by tenant and key).
	 */
	IF NOT EXISTS (
		SELECT 1 FROM pg_catalog.pg_index i
		 WHERE i.indrelid = NEW.relation AND i.indisunique AND i.indisvalid
		   AND i.indpred IS NULL AND i.indexprs IS NULL
		   AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
				  FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) AS k(attnum)
				  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
			   IN (ARRAY[NEW.key_column::text],
				   (SELECT array_agg(c ORDER BY c) FROM unnest(ARRAY[NEW.key_column::text, NEW.tenant_column::text]) c
					 WHERE NEW.tenant_column IS NOT NULL AND NEW.tenant_column <> NEW.key_column))) THEN
		PERFORM automation._err('22023', format('key_column %s is not unique', automation._show(NEW.key_column)),
								format('table %s has no primary key or unique index on (%s)%s', NEW.relation::text,
									   NEW.key_column,
									   CASE WHEN NEW.tenant_column IS NOT NULL AND NEW.tenant_column <> NEW.key_column
											THEN format(' or on (%s, %s)', NEW.tenant_column, NEW.key_column) ELSE '' END),
								CASE WHEN NEW.tenant_column IS NOT NULL AND NEW.tenant_column <> NEW.key_column
									 THEN format('create a unique index on (%I) or on (%I, %I), without WHERE or expressions',
												 NEW.key_column, NEW.tenant_column, NEW.key_column)
									 ELSE format('create a unique index on (%I) (without WHERE or expressions), or pass tenant_column when keys are unique per tenant',
												 NEW.key_column) END);
	END IF;
	IF TG_OP = 'INSERT' THEN
		IF EXISTS (SELECT 1 FROM automation.entities e WHERE e.name = NEW.name) THEN
			PERFORM automation._err('23505', format('entity %s is already watched', automation._show(NEW.name)),
									format('entity %s watches %s', automation._show(NEW.name),
										   (SELECT e.relation::text FROM automation.entities e WHERE e.name = NEW.name)),
									'call automation.unwatch() first');
		END IF;
		IF EXISTS (SELECT 1 FROM automation.entities e WHERE e.relation = NEW.relation) THEN
			PERFORM automation._err('23505', format('table %s is already watched', NEW.relation::text),
									format('watched as entity %s',
										   automation._show((SELECT e.name FROM automation.entities e WHERE e.relation = NEW.relation))),
									'a table is watched under one entity name');
		END IF;
	END IF;
	/* the columns by number too: renames are followed (_follow_columns) */
	NEW.key_attnum := (SELECT a.attnum FROM pg_catalog.pg_attribute a
						WHERE a.attrelid = NEW.relation AND a.attname = NEW.key_column
						  AND a.attnum > 0 AND NOT a.attisdropped);
	NEW.tenant_attnum := (SELECT a.attnum FROM pg_catalog.pg_attribute a
						   WHERE a.attrelid = NEW.relation AND a.attname = NEW.tenant_column
							 AND a.attnum > 0 AND NOT a.attisdropped);
	RETURN NEW;
END
$$;

CREATE TRIGGER entities_validate
	BEFORE INSERT OR UPDATE ON automation.entities
	FOR EACH ROW EXECUTE FUNCTION automation._entities_validate();

/*
 * _entities_in_use: BEFORE DELETE on automation.entities; refuses while a
 * workflow or rule uses the entity (or, for the entity task, a create_task
 * action).
 */
CREATE FUNCTION automation._entities_in_use()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	nwf bigint;
	nrule bigint;
BEGIN
	SELECT count(*) INTO nwf FROM automation.workflows w
	 WHERE w.condition_entity = OLD.name
		OR (OLD.name = 'task' AND w.action_type = 'create_task');
	SELECT count(*) INTO nrule FROM automation.rules r
	 WHERE r.entity_type = OLD.name
		OR (OLD.name = 'task' AND EXISTS (SELECT 1 FROM automation.rule_actions a
										   WHERE a.rule_id = r.id AND a.action_type = 'CREATE_TASK'));
	IF nwf + nrule > 0 THEN
		PERFORM automation._err('2BP01', format('entity %s is still used', automation._show(OLD.name)),
								format('%s workflow(s) and %s rule(s) use it', nwf, nrule),
								'delete them first, or call automation.unwatch(entity, cascade => true)');
	END IF;
	RETURN OLD;
END
$$;

CREATE TRIGGER entities_in_use
	BEFORE DELETE ON automation.entities
	FOR EACH ROW EXECUTE FUNCTION automation._entities_in_use();

/*
 * watch: record a watched table and install the row trigger on it.
 * Returns the entity as jsonb {entity, relation, key_column, tenant_column,
 * created_at}.
 */
CREATE FUNCTION automation.watch(entity text, relation regclass,
								 key_column name DEFAULT NULL,
								 tenant_column name DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e automation.entities;
BEGIN
	IF relation IS NULL THEN
		PERFORM automation._err('22023', 'relation is required', NULL,
								'pass the table, e.g. ''public.deals''');
	END IF;
	IF NOT has_table_privilege(relation, 'TRIGGER') THEN
		PERFORM automation._err('42501', format('permission denied to watch %s', relation::text),
								format('role %s lacks the TRIGGER privilege on %s', current_user, relation::text),
								'ask the table owner to watch it or to grant TRIGGER');
	END IF;
	INSERT INTO automation.entities (name, relation, key_column, tenant_column)
	VALUES (entity, relation, key_column, tenant_column)
	RETURNING * INTO e;
	EXECUTE format('CREATE TRIGGER automation_row_trigger AFTER INSERT OR UPDATE OR DELETE ON %s '
				   'FOR EACH ROW EXECUTE FUNCTION automation._row_trigger()', relation::text);
	RETURN automation._entity_json(e);
END
$$;

/*
 * unwatch: remove the row trigger and the entity.  With cascade, first
 * deletes the workflows and rules that use it; without, refuses (2BP01)
 * while any does.
 */
CREATE FUNCTION automation.unwatch(entity text, "cascade" boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e automation.entities;
BEGIN
	SELECT * INTO e FROM automation.entities x WHERE x.name = entity FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM automation._err('P0002', format('entity %s is not watched', automation._show(entity)),
								NULL, 'see automation.entities for the watched entities');
	END IF;
	IF "cascade" THEN
		DELETE FROM automation.workflows w
		 WHERE w.condition_entity = entity
			OR (entity = 'task' AND w.action_type = 'create_task');
		DELETE FROM automation.rules r
		 WHERE r.entity_type = entity
			OR (entity = 'task' AND EXISTS (SELECT 1 FROM automation.rule_actions a
											 WHERE a.rule_id = r.id AND a.action_type = 'CREATE_TASK'));
	END IF;
	DELETE FROM automation.entities x WHERE x.name = entity;
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
				WHERE t.tgrelid = e.relation AND t.tgname = 'automation_row_trigger') THEN
		EXECUTE format('DROP TRIGGER automation_row_trigger ON %s', e.relation::text);
	END IF;
END
$$;

/*
 * _follow_columns: event trigger at the end of every ALTER TABLE (and the
 * other ALTER tags RENAME COLUMN accepts) and at every drop.  A watched
 * table's key and tenant columns are followed through a rename (the entity
 * keeps their numbers); dropping either, directly or by a cascade, is
 * refused (2BP01) while the table is watched: the record key and the tenant
 * of every firing come from them.
 * SECURITY DEFINER: entities are the owner's; it reads only the catalog and
 * automation.entities.
 */
CREATE FUNCTION automation._follow_columns()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e automation.entities;
	key_name name;
	tenant_name name;
BEGIN
	IF TG_EVENT = 'sql_drop' THEN
		/* a column dropped by a cascade (DROP DOMAIN / TYPE ... CASCADE) */
		SELECT x.* INTO e FROM automation.entities x,
			   pg_catalog.pg_event_trigger_dropped_objects() d
		 WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = x.relation::oid
		   AND d.objsubid > 0 AND d.objsubid IN (x.key_attnum, x.tenant_attnum)
		   AND d.object_type = 'table column'
		 LIMIT 1;
		IF FOUND THEN
			PERFORM automation._err('2BP01',
				format('cannot drop a column of %s: it is the key or tenant column of watched entity %s',
					   e.relation::text, automation._show(e.name)),
				'the record key and the tenant of every firing are read from it',
				format('call automation.unwatch(%L) first', e.name));
		END IF;
		RETURN;
	END IF;
	FOR e IN SELECT x.* FROM automation.entities x
			  WHERE x.relation::oid IN (SELECT c.objid FROM pg_catalog.pg_event_trigger_ddl_commands() c
										 WHERE c.classid = 'pg_catalog.pg_class'::regclass)
	LOOP
		CONTINUE WHEN e.key_attnum IS NULL;		/* watched before 0.3.0 and never updated */
		SELECT a.attname INTO key_name FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid = e.relation AND a.attnum = e.key_attnum AND NOT a.attisdropped;
		SELECT a.attname INTO tenant_name FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid = e.relation AND a.attnum = e.tenant_attnum AND NOT a.attisdropped;
		IF key_name IS NULL OR (e.tenant_attnum IS NOT NULL AND tenant_name IS NULL) THEN
			PERFORM automation._err('2BP01',
				format('cannot drop column %s of %s: it is the %s column of watched entity %s',
					   CASE WHEN key_name IS NULL THEN e.key_column ELSE e.tenant_column END, e.relation::text,
					   CASE WHEN key_name IS NULL THEN 'key' ELSE 'tenant' END, automation._show(e.name)),
				'the record key and the tenant of every firing are read from it',
				format('call automation.unwatch(%L) first', e.name));
		END IF;
		IF key_name <> e.key_column OR tenant_name IS DISTINCT FROM e.tenant_column THEN
			UPDATE automation.entities x SET key_column = key_name, tenant_column = tenant_name
			 WHERE x.name = e.name;
		END IF;
	END LOOP;
END
$$;

/*
 * PostgreSQL lets RENAME COLUMN name the relation as a view, foreign table
 * or materialized view whatever it is: every such tag is followed.
 */
CREATE EVENT TRIGGER automation_follow_columns ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'ALTER VIEW', 'ALTER FOREIGN TABLE', 'ALTER MATERIALIZED VIEW')
	EXECUTE FUNCTION automation._follow_columns();
CREATE EVENT TRIGGER automation_keep_columns ON sql_drop
	EXECUTE FUNCTION automation._follow_columns();
/*
 * 25_channels.sql: delivery channels for send_channel_message (SPEC section 7).
 *
 *   automation.create_channel(name, url, format DEFAULT 'slack') -> jsonb
 *   automation.delete_channel(name) -> void
 *
 * Invariants: a channel has a name of 1..120 characters, a format of slack
 * or json, and an http(s) url with a real host; the BEFORE trigger checks
 * this for the API and direct SQL.  Names are unique per tenant: a tenant's
 * channel shadows a global channel of the same name for that tenant's
 * actions (the worker resolves own first, then global).  A channel that some
 * workflow or rule action resolves to cannot be deleted (2BP01).
 */

/* _channel_json: the API shape of a channels row. */
CREATE FUNCTION automation._channel_json(c automation.channels)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.jsonb_build_object('name', c.name, 'format', c.format, 'url', c.url,
										 'tenant_id', c.tenant_id,
										 'created_at', automation._iso(c.created_at))
$$;

/* _channels_validate: BEFORE INSERT OR UPDATE on automation.channels. */
CREATE FUNCTION automation._channels_validate()
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

CREATE TRIGGER channels_validate
	BEFORE INSERT OR UPDATE ON automation.channels
	FOR EACH ROW EXECUTE FUNCTION automation._channels_validate();

/*
 * _channels_in_use: BEFORE DELETE on automation.channels.  Counts the
 * definitions whose channel resolves to this row: a tenant's channel serves
 * that tenant's actions; a global channel serves the global actions and those
 * of every tenant without a channel of that name.  SECURITY DEFINER: the
 * count covers every tenant, not just the rows the caller can see.
 */
CREATE FUNCTION automation._channels_in_use()
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

CREATE TRIGGER channels_in_use
	BEFORE DELETE ON automation.channels
	FOR EACH ROW EXECUTE FUNCTION automation._channels_in_use();

/* create_channel: add a delivery channel; returns it as jsonb. */
CREATE FUNCTION automation.create_channel(name text, url text, format text DEFAULT 'slack')
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c automation.channels;
BEGIN
	INSERT INTO automation.channels (name, url, format, tenant_id)
	VALUES (create_channel.name, create_channel.url, create_channel.format,
			nullif(current_setting('automation.tenant', true), ''))
	RETURNING * INTO c;
	RETURN automation._channel_json(c);
END
$$;

/*
 * delete_channel: remove the session's tenant's channel of that name (the
 * global one without a tenant), if no action uses it.
 */
CREATE FUNCTION automation.delete_channel(name text)
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
/*
 * 30_workflows.sql: workflows (SPEC section 4, seed 000).
 *
 *   automation.create_workflow(body jsonb, idempotency_key uuid) -> jsonb
 *   automation.get_workflow(id text) -> jsonb
 *   automation.update_workflow(id text, patch jsonb) -> jsonb
 *   automation.delete_workflow(id text) -> void
 *   automation.enable_workflow(id text) -> jsonb
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
	ops CONSTANT text[] := '{equals,not_equals,contains,changed,changed_to,greater_than,less_than}';
	json_path boolean;
BEGIN
	IF op IS NULL OR op <> ALL (ops) THEN
		PERFORM automation._err('22023', format('invalid condition_operator %s', automation._show(op)),
								NULL, 'use one of: ' || array_to_string(ops, ', '));
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
	IF op = 'changed' THEN
		IF val <> '' THEN
			PERFORM automation._err('22023', 'condition_value must be "" for condition_operator "changed"',
									format('got %s', automation._show(val)),
									'pass "" (the key is required, the value unused)');
		END IF;
		RETURN f;
	END IF;
	IF op IN ('greater_than', 'less_than') AND NOT json_path AND f.category NOT IN ('N', 'D') THEN
		PERFORM automation._err('22023', format('condition_operator %s does not fit condition_field %s', automation._show(op), automation._show(path)),
								format('column %s is %s', automation._show(f.column_name), format_type(f.type_oid, f.typmod)),
								'greater_than and less_than compare numbers and date/times only');
	END IF;
	IF op = 'contains' AND NOT json_path AND f.category NOT IN ('S', 'A') THEN
		PERFORM automation._err('22023', format('condition_operator %s does not fit condition_field %s', automation._show(op), automation._show(path)),
								format('column %s is %s', automation._show(f.column_name), format_type(f.type_oid, f.typmod)),
								'contains works on text and array fields');
	END IF;
	IF json_path AND cardinality(f.json_path) = 0 AND NOT automation._value_parses(val, f.type_oid, f.typmod)
	   AND op <> 'contains' THEN
		PERFORM automation._err('22023', format('condition_value %s is not valid json', automation._show(val)),
								format('column %s is %s', automation._show(f.column_name), format_type(f.type_oid, f.typmod)),
								'compare a key below the column (column.key) or give a JSON value');
	END IF;
	IF NOT json_path THEN
		PERFORM automation._check_value(f, val, 'condition_value', op = 'contains');
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
			NEW.action_config, NEW.max_triggers_per_day, NEW.created_by, NEW.payload_columns)
		   IS NOT DISTINCT FROM
		   (OLD.tenant_id, OLD.name, OLD.condition_entity, OLD.condition_field,
			OLD.condition_operator, OLD.condition_value, OLD.action_type,
			OLD.action_config, OLD.max_triggers_per_day, OLD.created_by, OLD.payload_columns) THEN
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
	PERFORM automation._check_keys(body, req || '{max_triggers_per_day,enabled,payload_columns}'::text[],
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
	w := automation._workflow_apply(w, body, true);
	INSERT INTO automation.workflows (tenant_id, name, enabled, condition_entity, condition_field,
									  condition_operator, condition_value, action_type,
									  action_config, max_triggers_per_day, payload_columns)
	VALUES (nullif(current_setting('automation.tenant', true), ''), w.name, w.enabled,
			w.condition_entity, w.condition_field, w.condition_operator, w.condition_value,
			w.action_type, w.action_config, w.max_triggers_per_day, w.payload_columns)
	RETURNING * INTO w;
	res := automation._workflow_json(w);
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
BEGIN
	w := automation._workflow_apply(w, patch, false);
	UPDATE automation.workflows x
	   SET name = w.name, enabled = w.enabled, condition_entity = w.condition_entity,
		   condition_field = w.condition_field, condition_operator = w.condition_operator,
		   condition_value = w.condition_value, action_type = w.action_type,
		   action_config = w.action_config, max_triggers_per_day = w.max_triggers_per_day,
		   payload_columns = w.payload_columns, updated_at = clock_timestamp()
	 WHERE x.id = w.id
	RETURNING * INTO w;
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
 * count) and the shared-memory count reset (60_engine.sql).
 */
CREATE FUNCTION automation.enable_workflow(id text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w automation.workflows := automation._workflow_get(id, true);
BEGIN
	UPDATE automation.workflows x SET enabled = true, disabled_reason = NULL,
		   breaker_reset_at = now(), updated_at = clock_timestamp()
	 WHERE x.id = w.id RETURNING * INTO w;
	PERFORM automation._breaker_reset(w.id);
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

/* Rule operators and action types, in rule spelling. */
CREATE FUNCTION automation._rule_operators()
RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT '{EQUALS,NOT_EQUALS,IN,NOT_IN,GT,GTE,LT,LTE,CONTAINS,NOT_CONTAINS,STARTS_WITH,ENDS_WITH,EXISTS,NOT_EXISTS,CHANGED,CHANGED_TO,CHANGED_FROM}'::text[]
$$;

CREATE FUNCTION automation._rule_action_types()
RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT '{WEBHOOK,SEND_CHANNEL_MESSAGE,SEND_EMAIL,UPDATE_FIELD,CREATE_TASK,ASSIGN_USER,CHANGE_STAGE,TAG,UNTAG,NOTIFY}'::text[]
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
	typ text;
	e text;
	allowed_hint text;
BEGIN
	IF op IS NULL OR op <> ALL (automation._rule_operators()) THEN
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

	IF op LIKE 'CHANGED%' AND trigger_type LIKE '%\_DELETED' THEN
		PERFORM automation._err('22023', format('%s.operator %s does not fit trigger_type %s', label, op, trigger_type),
								'a deleted row has no change to compare',
								'use EQUALS, EXISTS, ... on a DELETED rule, or trigger on _UPDATED');
	END IF;

	allowed_hint := CASE
		WHEN op IN ('IN', 'NOT_IN') THEN 'value_array'
		WHEN op IN ('GT', 'GTE', 'LT', 'LTE') THEN 'value_int or value_datetime'
		WHEN op IN ('CONTAINS', 'NOT_CONTAINS', 'STARTS_WITH', 'ENDS_WITH') THEN 'value_string'
		WHEN op IN ('EXISTS', 'NOT_EXISTS', 'CHANGED') THEN 'no value, or value_bool'
		ELSE 'exactly one of value_int, value_string, value_bool, value_datetime' END;

	IF cardinality(given) > 1 THEN
		PERFORM automation._err('22023', format('%s has more than one value key', label),
								format('given: %s', array_to_string(given, ', ')),
								format('operator %s takes %s', op, allowed_hint));
	END IF;
	IF (op IN ('IN', 'NOT_IN') AND given IS DISTINCT FROM '{value_array}')
	   OR (op IN ('GT', 'GTE', 'LT', 'LTE') AND NOT given && '{value_int,value_datetime}')
	   OR (op IN ('CONTAINS', 'NOT_CONTAINS', 'STARTS_WITH', 'ENDS_WITH') AND given IS DISTINCT FROM '{value_string}')
	   OR (op IN ('EXISTS', 'NOT_EXISTS', 'CHANGED') AND cardinality(given) = 1 AND given <> '{value_bool}')
	   OR (op IN ('EQUALS', 'NOT_EQUALS', 'CHANGED_TO', 'CHANGED_FROM')
		   AND NOT given && '{value_int,value_string,value_bool,value_datetime}') THEN
		PERFORM automation._err('22023', format('%s: operator %s takes %s', label, op, allowed_hint),
								format('given: %s', coalesce(nullif(array_to_string(given, ', '), ''), 'no value key')),
								format('set %s and no other value key', allowed_hint));
	END IF;

	/* the value key must fit the field's type */
	IF op IN ('CONTAINS', 'NOT_CONTAINS') AND NOT js AND f.category NOT IN ('S', 'A') THEN
		PERFORM automation._err('22023', format('%s.operator %s does not fit field %s', label, op, automation._show(c.field_path)),
								format('column %s is %s', automation._show(f.column_name), typ),
								'CONTAINS and NOT_CONTAINS work on text and array fields');
	END IF;
	IF op IN ('STARTS_WITH', 'ENDS_WITH') AND NOT js AND f.category <> 'S' THEN
		PERFORM automation._err('22023', format('%s.operator %s does not fit field %s', label, op, automation._show(c.field_path)),
								format('column %s is %s', automation._show(f.column_name), typ),
								'STARTS_WITH and ENDS_WITH work on text fields');
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
	IF c.value_bool IS NOT NULL AND op NOT IN ('EXISTS', 'NOT_EXISTS', 'CHANGED') AND NOT js AND f.category <> 'B' THEN
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
		IF NOT js AND f.category IN ('N', 'D', 'B') AND op NOT IN ('CONTAINS', 'NOT_CONTAINS') THEN
			PERFORM automation._err('22023', format('%s.value_string does not fit field %s', label, automation._show(c.field_path)),
									format('column %s is %s', automation._show(f.column_name), typ),
									CASE f.category WHEN 'N' THEN 'use value_int' WHEN 'D' THEN 'use value_datetime'
										 ELSE 'use value_bool' END);
		END IF;
		IF NOT js AND op NOT IN ('STARTS_WITH', 'ENDS_WITH') THEN
			PERFORM automation._check_value(f, c.value_string, label || '.value_string',
											op IN ('CONTAINS', 'NOT_CONTAINS'));
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
		label := format('conditions[%s]', (SELECT count(*) FROM automation.rule_conditions x WHERE x.rule_id = NEW.rule_id));
		/* the API's limit holds for direct SQL too (the engine loads every one) */
		IF (SELECT count(*) FROM automation.rule_conditions x WHERE x.rule_id = NEW.rule_id) >= 100 THEN
			PERFORM automation._err('22023', format('a rule has at most 100 conditions'),
									format('rule %s already has 100', NEW.rule_id),
									'split it into several rules');
		END IF;
	ELSE
		label := format('condition %s', OLD.id);
	END IF;
	IF NEW.sort_order IS NULL THEN
		PERFORM automation._err('22023', format('%s.sort_order must be an integer', label), 'got null');
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
		RETURN body;
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
	RETURN top || coalesce(lists, '{}');
END
$$;

/* _rule_list: the conditions or actions array of a body, 1..100 objects. */
CREATE FUNCTION automation._rule_list(b jsonb, key text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := b -> key;
	i integer;
BEGIN
	IF v IS NULL THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) <> 'array' THEN
		PERFORM automation._err('22023', format('%s must be an array', key),
								'got ' || automation._json_desc(v),
								format('give "%s": [{...}] or form keys %s[0][...]', key, key));
	END IF;
	IF jsonb_array_length(v) > 100 THEN
		PERFORM automation._err('22023', format('%s must have at most 100 elements', key),
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
		PERFORM automation._check_keys(c, '{field_path,operator,sort_order,value_int,value_string,value_bool,value_datetime,value_array}', label);
		/* a blank (form) or null value key is an absent one */
		c := c - ARRAY(SELECT e.key FROM jsonb_each(c) e
						WHERE e.key LIKE 'value\_%'
						  AND (jsonb_typeof(e.value) = 'null'
							   OR (e.key IN ('value_int', 'value_bool', 'value_datetime')
								   AND jsonb_typeof(e.value) = 'string' AND btrim(e.value #>> '{}') = '')));
		row_ := NULL;
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
												value_string, value_bool, value_datetime, value_array)
		VALUES (rid, row_.sort_order, row_.field_path, row_.operator, row_.value_int, row_.value_string,
				row_.value_bool, row_.value_datetime, row_.value_array);
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
	PERFORM automation._check_keys(b, '{name,description,entity_type,trigger_type,priority,is_active,stop_subsequent_rules,cooldown_hours,conditions,actions,payload_columns}', what);
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
		'conditions', coalesce((
			SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
						'id', c.id, 'field_path', c.field_path, 'operator', c.operator,
						'sort_order', c.sort_order, 'value_int', c.value_int,
						'value_string', c.value_string, 'value_bool', c.value_bool,
						'value_datetime', automation._iso(c.value_datetime),
						'value_array', c.value_array)) ORDER BY c.sort_order, c.id)
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
	r := automation._rule_apply(r, b, true);
	conds := automation._rule_list(b, 'conditions');
	acts := automation._rule_list(b, 'actions');
	INSERT INTO automation.rules (tenant_id, name, description, entity_type, trigger_type, priority,
								  is_active, stop_subsequent_rules, cooldown_hours, payload_columns)
	VALUES (nullif(current_setting('automation.tenant', true), ''), r.name, r.description,
			r.entity_type, r.trigger_type, r.priority, r.is_active, r.stop_subsequent_rules,
			r.cooldown_hours, r.payload_columns)
	RETURNING * INTO r;
	PERFORM automation._rule_insert_children(r.id, conds, acts);
	res := automation._rule_json(r.id);
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
		   payload_columns = r.payload_columns, updated_at = clock_timestamp()
	 WHERE x.id = r.id;
	PERFORM automation._rule_insert_children(r.id, conds, acts);
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
/*
 * 40_idempotency.sql: Idempotency-Key semantics for create_workflow and
 * create_rule (SPEC section 4).
 *
 * Invariants: within 24 hours of its first use, a (kind, key) pair replays
 * the first response for the same body and refuses (22023) a different
 * body; an older record is replaced.  Keys are per tenant (the session's
 * automation.tenant, as the column default stamps it): another tenant's
 * use of the same key is a different key, also for the owner, whom
 * row-level security does not filter.  Concurrent requests with one key are
 * serialised by a transaction-level advisory lock on (tenant, kind, key),
 * so exactly one of them creates.
 */

/*
 * _idempotency_lookup: the stored response of (kind, key) for request, or
 * NULL when the caller should create (after which it calls
 * _idempotency_store in the same transaction).
 */
CREATE FUNCTION automation._idempotency_lookup(kind text, key uuid, request jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r automation.idempotency_keys;
	tenant constant text := coalesce(current_setting('automation.tenant', true), '');
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('automation.idempotency:' || tenant || ':' || kind || ':' || key::text, 0));
	SELECT * INTO r FROM automation.idempotency_keys i
	 WHERE coalesce(i.tenant_id, '') = tenant AND i.kind = _idempotency_lookup.kind AND i.key = _idempotency_lookup.key;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF r.created_at < now() - interval '24 hours' THEN
		DELETE FROM automation.idempotency_keys i
		 WHERE coalesce(i.tenant_id, '') = tenant AND i.kind = _idempotency_lookup.kind AND i.key = _idempotency_lookup.key;
		RETURN NULL;
	END IF;
	IF r.request IS DISTINCT FROM request THEN
		PERFORM automation._err('22023', 'idempotency_key was already used with a different body',
								format('key %s was first used at %s', key, automation._iso(r.created_at)),
								'send the same body again, or use a new key for a new request');
	END IF;
	RETURN r.response;
END
$$;

/* _idempotency_store: remember the first response of (kind, key). */
CREATE FUNCTION automation._idempotency_store(kind text, key uuid, request jsonb, response jsonb)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO automation.idempotency_keys (kind, key, request, response)
	VALUES (kind, key, request, response)
$$;
/*
 * 46_database_actions.sql: user pools and the database actions
 * (update_field, change_stage, tag, untag, assign_user, create_task, notify).
 *
 * execute_job is SECURITY DEFINER: it reads and writes automation's tables
 * for a worker role, but runs the action itself as the job's run_as role (the
 * definition's creator) through automation._execute_as, so a workflow can do
 * only what its creator could.  Identifiers are quoted with format('%I'),
 * values are always parameters.  An action that would not change the row
 * does not write it (IS DISTINCT FROM in the WHERE clause), so it causes no
 * further trigger events.
 */

CREATE FUNCTION automation._execute_as(role name, query text, params text[])
RETURNS bigint
	LANGUAGE c AS 'MODULE_PATHNAME', 'automation_execute_as';

/* _invoker: the session's role, even inside SECURITY DEFINER functions. */
CREATE FUNCTION automation._invoker()
RETURNS name
	LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'automation_invoker';

/* create_user_pool: a round-robin pool of members, in the order given. */
CREATE FUNCTION automation.create_user_pool(name text, members text[])
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pool_id uuid;
	m text;
BEGIN
	IF name IS NULL OR length(btrim(name)) = 0 OR length(name) > 120 THEN
		PERFORM automation._err('22023', 'invalid name: must be 1 to 120 characters',
								format('got %s', automation._show(name)), NULL);
	END IF;
	IF members IS NULL OR cardinality(members) = 0 THEN
		PERFORM automation._err('22023', 'invalid members: a pool needs at least one member',
								format('got %s', coalesce(members::text, 'null')),
								'pass members as text[], e.g. ARRAY[''alice'', ''bob'']');
	END IF;
	IF cardinality(members) > 1000 THEN
		PERFORM automation._err('22023', 'invalid members: too many',
								format('got %s members; the limit is 1000', cardinality(members)), NULL);
	END IF;
	FOREACH m IN ARRAY members LOOP
		IF m IS NULL OR length(btrim(m)) = 0 OR length(m) > 200 THEN
			PERFORM automation._err('22023', 'invalid members: every member must be 1 to 200 characters',
									format('got %s', automation._show(m)), NULL);
		END IF;
	END LOOP;
	IF (SELECT count(DISTINCT x) FROM unnest(members) x) <> cardinality(members) THEN
		PERFORM automation._err('22023', 'invalid members: duplicate member',
								format('got %s', members::text), 'list each member once');
	END IF;
	BEGIN
		INSERT INTO automation.user_pools (name) VALUES (create_user_pool.name)
		RETURNING id INTO pool_id;
	EXCEPTION WHEN unique_violation THEN
		PERFORM automation._err('23505', format('duplicate name: a user pool named %s already exists',
												automation._show(name)),
								format('name: %s', automation._show(name)), 'choose another name');
	END;
	INSERT INTO automation.user_pool_members (pool_id, position, member)
	SELECT pool_id, o - 1, x FROM unnest(members) WITH ORDINALITY AS u(x, o);
	RETURN pool_id;
END
$$;

/* set_pool_member_active: take a member out of (or back into) the rotation. */
CREATE FUNCTION automation.set_pool_member_active(pool_id uuid, member text, active boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF active IS NULL THEN
		PERFORM automation._err('22023', 'invalid active: must be true or false', 'got null', NULL);
	END IF;
	UPDATE automation.user_pool_members m SET active = set_pool_member_active.active
	 WHERE m.pool_id = set_pool_member_active.pool_id AND m.member = set_pool_member_active.member;
	IF NOT FOUND THEN
		PERFORM automation._err('P0002', format('member %s not found in pool %s',
												automation._show(member), coalesce(pool_id::text, 'null')),
								NULL, 'see automation.user_pool_members');
	END IF;
END
$$;

/* delete_user_pool: refused (2BP01) while an ASSIGN_USER action names it. */
CREATE FUNCTION automation.delete_user_pool(id uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM automation.user_pools p WHERE p.id = delete_user_pool.id;
	IF NOT FOUND THEN
		PERFORM automation._err('P0002', format('user pool %s not found', coalesce(id::text, 'null')),
								NULL, 'see automation.user_pools');
	END IF;
END
$$;

/*
 * _next_pool_member: take the pool's next turn: the first active member at
 * or after the cursor (a member position), wrapping around.  The pool row is
 * locked, so concurrent assignments take distinct turns
 * (specs/pool_turns.spec).
 */
CREATE FUNCTION automation._next_pool_member(pool uuid)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cursor_position integer;
	active_count integer;
	chosen text;
	chosen_position integer;
BEGIN
	SELECT p.next_position INTO cursor_position
	  FROM automation.user_pools p WHERE p.id = pool FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM automation._err('P0002', format('user pool %s not found', coalesce(pool::text, 'null')),
								NULL, 'see automation.user_pools');
	END IF;
	SELECT count(*) INTO active_count
	  FROM automation.user_pool_members m WHERE m.pool_id = pool AND m.active;
	IF active_count = 0 THEN
		PERFORM automation._err('22023', format('user pool %s has no active member', pool),
								NULL, 'activate a member with automation.set_pool_member_active()');
	END IF;
	/* the first active member at or after the cursor, wrapping around */
	SELECT m.member, m.position INTO chosen, chosen_position
	  FROM automation.user_pool_members m
	 WHERE m.pool_id = pool AND m.active
	 ORDER BY m.position < cursor_position, m.position
	 LIMIT 1;
	UPDATE automation.user_pools p SET next_position = chosen_position + 1
	 WHERE p.id = pool;
	RETURN chosen;
END
$$;

/*
 * _type_sql: a type as SQL text that names the same type whatever the
 * search_path of the statement it goes into: schema-qualified
 * (pg_catalog.text, public.stage), or, for the built-in types with a
 * modifier, the SQL-standard keyword form (character varying(20),
 * numeric(10,2), timestamp(3) with time zone), which the parser maps to
 * pg_catalog itself.  Never format_type()'s bare names: PostgreSQL looks
 * types up in the session's pg_temp first, and the caller of execute_job
 * owns its pg_temp (a pg_temp.text domain would run its CHECK as the job's
 * role).  The typmod is kept; arrays are their element type plus [].
 */
CREATE FUNCTION automation._type_sql(typ oid, typmod integer)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	modifier text := '';
BEGIN
	SELECT ty.typname, n.nspname, ty.typelem, ty.typsubscript, ty.typmodout INTO t
	  FROM pg_catalog.pg_type ty JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace
	 WHERE ty.oid = typ;
	IF NOT FOUND THEN
		PERFORM automation._err('22023', format('type %s does not exist', typ), NULL, NULL);
	END IF;
	IF t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc AND t.typelem <> 0 THEN
		RETURN automation._type_sql(t.typelem, typmod) || '[]';
	END IF;
	IF typmod >= 0 AND typ IN ('pg_catalog.bit'::pg_catalog.regtype, 'pg_catalog.varbit'::pg_catalog.regtype,
							   'pg_catalog.bpchar'::pg_catalog.regtype, 'pg_catalog.varchar'::pg_catalog.regtype,
							   'pg_catalog.numeric'::pg_catalog.regtype, 'pg_catalog.interval'::pg_catalog.regtype,
							   'pg_catalog.time'::pg_catalog.regtype, 'pg_catalog.timetz'::pg_catalog.regtype,
							   'pg_catalog.timestamp'::pg_catalog.regtype, 'pg_catalog.timestamptz'::pg_catalog.regtype) THEN
		/* keyword syntax (SystemTypeName in gram.y): no lookup at all */
		RETURN pg_catalog.format_type(typ, typmod);
	END IF;
	IF typmod >= 0 THEN
		IF t.typmodout <> 0 THEN
			/* a base type's typmodout is C, created by a superuser */
			EXECUTE (SELECT format('SELECT %I.%I($1)::pg_catalog.text', pn.nspname, p.proname)
					   FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
					  WHERE p.oid = t.typmodout)
			   INTO modifier USING typmod;
		ELSE
			modifier := format('(%s)', typmod);
		END IF;
	END IF;
	RETURN format('%I.%I', t.nspname, t.typname) || modifier;
END
$$;

/* _column_type: the SQL type of a column (_type_sql), for casting text parameters. */
CREATE FUNCTION automation._column_type(rel regclass, col text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	typ text;
BEGIN
	SELECT automation._type_sql(a.atttypid, a.atttypmod) INTO typ
	  FROM pg_attribute a
	 WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
	IF typ IS NULL THEN
		PERFORM automation._err('22023', format('column %s does not exist in %s', automation._show(col), rel),
								NULL, 'the table changed since the definition was created');
	END IF;
	RETURN typ;
END
$$;

/*
 * _eq_sql: the equality operator of a column's type as
 * OPERATOR(schema.=): the one of the default btree operator class of the
 * type (under its domains), e.g. citext's own; pg_catalog's otherwise
 * (varchar, enums, arrays resolve there).  So the statement compares keys
 * with the operator the unique index uses, not with one found first on a
 * search_path.
 */
CREATE FUNCTION automation._eq_sql(rel regclass, col text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce((
		SELECT pg_catalog.format('OPERATOR(%I.%s)', n.nspname, o.oprname)
		  FROM pg_catalog.pg_attribute att
		  JOIN pg_catalog.pg_opclass c ON c.opcintype = automation._base_type(att.atttypid) AND c.opcdefault
		  JOIN pg_catalog.pg_am am ON am.oid = c.opcmethod AND am.amname = 'btree'
		  JOIN pg_catalog.pg_amop a ON a.amopfamily = c.opcfamily AND a.amopstrategy = 3
		   AND a.amoplefttype = c.opcintype AND a.amoprighttype = c.opcintype
		  JOIN pg_catalog.pg_operator o ON o.oid = a.amopopr
		  JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
		 WHERE att.attrelid = rel AND att.attname = col AND att.attnum > 0 AND NOT att.attisdropped
		 LIMIT 1), 'OPERATOR(pg_catalog.=)')
$$;

/*
 * _record_where: the WHERE clause that finds a job's record: the key column
 * equal to $2, and, when the entity has a tenant column, the tenant column
 * equal to $3 (IS NULL for a job without a tenant).  Record keys may be
 * unique only per tenant (watch() accepts a unique index on (tenant, key)),
 * and a job never touches another tenant's row.
 */
CREATE FUNCTION automation._record_where(ent automation.entities, tenant_id text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	clause text := format('%I %s $2::%s', ent.key_column, automation._eq_sql(ent.relation, ent.key_column),
						  automation._column_type(ent.relation, ent.key_column));
BEGIN
	IF ent.tenant_column IS NULL THEN
		RETURN clause;
	ELSIF tenant_id IS NULL THEN
		RETURN clause || format(' AND %I IS NULL', ent.tenant_column);
	END IF;
	RETURN clause || format(' AND %I %s $3::%s', ent.tenant_column,
							automation._eq_sql(ent.relation, ent.tenant_column),
							automation._column_type(ent.relation, ent.tenant_column));
END
$$;

/* _unwritten_reason: why an action wrote nothing: the row is gone, or it already had the value. */
CREATE FUNCTION automation._unwritten_reason(run_as name, ent automation.entities,
	record_key text, tenant_id text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF automation._execute_as(run_as,
			format('SELECT 1 FROM %s WHERE %s', ent.relation, automation._record_where(ent, tenant_id)),
			ARRAY[NULL, record_key, tenant_id]) = 0 THEN
		RETURN 'record not found';
	END IF;
	RETURN 'unchanged';
END
$$;

/*
 * _set_column: UPDATE one column of one row to a value, unless it already
 * has it.  Runs as run_as.  Returns whether the row was written.  "Unless"
 * is spelled with the column type's own equality operator (_eq_sql), not
 * IS DISTINCT FROM, which looks "=" up on the search_path.
 */
CREATE FUNCTION automation._set_column(run_as name, ent automation.entities,
	record_key text, tenant_id text, col text, value text)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	typ text := automation._column_type(ent.relation, col);
	eq text := automation._eq_sql(ent.relation, col);
BEGIN
	RETURN automation._execute_as(run_as,
		format('UPDATE %1$s SET %2$I = $1::%3$s WHERE %4$s AND CASE WHEN %2$I IS NULL OR $1::%3$s IS NULL '
			   'THEN (%2$I IS NULL) OPERATOR(pg_catalog.<>) ($1::%3$s IS NULL) ELSE NOT (%2$I %5$s $1::%3$s) END',
			   ent.relation, col, typ, automation._record_where(ent, tenant_id), eq),
		ARRAY[value, record_key, tenant_id]) > 0;
END
$$;

/*
 * _tag: add (untag: remove) a tag in a text[] or jsonb array column, unless
 * it is already there (absent).
 */
CREATE FUNCTION automation._tag(run_as name, ent automation.entities,
	record_key text, tenant_id text, col text, tag text, adding boolean)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	typ oid;
	typmod integer;
	base oid;
	query text;
BEGIN
	IF tag IS NULL OR tag = '' THEN
		PERFORM automation._err('22023', 'invalid tag: must not be empty', NULL, NULL);
	END IF;
	SELECT a.atttypid, a.atttypmod INTO typ, typmod
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = ent.relation AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		PERFORM automation._err('22023', format('column %s does not exist in %s', automation._show(col), ent.relation),
								NULL, 'the table changed since the definition was created');
	END IF;
	base := automation._base_type(typ);
	IF base = 'pg_catalog.jsonb'::pg_catalog.regtype THEN
		query := CASE WHEN adding THEN
			'UPDATE %1$s SET %2$I = coalesce(%2$I, ''[]''::pg_catalog.jsonb) OPERATOR(pg_catalog.||) pg_catalog.to_jsonb($1::pg_catalog.text) '
			'WHERE %3$s AND NOT coalesce(%2$I, ''[]''::pg_catalog.jsonb) OPERATOR(pg_catalog.@>) pg_catalog.jsonb_build_array($1::pg_catalog.text)'
		ELSE
			'UPDATE %1$s SET %2$I = %2$I OPERATOR(pg_catalog.-) $1::pg_catalog.text '
			'WHERE %3$s AND %2$I OPERATOR(pg_catalog.@>) pg_catalog.jsonb_build_array($1::pg_catalog.text)'
		END;
	ELSIF EXISTS (SELECT 1 FROM pg_catalog.pg_type t WHERE t.oid = base AND t.typcategory = 'A') THEN
		query := CASE WHEN adding THEN
			'UPDATE %1$s SET %2$I = pg_catalog.array_append(coalesce(%2$I, ''{}''::%4$s), $1::pg_catalog.text) '
			'WHERE %3$s AND NOT ($1::pg_catalog.text OPERATOR(pg_catalog.=) ANY (coalesce(%2$I, ''{}''::%4$s)))'
		ELSE
			'UPDATE %1$s SET %2$I = pg_catalog.array_remove(%2$I, $1::pg_catalog.text) '
			'WHERE %3$s AND $1::pg_catalog.text OPERATOR(pg_catalog.=) ANY (%2$I)'
		END;
	ELSE
		PERFORM automation._err('22023', format('column %s of %s is not an array', automation._show(col), ent.relation),
								format('its type is %s', format_type(typ, typmod)), 'tags live in a text[] or jsonb array column');
	END IF;
	RETURN automation._execute_as(run_as,
		format(query, ent.relation, col, automation._record_where(ent, tenant_id), automation._type_sql(typ, typmod)),
		ARRAY[tag, record_key, tenant_id]) > 0;
END
$$;

/* _create_task: INSERT a row into the table watched as "task". */
CREATE FUNCTION automation._create_task(run_as name, config jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
	cols text[] := '{}';
	exprs text[] := '{}';
	vals text[] := '{}';
	k text;
	v jsonb;
	i integer := 0;
BEGIN
	SELECT e.relation INTO rel FROM automation.entities e WHERE e.name = 'task';
	IF rel IS NULL THEN
		PERFORM automation._err('22023', 'no table is watched as entity "task"', NULL,
								'watch it: SELECT automation.watch(''task'', ''public.tasks'')');
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each(config) WHERE key <> 'delay_minutes' ORDER BY key LOOP
		i := i + 1;
		cols := cols || format('%I', k);
		exprs := exprs || format('$%s::%s', i, automation._column_type(rel, k));
		vals := vals || CASE jsonb_typeof(v) WHEN 'string' THEN v #>> '{}'
									   WHEN 'null' THEN NULL ELSE v::text END;
	END LOOP;
	IF i = 0 THEN
		PERFORM automation._execute_as(run_as, format('INSERT INTO %s DEFAULT VALUES', rel), NULL);
	ELSE
		PERFORM automation._execute_as(run_as,
			format('INSERT INTO %s (%s) VALUES (%s)', rel, array_to_string(cols, ', '),
				   array_to_string(exprs, ', ')), vals);
	END IF;
	RETURN jsonb_build_object('created', true, 'table', rel::text);
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
CREATE FUNCTION automation.execute_job(id bigint)
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
	IF job.action_type NOT IN ('update_field', 'change_stage', 'tag', 'untag',
							   'assign_user', 'create_task', 'notify') THEN
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

	config := job.payload -> 'config';
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
										  coalesce(config ->> 'stage_field', 'stage_id'),
										  config ->> 'stage_id');
		action_result := jsonb_build_object('updated', written, 'field', coalesce(config ->> 'stage_field', 'stage_id'),
									 'value', config -> 'stage_id');
	WHEN 'tag', 'untag' THEN
		written := automation._tag(def_role, ent, job.record_key, job.tenant_id,
								   coalesce(config ->> 'tags_field', 'tags'), config ->> 'tag',
								   job.action_type = 'tag');
		action_result := jsonb_build_object('updated', written, 'field', coalesce(config ->> 'tags_field', 'tags'),
									 'tag', config ->> 'tag');
	WHEN 'assign_user' THEN
		member := automation._next_pool_member((config ->> 'assign_pool_id')::uuid);
		written := automation._set_column(def_role, ent, job.record_key, job.tenant_id,
										  coalesce(config ->> 'assign_field', 'owner_id'), member);
		action_result := jsonb_build_object('updated', written, 'field', coalesce(config ->> 'assign_field', 'owner_id'),
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
CREATE FUNCTION automation.run_database_jobs(max_jobs integer DEFAULT 100)
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
			ARRAY['update_field', 'change_stage', 'tag', 'untag', 'assign_user', 'create_task', 'notify'])
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
/*
 * 50_queue.sql: the queue protocol between automation.jobs and the workers
 * (SPEC section 7): claim_jobs, complete_job(s), fail_job, next_job_at.
 *
 * A job moves queued -> running (claim) -> succeeded | queued (retry) | dead.
 *
 * Invariants:
 *   - attempts is counted at claim, so a worker that dies mid-delivery still
 *     uses up an attempt; a running job whose lease (locked_until) expired
 *     is claimable again, or dead when it has no attempt left;
 *   - claiming reads only the partial indexes jobs_due_idx (queued) and
 *     jobs_lease_idx (running), so a long history does not slow it down;
 *   - claiming never waits for another claimer (FOR UPDATE SKIP LOCKED);
 *   - every job that becomes dead raises exactly one 'job_dead' alert;
 *   - the functions are SECURITY INVOKER: the row-level security of
 *     70_tenancy.sql applies.
 *
 * Retry delay (fail_job, retryable, attempts left), with n = attempts made:
 *     delay = least(1 hour, 10 s * 2^(n-1)) * (0.75 + 0.5 * random())
 * i.e. 10 s, 20 s, 40 s, ... +/-25 % jitter, capped at 1 hour (+/-25 %).
 * When the caller passes retry_after (an HTTP Retry-After), the delay is
 * that value instead, clamped to [0, 24 hours].
 *
 * Nothing here is granted to PUBLIC (99_end.sql).  The worker runs as the
 * extension owner or a superuser: a dead job's alert is an INSERT into
 * automation.alerts, which row-level security reserves to the owner (no
 * INSERT policy), and execute_job switches to the definition's role.
 */

/* _retry_delay: the backoff before attempt n+1 after n failed attempts. */
CREATE FUNCTION automation._retry_delay(attempts integer)
RETURNS interval
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT least(interval '1 hour',
				 interval '10 seconds' * power(2, least(greatest(attempts, 1) - 1, 20)))
		   * (0.75 + 0.5 * random())
$$;

/* _job_dead_alert: raise the 'job_dead' alert of a job that is dead, once. */
CREATE FUNCTION automation._job_dead_alert(job_id bigint)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	j automation.jobs;
BEGIN
	SELECT * INTO j FROM automation.jobs WHERE id = job_id AND status = 'dead';
	IF NOT FOUND OR EXISTS (SELECT 1 FROM automation.alerts a
							 WHERE a.kind = 'job_dead' AND a.job_id = j.id
							   AND a.created_at >= j.created_at) THEN
		RETURN NULL;
	END IF;
	RETURN automation._raise_alert('job_dead',
		format('job %s (%s) is dead after %s attempt(s): %s', j.id,
			   j.action_type, j.attempts, coalesce(j.last_error, 'no error')),
		jsonb_build_object('action_type', j.action_type, 'attempts', j.attempts,
						   'max_attempts', j.max_attempts, 'last_error', j.last_error,
						   'entity', j.entity, 'record_key', j.record_key),
		j.workflow_id, j.rule_id, j.id, j.tenant_id);
END
$$;

/* _check_action_types: 22023 unless every element is a known action type. */
CREATE FUNCTION automation._check_action_types(action_types text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	known constant text[] := ARRAY['webhook', 'send_channel_message', 'send_email',
								   'update_field', 'create_task', 'assign_user',
								   'change_stage', 'tag', 'untag', 'notify'];
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

/*
 * claim_jobs: lease up to max_jobs jobs to worker.  Jobs whose lease expired
 * come first (they have waited longest), then due queued jobs by run_after.
 * An expired job with no attempt left becomes dead instead of being claimed.
 */
CREATE FUNCTION automation.claim_jobs(worker text, max_jobs integer DEFAULT 10,
	lease interval DEFAULT '60 seconds', action_types text[] DEFAULT NULL)
RETURNS SETOF automation.jobs
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	dead_id bigint;
BEGIN
	IF worker IS NULL OR btrim(worker) = '' OR length(worker) > 200 THEN
		PERFORM automation._err('22023', 'worker must be a name of 1 to 200 characters',
								format('worker is %s', coalesce(quote_literal(worker), 'NULL')));
	END IF;
	IF max_jobs IS NULL OR max_jobs < 1 OR max_jobs > 10000 THEN
		PERFORM automation._err('22023', 'max_jobs must be between 1 and 10000',
								format('max_jobs is %s', coalesce(max_jobs::text, 'NULL')));
	END IF;
	IF lease IS NULL OR lease < interval '1 second' OR lease > interval '1 day' THEN
		PERFORM automation._err('22023', 'lease must be between 1 second and 1 day',
								format('lease is %s', coalesce(lease::text, 'NULL')));
	END IF;
	PERFORM automation._check_action_types(action_types);

	/* Expired leases with no attempt left: dead, with their alert. */
	FOR dead_id IN
		WITH expired AS (
			SELECT j.id FROM automation.jobs j
			 WHERE j.status = 'running' AND j.locked_until < now()
			   AND j.attempts >= j.max_attempts
			   AND (action_types IS NULL OR j.action_type = ANY (action_types))
			 ORDER BY j.locked_until
			 LIMIT max_jobs
			   FOR UPDATE SKIP LOCKED)
		UPDATE automation.jobs j
		   SET status = 'dead', finished_at = now(), locked_until = NULL,
			   last_error = coalesce(j.last_error || '; ', '') ||
							format('lease of worker %s expired on the last attempt', j.locked_by)
		  FROM expired WHERE j.id = expired.id
		RETURNING j.id
	LOOP
		PERFORM automation._job_dead_alert(dead_id);
	END LOOP;

	RETURN QUERY
	WITH expired AS (
		SELECT j.id FROM automation.jobs j
		 WHERE j.status = 'running' AND j.locked_until < now()
		   AND j.attempts < j.max_attempts
		   AND (action_types IS NULL OR j.action_type = ANY (action_types))
		 ORDER BY j.locked_until
		 LIMIT max_jobs
		   FOR UPDATE SKIP LOCKED
	), due AS (
		SELECT j.id FROM automation.jobs j
		 WHERE j.status = 'queued' AND j.run_after <= now()
		   AND (action_types IS NULL OR j.action_type = ANY (action_types))
		 ORDER BY j.run_after, j.id
		 LIMIT max_jobs
		   FOR UPDATE SKIP LOCKED
	), picked AS (
		(SELECT id FROM expired UNION ALL SELECT id FROM due) LIMIT max_jobs
	)
	UPDATE automation.jobs j
	   SET status = 'running', locked_by = worker,
		   locked_until = now() + lease, attempts = j.attempts + 1
	  FROM picked WHERE j.id = picked.id
	RETURNING j.*;
END
$$;

/* _job_state_error: the error for a job that is missing or not running. */
CREATE FUNCTION automation._job_state_error(job_id bigint, verb text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	st text;
BEGIN
	IF job_id IS NULL THEN
		PERFORM automation._err('22023', 'id must not be NULL');
	END IF;
	SELECT status INTO st FROM automation.jobs WHERE id = job_id;
	IF NOT FOUND THEN
		PERFORM automation._err('P0002', format('job %s not found', job_id),
								format('id is %s', job_id));
	END IF;
	PERFORM automation._err('22023', format('job %s is not running', job_id),
							format('status is %s', st),
							format('only a claimed (running) job can be %s', verb));
END
$$;

/*
 * complete_job: record the success of a running job.  Returns true when this
 * call completed it, false when it had already succeeded (a repeated
 * completion is harmless); 22023 for a queued or dead job, P0002 for none.
 */
CREATE FUNCTION automation.complete_job(id bigint, result jsonb DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	job_id constant bigint := id;
	job_result constant jsonb := result;
BEGIN
	UPDATE automation.jobs j
	   SET status = 'succeeded', result = job_result, finished_at = now(),
		   locked_until = NULL
	 WHERE j.id = job_id AND j.status = 'running';
	IF FOUND THEN
		RETURN true;
	END IF;
	IF EXISTS (SELECT 1 FROM automation.jobs j
				WHERE j.id = job_id AND j.status = 'succeeded') THEN
		RETURN false;
	END IF;
	PERFORM automation._job_state_error(job_id, 'completed');
	RETURN NULL;
END
$$;

/*
 * complete_jobs: complete_job for many jobs in one statement (workers record
 * outcomes in batches).  results, when given, pairs with ids by position.
 * Returns the ids it completed; ids not running are skipped.
 */
CREATE FUNCTION automation.complete_jobs(ids bigint[], results jsonb[] DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF ids IS NULL THEN
		PERFORM automation._err('22023', 'ids must not be NULL');
	END IF;
	IF results IS NOT NULL AND cardinality(results) <> cardinality(ids) THEN
		PERFORM automation._err('22023', 'results must have one element per id',
								format('%s ids, %s results', cardinality(ids), cardinality(results)));
	END IF;
	RETURN QUERY
	UPDATE automation.jobs j
	   SET status = 'succeeded', result = r.result, finished_at = now(),
		   locked_until = NULL
	  FROM unnest(ids, coalesce(results, array_fill(NULL::jsonb, ARRAY[cardinality(ids)])))
		   AS r(id, result)
	 WHERE j.id = r.id AND j.status = 'running'
	RETURNING j.id;
END
$$;

/*
 * fail_job: record a failed attempt of a running job.  Retryable with
 * attempts left: queued again after retry_after or the backoff (header
 * comment).  Otherwise dead, with a 'job_dead' alert.  Returns the new
 * status ('queued' or 'dead').
 */
CREATE FUNCTION automation.fail_job(id bigint, error text, retryable boolean DEFAULT true,
	retry_after interval DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	job_id constant bigint := id;
	j automation.jobs;
	err text := coalesce(nullif(btrim(error), ''), 'unknown error');
	delay interval;
BEGIN
	IF retryable IS NULL THEN
		PERFORM automation._err('22023', 'retryable must not be NULL');
	END IF;
	IF retry_after < interval '0' THEN
		PERFORM automation._err('22023', 'retry_after must not be negative',
								format('retry_after is %s', retry_after));
	END IF;
	SELECT * INTO j FROM automation.jobs jj
	 WHERE jj.id = job_id AND jj.status = 'running' FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM automation._job_state_error(job_id, 'failed');
	END IF;
	err := left(err, 2000);

	IF NOT retryable OR j.attempts >= j.max_attempts THEN
		UPDATE automation.jobs jj
		   SET status = 'dead', last_error = err, finished_at = now(),
			   locked_until = NULL
		 WHERE jj.id = job_id;
		PERFORM automation._job_dead_alert(job_id);
		RETURN 'dead';
	END IF;

	delay := CASE WHEN retry_after IS NOT NULL
				  THEN least(retry_after, interval '24 hours')
				  ELSE automation._retry_delay(j.attempts) END;
	UPDATE automation.jobs jj
	   SET status = 'queued', last_error = err, run_after = now() + delay,
		   locked_until = NULL
	 WHERE jj.id = job_id;
	RETURN 'queued';
END
$$;

/*
 * next_job_at: when the next job of these types becomes claimable (a queued
 * job's run_after or a running job's lease end), NULL when none; workers
 * sleep until then instead of polling blindly.
 */
CREATE FUNCTION automation.next_job_at(action_types text[] DEFAULT NULL)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT least(
		(SELECT min(j.run_after) FROM automation.jobs j
		  WHERE j.status = 'queued'
			AND (action_types IS NULL OR j.action_type = ANY (action_types))),
		(SELECT min(j.locked_until) FROM automation.jobs j
		  WHERE j.status = 'running'
			AND (action_types IS NULL OR j.action_type = ANY (action_types))))
$$;

/*
 * _jobs_guard: jobs carry nothing a worker can forge (SPEC section 10).
 * BEFORE INSERT and BEFORE UPDATE on automation.jobs.  Only the extension
 * owner (as which the engine enqueues) or a superuser may insert a job, change
 * a column that decides who runs it, what it targets or what it does
 * (id, source, workflow_id, rule_id, action_type, entity, record_key,
 * tenant_id, payload, depth, run_as, idempotency_key, created_at), or move a
 * finished (succeeded or dead) job back into the queue.  Everyone else (a
 * worker role with UPDATE on jobs) changes only the queue columns: status,
 * attempts, max_attempts, run_after, locked_by, locked_until, last_error,
 * result, finished_at.  The UPDATE trigger's WHEN clause keeps the queue
 * functions (claim_jobs, complete_job(s), fail_job, execute_job) free of
 * any extra call.  Rows a restore loads are inserted by a superuser or the
 * owner.  Self-contained (no call to another automation function), so a
 * worker needs no EXECUTE grant for it to report its error.
 */
CREATE FUNCTION automation._jobs_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	col text;
BEGIN
	/* the owner and superusers change anything */
	IF (SELECT pg_catalog.pg_get_userbyid(e.extowner) FROM pg_catalog.pg_extension e
		 WHERE e.extname = 'automation') = current_user
	   OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
		RETURN NEW;
	END IF;
	col := CASE
		WHEN NEW.id IS DISTINCT FROM OLD.id THEN 'id'
		WHEN NEW.source IS DISTINCT FROM OLD.source THEN 'source'
		WHEN NEW.workflow_id IS DISTINCT FROM OLD.workflow_id THEN 'workflow_id'
		WHEN NEW.rule_id IS DISTINCT FROM OLD.rule_id THEN 'rule_id'
		WHEN NEW.action_type IS DISTINCT FROM OLD.action_type THEN 'action_type'
		WHEN NEW.entity IS DISTINCT FROM OLD.entity THEN 'entity'
		WHEN NEW.record_key IS DISTINCT FROM OLD.record_key THEN 'record_key'
		WHEN NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN 'tenant_id'
		WHEN NEW.payload IS DISTINCT FROM OLD.payload THEN 'payload'
		WHEN NEW.depth IS DISTINCT FROM OLD.depth THEN 'depth'
		WHEN NEW.run_as IS DISTINCT FROM OLD.run_as THEN 'run_as'
		WHEN NEW.idempotency_key IS DISTINCT FROM OLD.idempotency_key THEN 'idempotency_key'
		WHEN NEW.created_at IS DISTINCT FROM OLD.created_at THEN 'created_at'
	END;
	IF col IS NOT NULL THEN
		RAISE EXCEPTION 'permission denied to change column % of automation.jobs', col
			USING ERRCODE = '42501',
				  DETAIL = format('job %s: only the owner of extension automation changes who a job runs as, what it targets or what it does',
								  OLD.id),
				  HINT = 'a worker changes only status, attempts, max_attempts, run_after, locked_by, locked_until, last_error, result and finished_at';
	END IF;
	RAISE EXCEPTION 'permission denied to change the status of job %: it is %', OLD.id, OLD.status
		USING ERRCODE = '42501',
			  DETAIL = format('status %s -> %s', OLD.status, NEW.status),
			  HINT = 'a finished job stays finished; the engine enqueues a new one on the next change';
END
$$;

/* INSERT: the owner and superusers only (C: the engine pays it per job) */
CREATE FUNCTION automation._jobs_insert_guard()
RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'automation_jobs_insert_guard';
CREATE TRIGGER jobs_insert_guard
	BEFORE INSERT ON automation.jobs
	FOR EACH ROW EXECUTE FUNCTION automation._jobs_insert_guard();
CREATE TRIGGER jobs_update_guard
	BEFORE UPDATE ON automation.jobs
	FOR EACH ROW
	WHEN ((OLD.id, OLD.source, OLD.workflow_id, OLD.rule_id, OLD.action_type, OLD.entity,
		   OLD.record_key, OLD.tenant_id, OLD.payload, OLD.depth, OLD.run_as,
		   OLD.idempotency_key, OLD.created_at)
		  IS DISTINCT FROM
		  (NEW.id, NEW.source, NEW.workflow_id, NEW.rule_id, NEW.action_type, NEW.entity,
		   NEW.record_key, NEW.tenant_id, NEW.payload, NEW.depth, NEW.run_as,
		   NEW.idempotency_key, NEW.created_at)
		  OR (OLD.status IN ('succeeded', 'dead') AND NEW.status IS DISTINCT FROM OLD.status))
	EXECUTE FUNCTION automation._jobs_guard();
/*
 * 60_engine.sql: the row trigger, cache invalidation, breakers, explain,
 * prune.
 */

/* The C row trigger that automation.watch() attaches. */
CREATE FUNCTION automation._row_trigger() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'automation_row_trigger';

/*
 * Any change to a definition table invalidates every backend's compiled
 * definitions when it commits (relcache invalidation, as pg_cron does).
 */
CREATE FUNCTION automation._definitions_changed() RETURNS trigger
	LANGUAGE c AS 'MODULE_PATHNAME', 'automation_definitions_changed';

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['entities', 'workflows', 'rules', 'rule_conditions',
							 'rule_actions']
	LOOP
		EXECUTE format('CREATE TRIGGER automation_definitions_changed '
					   'AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON automation.%I '
					   'FOR EACH STATEMENT EXECUTE FUNCTION automation._definitions_changed()', t);
	END LOOP;
END
$$;

/* Breaker counts in shared memory (breaker.c). */
CREATE FUNCTION automation._breaker_state(
	OUT workflow_id text, OUT committed integer, OUT reserved integer,
	OUT tripped boolean, OUT tripped_at timestamptz)
RETURNS SETOF record
	LANGUAGE c AS 'MODULE_PATHNAME', 'automation_breaker_state';

CREATE FUNCTION automation._breaker_reset(workflow_id text) RETURNS void
	LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'automation_breaker_reset';

CREATE VIEW automation.circuit_breakers AS
SELECT w.id AS workflow_id,
	   w.name,
	   w.max_triggers_per_day,
	   coalesce(s.committed, f.fired)::integer AS triggers_today,
	   greatest(w.max_triggers_per_day - coalesce(s.committed, f.fired)
				- coalesce(s.reserved, 0), 0)::integer AS remaining,
	   (coalesce(s.tripped, false)
		OR w.disabled_reason IS NOT DISTINCT FROM 'circuit_breaker') AS tripped,
	   CASE WHEN coalesce(s.tripped, false) THEN s.tripped_at
			WHEN w.disabled_reason IS NOT DISTINCT FROM 'circuit_breaker' THEN
				(SELECT max(a.created_at) FROM automation.alerts a
				  WHERE a.kind = 'circuit_breaker' AND a.workflow_id = w.id)
	   END AS tripped_at
  FROM automation.workflows w
  LEFT JOIN automation._breaker_state() s ON s.workflow_id = w.id
  CROSS JOIN LATERAL (
	SELECT count(*) AS fired FROM automation.firings fi
	 WHERE fi.workflow_id = w.id AND fi.outcome = 'fired'
	   AND fi.fired_at >= greatest(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
								   w.breaker_reset_at)) f;

/* Same evaluator as the trigger, no side effect (explain.c). */
CREATE FUNCTION automation._explain(entity text, new_row jsonb, old_row jsonb)
RETURNS TABLE (source text, id text, name text, fires boolean, reason text,
			   conditions jsonb)
	LANGUAGE c CALLED ON NULL INPUT AS 'MODULE_PATHNAME', 'automation_explain';

/*
 * explain: checks its arguments, then asks the C evaluator, which builds
 * each row as the table's owner (22023 naming the row and the problem when
 * it does not fit the table).
 */
CREATE FUNCTION automation.explain(entity text, new_row jsonb,
	old_row jsonb DEFAULT NULL)
RETURNS TABLE (source text, id text, name text, fires boolean, reason text,
			   conditions jsonb)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
BEGIN
	IF entity IS NULL THEN
		RAISE EXCEPTION 'entity must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT e.relation INTO rel FROM automation.entities e WHERE e.name = explain.entity;
	IF rel IS NULL THEN
		RAISE EXCEPTION 'entity "%" is not watched', entity
			USING ERRCODE = 'no_data_found',
				  HINT = 'Watch its table first with automation.watch().';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = rel) THEN
		RAISE EXCEPTION 'the table of entity "%" no longer exists', entity
			USING ERRCODE = 'no_data_found',
				  HINT = 'Unwatch the entity with automation.unwatch().';
	END IF;
	IF new_row IS NULL AND old_row IS NULL THEN
		RAISE EXCEPTION 'new_row and old_row must not both be null'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give new_row for an insert, both for an update, old_row alone for a delete.';
	END IF;
	/* each row is checked against the table by the C function, as the table's owner */
	RETURN QUERY SELECT * FROM automation._explain(entity, new_row, old_row);
END
$$;

/*
 * prune: delete finished jobs and history older than older_than.  Firings of
 * the current UTC day are kept: the breakers are rebuilt from them.
 */
CREATE FUNCTION automation.prune(older_than interval)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cutoff timestamptz;
	jobs_deleted bigint;
	firings_deleted bigint;
	alerts_deleted bigint;
	notifications_deleted bigint;
	keys_deleted bigint;
BEGIN
	IF older_than IS NULL OR older_than < interval '0' THEN
		RAISE EXCEPTION 'older_than must be a non-negative interval'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('Got: %s.', coalesce(older_than::text, 'NULL')),
				  HINT = 'Pass an interval such as ''30 days''.';
	END IF;
	BEGIN
		cutoff := now() - older_than;
	EXCEPTION WHEN datetime_field_overflow THEN
		RAISE EXCEPTION 'older_than is out of range'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('now() - %s is before the earliest timestamp.', older_than),
				  HINT = 'Pass an interval such as ''30 days''.';
	END;
	DELETE FROM automation.jobs
	 WHERE status IN ('succeeded', 'dead') AND finished_at < cutoff;
	GET DIAGNOSTICS jobs_deleted = ROW_COUNT;
	DELETE FROM automation.firings
	 WHERE fired_at < least(cutoff, date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC');
	GET DIAGNOSTICS firings_deleted = ROW_COUNT;
	DELETE FROM automation.alerts WHERE created_at < cutoff;
	GET DIAGNOSTICS alerts_deleted = ROW_COUNT;
	DELETE FROM automation.notifications WHERE created_at < cutoff;
	GET DIAGNOSTICS notifications_deleted = ROW_COUNT;
	DELETE FROM automation.idempotency_keys
	 WHERE created_at < least(cutoff, now() - interval '24 hours');
	GET DIAGNOSTICS keys_deleted = ROW_COUNT;
	RETURN jsonb_build_object('jobs', jobs_deleted, 'firings', firings_deleted,
							  'alerts', alerts_deleted,
							  'notifications', notifications_deleted,
							  'idempotency_keys', keys_deleted);
END
$$;

/* NOTIFY transactions sent by the wake-up notifiers (wakeup.c), for tests. */
CREATE FUNCTION automation._wakeups_sent() RETURNS bigint
	LANGUAGE c AS 'MODULE_PATHNAME', 'automation_wakeups_sent';
/*
 * 70_tenancy.sql: row-level security by tenant (SPEC section 10).
 *
 * A session's tenant is automation._tenant(): the setting automation.tenant
 * ('' or unset: no tenant).  A session sees the rows of its tenant plus the
 * global rows (tenant_id NULL) of the definition tables, and changes only
 * the rows of its own tenant; a session without a tenant changes only global
 * rows.  So a tenant can use, but never change, a global workflow, rule,
 * pool or channel.  History (jobs, firings, alerts, notifications) shows
 * only the session's own tenant (no tenant: the untenanted history).
 *
 * The setting is user-settable.  A role that must not choose its tenant is
 * bound by membership in a role named automation_tenant_<tenant id>: a
 * member of one or more such roles may act only for those tenants, and must
 * set automation.tenant to one of them (42501 otherwise).
 *
 * Invariants:
 *   - policies are not FORCEd: the table owner (the extension owner, as
 *     which the engine writes jobs, firings and alerts) and superusers and
 *     BYPASSRLS roles are not subject to them;
 *   - rule_conditions / rule_actions follow their rule, user_pool_members
 *     its pool;
 *   - history rows are written only by the engine (no INSERT policy), but
 *     for the 'job_dead' alert of a tenant's own dead job.
 */

/*
 * _tenant: the tenant the current role acts for, or NULL for none.  Raises
 * 42501 when the role is bound to tenants and the setting names none of them.
 */
CREATE FUNCTION automation._tenant()
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t text := nullif(current_setting('automation.tenant', true), '');
	bound text[];
BEGIN
	SELECT array_agg(substr(r.rolname, 19) ORDER BY r.rolname) INTO bound
	  FROM pg_catalog.pg_roles r
	 WHERE r.rolname LIKE 'automation\_tenant\_%'
	   AND pg_has_role(current_user, r.oid, 'MEMBER');
	IF bound IS NULL OR t = ANY (bound) THEN
		RETURN t;
	END IF;
	IF t IS NULL THEN
		PERFORM automation._err('42501', format('role %s must set automation.tenant', current_user),
								format('it is bound to tenant(s) %s', array_to_string(bound, ', ')),
								format('SET automation.tenant = %L', bound[1]));
	END IF;
	PERFORM automation._err('42501', format('role %s may not act for tenant %s', current_user, automation._show(t)),
							format('it is bound to tenant(s) %s', array_to_string(bound, ', ')),
							'set automation.tenant to one of them');
	RETURN NULL;
END
$$;

/* Direct INSERTs into the definition tables get the session's tenant too. */
ALTER TABLE automation.workflows ALTER COLUMN tenant_id
	SET DEFAULT nullif(pg_catalog.current_setting('automation.tenant', true), '');
ALTER TABLE automation.rules ALTER COLUMN tenant_id
	SET DEFAULT nullif(pg_catalog.current_setting('automation.tenant', true), '');
ALTER TABLE automation.user_pools ALTER COLUMN tenant_id
	SET DEFAULT nullif(pg_catalog.current_setting('automation.tenant', true), '');
ALTER TABLE automation.channels ALTER COLUMN tenant_id
	SET DEFAULT nullif(pg_catalog.current_setting('automation.tenant', true), '');

/*
 * Idempotency records hold a tenant's responses: they get a tenant too, so a
 * key replays only to its tenant.
 */
ALTER TABLE automation.idempotency_keys ADD COLUMN tenant_id text
	DEFAULT nullif(pg_catalog.current_setting('automation.tenant', true), '');
/* a key is unique per tenant (no tenant: '') and kind */
CREATE UNIQUE INDEX idempotency_keys_key
	ON automation.idempotency_keys ((coalesce(tenant_id, '')), kind, key);

/*
 * Definition tables: read own + global, write own.  "(SELECT ...)" makes the
 * tenant an init plan, computed once per statement.
 */
DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['workflows', 'rules', 'user_pools', 'channels']
	LOOP
		EXECUTE format('ALTER TABLE automation.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant_read ON automation.%I FOR SELECT '
					   'USING (tenant_id IS NULL OR tenant_id = (SELECT automation._tenant()))', t);
		EXECUTE format('CREATE POLICY tenant_insert ON automation.%I FOR INSERT '
					   'WITH CHECK (tenant_id IS NOT DISTINCT FROM (SELECT automation._tenant()))', t);
		EXECUTE format('CREATE POLICY tenant_update ON automation.%I FOR UPDATE '
					   'USING (tenant_id IS NOT DISTINCT FROM (SELECT automation._tenant())) '
					   'WITH CHECK (tenant_id IS NOT DISTINCT FROM (SELECT automation._tenant()))', t);
		EXECUTE format('CREATE POLICY tenant_delete ON automation.%I FOR DELETE '
					   'USING (tenant_id IS NOT DISTINCT FROM (SELECT automation._tenant()))', t);
	END LOOP;
END
$$;

/* Children: visible with their rule / pool, changed only with an own one. */
CREATE FUNCTION automation._rule_writable(rid uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT 1 FROM automation.rules r
					WHERE r.id = rid AND r.tenant_id IS NOT DISTINCT FROM automation._tenant())
$$;

CREATE FUNCTION automation._pool_writable(pid uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT 1 FROM automation.user_pools p
					WHERE p.id = pid AND p.tenant_id IS NOT DISTINCT FROM automation._tenant())
$$;

DO $$
DECLARE
	t text;
	parent text;
	fk text;
	writable text;
BEGIN
	FOREACH t IN ARRAY ARRAY['rule_conditions', 'rule_actions', 'user_pool_members']
	LOOP
		IF t = 'user_pool_members' THEN
			parent := 'user_pools'; fk := 'pool_id'; writable := '_pool_writable';
		ELSE
			parent := 'rules'; fk := 'rule_id'; writable := '_rule_writable';
		END IF;
		EXECUTE format('ALTER TABLE automation.%I ENABLE ROW LEVEL SECURITY', t);
		/* the parent's own read policy decides */
		EXECUTE format('CREATE POLICY tenant_read ON automation.%I FOR SELECT '
					   'USING (EXISTS (SELECT 1 FROM automation.%I p WHERE p.id = %I))', t, parent, fk);
		EXECUTE format('CREATE POLICY tenant_insert ON automation.%I FOR INSERT '
					   'WITH CHECK (automation.%I(%I))', t, writable, fk);
		EXECUTE format('CREATE POLICY tenant_update ON automation.%I FOR UPDATE '
					   'USING (automation.%I(%I)) WITH CHECK (automation.%I(%I))',
					   t, writable, fk, writable, fk);
		EXECUTE format('CREATE POLICY tenant_delete ON automation.%I FOR DELETE '
					   'USING (automation.%I(%I))', t, writable, fk);
	END LOOP;
END
$$;

/*
 * History: the session's own tenant only.  Jobs may be updated and deleted
 * by a tenant's worker (claim, complete, fail, prune); nothing is inserted
 * but by the engine.  Idempotency records: read, write, delete own.
 */
DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['jobs', 'firings', 'alerts', 'notifications', 'idempotency_keys']
	LOOP
		EXECUTE format('ALTER TABLE automation.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY tenant_read ON automation.%I FOR SELECT '
					   'USING (tenant_id IS NOT DISTINCT FROM (SELECT automation._tenant()))', t);
		EXECUTE format('CREATE POLICY tenant_delete ON automation.%I FOR DELETE '
					   'USING (tenant_id IS NOT DISTINCT FROM (SELECT automation._tenant()))', t);
	END LOOP;
	FOREACH t IN ARRAY ARRAY['jobs', 'notifications', 'idempotency_keys']
	LOOP
		EXECUTE format('CREATE POLICY tenant_update ON automation.%I FOR UPDATE '
					   'USING (tenant_id IS NOT DISTINCT FROM (SELECT automation._tenant())) '
					   'WITH CHECK (tenant_id IS NOT DISTINCT FROM (SELECT automation._tenant()))', t);
	END LOOP;
	EXECUTE 'CREATE POLICY tenant_insert ON automation.idempotency_keys FOR INSERT '
			'WITH CHECK (tenant_id IS NOT DISTINCT FROM (SELECT automation._tenant()))';
END
$$;

/*
 * Firings that still count are not deleted by anyone subject to row-level
 * security: today's (the breakers are rebuilt from them after a restart) and
 * those inside their rule's cooldown window.  prune() keeps them too.
 * (0.3.0; before, a tenant's DELETE lifted a global breaker after a restart
 * and ended a cooldown at once.)
 */
CREATE POLICY firings_settled ON automation.firings AS RESTRICTIVE FOR DELETE
	USING (fired_at < pg_catalog.date_trunc('day', pg_catalog.now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
		   AND NOT EXISTS (SELECT 1 FROM automation.rules r
						    WHERE r.id = rule_id AND r.cooldown_hours > 0
							  AND fired_at > pg_catalog.now() - pg_catalog.make_interval(hours => r.cooldown_hours)));

/*
 * A tenant's worker records the 'job_dead' alert of its own tenant's dead
 * job (fail_job, claim_jobs), once per job; no other alert is inserted but
 * by the engine.
 * (0.3.0; before, a worker subject to row-level security could not fail a
 * job for good.)
 */
/*
 * _job_dead_alerted: has job_id its job_dead alert already?  SECURITY
 * DEFINER so that the INSERT policy on alerts can ask without reading alerts
 * under its own policies (a policy may not query its table).  Reads only.
 */
CREATE FUNCTION automation._job_dead_alerted(job_id bigint)
RETURNS boolean
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT 1 FROM automation.alerts a
					WHERE a.kind = 'job_dead' AND a.job_id = _job_dead_alerted.job_id)
$$;

CREATE POLICY tenant_insert ON automation.alerts FOR INSERT
	WITH CHECK (kind = 'job_dead' AND tenant_id IS NOT DISTINCT FROM (SELECT automation._tenant())
				AND EXISTS (SELECT 1 FROM automation.jobs j WHERE j.id = job_id AND j.status = 'dead')
				AND NOT automation._job_dead_alerted(job_id));

/*
 * Jobs that have not finished are not deleted by anyone subject to
 * row-level security: a tenant cleans up its history (prune), it does not
 * cancel the queued work of global definitions.
 */
CREATE POLICY jobs_finished ON automation.jobs AS RESTRICTIVE FOR DELETE
	USING (status IN ('succeeded', 'dead'));

/*
 * Watched tables are shared by all tenants: everyone may read them (the
 * definitions API resolves fields through them); only a session without a
 * tenant may watch or unwatch.
 */
ALTER TABLE automation.entities ENABLE ROW LEVEL SECURITY;
CREATE POLICY entities_read ON automation.entities FOR SELECT USING (true);
CREATE POLICY entities_insert ON automation.entities FOR INSERT
	WITH CHECK ((SELECT automation._tenant()) IS NULL);
CREATE POLICY entities_update ON automation.entities FOR UPDATE
	USING ((SELECT automation._tenant()) IS NULL) WITH CHECK ((SELECT automation._tenant()) IS NULL);
CREATE POLICY entities_delete ON automation.entities FOR DELETE
	USING ((SELECT automation._tenant()) IS NULL);

/* The breaker view reads its tables as the caller, so their policies apply. */
ALTER VIEW automation.circuit_breakers SET (security_invoker = true);
/*
 * 75_grants.sql: automation.grant_role(role, kind), the exact grants of a
 * role kind (doc/security.md, doc/tenancy.md).
 *
 * Nothing in schema automation is granted to PUBLIC, and the public API
 * functions are SECURITY INVOKER: they call the internal automation._*
 * helpers as the caller, so a role needs EXECUTE on those helpers too, but
 * never on the internal functions that act with more than the caller's
 * rights.  grant_role computes the set from the catalog when it is called
 * (run it again after ALTER EXTENSION automation UPDATE):
 *
 *   helpers  = the automation._* functions that are SECURITY INVOKER SQL or
 *              PL/pgSQL and not trigger functions, plus the C helpers that
 *              run with the caller's rights or show only what the caller
 *              may see (_new_workflow_id, _form_key_parse,
 *              _merge_token_paths, _invoker, _breaker_state, _breaker_reset,
 *              _explain); never _execute_as, _check_preload, _wakeups_sent,
 *              a trigger function or a SECURITY DEFINER internal function;
 *   worker entry points = claim_jobs, complete_job, complete_jobs,
 *              fail_job, next_job_at, execute_job, run_database_jobs;
 *   admin    = USAGE on the schema; EXECUTE on the helpers and on every
 *              other public function; SELECT, INSERT, UPDATE, DELETE on the
 *              definition tables (entities, workflows, rules,
 *              rule_conditions, rule_actions, user_pools, user_pool_members,
 *              channels, idempotency_keys); SELECT and DELETE on the
 *              history (jobs, firings, alerts, notifications), UPDATE
 *              (read_at) on notifications; SELECT on circuit_breakers; USAGE
 *              on the sequences of rule_conditions and rule_actions;
 *   worker   = USAGE on the schema; EXECUTE on the helpers and the worker
 *              entry points; SELECT and UPDATE of the queue columns (status,
 *              attempts, max_attempts, run_after, locked_by, locked_until,
 *              last_error, result, finished_at) on jobs; SELECT on channels;
 *              SELECT and INSERT on alerts (a dead job's alert), USAGE on
 *              its sequence.
 *
 * Row-level security still applies: a role bound to a tenant
 * (automation_tenant_<id>) acts for that tenant only; a worker for every
 * tenant needs BYPASSRLS, which only a superuser can give (ALTER ROLE).
 * Only the extension owner or a superuser may call grant_role (42501).
 * Returns the statements it ran, in order.
 */
CREATE FUNCTION automation.grant_role(role regrole, kind text)
RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	worker_entry constant text[] := ARRAY['claim_jobs', 'complete_job', 'complete_jobs', 'fail_job',
										  'next_job_at', 'execute_job', 'run_database_jobs'];
	c_helpers constant text[] := ARRAY['_new_workflow_id', '_form_key_parse', '_merge_token_paths',
									   '_invoker', '_breaker_state', '_breaker_reset', '_explain',
									   '_value_parses_as_owner', '_input_type'];
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
/* 99_end.sql: nothing in schema automation is granted to PUBLIC. */
REVOKE ALL ON ALL TABLES IN SCHEMA automation FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA automation FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA automation FROM PUBLIC;
