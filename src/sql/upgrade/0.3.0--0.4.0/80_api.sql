-- 80_api.sql (upgrade 0.3.0 -> 0.4.0): the keys and rate limits of the HTTP
-- API (as src/sql/install/80_api.sql), and grant_role's 'api' kind (as
-- src/sql/install/75_grants.sql).

/* The login roles automation-api connects as (grant_role(role, 'api')). */
CREATE TABLE automation.api_roles (
	role name PRIMARY KEY,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE automation.api_key_store (
	id text PRIMARY KEY,
	name text NOT NULL,
	key_hash bytea NOT NULL UNIQUE,
	key_prefix text NOT NULL,		-- 'wbk_' and the first 8 hex digits, to recognise a key
	scopes text[] NOT NULL,
	role name NOT NULL,
	tenant_id text,
	expires_at timestamptz,
	rate_limit integer NOT NULL,
	created_by name NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	revoked_at timestamptz
);

SELECT pg_catalog.pg_extension_config_dump('automation.api_roles', '');
SELECT pg_catalog.pg_extension_config_dump('automation.api_key_store', '');

/* _api_scopes: the scopes a key may carry (SPEC section 13). */
CREATE FUNCTION automation._api_scopes()
RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT ARRAY['read:workflows', 'write:workflows', 'read:rules', 'write:rules', 'read:jobs']
$$;

/*
 * api_keys: the keys without their secrets.  A role sees the keys it
 * created and the keys whose role it is a member of (superusers: all).
 */
CREATE VIEW automation.api_keys AS
	SELECT k.id, k.name, k.key_prefix, k.scopes, k.role, k.tenant_id, k.expires_at,
		   k.rate_limit, k.created_by, k.created_at, k.revoked_at,
		   (k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > pg_catalog.now())) AS active
	  FROM automation.api_key_store k
	 WHERE k.created_by OPERATOR(pg_catalog.=) CURRENT_USER
		OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
					WHERE r.rolname OPERATOR(pg_catalog.=) k.role
					  AND pg_catalog.pg_has_role(CURRENT_USER, r.oid, 'MEMBER'));

/*
 * _api_role_grantable: whether an API login role may be made a member of
 * role r (create_api_key, grant_role(.., 'api')): not when r is a superuser
 * or a member of one, nor a member of the predefined roles that reach the
 * server's programs and files, which are a superuser in all but name
 * (doc/redteam-api-0.4.0.md, A2).
 */
CREATE FUNCTION automation._api_role_grantable(r oid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles s
						WHERE (s.rolsuper OR s.rolname IN ('pg_execute_server_program', 'pg_read_server_files',
														   'pg_write_server_files'))
						  AND pg_catalog.pg_has_role(r, s.oid, 'MEMBER'))
$$;

/* _api_key_json: a key as the API shows it (no secret). */
CREATE FUNCTION automation._api_key_json(k automation.api_key_store)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.jsonb_build_object(
		'id', k.id, 'name', k.name, 'key_prefix', k.key_prefix, 'scopes', pg_catalog.to_jsonb(k.scopes),
		'role', k.role, 'tenant_id', k.tenant_id, 'expires_at', automation._iso(k.expires_at),
		'rate_limit', k.rate_limit, 'created_by', k.created_by,
		'created_at', automation._iso(k.created_at), 'revoked_at', automation._iso(k.revoked_at),
		'active', k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > pg_catalog.now()))
$$;

/*
 * create_api_key: a new key for the HTTP API.  The key itself is in the
 * result only; it cannot be shown again.
 */
CREATE FUNCTION automation.create_api_key(name text, scopes text[], role regrole DEFAULT NULL,
	tenant_id text DEFAULT NULL, expires_at timestamptz DEFAULT NULL, rate_limit integer DEFAULT 600)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	creator constant name := automation._invoker();
	run_as name;
	api name;
	r record;
	s text;
	secret text;
	k automation.api_key_store;
BEGIN
	IF name IS NULL OR length(name) < 1 OR length(name) > 120 THEN
		PERFORM automation._err('22023', 'name must be 1 to 120 characters',
								format('name was %s', automation._show(name)), NULL);
	END IF;
	IF scopes IS NULL OR cardinality(scopes) = 0 THEN
		PERFORM automation._err('22023', 'scopes must name at least one scope', NULL,
								'scopes are ' || array_to_string(automation._api_scopes(), ', '));
	END IF;
	FOREACH s IN ARRAY scopes LOOP
		IF s IS NULL OR NOT s = ANY (automation._api_scopes()) THEN
			PERFORM automation._err('22023', format('invalid scope %s', automation._show(s)),
									format('scopes were %s', automation._show(scopes::text)),
									'scopes are ' || array_to_string(automation._api_scopes(), ', '));
		END IF;
	END LOOP;
	SELECT rl.rolname, rl.rolsuper, rl.oid INTO r FROM pg_catalog.pg_roles rl
	 WHERE rl.oid = coalesce(create_api_key.role::oid, (SELECT x.oid FROM pg_catalog.pg_roles x WHERE x.rolname = creator));
	IF NOT FOUND THEN
		PERFORM automation._err('22023', 'role does not exist', format('role was %s', create_api_key.role::oid), NULL);
	END IF;
	run_as := r.rolname;
	IF NOT pg_catalog.pg_has_role(creator, r.oid, 'MEMBER') THEN
		PERFORM automation._err('42501', format('role %s may not create a key for role %s', creator, run_as),
								format('%s is not a member of %s', creator, run_as),
								'a key runs as a role its creator is a member of');
	END IF;
	IF EXISTS (SELECT 1 FROM automation.api_roles a WHERE a.role = run_as) THEN
		PERFORM automation._err('42501', format('a key may not run as the API login role %s', run_as),
								NULL, 'the login role of automation-api only switches to keys'' roles');
	END IF;
	IF tenant_id IS NOT NULL AND (length(tenant_id) < 1 OR tenant_id !~ '^[A-Za-z0-9._-]{1,128}$') THEN
		PERFORM automation._err('22023', 'tenant_id must be 1 to 128 characters of A-Z, a-z, 0-9, ".", "_" or "-"',
								format('tenant_id was %s', automation._show(tenant_id)), NULL);
	END IF;
	IF expires_at IS NOT NULL AND expires_at <= now() THEN
		PERFORM automation._err('22023', 'expires_at must be in the future',
								format('expires_at was %s', automation._iso(expires_at)), NULL);
	END IF;
	IF rate_limit IS NULL OR rate_limit < 1 OR rate_limit > 1000000 THEN
		PERFORM automation._err('22023', 'rate_limit must be from 1 to 1000000 requests per minute',
								format('rate_limit was %s', coalesce(rate_limit::text, 'null')), NULL);
	END IF;
	secret := 'wbk_' || replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '');
	INSERT INTO automation.api_key_store (id, name, key_hash, key_prefix, scopes, role, tenant_id,
										  expires_at, rate_limit, created_by)
	VALUES ('ak_' || substr(automation._new_workflow_id(), 4), create_api_key.name,
			sha256(convert_to(secret, 'UTF8')), substr(secret, 1, 12),
			ARRAY(SELECT DISTINCT x FROM unnest(scopes) x ORDER BY x), run_as,
			create_api_key.tenant_id, create_api_key.expires_at, create_api_key.rate_limit, creator)
	RETURNING * INTO k;
	/* every API login role may SET ROLE to it: the membership SET ROLE needs (never a superuser's,
	   nor one that reaches a superuser's rights: _api_role_grantable) */
	FOR api IN SELECT a.role FROM automation.api_roles a
				WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_roles x WHERE x.rolname = a.role)
				  AND automation._api_role_grantable(r.oid)
				ORDER BY a.role LOOP
		IF NOT pg_catalog.pg_has_role(api, run_as, 'MEMBER') THEN
			EXECUTE format('GRANT %I TO %I', run_as, api);
		END IF;
	END LOOP;
	RETURN jsonb_build_object('id', k.id, 'key', secret) || automation._api_key_json(k);
END
$$;

/*
 * revoke_api_key: the key stops working on its next request.  Its creator,
 * a member of its role, or a superuser may revoke it; to anyone else it does
 * not exist (P0002).  Revoking twice is no error.
 */
CREATE FUNCTION automation.revoke_api_key(id text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	caller constant name := automation._invoker();
	k automation.api_key_store;
BEGIN
	SELECT * INTO k FROM automation.api_key_store s WHERE s.id = revoke_api_key.id FOR UPDATE;
	IF NOT FOUND OR NOT (k.created_by = caller
						 OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
									 WHERE r.rolname = k.role AND pg_catalog.pg_has_role(caller, r.oid, 'MEMBER'))) THEN
		PERFORM automation._err('P0002', format('api key %s not found', automation._show(id)),
								NULL, 'see automation.api_keys');
	END IF;
	UPDATE automation.api_key_store s SET revoked_at = coalesce(s.revoked_at, now())
	 WHERE s.id = k.id RETURNING * INTO k;
	RETURN automation._api_key_json(k);
END
$$;

/*
 * _api_authenticate: the first statement of every authenticated request of
 * automation-api.  outcome: 'ok', 'invalid_key' (missing, unknown, revoked,
 * expired, its role gone or no longer one of its creator's),
 * 'rate_limited', 'insufficient_permissions' (scope), 'tenant_forbidden'
 * (the tenant header names another tenant than the key's).  A known key
 * takes a token from its bucket first, whatever the outcome, and reports
 * its limit.  A request without a valid key takes a token from its
 * client's bucket ('anon:' || client, anonymous_limit per minute; none
 * when client is NULL or the limit 0): a client guessing keys is slowed
 * down to 429s, and its 401s carry rate-limit headers too.  tenant_id:
 * the key's tenant, else the header's (NULL: none).
 */
CREATE FUNCTION automation._api_authenticate(key text, scope text, tenant text,
	client text DEFAULT NULL, anonymous_limit integer DEFAULT 0, OUT outcome text, OUT key_id text, OUT role name, OUT tenant_id text,
	OUT rate_limit integer, OUT remaining integer, OUT reset_seconds integer, OUT retry_after integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k automation.api_key_store;
	b record;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM automation.api_roles a WHERE a.role = automation._invoker())
	   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r, pg_catalog.pg_extension e
						WHERE r.rolname = automation._invoker() AND e.extname = 'automation'
						  AND (r.rolsuper OR r.oid = e.extowner)) THEN
		PERFORM automation._err('42501', 'permission denied for function automation._api_authenticate',
								format('role %s is not an API login role', automation._invoker()),
								'the extension owner runs automation.grant_role(role, ''api'')');
	END IF;
	outcome := 'invalid_key';
	/* 'wbk_' and 64 hex digits; {64} in the pattern costs 8 times the length test */
	IF key IS NOT NULL AND length(key) = 68 AND key ~ '^wbk_[0-9a-f]*$' THEN
		SELECT * INTO k FROM automation.api_key_store s WHERE s.key_hash = sha256(convert_to(key, 'UTF8'));
	END IF;
	/* the role must still exist and be one its creator may still use */
	IF k.id IS NULL OR k.revoked_at IS NOT NULL OR k.expires_at <= clock_timestamp()
	   OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r, pg_catalog.pg_roles c
					   WHERE r.rolname = k.role AND c.rolname = k.created_by
						 AND pg_catalog.pg_has_role(c.oid, r.oid, 'MEMBER')) THEN
		IF client IS NOT NULL AND anonymous_limit > 0 THEN
			SELECT * INTO b FROM automation._ratelimit_take('anon:' || left(client, 58), anonymous_limit);
			rate_limit := anonymous_limit;
			remaining := b.remaining;
			reset_seconds := b.reset_seconds;
			retry_after := b.retry_after;
			IF NOT b.allowed THEN
				outcome := 'rate_limited';
			END IF;
		END IF;
		RETURN;
	END IF;
	key_id := k.id;
	role := k.role;
	rate_limit := k.rate_limit;
	SELECT * INTO b FROM automation._ratelimit_take(k.id, k.rate_limit);
	remaining := b.remaining;
	reset_seconds := b.reset_seconds;
	retry_after := b.retry_after;
	IF NOT b.allowed THEN
		outcome := 'rate_limited';
	ELSIF scope IS NOT NULL AND NOT scope = ANY (k.scopes) THEN
		outcome := 'insufficient_permissions';
	ELSIF k.tenant_id IS NOT NULL AND nullif(tenant, '') IS DISTINCT FROM NULL AND tenant <> k.tenant_id THEN
		outcome := 'tenant_forbidden';
	ELSE
		tenant_id := coalesce(k.tenant_id, nullif(tenant, ''));
		outcome := 'ok';
	END IF;
END
$$;

CREATE FUNCTION automation._ratelimit_take(key_id text, rate_limit integer,
	OUT allowed boolean, OUT remaining integer, OUT reset_seconds integer, OUT retry_after integer)
	LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'automation_ratelimit_take';

/* grant_role: the 'api' kind, SELECT on api_keys for admins */
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
	api record;
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
	IF kind IS NULL OR kind NOT IN ('admin', 'worker', 'api') THEN
		PERFORM automation._err('22023', format('invalid kind %s', automation._show(kind)),
								NULL, 'use ''admin'' (definitions), ''worker'' (the queue) or ''api'' (automation-api''s login role)');
	END IF;
	IF kind = 'api' THEN
		SELECT rl.rolname, rl.rolsuper INTO api FROM pg_catalog.pg_roles rl WHERE rl.oid = role;
		IF api.rolsuper THEN
			PERFORM automation._err('22023', format('the API login role %s must not be a superuser', api.rolname),
									NULL, 'create a role of its own: CREATE ROLE automation_api LOGIN');
		END IF;
		stmts := stmts || format('GRANT USAGE ON SCHEMA automation TO %s', role);
		stmts := stmts || format('GRANT EXECUTE ON FUNCTION automation._api_authenticate(text, text, text, text, integer) TO %s', role);
		stmts := stmts || format('ALTER ROLE %s NOINHERIT', role);
		stmts := stmts || format('INSERT INTO automation.api_roles (role) VALUES (%L) ON CONFLICT DO NOTHING', api.rolname);
		FOR api IN SELECT DISTINCT k.role FROM automation.api_key_store k
				  WHERE k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
					AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles x WHERE x.rolname = k.role
							   AND automation._api_role_grantable(x.oid))
					AND NOT pg_catalog.pg_has_role(grant_role.role, k.role, 'MEMBER')
				  ORDER BY k.role LOOP
			stmts := stmts || format('GRANT %I TO %s', api.role, role);
		END LOOP;
		FOREACH s IN ARRAY stmts LOOP
			EXECUTE s;
		END LOOP;
		RETURN stmts;
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
		stmts := stmts || format('GRANT SELECT ON automation.circuit_breakers, automation.api_keys TO %s', role);
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

REVOKE ALL ON automation.api_roles, automation.api_key_store, automation.api_keys FROM PUBLIC;
REVOKE ALL ON FUNCTION automation._api_scopes(), automation._api_role_grantable(oid),
	automation._api_key_json(automation.api_key_store),
	automation.create_api_key(text, text[], regrole, text, timestamptz, integer),
	automation.revoke_api_key(text), automation._api_authenticate(text, text, text, text, integer),
	automation._ratelimit_take(text, integer) FROM PUBLIC;
