/*-------------------------------------------------------------------------
 *
 * formkey.c
 *	  Parse multipart form field names such as "conditions[0][operator]".
 *
 * Grammar:  key := name ( '[' ( index | name | empty ) ']' ){0,7}
 *           name := [A-Za-z_][A-Za-z0-9_]{0,62}
 *           index := '0' | [1-9][0-9]*   (value <= FORMKEY_MAX_INDEX)
 *
 * Invariants: only key[0..len) is read, the input need not be NUL-terminated;
 * no allocation and no recursion; an index is accumulated only while it is
 * <= FORMKEY_MAX_INDEX, so any number of digits cannot overflow; every error
 * offset is < len; every stored pointer lies within [key, key + len].
 *
 *-------------------------------------------------------------------------
 */
#include "formkey.h"

static int
is_ident_start(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_ident_char(unsigned char c)
{
	return is_ident_start(c) || is_digit(c);
}

/*
 * parse_bracket - parse the segment whose '[' is at key[open].
 *
 * On success fills *seg and sets *close to the offset of the matching ']'.
 * On failure sets *errpos and returns the status.
 */
static FormKeyStatus
parse_bracket(const char *key, size_t len, size_t open, FormKeySegment *seg,
			  size_t *close, size_t *errpos)
{
	size_t		start = open + 1;
	size_t		p;
	size_t		i;
	size_t		n;
	long		v = 0;

	for (p = start; p < len && key[p] != ']'; p++)
	{
		if (key[p] == '[')
		{
			*errpos = p;		/* nested bracket */
			return FORMKEY_UNBALANCED;
		}
	}
	if (p >= len)
	{
		*errpos = open;			/* '[' never closed */
		return FORMKEY_UNBALANCED;
	}
	*close = p;
	n = p - start;

	seg->is_index = 0;
	seg->is_append = 0;
	seg->index = -1;
	seg->name = key + start;
	seg->name_len = n;

	if (n == 0)
	{
		seg->is_append = 1;
		return FORMKEY_OK;
	}

	if (is_digit((unsigned char) key[start]))
	{
		for (i = start; i < p; i++)
		{
			if (!is_digit((unsigned char) key[i]))
			{
				*errpos = i;
				return FORMKEY_BAD_SEGMENT;
			}
			if (v <= FORMKEY_MAX_INDEX)
				v = v * 10 + (key[i] - '0');
		}
		if (n > 1 && key[start] == '0')
		{
			*errpos = start;	/* leading zero: "01" would alias "1" */
			return FORMKEY_BAD_SEGMENT;
		}
		if (v > FORMKEY_MAX_INDEX)
		{
			*errpos = start;
			return FORMKEY_INDEX_TOO_LARGE;
		}
		seg->is_index = 1;
		seg->index = v;
		return FORMKEY_OK;
	}

	if (!is_ident_start((unsigned char) key[start]))
	{
		*errpos = start;
		return FORMKEY_BAD_SEGMENT;
	}
	for (i = start; i < p; i++)
	{
		if (!is_ident_char((unsigned char) key[i]))
		{
			*errpos = i;
			return FORMKEY_BAD_SEGMENT;
		}
	}
	if (n > FORMKEY_MAX_NAME)
	{
		*errpos = start + FORMKEY_MAX_NAME;
		return FORMKEY_BAD_SEGMENT;
	}
	return FORMKEY_OK;
}

/*
 * formkey_parse - split a form field name into segments; see formkey.h.
 */
FormKeyStatus
formkey_parse(const char *key, size_t len, FormKeySegment *segs, int max_segs,
			  int *nsegs, size_t *error_offset)
{
	FormKeySegment scratch;
	FormKeySegment *seg;
	FormKeyStatus st = FORMKEY_OK;
	size_t		pos;
	size_t		close = 0;
	size_t		errpos = 0;
	int			cap;
	int			n = 0;

	if (nsegs)
		*nsegs = 0;
	if (error_offset)
		*error_offset = 0;
	if (key == NULL || len == 0)
		return FORMKEY_EMPTY;

	cap = FORMKEY_MAX_DEPTH;
	if (segs != NULL && max_segs < cap)
		cap = max_segs < 0 ? 0 : max_segs;

	/* leading bare name */
	if (!is_ident_start((unsigned char) key[0]))
	{
		st = FORMKEY_BAD_NAME;
		goto fail;
	}
	for (pos = 1; pos < len && is_ident_char((unsigned char) key[pos]); pos++)
		;
	if (pos > FORMKEY_MAX_NAME)
	{
		st = FORMKEY_BAD_NAME;
		errpos = FORMKEY_MAX_NAME;
		goto fail;
	}
	if (cap < 1)
	{
		st = FORMKEY_TOO_DEEP;
		goto fail;
	}
	seg = segs ? &segs[0] : &scratch;
	seg->is_index = 0;
	seg->is_append = 0;
	seg->index = -1;
	seg->name = key;
	seg->name_len = pos;
	n = 1;

	/* bracket segments */
	while (pos < len)
	{
		errpos = pos;
		if (key[pos] == ']')
		{
			st = FORMKEY_UNBALANCED;
			goto fail;
		}
		if (key[pos] != '[')
		{
			st = (n == 1) ? FORMKEY_BAD_NAME : FORMKEY_BAD_SEGMENT;
			goto fail;
		}
		if (n >= cap)
		{
			st = FORMKEY_TOO_DEEP;
			goto fail;
		}
		seg = segs ? &segs[n] : &scratch;
		st = parse_bracket(key, len, pos, seg, &close, &errpos);
		if (st != FORMKEY_OK)
			goto fail;
		n++;
		pos = close + 1;
	}

	if (nsegs)
		*nsegs = n;
	return FORMKEY_OK;

fail:
	if (error_offset)
		*error_offset = errpos;
	return st;
}

/*
 * formkey_status_message - lower-case English phrase for a status.
 */
const char *
formkey_status_message(FormKeyStatus st)
{
	switch (st)
	{
		case FORMKEY_OK:
			return "ok";
		case FORMKEY_EMPTY:
			return "empty field name";
		case FORMKEY_BAD_NAME:
			return "invalid field name";
		case FORMKEY_UNBALANCED:
			return "unbalanced brackets";
		case FORMKEY_INDEX_TOO_LARGE:
			return "index too large";
		case FORMKEY_TOO_DEEP:
			return "too many segments";
		case FORMKEY_BAD_SEGMENT:
			return "invalid bracket segment";
	}
	return "unknown error";
}
