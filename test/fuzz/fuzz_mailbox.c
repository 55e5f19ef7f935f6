/*-------------------------------------------------------------------------
 *
 * fuzz_mailbox.c
 *	  libFuzzer harness for the worker's mailbox parser
 *	  (email_parse_mailbox in src/worker/smtp.c).
 *
 * Invariants checked on every accepted mailbox: the envelope address is a
 * bare local@domain (one '@', no space, control, bracket, quote, comma or
 * semicolon, at most 254 octets); the header form is 7-bit, has no control
 * character except the "\r\n " of a fold, no line of 998 octets or more,
 * and ends with the address (bare) or with "<address>".  Parsing the header
 * form again gives the same address.  A message with it as From, To and
 * Reply-To has CRLF line ends only, lines under 998 octets, and its Subject
 * on a line of its own.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

WorkerOptions options;

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_addr(const char *addr)
{
	size_t		len = strlen(addr);
	const char *at = strchr(addr, '@');

	REQUIRE(len > 0 && len <= 254);
	REQUIRE(at != NULL && at > addr && at[1] != '\0' && strchr(at + 1, '@') == NULL);
	for (const unsigned char *p = (const unsigned char *) addr; *p; p++)
		REQUIRE(*p > 0x20 && *p < 0x7f && strchr("<>()[]\\,;:\"", *p) == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *in = malloc(size + 1);
	char	   *header = NULL;
	char	   *addr = NULL;

	memcpy(in, data, size);
	in[size] = '\0';
	if (email_parse_mailbox(in, &header, &addr))
	{
		size_t		hlen = strlen(header);
		size_t		alen = strlen(addr);
		size_t		line = 0;
		char	   *header2 = NULL;
		char	   *addr2 = NULL;

		check_addr(addr);
		for (size_t i = 0; i < hlen; i++)
		{
			unsigned char c = (unsigned char) header[i];

			REQUIRE(c < 0x80);
			if (c == '\r')
			{
				REQUIRE(header[i + 1] == '\n' && header[i + 2] == ' ');
				line = 0;
				i++;
				continue;
			}
			REQUIRE(c >= 0x20 && c != 0x7f);
			REQUIRE(++line < 998);
		}
		REQUIRE(hlen >= alen);
		if (strcmp(header, addr) != 0)
			REQUIRE(hlen >= alen + 2 && header[hlen - 1] == '>' &&
					header[hlen - alen - 2] == '<' &&
					memcmp(header + hlen - alen - 1, addr, alen) == 0);
		/* in a message, as From, To and Reply-To: each header keeps to its lines */
		{
			const char *list[2] = {header, NULL};
			Job			job;
			char	   *msg;
			size_t		cur = 0;

			memset(&job, 0, sizeof(job));
			job.id = 1;
			job.idempotency_key = "k";
			msg = email_build_message(&job, header, list, NULL, list, "x", "", 0);
			REQUIRE(strstr(msg, "\r\nSubject: x\r\n") != NULL);
			for (const char *p = msg; *p; p++)
			{
				if (*p == '\r')
					REQUIRE(p[1] == '\n');
				if (*p == '\n')
				{
					REQUIRE(p > msg && p[-1] == '\r');
					cur = 0;
				}
				else
					REQUIRE(++cur < 998);
			}
			free(msg);
		}
		/* the header form is itself a mailbox of the same address */
		if (strchr(header, '\r') == NULL)
		{
			REQUIRE(email_parse_mailbox(header, &header2, &addr2));
			REQUIRE(strcmp(addr2, addr) == 0);
			free(header2);
			free(addr2);
		}
		free(header);
		free(addr);
	}
	free(in);
	return 0;
}
