/*
 * db.c: the database side of automation-api.
 *
 * Each daemon thread owns one libpq connection (thread-local), opened on
 * first use, reopened after it broke, and closed when the thread exits, so the pool is --pool connections
 * and no request waits for another's connection.  Statements are sent as
 * prepared statements with text parameters: the SQL text is a constant of
 * routes.c or request.c, every value a parameter.  Each connection prepares
 * a statement on its first use (in the same round trip as its first
 * execution) and keeps it while it lives: no request parses or plans its
 * statements again.
 *
 * SQLSTATE -> HTTP (SPEC section 13; doc/api-decisions.md):
 *   class 22 (data exception: 22023, 22P02, 22007, ...), 23502, 23503,
 *   23514, class 54 (program limits: too many conditions, too deep JSON)
 *                                   400 validation_error
 *   22023 "idempotency_key was already used ..." 409 idempotency_conflict
 *   23505                           409 duplicate_name
 *   42501                           403 insufficient_permissions
 *   P0002                           404 not_found
 *   class 08, 57P01-57P03, a lost connection   503 unavailable
 *   40001, 40P01 (serialization, deadlock)     503 unavailable (retry)
 *   anything else                   500 internal_error (cause logged only)
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

static __thread PGconn *thread_db = NULL;

/*
 * The statements prepared on thread_db: slot i is the statement "s<i>" with
 * the text stmt_sql[i]; stmt_ready[i] once the server accepted it.  The
 * texts are constants (a few dozen in all); a text beyond the last slot is
 * sent unprepared.
 */
#define MAX_PREPARED 96
static __thread const char *stmt_sql[MAX_PREPARED];
static __thread bool stmt_ready[MAX_PREPARED];
static __thread int nstmts = 0;
static pthread_key_t db_key;
static pthread_once_t db_key_once = PTHREAD_ONCE_INIT;

/* close_at_thread_exit: a daemon thread's connection ends with the thread. */
static void
close_at_thread_exit(void *conn)
{
	PQfinish((PGconn *) conn);
}

static void
make_db_key(void)
{
	pthread_key_create(&db_key, close_at_thread_exit);
}

/* remember: thread_db, also for the destructor of the thread. */
static void
remember(PGconn *conn)
{
	pthread_once(&db_key_once, make_db_key);
	thread_db = conn;
	nstmts = 0;					/* a new connection has none prepared */
	pthread_setspecific(db_key, conn);
}

/*
 * closed_while_idle: whether the server ended this idle connection (a
 * restart, pg_terminate_backend): an idle connection has nothing to read
 * unless its server said goodbye (its FATAL message, then EOF, which libpq
 * may not have seen yet).  The server sends nothing else unasked to a
 * session that does not LISTEN, so anything readable retires the
 * connection.  One poll(2), no round trip.
 */
static bool
closed_while_idle(PGconn *conn)
{
	struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};

	if (pfd.fd < 0)
		return true;
	return poll(&pfd, 1, 0) != 0;
}

/* db_connection: this thread's connection, (re)opened when needed; NULL if down. */
PGconn *
db_connection(void)
{
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *values[] = {options.conninfo, "automation-api", "5", NULL};

	if (thread_db != NULL && PQstatus(thread_db) == CONNECTION_OK &&
		PQtransactionStatus(thread_db) == PQTRANS_IDLE && !closed_while_idle(thread_db))
		return thread_db;
	if (thread_db != NULL)
		PQfinish(thread_db);
	remember(PQconnectdbParams(keys, values, 1));
	if (PQstatus(thread_db) != CONNECTION_OK)
	{
		char		msg[512];

		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(thread_db));
		msg[strcspn(msg, "\r\n")] = '\0';
		log_error("cannot connect to the database: %s", msg);
		PQfinish(thread_db);
		remember(NULL);
		return NULL;
	}
	return thread_db;
}

/* db_current: this thread's connection, NULL after db_discard. */
PGconn *
db_current(void)
{
	return thread_db;
}

/* db_discard: forget this thread's connection (after a failure mid-request). */
void
db_discard(void)
{
	if (thread_db != NULL)
		PQfinish(thread_db);
	remember(NULL);
}

/* db_exec: one statement with text parameters. */
PGresult *
db_exec(PGconn *db, const char *sql, int nparams, const char *const *params)
{
	return PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0);
}

/* statement_slot: the slot of sql on this connection, a new one, or -1. */
static int
statement_slot(const char *sql)
{
	for (int i = 0; i < nstmts; i++)
		if (stmt_sql[i] == sql || strcmp(stmt_sql[i], sql) == 0)
			return i;
	if (nstmts == MAX_PREPARED)
		return -1;
	stmt_sql[nstmts] = sql;
	stmt_ready[nstmts] = false;
	return nstmts++;
}

/*
 * db_pipeline: count statements in one round trip (libpq pipeline mode),
 * each a prepared statement of this connection (prepared first, in the
 * same round trip, on its first use); results[i] is each one's result
 * (PGRES_PIPELINE_ABORTED after a failed one).  false when the connection
 * failed: no results, and the caller treats the connection as lost.
 */
bool
db_pipeline(PGconn *db, int count, const char *const *sql, const int *nparams,
			const char *const *const *params, PGresult **results)
{
	PGresult   *r;
	int			slot[8];
	bool		preparing[8];
	char		name[16];

	if (count > 8)
		return false;
	for (int i = 0; i < count; i++)
		results[i] = NULL;
	if (db != thread_db || PQenterPipelineMode(db) != 1)
		return false;
	for (int i = 0; i < count; i++)
	{
		slot[i] = statement_slot(sql[i]);
		preparing[i] = false;
		if (slot[i] < 0)
		{
			if (!PQsendQueryParams(db, sql[i], nparams[i], NULL, params[i], NULL, NULL, 0))
				goto broken;
			continue;
		}
		snprintf(name, sizeof(name), "s%d", slot[i]);
		if (!stmt_ready[slot[i]])
		{
			/* its first use here (or its first use failed): prepare it */
			bool		earlier = false;

			for (int j = 0; j < i; j++)
				earlier |= preparing[j] && slot[j] == slot[i];
			if (!earlier)
			{
				if (!PQsendPrepare(db, name, sql[i], nparams[i], NULL))
					goto broken;
				preparing[i] = true;
			}
		}
		if (!PQsendQueryPrepared(db, name, nparams[i], params[i], NULL, NULL, 0))
			goto broken;
	}
	if (!PQpipelineSync(db))
		goto broken;
	for (int i = 0; i < count; i++)
	{
		PGresult   *prepared = NULL;

		if (preparing[i])
		{
			/* the Parse's own result, then the statement's */
			if ((prepared = PQgetResult(db)) == NULL)
				goto broken;
			if ((r = PQgetResult(db)) != NULL)
			{
				PQclear(r);
				PQclear(prepared);
				goto broken;
			}
			if (PQresultStatus(prepared) == PGRES_COMMAND_OK)
			{
				stmt_ready[slot[i]] = true;
				PQclear(prepared);
				prepared = NULL;
			}
		}
		results[i] = PQgetResult(db);
		if (results[i] == NULL)
		{
			PQclear(prepared);
			goto broken;
		}
		/* each statement's results end with NULL; one result each here */
		if ((r = PQgetResult(db)) != NULL)
		{
			PQclear(r);
			PQclear(prepared);
			goto broken;
		}
		if (prepared != NULL)
		{
			/* it could not be prepared: that error is the statement's */
			PQclear(results[i]);
			results[i] = prepared;
		}
	}
	r = PQgetResult(db);
	if (r == NULL || PQresultStatus(r) != PGRES_PIPELINE_SYNC)
	{
		PQclear(r);
		goto broken;
	}
	PQclear(r);
	if (PQexitPipelineMode(db) != 1)
		goto broken;
	return true;
broken:
	for (int i = 0; i < count; i++)
	{
		PQclear(results[i]);
		results[i] = NULL;
	}
	return false;
}

/* db_healthy: whether this thread's connection answers (for /healthz). */
bool
db_healthy(void)
{
	PGconn	   *db = db_connection();
	PGresult   *res;
	bool		ok;

	if (db == NULL)
		return false;
	for (int attempt = 0; attempt < 2; attempt++)
	{
		res = PQexec(db, "SELECT 1");
		ok = PQresultStatus(res) == PGRES_TUPLES_OK;
		PQclear(res);
		if (ok)
			return true;
		/* a connection that died while idle: one fresh one decides */
		db_discard();
		if (attempt == 0 && (db = db_connection()) == NULL)
			return false;
	}
	return false;
}

static bool
starts_with(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * db_ok: true when res succeeded; otherwise the error reply of its SQLSTATE
 * (above), res cleared, and the connection discarded when it is gone.
 * what names the statement in the log.
 */
bool
db_ok(PGresult *res, Reply *reply, const char *what)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	const char *state;
	const char *message;
	const char *detail;
	const char *hint;
	json_t	   *details;
	PGconn	   *db = thread_db;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return true;
	if (res == NULL && reply->body != NULL)
		return false;			/* answered already: call_exec refused the key */
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	message = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	details = json_object();
	if (detail)
		json_object_set_new(details, "detail", json_string(detail));
	if (hint)
		json_object_set_new(details, "hint", json_string(hint));
	if (message == NULL)
		message = "error";

	if (db == NULL || PQstatus(db) != CONNECTION_OK || state == NULL ||
		starts_with(state, "08") || strcmp(state, "57P01") == 0 ||
		strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0)
	{
		char		msg[512];

		snprintf(msg, sizeof(msg), "%s", db ? PQerrorMessage(db) : "no connection");
		msg[strcspn(msg, "\r\n")] = '\0';
		log_error("%s: database unavailable: %s", what, msg);
		json_decref(details);
		reply_error(reply, 503, "unavailable", "the database is unavailable; retry later", NULL);
		if (res)
			PQclear(res);
		db_discard();
		return false;
	}
	if (strcmp(state, "22023") == 0 && starts_with(message, "idempotency_key was already used"))
		reply_error(reply, 409, "idempotency_conflict", message, details);
	else if (starts_with(state, "22") || strcmp(state, "23502") == 0 ||
			 strcmp(state, "23503") == 0 || strcmp(state, "23514") == 0 || starts_with(state, "54"))
		reply_error(reply, 400, "validation_error", message, details);
	else if (strcmp(state, "23505") == 0)
		reply_error(reply, 409, "duplicate_name", message, details);
	else if (strcmp(state, "42501") == 0)
		reply_error(reply, 403, "insufficient_permissions", message, details);
	else if (strcmp(state, "P0002") == 0)
		reply_error(reply, 404, "not_found", message, details);
	else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
	{
		json_decref(details);
		reply_error(reply, 503, "unavailable", "a concurrent change interfered; retry", NULL);
	}
	else
	{
		log_error("%s: SQLSTATE %s: %s", what, state, message);
		json_decref(details);
		reply_error(reply, 500, "internal_error", "internal error", NULL);
		if (strcmp(state, "0A000") == 0)
		{
			/*
			 * "cached plan must not change result type": the extension was
			 * updated under a prepared statement; a new connection prepares
			 * them again
			 */
			PQclear(res);
			db_discard();
			return false;
		}
	}
	PQclear(res);
	return false;
}
