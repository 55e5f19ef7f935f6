/*
 * ssrf.c: refuse deliveries to internal addresses (server-side request
 * forgery protection).
 *
 * The check runs in curl's open-socket callback, on the address curl is
 * about to connect to, after name resolution: a name that resolves (or is
 * re-bound) to an internal address is refused exactly like the literal
 * address.  Proxies are disabled, so the connected address is the
 * destination's.
 *
 * Invariants:
 *   - internal = unspecified, loopback, private (RFC 1918, CGNAT, ULA,
 *     site-local), link-local, multicast, broadcast/reserved; IPv4-mapped
 *     and NAT64 IPv6 addresses are judged by their IPv4 address;
 *   - --allow-host names a host exactly as written in the URL (case
 *     ignored; IPv6 literals with or without brackets); only then is an
 *     internal destination allowed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "worker.h"

/* host_is_allowed: whether --allow-host names host. */
bool
host_is_allowed(const char *host)
{
	if (options.allow_hosts == NULL || host == NULL)
		return false;
	for (char **h = options.allow_hosts; *h; h++)
	{
		const char *entry = *h;
		size_t		len = strlen(entry);

		/* an IPv6 literal may be listed with or without its brackets */
		if (len >= 2 && entry[0] == '[' && entry[len - 1] == ']')
		{
			if (strlen(host) == len - 2 && strncasecmp(entry + 1, host, len - 2) == 0)
				return true;
		}
		else if (strcasecmp(entry, host) == 0)
			return true;
	}
	return false;
}

/* ipv4_is_internal: classify a host-order IPv4 address. */
static const char *
ipv4_is_internal(uint32_t a)
{
	if ((a >> 24) == 0)
		return "unspecified";
	if ((a >> 24) == 127)
		return "loopback";
	if ((a >> 24) == 10 || (a >> 20) == 0xAC1 || (a >> 16) == 0xC0A8)
		return "private";
	if ((a >> 22) == (100 << 2 | 1))	/* 100.64.0.0/10 */
		return "private (shared address space)";
	if ((a >> 16) == 0xA9FE)
		return "link-local";
	if ((a >> 28) == 0xE)
		return "multicast";
	if ((a >> 28) == 0xF)
		return "reserved or broadcast";
	if ((a >> 8) == 0xC00000)	/* 192.0.0.0/24, IETF protocol assignments */
		return "reserved";
	return NULL;
}

/* ipv6_is_internal: classify an IPv6 address. */
static const char *
ipv6_is_internal(const struct in6_addr *addr)
{
	const uint8_t *b = addr->s6_addr;
	static const uint8_t zero[16];
	static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64_prefix[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

	if (memcmp(b, mapped_prefix, 12) == 0 || memcmp(b, nat64_prefix, 12) == 0)
		return ipv4_is_internal((uint32_t) b[12] << 24 | (uint32_t) b[13] << 16 |
								(uint32_t) b[14] << 8 | b[15]);
	if (memcmp(b, zero, 16) == 0)
		return "unspecified";
	if (memcmp(b, zero, 15) == 0 && b[15] == 1)
		return "loopback";
	if ((b[0] & 0xfe) == 0xfc)
		return "private (unique local)";
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return "link-local";
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return "private (site-local)";
	if (b[0] == 0xff)
		return "multicast";
	if (memcmp(b, zero, 12) == 0)	/* deprecated IPv4-compatible */
		return ipv4_is_internal((uint32_t) b[12] << 24 | (uint32_t) b[13] << 16 |
								(uint32_t) b[14] << 8 | b[15]);
	return NULL;
}

/*
 * address_is_internal: whether addr is an internal destination; why gets
 * "<kind> address <text>" when it is.
 */
bool
address_is_internal(const struct sockaddr *addr, char *why, size_t whysize)
{
	char		text[INET6_ADDRSTRLEN] = "?";
	const char *kind = NULL;

	if (addr->sa_family == AF_INET)
	{
		const struct sockaddr_in *in = (const struct sockaddr_in *) addr;

		inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
		kind = ipv4_is_internal(ntohl(in->sin_addr.s_addr));
	}
	else if (addr->sa_family == AF_INET6)
	{
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) addr;

		inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
		kind = ipv6_is_internal(&in6->sin6_addr);
	}
	else
		kind = "non-IP";
	if (kind != NULL)
		snprintf(why, whysize, "%s address %s", kind, text);
	return kind != NULL;
}

/*
 * open_checked_socket: curl's open-socket callback; refuses (CURL_SOCKET_BAD)
 * an internal address unless the delivery's host is allowed.
 */
static curl_socket_t
open_checked_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	Delivery   *delivery = clientp;
	char		why[200];

	(void) purpose;
	if (!host_is_allowed(delivery->host) &&
		address_is_internal(&address->addr, why, sizeof(why)))
	{
		snprintf(delivery->refused, sizeof(delivery->refused),
				 "destination refused: %s resolves to %s (allow it with --allow-host %s)",
				 delivery->host, why, delivery->host);
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}

/*
 * ssrf_protect: apply the destination checks to an HTTP transfer: no proxy,
 * no redirects, http/https only, every connected address checked.
 */
void
ssrf_protect(CURL *easy, Delivery *delivery)
{
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_checked_socket);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, delivery);
}
