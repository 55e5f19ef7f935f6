/*
 * routes.c: the one route table of automation-api and a handler per route.
 *
 * The table is what the server serves, what --list-routes prints and what
 * the OpenAPI document is checked against (test/e2e/api_openapi.sh).  Each
 * handler runs inside the request's transaction as the key's role (see
 * request.c) and makes one call of the SQL API: a constant SQL text, every
 * value from the request a parameter.
 *
 * Lists: ?limit=1..100 (default 50) and ?cursor= the next_cursor of the
 * previous page (opaque to clients: the last id of the page); definitions
 * ascend by id, history (jobs, firings, alerts) descends (newest first).
 * Filters are exact matches (doc/api-decisions.md).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 100

/* arg: a query parameter, or NULL. */
static const char *
arg(Call *call, const char *name)
{
	return MHD_lookup_connection_value(call->connection, MHD_GET_ARGUMENT_KIND, name);
}

/* arg_bool: "true"/"false" as "true"/"false"; NULL when absent; false on a bad one. */
static bool
arg_bool(Call *call, Reply *reply, const char *name, const char **out)
{
	const char *v = arg(call, name);

	*out = NULL;
	if (v == NULL)
		return true;
	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
	{
		*out = v;
		return true;
	}
	reply_error(reply, 400, "validation_error", "a boolean query parameter must be true or false",
				json_pack("{s:s}", "parameter", name));
	return false;
}

/* arg_text: a filter of at most 200 characters; NULL when absent. */
static bool
arg_text(Call *call, Reply *reply, const char *name, const char **out)
{
	const char *v = arg(call, name);

	*out = v;
	if (v == NULL || (strlen(v) >= 1 && strlen(v) <= 200))
		return true;
	reply_error(reply, 400, "validation_error", "a filter must be 1 to 200 characters",
				json_pack("{s:s}", "parameter", name));
	return false;
}

/* arg_limit: ?limit as text, default 50, 1..100. */
static bool
arg_limit(Call *call, Reply *reply, char *out, size_t outsize, int *limit)
{
	const char *v = arg(call, "limit");
	char	   *end;
	long		n = DEFAULT_LIMIT;

	if (v != NULL)
	{
		/* digits only: strtol alone would take " 5" and "+5" */
		n = strtol(v, &end, 10);
		if (*v < '0' || *v > '9' || *end != '\0' || n < 1 || n > MAX_LIMIT)
		{
			reply_error(reply, 400, "validation_error", "limit must be an integer from 1 to 100",
						json_pack("{s:s}", "parameter", "limit"));
			return false;
		}
	}
	*limit = (int) n;
	/* one more than asked: whether there is a next page */
	snprintf(out, outsize, "%ld", n + 1);
	return true;
}

typedef enum CursorKind
{
	CURSOR_WORKFLOW,			/* a workflow id */
	CURSOR_UUID,
	CURSOR_BIGINT
} CursorKind;

/* arg_cursor: ?cursor checked for its kind; NULL when absent. */
static bool
arg_cursor(Call *call, Reply *reply, CursorKind kind, const char **out)
{
	const char *v = arg(call, "cursor");
	bool		ok = true;

	*out = v;
	if (v == NULL)
		return true;
	if (kind == CURSOR_UUID)
		ok = valid_uuid(v);
	else if (kind == CURSOR_BIGINT)
		ok = *v != '\0' && strlen(v) <= 18 && strspn(v, "0123456789") == strlen(v);
	else
	{
		/* a workflow id: wf_ and a ULID */
		ok = strlen(v) == 29 && strncmp(v, "wf_", 3) == 0;
		for (int i = 3; ok && v[i]; i++)
			ok = isdigit((unsigned char) v[i]) || isupper((unsigned char) v[i]);
	}
	if (!ok)
		reply_error(reply, 400, "validation_error", "cursor must be the next_cursor of a previous page",
					json_pack("{s:s}", "parameter", "cursor"));
	return ok;
}

/* arg_uuid: a uuid filter; NULL when absent. */
static bool
arg_uuid(Call *call, Reply *reply, const char *name, const char **out)
{
	*out = arg(call, name);
	if (*out == NULL || valid_uuid(*out))
		return true;
	reply_error(reply, 400, "validation_error", "this parameter must be a UUID",
				json_pack("{s:s}", "parameter", name));
	return false;
}

/* sql_object: one row, one jsonb column -> {"data": ...} with status. */
static void
sql_object(Call *call, Reply *reply, int status, const char *what, const char *sql,
		   int nparams, const char *const *params)
{
	PGresult   *res = call_exec(call, sql, nparams, params, true);

	if (!db_ok(res, reply, what))
		return;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		reply_error(reply, 404, "not_found", "not found", NULL);
	else
		reply_data(reply, status, PQgetvalue(res, 0, 0));
	PQclear(res);
}

/*
 * sql_list: rows of (json text, cursor text), at most limit + 1 ->
 * {"data": [...], "next_cursor": ...}.
 */
static void
sql_list(Call *call, Reply *reply, int limit, const char *what, const char *sql,
		 int nparams, const char *const *params)
{
	PGresult   *res = call_exec(call, sql, nparams, params, true);
	int			n;
	size_t		len = 64;
	char	   *body;
	char	   *p;
	json_t	   *cursor;
	char	   *cursor_text;

	if (!db_ok(res, reply, what))
		return;
	n = PQntuples(res);
	if (n > limit)
	{
		cursor = json_string(PQgetvalue(res, limit - 1, 1));
		n = limit;
	}
	else
		cursor = json_null();
	cursor_text = json_dumps(cursor, JSON_ENCODE_ANY);
	json_decref(cursor);
	for (int i = 0; i < n; i++)
		len += (size_t) PQgetlength(res, i, 0) + 1;
	len += strlen(cursor_text);
	body = malloc(len);
	p = body;
	p += sprintf(p, "{\"data\":[");
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			*p++ = ',';
		memcpy(p, PQgetvalue(res, i, 0), (size_t) PQgetlength(res, i, 0));
		p += PQgetlength(res, i, 0);
	}
	p += sprintf(p, "],\"next_cursor\":%s}", cursor_text);
	free(cursor_text);
	PQclear(res);
	if (reply->body && !reply->static_body)
		free(reply->body);
	reply->status = 200;
	reply->body = body;
	reply->body_len = (size_t) (p - body);
	reply->static_body = false;
	reply->content_type = "application/json";
}

/* body_text: the request's JSON body (or form as JSON) as text for $n::jsonb. */
static char *
body_text(Call *call)
{
	if (call->form_json)
		return strdup(call->form_json);
	return json_dumps(call->json, JSON_COMPACT);
}

/* deleted: {"data": {"id": id, "deleted": true}}. */
static void
reply_deleted(Reply *reply, const char *id)
{
	reply_data_json(reply, 200, json_pack("{s:s,s:b}", "id", id, "deleted", 1));
}

/* rule_id: a rule id must be a UUID; any other is no rule (404). */
static bool
rule_id(Call *call, Reply *reply)
{
	if (valid_uuid(call->id))
		return true;
	reply_error(reply, 404, "not_found", "rule not found", json_pack("{s:s}", "detail", "rule ids are UUIDs"));
	return false;
}

/* --- public --- */

static void
get_healthz(Call *call, Reply *reply)
{
	if (db_healthy())
		reply_data_json(reply, 200, json_pack("{s:s}", "status", "ok"));
	else
		reply_error(reply, 503, "unavailable", "the database is unavailable", NULL);
}

static void
get_openapi(Call *call, Reply *reply)
{
	reply->status = 200;
	reply->body = (char *) openapi_json;
	reply->body_len = openapi_json_len;
	reply->static_body = true;
	reply->content_type = "application/json";
}

/* --- workflows --- */

static void
post_workflows(Call *call, Reply *reply)
{
	char	   *body = body_text(call);
	const char *params[2] = {body, call->idempotency_key};

	sql_object(call, reply, 201, "create_workflow",
			   "SELECT automation.create_workflow($1::jsonb, $2::uuid)::text", 2, params);
	free(body);
}

static void
get_workflows(Call *call, Reply *reply)
{
	const char *params[4];
	char		limit_text[16];
	int			limit;

	if (!arg_cursor(call, reply, CURSOR_WORKFLOW, &params[0]) ||
		!arg_bool(call, reply, "enabled", &params[1]) ||
		!arg_text(call, reply, "entity", &params[2]) ||
		!arg_limit(call, reply, limit_text, sizeof(limit_text), &limit))
		return;
	params[3] = limit_text;
	sql_list(call, reply, limit, "list workflows",
			 "SELECT automation._workflow_json(w)::text, w.id FROM automation.workflows w "
			 "WHERE ($1::text IS NULL OR w.id > $1::text) AND ($2::boolean IS NULL OR w.enabled = $2::boolean) "
			 "AND ($3::text IS NULL OR w.condition_entity = $3::text) ORDER BY w.id LIMIT $4::integer",
			 4, params);
}

static void
get_workflow(Call *call, Reply *reply)
{
	const char *params[1] = {call->id};

	sql_object(call, reply, 200, "get_workflow", "SELECT automation.get_workflow($1)::text", 1, params);
}

static void
patch_workflow(Call *call, Reply *reply)
{
	char	   *body = body_text(call);
	const char *params[2] = {call->id, body};

	sql_object(call, reply, 200, "update_workflow",
			   "SELECT automation.update_workflow($1, $2::jsonb)::text", 2, params);
	free(body);
}

static void
delete_workflow(Call *call, Reply *reply)
{
	const char *params[1] = {call->id};
	PGresult   *res = call_exec(call, "SELECT automation.delete_workflow($1)", 1, params, true);

	if (!db_ok(res, reply, "delete_workflow"))
		return;
	PQclear(res);
	reply_deleted(reply, call->id);
}

static void
enable_workflow(Call *call, Reply *reply)
{
	const char *params[1] = {call->id};

	sql_object(call, reply, 200, "enable_workflow", "SELECT automation.enable_workflow($1)::text", 1, params);
}

static void
disable_workflow(Call *call, Reply *reply)
{
	const char *params[1] = {call->id};

	sql_object(call, reply, 200, "disable_workflow", "SELECT automation.disable_workflow($1)::text", 1, params);
}

/* --- rules --- */

static void
post_rules(Call *call, Reply *reply)
{
	char	   *body = body_text(call);
	const char *params[2] = {body, call->idempotency_key};

	sql_object(call, reply, 201, "create_rule",
			   "SELECT automation.create_rule($1::jsonb, $2::uuid)::text", 2, params);
	free(body);
}

static void
get_rules(Call *call, Reply *reply)
{
	const char *params[4];
	char		limit_text[16];
	int			limit;

	if (!arg_cursor(call, reply, CURSOR_UUID, &params[0]) ||
		!arg_bool(call, reply, "is_active", &params[1]) ||
		!arg_text(call, reply, "entity", &params[2]) ||
		!arg_limit(call, reply, limit_text, sizeof(limit_text), &limit))
		return;
	params[3] = limit_text;
	sql_list(call, reply, limit, "list rules",
			 "SELECT automation._rule_json(r.id)::text, r.id::text FROM automation.rules r "
			 "WHERE ($1::uuid IS NULL OR r.id > $1::uuid) AND ($2::boolean IS NULL OR r.is_active = $2::boolean) "
			 "AND ($3::text IS NULL OR r.entity_type = $3::text) ORDER BY r.id LIMIT $4::integer",
			 4, params);
}

static void
get_rule(Call *call, Reply *reply)
{
	const char *params[1] = {call->id};

	if (rule_id(call, reply))
		sql_object(call, reply, 200, "get_rule", "SELECT automation.get_rule($1::uuid)::text", 1, params);
}

static void
patch_rule(Call *call, Reply *reply)
{
	char	   *body;
	const char *params[2];

	if (!rule_id(call, reply))
		return;
	body = body_text(call);
	params[0] = call->id;
	params[1] = body;
	sql_object(call, reply, 200, "update_rule",
			   "SELECT automation.update_rule($1::uuid, $2::jsonb)::text", 2, params);
	free(body);
}

static void
delete_rule(Call *call, Reply *reply)
{
	const char *params[1] = {call->id};
	PGresult   *res;

	if (!rule_id(call, reply))
		return;
	res = call_exec(call, "SELECT automation.delete_rule($1::uuid)", 1, params, true);
	if (!db_ok(res, reply, "delete_rule"))
		return;
	PQclear(res);
	reply_deleted(reply, call->id);
}

/* --- backtest --- */

/*
 * backtest_scope: the scope a backtest body needs: read:workflows for a
 * workflow ({"id": "wf_..."} or a definition with condition_entity),
 * read:rules otherwise.
 */
const char *
backtest_scope(const json_t *body)
{
	const char *id = json_string_value(json_object_get(body, "id"));
	json_t	   *definition = json_object_get(body, "definition");

	if (id != NULL)
		return strncmp(id, "wf_", 3) == 0 ? "read:workflows" : "read:rules";
	if (json_is_object(definition) && json_object_get(definition, "condition_entity") != NULL)
		return "read:workflows";
	return "read:rules";
}

static void
post_backtest(Call *call, Reply *reply)
{
	json_t	   *id = json_object_get(call->json, "id");
	json_t	   *definition = json_object_get(call->json, "definition");
	json_t	   *sample = json_object_get(call->json, "sample");
	const char *key;
	char		sample_text[32];
	char	   *definition_text = NULL;
	const char *params[2];
	PGresult   *res;
	bool		exists;

	json_object_foreach(call->json, key, id)
	{
		if (strcmp(key, "id") != 0 && strcmp(key, "definition") != 0 && strcmp(key, "sample") != 0)
		{
			reply_error(reply, 400, "validation_error", "unknown key in the backtest body",
						json_pack("{s:s,s:s}", "key", key, "hint", "the keys are id or definition, and sample"));
			return;
		}
	}
	id = json_object_get(call->json, "id");
	if ((id == NULL) == (definition == NULL))
	{
		reply_error(reply, 400, "validation_error", "give exactly one of id and definition", NULL);
		return;
	}
	if (id != NULL && !json_is_string(id))
	{
		reply_error(reply, 400, "validation_error", "id must be a string", NULL);
		return;
	}
	/*
	 * Only an id: automation.backtest(text) also takes a body as JSON text,
	 * which backtest_scope would have checked as a rule's whatever it is
	 * (doc/redteam-api-0.4.0.md, A4).
	 */
	if (id != NULL && strncmp(json_string_value(id), "wf_", 3) != 0 && !valid_uuid(json_string_value(id)))
	{
		reply_error(reply, 404, "not_found", "no workflow or rule has this id",
					json_pack("{s:s}", "hint", "workflow ids look like wf_01J...; rule ids are uuids"));
		return;
	}
	if (definition != NULL && !json_is_object(definition))
	{
		reply_error(reply, 400, "validation_error", "definition must be an object", NULL);
		return;
	}
	if (sample != NULL && !(json_is_integer(sample) && json_integer_value(sample) >= 0 &&
							json_integer_value(sample) <= 1000))
	{
		reply_error(reply, 400, "validation_error", "sample must be an integer from 0 to 1000", NULL);
		return;
	}
	snprintf(sample_text, sizeof(sample_text), "%lld",
			 sample ? (long long) json_integer_value(sample) : 10LL);

	res = call_exec(call, id
				  ? "SELECT pg_catalog.to_regprocedure('automation.backtest(text, integer)') IS NOT NULL"
				  : "SELECT pg_catalog.to_regprocedure('automation.backtest(jsonb, integer)') IS NOT NULL",
				  0, NULL, false);
	if (!db_ok(res, reply, "backtest lookup"))
		return;
	exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!exists)
	{
		reply_error(reply, 501, "not_implemented", "backtest is not available in this version of the extension", NULL);
		return;
	}
	if (id != NULL)
		params[0] = json_string_value(id);
	else
		params[0] = definition_text = json_dumps(definition, JSON_COMPACT);
	params[1] = sample_text;
	sql_object(call, reply, 200, "backtest", id
			   ? "SELECT automation.backtest($1::text, $2::integer)::text"
			   : "SELECT automation.backtest($1::jsonb, $2::integer)::text", 2, params);
	free(definition_text);
}

/* --- history --- */

static void
get_jobs(Call *call, Reply *reply)
{
	const char *params[5];
	char		limit_text[16];
	int			limit;

	if (!arg_cursor(call, reply, CURSOR_BIGINT, &params[0]) ||
		!arg_text(call, reply, "status", &params[1]) ||
		!arg_text(call, reply, "action_type", &params[2]) ||
		!arg_text(call, reply, "entity", &params[3]) ||
		!arg_limit(call, reply, limit_text, sizeof(limit_text), &limit))
		return;
	params[4] = limit_text;
	sql_list(call, reply, limit, "list jobs",
			 "SELECT pg_catalog.to_jsonb(j)::text, j.id::text FROM automation.jobs j "
			 "WHERE ($1::bigint IS NULL OR j.id < $1::bigint) AND ($2::text IS NULL OR j.status::text = $2::text) "
			 "AND ($3::text IS NULL OR j.action_type::text = $3::text) AND ($4::text IS NULL OR j.entity = $4::text) "
			 "ORDER BY j.id DESC LIMIT $5::integer", 5, params);
}

static void
get_firings(Call *call, Reply *reply)
{
	const char *params[6];
	char		limit_text[16];
	int			limit;

	if (!arg_cursor(call, reply, CURSOR_BIGINT, &params[0]) ||
		!arg_text(call, reply, "workflow_id", &params[1]) ||
		!arg_uuid(call, reply, "rule_id", &params[2]) ||
		!arg_text(call, reply, "outcome", &params[3]) ||
		!arg_text(call, reply, "entity", &params[4]) ||
		!arg_limit(call, reply, limit_text, sizeof(limit_text), &limit))
		return;
	params[5] = limit_text;
	sql_list(call, reply, limit, "list firings",
			 "SELECT pg_catalog.to_jsonb(f)::text, f.id::text FROM automation.firings f "
			 "WHERE ($1::bigint IS NULL OR f.id < $1::bigint) AND ($2::text IS NULL OR f.workflow_id = $2::text) "
			 "AND ($3::uuid IS NULL OR f.rule_id = $3::uuid) AND ($4::text IS NULL OR f.outcome::text = $4::text) "
			 "AND ($5::text IS NULL OR f.entity = $5::text) ORDER BY f.id DESC LIMIT $6::integer", 6, params);
}

static void
get_alerts(Call *call, Reply *reply)
{
	const char *params[3];
	char		limit_text[16];
	int			limit;

	if (!arg_cursor(call, reply, CURSOR_BIGINT, &params[0]) ||
		!arg_text(call, reply, "kind", &params[1]) ||
		!arg_limit(call, reply, limit_text, sizeof(limit_text), &limit))
		return;
	params[2] = limit_text;
	sql_list(call, reply, limit, "list alerts",
			 "SELECT pg_catalog.to_jsonb(a)::text, a.id::text FROM automation.alerts a "
			 "WHERE ($1::bigint IS NULL OR a.id < $1::bigint) AND ($2::text IS NULL OR a.kind = $2::text) "
			 "ORDER BY a.id DESC LIMIT $3::integer", 3, params);
}

static void
get_circuit_breakers(Call *call, Reply *reply)
{
	const char *params[3];
	char		limit_text[16];
	int			limit;

	if (!arg_cursor(call, reply, CURSOR_WORKFLOW, &params[0]) ||
		!arg_bool(call, reply, "tripped", &params[1]) ||
		!arg_limit(call, reply, limit_text, sizeof(limit_text), &limit))
		return;
	params[2] = limit_text;
	sql_list(call, reply, limit, "list circuit breakers",
			 "SELECT pg_catalog.to_jsonb(b)::text, b.workflow_id FROM automation.circuit_breakers b "
			 "WHERE ($1::text IS NULL OR b.workflow_id > $1::text) AND ($2::boolean IS NULL OR b.tripped = $2::boolean) "
			 "ORDER BY b.workflow_id LIMIT $3::integer", 3, params);
}

/* --- the table --- */

static const char *const q_none[] = {NULL};
static const char *const q_workflows[] = {"cursor", "limit", "enabled", "entity", NULL};
static const char *const q_rules[] = {"cursor", "limit", "is_active", "entity", NULL};
static const char *const q_jobs[] = {"cursor", "limit", "status", "action_type", "entity", NULL};
static const char *const q_firings[] = {"cursor", "limit", "workflow_id", "rule_id", "outcome", "entity", NULL};
static const char *const q_alerts[] = {"cursor", "limit", "kind", NULL};
static const char *const q_breakers[] = {"cursor", "limit", "tripped", NULL};

const Route routes[] = {
	{"GET", "/healthz", NULL, BODY_NONE, q_none, get_healthz},
	{"GET", "/v1/openapi.json", NULL, BODY_NONE, q_none, get_openapi},
	{"POST", "/v1/workflows", "write:workflows", BODY_JSON, q_none, post_workflows},
	{"GET", "/v1/workflows", "read:workflows", BODY_NONE, q_workflows, get_workflows},
	{"GET", "/v1/workflows/{id}", "read:workflows", BODY_NONE, q_none, get_workflow},
	{"PATCH", "/v1/workflows/{id}", "write:workflows", BODY_JSON, q_none, patch_workflow},
	{"DELETE", "/v1/workflows/{id}", "write:workflows", BODY_NONE, q_none, delete_workflow},
	{"POST", "/v1/workflows/{id}/enable", "write:workflows", BODY_NONE, q_none, enable_workflow},
	{"POST", "/v1/workflows/{id}/disable", "write:workflows", BODY_NONE, q_none, disable_workflow},
	{"POST", "/v1/rules", "write:rules", BODY_JSON_OR_FORM, q_none, post_rules},
	{"GET", "/v1/rules", "read:rules", BODY_NONE, q_rules, get_rules},
	{"GET", "/v1/rules/{id}", "read:rules", BODY_NONE, q_none, get_rule},
	{"PATCH", "/v1/rules/{id}", "write:rules", BODY_JSON_OR_FORM, q_none, patch_rule},
	{"DELETE", "/v1/rules/{id}", "write:rules", BODY_NONE, q_none, delete_rule},
	{"POST", "/v1/backtest", "backtest", BODY_JSON, q_none, post_backtest},
	{"GET", "/v1/jobs", "read:jobs", BODY_NONE, q_jobs, get_jobs},
	{"GET", "/v1/firings", "read:jobs", BODY_NONE, q_firings, get_firings},
	{"GET", "/v1/circuit-breakers", "read:workflows", BODY_NONE, q_breakers, get_circuit_breakers},
	{"GET", "/v1/alerts", "read:jobs", BODY_NONE, q_alerts, get_alerts},
	{NULL, NULL, NULL, BODY_NONE, NULL, NULL}
};

/*
 * path_matches: whether url matches template; {id} takes one non-empty
 * segment (at most idsize - 1 bytes), copied to id.
 */
static bool
path_matches(const char *tmpl, const char *url, char *id, size_t idsize)
{
	const char *t = tmpl;
	const char *u = url;

	id[0] = '\0';
	while (*t && *u)
	{
		if (strncmp(t, "{id}", 4) == 0)
		{
			size_t		n = strcspn(u, "/");

			if (n == 0 || n >= idsize)
				return false;
			memcpy(id, u, n);
			id[n] = '\0';
			t += 4;
			u += n;
			continue;
		}
		if (*t != *u)
			return false;
		t++;
		u++;
	}
	return *t == '\0' && *u == '\0';
}

/*
 * route_match: the route of method and url, or NULL; allow is then set to
 * the methods the path takes, if any (for the Allow header).
 */
const Route *
route_match(const char *method, const char *url, char *id, size_t idsize, const char **allow)
{
	static __thread char allowed[64];

	allowed[0] = '\0';
	*allow = NULL;
	for (const Route *r = routes; r->method; r++)
	{
		if (!path_matches(r->path, url, id, idsize))
			continue;
		if (strcmp(r->method, method) == 0)
			return r;
		if (strlen(allowed) + strlen(r->method) + 3 < sizeof(allowed))
		{
			if (allowed[0])
				strcat(allowed, ", ");
			strcat(allowed, r->method);
		}
	}
	if (allowed[0])
		*allow = allowed;
	id[0] = '\0';
	return NULL;
}

/* print_routes: "METHOD /path" per route (--list-routes). */
void
print_routes(void)
{
	for (const Route *r = routes; r->method; r++)
		printf("%s %s\n", r->method, r->path);
}
