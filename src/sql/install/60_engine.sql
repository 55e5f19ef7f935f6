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

/* NOTIFY transactions sent by the wake-up notifiers (wakeup.c), for tests. */
CREATE FUNCTION automation._wakeups_sent() RETURNS bigint
	LANGUAGE c AS 'MODULE_PATHNAME', 'automation_wakeups_sent';
