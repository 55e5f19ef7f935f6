/*-------------------------------------------------------------------------
 *
 * test_mergetoken.c
 *	  Unit tests for the merge token tokenizer (src/mergetoken.c).
 *
 * Invariants: every input is copied into an exactly-sized heap buffer, so
 * AddressSanitizer catches any read past len; prints one line per failed
 * check and a final "N passed, M failed" line; exits non-zero on failure.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mergetoken.h"

static int	npassed = 0;
static int	nfailed = 0;

#define CHECK(cond) check((cond), #cond, __LINE__)

static void
check(int ok, const char *what, int line)
{
	if (ok)
		npassed++;
	else
	{
		nfailed++;
		printf("FAIL test_mergetoken.c:%d: %s\n", line, what);
	}
}

/*
 * render - tokenize s[0..len) from a heap copy into a readable string:
 * literals as-is, tokens as <path>; on error "ERR <code>@<offset>".
 * Also checks that the segments tile the input.
 */
static const char *
render_n(const char *s, size_t len)
{
	static char out[4096];
	char	   *copy = malloc(len ? len : 1);
	size_t		o = 0;
	size_t		covered = 0;
	MergeIter	it;
	MergeSegment seg;
	MergeTokenError err;
	int			r;

	memcpy(copy, s, len);
	out[0] = '\0';
	mergetoken_iter_init(&it, copy, len);
	while ((r = mergetoken_next(&it, &seg, &err)) == 1)
	{
		CHECK(seg.offset == covered && seg.span > 0);
		CHECK(seg.text >= copy + seg.offset &&
			  seg.text + seg.len <= copy + seg.offset + seg.span);
		covered += seg.span;
		o += snprintf(out + o, sizeof(out) - o, seg.kind == MT_TOKEN ?
					  "<%.*s>" : "%.*s", (int) seg.len, seg.text);
	}
	if (r == 0)
		CHECK(covered == len && err.code == MT_OK);
	else
	{
		snprintf(out, sizeof(out), "ERR %d@%zu", (int) err.code, err.offset);
		CHECK(err.offset <= len);
		/* errors are sticky */
		CHECK(mergetoken_next(&it, &seg, &err) == -1);
		CHECK(strcmp(out, "") != 0);
	}
	free(copy);
	return out;
}

static const char *
render(const char *s)
{
	return render_n(s, strlen(s));
}

#define EXPECT(s, want) \
	do { \
		const char *got_ = render(s); \
		if (strcmp(got_, (want)) != 0) \
			printf("  input \"%s\": got \"%s\", want \"%s\"\n", (s), got_, (want)); \
		CHECK(strcmp(got_, (want)) == 0); \
	} while (0)

static char errbuf[64];

static const char *
e(MergeTokenStatus code, size_t off)
{
	snprintf(errbuf, sizeof(errbuf), "ERR %d@%zu", (int) code, off);
	return errbuf;
}

int
main(void)
{
	MergePathPart parts[MERGETOKEN_MAX_PARTS];
	int			n;
	size_t		off;
	char		big[200];
	int			i;

	/* accepted templates */
	EXPECT("", "");
	EXPECT("plain text", "plain text");
	EXPECT("Deal {{deal.name}} closed at {{ deal.value }} {{deal.currency}}",
		   "Deal <deal.name> closed at <deal.value> <deal.currency>");
	EXPECT("{{old.status}}", "<old.status>");
	EXPECT("{{workflow.name}}{{rule.name}}", "<workflow.name><rule.name>");
	EXPECT("{{event.operation}} at {{event.at}}",
		   "<event.operation> at <event.at>");
	EXPECT("{{deal.custom.industry}}", "<deal.custom.industry>");
	EXPECT("{{\t deal.name \t}}", "<deal.name>");
	EXPECT("{{x}}", "<x>");
	EXPECT("{{a.b.c.d.e.f.g.h}}", "<a.b.c.d.e.f.g.h>");
	/* lone braces and "}}" outside tokens are literal */
	EXPECT("a { b } c", "a { b } c");
	EXPECT("{\"k\": {\"v\": 1}}", "{\"k\": {\"v\": 1}}");
	EXPECT("{\"k\":{{deal.name}}}", "{\"k\":<deal.name>}");
	EXPECT("}}{{a}}}}", "}}<a>}}");
	EXPECT("{", "{");
	EXPECT("}", "}");
	EXPECT("x{", "x{");
	/* not NUL-terminated: only len bytes are looked at */
	CHECK(strcmp(render_n("{{a}}{{", 5), "<a>") == 0);

	/* unterminated */
	EXPECT("{{", e(MT_ERR_UNTERMINATED, 0));
	EXPECT("ab{{deal.name", e(MT_ERR_UNTERMINATED, 2));
	EXPECT("{{deal.name}", e(MT_ERR_UNTERMINATED, 0));
	EXPECT("{{a}} {{b", e(MT_ERR_UNTERMINATED, 6));
	/* empty */
	EXPECT("{{}}", e(MT_ERR_EMPTY_TOKEN, 0));
	EXPECT("x{{ \t }}", e(MT_ERR_EMPTY_TOKEN, 1));
	/* braces inside */
	EXPECT("{{{a}}}", e(MT_ERR_BRACE_IN_TOKEN, 2));
	EXPECT("{{a{b}}", e(MT_ERR_BRACE_IN_TOKEN, 3));
	EXPECT("{{a}b}}", e(MT_ERR_BRACE_IN_TOKEN, 3));
	EXPECT("{{a{{b}}}}", e(MT_ERR_BRACE_IN_TOKEN, 3));
	/* bad paths, offsets relative to the whole template */
	EXPECT("{{deal name}}", e(MT_ERR_BAD_CHAR, 6));
	EXPECT("{{ deal. name }}", e(MT_ERR_BAD_CHAR, 8));
	EXPECT("{{deal.9}}", e(MT_ERR_BAD_CHAR, 7));
	EXPECT("{{deal-x}}", e(MT_ERR_BAD_CHAR, 6));
	EXPECT("{{deal\nname}}", e(MT_ERR_BAD_CHAR, 6));
	EXPECT("{{.a}}", e(MT_ERR_EMPTY_NAME, 2));
	EXPECT("{{a..b}}", e(MT_ERR_EMPTY_NAME, 4));
	EXPECT("{{a.}}", e(MT_ERR_EMPTY_NAME, 4));
	EXPECT("{{ a. }}", e(MT_ERR_EMPTY_NAME, 5));
	EXPECT("{{a.b.c.d.e.f.g.h.i}}", e(MT_ERR_TOO_DEEP, 18));
	CHECK(strcmp(render_n("{{a\0b}}", 7), e(MT_ERR_BAD_CHAR, 3)) == 0);
	{
		/* a NUL in literal text is just a byte */
		MergeIter	it;
		MergeSegment seg;

		mergetoken_iter_init(&it, "x\0{{a}}", 7);
		CHECK(mergetoken_next(&it, &seg, NULL) == 1 && seg.len == 2);
		CHECK(mergetoken_next(&it, &seg, NULL) == 1 && seg.kind == MT_TOKEN);
		CHECK(mergetoken_next(&it, &seg, NULL) == 0);
		CHECK(mergetoken_next(&it, &seg, NULL) == 0);
	}

	/* path splitter */
	CHECK(mergetoken_split_path("deal.custom.industry", 20, parts, 8, &n,
								&off) == MT_OK && n == 3);
	CHECK(parts[1].len == 6 && memcmp(parts[1].name, "custom", 6) == 0);
	CHECK(parts[2].len == 8 && memcmp(parts[2].name, "industry", 8) == 0);
	CHECK(mergetoken_split_path("a.b.c", 5, parts, 2, &n, &off) ==
		  MT_ERR_TOO_DEEP && off == 4 && n == 0);
	CHECK(mergetoken_split_path("a.b", 3, NULL, 0, &n, NULL) == MT_OK && n == 2);
	CHECK(mergetoken_split_path("", 0, parts, 8, &n, &off) ==
		  MT_ERR_EMPTY_NAME && off == 0);
	CHECK(mergetoken_split_path(NULL, 3, parts, 8, &n, &off) ==
		  MT_ERR_EMPTY_NAME);
	CHECK(mergetoken_split_path("a.bc", 3, parts, 8, &n, &off) == MT_OK &&
		  n == 2 && parts[1].len == 1);
	big[0] = 'a';
	big[1] = '.';
	memset(big + 2, 'x', 64);
	CHECK(mergetoken_split_path(big, 65, parts, 8, &n, &off) == MT_OK &&
		  parts[1].len == 63);
	CHECK(mergetoken_split_path(big, 66, parts, 8, &n, &off) ==
		  MT_ERR_NAME_TOO_LONG && off == 65);

	/* messages */
	CHECK(strcmp(mergetoken_error_message(MT_ERR_UNTERMINATED),
				 "unterminated merge token") == 0);
	for (i = MT_OK; i <= MT_ERR_TOO_DEEP; i++)
		CHECK(strcmp(mergetoken_error_message((MergeTokenStatus) i),
					 "unknown error") != 0);
	CHECK(strcmp(mergetoken_error_message((MergeTokenStatus) 42),
				 "unknown error") == 0);

	printf("%d passed, %d failed\n", npassed, nfailed);
	return nfailed ? 1 : 0;
}
