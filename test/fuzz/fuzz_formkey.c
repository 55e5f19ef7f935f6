/*-------------------------------------------------------------------------
 *
 * fuzz_formkey.c
 *	  libFuzzer harness for the form field name parser (src/formkey.c).
 *
 * Invariants checked: a status is always in range; on success the segments
 * lie within the input, obey the grammar's limits, and re-serialize to
 * exactly the input; on failure the offset is < len; the validate-only and
 * small-array calls agree with the full call.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formkey.h"

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *key = (const char *) data;
	FormKeySegment segs[FORMKEY_MAX_DEPTH];
	FormKeySegment small[3];
	FormKeyStatus st;
	FormKeyStatus st2;
	int			n = -1;
	int			n2 = -1;
	size_t		off = 12345;
	size_t		off2 = 12345;
	size_t		pos;
	int			i;

	st = formkey_parse(key, size, segs, FORMKEY_MAX_DEPTH, &n, &off);
	REQUIRE(st >= FORMKEY_OK && st <= FORMKEY_BAD_SEGMENT);
	REQUIRE(formkey_status_message(st) != NULL);

	st2 = formkey_parse(key, size, NULL, 0, &n2, &off2);
	REQUIRE(st2 == st && n2 == n && off2 == off);

	if (st != FORMKEY_OK)
	{
		REQUIRE(n == 0);
		REQUIRE(st == FORMKEY_EMPTY ? (size == 0 && off == 0) : off < size);
		return 0;
	}

	REQUIRE(off == 0 && n >= 1 && n <= FORMKEY_MAX_DEPTH);
	REQUIRE(segs[0].name == key && !segs[0].is_index && !segs[0].is_append);

	/* re-serialize: name, then "[" text "]" per segment, must equal input */
	pos = 0;
	for (i = 0; i < n; i++)
	{
		const FormKeySegment *s = &segs[i];

		if (i > 0)
		{
			REQUIRE(pos < size && key[pos] == '[');
			pos++;
		}
		REQUIRE(s->name == key + pos);
		REQUIRE(s->name_len <= size - pos);
		if (s->is_append)
			REQUIRE(i > 0 && s->name_len == 0 && !s->is_index);
		else if (s->is_index)
			REQUIRE(i > 0 && s->index >= 0 && s->index <= FORMKEY_MAX_INDEX &&
					s->name_len >= 1 && s->name_len <= 3);
		else
			REQUIRE(s->index == -1 && s->name_len >= 1 &&
					s->name_len <= FORMKEY_MAX_NAME);
		pos += s->name_len;
		if (i > 0)
		{
			REQUIRE(pos < size && key[pos] == ']');
			pos++;
		}
	}
	REQUIRE(pos == size);

	/* a smaller array must fail exactly when the key needs more room */
	st2 = formkey_parse(key, size, small, 3, &n2, &off2);
	REQUIRE(n <= 3 ? (st2 == FORMKEY_OK && n2 == n) : st2 == FORMKEY_TOO_DEEP);
	return 0;
}
