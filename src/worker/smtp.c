/*
 * smtp.c: send_email deliveries over SMTP with libcurl.
 *
 * The message is RFC 5322: Date, From, To, Cc, Reply-To, Subject,
 * Message-ID (stable per job: <job-<id>-<idempotency key>@automation>),
 * MIME-Version, Content-Type text/plain; charset=utf-8 and a base64 body.
 * Bcc recipients are only in the SMTP envelope.
 *
 * Invariants:
 *   - nothing from the job's data can add a header: addresses are checked
 *     (no spaces, controls, quotes, brackets, commas), the subject has its
 *     control characters replaced by spaces and is RFC 2047-encoded when it
 *     is not plain printable ASCII, and the body is base64;
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
 * collect_addresses: the addresses of a config value (a string with
 * commas, or an array of strings) appended to list; false with error set on
 * an invalid one.
 */
static bool
collect_addresses(json_t *value, const char *field, char ***list, int *count,
				  char *error, size_t errsize)
{
	json_t	   *items = json_is_array(value) ? json_incref(value) : json_array();
	size_t		i;
	json_t	   *item;

	if (json_is_string(value))
		json_array_append(items, value);
	else if (value != NULL && !json_is_null(value) && !json_is_array(value))
	{
		json_decref(items);
		snprintf(error, errsize, "%s must be a string or an array of strings", field);
		return false;
	}
	json_array_foreach(items, i, item)
	{
		char	   *copy;
		char	   *save = NULL;

		if (!json_is_string(item))
		{
			json_decref(items);
			snprintf(error, errsize, "%s must be a string or an array of strings", field);
			return false;
		}
		copy = strdup(json_string_value(item));
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		{
			char	   *end;

			while (*tok == ' ' || *tok == '\t')
				tok++;
			end = tok + strlen(tok);
			while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
				*--end = '\0';
			if (*tok == '\0')
				continue;
			if (!address_is_valid(tok))
			{
				snprintf(error, errsize, "%s: invalid email address \"%.100s\"", field, tok);
				for (char *p = error; *p; p++)
					if ((unsigned char) *p < 0x20)
						*p = ' ';
				free(copy);
				json_decref(items);
				return false;
			}
			*list = realloc(*list, sizeof(char *) * (*count + 2));
			(*list)[(*count)++] = strdup(tok);
			(*list)[*count] = NULL;
		}
		free(copy);
	}
	json_decref(items);
	return true;
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
	size_t		start;

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
	{
		buf_puts(buf, clean);
		buf_puts(buf, "\r\n");
		free(clean);
		return;
	}
	start = 0;
	while (start < len)
	{
		size_t		end = start;

		/* at most 42 octets (56 base64 characters: a 68-character word, a 77-character line) of whole characters */
		while (end < len)
		{
			size_t		next = end + 1;

			while (next < len && ((unsigned char) clean[next] & 0xC0) == 0x80)
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
		buf_base64(buf, (const unsigned char *) clean + start, end - start, 0);
		buf_puts(buf, "?=");
		start = end;
	}
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
					const char *const *cc, const char *reply_to, const char *subject,
					const char *body, time_t date)
{
	Buffer		buf = {0};
	char		line[512];
	struct tm	tm;

	gmtime_r(&date, &tm);
	strftime(line, sizeof(line), "Date: %a, %d %b %Y %H:%M:%S +0000\r\n", &tm);
	buf_puts(&buf, line);
	snprintf(line, sizeof(line), "From: %s\r\n", from);
	buf_puts(&buf, line);
	add_address_header(&buf, "To", to);
	add_address_header(&buf, "Cc", cc);
	if (reply_to)
	{
		snprintf(line, sizeof(line), "Reply-To: %s\r\n", reply_to);
		buf_puts(&buf, line);
	}
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
	int			nto = 0,
				ncc = 0,
				nbcc = 0,
				nreply = 0;
	Delivery   *delivery = NULL;
	char	  **lists[3];
	char		addr[300];

	if (options.smtp_url == NULL || options.smtp_from == NULL)
	{
		snprintf(error, errsize, "send_email needs --smtp-url and --smtp-from");
		goto done;
	}
	if (config == NULL || !json_is_object(config))
	{
		snprintf(error, errsize, "payload.config is not a JSON object");
		goto done;
	}
	if (!collect_addresses(json_object_get(config, "to"), "to", &to, &nto, error, errsize) ||
		!collect_addresses(json_object_get(config, "cc"), "cc", &cc, &ncc, error, errsize) ||
		!collect_addresses(json_object_get(config, "bcc"), "bcc", &bcc, &nbcc, error, errsize) ||
		!collect_addresses(json_object_get(config, "reply_to"), "reply_to", &reply, &nreply, error, errsize))
		goto done;
	if (nto + ncc + nbcc == 0)
	{
		snprintf(error, errsize, "send_email has no recipient (to, cc, bcc)");
		goto done;
	}

	delivery = calloc(1, sizeof(Delivery));
	delivery->job = job;
	delivery->is_smtp = true;
	delivery->request_body = email_build_message(job, options.smtp_from,
												 (const char *const *) to,
												 (const char *const *) cc,
												 nreply > 0 ? reply[0] : NULL,
												 config_string(config, "subject"),
												 config_string(config, "body"), time(NULL));
	delivery->request_len = strlen(delivery->request_body);
	lists[0] = to;
	lists[1] = cc;
	lists[2] = bcc;
	for (int i = 0; i < 3; i++)
		for (char **p = lists[i]; p && *p; p++)
		{
			snprintf(addr, sizeof(addr), "<%s>", *p);
			delivery->recipients = curl_slist_append(delivery->recipients, addr);
		}
	snprintf(addr, sizeof(addr), "<%s>", options.smtp_from);

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
