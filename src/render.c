/*-------------------------------------------------------------------------
 *
 * render.c
 *	  Merge tokens rendered into an action's config when a job is enqueued.
 *
 * Every string value of the config is rendered on its own and the result is
 * stored as a JSON string, so a token's value is data, never syntax: it
 * cannot close a JSON string, add a key, or change a URL's host (values
 * inserted into a "url" are percent-encoded).  NULL renders empty.  Unknown
 * tokens (rejected at creation) render empty too.
 *
 * The address fields of send_email (to, cc, bcc, reply_to) are rendered by
 * mergetoken_render_mailboxes: a token stays inside the one mailbox the
 * template puts it in (a token standing for a whole mailbox must render
 * exactly one; one in a display name is text, quoted and escaped).  The
 * field is stored as the canonical mailboxes ("a@b", "\"Name\" <a@b>")
 * joined by ", " (an array: element by element).  When a token breaks that
 * rule the field becomes {"error": "<why>"}: nothing fails in the writing
 * transaction, and the worker fails the job permanently naming the field
 * (a worker of 0.2.0 refuses the object as well: "to must be a string or an
 * array of strings").  doc/worker.md, "Email", has the rule.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "mb/pg_wchar.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "automation.h"
#include "render.h"
#include "mergetoken.h"

static int	column_number(TupleDesc tupdesc, MergePathPart *parts, char **column);

/*
 * append_url_encoded
 *		Percent-encode everything but RFC 3986 unreserved characters.
 */
static void
append_url_encoded(StringInfo out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~')
			appendStringInfoChar(out, c);
		else
		{
			appendStringInfoChar(out, '%');
			appendStringInfoChar(out, hex[c >> 4]);
			appendStringInfoChar(out, hex[c & 15]);
		}
	}
}

/*
 * field_text
 *		Text of a row's field (column, optionally a json path below it), or
 *		NULL when the row, column or path is absent or the value is NULL.
 */
static char *
field_text(HeapTuple tuple, TupleDesc tupdesc, MergePathPart *parts, int nparts)
{
	char	   *column;
	int			attnum = column_number(tupdesc, parts, &column);
	Datum		value;
	bool		isnull;
	Oid			typoutput;
	bool		typisvarlena;
	Form_pg_attribute attr;

	if (tuple == NULL || attnum <= 0)
		return NULL;
	attr = TupleDescAttr(tupdesc, attnum - 1);
	value = heap_getattr(tuple, attnum, tupdesc, &isnull);
	if (isnull)
		return NULL;
	if (nparts > 1 && (attr->atttypid == JSONBOID || attr->atttypid == JSONOID))
	{
		Jsonb	   *jb;
		JsonbValue *found = NULL;
		JsonbContainer *container;

		/* a json value jsonb cannot hold renders empty (jsonsafe.c) */
		jb = attr->atttypid == JSONBOID ? DatumGetJsonbP(value)
			: automation_json_to_jsonb(value);
		if (jb == NULL)
			return NULL;
		container = &jb->root;
		for (int i = 1; i < nparts; i++)
		{
			if (!JsonContainerIsObject(container))
				return NULL;
			found = getKeyJsonValueFromContainer(container, parts[i].name, parts[i].len, NULL);
			if (found == NULL)
				return NULL;
			if (i < nparts - 1)
			{
				if (found->type != jbvBinary)
					return NULL;
				container = found->val.binary.data;
			}
		}
		switch (found->type)
		{
			case jbvNull:
				return NULL;
			case jbvString:
				return pnstrdup(found->val.string.val, found->val.string.len);
			case jbvNumeric:
				return DatumGetCString(DirectFunctionCall1(numeric_out,
														   NumericGetDatum(found->val.numeric)));
			case jbvBool:
				return pstrdup(found->val.boolean ? "true" : "false");
			default:
				return JsonbToCString(NULL, found->val.binary.data, -1);
		}
	}
	if (nparts > 1)
		return NULL;
	getTypeOutputInfo(attr->atttypid, &typoutput, &typisvarlena);
	return OidOutputFunctionCall(typoutput, value);
}

/*
 * column_number
 *		Attribute number of the column named by the first path part.
 */
static int
column_number(TupleDesc tupdesc, MergePathPart *parts, char **column)
{
	*column = pnstrdup(parts[0].name, parts[0].len);
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);

		if (!attr->attisdropped && strcmp(NameStr(attr->attname), *column) == 0)
			return i + 1;
	}
	return 0;
}

static bool
part_is(MergePathPart *part, const char *name)
{
	return part->len == strlen(name) && strncmp(part->name, name, part->len) == 0;
}

/*
 * token_value
 *		Value of one merge token for this firing, or NULL.
 */
static char *
token_value(const char *path, size_t len, Definition *definition, FiringContext *firing)
{
	MergePathPart parts[MERGETOKEN_MAX_PARTS];
	int			nparts;
	HeapTuple	row = firing->event == EVENT_DELETE ? firing->oldtuple : firing->newtuple;

	if (mergetoken_split_path(path, len, parts, MERGETOKEN_MAX_PARTS, &nparts, NULL) != MT_OK ||
		nparts < 2)
		return NULL;
	if (part_is(&parts[0], "old"))
		return field_text(firing->oldtuple, firing->tupdesc, parts + 1, nparts - 1);
	if (part_is(&parts[0], firing->cache->entity))
		return field_text(row, firing->tupdesc, parts + 1, nparts - 1);
	if (nparts == 2 && (part_is(&parts[0], "workflow") || part_is(&parts[0], "rule")))
	{
		if (part_is(&parts[1], "name"))
			return definition->name;
		if (part_is(&parts[1], "id"))
			return definition->id;
		return NULL;
	}
	if (nparts == 2 && part_is(&parts[0], "event"))
	{
		if (part_is(&parts[1], "operation"))
			return pstrdup(firing->operation);
		if (part_is(&parts[1], "at"))
			return DatumGetCString(DirectFunctionCall1(timestamptz_out,
													   TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())));
		if (part_is(&parts[1], "entity"))
			return firing->cache->entity;
		if (part_is(&parts[1], "record_key"))
			return firing->record_key;
	}
	return NULL;
}

/*
 * render_string
 *		Render a template; returns NULL if it holds no token (keep as is).
 */
static char *
render_string(const char *s, int len, bool url, Definition *definition,
			  FiringContext *firing)
{
	MergeIter	it;
	MergeSegment segment;
	StringInfoData out;
	bool		any = false;
	int			rc;

	if (memchr(s, '{', len) == NULL)
		return NULL;
	initStringInfo(&out);
	mergetoken_iter_init(&it, s, len);
	while ((rc = mergetoken_next(&it, &segment, NULL)) == 1)
	{
		if (segment.kind == MT_LITERAL)
			appendBinaryStringInfo(&out, segment.text, segment.len);
		else
		{
			char	   *value = token_value(segment.text, segment.len, definition, firing);

			any = true;
			if (value == NULL)
				continue;
			if (url)
				append_url_encoded(&out, value);
			else
				appendStringInfoString(&out, value);
		}
	}
	if (rc < 0 || !any)
		return NULL;			/* malformed templates are refused at creation */
	return out.data;
}

/* ---------------------------------------------------------------- addresses */

typedef struct MailboxContext
{
	Definition *definition;
	FiringContext *firing;
	StringInfo	out;
} MailboxContext;

static const char *
mailbox_value(void *arg, const char *path, size_t len)
{
	MailboxContext *context = arg;

	return token_value(path, len, context->definition, context->firing);
}

static void
mailbox_append(void *arg, const char *s, size_t n)
{
	appendBinaryStringInfo(((MailboxContext *) arg)->out, s, n);
}

/* needs_mailbox_render: does an address template hold a token (or bad syntax)? */
static bool
needs_mailbox_render(const char *s, int len)
{
	MergeIter	it;
	MergeSegment segment;
	int			rc;

	if (memchr(s, '{', len) == NULL)
		return false;
	mergetoken_iter_init(&it, s, len);
	while ((rc = mergetoken_next(&it, &segment, NULL)) == 1)
		if (segment.kind == MT_TOKEN)
			return true;
	return rc < 0;
}

/*
 * render_mailboxes
 *		Render one address template; NULL with *error set when a token does
 *		not stay one mailbox.
 */
static char *
render_mailboxes(const char *s, int len, Definition *definition,
				 FiringContext *firing, char **error)
{
	StringInfoData out;
	MailboxContext context;
	MailboxError err;
	int			textlen;

	initStringInfo(&out);
	context.definition = definition;
	context.firing = firing;
	context.out = &out;
	if (mergetoken_render_mailboxes(s, len, mailbox_value, mailbox_append,
									&context, &err) >= 0)
		return out.data;

	/* the text is cut on a UTF-8 boundary: keep it valid in any encoding */
	textlen = pg_encoding_verifymbstr(GetDatabaseEncoding(), err.text, strlen(err.text));
	if (err.token != NULL)
		*error = psprintf("merge token {{%.*s}} %s: \"%.*s\"", (int) err.token_len,
						  err.token, mergetoken_mailbox_message(err.code), textlen, err.text);
	else if (err.code == MB_ERR_BAD_ADDRESS)
		*error = psprintf("invalid email address \"%.*s\"", textlen, err.text);
	else
		*error = psprintf("%s: \"%.*s\"", mergetoken_mailbox_message(err.code),
						  textlen, err.text);
	return NULL;
}

static void
push_string(JsonbParseState **state, JsonbIteratorToken token, char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = s;
	v.val.string.len = strlen(s);
	pushJsonbValue(state, token, &v);
}

/*
 * push_address_field
 *		Push the rendered value of an address field (the value as written,
 *		a string or an array of strings), or {"error": ...}.
 */
static void
push_address_field(JsonbParseState **state, JsonbValue *value,
				   Definition *definition, FiringContext *firing)
{
	char	   *error = NULL;

	if (value->type == jbvString)
	{
		char	   *rendered;

		if (!needs_mailbox_render(value->val.string.val, value->val.string.len))
		{
			pushJsonbValue(state, WJB_VALUE, value);
			return;
		}
		rendered = render_mailboxes(value->val.string.val, value->val.string.len,
									definition, firing, &error);
		if (rendered != NULL)
		{
			push_string(state, WJB_VALUE, rendered);
			return;
		}
	}
	else if (value->type == jbvBinary && JsonContainerIsArray(value->val.binary.data))
	{
		JsonbContainer *array = value->val.binary.data;
		int			n = JsonContainerSize(array);
		char	  **rendered = palloc0(sizeof(char *) * Max(n, 1));
		bool		any = false;

		for (int i = 0; i < n && error == NULL; i++)
		{
			JsonbValue *element = getIthJsonbValueFromContainer(array, i);

			if (element->type == jbvString &&
				needs_mailbox_render(element->val.string.val, element->val.string.len))
			{
				rendered[i] = render_mailboxes(element->val.string.val,
											   element->val.string.len,
											   definition, firing, &error);
				any = true;
			}
		}
		if (error == NULL && !any)
		{
			pushJsonbValue(state, WJB_VALUE, value);
			return;
		}
		if (error == NULL)
		{
			pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
			for (int i = 0; i < n; i++)
			{
				if (rendered[i] != NULL)
					push_string(state, WJB_ELEM, rendered[i]);
				else
					pushJsonbValue(state, WJB_ELEM, getIthJsonbValueFromContainer(array, i));
			}
			pushJsonbValue(state, WJB_END_ARRAY, NULL);
			return;
		}
	}
	else
	{
		pushJsonbValue(state, WJB_VALUE, value);
		return;
	}
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_string(state, WJB_KEY, "error");
	push_string(state, WJB_VALUE, error);
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

static bool
is_address_key(const char *key, int len)
{
	static const char *const keys[] = {"to", "cc", "bcc", "reply_to"};

	for (int i = 0; i < lengthof(keys); i++)
		if (len == strlen(keys[i]) && strncmp(key, keys[i], len) == 0)
			return true;
	return false;
}

/*
 * automation_render_config
 *		A copy of an action's config with every string value rendered.
 */
Jsonb *
automation_render_config(CompiledAction *action, Definition *definition, FiringContext *firing)
{
	Jsonb	   *config = action->config;
	JsonbIterator *it = JsonbIteratorInit(&config->root);
	JsonbParseState *state = NULL;
	JsonbValue	v;
	JsonbIteratorToken token;
	JsonbValue *result = NULL;
	bool		key_is_url = false;
	bool		email = strcmp(action->action_type, "send_email") == 0;
	int			level = 0;

	while ((token = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (token == WJB_BEGIN_OBJECT || token == WJB_BEGIN_ARRAY)
			level++;
		else if (token == WJB_END_OBJECT || token == WJB_END_ARRAY)
			level--;
		if (token == WJB_KEY)
			key_is_url = level == 1 && v.val.string.len == 3 &&
				strncmp(v.val.string.val, "url", 3) == 0;
		if (token == WJB_KEY && email && level == 1 &&
			is_address_key(v.val.string.val, v.val.string.len))
		{
			JsonbValue *value = getKeyJsonValueFromContainer(&config->root,
															 v.val.string.val,
															 v.val.string.len, NULL);
			int			depth = 0;

			pushJsonbValue(&state, WJB_KEY, &v);
			push_address_field(&state, value, definition, firing);
			/* skip the value as written */
			do
			{
				token = JsonbIteratorNext(&it, &v, false);
				if (token == WJB_BEGIN_OBJECT || token == WJB_BEGIN_ARRAY)
					depth++;
				else if (token == WJB_END_OBJECT || token == WJB_END_ARRAY)
					depth--;
			} while (depth > 0);
			continue;
		}
		if ((token == WJB_VALUE || token == WJB_ELEM) && v.type == jbvString)
		{
			char	   *rendered = render_string(v.val.string.val, v.val.string.len,
												 key_is_url && token == WJB_VALUE,
												 definition, firing);

			if (rendered != NULL)
			{
				v.val.string.val = rendered;
				v.val.string.len = strlen(rendered);
			}
		}
		result = pushJsonbValue(&state, token,
								token < WJB_BEGIN_ARRAY ? &v : NULL);
	}
	return JsonbValueToJsonb(result);
}
