/*
 * worker.h: shared types and interfaces of automation-worker.
 *
 * The worker is one thread and one event loop (main.c): a libpq connection
 * that LISTENs and claims (queue.c), a curl multi handle that runs up to
 * --concurrency HTTP and SMTP deliveries (http.c, smtp.c), and outcomes
 * that are recorded in batches.  No delivery blocks the loop.
 *
 * Invariants:
 *   - a claimed job is either delivered and its outcome queued for
 *     recording, or still held (pending / in flight); an outcome that cannot
 *     be recorded stays queued until the database is back, and if the
 *     process dies the lease makes the job claimable again (at-least-once);
 *   - a claimed job starts only while its lease outlasts the delivery
 *     (lease.c); otherwise it is handed back unstarted (queue_release);
 *   - nothing from a job's data reaches a header line unencoded.
 */
#ifndef AUTOMATION_WORKER_H
#define AUTOMATION_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "log.h"
#include <sys/socket.h>

#include <curl/curl.h>

#include "vocabulary.h"

/* Options, fixed after parsing. */
typedef struct WorkerOptions
{
	const char *conninfo;
	int			concurrency;
	int			batch;
	int			lease_seconds;
	double		poll_seconds;
	bool		once;
	char	  **types;			/* NULL-terminated, or NULL for every type */
	char	  **allow_hosts;	/* NULL-terminated, or NULL */
	char	   *signing_secret;	/* NULL: requests are not signed */
	size_t		signing_secret_len;
	const char *smtp_url;
	const char *smtp_from;
	const char *worker_id;
	long		connect_timeout_ms;
	long		timeout_ms;
} WorkerOptions;

extern WorkerOptions options;

/* A claimed job, as the claim query returns it. */
typedef struct Job
{
	int64_t		id;
	char	   *action_type;
	const VocabAction *vocab;	/* NULL: a type this build does not know */
	int			attempt;
	int			max_attempts;
	char	   *idempotency_key;
	char	   *config_json;	/* payload.config without body */
	char	   *body;			/* the request body for webhook / json channel */
	bool		body_is_text;	/* body came from a JSON string */
	char	   *channel_format; /* NULL when no channel matched */
	char	   *channel_url;
	char	   *locked_until;	/* the lease as the database wrote it (text) */
	double		lease_deadline_ms;	/* now_ms() at the claim's send + lease */
	struct Job *next;
} Job;

/* What became of one delivery attempt, waiting to be recorded. */
typedef struct Outcome
{
	int64_t		job_id;
	bool		ok;
	bool		retryable;
	long		retry_after_seconds;	/* -1: none */
	char	   *result_json;	/* ok: jsonb for complete_job */
	char	   *error;			/* failure: text for fail_job */
	struct Outcome *next;
} Outcome;

/* One transfer in the curl multi handle. */
typedef struct Delivery
{
	Job		   *job;
	CURL	   *easy;
	struct curl_slist *headers;
	struct curl_slist *recipients;
	char	   *request_body;
	size_t		request_len;
	size_t		request_sent;	/* SMTP upload position */
	char		response_excerpt[201];
	size_t		response_len;
	char		refused[800];	/* SSRF refusal reason, "" if none */
	char		host[256];		/* destination host, lower case */
	bool		is_smtp;
	double		started_ms;
} Delivery;

/* The lease arithmetic (lease.c). */
typedef struct LeasePlan
{
	long		margin_ms;		/* M: min(1 s, lease / 20) */
	long		timeout_ms;		/* T': min(--timeout, lease - 2M) */
	long long	rounds;			/* W: floor((lease - 2M) / T'), at least 1 */
	int			claim_max;		/* min(--batch, concurrency * W) */
	int			concurrency;
} LeasePlan;

/* log.c */
extern void log_delivery(const Job *job, const char *outcome, double latency_ms,
						 const char *detail);

/* sign.c */
extern bool sign_body(const char *secret, size_t secret_len, const char *body,
					  size_t body_len, long timestamp, char *out, size_t outsize);

/* ssrf.c */
extern bool host_is_allowed(const char *host);
extern bool address_is_internal(const struct sockaddr *addr, char *why, size_t whysize);
extern void ssrf_protect(CURL *easy, Delivery *delivery);

/* http.c */
extern Delivery *http_prepare(Job *job, char *error, size_t errsize);
extern void http_finish(Delivery *delivery, CURLcode code, Outcome *outcome);

/* smtp.c */
extern Delivery *smtp_prepare(Job *job, char *error, size_t errsize);
extern void smtp_finish(Delivery *delivery, CURLcode code, Outcome *outcome);
extern bool email_parse_mailbox(const char *in, char **header, char **addr);
extern char *email_build_message(const Job *job, const char *from,
								 const char *const *to, const char *const *cc,
								 const char *const *reply_to, const char *subject,
								 const char *body, time_t date);

/* lease.c */
extern void lease_plan(LeasePlan *plan, long lease_ms, long timeout_ms, int concurrency,
					   int batch);
extern int	lease_claim_limit(const LeasePlan *plan, int inflight);
extern double lease_start_need_ms(const LeasePlan *plan, bool database_action);

/* queue.c */
extern bool queue_connected(void);
extern bool queue_connect(void);
extern void queue_disconnect(void);
extern int	queue_socket(void);
extern bool queue_consume_notifications(void);
extern Job *queue_claim(int max_jobs, int *count);
extern bool queue_record(Outcome **outcomes);
extern bool queue_release(Job **jobs);
extern bool queue_execute_database_job(Job *job, Outcome *outcome);
extern double queue_next_due_ms(void);
extern void job_free(Job *job);
extern void outcome_free(Outcome *outcome);

/* helpers shared by http.c and smtp.c (http.c) */
extern void delivery_free(Delivery *delivery);

/* actions.c */
extern const VocabAction *vocab_action(const char *job_action_type);
extern const char *vocab_action_names(void);

#endif							/* AUTOMATION_WORKER_H */
