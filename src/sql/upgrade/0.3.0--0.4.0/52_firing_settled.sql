
-- 52_firing_settled: when a firing may be deleted is one function, asked by
-- prune() and by the DELETE policy firings_settled (0.3.0's prune, run as
-- the owner, deleted firings inside a rule's cooldown window).
/*
 * _firing_settled: may this firing be deleted without changing what the
 * engine decides?  Not while it counts: a firing of today's UTC day (the
 * breakers are rebuilt from them after a restart, breaker.c) or one inside
 * its rule's cooldown window (COOLDOWN_WINDOW, enqueue.c).  Asked by prune()
 * and by the restrictive DELETE policy firings_settled (70_tenancy.sql):
 * one spelling in SQL; the engine's own cooldown query is a saved plan on the
 * md5(record_key) index and names this function (doc/CONTRACTS.md).
 * SECURITY INVOKER: it reads the rules the deleting role may read.
 */
CREATE FUNCTION automation._firing_settled(fired_at timestamptz, rule_id uuid)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT $1 < pg_catalog.date_trunc('day', pg_catalog.now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
	   AND NOT EXISTS (SELECT 1 FROM automation.rules r
						WHERE r.id = $2 AND r.cooldown_hours > 0
						  AND $1 > pg_catalog.now() - pg_catalog.make_interval(hours => r.cooldown_hours))
$$;
REVOKE ALL ON FUNCTION automation._firing_settled(timestamptz, uuid) FROM PUBLIC;

-- the roles grant_role made admins may ask it (their prune, the policy)
DO $$
DECLARE r record;
BEGIN
	FOR r IN SELECT DISTINCT a.rolname
			   FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) x, pg_catalog.pg_roles a
			  WHERE c.oid = 'automation.firings'::regclass AND x.privilege_type = 'DELETE'
				AND a.oid = x.grantee AND a.oid <> c.relowner
	LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION automation._firing_settled(timestamptz, uuid) TO %I', r.rolname);
	END LOOP;
END
$$;

ALTER POLICY firings_settled ON automation.firings
	USING (automation._firing_settled(fired_at, rule_id));

/*
 * prune: delete finished jobs and history older than older_than.  Firings of
 * the current UTC day are kept: the breakers are rebuilt from them.  So is
 * the newest 'fired' firing of each definition (per tenant of the firing):
 * last_triggered_at is the time of the last committed firing and survives
 * prune (SPEC section 4) and dump/restore (firings are dumped), read from
 * the table like every other firing, and no firing writes anything more.
 * (0.4.0; before, prune('7 days') showed a workflow that fired 10 days ago
 * as never triggered.)
 */
CREATE OR REPLACE FUNCTION automation.prune(older_than interval)
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
	/* an anti-join on a materialized set: hashed, and spills to disk if it must */
	WITH newest AS MATERIALIZED (
		SELECT DISTINCT ON (k.workflow_id, k.rule_id, k.tenant_id) k.id
		  FROM automation.firings k
		 WHERE k.outcome = 'fired'
		   AND (EXISTS (SELECT 1 FROM automation.workflows w WHERE w.id = k.workflow_id)
				OR EXISTS (SELECT 1 FROM automation.rules r WHERE r.id = k.rule_id))
		 ORDER BY k.workflow_id, k.rule_id, k.tenant_id, k.fired_at DESC, k.id DESC)
	DELETE FROM automation.firings f
	 WHERE f.fired_at < cutoff
	   AND automation._firing_settled(f.fired_at, f.rule_id)
	   AND NOT EXISTS (SELECT 1 FROM newest n WHERE n.id = f.id);
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
