/*
 * sign.c: the X-Automation-Signature of a request body.
 *
 * The signature is "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>",
 * so a receiver verifies both the body and its freshness with one secret.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "worker.h"

/*
 * sign_body: write the signature header value into out.  Returns false when
 * OpenSSL fails or out is too small.
 */
bool
sign_body(const char *secret, size_t secret_len, const char *body, size_t body_len,
		  long timestamp, char *out, size_t outsize)
{
	static EVP_MAC *hmac = NULL;
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t		mac_len = 0;
	char		prefix[32];
	char		digest[] = "SHA256";
	int			prefix_len;
	EVP_MAC_CTX *ctx;
	OSSL_PARAM	params[2];
	size_t		used;
	bool		ok;

	if (hmac == NULL && (hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return false;
	prefix_len = snprintf(prefix, sizeof(prefix), "%ld.", timestamp);
	ctx = EVP_MAC_CTX_new(hmac);
	if (ctx == NULL)
		return false;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(ctx, (const unsigned char *) secret, secret_len, params) == 1 &&
		EVP_MAC_update(ctx, (const unsigned char *) prefix, (size_t) prefix_len) == 1 &&
		EVP_MAC_update(ctx, (const unsigned char *) body, body_len) == 1 &&
		EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) == 1;
	EVP_MAC_CTX_free(ctx);
	if (!ok)
		return false;

	used = (size_t) snprintf(out, outsize, "t=%ld,v1=", timestamp);
	if (used + 2 * mac_len + 1 > outsize)
		return false;
	for (size_t i = 0; i < mac_len; i++)
		used += (size_t) snprintf(out + used, outsize - used, "%02x", mac[i]);
	return true;
}
