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
