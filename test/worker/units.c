/*
 * units.c: table tests of the worker's pure parts, built and run by
 * test/e2e/worker.sh: address classification (ssrf.c), the signature
 * (sign.c) against a known HMAC-SHA256 value, and email composition
 * (smtp.c): mailboxes with display names, header injection, RFC 2047
 * folding, line lengths; address fields rendered by the extension
 * (src/mergetoken.c) read back one mailbox per token, {"error": ...} fields
 * refused with the renderer's reason, 0.2.0 jobs parsed as before.
 *
 * Prints one line per failed case and "units: N passed, M failed"; exits
 * non-zero on failure.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mergetoken.h"
#include "worker.h"

WorkerOptions options;

static int	passed = 0;
static int	failed = 0;

/* expect: count one case. */
static void
expect(int ok, const char *what, const char *detail)
{
	if (ok)
		passed++;
	else
	{
		failed++;
		printf("units: FAILED %s (%s)\n", what, detail ? detail : "");
	}
}

/* prepare: smtp_prepare on a config; *nrcpt is the envelope's size. */
static Delivery *
prepare(const char *config, char *error, size_t errsize, int *nrcpt, char *rcpts, size_t rsize)
{
	static Job	job;
	Delivery   *d;

	memset(&job, 0, sizeof(job));
	job.id = 7;
	job.idempotency_key = "k";
	job.config_json = (char *) config;
	options.smtp_url = "smtp://127.0.0.1:1";
	options.smtp_from = "bot@example.com";
	error[0] = '\0';
	*nrcpt = 0;
	rcpts[0] = '\0';
	d = smtp_prepare(&job, error, errsize);
	if (d == NULL)
		return NULL;
	for (struct curl_slist *r = d->recipients; r; r = r->next)
	{
		(*nrcpt)++;
		if (strlen(rcpts) + strlen(r->data) + 2 < rsize)
		{
			strcat(rcpts, r->data);
			strcat(rcpts, " ");
		}
	}
	return d;
}

static void
prepared_free(Delivery *d)
{
	if (d == NULL)
		return;
	curl_easy_cleanup(d->easy);
	curl_slist_free_all(d->recipients);
	free(d->request_body);
	free(d);
}

static const char *token_value_for_test;

static const char *
lookup_value(void *arg, const char *path, size_t len)
{
	(void) arg;
	(void) path;
	(void) len;
	return token_value_for_test;
}

static void
append_out(void *arg, const char *s, size_t n)
{
	strncat((char *) arg, s, n);
}

/*
 * rendered_config: {"to": <tmpl rendered by the extension's renderer with
 * every token = value>}, or {"to": {"error": ...}} as render.c writes it.
 */
static char *
rendered_config(const char *tmpl, const char *value)
{
	static char out[4096];
	MailboxError err;
	json_t	   *config;
	char	   *text;

	out[0] = '\0';
	token_value_for_test = value;
	if (mergetoken_render_mailboxes(tmpl, strlen(tmpl), lookup_value, append_out, out, &err) >= 0)
		config = json_pack("{s:s}", "to", out);
	else
		config = json_pack("{s:{s:s}}", "to", "error", mergetoken_mailbox_message(err.code));
	text = json_dumps(config, 0);
	json_decref(config);
	return text;
}

/* internal: classify a textual address. */
static int
internal(const char *text)
{
	struct sockaddr_storage ss;
	char		why[200];

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':'))
	{
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;

		in6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1)
			return -1;
	}
	else
	{
		struct sockaddr_in *in = (struct sockaddr_in *) &ss;

		in->sin_family = AF_INET;
		if (inet_pton(AF_INET, text, &in->sin_addr) != 1)
			return -1;
	}
	return address_is_internal((struct sockaddr *) &ss, why, sizeof(why));
}

int
main(int argc, char **argv)
{
	static const char *const internal_addrs[] = {
		"0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.255.254", "10.0.0.1",
		"10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.0.1",
		"100.64.0.1", "100.127.255.255", "169.254.169.254", "224.0.0.1",
		"239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.0.1",
		"::", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "fec0::1",
		"ff02::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254",
		"64:ff9b::a9fe:a9fe", "::127.0.0.1", NULL
	};
	static const char *const public_addrs[] = {
		"1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "172.15.255.255",
		"172.32.0.0", "192.167.255.255", "192.169.0.0", "100.63.255.255",
		"100.128.0.0", "169.253.255.255", "223.255.255.255", "93.184.216.34",
		"2606:4700::1111", "2001:db8::1", "::ffff:8.8.8.8", "64:ff9b::808:808", NULL
	};
	char		sig[200];
	char	   *msg;
	Job			job;
	const char *to[] = {"ann@example.com", "bob@example.com", NULL};
	const char *cc[] = {NULL};
	char		long_subject[3000];

	for (int i = 0; internal_addrs[i]; i++)
		expect(internal(internal_addrs[i]) == 1, "internal address", internal_addrs[i]);
	for (int i = 0; public_addrs[i]; i++)
		expect(internal(public_addrs[i]) == 0, "public address", public_addrs[i]);

	/* sign.c against a value computed independently (argv[1], by Python) */
	expect(sign_body("key", 3, "{\"a\":1}", 7, 1700000000, sig, sizeof(sig)), "sign_body", NULL);
	expect(argc > 1 && strcmp(sig, argv[1]) == 0, "signature matches Python's hmac", sig);

	memset(&job, 0, sizeof(job));
	job.id = 42;
	job.idempotency_key = "11111111-2222-3333-4444-555555555555";
	msg = email_build_message(&job, "bot@example.com", to, cc, NULL,
							  "a\r\nBcc: evil@example.com\nX-Injected: 1", "body", 0);
	expect(strstr(msg, "\r\nBcc:") == NULL && strstr(msg, "\nX-Injected") == NULL,
		   "CR/LF in the subject adds no header", msg);
	expect(strstr(msg, "Subject: a  Bcc: evil@example.com X-Injected: 1\r\n") != NULL,
		   "control characters become spaces", msg);
	expect(strstr(msg, "Message-ID: <job-42-11111111-2222-3333-4444-555555555555@automation>\r\n") != NULL,
		   "Message-ID", msg);
	expect(strstr(msg, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n") != NULL, "Date", msg);
	expect(strstr(msg, "To: ann@example.com,\r\n bob@example.com\r\n") != NULL, "To folded", msg);
	expect(strstr(msg, "Cc:") == NULL, "no empty Cc", msg);
	free(msg);

	msg = email_build_message(&job, "bot@example.com", to, cc, NULL, "=?UTF-8?B?QmNjOiB4?=", "", 0);
	expect(strstr(msg, "Subject: =?UTF-8?B?PT9VVEYtOD9CP1FtTmpPaUI0Pz0=?=\r\n") != NULL,
		   "a subject that looks like an encoded word is encoded itself", msg);
	free(msg);

	memset(long_subject, 0, sizeof(long_subject));
	for (int i = 0; i < 900; i++)
		strcat(long_subject, "\xc3\xa9");	/* é, 1800 octets */
	msg = email_build_message(&job, "bot@example.com", to, cc, NULL, long_subject, "", 0);
	{
		int			longest = 0;
		int			cur = 0;
		int			words = 0;

		for (const char *p = msg; *p; p++)
		{
			if (*p == '\n')
			{
				longest = cur > longest ? cur : longest;
				cur = 0;
			}
			else
				cur++;
		}
		for (const char *p = msg; (p = strstr(p, "=?UTF-8?B?")) != NULL; p++)
			words++;
		expect(longest < 998 && longest <= 78, "encoded subject lines are folded", NULL);
		expect(words == 43, "1800 octets in encoded words of at most 42 octets of whole characters", NULL);
	}
	free(msg);

	/* long mailboxes in From and Reply-To do not run into the next header */
	{
		char		in[700];
		char	   *header = NULL;
		char	   *addr = NULL;
		const char *reply[3];
		char	   *from_header = NULL;
		char	   *from_addr = NULL;
		int			longest = 0;
		int			cur = 0;

		strcpy(in, "");
		for (int i = 0; i < 100; i++)
			strcat(in, "\xc3\xa9");	/* é: a 200-octet name, encoded */
		strcat(in, " <");
		for (int i = 0; i < 200; i++)
			strcat(in, "a");
		strcat(in, "@example.com>");
		expect(email_parse_mailbox(in, &header, &addr), "long mailbox parsed", NULL);
		expect(email_parse_mailbox(in, &from_header, &from_addr), "long From parsed", NULL);
		reply[0] = header;
		reply[1] = "second@example.com";
		reply[2] = NULL;
		msg = email_build_message(&job, from_header, to, cc, reply, "Hello", "", 0);
		expect(strstr(msg, ">\r\nTo: ") != NULL, "a long From ends its line", msg);
		expect(strstr(msg, "@example.com>,\r\n second@example.com\r\nSubject: Hello\r\n") != NULL,
			   "every Reply-To mailbox, then the Subject on its own line", msg);
		for (const char *p = msg; *p; p++)
		{
			if (*p == '\n')
			{
				longest = cur > longest ? cur : longest;
				cur = 0;
			}
			else
				cur++;
		}
		expect(longest < 998, "no header line of 998 octets", NULL);
		free(msg);
		free(header);
		free(addr);
		free(from_header);
		free(from_addr);
	}

	/* mailboxes: display names quoted or encoded; nothing can end the header */
	{
		static const struct
		{
			const char *in;
			const char *header;	/* NULL: refused */
			const char *addr;
		}			mailboxes[] = {
			{"ann@example.com", "ann@example.com", "ann@example.com"},
			{"  <ann@example.com>  ", "ann@example.com", "ann@example.com"},
			{"Ann Lee <ann@example.com>", "\"Ann Lee\" <ann@example.com>", "ann@example.com"},
			{"\"Lee, Ann\" <ann@example.com>", "\"Lee, Ann\" <ann@example.com>", "ann@example.com"},
			{"\"Ann \\\"A\\\" Lee\" <ann@example.com>", "=?UTF-8?B?QW5uICJBIiBMZWU=?= <ann@example.com>", "ann@example.com"},
			{"Zo\xc3\xab <zoe@example.com>", "=?UTF-8?B?Wm/Dqw==?= <zoe@example.com>", "zoe@example.com"},
			{"=?UTF-8?B?QmNjOiB4?= <a@example.com>", "=?UTF-8?B?PT9VVEYtOD9CP1FtTmpPaUI0Pz0=?= <a@example.com>", "a@example.com"},
			{"Evil\r\nBcc: x@example.com <a@example.com>", NULL, NULL},
			{"\"Evil\nBcc: x\" <a@example.com>", NULL, NULL},
			{"Ann <ann@example.com", NULL, NULL},
			{"Ann <ann@example.com> trailing", NULL, NULL},
			{"Ann <ann@example.com>>", NULL, NULL},
			{"Ann \"Lee <ann@example.com>", NULL, NULL},
			{"\"Ann <ann@example.com>", NULL, NULL},
			{"\"a<b> c\" <ann@example.com>", "\"a<b> c\" <ann@example.com>", "ann@example.com"},
			{"Ann\tLee <ann@example.com>", "\"Ann Lee\" <ann@example.com>", "ann@example.com"},
			{"Ann <ann@exa mple.com>", NULL, NULL},
			{"Ann <>", NULL, NULL},
			{"Ann", NULL, NULL},
			{"", NULL, NULL},
		};

		for (size_t i = 0; i < sizeof(mailboxes) / sizeof(mailboxes[0]); i++)
		{
			char	   *header = NULL;
			char	   *addr = NULL;
			bool		ok = email_parse_mailbox(mailboxes[i].in, &header, &addr);

			if (mailboxes[i].header == NULL)
				expect(!ok, "mailbox refused", mailboxes[i].in);
			else
				expect(ok && strcmp(header, mailboxes[i].header) == 0 &&
					   strcmp(addr, mailboxes[i].addr) == 0, "mailbox parsed", ok ? header : mailboxes[i].in);
			if (ok)
			{
				free(header);
				free(addr);
			}
		}
	}

	/* address fields: one mailbox per token, {"error": ...}, 0.2.0 jobs */
	{
		static const char *const names[] = {
			"Eve \"x\" <victim@example.org>,\r\nBcc: v@example.org",
			"a\\\", b@c <d@example.org>", "\\", "\"", ",", ";", "x\" <victim@example.org>, \"y",
			"=?UTF-8?B?QmNjOiB4?=", "<victim@example.org>", "Zo\xc3\xab, \"Z\" \\ <z>",
			"group: victim@example.org;", "\t\r\n", NULL
		};
		static const char *const templates[] = {
			"{{deal.name}} <ann@example.com>", "\"{{deal.name}}\" <ann@example.com>",
			"\"Re: {{deal.name}}, \\\"x\\\"\" <ann@example.com>", NULL
		};
		char		error[600];
		char		rcpts[600];
		int			n;
		Delivery   *d;
		char	   *config;

		for (int t = 0; templates[t]; t++)
			for (int i = 0; names[i]; i++)
			{
				config = rendered_config(templates[t], names[i]);
				d = prepare(config, error, sizeof(error), &n, rcpts, sizeof(rcpts));
				expect(d != NULL && n == 1 && strcmp(rcpts, "<ann@example.com> ") == 0 &&
					   strstr(d->request_body, "\r\nBcc") == NULL,
					   "a display name from a token: one recipient, no header", config);
				prepared_free(d);
				free(config);
			}
		for (int i = 0; names[i]; i++)
		{
			config = rendered_config("{{deal.email}}", names[i]);
			d = prepare(config, error, sizeof(error), &n, rcpts, sizeof(rcpts));
			/* refused, or (only "<victim@example.org>") exactly one mailbox */
			expect(d == NULL ? strcmp(error, "to: did not render one email address") == 0
				   : (n == 1 && strcmp(names[i], "<victim@example.org>") == 0),
				   "a token for a whole mailbox: refused unless it is one", config);
			prepared_free(d);
			free(config);
		}
		config = rendered_config("{{deal.email}}, boss@example.com", "\"Lee, Ann\" <ann@example.com>");
		d = prepare(config, error, sizeof(error), &n, rcpts, sizeof(rcpts));
		expect(d != NULL && n == 2 && strcmp(rcpts, "<ann@example.com> <boss@example.com> ") == 0,
			   "a token that is one mailbox with a quoted comma: one recipient", rcpts);
		prepared_free(d);
		free(config);

		d = prepare("{\"to\": {\"error\": \"merge token {{deal.email}} did not render one email address: \\\"me@example.com, victim@example.org\\\"\"}, \"subject\": \"s\"}",
					error, sizeof(error), &n, rcpts, sizeof(rcpts));
		expect(d == NULL && strcmp(error, "to: merge token {{deal.email}} did not render one email address: "
								   "\"me@example.com, victim@example.org\"") == 0,
			   "{\"error\": ...} fails the job naming the field", error);
		d = prepare("{\"to\": \"a@example.com\", \"reply_to\": {\"error\": \"bad\\r\\nBcc: x\"}}",
					error, sizeof(error), &n, rcpts, sizeof(rcpts));
		expect(d == NULL && strcmp(error, "reply_to: bad  Bcc: x") == 0, "reply_to error, controls as spaces", error);
		d = prepare("{\"to\": {\"nope\": 1}}", error, sizeof(error), &n, rcpts, sizeof(rcpts));
		expect(d == NULL && strcmp(error, "to must be a string or an array of strings") == 0,
			   "another object is refused as before", error);
		/* a 0.2.0 job: the rendered list was a string, delivered as before */
		d = prepare("{\"to\": \"me@example.com, victim@example.org\", \"subject\": \"s\"}",
					error, sizeof(error), &n, rcpts, sizeof(rcpts));
		expect(d != NULL && n == 2, "a 0.2.0 job's address list is parsed as before", error);
		prepared_free(d);
	}

	/* the lease arithmetic (lease.c, doc/worker.md "Leases and the backlog") */
	{
		static const struct
		{
			long		lease_ms, timeout_ms;
			int			concurrency, batch;
			long		margin_ms, eff_timeout_ms;
			long long	rounds;
			int			claim_max;
		}			cases[] = {
			/* the defaults: 4 x 5 rounds of 10 s in 60 s - 2 s = 20 = --batch */
			{60000, 10000, 4, 20, 1000, 10000, 5, 20},
			/* the issue: one 5 s delivery fits in 6 s - 0.6 s, so 1, not 10 */
			{6000, 5000, 1, 10, 300, 5000, 1, 1},
			/* 6 s lease, 2 s timeout: two rounds */
			{6000, 2000, 1, 10, 300, 2000, 2, 2},
			/* --timeout longer than the lease: capped at lease - 2M */
			{2000, 10000, 4, 20, 100, 1800, 1, 4},
			{1000, 10000, 1, 1, 50, 900, 1, 1},
			/* fast endpoints: --batch is the bound */
			{60000, 1000, 4, 200, 1000, 1000, 58, 200},
			/* a huge product does not overflow */
			{86400000, 1, 1000, 10000, 1000, 1, 86398000LL, 10000},
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		{
			LeasePlan	p;
			char		d[200];

			lease_plan(&p, cases[i].lease_ms, cases[i].timeout_ms, cases[i].concurrency, cases[i].batch);
			snprintf(d, sizeof(d), "lease %ld timeout %ld: margin %ld timeout %ld rounds %lld claim %d",
					 cases[i].lease_ms, cases[i].timeout_ms, p.margin_ms, p.timeout_ms, p.rounds, p.claim_max);
			expect(p.margin_ms == cases[i].margin_ms && p.timeout_ms == cases[i].eff_timeout_ms &&
				   p.rounds == cases[i].rounds && p.claim_max == cases[i].claim_max,
				   "lease plan", d);
			/* the bound holds: the last claimed job starts in time for a full delivery */
			expect((p.rounds * p.timeout_ms) + p.margin_ms <= cases[i].lease_ms - p.margin_ms,
				   "lease plan: W rounds of T' end M before the lease, with M for the claim", d);
		}
		{
			LeasePlan	p;

			lease_plan(&p, 60000, 10000, 4, 20);
			expect(lease_claim_limit(&p, 0) == 20 && lease_claim_limit(&p, 3) == 17 &&
				   lease_claim_limit(&p, 4) == 16, "claim limit: C*W minus the transfers in flight", NULL);
			lease_plan(&p, 60000, 1000, 4, 20);
			expect(lease_claim_limit(&p, 3) == 20, "claim limit: never above --batch", NULL);
			lease_plan(&p, 6000, 5000, 2, 10);
			expect(lease_claim_limit(&p, 1) == 1 && lease_claim_limit(&p, 5) == 1,
				   "claim limit: at least 1 while a slot is free", NULL);
			expect(lease_start_need_ms(&p, false) == 5300 && lease_start_need_ms(&p, true) == 300,
				   "start rule: T' + M for a delivery, M for a database action", NULL);
		}
	}

	printf("units: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
