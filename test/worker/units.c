/*
 * units.c: table tests of the worker's pure parts, built and run by
 * test/e2e/worker.sh: address classification (ssrf.c), the signature
 * (sign.c) against a known HMAC-SHA256 value, and email composition
 * (smtp.c): mailboxes with display names, header injection, RFC 2047
 * folding, line lengths.
 *
 * Prints one line per failed case and "units: N passed, M failed"; exits
 * non-zero on failure.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

	printf("units: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
