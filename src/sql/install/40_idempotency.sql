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
