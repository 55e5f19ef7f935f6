/*
 * request.c: one HTTP request of automation-api, from its headers to its
 * response.
 *
 * Order of checks (each failure answers at once, in the envelope):
 *   1. a Content-Length over --max-body: 413 before the body is read; a
 *      body without a length (chunked) is counted while it arrives and
 *      answered 413 once complete (kept no further than --max-body; a
 *      client sending more than eight times that is disconnected);
 *   2. the route (404 for an unknown path or method);
 *   3. public routes (/healthz, /v1/openapi.json) answer here;
 *   4. the key (401 without a Bearer wbk_ key), then in the request's
 *      transaction _api_authenticate: 401, 429, 403 (scope or tenant);
 *   5. the request's own input: tenant header, Idempotency-Key, query
 *      parameters, Content-Type and body (400);
 *   6. SET LOCAL ROLE, automation.tenant, automation.request_id, the
 *      route's one SQL call, COMMIT.
 * Steps 4 and 6 are one round trip (call_exec): BEGIN, the key check (which
 * sets role, tenant and request id only when it accepts the key), a guard
 * that fails unless it did, the call and COMMIT, pipelined.  Step 5 is
 * checked before it, in the server; a request it refuses still has its key
 * checked (key_decides), and a refused key answers before the 400.
 * Every response carries X-Request-ID; those after step 4 found the key
 * also X-RateLimit-Limit, -Remaining, -Reset (and Retry-After with 429).
 */
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/time.h>

#include "api.h"

volatile int draining = 0;
static atomic_int requests_in_flight = 0;

int
in_flight(void)
{
	return atomic_load(&requests_in_flight);
}

/* new_ulid: 26 Crockford base32 characters, 48-bit ms then 80 random bits. */
void
new_ulid(char *out)
{
	static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	unsigned char bytes[16];
	struct timeval tv;
	uint64_t	ms;
	int			bit = 0;

	gettimeofday(&tv, NULL);
	ms = (uint64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
	for (int i = 0; i < 6; i++)
		bytes[i] = (unsigned char) (ms >> (8 * (5 - i)));
	if (getrandom(bytes + 6, 10, 0) != 10)
	{
		for (int i = 6; i < 16; i++)
			bytes[i] = (unsigned char) random();
	}
	/* 128 bits as 26 characters: the first holds 3 bits */
	for (int i = 0; i < 26; i++)
	{
		int			nbits = i == 0 ? 3 : 5;
		int			v = 0;

		for (int b = 0; b < nbits; b++, bit++)
			v = (v << 1) | ((bytes[bit / 8] >> (7 - bit % 8)) & 1);
		out[i] = crockford[v];
	}
	out[26] = '\0';
}

/* valid_uuid: 8-4-4-4-12 hex digits. */
bool
valid_uuid(const char *s)
{
	if (s == NULL || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return false;
		}
		else if (!isxdigit((unsigned char) s[i]))
			return false;
	}
	return true;
}

/* valid_request_id: 1-128 characters of [A-Za-z0-9._-] (SPEC section 13). */
static bool
valid_request_id(const char *s)
{
	size_t		n = s ? strlen(s) : 0;

	if (n < 1 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char) s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* reply_set: the reply's body, taken over (malloc'd). */
static void
reply_set(Reply *reply, int status, char *body)
{
	if (reply->body && !reply->static_body)
		free(reply->body);
	reply->status = status;
	reply->body = body;
	reply->body_len = body ? strlen(body) : 0;
	reply->static_body = false;
	reply->content_type = "application/json";
}

/* reply_data: {"data": <json_text>} with status. */
void
reply_data(Reply *reply, int status, const char *json_text)
{
	size_t		n = strlen(json_text);
	char	   *body = malloc(n + 12);

	memcpy(body, "{\"data\":", 8);
	memcpy(body + 8, json_text, n);
	memcpy(body + 8 + n, "}", 2);
	reply_set(reply, status, body);
}

/* reply_data_json: {"data": data}, data taken over. */
void
reply_data_json(Reply *reply, int status, json_t *data)
{
	json_t	   *env = json_object();

	json_object_set_new(env, "data", data);
	reply_set(reply, status, json_dumps(env, JSON_COMPACT));
	json_decref(env);
}

/* the request id of the reply being built (set per thread before handling) */
static __thread const char *current_request_id = "";

/* reply_error: the error envelope; details (taken over) may be NULL. */
void
reply_error(Reply *reply, int status, const char *code, const char *message, json_t *details)
{
	json_t	   *env = json_object();
	json_t	   *err = json_object();
	json_t	   *msg = json_string(message);

	json_object_set_new(err, "code", json_string(code));

	/* a message that is not UTF-8 (cannot come from PostgreSQL) is replaced */
	json_object_set_new(err, "message", msg ? msg : json_string("error"));
	json_object_set_new(err, "details", details ? details : json_object());
	json_object_set_new(env, "error", err);
	json_object_set_new(env, "request_id", json_string(current_request_id));
	reply_set(reply, status, json_dumps(env, JSON_COMPACT));
	json_decref(env);
}

/* header: a request header's value, or NULL. */
static const char *
header(struct MHD_Connection *connection, const char *name)
{
	return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
}

typedef struct HeaderCount
{
	const char *name;
	int			count;
} HeaderCount;

static enum MHD_Result
header_count(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	HeaderCount *hc = cls;

	(void) kind;
	(void) value;
	if (strcasecmp(key, hc->name) == 0)
		hc->count++;
	return MHD_YES;
}

/*
 * header_given_twice: a header that decides who or what a request is for
 * (Authorization, the tenant header, Idempotency-Key) given more than once:
 * the server would read the first copy where a proxy in front may have
 * added, and checked, another.  Refused rather than guessed
 * (doc/redteam-api-0.4.0.md, A3).
 */
static bool
header_given_twice(struct MHD_Connection *connection, const char *name)
{
	HeaderCount hc = {name, 0};

	MHD_get_connection_values(connection, MHD_HEADER_KIND, header_count, &hc);
	return hc.count > 1;
}

/* queue_reply: send the reply with the headers every response carries. */
static enum MHD_Result
queue_reply(struct MHD_Connection *connection, Request *request, Reply *reply)
{
	struct MHD_Response *response;
	enum MHD_Result ret;
	char		num[32];

	response = reply->static_body
		? MHD_create_response_from_buffer(reply->body_len, reply->body, MHD_RESPMEM_PERSISTENT)
		: MHD_create_response_from_buffer(reply->body_len, reply->body, MHD_RESPMEM_MUST_FREE);
	if (response == NULL)
		return MHD_NO;
	reply->body = NULL;
	MHD_add_response_header(response, "Content-Type", reply->content_type ? reply->content_type : "application/json");
	MHD_add_response_header(response, "X-Request-ID", request->request_id);
	MHD_add_response_header(response, "Cache-Control", "no-store");
	MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
	if (reply->allow)
		MHD_add_response_header(response, "Allow", reply->allow);
	if (request->key.known)
	{
		snprintf(num, sizeof(num), "%d", request->key.rate_limit);
		MHD_add_response_header(response, "X-RateLimit-Limit", num);
		snprintf(num, sizeof(num), "%d", request->key.remaining);
		MHD_add_response_header(response, "X-RateLimit-Remaining", num);
		snprintf(num, sizeof(num), "%d", request->key.reset_seconds);
		MHD_add_response_header(response, "X-RateLimit-Reset", num);
		if (reply->status == 429)
		{
			snprintf(num, sizeof(num), "%d", request->key.retry_after);
			MHD_add_response_header(response, "Retry-After", num);
		}
	}
	if (reply->status == 503)
		MHD_add_response_header(response, "Retry-After", "1");
	if (draining || reply->status == 413)
		MHD_add_response_header(response, "Connection", "close");
	request->status = reply->status;
	ret = MHD_queue_response(connection, (unsigned int) reply->status, response);
	MHD_destroy_response(response);
	return ret;
}

/* media_type_is: whether Content-Type's media type (before ';') is type. */
static bool
media_type_is(const char *content_type, const char *type)
{
	size_t		n = strlen(type);

	if (content_type == NULL)
		return false;
	while (*content_type == ' ')
		content_type++;
	return strncasecmp(content_type, type, n) == 0 &&
		(content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

/* --- forms (multipart/form-data, application/x-www-form-urlencoded) --- */

typedef struct FormState
{
	json_t	   *object;
	char	   *last_key;
	char	   *value;
	size_t		value_len;
	char		error[200];
} FormState;

static bool
form_flush(FormState *form)
{
	json_t	   *s;

	if (form->last_key == NULL)
		return true;
	if (json_object_get(form->object, form->last_key) != NULL)
	{
		snprintf(form->error, sizeof(form->error), "form field %.100s is given twice", form->last_key);
		return false;
	}
	s = json_stringn(form->value ? form->value : "", form->value_len);
	if (s == NULL)
	{
		snprintf(form->error, sizeof(form->error), "form field %.100s is not UTF-8 text", form->last_key);
		return false;
	}
	if (json_object_set_new(form->object, form->last_key, s) != 0)
	{
		snprintf(form->error, sizeof(form->error), "form field name is not UTF-8 text");
		return false;
	}
	free(form->last_key);
	free(form->value);
	form->last_key = NULL;
	form->value = NULL;
	form->value_len = 0;
	return true;
}

static enum MHD_Result
form_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
		   const char *content_type, const char *transfer_encoding,
		   const char *data, uint64_t off, size_t size)
{
	FormState  *form = cls;

	if (form->error[0])
		return MHD_NO;
	if (key == NULL || *key == '\0')
	{
		snprintf(form->error, sizeof(form->error), "a form field has no name");
		return MHD_NO;
	}
	if (filename != NULL)
	{
		snprintf(form->error, sizeof(form->error), "form field %.100s must be text, not a file", key);
		return MHD_NO;
	}
	if (off == 0 || form->last_key == NULL || strcmp(form->last_key, key) != 0)
	{
		if (!form_flush(form))
			return MHD_NO;
		form->last_key = strdup(key);
	}
	if (size > 0)
	{
		form->value = realloc(form->value, form->value_len + size + 1);
		memcpy(form->value + form->value_len, data, size);
		form->value_len += size;
		form->value[form->value_len] = '\0';
	}
	return MHD_YES;
}

/*
 * parse_form: the body as a flat JSON object of strings (the seed's form
 * keys, as create_rule takes them), or NULL and a message in error.
 */
static char *
parse_form(struct MHD_Connection *connection, const char *body, size_t len, char *error, size_t errsize)
{
	FormState	form;
	struct MHD_PostProcessor *pp;
	char	   *out = NULL;
	bool		ok;

	memset(&form, 0, sizeof(form));
	form.object = json_object();
	pp = MHD_create_post_processor(connection, 16 * 1024, form_field, &form);
	if (pp == NULL)
	{
		snprintf(error, errsize, "the form cannot be read (a multipart body needs a boundary)");
		json_decref(form.object);
		return NULL;
	}
	ok = len == 0 || MHD_post_process(pp, body, len) == MHD_YES;
	if (MHD_destroy_post_processor(pp) != MHD_YES)
		ok = false;
	if (ok && !form.error[0])
		ok = form_flush(&form);
	if (ok && !form.error[0] && json_object_size(form.object) == 0)
		snprintf(form.error, sizeof(form.error), "the form has no fields");
	if (!ok || form.error[0])
		snprintf(error, errsize, "%s", form.error[0] ? form.error : "the form body is malformed");
	else
		out = json_dumps(form.object, JSON_COMPACT);
	free(form.last_key);
	free(form.value);
	json_decref(form.object);
	return out;
}

/* --- query parameters --- */

typedef struct QueryCheck
{
	const char *const *allowed;
	char		error[200];
	int			count;
	const char *seen[16];
} QueryCheck;

static enum MHD_Result
query_check(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	QueryCheck *q = cls;
	bool		known = false;

	for (int i = 0; q->allowed && q->allowed[i]; i++)
		if (strcmp(q->allowed[i], key) == 0)
			known = true;
	if (!known)
	{
		snprintf(q->error, sizeof(q->error), "unknown query parameter %.60s", key);
		return MHD_NO;
	}
	for (int i = 0; i < q->count; i++)
		if (strcmp(q->seen[i], key) == 0)
		{
			snprintf(q->error, sizeof(q->error), "query parameter %.60s is given twice", key);
			return MHD_NO;
		}
	if (q->count < 16)
		q->seen[q->count++] = key;
	return MHD_YES;
}

/* --- the request --- */

/* bearer_key: the key of "Authorization: Bearer <key>", or NULL. */
static const char *
bearer_key(struct MHD_Connection *connection)
{
	const char *auth = header(connection, "Authorization");

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return NULL;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return *auth ? auth : NULL;
}

static void
set_int(int *out, PGresult *res, int col)
{
	*out = PQgetisnull(res, 0, col) ? 0 : atoi(PQgetvalue(res, 0, col));
}

/*
 * The key check, the first statement of every request's transaction:
 * _api_authenticate, and only when it accepts the key for this request
 * (outcome 'ok'), SET LOCAL ROLE to the key's role and automation.tenant
 * set locally.  automation.request_id is set locally either way: to the
 * request's id when the key was accepted, else to ''.  A failed check is a
 * row, not an error: its outcome and rate-limit figures make the reply.
 * Every operator is schema-qualified and search_path is pinned locally for
 * the statements after it: a session setting left on a pooled connection
 * by an earlier request cannot put another role's operator into this one
 * (doc/redteam-api-0.4.0.md, A1).
 */
static const char auth_sql[] =
	"SELECT a.outcome, a.key_id, a.role, a.tenant_id, a.rate_limit, a.remaining, a.reset_seconds, "
	"a.retry_after, "
	"CASE WHEN a.outcome OPERATOR(pg_catalog.=) 'ok' THEN pg_catalog.set_config('role', a.role, true) END, "
	"CASE WHEN a.outcome OPERATOR(pg_catalog.=) 'ok' THEN pg_catalog.set_config('automation.tenant', COALESCE(a.tenant_id, ''), true) END, "
	"pg_catalog.set_config('automation.request_id', CASE WHEN a.outcome OPERATOR(pg_catalog.=) 'ok' THEN $6 ELSE '' END, true), "
	"pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true) "
	"FROM automation._api_authenticate($1, $2, $3, $4, $5::integer) a";

/*
 * The guard, the statement after the key check in the same round trip:
 * an error (42704, reading a setting that does not exist) unless the key
 * check of this transaction accepted the key, i.e. set
 * automation.request_id to this request's id ($1, never empty).  Nothing
 * runs between the two, and the check sets the id locally in every case,
 * so no value from an earlier transaction can pass it.  Its error skips
 * the rest of the pipeline: the route's call and COMMIT never run for a
 * refused key.
 */
static const char guard_sql[] =
	"SELECT pg_catalog.current_setting(CASE WHEN pg_catalog.current_setting('automation.request_id') "
	"OPERATOR(pg_catalog.=) $1 THEN 'automation.request_id' ELSE 'automation.request_refused' END)";

/* auth_params: the parameters of auth_sql (client and limit: buffers). */
static void
auth_params(Call *call, const char *params[6], char *client, size_t clientsize,
			char *anonymous_limit, size_t limitsize)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(call->connection,
																	 MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	params[0] = bearer_key(call->connection);
	params[1] = call->scope;
	params[2] = call->tenant;
	params[3] = NULL;
	params[4] = anonymous_limit;
	params[5] = call->request->request_id;
	/* the client's address: the bucket of requests without a valid key */
	client[0] = '\0';
	if (info != NULL && info->client_addr != NULL &&
		getnameinfo(info->client_addr, info->client_addr->sa_family == AF_INET6
					? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
					client, clientsize, NULL, 0, NI_NUMERICHOST) == 0)
		params[3] = client;
	snprintf(anonymous_limit, limitsize, "%d", options.anonymous_rate_limit);
}

/*
 * auth_outcome: what the key check (res, a row of auth_sql) answered:
 * request->key filled when a key or a client bucket was found; true when
 * the key may make this request, else the error reply (401, 403, 429).
 */
static bool
auth_outcome(Call *call, PGresult *res, Reply *reply)
{
	Request    *request = call->request;
	const char *outcome;

	if (PQntuples(res) != 1)
	{
		log_error("authenticate: %d rows", PQntuples(res));
		reply_error(reply, 500, "internal_error", "internal error", NULL);
		return false;
	}
	outcome = PQgetvalue(res, 0, 0);
	if (!PQgetisnull(res, 0, 4))
	{
		/* a key, or the client's bucket of requests without one */
		request->key.known = true;
		snprintf(request->key.key_id, sizeof(request->key.key_id), "%s",
				 PQgetisnull(res, 0, 1) ? "-" : PQgetvalue(res, 0, 1));
		snprintf(request->key.role, sizeof(request->key.role), "%s", PQgetvalue(res, 0, 2));
		request->key.has_tenant = !PQgetisnull(res, 0, 3);
		snprintf(request->key.tenant, sizeof(request->key.tenant), "%s", PQgetvalue(res, 0, 3));
		set_int(&request->key.rate_limit, res, 4);
		set_int(&request->key.remaining, res, 5);
		set_int(&request->key.reset_seconds, res, 6);
		set_int(&request->key.retry_after, res, 7);
	}
	if (strcmp(outcome, "ok") == 0)
		return true;
	if (strcmp(outcome, "rate_limited") == 0 && PQgetisnull(res, 0, 1))
		reply_error(reply, 429, "rate_limited", "too many requests without a valid key", json_pack("{s:i,s:i}",
																								   "limit", request->key.rate_limit, "retry_after", request->key.retry_after));
	else if (strcmp(outcome, "rate_limited") == 0)
		reply_error(reply, 429, "rate_limited", "rate limit exceeded", json_pack("{s:i,s:i}",
																				  "limit", request->key.rate_limit, "retry_after", request->key.retry_after));
	else if (strcmp(outcome, "insufficient_permissions") == 0)
		reply_error(reply, 403, "insufficient_permissions", "the key lacks the scope of this route",
					json_pack("{s:s}", "required_scope", call->scope ? call->scope : ""));
	else if (strcmp(outcome, "tenant_forbidden") == 0)
		reply_error(reply, 403, "insufficient_permissions", "the key may not act for this tenant",
					json_pack("{s:s}", "header", options.tenant_header));
	else if (bearer_key(call->connection) == NULL)
		reply_error(reply, 401, "invalid_key", "an API key is required: Authorization: Bearer wbk_...", NULL);
	else
		reply_error(reply, 401, "invalid_key", "invalid or expired API key", NULL);
	return false;
}

/* rollback: end this request's failed or unfinished transaction. */
static void
rollback(Call *call)
{
	PGconn	   *db = db_current();

	if (db != NULL)
		PQclear(PQexec(db, "ROLLBACK"));
	call->ended = true;
}

/*
 * authenticate: BEGIN and the key check alone, for a request that ends
 * before its route's call (its input was refused, or the route answered
 * without the database): true with the transaction open when the key may
 * make this request, else the error reply (and the transaction rolled
 * back).  A connection that had died while idle is reopened once.
 */
static bool
authenticate(Call *call, Reply *reply)
{
	char		client[NI_MAXHOST];
	char		anonymous_limit[16];
	const char *params[6];
	const char *sql[2] = {"BEGIN", auth_sql};
	const int	nparams[2] = {0, 6};
	const char *const *param_sets[2] = {NULL, params};
	PGresult   *results[2];

	auth_params(call, params, client, sizeof(client), anonymous_limit, sizeof(anonymous_limit));
	if (!db_pipeline(call->db, 2, sql, nparams, param_sets, results))
	{
		/* a connection that died while idle (a restart): reconnect once */
		db_discard();
		call->db = db_connection();
		if (call->db == NULL || !db_pipeline(call->db, 2, sql, nparams, param_sets, results))
		{
			if (call->db != NULL)
				db_discard();
			call->db = NULL;
			call->ended = true;
			reply_error(reply, 503, "unavailable", "the database is unavailable; retry later", NULL);
			return false;
		}
	}
	if (!db_ok(results[0], reply, "BEGIN"))
	{
		PQclear(results[1]);
		rollback(call);
		return false;
	}
	PQclear(results[0]);
	if (!db_ok(results[1], reply, "authenticate"))
	{
		rollback(call);
		return false;
	}
	if (!auth_outcome(call, results[1], reply))
	{
		PQclear(results[1]);
		rollback(call);
		return false;
	}
	PQclear(results[1]);
	call->setup_done = true;
	return true;
}

/*
 * key_decides: for a request answered before its route's call: the key is
 * still checked (and a token taken), and its refusal (401, 403, 429) is
 * the answer rather than the route's; the transaction ends either way.
 */
static void
key_decides(Call *call, Reply *reply)
{
	Reply		refused;

	memset(&refused, 0, sizeof(refused));
	if (authenticate(call, &refused))
	{
		rollback(call);
		return;
	}
	if (reply->body && !reply->static_body)
		free(reply->body);
	*reply = refused;
}

/* valid_tenant: what a tenant header may hold. */
static bool
valid_tenant(const char *s)
{
	return valid_request_id(s);
}

/*
 * check_query_body: the query parameters the route accepts, each once, and
 * the body its kind allows; false with a 400 reply.
 */
static bool
check_query_body(Call *call, const Route *route, Reply *reply)
{
	struct MHD_Connection *connection = call->connection;
	Request    *request = call->request;
	const char *ctype = header(connection, "Content-Type");
	QueryCheck	q;
	json_error_t jerr;
	char		error[300];

	memset(&q, 0, sizeof(q));
	q.allowed = route->query;
	MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, query_check, &q);
	if (q.error[0])
	{
		reply_error(reply, 400, "validation_error", q.error, NULL);
		return false;
	}

	if (route->body == BODY_NONE)
	{
		/* nothing, or an empty JSON object */
		json_t	   *j;
		bool		blank = true;

		for (size_t i = 0; i < request->body_len; i++)
			if (!isspace((unsigned char) request->body[i]))
				blank = false;
		if (blank)
			return true;
		j = json_loadb(request->body, request->body_len, 0, &jerr);
		if (j == NULL || !json_is_object(j) || json_object_size(j) != 0)
		{
			json_decref(j);
			reply_error(reply, 400, "validation_error", "this route takes no request body", NULL);
			return false;
		}
		json_decref(j);
		return true;
	}
	if (route->body == BODY_JSON_OR_FORM &&
		(media_type_is(ctype, "multipart/form-data") ||
		 media_type_is(ctype, "application/x-www-form-urlencoded")))
	{
		call->form_json = parse_form(connection, request->body ? request->body : "", request->body_len,
									 error, sizeof(error));
		if (call->form_json == NULL)
		{
			reply_error(reply, 400, "validation_error", error, NULL);
			return false;
		}
		return true;
	}
	if (!media_type_is(ctype, "application/json"))
	{
		reply_error(reply, 400, "validation_error",
					route->body == BODY_JSON_OR_FORM
					? "Content-Type must be application/json, multipart/form-data or application/x-www-form-urlencoded"
					: "Content-Type must be application/json",
					json_pack("{s:s?}", "content_type", ctype));
		return false;
	}
	call->json = json_loadb(request->body ? request->body : "", request->body_len,
							JSON_REJECT_DUPLICATES, &jerr);
	if (call->json == NULL)
	{
		reply_error(reply, 400, "validation_error", "the body is not valid JSON",
					json_pack("{s:s,s:i}", "reason", jerr.text, "position", (int) jerr.position));
		return false;
	}
	if (!json_is_object(call->json))
	{
		reply_error(reply, 400, "validation_error", "the body must be a JSON object", NULL);
		return false;
	}
	if (strcmp(route->method, "PATCH") == 0 && json_object_size(call->json) == 0)
	{
		reply_error(reply, 400, "validation_error", "the patch is empty: give the fields to change", NULL);
		return false;
	}
	return true;
}

/*
 * check_input: the request's own input (step 5); false with a 400 reply.
 * Fills call->idempotency_key, call->json, call->form_json.
 */
static bool
check_input(Call *call, const Route *route, Reply *reply)
{
	struct MHD_Connection *connection = call->connection;
	const char *idem = header(connection, "Idempotency-Key");
	const char *tenant = header(connection, options.tenant_header);
	const char *const once[] = {"Authorization", options.tenant_header, "Idempotency-Key"};

	for (int i = 0; i < 3; i++)
		if (header_given_twice(connection, once[i]))
		{
			reply_error(reply, 400, "validation_error", "this header must be given once",
						json_pack("{s:s}", "header", once[i]));
			return false;
		}
	if (tenant != NULL && !valid_tenant(tenant))
	{
		reply_error(reply, 400, "validation_error", "the tenant header must be 1 to 128 characters of A-Z, a-z, 0-9, \".\", \"_\" or \"-\"",
					json_pack("{s:s}", "header", options.tenant_header));
		return false;
	}
	if (idem != NULL)
	{
		if (!valid_uuid(idem))
		{
			reply_error(reply, 400, "validation_error", "Idempotency-Key must be a UUID",
						json_pack("{s:s}", "header", "Idempotency-Key"));
			return false;
		}
		call->idempotency_key = idem;
	}
	return check_query_body(call, route, reply);
}

/*
 * call_exec: a route's statement, in one round trip with what must come
 * before it (for the first: BEGIN, the key check that sets role, tenant
 * and request id, and the guard) and, when final, COMMIT after it.
 * Returns the first failure's result (the transaction then rolled back),
 * else the statement's; NULL when the connection failed, or when the key
 * was refused: then call->reply holds the refusal.  The caller passes it to
 * db_ok.
 */
PGresult   *
call_exec(Call *call, const char *sql, int nparams, const char *const *params, bool final)
{
	const char *sqls[5];
	int			ns[5];
	const char *const *ps[5];
	PGresult   *results[5];
	PGresult   *answer = NULL;
	int			count = 0;
	int			statement;
	int			failed;
	bool		first = !call->setup_done;
	char		client[NI_MAXHOST];
	char		anonymous_limit[16];
	const char *auth[6];
	const char *guard[1] = {call->request->request_id};

	if (call->ended || call->db == NULL)
		return NULL;
	if (first)
	{
		auth_params(call, auth, client, sizeof(client), anonymous_limit, sizeof(anonymous_limit));
		sqls[count] = "BEGIN";
		ns[count] = 0;
		ps[count++] = NULL;
		sqls[count] = auth_sql;
		ns[count] = 6;
		ps[count++] = auth;
		sqls[count] = guard_sql;
		ns[count] = 1;
		ps[count++] = guard;
	}
	statement = count;
	sqls[count] = sql;
	ns[count] = nparams;
	ps[count++] = params;
	if (final)
	{
		sqls[count] = "COMMIT";
		ns[count] = 0;
		ps[count++] = NULL;
	}
	if (!db_pipeline(call->db, count, sqls, ns, ps, results))
	{
		/*
		 * the connection failed under the request (db_connection saw it
		 * alive just before): 503, never a second try, since the server
		 * may have run it (the client retries, a write with its
		 * Idempotency-Key)
		 */
		db_discard();
		call->db = NULL;
		call->ended = true;
		return NULL;
	}
	for (failed = 0; failed < count; failed++)
	{
		ExecStatusType st = PQresultStatus(results[failed]);

		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
			break;
	}
	if (first && failed > 1 && !auth_outcome(call, results[1], call->reply))
	{
		/* the key was refused: the guard failed, nothing after it ran */
		for (int i = 0; i < count; i++)
			PQclear(results[i]);
		rollback(call);
		return NULL;
	}
	if (failed < count)
	{
		/* a failure: the rest was skipped, the transaction is aborted */
		answer = results[failed];
		results[failed] = NULL;
		rollback(call);
	}
	else
	{
		answer = results[statement];
		results[statement] = NULL;
		call->setup_done = true;
		call->ended = final;
	}
	if (first && failed > statement)
		call->setup_done = true;
	for (int i = 0; i < count; i++)
		PQclear(results[i]);
	return answer;
}

/* serve: steps 2 to 6 for a complete request. */
static void
serve(struct MHD_Connection *connection, const char *url, const char *method,
	  Request *request, Reply *reply)
{
	const Route *route;
	char		id[256];
	const char *allow = NULL;
	Call		call;
	PGconn	   *db;
	const char *scope;
	const char *tenant;
	PGresult   *res;

	memset(&call, 0, sizeof(call));
	call.connection = connection;
	call.request = request;
	route = route_match(method, url, id, sizeof(id), &allow);
	if (route == NULL)
	{
		reply->allow = allow;
		reply_error(reply, 404, "not_found", allow ? "this path does not take this method" : "no such route",
					json_pack("{s:s}", "method", method));
		return;
	}
	call.id = id[0] ? id : NULL;
	if (route->scope == NULL)
	{
		if (check_query_body(&call, route, reply))
			route->handler(&call, reply);
		return;
	}
	if (bearer_key(connection) == NULL && options.anonymous_rate_limit == 0)
	{
		reply_error(reply, 401, "invalid_key", "an API key is required: Authorization: Bearer wbk_...", NULL);
		return;
	}
	db = db_connection();
	if (db == NULL)
	{
		reply_error(reply, 503, "unavailable", "the database is unavailable; retry later", NULL);
		return;
	}
	scope = route->scope;
	if (strcmp(scope, "backtest") == 0)
	{
		json_t	   *j = json_loadb(request->body ? request->body : "", request->body_len, 0, NULL);

		scope = backtest_scope(j);
		json_decref(j);
	}
	tenant = header(connection, options.tenant_header);
	if (tenant != NULL && (!valid_tenant(tenant) || header_given_twice(connection, options.tenant_header)))
		tenant = NULL;			/* refused by check_input, after the key */
	call.db = db;
	call.reply = reply;
	call.scope = scope;
	call.tenant = tenant;
	if (!check_input(&call, route, reply))
	{
		/* the key's refusal comes first */
		key_decides(&call, reply);
		goto done;
	}
	/* the key check runs with the route's first statement (call_exec) */
	route->handler(&call, reply);
	if (!call.setup_done && !call.ended)
	{
		/* answered without the database (a 400): the key's refusal first */
		key_decides(&call, reply);
		goto done;
	}
	/* db_ok may have closed a broken connection: ask for it again */
	if (call.ended || (db = db_current()) == NULL)
		goto done;
	if (reply->status >= 200 && reply->status < 300)
	{
		res = PQexec(db, "COMMIT");
		if (db_ok(res, reply, "COMMIT"))
			PQclear(res);
	}
	else
		PQclear(PQexec(db, "ROLLBACK"));
done:
	json_decref(call.json);
	free(call.form_json);
}

/*
 * handle_request: libmicrohttpd's access handler, called with the headers,
 * then with each piece of the body, then once more with none.
 */
enum MHD_Result
handle_request(void *cls, struct MHD_Connection *connection, const char *url,
			   const char *method, const char *version, const char *upload_data,
			   size_t *upload_data_size, void **req_cls)
{
	Request    *request = *req_cls;
	Reply		reply;
	enum MHD_Result ret;

	if (request == NULL)
	{
		const char *rid = header(connection, "X-Request-ID");
		const char *length = header(connection, "Content-Length");

		request = calloc(1, sizeof(Request));
		if (request == NULL)
			return MHD_NO;
		request->started_ms = now_ms();
		snprintf(request->method, sizeof(request->method), "%s", method);
		snprintf(request->path, sizeof(request->path), "%s", url);
		if (valid_request_id(rid))
			snprintf(request->request_id, sizeof(request->request_id), "%s", rid);
		else
			new_ulid(request->request_id);
		*req_cls = request;
		atomic_fetch_add(&requests_in_flight, 1);
		if (length != NULL)
		{
			char	   *end;
			unsigned long long n = strtoull(length, &end, 10);

			if (*length == '\0' || *end != '\0' || n > options.max_body)
			{
				memset(&reply, 0, sizeof(reply));
				current_request_id = request->request_id;
				reply_error(&reply, 413, "payload_too_large", "the request body is too large",
							json_pack("{s:I}", "max_bytes", (json_int_t) options.max_body));
				request->too_large = true;
				return queue_reply(connection, request, &reply);
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		size_t		n = *upload_data_size;

		*upload_data_size = 0;
		request->received += n;
		if (request->too_large || request->received > options.max_body)
		{
			free(request->body);
			request->body = NULL;
			request->body_len = 0;
			request->too_large = true;
			/* a response may already be queued (Content-Length): discard */
			return request->received > 8 * (uint64_t) options.max_body ? MHD_NO : MHD_YES;
		}
		if (request->body_len + n + 1 > request->body_cap)
		{
			size_t		cap = request->body_cap ? request->body_cap : 4096;
			char	   *grown;

			while (cap < request->body_len + n + 1)
				cap *= 2;
			grown = realloc(request->body, cap);
			if (grown == NULL)
				return MHD_NO;
			request->body = grown;
			request->body_cap = cap;
		}
		memcpy(request->body + request->body_len, upload_data, n);
		request->body_len += n;
		request->body[request->body_len] = '\0';
		return MHD_YES;
	}
	if (request->status != 0)
		return MHD_YES;			/* answered already (413 on Content-Length) */

	memset(&reply, 0, sizeof(reply));
	current_request_id = request->request_id;
	if (request->too_large)
		reply_error(&reply, 413, "payload_too_large", "the request body is too large",
					json_pack("{s:I}", "max_bytes", (json_int_t) options.max_body));
	else
		serve(connection, url, method, request, &reply);
	if (reply.body == NULL)
		reply_error(&reply, 500, "internal_error", "internal error", NULL);
	ret = queue_reply(connection, request, &reply);
	if (reply.body && !reply.static_body)
		free(reply.body);
	return ret;
}

/* request_completed: log the request and free its state. */
void
request_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
				  enum MHD_RequestTerminationCode toe)
{
	Request    *request = *req_cls;
	const union MHD_ConnectionInfo *info;

	if (request == NULL)
		return;
	info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_HTTP_STATUS);
	log_info("%s %s status=%d ms=%.1f request_id=%s key=%s%s",
			 request->method, request->path, info ? (int) info->http_status : request->status,
			 now_ms() - request->started_ms, request->request_id,
			 request->key.known ? request->key.key_id : "-",
			 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed early)");
	free(request->body);
	free(request);
	*req_cls = NULL;
	atomic_fetch_sub(&requests_in_flight, 1);
}
