/*
 * http.c: webhook and channel-message deliveries over HTTP(S) with libcurl.
 *
 * http_prepare turns a claimed job into a curl easy handle (method, URL,
 * headers, body, Idempotency-Key, X-Automation-Signature, timeouts, SSRF
 * checks); http_finish classifies the result: 2xx succeeded; 408, 429, 5xx
 * and transport errors retry (honouring Retry-After); a refused destination
 * and other statuses are permanent.
 *
 * Invariants:
 *   - user headers never carry CR or LF and never replace the headers the
 *     worker owns (Idempotency-Key, X-Automation-Signature, Host,
 *     Content-Length, Transfer-Encoding);
 *   - the signed bytes are exactly the bytes sent.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "worker.h"

/* delivery_free: release a delivery and its curl handle (not its job). */
void
delivery_free(Delivery *delivery)
{
	if (delivery == NULL)
		return;
	if (delivery->easy)
		curl_easy_cleanup(delivery->easy);
	curl_slist_free_all(delivery->headers);
	curl_slist_free_all(delivery->recipients);
	free(delivery->request_body);
	free(delivery);
}

/* discard_response: keep the first 200 bytes of a response for errors. */
static size_t
discard_response(char *data, size_t size, size_t nmemb, void *userdata)
{
	Delivery   *delivery = userdata;
	size_t		len = size * nmemb;
	size_t		room = sizeof(delivery->response_excerpt) - 1 - delivery->response_len;
	size_t		take = len < room ? len : room;

	memcpy(delivery->response_excerpt + delivery->response_len, data, take);
	delivery->response_len += take;
	delivery->response_excerpt[delivery->response_len] = '\0';
	return len;
}

/* header_is_reserved: headers the worker sets itself or curl must own. */
static bool
header_is_reserved(const char *name)
{
	static const char *const reserved[] = {
		"idempotency-key", "x-automation-signature", "host", "content-length",
		"transfer-encoding", "connection", "expect", NULL
	};

	for (int i = 0; reserved[i]; i++)
		if (strcasecmp(name, reserved[i]) == 0)
			return true;
	return false;
}

/* header_name_is_valid: an RFC 9110 token. */
static bool
header_name_is_valid(const char *name)
{
	if (*name == '\0')
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char) *p) && strchr("!#$%&'*+-.^_`|~", *p) == NULL)
			return false;
	return true;
}

/* header_value_is_valid: no control characters but tab. */
static bool
header_value_is_valid(const char *value)
{
	for (const unsigned char *p = (const unsigned char *) value; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

/* add_header: append "name: value" to the list. */
static struct curl_slist *
add_header(struct curl_slist *list, const char *name, const char *value)
{
	size_t		len = strlen(name) + strlen(value) + 3;
	char	   *line = malloc(len);
	struct curl_slist *result;

	snprintf(line, len, "%s: %s", name, value);
	result = curl_slist_append(list, line);
	free(line);
	return result;
}

/* url_host: the lower-cased host of url, without IPv6 brackets. */
static bool
url_host(const char *url, char *host, size_t hostsize)
{
	CURLU	   *u = curl_url();
	char	   *part = NULL;
	bool		ok = false;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &part, 0) == CURLUE_OK)
	{
		const char *h = part;
		size_t		len = strlen(h);

		if (len >= 2 && h[0] == '[' && h[len - 1] == ']')
		{
			h++;
			len -= 2;
		}
		if (len < hostsize)
		{
			for (size_t i = 0; i < len; i++)
				host[i] = (char) tolower((unsigned char) h[i]);
			host[len] = '\0';
			ok = true;
		}
	}
	curl_free(part);
	curl_url_cleanup(u);
	return ok;
}

/* slack_body: {"text": message, "channel": recipient} from the config. */
static char *
slack_body(json_t *config)
{
	json_t	   *msg = json_object();
	char	   *text;

	json_object_set(msg, "text", json_object_get(config, "message"));
	if (json_object_get(config, "recipient"))
		json_object_set(msg, "channel", json_object_get(config, "recipient"));
	text = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(msg);
	return text;
}

/*
 * http_prepare: build the transfer of a webhook or channel-message job.
 * Returns NULL with error set when the job cannot be delivered at all (a
 * permanent failure).
 */
Delivery *
http_prepare(Job *job, char *error, size_t errsize)
{
	json_error_t jerr;
	json_t	   *config = json_loads(job->config_json, 0, &jerr);
	Delivery   *delivery = NULL;
	const char *url;
	const char *method = "POST";
	bool		has_content_type = false;
	bool		is_channel = job->vocab != NULL && job->vocab->runs == VOCAB_RUNS_CHANNEL;
	json_t	   *headers;
	char		signature[160];

	if (config == NULL || !json_is_object(config))
	{
		snprintf(error, errsize, "payload.config is not a JSON object: %s", jerr.text);
		goto fail;
	}
	if (is_channel)
	{
		if (job->channel_url == NULL)
		{
			const char *name = json_string_value(json_object_get(config, "channel"));

			snprintf(error, errsize, "channel %s not found in automation.channels",
					 name ? name : "(missing)");
			goto fail;
		}
		url = job->channel_url;
	}
	else
	{
		url = json_string_value(json_object_get(config, "url"));
		if (json_is_string(json_object_get(config, "method")))
			method = json_string_value(json_object_get(config, "method"));
	}
	if (url == NULL || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0))
	{
		snprintf(error, errsize, "url must be http or https: %.200s", url ? url : "(missing)");
		goto fail;
	}
	if (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0 && strcmp(method, "PATCH") != 0)
	{
		snprintf(error, errsize, "method must be POST, PUT or PATCH: %.50s", method);
		goto fail;
	}

	delivery = calloc(1, sizeof(Delivery));
	delivery->job = job;
	if (!url_host(url, delivery->host, sizeof(delivery->host)))
	{
		snprintf(error, errsize, "url has no valid host: %.200s", url);
		goto fail;
	}

	if (is_channel && job->channel_format && strcmp(job->channel_format, "slack") == 0)
		delivery->request_body = slack_body(config);
	else
		delivery->request_body = strdup(job->body ? job->body : "null");
	delivery->request_len = strlen(delivery->request_body);

	/* user headers first, checked; then the worker's own */
	headers = is_channel ? NULL : json_object_get(config, "headers");
	if (json_is_object(headers))
	{
		const char *name;
		json_t	   *value;

		json_object_foreach(headers, name, value)
		{
			const char *v = json_string_value(value);

			if (v == NULL || !header_name_is_valid(name) || !header_value_is_valid(v))
			{
				snprintf(error, errsize, "header %.60s is not a valid header name and string value", name);
				goto fail;
			}
			if (header_is_reserved(name))
				continue;
			if (strcasecmp(name, "content-type") == 0)
				has_content_type = true;
			delivery->headers = add_header(delivery->headers, name, v);
		}
	}
	if (!has_content_type)
		delivery->headers = add_header(delivery->headers, "Content-Type",
									   job->body_is_text && !is_channel
									   ? "text/plain; charset=utf-8" : "application/json");
	delivery->headers = add_header(delivery->headers, "Idempotency-Key", job->idempotency_key);
	if (options.signing_secret)
	{
		if (!sign_body(options.signing_secret, options.signing_secret_len,
					   delivery->request_body, delivery->request_len,
					   (long) time(NULL), signature, sizeof(signature)))
		{
			snprintf(error, errsize, "could not compute the HMAC signature");
			goto fail;
		}
		delivery->headers = add_header(delivery->headers, "X-Automation-Signature", signature);
	}
	delivery->headers = add_header(delivery->headers, "User-Agent", "automation-worker/0.1");
	delivery->headers = curl_slist_append(delivery->headers, "Expect:");

	delivery->easy = curl_easy_init();
	curl_easy_setopt(delivery->easy, CURLOPT_URL, url);
	curl_easy_setopt(delivery->easy, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(delivery->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(delivery->easy, CURLOPT_POSTFIELDS, delivery->request_body);
	curl_easy_setopt(delivery->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) delivery->request_len);
	curl_easy_setopt(delivery->easy, CURLOPT_HTTPHEADER, delivery->headers);
	curl_easy_setopt(delivery->easy, CURLOPT_WRITEFUNCTION, discard_response);
	curl_easy_setopt(delivery->easy, CURLOPT_WRITEDATA, delivery);
	curl_easy_setopt(delivery->easy, CURLOPT_CONNECTTIMEOUT_MS, options.connect_timeout_ms);
	curl_easy_setopt(delivery->easy, CURLOPT_TIMEOUT_MS, options.timeout_ms);
	curl_easy_setopt(delivery->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(delivery->easy, CURLOPT_PRIVATE, delivery);
	ssrf_protect(delivery->easy, delivery);
	json_decref(config);
	return delivery;

fail:
	json_decref(config);
	if (delivery)
		delivery->job = NULL;
	delivery_free(delivery);
	return NULL;
}

/* printable_excerpt: the response excerpt with control characters blanked. */
static void
printable_excerpt(Delivery *delivery, char *out, size_t outsize)
{
	size_t		i;

	for (i = 0; i < delivery->response_len && i + 1 < outsize; i++)
	{
		unsigned char c = (unsigned char) delivery->response_excerpt[i];

		out[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char) c;
	}
	out[i] = '\0';
}

/* http_finish: classify a finished transfer into an outcome. */
void
http_finish(Delivery *delivery, CURLcode code, Outcome *outcome)
{
	long		status = 0;
	curl_off_t	retry_after = 0;
	char		excerpt[sizeof(delivery->response_excerpt)];
	char		buf[600];

	outcome->job_id = delivery->job->id;
	outcome->retry_after_seconds = -1;
	if (delivery->refused[0])
	{
		outcome->ok = false;
		outcome->retryable = false;
		outcome->error = strdup(delivery->refused);
		return;
	}
	if (code != CURLE_OK)
	{
		snprintf(buf, sizeof(buf), "network error: %s (curl %d)", curl_easy_strerror(code), (int) code);
		outcome->ok = false;
		outcome->retryable = true;
		outcome->error = strdup(buf);
		return;
	}
	curl_easy_getinfo(delivery->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300)
	{
		snprintf(buf, sizeof(buf), "{\"status\": %ld}", status);
		outcome->ok = true;
		outcome->result_json = strdup(buf);
		return;
	}
	printable_excerpt(delivery, excerpt, sizeof(excerpt));
	outcome->ok = false;
	outcome->retryable = status == 408 || status == 429 || status >= 500;
	if (outcome->retryable &&
		curl_easy_getinfo(delivery->easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
		retry_after > 0)
		outcome->retry_after_seconds = (long) retry_after;
	snprintf(buf, sizeof(buf), "HTTP %ld%s%s", status, excerpt[0] ? ": " : "", excerpt);
	outcome->error = strdup(buf);
}
