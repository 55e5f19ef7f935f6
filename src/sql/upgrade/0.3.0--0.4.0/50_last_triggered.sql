/*
 * 50_last_triggered.sql: last_triggered_at survives prune (SPEC section 4).
 * prune() keeps the newest 'fired' firing of each definition (per tenant of
 * the firing); last_triggered_at stays what it was, derived from the
 * firings, and the trigger writes nothing more per firing.
 * Same function as in src/sql/install/60_engine.sql.
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
	 WHERE f.fired_at < least(cutoff, date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
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
