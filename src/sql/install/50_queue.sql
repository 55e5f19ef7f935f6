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
	known constant text[] := automation._job_action_types();
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
