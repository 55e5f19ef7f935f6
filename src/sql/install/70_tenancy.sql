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
 * Restates the breaker's UTC day (breaker.c) and the cooldown window
 * (COOLDOWN_WINDOW, enqueue.c): change them together (doc/CONTRACTS.md).
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
