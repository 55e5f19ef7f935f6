/*-------------------------------------------------------------------------
 *
 * test_formkey.c
 *	  Unit tests for the form field name parser (src/formkey.c).
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

#include "formkey.h"

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
		printf("FAIL test_formkey.c:%d: %s\n", line, what);
	}
}

static FormKeySegment segs[FORMKEY_MAX_DEPTH];
static int	nsegs;
static size_t erroff;

/*
 * parse_n - parse len bytes of s from an exactly-sized heap copy.
 * Segment pointers are rebased onto s so callers can compare them.
 */
static FormKeyStatus
parse_n(const char *s, size_t len, int max_segs)
{
	char	   *copy = malloc(len ? len : 1);
	FormKeyStatus st;
	int			i;

	memcpy(copy, s, len);
	st = formkey_parse(copy, len, segs, max_segs, &nsegs, &erroff);
	for (i = 0; i < nsegs; i++)
		segs[i].name = s + (segs[i].name - copy);
	free(copy);
	return st;
}

static FormKeyStatus
parse(const char *s)
{
	return parse_n(s, strlen(s), FORMKEY_MAX_DEPTH);
}

static int
seg_is(int i, const char *name)
{
	return segs[i].name_len == strlen(name) &&
		memcmp(segs[i].name, name, segs[i].name_len) == 0;
}

/* expect_err - key s fails with status st at byte offset off */
#define expect_err(s, st, off) \
	do { \
		CHECK(parse(s) == (st)); CHECK(erroff == (off)); CHECK(nsegs == 0); \
	} while (0)

int
main(void)
{
	char		big[20000];
	size_t		i;

	/* accepted shapes */
	CHECK(parse("name") == FORMKEY_OK && nsegs == 1 && seg_is(0, "name"));
	CHECK(!segs[0].is_index && !segs[0].is_append && segs[0].index == -1);
	CHECK(parse("priority") == FORMKEY_OK && nsegs == 1);
	CHECK(parse("_x9") == FORMKEY_OK);
	CHECK(parse("conditions[0][operator]") == FORMKEY_OK && nsegs == 3);
	CHECK(seg_is(0, "conditions") && segs[1].is_index && segs[1].index == 0);
	CHECK(seg_is(2, "operator") && !segs[2].is_index && !segs[2].is_append);
	CHECK(parse("actions[12][assign_pool_id]") == FORMKEY_OK && nsegs == 3);
	CHECK(segs[1].is_index && segs[1].index == 12 && seg_is(1, "12"));
	CHECK(parse("conditions[0][value_array][]") == FORMKEY_OK && nsegs == 4);
	CHECK(segs[3].is_append && !segs[3].is_index && segs[3].name_len == 0);
	CHECK(parse("conditions[0][value_array][2]") == FORMKEY_OK && nsegs == 4);
	CHECK(segs[3].is_index && segs[3].index == 2);
	CHECK(parse("a[999]") == FORMKEY_OK && segs[1].index == 999);
	CHECK(parse("a[]") == FORMKEY_OK && nsegs == 2 && segs[1].is_append);
	CHECK(parse("a[_b]") == FORMKEY_OK);
	CHECK(parse("a[1][2][3][4][5][6][7]") == FORMKEY_OK && nsegs == 8);
	CHECK(segs[7].index == 7);
	memset(big, 'n', 63);
	CHECK(parse_n(big, 63, FORMKEY_MAX_DEPTH) == FORMKEY_OK);
	CHECK(segs[0].name_len == 63);
	CHECK(parse("a[bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb]")
		  == FORMKEY_OK && segs[1].name_len == 63);
	/* validate only, no segment array */
	CHECK(formkey_parse("a[1]", 4, NULL, 0, &nsegs, &erroff) == FORMKEY_OK);
	CHECK(nsegs == 2);
	CHECK(formkey_parse("a[1]", 4, NULL, 0, NULL, NULL) == FORMKEY_OK);
	/* not NUL-terminated: only len bytes are looked at */
	CHECK(parse_n("abc[1]garbage", 6, FORMKEY_MAX_DEPTH) == FORMKEY_OK);
	CHECK(nsegs == 2);

	/* empty */
	expect_err("", FORMKEY_EMPTY, 0);
	CHECK(formkey_parse(NULL, 5, segs, 8, &nsegs, &erroff) == FORMKEY_EMPTY);

	/* bad leading name */
	expect_err("9abc", FORMKEY_BAD_NAME, 0);
	expect_err("[0]", FORMKEY_BAD_NAME, 0);
	expect_err(" name", FORMKEY_BAD_NAME, 0);
	expect_err("name ", FORMKEY_BAD_NAME, 4);
	expect_err("na-me", FORMKEY_BAD_NAME, 2);
	expect_err("n\xc3\xa9", FORMKEY_BAD_NAME, 1);
	memset(big, 'n', 64);
	CHECK(parse_n(big, 64, FORMKEY_MAX_DEPTH) == FORMKEY_BAD_NAME);
	CHECK(erroff == 63);

	/* embedded NUL */
	CHECK(parse_n("ab\0c", 4, FORMKEY_MAX_DEPTH) == FORMKEY_BAD_NAME);
	CHECK(erroff == 2);
	CHECK(parse_n("a[b\0]", 5, FORMKEY_MAX_DEPTH) == FORMKEY_BAD_SEGMENT);
	CHECK(erroff == 3);
	CHECK(parse_n("a[1]\0", 5, FORMKEY_MAX_DEPTH) == FORMKEY_BAD_SEGMENT);
	CHECK(erroff == 4);
	CHECK(parse_n("\0", 1, FORMKEY_MAX_DEPTH) == FORMKEY_BAD_NAME);

	/* unbalanced */
	expect_err("a[", FORMKEY_UNBALANCED, 1);
	expect_err("a[0", FORMKEY_UNBALANCED, 1);
	expect_err("a[0][x", FORMKEY_UNBALANCED, 4);
	expect_err("a]", FORMKEY_UNBALANCED, 1);
	expect_err("a[0]]", FORMKEY_UNBALANCED, 4);
	expect_err("a[b[0]]", FORMKEY_UNBALANCED, 3);
	expect_err("a[[0]]", FORMKEY_UNBALANCED, 2);

	/* index too large, never overflowing */
	expect_err("a[1000]", FORMKEY_INDEX_TOO_LARGE, 2);
	expect_err("conditions[99999999999999999999][x]",
			   FORMKEY_INDEX_TOO_LARGE, 11);
	big[0] = 'a';
	big[1] = '[';
	for (i = 2; i < 10002; i++)
		big[i] = '9';
	big[10002] = ']';
	CHECK(parse_n(big, 10003, FORMKEY_MAX_DEPTH) == FORMKEY_INDEX_TOO_LARGE);
	CHECK(erroff == 2);
	big[10002] = 'x';
	CHECK(parse_n(big, 10003, FORMKEY_MAX_DEPTH) == FORMKEY_UNBALANCED);
	CHECK(erroff == 1);

	/* too deep */
	expect_err("a[1][2][3][4][5][6][7][8]", FORMKEY_TOO_DEEP, 22);
	expect_err("a[][][][][][][][]", FORMKEY_TOO_DEEP, 15);
	CHECK(parse_n("a[1][2]", 7, 2) == FORMKEY_TOO_DEEP && erroff == 4);
	CHECK(parse_n("a[1]", 4, 2) == FORMKEY_OK && nsegs == 2);
	CHECK(parse_n("a", 1, 0) == FORMKEY_TOO_DEEP && erroff == 0);
	for (i = 0; i < 9000; i++)
		memcpy(big + 1 + 2 * i, "[]", 2);
	CHECK(parse_n(big, 18001, FORMKEY_MAX_DEPTH) == FORMKEY_TOO_DEEP);
	CHECK(erroff == 15);

	/* bad bracket segments */
	expect_err("a[-1]", FORMKEY_BAD_SEGMENT, 2);
	expect_err("a[+1]", FORMKEY_BAD_SEGMENT, 2);
	expect_err("a[ 1]", FORMKEY_BAD_SEGMENT, 2);
	expect_err("a[1 ]", FORMKEY_BAD_SEGMENT, 3);
	expect_err("a[1x]", FORMKEY_BAD_SEGMENT, 3);
	expect_err("a[01]", FORMKEY_BAD_SEGMENT, 2);
	expect_err("a[00]", FORMKEY_BAD_SEGMENT, 2);
	expect_err("a[x y]", FORMKEY_BAD_SEGMENT, 3);
	expect_err("a[x.y]", FORMKEY_BAD_SEGMENT, 3);
	expect_err("a[0]x", FORMKEY_BAD_SEGMENT, 4);
	expect_err("a[0] [1]", FORMKEY_BAD_SEGMENT, 4);
	expect_err("a[0][b]c", FORMKEY_BAD_SEGMENT, 7);
	expect_err("a[bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb]",
			   FORMKEY_BAD_SEGMENT, 65);

	/* messages */
	CHECK(strcmp(formkey_status_message(FORMKEY_UNBALANCED),
				 "unbalanced brackets") == 0);
	CHECK(strcmp(formkey_status_message(FORMKEY_INDEX_TOO_LARGE),
				 "index too large") == 0);
	for (i = FORMKEY_OK; i <= FORMKEY_BAD_SEGMENT; i++)
		CHECK(strcmp(formkey_status_message((FormKeyStatus) i),
					 "unknown error") != 0);
	CHECK(strcmp(formkey_status_message((FormKeyStatus) 99),
				 "unknown error") == 0);

	printf("%d passed, %d failed\n", npassed, nfailed);
	return nfailed ? 1 : 0;
}
