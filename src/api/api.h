/*
 * api.h: automation-api, the HTTP API of the automation extension (SPEC
 * section 13), on GNU libmicrohttpd, libpq and jansson.
 *
 * Shape: main.c (options, signals, the daemon, draining), request.c (one
 * request from its first byte to its response: body limits, envelopes,
 * headers), db.c (the per-thread libpq connection, the transaction of a
 * request, SQLSTATE to HTTP), routes.c (the one route table and a handler
 * per route).
 *
 * Invariants:
 *   - every request that reaches the database is one transaction on the
 *     connection of the daemon thread that serves it: authenticate the key
 *     (automation._api_authenticate), SET LOCAL ROLE to the key's role,
 *     automation.tenant and automation.request_id set locally, one call of
 *     the SQL API with parameters, COMMIT; nothing a client sends becomes
 *     SQL text.  Two round trips (libpq pipeline mode): BEGIN and the key
 *     check; then the settings, the call and COMMIT, which run only if
 *     everything before them succeeded;
 *   - every response is JSON with the envelope of SPEC section 13 and
 *     carries X-Request-ID; every response after a key was recognised
 *     carries X-RateLimit-Limit/Remaining/Reset;
 *   - errors never show internals: a 500 says "internal error" and the
 *     cause goes to the log only.
 */
#ifndef AUTOMATION_API_H
#define AUTOMATION_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>

typedef struct ApiOptions
{
	const char *conninfo;
	const char *listen;
	int			pool;			/* daemon threads = database connections */
	const char *tenant_header;
	size_t		max_body;
	int			max_connections;
	int			timeout_seconds;	/* idle connection timeout */
	int			drain_seconds;	/* SIGTERM: longest wait for requests */
	int			anonymous_rate_limit;	/* per client address and minute, 0: none */
} ApiOptions;

extern ApiOptions options;

/* A response being built. */
typedef struct Reply
{
	int			status;
	char	   *body;			/* malloc'd JSON text */
	size_t		body_len;
	const char *content_type;
	bool		static_body;	/* body is not to be freed */
	const char *allow;			/* Allow header for a path with other methods */
} Reply;

/* What authentication learnt: the rate-limit headers of the key. */
typedef struct KeyInfo
{
	bool		known;			/* a key was recognised: rate headers */
	char		key_id[64];
	char		role[128];
	char		tenant[130];
	bool		has_tenant;
	int			rate_limit;
	int			remaining;
	int			reset_seconds;
	int			retry_after;	/* > 0: Retry-After */
} KeyInfo;

/* One request (the per-request state of libmicrohttpd). */
typedef struct Request
{
	char		request_id[130];
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	uint64_t	received;		/* bytes of body received, kept or not */
	bool		too_large;
	double		started_ms;
	int			status;
	KeyInfo		key;
	char		method[16];		/* for the log */
	char		path[200];
} Request;

/* Handler context: the request and its connection, in a transaction. */
typedef struct Call
{
	struct MHD_Connection *connection;
	Request    *request;
	PGconn	   *db;				/* NULL for routes without a key */
	const char *id;				/* the {id} of the path, or NULL */
	const char *idempotency_key;	/* a UUID, or NULL */
	json_t	   *json;			/* the parsed body, when the route takes JSON */
	char	   *form_json;		/* a form body as a flat JSON object of strings */
	const char *setup[3];		/* role, tenant, request id: set before the first statement */
	bool		setup_done;
	bool		ended;			/* the transaction was committed or rolled back */
} Call;

typedef void (*RouteHandler) (Call *call, Reply *reply);

typedef enum BodyKind
{
	BODY_NONE,					/* empty, or an empty JSON object */
	BODY_JSON,					/* a JSON object, application/json */
	BODY_JSON_OR_FORM			/* the above, or multipart / urlencoded */
} BodyKind;

typedef struct Route
{
	const char *method;
	const char *path;			/* template: {id} matches one segment */
	const char *scope;			/* NULL: no key (public) */
	BodyKind	body;
	const char *const *query;	/* the query parameters it accepts */
	RouteHandler handler;
} Route;

/* routes.c */
extern const Route routes[];
extern const Route *route_match(const char *method, const char *url, char *id, size_t idsize,
								const char **allow);
extern void print_routes(void);
extern const char *backtest_scope(const json_t *body);

/* request.c */
extern enum MHD_Result handle_request(void *cls, struct MHD_Connection *connection,
									  const char *url, const char *method, const char *version,
									  const char *upload_data, size_t *upload_data_size,
									  void **req_cls);
extern void request_completed(void *cls, struct MHD_Connection *connection,
							  void **req_cls, enum MHD_RequestTerminationCode toe);
extern void reply_data(Reply *reply, int status, const char *json_text);
extern void reply_data_json(Reply *reply, int status, json_t *data);
extern void reply_error(Reply *reply, int status, const char *code, const char *message,
						json_t *details);
extern bool valid_uuid(const char *s);
extern void new_ulid(char *out);
extern volatile int draining;
extern int	in_flight(void);

/* db.c */
extern PGconn *db_connection(void);
extern void db_discard(void);
extern PGconn *db_current(void);
extern bool db_ok(PGresult *res, Reply *reply, const char *what);
extern PGresult *db_exec(PGconn *db, const char *sql, int nparams, const char *const *params);
extern bool db_pipeline(PGconn *db, int count, const char *const *sql, const int *nparams,
						const char *const *const *params, PGresult **results);
extern PGresult *call_exec(Call *call, const char *sql, int nparams, const char *const *params,
						   bool final);
extern bool db_healthy(void);

/* main.c */
extern void log_info(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern void log_error(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern double now_ms(void);

/* openapi.c (generated from openapi.json) */
extern const unsigned char openapi_json[];
extern const size_t openapi_json_len;

#endif							/* AUTOMATION_API_H */
