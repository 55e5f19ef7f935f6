/*
 * queue.c: the worker's side of the queue protocol, over one libpq
 * connection: LISTEN automation_jobs, claim_jobs, complete_job / fail_job in
 * batches, execute_job for database actions, next_job_at for the poll timer.
 *
 * Invariants:
 *   - any failure that leaves the connection unusable closes it; the caller
 *     reconnects with backoff and nothing claimed is forgotten: outcomes not
 *     yet recorded stay in the caller's list;
 *   - an outcome the database rejects (job no longer running, gone) is
 *     logged and dropped: someone else owns that job now.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "worker.h"

static PGconn *conn = NULL;

/*
 * The claim: the job's config (without body) for the worker to parse, the
 * request body rendered by the database (so numbers keep their precision),
 * and the channel of a channel message: the channel of that name of the
 * definition's tenant, else the global one (a global definition firing on a
 * tenant's row sends to global channels only).  Jobs enqueued before 0.2.0
 * carry no definition_tenant_id: the job's tenant stands in (0.1.0 channel
 * names were unique, so it finds the same channel).
 */
static const char *const claim_sql =
"SELECT j.id, j.action_type, j.attempts, j.max_attempts, j.idempotency_key,\n"
"       CASE WHEN j.action_type = 'webhook' AND jsonb_typeof(j.payload->'config') = 'object'\n"
"            THEN (j.payload->'config') - 'body' ELSE j.payload->'config' END::text,\n"
"       CASE WHEN j.action_type = 'send_channel_message' THEN j.payload::text\n"
"            WHEN jsonb_typeof(j.payload->'config'->'body') = 'string'\n"
"            THEN j.payload->'config'->>'body'\n"
"            WHEN jsonb_typeof(j.payload->'config') = 'object' AND j.payload->'config' ? 'body'\n"
"            THEN (j.payload->'config'->'body')::text\n"
"            ELSE jsonb_build_object('event', j.payload->'event', 'new', j.payload->'new',\n"
"                                    'old', j.payload->'old')::text END,\n"
"       coalesce(jsonb_typeof(j.payload->'config'->'body') = 'string', false),\n"
"       c.format, c.url, j.locked_until::text\n"
"  FROM automation.claim_jobs($1, $2::integer, $3::interval, $4::text[]) j\n"
"  LEFT JOIN LATERAL (SELECT c.format, c.url FROM automation.channels c\n"
"                     WHERE j.action_type = 'send_channel_message'\n"
"                       AND c.name = j.payload->'config'->>'channel'\n"
"                       AND (c.tenant_id IS NULL OR c.tenant_id =\n"
"                            CASE WHEN j.payload->'event' ? 'definition_tenant_id'\n"
"                                 THEN j.payload->'event'->>'definition_tenant_id' ELSE j.tenant_id END)\n"
"                     ORDER BY c.tenant_id IS NULL LIMIT 1) c ON true\n"
" ORDER BY j.id";

static const char *const complete_sql =
"SELECT c::text, 'succeeded' FROM automation.complete_jobs(\n"
"       (SELECT array_agg((e->>'id')::bigint ORDER BY n) FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY x(e, n)),\n"
"       (SELECT array_agg(e->'result' ORDER BY n) FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY x(e, n))) c";

static const char *const fail_sql =
"SELECT (e->>'id')::bigint, automation.fail_job((e->>'id')::bigint, e->>'error',\n"
"       (e->>'retryable')::boolean, (e->>'retry_after')::interval)\n"
"  FROM jsonb_array_elements($1::jsonb) e";

/*
 * The hand-back of claimed jobs the worker did not start (their lease was
 * too short, main.c): queued again at once, the attempt counted at claim
 * refunded.  Only while the job is still under this very lease (locked_by
 * and locked_until unchanged): a job another worker claimed after the lease
 * ended is left alone.  A plain UPDATE of the queue columns a worker role
 * may update (grant_role), so it works with every installed version of the
 * extension; the jobs guard does not fire (no identity column changes).
 * Other workers are woken as for a new job.
 */
static const char *const release_sql =
"WITH released AS (\n"
"  UPDATE automation.jobs j\n"
"     SET status = 'queued', attempts = greatest(j.attempts - 1, 0),\n"
"         run_after = now(), locked_until = NULL\n"
"    FROM jsonb_to_recordset($2::jsonb) AS r(id bigint, locked_until timestamptz)\n"
"   WHERE j.id = r.id AND j.status = 'running' AND j.locked_by = $1\n"
"     AND j.locked_until = r.locked_until\n"
"  RETURNING j.id, j.action_type)\n"
"SELECT id, pg_notify('automation_jobs', action_type) FROM released";

/* queue_connected: whether the connection is up. */
bool
queue_connected(void)
{
	return conn != NULL;
}

/* queue_socket: the connection's socket, -1 when down. */
int
queue_socket(void)
{
	return conn ? PQsocket(conn) : -1;
}

/* queue_disconnect: drop the connection (after an error or at exit). */
void
queue_disconnect(void)
{
	if (conn)
		PQfinish(conn);
	conn = NULL;
}

/* check_connection: after a failed command, drop a broken connection. */
static void
check_connection(void)
{
	if (conn && PQstatus(conn) != CONNECTION_OK)
	{
		log_error("database connection lost: %s", PQerrorMessage(conn));
		queue_disconnect();
	}
}

/* queue_connect: connect, LISTEN, prepare.  false (and logged) on failure. */
bool
queue_connect(void)
{
	const char *keywords[] = {"fallback_application_name", "connect_timeout", "dbname", NULL};
	const char *values[] = {"automation-worker", "5", options.conninfo, NULL};
	PGresult   *res;

	if (options.conninfo == NULL)
		keywords[2] = NULL;
	conn = PQconnectdbParams(keywords, values, 1);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		log_error("cannot connect to the database: %s", PQerrorMessage(conn));
		queue_disconnect();
		return false;
	}
	res = PQexec(conn, "SET application_name = 'automation-worker'; LISTEN automation_jobs");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto fail;
	PQclear(res);
	res = PQprepare(conn, "claim", claim_sql, 4, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto fail;
	PQclear(res);
	res = PQprepare(conn, "complete", complete_sql, 1, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto fail;
	PQclear(res);
	res = PQprepare(conn, "fail", fail_sql, 1, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto fail;
	PQclear(res);
	res = PQprepare(conn, "release", release_sql, 2, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto fail;
	PQclear(res);
	PQsetnonblocking(conn, 0);
	log_info("connected to the database (server %d), listening on automation_jobs",
			 PQserverVersion(conn));
	return true;

fail:
	log_error("cannot set up the database session: %s", PQerrorMessage(conn));
	PQclear(res);
	queue_disconnect();
	return false;
}

/* type_is_wanted: whether --types admits an action type. */
static bool
type_is_wanted(const char *type)
{
	if (options.types == NULL)
		return true;
	for (char **t = options.types; *t; t++)
		if (strcmp(*t, type) == 0)
			return true;
	return false;
}

/*
 * queue_consume_notifications: read what the server sent; true when a
 * notification for a wanted action type arrived.
 */
bool
queue_consume_notifications(void)
{
	PGnotify   *n;
	bool		wake = false;

	if (conn == NULL)
		return false;
	if (!PQconsumeInput(conn))
	{
		check_connection();
		return false;
	}
	while ((n = PQnotifies(conn)) != NULL)
	{
		if (n->extra == NULL || n->extra[0] == '\0' || type_is_wanted(n->extra))
			wake = true;
		PQfreemem(n);
	}
	return wake;
}

/* types_literal: --types as a text[] literal, or NULL. */
static char *
types_literal(void)
{
	size_t		len = 3;
	char	   *out;

	if (options.types == NULL)
		return NULL;
	for (char **t = options.types; *t; t++)
		len += strlen(*t) + 1;
	out = malloc(len);
	strcpy(out, "{");
	for (char **t = options.types; *t; t++)
	{
		if (t != options.types)
			strcat(out, ",");
		strcat(out, *t);
	}
	strcat(out, "}");
	return out;
}

/* dup_or_null: a copy of a result value, NULL for SQL NULL. */
static char *
dup_or_null(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

/*
 * queue_claim: claim up to max_jobs; returns the jobs (a list) and their
 * count, or NULL with *count = -1 when the database failed.
 */
Job *
queue_claim(int max_jobs, int *count)
{
	char		max_text[16];
	char		lease_text[32];
	char	   *types = types_literal();
	const char *params[4];
	PGresult   *res;
	Job		   *head = NULL,
			  **tail = &head;
	double		sent_ms = now_ms();	/* the lease starts later, at the database */

	snprintf(max_text, sizeof(max_text), "%d", max_jobs);
	snprintf(lease_text, sizeof(lease_text), "%d seconds", options.lease_seconds);
	params[0] = options.worker_id;
	params[1] = max_text;
	params[2] = lease_text;
	params[3] = types;
	res = PQexecPrepared(conn, "claim", 4, params, NULL, NULL, 0);
	free(types);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		log_error("claim_jobs failed: %s", PQerrorMessage(conn));
		PQclear(res);
		check_connection();
		*count = -1;
		return NULL;
	}
	*count = PQntuples(res);
	for (int i = 0; i < *count; i++)
	{
		Job		   *job = calloc(1, sizeof(Job));

		job->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		job->action_type = strdup(PQgetvalue(res, i, 1));
		job->vocab = vocab_action(job->action_type);
		job->attempt = atoi(PQgetvalue(res, i, 2));
		job->max_attempts = atoi(PQgetvalue(res, i, 3));
		job->idempotency_key = strdup(PQgetvalue(res, i, 4));
		job->config_json = dup_or_null(res, i, 5);
		job->body = dup_or_null(res, i, 6);
		job->body_is_text = PQgetvalue(res, i, 7)[0] == 't';
		job->channel_format = dup_or_null(res, i, 8);
		job->channel_url = dup_or_null(res, i, 9);
		job->locked_until = dup_or_null(res, i, 10);
		job->lease_deadline_ms = sent_ms + options.lease_seconds * 1000.0;
		if (job->config_json == NULL)
			job->config_json = strdup("null");
		*tail = job;
		tail = &job->next;
	}
	PQclear(res);
	return head;
}

/* json_text: a JSON string of s; non-UTF-8 bytes become '?'. */
static json_t *
json_text(const char *s)
{
	json_t	   *j = json_string(s);
	char	   *copy;

	if (j != NULL)
		return j;
	copy = strdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char) *p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

/* outcome_json: the element of the complete or fail batch for one outcome. */
static json_t *
outcome_json(const Outcome *o)
{
	json_t	   *e = json_object();

	json_object_set_new(e, "id", json_integer(o->job_id));
	if (o->ok)
	{
		json_t	   *result = o->result_json ? json_loads(o->result_json, 0, NULL) : NULL;

		json_object_set_new(e, "result", result ? result : json_null());
	}
	else
	{
		json_object_set_new(e, "error", json_text(o->error ? o->error : "unknown error"));
		json_object_set_new(e, "retryable", json_boolean(o->retryable));
		if (o->retry_after_seconds >= 0)
		{
			char		ra[32];

			snprintf(ra, sizeof(ra), "%ld seconds", o->retry_after_seconds);
			json_object_set_new(e, "retry_after", json_string(ra));
		}
		else
			json_object_set_new(e, "retry_after", json_null());
	}
	return e;
}

/*
 * run_batch: run the complete or fail statement over elements.  Returns 1 on
 * success, 0 when the database rejected it (state error), -1 when the
 * connection failed.
 */
static int
run_batch(const char *statement, json_t *elements)
{
	char	   *text = json_dumps(elements, JSON_COMPACT);
	const char *params[1] = {text};
	PGresult   *res = PQexecPrepared(conn, statement, 1, params, NULL, NULL, 0);
	int			rc = 1;

	free(text);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		check_connection();
		rc = conn ? 0 : -1;
		if (rc == 0 && json_array_size(elements) == 1)
			log_error("could not record the outcome of job %lld: %s",
					  (long long) json_integer_value(json_object_get(json_array_get(elements, 0), "id")),
					  PQresultErrorMessage(res));
	}
	else if (strcmp(statement, "complete") == 0)
	{
		if ((size_t) PQntuples(res) < json_array_size(elements))
			log_error("%zu completion(s) not recorded: job no longer running (lease expired and reclaimed, or already done)",
					  json_array_size(elements) - (size_t) PQntuples(res));
	}
	else if (strcmp(statement, "fail") == 0)
	{
		for (int i = 0; i < PQntuples(res); i++)
			if (strcmp(PQgetvalue(res, i, 1), "dead") == 0)
				log_info("job=%s status=dead (no attempt left or permanent error)",
						 PQgetvalue(res, i, 0));
	}
	PQclear(res);
	return rc;
}

/*
 * record_kind: record the outcomes of one kind (ok or not) from the list,
 * in one statement, else one by one.  Recorded or rejected outcomes leave
 * the list; false when the connection failed (the rest stay).
 */
static bool
record_kind(Outcome **outcomes, bool ok)
{
	json_t	   *batch = json_array();
	int			rc;
	Outcome   **link;

	for (Outcome *o = *outcomes; o; o = o->next)
		if (o->ok == ok)
			json_array_append_new(batch, outcome_json(o));
	if (json_array_size(batch) == 0)
	{
		json_decref(batch);
		return true;
	}
	rc = run_batch(ok ? "complete" : "fail", batch);
	json_decref(batch);
	if (rc < 0)
		return false;
	link = outcomes;
	while (*link)
	{
		Outcome    *o = *link;

		if (o->ok != ok)
		{
			link = &o->next;
			continue;
		}
		if (rc == 0)
		{
			/* the batch was rejected: record this one alone */
			json_t	   *single = json_array();
			int			one;

			json_array_append_new(single, outcome_json(o));
			one = run_batch(ok ? "complete" : "fail", single);
			json_decref(single);
			if (one < 0)
				return false;
		}
		*link = o->next;
		outcome_free(o);
	}
	return true;
}

/*
 * queue_record: record the outcomes in the list.  Returns false when the
 * connection failed; what was not recorded stays in the list.
 */
bool
queue_record(Outcome **outcomes)
{
	if (conn == NULL)
		return false;
	return record_kind(outcomes, true) && record_kind(outcomes, false);
}

/*
 * queue_release: hand the jobs of the list back to the queue unstarted
 * (release_sql).  Returns false when the connection failed (the list is
 * kept, to be handed back after the reconnection); otherwise the list is
 * freed: handed back, or already someone else's, or refused by the database
 * (logged; those jobs wait for their lease to end).
 */
bool
queue_release(Job **jobs)
{
	json_t	   *batch = json_array();
	char	   *text;
	const char *params[2];
	PGresult   *res;
	size_t		n;

	if (conn == NULL)
	{
		json_decref(batch);
		return false;
	}
	for (Job *j = *jobs; j; j = j->next)
	{
		json_t	   *e = json_object();

		json_object_set_new(e, "id", json_integer(j->id));
		json_object_set_new(e, "locked_until", j->locked_until ? json_string(j->locked_until) : json_null());
		json_array_append_new(batch, e);
	}
	n = json_array_size(batch);
	text = json_dumps(batch, JSON_COMPACT);
	json_decref(batch);
	params[0] = options.worker_id;
	params[1] = text;
	res = PQexecPrepared(conn, "release", 2, params, NULL, NULL, 0);
	free(text);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		check_connection();
		if (conn == NULL)
		{
			PQclear(res);
			return false;
		}
		log_error("could not hand back %zu unstarted job(s) (their leases will expire): %s",
				  n, PQresultErrorMessage(res));
	}
	else
		log_info("handed back %d unstarted job(s) to the queue, their attempts refunded; %zu already taken by another worker",
				 PQntuples(res), n - (size_t) PQntuples(res));
	PQclear(res);
	while (*jobs)
	{
		Job		   *next = (*jobs)->next;

		job_free(*jobs);
		*jobs = next;
	}
	return true;
}

/*
 * queue_execute_database_job: run a database action with execute_job, which
 * completes the job itself.  On error, fills outcome for fail_job: data,
 * privilege and missing-object errors are permanent, the rest retry.
 * Returns true when the job succeeded (nothing left to record).
 */
bool
queue_execute_database_job(Job *job, Outcome *outcome)
{
	char		id_text[32];
	const char *params[1] = {id_text};
	PGresult   *res;
	const char *state;
	char		error[1200];

	snprintf(id_text, sizeof(id_text), "%lld", (long long) job->id);
	res = PQexecParams(conn, "SELECT automation.execute_job($1::bigint)", 1, NULL,
					   params, NULL, NULL, 0);
	outcome->job_id = job->id;
	outcome->retry_after_seconds = -1;
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		PQclear(res);
		return true;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	snprintf(error, sizeof(error), "execute_job failed: %s%s%s",
			 state ? state : "", state ? " " : "",
			 conn ? PQresultErrorMessage(res) : "no connection");
	for (char *p = error; *p; p++)
		if (*p == '\n')
			*p = ' ';
	outcome->ok = false;
	outcome->retryable = !(state && (strncmp(state, "22", 2) == 0 ||
									 strncmp(state, "23", 2) == 0 ||
									 strncmp(state, "42", 2) == 0 ||
									 strcmp(state, "P0002") == 0));
	outcome->error = strdup(error);
	PQclear(res);
	check_connection();
	return false;
}

/*
 * queue_next_due_ms: milliseconds until the next job becomes claimable
 * (next_job_at), or a large value when none or on error.
 */
double
queue_next_due_ms(void)
{
	char	   *types = types_literal();
	const char *params[1] = {types};
	PGresult   *res;
	double		ms = 1e12;

	if (conn == NULL)
	{
		free(types);
		return ms;
	}
	res = PQexecParams(conn,
					   "SELECT extract(epoch FROM automation.next_job_at($1::text[]) - clock_timestamp()) * 1000",
					   1, NULL, params, NULL, NULL, 0);
	free(types);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		ms = strtod(PQgetvalue(res, 0, 0), NULL);
	else if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		log_error("next_job_at failed: %s", PQerrorMessage(conn));
		check_connection();
	}
	PQclear(res);
	return ms;
}

/* job_free: release a job. */
void
job_free(Job *job)
{
	if (job == NULL)
		return;
	free(job->action_type);
	free(job->idempotency_key);
	free(job->config_json);
	free(job->body);
	free(job->channel_format);
	free(job->channel_url);
	free(job->locked_until);
	free(job);
}

/* outcome_free: release an outcome. */
void
outcome_free(Outcome *outcome)
{
	free(outcome->result_json);
	free(outcome->error);
	free(outcome);
}
