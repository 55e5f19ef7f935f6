/*-------------------------------------------------------------------------
 *
 * fuzz_mergetoken.c
 *	  libFuzzer harness for the merge token tokenizer (src/mergetoken.c).
 *
 * Invariants checked: iteration ends within len + 1 calls; segments tile
 * the input with non-empty spans; segment text lies inside its span; a
 * literal never contains "{{"; a token is "{{" blanks path blanks "}}" and
 * its path splits cleanly; an error offset is <= len and the error is
 * sticky; the path splitter alone never misbehaves on the raw input.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mergetoken.h"

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_split(const char *p, size_t len, int expect_ok)
{
	MergePathPart parts[MERGETOKEN_MAX_PARTS];
	MergeTokenStatus st;
	int			n = -1;
	size_t		off = 777;
	int			i;

	st = mergetoken_split_path(p, len, parts, MERGETOKEN_MAX_PARTS, &n, &off);
	REQUIRE(st >= MT_OK && st <= MT_ERR_TOO_DEEP);
	REQUIRE(mergetoken_error_message(st) != NULL);
	if (expect_ok)
		REQUIRE(st == MT_OK);
	if (st != MT_OK)
	{
		REQUIRE(n == 0 && off <= len);
		return;
	}
	REQUIRE(off == 0 && n >= 1 && n <= MERGETOKEN_MAX_PARTS);
	for (i = 0; i < n; i++)
	{
		REQUIRE(parts[i].name >= p && parts[i].len >= 1 &&
				parts[i].len <= MERGETOKEN_MAX_IDENT &&
				parts[i].len <= (size_t) (p + len - parts[i].name));
		if (i > 0)
			REQUIRE(parts[i].name == parts[i - 1].name + parts[i - 1].len + 1);
	}
	REQUIRE(parts[0].name == p &&
			parts[n - 1].name + parts[n - 1].len == p + len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	MergeIter	it;
	MergeSegment seg;
	MergeTokenError err;
	size_t		covered = 0;
	size_t		calls = 0;
	size_t		i;
	int			r;

	mergetoken_iter_init(&it, s, size);
	for (;;)
	{
		REQUIRE(calls++ <= size);
		r = mergetoken_next(&it, &seg, &err);
		if (r != 1)
			break;
		REQUIRE(err.code == MT_OK);
		REQUIRE(seg.offset == covered && seg.span >= 1 &&
				seg.span <= size - covered);
		REQUIRE(seg.text >= s + seg.offset &&
				seg.text + seg.len <= s + seg.offset + seg.span);
		if (seg.kind == MT_LITERAL)
		{
			REQUIRE(seg.text == s + seg.offset && seg.len == seg.span);
			for (i = 0; i + 1 < seg.len; i++)
				REQUIRE(!(seg.text[i] == '{' && seg.text[i + 1] == '{'));
		}
		else
		{
			REQUIRE(seg.kind == MT_TOKEN && seg.span >= 5 && seg.len >= 1);
			REQUIRE(s[seg.offset] == '{' && s[seg.offset + 1] == '{');
			REQUIRE(s[seg.offset + seg.span - 2] == '}' &&
					s[seg.offset + seg.span - 1] == '}');
			for (i = seg.offset + 2; s + i < seg.text; i++)
				REQUIRE(s[i] == ' ' || s[i] == '\t');
			for (i = (size_t) (seg.text - s) + seg.len;
				 i < seg.offset + seg.span - 2; i++)
				REQUIRE(s[i] == ' ' || s[i] == '\t');
			check_split(seg.text, seg.len, 1);
		}
		covered += seg.span;
	}

	if (r == 0)
		REQUIRE(covered == size && err.code == MT_OK);
	else
	{
		MergeTokenError again;

		REQUIRE(r == -1 && err.code != MT_OK && err.code <= MT_ERR_TOO_DEEP);
		REQUIRE(err.offset <= size && err.offset >= covered);
		REQUIRE(mergetoken_next(&it, &seg, &again) == -1);
		REQUIRE(again.code == err.code && again.offset == err.offset);
	}
	REQUIRE(mergetoken_next(&it, &seg, NULL) == r);

	check_split(s, size, 0);
	return 0;
}
