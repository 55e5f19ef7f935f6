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
 * Address fields (mergetoken_render_mailboxes): the template's literal text
 * alone decides where mailboxes, display names and addresses are; a token's
 * value only ever fills one of those places.  Every mailbox written is
 * "addr" or "\"name\" <addr>" with addr valid (mergetoken_address_is_valid)
 * and name at most MERGETOKEN_MAX_NAME octets without control characters,
 * '"' and '\\' escaped: a list parser that splits on commas outside quotes
 * reads exactly the mailboxes written.  Work per call is linear in the
 * template plus the values; memory is two fixed buffers on the stack.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

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


/* ---------------------------------------------------------------- mailboxes */

/* A fixed-size output buffer that records overflow instead of growing. */
typedef struct
{
	char	   *data;
	size_t		cap;
	size_t		len;
	int			overflow;
} FixedBuf;

typedef enum
{
	PART_ADDRESS,				/* bytes as they are */
	PART_NAME,					/* unquoted display name of the template */
	PART_QUOTED_NAME			/* inside a quoted display name of the template */
} PartKind;

typedef struct
{
	const char *tmpl;
	MergeValueFn value;
	MergeAppendFn append;
	void	   *arg;
	MailboxError *err;
	int			count;
} MailboxRender;

static void
fixed_add(FixedBuf *b, const char *s, size_t n)
{
	if (b->overflow)
		return;
	if (n > b->cap - b->len)
	{
		memcpy(b->data + b->len, s, b->cap - b->len);
		b->len = b->cap;
		b->overflow = 1;
		return;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

/* name_add - display-name text: controls become spaces, leading blanks go. */
static void
name_add(FixedBuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];
		char		ch = (c < 0x20 || c == 0x7f) ? ' ' : (char) c;

		if (ch == ' ' && b->len == 0)
			continue;
		fixed_add(b, &ch, 1);
	}
}

/*
 * mergetoken_address_is_valid - one local@domain of printable ASCII without
 * space or a character that could end a header, quote, comment or separate.
 */
int
mergetoken_address_is_valid(const char *s, size_t len)
{
	size_t		at = len;

	if (s == NULL || len == 0 || len > MERGETOKEN_MAX_ADDRESS)
		return 0;
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c) != NULL)
			return 0;
		if (c == '@')
		{
			if (at != len)
				return 0;
			at = i;
		}
	}
	return at != len && at > 0 && at + 1 < len;
}

static int
mailbox_fail(MailboxRender *r, MailboxStatus code, size_t offset,
			 const char *token, size_t token_len, const char *text, size_t text_len)
{
	MailboxError *err = r->err;
	size_t		n = text_len;

	if (err == NULL)
		return -1;
	err->code = code;
	err->offset = offset;
	err->token = token;
	err->token_len = token ? token_len : 0;
	if (text == NULL)
		n = 0;
	if (n > MERGETOKEN_ERROR_TEXT)
	{
		/* cut before a UTF-8 lead byte, so no character is split */
		n = MERGETOKEN_ERROR_TEXT;
		while (n > 0 && ((unsigned char) text[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) text[i];

		err->text[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char) c;
	}
	if (n < text_len)
	{
		memcpy(err->text + n, "...", 3);
		n += 3;
	}
	err->text[n] = '\0';
	return -1;
}

/*
 * value_mailbox - a token's whole value as exactly one mailbox: "addr",
 * "<addr>", "Name <addr>" or "\"Quoted, Name\" <addr>", no control
 * character anywhere, no list or group syntax in an unquoted name.
 */
static MailboxStatus
value_mailbox(const char *v, size_t n, FixedBuf *name, FixedBuf *addr)
{
	size_t		lt;
	size_t		b;

	for (size_t i = 0; i < n; i++)
		if ((unsigned char) v[i] < 0x20 || v[i] == 0x7f)
			return MB_ERR_NOT_ONE_MAILBOX;
	if (v[n - 1] != '>')
	{
		fixed_add(addr, v, n);
		return !addr->overflow && mergetoken_address_is_valid(v, n) ?
			MB_OK : MB_ERR_NOT_ONE_MAILBOX;
	}
	for (lt = n - 1; lt > 0 && v[lt] != '<'; lt--)
		;
	if (v[lt] != '<')
		return MB_ERR_NOT_ONE_MAILBOX;
	if (!mergetoken_address_is_valid(v + lt + 1, n - 1 - (lt + 1)))
		return MB_ERR_NOT_ONE_MAILBOX;
	fixed_add(addr, v + lt + 1, n - 1 - (lt + 1));
	b = lt;
	while (b > 0 && is_blank(v[b - 1]))
		b--;
	if (b > 0 && v[0] == '"')
	{
		if (b < 2 || v[b - 1] != '"')
			return MB_ERR_NOT_ONE_MAILBOX;
		for (size_t i = 1; i < b - 1; i++)
		{
			if (v[i] == '\\')
			{
				if (i + 1 >= b - 1)
					return MB_ERR_NOT_ONE_MAILBOX;
				i++;
			}
			else if (v[i] == '"')
				return MB_ERR_NOT_ONE_MAILBOX;
			name_add(name, v + i, 1);
		}
	}
	else
		for (size_t i = 0; i < b; i++)
		{
			if (strchr(",;:\"\\<>", v[i]) != NULL)
				return MB_ERR_NOT_ONE_MAILBOX;
			name_add(name, v + i, 1);
		}
	return name->overflow ? MB_ERR_NAME_TOO_LONG : MB_OK;
}

/*
 * render_part - render tmpl[a..b) (literals and tokens) into out as the
 * given part of a mailbox; *token is set to the first token in it.
 */
static MailboxStatus
render_part(MailboxRender *r, size_t a, size_t b, PartKind kind, FixedBuf *out,
			const char **token, size_t *token_len)
{
	MergeIter	it;
	MergeSegment seg;

	*token = NULL;
	*token_len = 0;
	mergetoken_iter_init(&it, r->tmpl + a, b - a);
	while (mergetoken_next(&it, &seg, NULL) == 1)
	{
		if (seg.kind == MT_TOKEN)
		{
			const char *v = r->value(r->arg, seg.text, seg.len);

			if (*token == NULL)
			{
				*token = seg.text;
				*token_len = seg.len;
			}
			if (v == NULL)
				continue;
			if (kind == PART_ADDRESS)
			{
				/* blanks around a value cannot be part of an address */
				size_t		vb = strlen(v);

				while (is_blank(*v))
					v++, vb--;
				while (vb > 0 && is_blank(v[vb - 1]))
					vb--;
				fixed_add(out, v, vb);
			}
			else
				name_add(out, v, strlen(v));
			continue;
		}
		for (size_t i = 0; i < seg.len; i++)
		{
			char		c = seg.text[i];

			if (kind == PART_ADDRESS)
				fixed_add(out, &c, 1);
			else if (kind == PART_NAME)
			{
				if (c == '"' || c == '<' || c == '>')
					return MB_ERR_TEMPLATE;
				name_add(out, &c, 1);
			}
			else
			{
				if (c == '\\')
				{
					if (i + 1 >= seg.len)
						return MB_ERR_TEMPLATE;
					c = seg.text[++i];
				}
				else if (c == '"')
					return MB_ERR_TEMPLATE;
				name_add(out, &c, 1);
			}
		}
	}
	return MB_OK;
}

/* emit - write one canonical mailbox. */
static int
emit(MailboxRender *r, FixedBuf *name, FixedBuf *addr)
{
	size_t		n = name->len;

	while (n > 0 && name->data[n - 1] == ' ')
		n--;
	if (r->count > 0)
		r->append(r->arg, ", ", 2);
	if (n == 0)
		r->append(r->arg, addr->data, addr->len);
	else
	{
		size_t		start = 0;

		r->append(r->arg, "\"", 1);
		for (size_t i = 0; i < n; i++)
			if (name->data[i] == '"' || name->data[i] == '\\')
			{
				r->append(r->arg, name->data + start, i - start);
				r->append(r->arg, "\\", 1);
				start = i;
			}
		r->append(r->arg, name->data + start, n - start);
		r->append(r->arg, "\" <", 3);
		r->append(r->arg, addr->data, addr->len);
		r->append(r->arg, ">", 1);
	}
	r->count++;
	return 1;
}

/*
 * render_mailbox - one mailbox of the template, tmpl[a..b) between
 * separating commas: 1 written, 0 empty, -1 error.
 */
static int
render_mailbox(MailboxRender *r, size_t a, size_t b)
{
	const char *t = r->tmpl;
	char		namebuf[MERGETOKEN_MAX_NAME];
	char		addrbuf[MERGETOKEN_MAX_ADDRESS];
	FixedBuf	name = {namebuf, sizeof(namebuf), 0, 0};
	FixedBuf	addr = {addrbuf, sizeof(addrbuf), 0, 0};
	MergeIter	it;
	MergeSegment seg;
	int			nsegs = 0;
	const char *token = NULL;
	size_t		token_len = 0;
	const char *name_token;
	size_t		name_token_len;
	int			have_lt = 0;
	size_t		lt = 0;
	size_t		nb;
	MailboxStatus st;

	while (a < b && is_blank(t[a]))
		a++;
	while (b > a && is_blank(t[b - 1]))
		b--;
	if (a == b)
		return 0;

	mergetoken_iter_init(&it, t + a, b - a);
	while (mergetoken_next(&it, &seg, NULL) == 1)
	{
		nsegs++;
		if (seg.kind == MT_TOKEN)
		{
			if (token == NULL)
			{
				token = seg.text;
				token_len = seg.len;
			}
		}
		else
			for (size_t i = 0; i < seg.len; i++)
				if (seg.text[i] == '<')
				{
					have_lt = 1;
					lt = a + seg.offset + i;
				}
	}

	/* a token alone: its value must be one mailbox */
	if (nsegs == 1 && token != NULL)
	{
		const char *v = r->value(r->arg, token, token_len);
		size_t		vlen = v ? strlen(v) : 0;
		size_t		va = 0;
		size_t		vb = vlen;

		while (va < vb && is_blank(v[va]))
			va++;
		while (vb > va && is_blank(v[vb - 1]))
			vb--;
		if (va == vb)
			return 0;
		st = value_mailbox(v + va, vb - va, &name, &addr);
		if (st != MB_OK)
			return mailbox_fail(r, st, a, token, token_len, v, vlen);
		return emit(r, &name, &addr);
	}

	/* no '>' at the end: the whole rendered text is the address */
	if (t[b - 1] != '>')
	{
		if (render_part(r, a, b, PART_ADDRESS, &addr, &token, &token_len) != MB_OK ||
			addr.overflow || !mergetoken_address_is_valid(addr.data, addr.len))
			return mailbox_fail(r, MB_ERR_BAD_ADDRESS, a, token, token_len,
								addr.data, addr.len);
		return emit(r, &name, &addr);
	}

	/* name <address>: the template's last '<' opens the address */
	if (!have_lt)
		return mailbox_fail(r, MB_ERR_TEMPLATE, a, NULL, 0, t + a, b - a);
	if (render_part(r, lt + 1, b - 1, PART_ADDRESS, &addr, &token, &token_len) != MB_OK ||
		addr.overflow || !mergetoken_address_is_valid(addr.data, addr.len))
		return mailbox_fail(r, MB_ERR_BAD_ADDRESS, a, token, token_len,
							addr.data, addr.len);
	nb = lt;
	while (nb > a && is_blank(t[nb - 1]))
		nb--;
	if (nb > a && t[a] == '"')
	{
		if (nb - a < 2 || t[nb - 1] != '"')
			return mailbox_fail(r, MB_ERR_TEMPLATE, a, NULL, 0, t + a, b - a);
		st = render_part(r, a + 1, nb - 1, PART_QUOTED_NAME, &name,
						 &name_token, &name_token_len);
	}
	else
		st = render_part(r, a, nb, PART_NAME, &name, &name_token, &name_token_len);
	if (st != MB_OK)
		return mailbox_fail(r, st, a, NULL, 0, t + a, b - a);
	if (name.overflow)
		return mailbox_fail(r, MB_ERR_NAME_TOO_LONG, a, name_token, name_token_len,
							name.data, name.len);
	return emit(r, &name, &addr);
}

/*
 * mergetoken_render_mailboxes - render an address-list template, each
 * token inside the one mailbox the template puts it in.
 */
int
mergetoken_render_mailboxes(const char *tmpl, size_t len, MergeValueFn value,
							MergeAppendFn append, void *arg, MailboxError *err)
{
	MailboxRender r;
	MergeIter	it;
	MergeSegment seg;
	MergeTokenError terr;
	int			rc;
	int			quoted = 0;
	size_t		start = 0;

	r.tmpl = tmpl;
	r.value = value;
	r.append = append;
	r.arg = arg;
	r.err = err;
	r.count = 0;
	if (tmpl == NULL)
		len = 0;

	/* the token syntax first: the parts below re-read valid segments only */
	mergetoken_iter_init(&it, tmpl, len);
	while ((rc = mergetoken_next(&it, &seg, &terr)) == 1)
		;
	if (rc < 0)
		return mailbox_fail(&r, MB_ERR_TEMPLATE, terr.offset, NULL, 0, tmpl, len);

	/* mailboxes end at commas outside quotes, in the literal text */
	mergetoken_iter_init(&it, tmpl, len);
	while (mergetoken_next(&it, &seg, NULL) == 1)
	{
		if (seg.kind != MT_LITERAL)
			continue;
		for (size_t i = 0; i < seg.len; i++)
		{
			char		c = seg.text[i];

			if (c == '"')
				quoted = !quoted;
			else if (c == '\\' && quoted)
			{
				if (i + 1 < seg.len)
					i++;
			}
			else if (c == ',' && !quoted)
			{
				if (render_mailbox(&r, start, seg.offset + i) < 0)
					return -1;
				start = seg.offset + i + 1;
			}
		}
	}
	if (quoted)
		return mailbox_fail(&r, MB_ERR_TEMPLATE, start, NULL, 0,
							tmpl + start, len - start);
	if (render_mailbox(&r, start, len) < 0)
		return -1;
	return r.count;
}

/*
 * mergetoken_mailbox_message - lower-case English phrase for a status.
 */
const char *
mergetoken_mailbox_message(MailboxStatus code)
{
	switch (code)
	{
		case MB_OK:
			return "ok";
		case MB_ERR_TEMPLATE:
			return "malformed mailbox in the template";
		case MB_ERR_NOT_ONE_MAILBOX:
			return "did not render one email address";
		case MB_ERR_BAD_ADDRESS:
			return "did not render one valid email address";
		case MB_ERR_NAME_TOO_LONG:
			return "display name longer than 200 octets";
	}
	return "unknown error";
}
