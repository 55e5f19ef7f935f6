/*
 * main.c: automation-worker's options, signals and event loop.
 *
 * The loop claims jobs in batches (on a notification, when the poll timer
 * or the next due job's time comes), keeps up to --concurrency HTTP/SMTP
 * transfers in one curl multi handle, runs database actions through
 * execute_job, and records outcomes in batches.
 *
 * Invariants:
 *   - a claim takes no more jobs than can start within their lease
 *     (lease.c), and a job starts only while its lease outlasts the
 *     delivery; a job that cannot is handed back unstarted with a warning,
 *     never delivered after its lease (another worker may hold it then);
 *   - a held job (pending or in flight) is always finished, also after
 *     SIGTERM/SIGINT, which only stop claiming; the exit status is then 0;
 *   - while the database is away, transfers go on, outcomes wait in memory
 *     and the connection is retried with backoff (100 ms doubling to 5 s);
 *   - --once exits when a claim finds nothing and nothing is held.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"

WorkerOptions options;
static LeasePlan plan;

static int	signal_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_requested = 0;

/* on_stop_signal: remember the request and wake the loop. */
static void
on_stop_signal(int signo)
{
	int			saved = errno;
	char		c = (char) signo;

	stop_requested = 1;
	if (write(signal_pipe[1], &c, 1) < 0)
	{
		/* the pipe is full: the loop will wake anyway */
	}
	errno = saved;
}

/* usage: the help text. */
static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: automation-worker [OPTIONS]\n"
			"Delivers the jobs of the automation extension (webhooks, channel\n"
			"messages, email) and runs its database actions.\n\n"
			"  --dbname CONNINFO          database to serve (default: libpq environment)\n"
			"  --concurrency N            deliveries in flight (default 4)\n"
			"  --batch N                  jobs claimed at once (default 20)\n"
			"  --lease SECONDS            lease of a claimed job (default 60)\n"
			"  --poll SECONDS             poll interval besides LISTEN (default 5)\n"
			"  --once                     deliver what is due, then exit\n"
			"  --types LIST               comma-separated action types to serve\n"
			"  --allow-host LIST          hosts allowed to be internal addresses\n"
			"  --signing-secret-file PATH secret for X-Automation-Signature\n"
			"  --smtp-url URL             SMTP server, e.g. smtp://127.0.0.1:25\n"
			"  --smtp-from MAILBOX        From address, with an optional display name\n"
			"  --worker-id NAME           name recorded in jobs.locked_by\n"
			"  --connect-timeout SECONDS  (default 5)\n"
			"  --timeout SECONDS          total per delivery (default 10)\n");
}

/* split_list: a comma-separated list as a NULL-terminated array (no empties). */
static char **
split_list(const char *text)
{
	char	   *copy = strdup(text);
	char	   *save = NULL;
	char	  **list = calloc(strlen(text) + 2, sizeof(char *));
	int			n = 0;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		while (*tok == ' ')
			tok++;
		if (*tok)
			list[n++] = strdup(tok);
	}
	free(copy);
	return list;
}

/* parse_number: a positive number option, or exit 2. */
static double
parse_number(const char *name, const char *text, double min, double max)
{
	char	   *end;
	double		v = strtod(text, &end);

	if (*text == '\0' || *end != '\0' || !(v >= min && v <= max))
	{
		fprintf(stderr, "automation-worker: %s must be a number from %g to %g, not \"%s\"\n",
				name, min, max, text);
		exit(2);
	}
	return v;
}

/* read_secret: the signing secret, without a trailing newline. */
static void
read_secret(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	char		buf[4096];
	size_t		len;

	if (f == NULL)
	{
		fprintf(stderr, "automation-worker: cannot read --signing-secret-file %s: %s\n",
				path, strerror(errno));
		exit(2);
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == 0)
	{
		fprintf(stderr, "automation-worker: --signing-secret-file %s is empty\n", path);
		exit(2);
	}
	options.signing_secret = malloc(len + 1);
	memcpy(options.signing_secret, buf, len);
	options.signing_secret[len] = '\0';
	options.signing_secret_len = len;
}

/* parse_options: fill options from argv, exit 2 on a bad one. */
static void
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"concurrency", required_argument, NULL, 'c'},
		{"batch", required_argument, NULL, 'b'},
		{"lease", required_argument, NULL, 'l'},
		{"poll", required_argument, NULL, 'p'},
		{"once", no_argument, NULL, 'o'},
		{"types", required_argument, NULL, 't'},
		{"allow-host", required_argument, NULL, 'a'},
		{"signing-secret-file", required_argument, NULL, 's'},
		{"smtp-url", required_argument, NULL, 'u'},
		{"smtp-from", required_argument, NULL, 'f'},
		{"worker-id", required_argument, NULL, 'w'},
		{"connect-timeout", required_argument, NULL, 'C'},
		{"timeout", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	static char default_id[300];
	char		host[256] = "localhost";
	int			opt;

	options.concurrency = 4;
	options.batch = 20;
	options.lease_seconds = 60;
	options.poll_seconds = 5;
	options.connect_timeout_ms = 5000;
	options.timeout_ms = 10000;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
	{
		switch (opt)
		{
			case 'd':
				options.conninfo = optarg;
				break;
			case 'c':
				options.concurrency = (int) parse_number("--concurrency", optarg, 1, 1000);
				break;
			case 'b':
				options.batch = (int) parse_number("--batch", optarg, 1, 10000);
				break;
			case 'l':
				options.lease_seconds = (int) parse_number("--lease", optarg, 1, 86400);
				break;
			case 'p':
				options.poll_seconds = parse_number("--poll", optarg, 0.01, 3600);
				break;
			case 'o':
				options.once = true;
				break;
			case 't':
				options.types = split_list(optarg);
				break;
			case 'a':
				options.allow_hosts = split_list(optarg);
				break;
			case 's':
				read_secret(optarg);
				break;
			case 'u':
				options.smtp_url = optarg;
				break;
			case 'f':
				options.smtp_from = optarg;
				break;
			case 'w':
				options.worker_id = optarg;
				break;
			case 'C':
				options.connect_timeout_ms = (long) (parse_number("--connect-timeout", optarg, 0.001, 600) * 1000);
				break;
			case 'T':
				options.timeout_ms = (long) (parse_number("--timeout", optarg, 0.001, 3600) * 1000);
				break;
			case 'h':
				usage(stdout);
				exit(0);
			default:
				usage(stderr);
				exit(2);
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "automation-worker: unexpected argument \"%s\"\n", argv[optind]);
		exit(2);
	}
	if (options.types)
	{
		if (options.types[0] == NULL)
		{
			fprintf(stderr, "automation-worker: --types is empty\n");
			exit(2);
		}
		for (char **t = options.types; *t; t++)
		{
			if (vocab_action(*t) == NULL)
			{
				fprintf(stderr, "automation-worker: --types: unknown action type \"%s\" (known: %s)\n",
						*t, vocab_action_names());
				exit(2);
			}
		}
	}
	if (options.smtp_from)
	{
		char	   *header;
		char	   *addr;

		if (!email_parse_mailbox(options.smtp_from, &header, &addr))
		{
			fprintf(stderr, "automation-worker: --smtp-from must be an address like bot@example.com "
					"or \"Sales Bot <bot@example.com>\"\n");
			exit(2);
		}
		free(header);
		free(addr);
	}
	if (options.worker_id == NULL)
	{
		gethostname(host, sizeof(host) - 1);
		snprintf(default_id, sizeof(default_id), "%s:%d", host, (int) getpid());
		options.worker_id = default_id;
	}
}

/* The loop's state. */
static Job *pending_head = NULL;
static Job **pending_tail = &pending_head;
static int	pending_count = 0;
static int	inflight = 0;
static Job *release_head = NULL;	/* claimed, not started, to hand back */
static Outcome *outcomes = NULL;
static int	outcome_count = 0;
static double oldest_outcome_ms = 0;

/* push_outcome: queue an outcome for recording. */
static void
push_outcome(Outcome *o)
{
	if (outcomes == NULL)
		oldest_outcome_ms = now_ms();
	o->next = outcomes;
	outcomes = o;
	outcome_count++;
}

/*
 * record_outcomes: try to record all queued outcomes.  Returns true when a
 * failure was recorded: a retry may now be due before the timer we know of.
 */
static bool
record_outcomes(void)
{
	bool		had_failure = false;

	if (outcomes == NULL || !queue_connected())
		return false;
	for (Outcome *o = outcomes; o; o = o->next)
		had_failure = had_failure || !o->ok;
	queue_record(&outcomes);
	outcome_count = 0;
	for (Outcome *o = outcomes; o; o = o->next)
		outcome_count++;
	if (outcomes)
		oldest_outcome_ms = now_ms();
	return had_failure;
}

/*
 * hand_back: a claimed job whose lease is too short to start it: warn, and
 * keep it for queue_release (flush_releases).
 */
static void
hand_back(Job *job, double remaining_ms, double need_ms)
{
	if (remaining_ms <= 0)
		log_info("warning: job=%lld type=%s not started: its lease expired %.1fs ago "
				 "(the worker was held up); handed back to the queue unless another worker has it",
				 (long long) job->id, job->action_type, -remaining_ms / 1000);
	else
		log_info("warning: job=%lld type=%s not started: its lease ends in %.1fs, less than the %.1fs "
				 "a delivery may take; handed back to the queue",
				 (long long) job->id, job->action_type, remaining_ms / 1000, need_ms / 1000);
	job->next = release_head;
	release_head = job;
}

/* flush_releases: hand back what hand_back kept; true when something was. */
static bool
flush_releases(void)
{
	if (release_head == NULL || !queue_connected())
		return false;
	return queue_release(&release_head);
}

/* fail_before_start: a job that cannot be delivered at all. */
static void
fail_before_start(Job *job, const char *error)
{
	Outcome    *o = calloc(1, sizeof(Outcome));

	o->job_id = job->id;
	o->ok = false;
	o->retryable = false;
	o->retry_after_seconds = -1;
	o->error = strdup(error);
	log_delivery(job, "failed", 0, error);
	push_outcome(o);
	job_free(job);
}

/*
 * start_job: run a database job now, or add a delivery to the multi handle.
 * Returns false when the job must wait (database action without database).
 */
static bool
start_job(CURLM *multi, Job *job)
{
	char		error[600];
	Delivery   *delivery = NULL;

	/* an action type this build does not know: never guess a path */
	if (job->vocab == NULL)
	{
		snprintf(error, sizeof(error),
				 "unknown action type \"%.100s\": this automation-worker does not know it "
				 "(known: %s); upgrade the worker to the extension's version",
				 job->action_type, vocab_action_names());
		fail_before_start(job, error);
		return true;
	}
	switch (job->vocab->runs)
	{
		case VOCAB_RUNS_DATABASE:
			{
				Outcome    *o;
				double		t0 = now_ms();

				if (!queue_connected())
					return false;
				o = calloc(1, sizeof(Outcome));
				if (queue_execute_database_job(job, o))
				{
					log_delivery(job, "succeeded", now_ms() - t0, NULL);
					outcome_free(o);
				}
				else
				{
					log_delivery(job, o->retryable ? "retry" : "failed", now_ms() - t0, o->error);
					push_outcome(o);
				}
				job_free(job);
				return true;
			}
		case VOCAB_RUNS_HTTP:
		case VOCAB_RUNS_CHANNEL:
			delivery = http_prepare(job, error, sizeof(error));
			break;
		case VOCAB_RUNS_EMAIL:
			delivery = smtp_prepare(job, error, sizeof(error));
			break;
	}
	if (delivery == NULL)
	{
		fail_before_start(job, error);
		return true;
	}
	delivery->started_ms = now_ms();
	curl_multi_add_handle(multi, delivery->easy);
	inflight++;
	return true;
}

/* finish_transfers: turn every finished transfer into an outcome. */
static void
finish_transfers(CURLM *multi)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
	{
		Delivery   *delivery = NULL;
		Outcome    *o;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &delivery);
		o = calloc(1, sizeof(Outcome));
		if (delivery->is_smtp)
			smtp_finish(delivery, msg->data.result, o);
		else
			http_finish(delivery, msg->data.result, o);
		log_delivery(delivery->job, o->ok ? "succeeded" : o->retryable ? "retry" : "failed",
					 now_ms() - delivery->started_ms, o->error);
		push_outcome(o);
		curl_multi_remove_handle(multi, msg->easy_handle);
		job_free(delivery->job);
		delivery_free(delivery);
		inflight--;
	}
}

/* drain_signal_pipe: empty the self-pipe. */
static void
drain_signal_pipe(void)
{
	char		buf[64];

	while (read(signal_pipe[0], buf, sizeof(buf)) > 0)
		;
}

/* main: parse options, then loop until stopped (or drained with --once). */
int
main(int argc, char **argv)
{
	CURLM	   *multi;
	struct sigaction sa;
	double		reconnect_at = 0;
	double		reconnect_backoff = 100;
	double		next_poll = 0;
	double		next_due = 0;
	double		stop_deadline = 0;
	bool		want_claim = true;
	bool		claim_found_nothing = false;
	bool		ever_connected = false;

	parse_options(argc, argv);
	if (pipe(signal_pipe) != 0)
	{
		perror("pipe");
		return 1;
	}
	for (int i = 0; i < 2; i++)
	{
		fcntl(signal_pipe[i], F_SETFL, fcntl(signal_pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(signal_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
	{
		fprintf(stderr, "automation-worker: curl_global_init failed\n");
		return 1;
	}
	lease_plan(&plan, options.lease_seconds * 1000L, options.timeout_ms, options.concurrency,
			   options.batch);
	if (plan.timeout_ms < options.timeout_ms)
		log_info("warning: --timeout %gs does not fit in --lease %ds: deliveries time out after %gs, "
				 "so that each ends %gs before its lease (raise --lease to allow longer deliveries)",
				 options.timeout_ms / 1000.0, options.lease_seconds, plan.timeout_ms / 1000.0,
				 plan.margin_ms / 1000.0);
	options.timeout_ms = plan.timeout_ms;
	if (plan.claim_max < options.batch)
		log_info("claims at most %d job(s) at a time (not --batch %d): --concurrency %d x %lld round(s) "
				 "of deliveries of up to %gs fit in --lease %ds less %gs",
				 plan.claim_max, options.batch, options.concurrency, plan.rounds,
				 plan.timeout_ms / 1000.0, options.lease_seconds, 2 * plan.margin_ms / 1000.0);
	multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) options.concurrency * 4);
	log_info("worker %s starting: concurrency=%d batch=%d lease=%ds timeout=%gs poll=%gs%s",
			 options.worker_id, options.concurrency, options.batch,
			 options.lease_seconds, options.timeout_ms / 1000.0, options.poll_seconds,
			 options.once ? " once" : "");

	for (;;)
	{
		double		now = now_ms();
		double		wait_ms;
		struct curl_waitfd fds[2];
		unsigned int nfds = 0;
		int			running;

		if (stop_requested && stop_deadline == 0)
		{
			log_info("stop requested: finishing %d held job(s)", pending_count + inflight);
			stop_deadline = now + 30000;
		}

		/* the database connection */
		if (!queue_connected() && now >= reconnect_at)
		{
			if (queue_connect())
			{
				reconnect_backoff = 100;
				want_claim = true;
				ever_connected = true;
			}
			else if (options.once && !ever_connected)
			{
				log_error("--once: no database, nothing to do");
				curl_multi_cleanup(multi);
				curl_global_cleanup();
				return 1;
			}
			else
			{
				reconnect_at = now + reconnect_backoff;
				reconnect_backoff = reconnect_backoff * 2 > 5000 ? 5000 : reconnect_backoff * 2;
			}
		}

		/* record outcomes in batches, or when idle, old or stopping */
		if (outcomes && queue_connected() &&
			(outcome_count >= options.batch || inflight + pending_count == 0 ||
			 now - oldest_outcome_ms >= 20 || stop_requested) &&
			record_outcomes())
			want_claim = true;

		/* hand back the jobs not started (a claim may then take them again) */
		if (flush_releases())
			want_claim = true;

		/* claim when nothing waits to start and a slot is free */
		if (!stop_requested && queue_connected() && pending_count == 0 &&
			inflight < options.concurrency &&
			(want_claim || now >= next_poll || now >= next_due))
		{
			int			count = 0;
			int			limit = lease_claim_limit(&plan, inflight);
			Job		   *jobs = queue_claim(limit, &count);

			if (count >= 0)
			{
				*pending_tail = jobs;
				while (*pending_tail)
					pending_tail = &(*pending_tail)->next;
				pending_count += count;
				next_poll = now + options.poll_seconds * 1000;
				want_claim = count == limit;
				claim_found_nothing = count == 0;
				if (count < limit)
				{
					double		due = queue_next_due_ms();

					/* a due job we could not claim (locked elsewhere): poll soon */
					next_due = now + (due < 10 ? 10 : due);
				}
			}
		}

		/* start what the concurrency allows, while the lease outlasts it */
		while (pending_head && inflight < options.concurrency)
		{
			Job		   *job = pending_head;
			Job		   *rest = job->next;
			/* a database action or an unknown type (failed at once) needs no delivery time */
			double		need = lease_start_need_ms(&plan, job->vocab == NULL ||
												   job->vocab->runs == VOCAB_RUNS_DATABASE);
			double		remaining = job->lease_deadline_ms - now_ms();

			job->next = NULL;
			if (remaining < need)
			{
				pending_head = rest;
				if (pending_head == NULL)
					pending_tail = &pending_head;
				pending_count--;
				hand_back(job, remaining, need);
				continue;
			}
			if (!start_job(multi, job))
			{
				job->next = rest;
				break;
			}
			pending_head = rest;
			if (pending_head == NULL)
				pending_tail = &pending_head;
			pending_count--;
		}

		curl_multi_perform(multi, &running);
		finish_transfers(multi);

		/* leaving */
		if (inflight == 0 && pending_count == 0 &&
			(stop_requested || (options.once && claim_found_nothing)))
		{
			record_outcomes();
			flush_releases();
			if ((outcomes == NULL && release_head == NULL) ||
				(stop_requested && stop_deadline > 0 && now_ms() > stop_deadline))
				break;
		}
		if (stop_requested && stop_deadline > 0 && now_ms() > stop_deadline)
		{
			log_error("stop: gave up after 30 s with %d job(s) held; their leases will expire",
					  pending_count + inflight);
			break;
		}
		if (options.once && inflight == 0 && pending_count == 0)
			want_claim = true;

		/* wait for a transfer, a notification, a signal or a timer */
		if ((pending_head && inflight < options.concurrency && queue_connected()) ||
			(release_head && queue_connected()) ||
			(want_claim && queue_connected() && !stop_requested && pending_count == 0 &&
			 inflight < options.concurrency) ||
			(options.once && claim_found_nothing && inflight == 0 && pending_count == 0 &&
			 queue_connected()))
			wait_ms = 0;
		else
		{
			wait_ms = 1000;
			if (queue_connected() && !stop_requested)
			{
				if (next_poll - now < wait_ms)
					wait_ms = next_poll - now;
				if (next_due - now < wait_ms)
					wait_ms = next_due - now;
			}
			if (!queue_connected() && reconnect_at - now < wait_ms)
				wait_ms = reconnect_at - now;
			if (outcomes && queue_connected() && oldest_outcome_ms + 20 - now < wait_ms)
				wait_ms = oldest_outcome_ms + 20 - now;
			if (wait_ms < 0)
				wait_ms = 0;
		}
		fds[nfds].fd = signal_pipe[0];
		fds[nfds].events = CURL_WAIT_POLLIN;
		fds[nfds].revents = 0;
		nfds++;
		if (queue_connected())
		{
			fds[nfds].fd = queue_socket();
			fds[nfds].events = CURL_WAIT_POLLIN;
			fds[nfds].revents = 0;
			nfds++;
		}
		curl_multi_poll(multi, fds, nfds, (int) wait_ms, NULL);
		if (fds[0].revents)
			drain_signal_pipe();
		if (nfds > 1 && fds[1].revents && queue_consume_notifications())
			want_claim = true;
	}

	if (outcomes)
		log_error("exiting with %d outcome(s) not recorded; those jobs will be delivered again after their lease",
				  outcome_count);
	if (release_head)
		log_error("exiting with unstarted job(s) not handed back; they are claimable when their lease ends");
	queue_disconnect();
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	log_info("worker %s stopped", options.worker_id);
	return 0;
}
