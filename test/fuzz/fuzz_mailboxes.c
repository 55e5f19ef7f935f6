/*-------------------------------------------------------------------------
 *
 * fuzz_mailboxes.c
 *	  libFuzzer harness for address fields rendered with merge tokens
 *	  (mergetoken_render_mailboxes in src/mergetoken.c), read back by the
 *	  worker (smtp_prepare in src/worker/smtp.c).
 *
 * Input: the template, then up to three NUL-separated token values (a
 * token's value is chosen by its path's first letter: d, a, b; c is NULL).
 *
 * Invariants checked: the call returns -1 or a count; an error has a known
 * code, an offset inside the template, a NUL-terminated text of at most
 * MERGETOKEN_ERROR_TEXT + 3 octets without control characters, and a token
 * inside the template; on success the output has no control character, and
 * the worker reads from it exactly the reported number of recipients, each
 * a valid address, which is never more than the template's literal commas
 * plus one -- token values never add a recipient -- and the message it
 * builds has no Bcc header.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mergetoken.h"
#include "worker.h"

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

WorkerOptions options;

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct
{
	const char *values[4];
	char	   *out;
	size_t		len;
	size_t		cap;
} Input;

static const char *
value_of(void *arg, const char *path, size_t len)
{
	return len ? ((Input *) arg)->values[(unsigned char) path[0] % 4] : NULL;
}

static void
append(void *arg, const char *s, size_t n)
{
	Input	   *in = arg;

	if (in->len + n + 1 > in->cap)
	{
		in->cap = (in->len + n + 1) * 2;
		in->out = realloc(in->out, in->cap);
	}
	memcpy(in->out + in->len, s, n);
	in->len += n;
	in->out[in->len] = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *buf = malloc(size + 1);
	Input		in;
	MailboxError err;
	size_t		tlen;
	char	   *tmpl;
	int			n;
	size_t		commas = 0;

	memcpy(buf, data, size);
	buf[size] = '\0';
	memset(&in, 0, sizeof(in));
	tlen = strlen(buf);
	/* the template in an exactly-sized copy: reads past it are caught */
	tmpl = malloc(tlen ? tlen : 1);
	memcpy(tmpl, buf, tlen);
	{
		size_t		pos = tlen + 1;

		for (int i = 0; i < 3 && pos <= size; i++)
		{
			in.values[i] = buf + pos;
			pos += strlen(buf + pos) + 1;
		}
	}
	for (size_t i = 0; i < tlen; i++)
		commas += tmpl[i] == ',';

	n = mergetoken_render_mailboxes(tmpl, tlen, value_of, append, &in, &err);
	if (n < 0)
	{
		size_t		elen = strlen(err.text);

		REQUIRE(n == -1);
		REQUIRE(err.code > MB_OK && err.code <= MB_ERR_NAME_TOO_LONG);
		REQUIRE(mergetoken_mailbox_message(err.code) != NULL);
		REQUIRE(err.offset <= tlen);
		REQUIRE(elen <= MERGETOKEN_ERROR_TEXT + 3);
		for (size_t i = 0; i < elen; i++)
			REQUIRE((unsigned char) err.text[i] >= 0x20 && err.text[i] != 0x7f);
		if (err.token != NULL)
			REQUIRE(err.token >= tmpl && err.token + err.token_len <= tmpl + tlen &&
					err.token_len > 0);
	}
	else
	{
		json_t	   *config;

		REQUIRE((size_t) n <= commas + 1);
		for (size_t i = 0; i < in.len; i++)
			REQUIRE((unsigned char) in.out[i] >= 0x20 && in.out[i] != 0x7f);
		/* what the worker reads (valid UTF-8 only, as from PostgreSQL) */
		config = json_object();
		if (n > 0 && json_object_set_new(config, "to", json_stringn(in.out, in.len)) == 0)
		{
			char	   *text = json_dumps(config, 0);
			Job			job;
			char		error[600];
			Delivery   *d;
			int			rcpts = 0;

			memset(&job, 0, sizeof(job));
			job.id = 1;
			job.idempotency_key = "k";
			job.config_json = text;
			options.smtp_url = "smtp://127.0.0.1:1";
			options.smtp_from = "bot@example.com";
			d = smtp_prepare(&job, error, sizeof(error));
			REQUIRE(d != NULL);
			for (struct curl_slist *r = d->recipients; r; r = r->next)
			{
				size_t		rl = strlen(r->data);

				REQUIRE(rl >= 3 && r->data[0] == '<' && r->data[rl - 1] == '>');
				REQUIRE(mergetoken_address_is_valid(r->data + 1, rl - 2));
				rcpts++;
			}
			REQUIRE(rcpts == n);
			REQUIRE(strstr(d->request_body, "\r\nBcc") == NULL);
			curl_easy_cleanup(d->easy);
			curl_slist_free_all(d->recipients);
			free(d->request_body);
			free(d);
			free(text);
		}
		json_decref(config);
	}
	free(in.out);
	free(tmpl);
	free(buf);
	return 0;
}
