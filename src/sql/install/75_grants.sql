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
 *              _explain, _backtest, _enroll); never _execute_as, _check_preload, _wakeups_sent,
 *              a trigger function or a SECURITY DEFINER internal function;
 *   worker entry points = claim_jobs, complete_job, complete_jobs,
 *              fail_job, next_job_at, execute_job, run_database_jobs;
 *   admin    = USAGE on the schema; EXECUTE on the helpers and on every
 *              other public function; SELECT on api_keys; SELECT, INSERT, UPDATE, DELETE on the
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
 *              its sequence;
 *   api      = the login role of automation-api (80_api.sql): USAGE on the
 *              schema, EXECUTE on _api_authenticate only; the role is made
 *              NOINHERIT, recorded in automation.api_roles, and made a
 *              member of the role of every key not revoked (create_api_key
 *              does the same for later keys), so it may SET ROLE to them
 *              but holds none of their privileges otherwise.
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
