/*
 * smtp.c: send_email deliveries over SMTP with libcurl.
 *
 * The message is RFC 5322: Date, From, To, Cc, Reply-To, Subject,
 * Message-ID (stable per job: <job-<id>-<idempotency key>@automation>),
 * MIME-Version, Content-Type text/plain; charset=utf-8 and a base64 body.
 * Bcc recipients are only in the SMTP envelope.
 *
 * Invariants:
 *   - a merge token in to/cc/bcc/reply_to renders one mailbox: the
 *     extension writes such a field as canonical mailboxes, or as
 *     {"error": ...} which fails the job permanently here (collect_addresses);
 *   - nothing from the job's data can add a header: a mailbox's address is
 *     checked (no spaces, controls, quotes, brackets, commas), its display
 *     name has no control character and is written quoted or RFC
 *     2047-encoded, the subject has its control characters replaced by
 *     spaces and is RFC 2047-encoded when it is not plain printable ASCII,
 *     and the body is base64;
 *   - every header line is shorter than 998 octets (folded between
 *     addresses and between encoded words).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "worker.h"

/* A growable string. */
typedef struct Buffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buffer;

/* buf_append: append n bytes. */
static void
buf_append(Buffer *buf, const char *s, size_t n)
{
	if (buf->len + n + 1 > buf->cap)
	{
		buf->cap = (buf->len + n + 1) * 2;
		buf->data = realloc(buf->data, buf->cap);
	}
	memcpy(buf->data + buf->len, s, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
}

/* buf_puts: append a C string. */
static void
buf_puts(Buffer *buf, const char *s)
{
	buf_append(buf, s, strlen(s));
}

static const char base64_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* buf_base64: append the base64 of data, CRLF every line_len output chars (0: never). */
static void
buf_base64(Buffer *buf, const unsigned char *data, size_t len, int line_len)
{
	int			col = 0;

	for (size_t i = 0; i < len; i += 3)
	{
		uint32_t	v = (uint32_t) data[i] << 16;
		char		quad[4];

		if (i + 1 < len)
			v |= (uint32_t) data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		quad[0] = base64_alphabet[(v >> 18) & 63];
		quad[1] = base64_alphabet[(v >> 12) & 63];
		quad[2] = i + 1 < len ? base64_alphabet[(v >> 6) & 63] : '=';
		quad[3] = i + 2 < len ? base64_alphabet[v & 63] : '=';
		buf_append(buf, quad, 4);
		col += 4;
		if (line_len > 0 && col >= line_len)
		{
			buf_puts(buf, "\r\n");
			col = 0;
		}
	}
	if (line_len > 0 && col > 0)
		buf_puts(buf, "\r\n");
}

/*
 * buf_encoded_words: text as RFC 2047 base64 encoded words of whole UTF-8
 * characters, at most 42 octets each (56 base64 characters: a 68-character
 * word, a 77-character line), folded onto continuation lines.
 */
static void
buf_encoded_words(Buffer *buf, const char *text, size_t len)
{
	size_t		start = 0;

	while (start < len)
	{
		size_t		end = start;

		while (end < len)
		{
			size_t		next = end + 1;

			while (next < len && ((unsigned char) text[next] & 0xC0) == 0x80)
				next++;
			if (next - start > 42)
				break;
			end = next;
		}
		if (end == start)		/* an invalid long sequence: cut it */
			end = start + 42 < len ? start + 42 : len;
		if (start > 0)
			buf_puts(buf, "\r\n ");
		buf_puts(buf, "=?UTF-8?B?");
		buf_base64(buf, (const unsigned char *) text + start, end - start, 0);
		buf_puts(buf, "?=");
		start = end;
	}
}

/*
 * address_is_valid: a bare addr-spec local@domain with no character that
 * could end a header, start a comment or separate addresses.
 */
static bool
address_is_valid(const char *addr)
{
	const char *at = strchr(addr, '@');

	if (at == NULL || at == addr || at[1] == '\0' || strchr(at + 1, '@'))
		return false;
	if (strlen(addr) > 254)
		return false;
	for (const unsigned char *p = (const unsigned char *) addr; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("<>()[]\\,;:\"", *p))
			return false;
	return true;
}

/*
 * email_parse_mailbox: one mailbox of an address list: "addr", "<addr>",
 * "Display Name <addr>" or "\"Quoted, Name\" <addr>".  On success *header
 * is its header form (a display name quoted, or RFC 2047-encoded when it is
 * not printable ASCII) and *addr the bare addr-spec for the envelope, both
 * malloc'd.  A display name with a control character, an unbalanced quote
 * or bracket, or text after the '>' is refused: nothing from a job can add
 * a header.
 */
bool
email_parse_mailbox(const char *in, char **header, char **addr)
{
	size_t		len;
	const char *lt;
	char	   *name;
	char	   *bare;
	size_t		nlen = 0;
	bool		plain = true;
	Buffer		buf = {0};

	while (*in == ' ' || *in == '\t')
		in++;
	len = strlen(in);
	while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\t'))
		len--;
	if (len == 0)
		return false;
	if (in[len - 1] != '>')
	{
		bare = strndup(in, len);
		if (!address_is_valid(bare))
		{
			free(bare);
			return false;
		}
		*addr = bare;
		*header = strdup(bare);
		return true;
	}
	/* the last '<': an addr-spec has none, a quoted display name may */
	for (lt = in + len - 1; lt > in && *lt != '<'; lt--)
		;
	if (*lt != '<')
		return false;
	bare = strndup(lt + 1, (in + len - 1) - (lt + 1));
	if (!address_is_valid(bare))
	{
		free(bare);
		return false;
	}

	/* the display name: before '<', unquoted, without controls */
	name = malloc(lt - in + 1);
	{
		const char *p = in;
		const char *stop = lt;

		while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t'))
			stop--;
		if (stop > p && *p == '"')
		{
			if (stop - p < 2 || stop[-1] != '"')
				goto invalid;
			for (p++, stop--; p < stop; p++)
			{
				if (*p == '\\' && p + 1 < stop)
					p++;
				else if (*p == '"' || *p == '\\')
					goto invalid;
				name[nlen++] = *p;
			}
		}
		else
			for (; p < stop; p++)
			{
				if (*p == '"' || *p == '<' || *p == '>')
					goto invalid;
				name[nlen++] = *p;
			}
		name[nlen] = '\0';
	}
	if (nlen > 200)
		goto invalid;
	for (size_t i = 0; i < nlen; i++)
		if (name[i] == '\t')
			name[i] = ' ';
	for (size_t i = 0; i < nlen; i++)
	{
		unsigned char c = (unsigned char) name[i];

		if (c < 0x20 || c == 0x7f)
			goto invalid;
		if (c >= 0x80 || c == '"' || c == '\\')
			plain = false;
	}
	if (strstr(name, "=?") != NULL)
		plain = false;

	if (nlen == 0)
		buf_puts(&buf, bare);
	else
	{
		if (plain)
		{
			buf_puts(&buf, "\"");
			buf_puts(&buf, name);
			buf_puts(&buf, "\"");
		}
		else
			buf_encoded_words(&buf, name, nlen);
		buf_puts(&buf, " <");
		buf_puts(&buf, bare);
		buf_puts(&buf, ">");
	}
	free(name);
	*addr = bare;
	*header = buf.data;
	return true;

invalid:
	free(name);
	free(bare);
	return false;
}

/* list_push: append a malloc'd string to a NULL-terminated list of *count. */
static void
list_push(char ***list, int *count, char *s)
{
	*list = realloc(*list, sizeof(char *) * (*count + 2));
	(*list)[(*count)++] = s;
	(*list)[*count] = NULL;
}

/*
 * collect_addresses: the mailboxes of a config value (a string of
 * comma-separated mailboxes, or an array of them; a comma inside a quoted
 * display name does not separate), appended to headers (header form, count
 * in *nheaders) and addrs (bare, for the envelope, count in *naddrs); false
 * with error set on an invalid one.  {"error": "..."} is the extension's
 * renderer refusing a merge token that did not render one mailbox (0.3.0;
 * src/render.c): the job fails with "<field>: <why>".  Since 0.3.0 the
 * renderer writes a field with tokens as canonical mailboxes, which this
 * parser reads back one for one; fields of jobs enqueued by 0.2.0 are
 * parsed as they always were.
 */
static bool
collect_addresses(json_t *value, const char *field, char ***headers, int *nheaders,
				  char ***addrs, int *naddrs, char *error, size_t errsize)
{
	json_t	   *items = json_is_array(value) ? json_incref(value) : json_array();
	size_t		i;
	json_t	   *item;
	bool		ok = true;

	if (json_is_string(value))
		json_array_append(items, value);
	else if (json_is_object(value) && json_is_string(json_object_get(value, "error")))
	{
		/* the renderer's refusal: a merge token that is not one mailbox */
		json_decref(items);
		snprintf(error, errsize, "%s: %s", field,
				 json_string_value(json_object_get(value, "error")));
		for (char *e = error; *e; e++)
			if ((unsigned char) *e < 0x20 || *e == 0x7f)
				*e = ' ';
		return false;
	}
	else if (value != NULL && !json_is_null(value) && !json_is_array(value))
	{
		json_decref(items);
		snprintf(error, errsize, "%s must be a string or an array of strings", field);
		return false;
	}
	json_array_foreach(items, i, item)
	{
		char	   *copy;
		char	   *tok;
		char	   *p;
		bool		quoted = false;
		bool		last = false;

		if (!json_is_string(item))
		{
			snprintf(error, errsize, "%s must be a string or an array of strings", field);
			ok = false;
			break;
		}
		copy = strdup(json_string_value(item));
		for (tok = p = copy; ok && !last; p++)
		{
			char	   *header;
			char	   *addr;

			if (*p == '"')
				quoted = !quoted;
			else if (*p == '\\' && quoted && p[1] != '\0')
				p++;
			if (*p != '\0' && (*p != ',' || quoted))
				continue;
			/* tok .. p is one mailbox */
			last = *p == '\0';
			*p = '\0';
			while (*tok == ' ' || *tok == '\t')
				tok++;
			if (*tok != '\0')
			{
				if (email_parse_mailbox(tok, &header, &addr))
				{
					list_push(headers, nheaders, header);
					list_push(addrs, naddrs, addr);
				}
				else
				{
					snprintf(error, errsize, "%s: invalid email address \"%.100s\"", field, tok);
					for (char *e = error; *e; e++)
						if ((unsigned char) *e < 0x20)
							*e = ' ';
					ok = false;
				}
			}
			tok = p + 1;
		}
		free(copy);
		if (!ok)
			break;
	}
	json_decref(items);
	return ok;
}

/* free_list: free a NULL-terminated list of strings. */
static void
free_list(char **list)
{
	if (list == NULL)
		return;
	for (char **p = list; *p; p++)
		free(*p);
	free(list);
}

/* add_address_header: "Name: a,\r\n b" folded between addresses. */
static void
add_address_header(Buffer *buf, const char *name, const char *const *addrs)
{
	if (addrs == NULL || addrs[0] == NULL)
		return;
	buf_puts(buf, name);
	buf_puts(buf, ": ");
	for (int i = 0; addrs[i]; i++)
	{
		if (i > 0)
			buf_puts(buf, ",\r\n ");
		buf_puts(buf, addrs[i]);
	}
	buf_puts(buf, "\r\n");
}

/*
 * add_subject: the Subject header; controls become spaces, and anything
 * beyond printable ASCII (or a long subject) is sent as RFC 2047 base64
 * encoded words of whole UTF-8 characters, one per folded line.
 */
static void
add_subject(Buffer *buf, const char *subject)
{
	size_t		len = strlen(subject);
	char	   *clean = malloc(len + 1);
	bool		plain = len <= 900;

	for (size_t i = 0; i <= len; i++)
	{
		unsigned char c = (unsigned char) subject[i];

		clean[i] = (c != '\0' && (c < 0x20 || c == 0x7f)) ? ' ' : (char) c;
		if (c >= 0x80)
			plain = false;
	}
	/* "=?" would be read as the start of an encoded word */
	if (strstr(clean, "=?") != NULL)
		plain = false;
	buf_puts(buf, "Subject: ");
	if (plain)
		buf_puts(buf, clean);
	else
		buf_encoded_words(buf, clean, len);
	buf_puts(buf, "\r\n");
	free(clean);
}

/*
 * email_build_message: the complete RFC 5322 message (CRLF line ends).
 * Addresses must be valid (address_is_valid); subject and body are any
 * UTF-8 text.
 */
char *
email_build_message(const Job *job, const char *from, const char *const *to,
					const char *const *cc, const char *const *reply_to, const char *subject,
					const char *body, time_t date)
{
	Buffer		buf = {0};
	char		line[512];
	struct tm	tm;

	gmtime_r(&date, &tm);
	strftime(line, sizeof(line), "Date: %a, %d %b %Y %H:%M:%S +0000\r\n", &tm);
	buf_puts(&buf, line);
	/* mailboxes can be long (an encoded name and a 254-octet address) */
	buf_puts(&buf, "From: ");
	buf_puts(&buf, from);
	buf_puts(&buf, "\r\n");
	add_address_header(&buf, "To", to);
	add_address_header(&buf, "Cc", cc);
	add_address_header(&buf, "Reply-To", reply_to);
	add_subject(&buf, subject ? subject : "");
	snprintf(line, sizeof(line), "Message-ID: <job-%lld-%s@automation>\r\n",
			 (long long) job->id, job->idempotency_key);
	buf_puts(&buf, line);
	buf_puts(&buf, "MIME-Version: 1.0\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: base64\r\n");
	snprintf(line, sizeof(line), "X-Automation-Job: %lld\r\n\r\n", (long long) job->id);
	buf_puts(&buf, line);
	buf_base64(&buf, (const unsigned char *) (body ? body : ""), body ? strlen(body) : 0, 76);
	return buf.data;
}

/* upload_message: curl's read callback over the prepared message. */
static size_t
upload_message(char *out, size_t size, size_t nmemb, void *userdata)
{
	Delivery   *delivery = userdata;
	size_t		room = size * nmemb;
	size_t		left = delivery->request_len - delivery->request_sent;
	size_t		take = left < room ? left : room;

	memcpy(out, delivery->request_body + delivery->request_sent, take);
	delivery->request_sent += take;
	return take;
}

/* config_string: a string key of the config, NULL when absent or not a string. */
static const char *
config_string(json_t *config, const char *key)
{
	return json_string_value(json_object_get(config, key));
}

/*
 * smtp_prepare: build the SMTP transfer of a send_email job.  NULL with
 * error set when the job can never be sent (a permanent failure).
 */
Delivery *
smtp_prepare(Job *job, char *error, size_t errsize)
{
	json_error_t jerr;
	json_t	   *config = json_loads(job->config_json, 0, &jerr);
	char	  **to = NULL,
			  **cc = NULL,
			  **bcc = NULL,
			  **reply = NULL;
	char	  **envelope = NULL;
	int			nto = 0,
				ncc = 0,
				nbcc = 0,
				nreply = 0;
	int			nenvelope = 0;
	char	  **reply_addrs = NULL;
	int			nreply_addrs = 0;
	char	   *from_header = NULL;
	char	   *from_addr = NULL;
	Delivery   *delivery = NULL;
	char		addr[300];

	if (options.smtp_url == NULL || options.smtp_from == NULL)
	{
		snprintf(error, errsize, "send_email needs --smtp-url and --smtp-from");
		goto done;
	}
	if (!email_parse_mailbox(options.smtp_from, &from_header, &from_addr))
	{
		snprintf(error, errsize, "--smtp-from is not a valid mailbox");
		goto done;
	}
	if (config == NULL || !json_is_object(config))
	{
		snprintf(error, errsize, "payload.config is not a JSON object");
		goto done;
	}
	/* to, cc and bcc all go into the envelope; bcc into no header */
	if (!collect_addresses(json_object_get(config, "to"), "to", &to, &nto, &envelope, &nenvelope, error, errsize) ||
		!collect_addresses(json_object_get(config, "cc"), "cc", &cc, &ncc, &envelope, &nenvelope, error, errsize) ||
		!collect_addresses(json_object_get(config, "bcc"), "bcc", &bcc, &nbcc, &envelope, &nenvelope, error, errsize) ||
		!collect_addresses(json_object_get(config, "reply_to"), "reply_to", &reply, &nreply,
						   &reply_addrs, &nreply_addrs, error, errsize))
		goto done;
	if (nto + ncc + nbcc == 0)
	{
		snprintf(error, errsize, "send_email has no recipient (to, cc, bcc)");
		goto done;
	}

	delivery = calloc(1, sizeof(Delivery));
	delivery->job = job;
	delivery->is_smtp = true;
	delivery->request_body = email_build_message(job, from_header,
												 (const char *const *) to,
												 (const char *const *) cc,
												 (const char *const *) reply,
												 config_string(config, "subject"),
												 config_string(config, "body"), time(NULL));
	delivery->request_len = strlen(delivery->request_body);
	for (char **p = envelope; p && *p; p++)
	{
		snprintf(addr, sizeof(addr), "<%s>", *p);
		delivery->recipients = curl_slist_append(delivery->recipients, addr);
	}
	snprintf(addr, sizeof(addr), "<%s>", from_addr);

	delivery->easy = curl_easy_init();
	curl_easy_setopt(delivery->easy, CURLOPT_URL, options.smtp_url);
	curl_easy_setopt(delivery->easy, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(delivery->easy, CURLOPT_MAIL_RCPT, delivery->recipients);
	curl_easy_setopt(delivery->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(delivery->easy, CURLOPT_READFUNCTION, upload_message);
	curl_easy_setopt(delivery->easy, CURLOPT_READDATA, delivery);
	curl_easy_setopt(delivery->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t) delivery->request_len);
	curl_easy_setopt(delivery->easy, CURLOPT_CONNECTTIMEOUT_MS, options.connect_timeout_ms);
	curl_easy_setopt(delivery->easy, CURLOPT_TIMEOUT_MS, options.timeout_ms);
	curl_easy_setopt(delivery->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(delivery->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(delivery->easy, CURLOPT_PRIVATE, delivery);

done:
	json_decref(config);
	free_list(to);
	free_list(cc);
	free_list(bcc);
	free_list(reply);
	free_list(envelope);
	free_list(reply_addrs);
	free(from_header);
	free(from_addr);
	return delivery;
}

/* smtp_finish: classify a finished SMTP transfer: 5xx permanent, else retry. */
void
smtp_finish(Delivery *delivery, CURLcode code, Outcome *outcome)
{
	long		reply = 0;
	char		buf[300];

	outcome->job_id = delivery->job->id;
	outcome->retry_after_seconds = -1;
	if (code == CURLE_OK)
	{
		outcome->ok = true;
		outcome->result_json = strdup("{\"smtp\": \"accepted\"}");
		return;
	}
	curl_easy_getinfo(delivery->easy, CURLINFO_RESPONSE_CODE, &reply);
	outcome->ok = false;
	outcome->retryable = !(reply >= 500 && reply < 600);
	snprintf(buf, sizeof(buf), "SMTP error: %s (curl %d, reply %ld)",
			 curl_easy_strerror(code), (int) code, reply);
	outcome->error = strdup(buf);
}
