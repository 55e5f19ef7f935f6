/*-------------------------------------------------------------------------
 *
 * test_mailbox.c
 *	  Unit tests for address fields rendered with merge tokens
 *	  (mergetoken_render_mailboxes in src/mergetoken.c): a token's value
 *	  stays inside the one mailbox the template puts it in.
 *
 * Invariants: templates and values are copied into exactly-sized heap
 * buffers, so AddressSanitizer catches any read past them; prints one line
 * per failed check and a final "N passed, M failed" line; exits non-zero on
 * failure.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mergetoken.h"

static int	npassed = 0;
static int	nfailed = 0;

/* token values: deal.email, deal.name, deal.user (NULL: renders empty) */
static const char *email;
static const char *name;
static const char *user;

static const char *
lookup(void *arg, const char *path, size_t len)
{
	(void) arg;
	if (len == 10 && memcmp(path, "deal.email", 10) == 0)
		return email;
	if (len == 9 && memcmp(path, "deal.name", 9) == 0)
		return name;
	if (len == 9 && memcmp(path, "deal.user", 9) == 0)
		return user;
	return NULL;
}

static char out[4096];
static size_t outlen;

static void
append(void *arg, const char *s, size_t n)
{
	(void) arg;
	if (outlen + n < sizeof(out))
	{
		memcpy(out + outlen, s, n);
		outlen += n;
	}
	out[outlen] = '\0';
}

/*
 * render - render tmpl from a heap copy with the values set above; returns
 * the output, or "ERR <code> {{token}} [text]" on error.
 */
static const char *
render(const char *tmpl, int *count)
{
	static char res[4096];
	size_t		len = strlen(tmpl);
	char	   *copy = malloc(len ? len : 1);
	MailboxError err;
	int			n;

	memcpy(copy, tmpl, len);
	outlen = 0;
	out[0] = '\0';
	memset(&err, 0x7f, sizeof(err));
	n = mergetoken_render_mailboxes(copy, len, lookup, append, NULL, &err);
	if (count)
		*count = n;
	if (n < 0)
		snprintf(res, sizeof(res), "ERR %d {{%.*s}} [%s]", (int) err.code,
				 (int) (err.token ? err.token_len : 0), err.token ? err.token : "", err.text);
	else
		snprintf(res, sizeof(res), "%s", out);
	free(copy);
	return res;
}

static void
expect(int line, const char *tmpl, int want_count, const char *want)
{
	int			n;
	const char *got = render(tmpl, &n);

	if (strcmp(got, want) == 0 && (want_count < 0 ? n < 0 : n == want_count))
		npassed++;
	else
	{
		nfailed++;
		printf("FAIL test_mailbox.c:%d: %s\n   got  (%d) [%s]\n   want (%d) [%s]\n",
			   line, tmpl, n, got, want_count, want);
	}
}

#define EXPECT(tmpl, n, want) expect(__LINE__, (tmpl), (n), (want))
#define CHECK(cond) do { if (cond) npassed++; else { nfailed++; \
	printf("FAIL test_mailbox.c:%d: %s\n", __LINE__, #cond); } } while (0)

/* heap copies of values, so reads past their end are caught */
static char *
heap(const char *s)
{
	return s ? strcpy(malloc(strlen(s) + 1), s) : NULL;
}

static void
set(const char *e, const char *n, const char *u)
{
	free((char *) email);
	free((char *) name);
	free((char *) user);
	email = heap(e);
	name = heap(n);
	user = heap(u);
}

int
main(void)
{
	char		big[600];

	/* a token standing for a whole mailbox */
	set("ann@example.com", "Ann", "ann");
	EXPECT("{{deal.email}}", 1, "ann@example.com");
	EXPECT("  {{ deal.email }}\t", 1, "ann@example.com");
	EXPECT("{{deal.email}}, {{deal.email}}", 2, "ann@example.com, ann@example.com");
	EXPECT("sales@example.com, {{deal.email}}", 2, "sales@example.com, ann@example.com");
	EXPECT("\"Lee, Ann\" <lee@example.com>,{{deal.email}},", 2,
		   "\"Lee, Ann\" <lee@example.com>, ann@example.com");
	EXPECT("<{{deal.email}}>", 1, "ann@example.com");
	EXPECT("{{deal.user}}@example.com", 1, "ann@example.com");
	EXPECT("{{deal.name}} <{{deal.email}}>", 1, "\"Ann\" <ann@example.com>");
	EXPECT("\"{{deal.name}}\" <{{deal.email}}>", 1, "\"Ann\" <ann@example.com>");
	EXPECT("\"Lee \\\"The\\\" {{deal.name}}\" <{{deal.email}}>", 1,
		   "\"Lee \\\"The\\\" Ann\" <ann@example.com>");
	EXPECT("Team {{deal.name}}, sales <{{deal.user}}+crm@example.com>", -1,
		   "ERR 3 {{deal.name}} [Team Ann]");

	/* the finding: a list in the data is not a list of recipients */
	set("me@example.com, victim@example.org", NULL, NULL);
	EXPECT("{{deal.email}}", -1, "ERR 2 {{deal.email}} [me@example.com, victim@example.org]");
	EXPECT("sales@example.com, {{deal.email}}", -1,
		   "ERR 2 {{deal.email}} [me@example.com, victim@example.org]");
	EXPECT("<{{deal.email}}>", -1, "ERR 3 {{deal.email}} [me@example.com, victim@example.org]");
	EXPECT("Ann <{{deal.email}}>", -1, "ERR 3 {{deal.email}} [me@example.com, victim@example.org]");
	set("me@example.com;victim@example.org", NULL, NULL);
	EXPECT("{{deal.email}}", -1, "ERR 2 {{deal.email}} [me@example.com;victim@example.org]");
	set("Me <me@example.com>, Victim <victim@example.org>", NULL, NULL);
	EXPECT("{{deal.email}}", -1,
		   "ERR 2 {{deal.email}} [Me <me@example.com>, Victim <victim@example.org>]");
	set("\"x\" <me@example.com>, \"y\" <victim@example.org>", NULL, NULL);
	EXPECT("{{deal.email}}", -1,
		   "ERR 2 {{deal.email}} [\"x\" <me@example.com>, \"y\" <victim@example.org>]");
	set("friends: me@example.com, victim@example.org;", NULL, NULL);
	EXPECT("{{deal.email}}", -1,
		   "ERR 2 {{deal.email}} [friends: me@example.com, victim@example.org;]");
	set("me@example.com\r\nBcc: victim@example.org", NULL, NULL);
	EXPECT("{{deal.email}}", -1,
		   "ERR 2 {{deal.email}} [me@example.com  Bcc: victim@example.org]");
	set("Me\r\nBcc: victim@example.org <me@example.com>", NULL, NULL);
	EXPECT("{{deal.email}}", -1,
		   "ERR 2 {{deal.email}} [Me  Bcc: victim@example.org <me@example.com>]");
	set("me@example.com victim@example.org", NULL, NULL);
	EXPECT("{{deal.email}}", -1, "ERR 2 {{deal.email}} [me@example.com victim@example.org]");
	set("me@example.com>", NULL, NULL);
	EXPECT("{{deal.email}}", -1, "ERR 2 {{deal.email}} [me@example.com>]");
	set("\"Me <me@example.com>", NULL, NULL);
	EXPECT("{{deal.email}}", -1, "ERR 2 {{deal.email}} [\"Me <me@example.com>]");
	set("\"Me\\\" <me@example.com>", NULL, NULL);
	EXPECT("{{deal.email}}", -1, "ERR 2 {{deal.email}} [\"Me\\\" <me@example.com>]");
	set(NULL, NULL, "x@evil.org, y");
	EXPECT("{{deal.user}}@example.com", -1,
		   "ERR 3 {{deal.user}} [x@evil.org, y@example.com]");

	/* one mailbox in the data, with a display name: kept, canonical */
	set("\"Lee, Ann\" <ann@example.com>", NULL, NULL);
	EXPECT("{{deal.email}}", 1, "\"Lee, Ann\" <ann@example.com>");
	set("Ann Lee <ann@example.com>", NULL, NULL);
	EXPECT("{{deal.email}}", 1, "\"Ann Lee\" <ann@example.com>");
	set("ann@x.org <ann@example.com>", NULL, NULL);
	EXPECT("{{deal.email}}", 1, "\"ann@x.org\" <ann@example.com>");
	set("\"a\\\\b \\\"c\\\" <d>\" <ann@example.com>", NULL, NULL);
	EXPECT("{{deal.email}}", 1, "\"a\\\\b \\\"c\\\" <d>\" <ann@example.com>");
	set("<ann@example.com>", NULL, NULL);
	EXPECT("{{deal.email}}", 1, "ann@example.com");
	set(" \tann@example.com\t ", NULL, NULL);
	EXPECT("{{deal.email}}", 1, "ann@example.com");

	/* empty values: no mailbox */
	set(NULL, NULL, NULL);
	EXPECT("{{deal.email}}", 0, "");
	EXPECT("{{deal.email}}, sales@example.com", 1, "sales@example.com");
	set(" \t ", NULL, NULL);
	EXPECT("{{deal.email}}", 0, "");
	EXPECT("{{deal.name}} <sales@example.com>", 1, "sales@example.com");
	EXPECT("<{{deal.email}}>", -1, "ERR 3 {{deal.email}} []");
	set(" ann@example.com\t", NULL, " ann\t");
	EXPECT("Ann <{{deal.email}}>", 1, "\"Ann\" <ann@example.com>");
	EXPECT("{{deal.user}}@example.com", 1, "ann@example.com");
	set(NULL, NULL, "a nn");
	EXPECT("{{deal.user}}@example.com", -1, "ERR 3 {{deal.user}} [a nn@example.com]");

	/* a display name from data is text: quoted, escaped, controls as spaces */
	set("ann@example.com", "Evil, \"x\" <victim@example.org>\r\nBcc: v@example.org", NULL);
	EXPECT("{{deal.name}} <{{deal.email}}>", 1,
		   "\"Evil, \\\"x\\\" <victim@example.org>  Bcc: v@example.org\" <ann@example.com>");
	EXPECT("\"{{deal.name}}\" <{{deal.email}}>", 1,
		   "\"Evil, \\\"x\\\" <victim@example.org>  Bcc: v@example.org\" <ann@example.com>");
	EXPECT("\"Re: {{deal.name}}, again\" <{{deal.email}}>, b@example.com", 2,
		   "\"Re: Evil, \\\"x\\\" <victim@example.org>  Bcc: v@example.org, again\" <ann@example.com>, b@example.com");
	set("ann@example.com", "a\\\"b\\", NULL);
	EXPECT("{{deal.name}} <{{deal.email}}>", 1, "\"a\\\\\\\"b\\\\\" <ann@example.com>");
	set("ann@example.com", "  Zoë 日本  ", NULL);
	EXPECT("{{deal.name}} <{{deal.email}}>", 1, "\"Zoë 日本\" <ann@example.com>");
	memset(big, 'x', 201);
	big[201] = '\0';
	set("ann@example.com", big, NULL);
	EXPECT("{{deal.name}} <{{deal.email}}>", -1,
		   "ERR 4 {{deal.name}} [xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...]");
	big[200] = '\0';
	set("ann@example.com", big, NULL);
	CHECK(render("{{deal.name}} <{{deal.email}}>", NULL)[0] == '"');

	/* addresses: length, characters */
	memset(big, 'a', 300);
	big[300] = '\0';
	set(NULL, NULL, big);
	CHECK(strncmp(render("{{deal.user}}@example.com", NULL), "ERR 3 {{deal.user}} [aaaa", 25) == 0);
	big[254 - 12] = '\0';
	set(NULL, NULL, big);
	CHECK(strncmp(render("{{deal.user}}@example.com", NULL), "aaaa", 4) == 0);
	big[254 - 12] = 'a';
	big[254 - 11] = '\0';
	set(NULL, NULL, big);
	CHECK(strncmp(render("{{deal.user}}@example.com", NULL), "ERR 3", 5) == 0);
	CHECK(mergetoken_address_is_valid("a@b", 3));
	CHECK(mergetoken_address_is_valid("first.last+tag@sub.example.com", 30));
	CHECK(!mergetoken_address_is_valid("", 0));
	CHECK(!mergetoken_address_is_valid("@b", 2));
	CHECK(!mergetoken_address_is_valid("a@", 2));
	CHECK(!mergetoken_address_is_valid("a@b@c", 5));
	CHECK(!mergetoken_address_is_valid("ab", 2));
	CHECK(!mergetoken_address_is_valid("a b@c", 5));
	CHECK(!mergetoken_address_is_valid("a@b\r", 4));
	CHECK(!mergetoken_address_is_valid("a,b@c", 5));
	CHECK(!mergetoken_address_is_valid("a;b@c", 5));
	CHECK(!mergetoken_address_is_valid("a\"b@c", 5));
	CHECK(!mergetoken_address_is_valid("a<b@c", 5));
	CHECK(!mergetoken_address_is_valid("a@b\xc3\xa9", 5));
	CHECK(!mergetoken_address_is_valid("a@b\0c", 5));
	CHECK(!mergetoken_address_is_valid(NULL, 3));

	/* error text: cut at 100 octets before a UTF-8 character, controls as spaces */
	{
		char		v[400] = "";
		const char *got;

		for (int i = 0; i < 60; i++)
			strcat(v, "\xc3\xa9");
		strcat(v, ", x@example.com");
		set(v, NULL, NULL);
		got = render("{{deal.email}}", NULL);
		CHECK(strncmp(got, "ERR 2 {{deal.email}} [\xc3\xa9", 24) == 0);
		CHECK(strlen(got) == strlen("ERR 2 {{deal.email}} [") + 100 + 3 + 1);
		CHECK(strcmp(got + strlen(got) - 6, "\xc3\xa9...]") == 0);
		strcpy(v, "x");
		for (int i = 0; i < 60; i++)
			strcat(v, "\xc3\xa9");
		set(NULL, v, NULL);
		/* the rendered address "x" + 60 two-octet characters + " <a@b":
		 * octet 100 continues a character, so the text is cut at 99 */
		got = render("{{deal.name}} <a@b, c@d>", NULL);
		CHECK(strncmp(got, "ERR 3 {{deal.name}} [x\xc3\xa9", 24) == 0);
		CHECK(strlen(got) == strlen("ERR 3 {{deal.name}} [") + 99 + 3 + 1);
	}

	/* templates: the structure is the definer's, checked */
	set("ann@example.com", "Ann", "ann");
	EXPECT("a@example.com, Bob <b@example.com>", 2, "a@example.com, \"Bob\" <b@example.com>");
	EXPECT("\"unbalanced {{deal.name}} <a@example.com>", -1,
		   "ERR 1 {{}} [\"unbalanced {{deal.name}} <a@example.com>]");
	EXPECT("{{deal.name}} a@example.com>", -1, "ERR 1 {{}} [{{deal.name}} a@example.com>]");
	EXPECT("Ann \"x\" <{{deal.email}}>", -1, "ERR 1 {{}} [Ann \"x\" <{{deal.email}}>]");
	EXPECT("\"Ann\\{{deal.name}}\" <{{deal.email}}>", -1,
		   "ERR 1 {{}} [\"Ann\\{{deal.name}}\" <{{deal.email}}>]");
	EXPECT("\"Ann\" x <{{deal.email}}>", -1, "ERR 1 {{}} [\"Ann\" x <{{deal.email}}>]");
	EXPECT("{{ deal.email", -1, "ERR 1 {{}} [{{ deal.email]");
	EXPECT("{{deal.email}} <", -1, "ERR 3 {{deal.email}} [ann@example.com <]");
	EXPECT("", 0, "");
	EXPECT(" , ,", 0, "");
	CHECK(mergetoken_render_mailboxes(NULL, 5, lookup, append, NULL, NULL) == 0);
	CHECK(strcmp(mergetoken_mailbox_message(MB_ERR_NOT_ONE_MAILBOX), "did not render one email address") == 0);

	set(NULL, NULL, NULL);
	printf("%d passed, %d failed\n", npassed, nfailed);
	return nfailed ? 1 : 0;
}
