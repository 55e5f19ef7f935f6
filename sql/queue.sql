-- queue: the queue protocol (SPEC section 7): claim_jobs, complete_job,
-- fail_job, next_job_at; leases, backoff, dead jobs and their alerts, input
-- validation, and the partial indexes claiming uses under a long history.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS automation CASCADE;
CREATE EXTENSION automation;
RESET client_min_messages;
CREATE SCHEMA queue;
SET search_path = queue, public;
\set SHOW_CONTEXT never
-- try(q): the error's SQLSTATE, message, detail and hint, or 'ok'.
\set try_style verbose
\i sql/include/helpers.sql
-- mk(type, delay): a job of that type due after delay; returns its id.
CREATE FUNCTION mk(t text, delay interval DEFAULT '0', max_attempts int DEFAULT 5)
RETURNS bigint LANGUAGE sql AS $$
	INSERT INTO automation.jobs (source, workflow_id, action_type, entity, record_key,
								 payload, run_after, max_attempts, run_as)
	VALUES ('workflow', 'wf_test', t, 'deal', '1',
			'{"event": {}, "config": {"url": "http://example.com/"}}',
			now() + delay, max_attempts, 'postgres')
	RETURNING id
$$;
SELECT mk('webhook', '-3 seconds') AS a, mk('send_email', '-2 seconds') AS b,
	   mk('webhook', '-1 seconds') AS c, mk('webhook', '1 hour') AS later \gset
-- claims the due jobs in run_after order, at most max_jobs
SELECT id = :a AS is_a, status, attempts, locked_by,
	   locked_until - now() = interval '30 seconds' AS lease_30s
  FROM automation.claim_jobs('w1', 2, '30 seconds') ORDER BY id;
-- the next claim gets the remaining due job only, not the future one
SELECT id = :c AS is_c FROM automation.claim_jobs('w2');
SELECT count(*) FROM automation.claim_jobs('w2');
-- the earliest claimable moment is the future job's run_after or a lease end
SELECT automation.next_job_at() = (SELECT min(locked_until) FROM automation.jobs WHERE status = 'running');
SELECT automation.next_job_at(ARRAY['send_email']) = (SELECT locked_until FROM automation.jobs WHERE id = :b);
-- complete: true once, then false (idempotent)
SELECT automation.complete_job(:a, '{"status": 200}');
SELECT automation.complete_job(:a);
SELECT status, result, finished_at IS NOT NULL AS finished, locked_until FROM automation.jobs WHERE id = :a;
-- fail, retryable: queued again after the backoff (10 s +/- 25 % on attempt 1);
-- one transaction, so now() is the failure's time however slow the machine
BEGIN;
SELECT automation.fail_job(:c, 'HTTP 503');
SELECT status, last_error, attempts, locked_until,
	   run_after - now() BETWEEN interval '7.5 seconds' AND interval '12.5 seconds' AS backoff_ok
  FROM automation.jobs WHERE id = :c;
COMMIT;
-- the backoff doubles per attempt and is capped at 1 hour (+/- 25 %)
SELECT n, bool_and(d BETWEEN lo AND hi) AS within
  FROM (SELECT n, automation._retry_delay(n) AS d,
			   least(interval '1 hour', interval '10 s' * 2 ^ (n - 1)) * 0.75 AS lo,
			   least(interval '1 hour', interval '10 s' * 2 ^ (n - 1)) * 1.25 AS hi
		  FROM generate_series(1, 12) n, generate_series(1, 50)) s
 GROUP BY n ORDER BY n;
-- jitter: 200 draws are not all the same
SELECT count(DISTINCT automation._retry_delay(3)) > 100 AS jittered FROM generate_series(1, 200);
-- a failed job is not claimable until its run_after
SELECT count(*) FROM automation.claim_jobs('w3', 10, '30 seconds', ARRAY['webhook']);
-- Retry-After is honoured instead of the backoff
UPDATE automation.jobs SET run_after = now() - interval '1 second' WHERE id = :c;
SELECT id = :c AS is_c, attempts FROM automation.claim_jobs('w3', 10, '30 seconds', ARRAY['webhook']);
BEGIN;
SELECT automation.fail_job(:c, 'HTTP 429', true, '2 minutes');
SELECT run_after - now() = interval '120 seconds' AS retry_after_honoured FROM automation.jobs WHERE id = :c;
COMMIT;
SELECT try(format('SELECT automation.fail_job(%s, %L)', :c, 'again'));
-- not retryable: dead at once, with one alert
UPDATE automation.jobs SET run_after = now() WHERE id = :c;
SELECT count(*) FROM automation.claim_jobs('w3', 10, '30 seconds', ARRAY['webhook']);
SELECT automation.fail_job(:c, 'HTTP 400: bad request', false);
SELECT status, attempts, last_error, finished_at IS NOT NULL AS finished FROM automation.jobs WHERE id = :c;
SELECT kind, job_id = :c AS is_c, workflow_id, message, details->>'attempts' AS attempts
  FROM automation.alerts ORDER BY id;
-- the last attempt failing: dead even when retryable
SELECT mk('webhook', '-1 second', 2) AS d \gset
SELECT attempts FROM automation.claim_jobs('w4', 1, '30 seconds', ARRAY['webhook']);
SELECT automation.fail_job(:d, 'timeout');
UPDATE automation.jobs SET run_after = now() WHERE id = :d;
SELECT attempts FROM automation.claim_jobs('w4', 1, '30 seconds', ARRAY['webhook']);
SELECT automation.fail_job(:d, 'timeout');
SELECT count(*) AS alerts FROM automation.alerts WHERE job_id = :d;
-- an expired lease makes a job claimable again, by another worker
SELECT locked_by FROM automation.jobs WHERE id = :b;
UPDATE automation.jobs SET locked_until = now() - interval '1 second' WHERE id = :b;
SELECT id = :b AS is_b, locked_by, attempts FROM automation.claim_jobs('w5');
-- a late completion by the first worker still counts (the delivery happened)
SELECT automation.complete_job(:b);
-- an expired lease on the last attempt: dead with an alert, not claimed
SELECT mk('webhook', '-1 second', 1) AS e \gset
SELECT count(*) FROM automation.claim_jobs('w6', 1, '30 seconds', ARRAY['webhook']);
UPDATE automation.jobs SET locked_until = now() - interval '1 second' WHERE id = :e;
SELECT count(*) FROM automation.claim_jobs('w7');
SELECT status, last_error FROM automation.jobs WHERE id = :e;
SELECT count(*) AS alerts FROM automation.alerts WHERE job_id = :e;
-- the alert is raised once, however often it is asked for
SELECT automation._job_dead_alert(:e) IS NULL AS no_second_alert;
-- complete_jobs: many at once, only the running ones, results by position
SELECT mk('webhook', '-1 second') AS g1, mk('webhook', '-1 second') AS g2 \gset
SELECT count(*) FROM automation.claim_jobs('w9', 2, '30 seconds', ARRAY['webhook']);
SELECT * FROM automation.complete_jobs(ARRAY[:g1, :g2, :a, 999999], ARRAY['{"n": 1}', '{"n": 2}', NULL, NULL]::jsonb[]) ORDER BY 1;
SELECT id = :g1 AS is_g1, status, result FROM automation.jobs WHERE id IN (:g1, :g2) ORDER BY id;
SELECT try('SELECT automation.complete_jobs(NULL)');
SELECT try('SELECT automation.complete_jobs(ARRAY[1, 2], ARRAY[NULL]::jsonb[])');
-- completing or failing a job that is not running
SELECT try(format('SELECT automation.complete_job(%s)', :c));
SELECT try(format('SELECT automation.fail_job(%s, %L)', :later, 'x'));
SELECT try('SELECT automation.complete_job(999999)');
SELECT try('SELECT automation.fail_job(999999, ''x'')');
SELECT try('SELECT automation.complete_job(NULL)');
-- validation
SELECT try('SELECT automation.claim_jobs('''')');
SELECT try('SELECT automation.claim_jobs(NULL)');
SELECT try('SELECT automation.claim_jobs(''w'', 0)');
SELECT try('SELECT automation.claim_jobs(''w'', 10001)');
SELECT try('SELECT automation.claim_jobs(''w'', 1, ''0 seconds'')');
SELECT try('SELECT automation.claim_jobs(''w'', 1, ''2 days'')');
SELECT try('SELECT automation.claim_jobs(''w'', 1, ''1 minute'', ''{}'')');
SELECT try('SELECT automation.claim_jobs(''w'', 1, ''1 minute'', ''{webhook,WEBHOOK}'')');
SELECT try('SELECT automation.claim_jobs(''w'', 1, ''1 minute'', ''{NULL}'')');
SELECT mk('notify', '-1 second') AS f \gset
SELECT count(*) FROM automation.claim_jobs('w8', 1, '1 minute', ARRAY['notify']);
SELECT try(format('SELECT automation.fail_job(%s, %L, NULL)', :f, 'x'));
SELECT try(format('SELECT automation.fail_job(%s, %L, true, %L)', :f, 'x', '-1 second'));
-- an empty error is recorded as such, not as an empty string
SELECT automation.fail_job(:f, '  ');
SELECT last_error FROM automation.jobs WHERE id = :f;
-- nothing is granted to PUBLIC; a worker role needs explicit grants
SELECT p.oid::regprocedure
  FROM pg_proc p
 WHERE p.pronamespace = 'automation'::regnamespace
   AND p.proname IN ('claim_jobs', 'complete_job', 'complete_jobs', 'fail_job', 'next_job_at')
   AND has_function_privilege('public', p.oid, 'EXECUTE');
-- a long history: claiming reads only the partial indexes
INSERT INTO automation.jobs (source, action_type, entity, payload, status, run_as,
							 created_at, finished_at)
SELECT 'workflow', 'webhook', 'deal', '{}', 'succeeded', 'postgres',
	   now() - interval '1 day', now() - interval '1 day'
  FROM generate_series(1, 100000);
ANALYZE automation.jobs;
EXPLAIN (COSTS OFF)
SELECT j.id FROM automation.jobs j
 WHERE j.status = 'queued' AND j.run_after <= now()
 ORDER BY j.run_after, j.id LIMIT 10 FOR UPDATE SKIP LOCKED;
EXPLAIN (COSTS OFF)
SELECT j.id FROM automation.jobs j
 WHERE j.status = 'running' AND j.locked_until < now() AND j.attempts < j.max_attempts
 ORDER BY j.locked_until LIMIT 10 FOR UPDATE SKIP LOCKED;
-- and the function itself is fast: 100 claims of an empty queue
DO $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
	FOR i IN 1..100 LOOP
		PERFORM automation.claim_jobs('bench', 10, '1 minute', ARRAY['create_task']);
	END LOOP;
	IF clock_timestamp() - t0 > interval '2 seconds' THEN
		RAISE EXCEPTION 'claim_jobs too slow: % for 100 calls', clock_timestamp() - t0;
	END IF;
END $$;
SET client_min_messages = warning;
DROP SCHEMA queue CASCADE;
DROP EXTENSION automation CASCADE;
