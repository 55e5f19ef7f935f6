/*-------------------------------------------------------------------------
 *
 * sqlparsers.c
 *	  SQL-callable wrappers around the pure form-key and merge-token parsers.
 *
 *	  automation._form_key_parse(key text) RETURNS text[]
 *	  automation._merge_token_paths(template text, field text) RETURNS text[]
 *
 * The definitions API (sql/install/10_common.sql, 35_rules.sql) uses them to
 * turn flat multipart keys into nested rules and to check that merge tokens
 * name real fields.
 *
 * Invariants: input is read only within its varlena length (it need not be
 * NUL-terminated); memory comes from palloc in the current context; bad
 * input raises ERRCODE_INVALID_PARAMETER_VALUE (22023) naming the byte
 * offset, never an internal error; user text echoed in a message is cut to
 * SHOW_MAX bytes on a character boundary.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "formkey.h"
#include "mergetoken.h"

#define SHOW_MAX	100

PG_FUNCTION_INFO_V1(automation_form_key_parse);
PG_FUNCTION_INFO_V1(automation_merge_token_paths);

/*
 * show_text
 *		A palloc'd, NUL-terminated copy of s[0..len) cut to SHOW_MAX bytes
 *		(on a character boundary), with "..." appended when cut.
 */
static char *
show_text(const char *s, size_t len)
{
	StringInfoData buf;
	int			cut;

	initStringInfo(&buf);
	if (len <= SHOW_MAX)
		appendBinaryStringInfo(&buf, s, (int) len);
	else
	{
		cut = pg_mbcliplen(s, (int) len, SHOW_MAX);
		appendBinaryStringInfo(&buf, s, cut);
		appendStringInfoString(&buf, "...");
	}
	return buf.data;
}

/*
 * build_text_array
 *		A one-dimensional text[] of n elements from (ptr, len) pairs.
 */
static ArrayType *
build_text_array(const char **ptrs, const size_t *lens, int n)
{
	Datum	   *elems;
	int			i;

	if (n == 0)
		return construct_empty_array(TEXTOID);
	elems = (Datum *) palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
		elems[i] = PointerGetDatum(cstring_to_text_with_len(ptrs[i], (int) lens[i]));
	return construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
}

/*
 * automation_form_key_parse
 *		Split a multipart form key into its segments:
 *		'conditions[0][value_array][]' -> {conditions,0,value_array,""}.
 *		An index segment is its decimal digits, an append segment "[]" is
 *		the empty string.  Raises 22023 on a malformed key.
 */
Datum
automation_form_key_parse(PG_FUNCTION_ARGS)
{
	text	   *key = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(key);
	size_t		len = VARSIZE_ANY_EXHDR(key);
	FormKeySegment segs[FORMKEY_MAX_DEPTH];
	const char *ptrs[FORMKEY_MAX_DEPTH];
	size_t		lens[FORMKEY_MAX_DEPTH];
	int			nsegs = 0;
	size_t		erroff = 0;
	FormKeyStatus st;
	int			i;

	st = formkey_parse(s, len, segs, FORMKEY_MAX_DEPTH, &nsegs, &erroff);
	if (st != FORMKEY_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid form key \"%s\"", show_text(s, len)),
				 errdetail("%s at byte %zu", formkey_status_message(st), erroff),
				 errhint("form keys look like name, conditions[0][operator] or conditions[0][value_array][1]; indexes go up to %d, nesting up to %d segments",
						 FORMKEY_MAX_INDEX, FORMKEY_MAX_DEPTH)));

	for (i = 0; i < nsegs; i++)
	{
		ptrs[i] = segs[i].name;
		lens[i] = segs[i].is_append ? 0 : segs[i].name_len;
		if (segs[i].is_append)
			ptrs[i] = s;
	}
	PG_RETURN_ARRAYTYPE_P(build_text_array(ptrs, lens, nsegs));
}

/*
 * automation_merge_token_paths
 *		The trimmed paths of the merge tokens of a template, in order:
 *		'Deal {{ deal.name }} at {{event.at}}' -> {deal.name,event.at}.
 *		field names the template in error messages.  Raises 22023 on a
 *		malformed token.
 */
Datum
automation_merge_token_paths(PG_FUNCTION_ARGS)
{
	text	   *tmpl;
	char	   *field;
	const char *s;
	size_t		len;
	MergeIter	it;
	MergeSegment seg;
	MergeTokenError err;
	const char **ptrs;
	size_t	   *lens;
	int			n = 0;
	int			cap = 8;
	int			rc;

	/* a NULL template has no tokens */
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	tmpl = PG_GETARG_TEXT_PP(0);
	field = PG_ARGISNULL(1) ? "template" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	s = VARDATA_ANY(tmpl);
	len = VARSIZE_ANY_EXHDR(tmpl);

	ptrs = (const char **) palloc(sizeof(char *) * cap);
	lens = (size_t *) palloc(sizeof(size_t) * cap);

	mergetoken_iter_init(&it, s, len);
	while ((rc = mergetoken_next(&it, &seg, &err)) > 0)
	{
		if (seg.kind != MT_TOKEN)
			continue;
		if (n >= cap)
		{
			cap *= 2;
			ptrs = (const char **) repalloc(ptrs, sizeof(char *) * cap);
			lens = (size_t *) repalloc(lens, sizeof(size_t) * cap);
		}
		ptrs[n] = seg.text;
		lens[n] = seg.len;
		n++;
	}
	if (rc < 0)
	{
		size_t		from = err.offset;
		size_t		shown = len - from;

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid merge token in %s", field),
				 errdetail("%s at byte %zu: \"%s\"",
						   mergetoken_error_message(err.code), from,
						   show_text(s + from, shown)),
				 errhint("merge tokens look like {{deal.name}}: \"{{\", a dotted path of identifiers, \"}}\"")));
	}
	PG_RETURN_ARRAYTYPE_P(build_text_array(ptrs, lens, n));
}
