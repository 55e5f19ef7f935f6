/*-------------------------------------------------------------------------
 *
 * mergetoken.c
 *	  Split templates into literal text and "{{ path }}" merge tokens.
 *
 * Invariants: only s[0..len) is read, the input need not be NUL-terminated;
 * no allocation and no recursion; each successful mergetoken_next call
 * advances the position by at least one byte, so iteration ends after at
 * most len + 1 calls; segments tile the input exactly; error offsets are
 * <= len.
 *
 *-------------------------------------------------------------------------
 */
#include "mergetoken.h"

static int
is_ident_start(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int
is_ident_char(unsigned char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* opens_at - does "{{" start at s[p]? */
static int
opens_at(const char *s, size_t len, size_t p)
{
	return p + 1 < len && s[p] == '{' && s[p + 1] == '{';
}

/*
 * mergetoken_split_path - split a dotted path into identifiers.
 */
MergeTokenStatus
mergetoken_split_path(const char *path, size_t len, MergePathPart *parts,
					  int max_parts, int *nparts, size_t *error_offset)
{
	MergeTokenStatus st = MT_OK;
	size_t		pos = 0;
	size_t		start;
	size_t		errpos = 0;
	int			cap;
	int			n = 0;

	if (nparts)
		*nparts = 0;
	if (error_offset)
		*error_offset = 0;
	if (path == NULL)
		len = 0;

	cap = MERGETOKEN_MAX_PARTS;
	if (parts != NULL && max_parts < cap)
		cap = max_parts < 0 ? 0 : max_parts;

	for (;;)
	{
		start = pos;
		errpos = pos;
		if (pos >= len || path[pos] == '.')
		{
			st = MT_ERR_EMPTY_NAME;
			goto fail;
		}
		if (!is_ident_start((unsigned char) path[pos]))
		{
			st = MT_ERR_BAD_CHAR;
			goto fail;
		}
		while (pos < len && is_ident_char((unsigned char) path[pos]))
			pos++;
		if (pos - start > MERGETOKEN_MAX_IDENT)
		{
			st = MT_ERR_NAME_TOO_LONG;
			errpos = start + MERGETOKEN_MAX_IDENT;
			goto fail;
		}
		if (n >= cap)
		{
			st = MT_ERR_TOO_DEEP;
			goto fail;
		}
		if (parts)
		{
			parts[n].name = path + start;
			parts[n].len = pos - start;
		}
		n++;
		if (pos >= len)
			break;
		if (path[pos] != '.')
		{
			st = MT_ERR_BAD_CHAR;
			errpos = pos;
			goto fail;
		}
		pos++;
	}

	if (nparts)
		*nparts = n;
	return MT_OK;

fail:
	if (error_offset)
		*error_offset = errpos;
	return st;
}

/*
 * mergetoken_iter_init - start iterating over s[0..len).
 */
void
mergetoken_iter_init(MergeIter *it, const char *s, size_t len)
{
	it->s = s;
	it->len = (s == NULL) ? 0 : len;
	it->pos = 0;
	it->err.code = MT_OK;
	it->err.offset = 0;
}

/*
 * mergetoken_next - fetch the next literal or token segment.
 */
int
mergetoken_next(MergeIter *it, MergeSegment *seg, MergeTokenError *err)
{
	const char *s = it->s;
	size_t		len = it->len;
	size_t		start = it->pos;
	size_t		p;
	size_t		a;
	size_t		b;
	size_t		off = 0;
	MergeTokenStatus st;

	if (it->err.code != MT_OK)
		goto fail;
	if (start >= len)
	{
		if (err)
			*err = it->err;
		return 0;
	}

	if (!opens_at(s, len, start))
	{
		/* literal: everything up to the next "{{" */
		for (p = start + 1; p < len && !opens_at(s, len, p); p++)
			;
		seg->kind = MT_LITERAL;
		seg->text = s + start;
		seg->len = p - start;
		seg->offset = start;
		seg->span = p - start;
		it->pos = p;
		goto done;
	}

	/* token: "{{" at start; find the first brace after it */
	for (p = start + 2; p < len && s[p] != '{' && s[p] != '}'; p++)
		;
	if (p >= len || (s[p] == '}' && p + 1 >= len))
	{
		it->err.code = MT_ERR_UNTERMINATED;
		it->err.offset = start;
		goto fail;
	}
	if (s[p] == '{' || s[p + 1] != '}')
	{
		it->err.code = MT_ERR_BRACE_IN_TOKEN;
		it->err.offset = p;
		goto fail;
	}

	a = start + 2;
	b = p;
	while (a < b && is_blank(s[a]))
		a++;
	while (b > a && is_blank(s[b - 1]))
		b--;
	if (a == b)
	{
		it->err.code = MT_ERR_EMPTY_TOKEN;
		it->err.offset = start;
		goto fail;
	}
	st = mergetoken_split_path(s + a, b - a, NULL, 0, NULL, &off);
	if (st != MT_OK)
	{
		it->err.code = st;
		it->err.offset = a + off;
		goto fail;
	}

	seg->kind = MT_TOKEN;
	seg->text = s + a;
	seg->len = b - a;
	seg->offset = start;
	seg->span = p + 2 - start;
	it->pos = p + 2;

done:
	if (err)
		*err = it->err;
	return 1;

fail:
	if (err)
		*err = it->err;
	return -1;
}

/*
 * mergetoken_error_message - lower-case English phrase for a status.
 */
const char *
mergetoken_error_message(MergeTokenStatus code)
{
	switch (code)
	{
		case MT_OK:
			return "ok";
		case MT_ERR_UNTERMINATED:
			return "unterminated merge token";
		case MT_ERR_EMPTY_TOKEN:
			return "empty merge token";
		case MT_ERR_BRACE_IN_TOKEN:
			return "brace inside merge token";
		case MT_ERR_BAD_CHAR:
			return "invalid character in merge token path";
		case MT_ERR_EMPTY_NAME:
			return "empty name in merge token path";
		case MT_ERR_NAME_TOO_LONG:
			return "name in merge token path too long";
		case MT_ERR_TOO_DEEP:
			return "too many parts in merge token path";
	}
	return "unknown error";
}
