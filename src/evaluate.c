/*-------------------------------------------------------------------------
 *
 * evaluate.c
 *	  The evaluator: does a compiled condition hold for a row event?
 *
 * Used by the row trigger and by explain(), so both always agree.
 * Invariants: reads OLD/NEW straight from the tuples, each deformed at most
 * once per row (RowState), and each text column lower-cased at most once per
 * row; never runs SQL; allocates only in CurrentMemoryContext, which the
 * caller resets per row.
 * Text compares ignore case; NULL never equals anything; an UPDATE that leaves
 * a guarded column byte-for-byte unchanged skips its edge-triggered
 * definitions without evaluating them.  A path below a json or jsonb column
 * reads its value without converting, without an error and without a
 * subtransaction: JSON strings compare as text, numbers as exact decimals.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/hash.h"
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/date.h"
#include "utils/formatting.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "automation.h"
#include "evaluate.h"

/* an exact decimal, read in place from its text (see "Exact decimals") */
typedef struct Decimal
{
	int			sign;			/* -1, 0 or 1 */
	const char *int_digits;
	int			nint;
	const char *frac_digits;
	int			nfrac;
	int			first;			/* first significant digit (of int ++ frac) */
	int			last;			/* one past the last significant digit */
	int64		magnitude;		/* value = sign * 0.<first..last> * 10^magnitude */
} Decimal;

/* a JSON scalar, as it compares (see "JSON paths") */
typedef enum JsonScalarKind
{
	JSON_STRING,
	JSON_NUMBER,
	JSON_BOOL
} JsonScalarKind;

typedef struct JsonScalar
{
	JsonScalarKind kind;
	char	   *text;			/* string: lower case; number: as written
								 * (json) or numeric_out (jsonb); bool:
								 * "true" or "false" */
	Decimal		number;			/* number: over text */
} JsonScalar;

/* A field's value in one row, in the form its condition compares. */
typedef struct FieldValue
{
	bool		isnull;			/* NULL, absent, or a JSON null */
	bool		unreadable;		/* present, but cannot be compared */
	bool		unknown;		/* not even known to be present */
	Datum		datum;			/* VALUE_ORDERED */
	char	   *text;			/* VALUE_TEXT, and a JSON string: lower case */
	Datum	   *elements;		/* VALUE_ARRAY */
	bool	   *element_nulls;
	int			nelements;		/* VALUE_ARRAY, or a JSON array's scalars */
	/* VALUE_JSON */
	bool		json_scalar;	/* json: the scalar */
	bool		json_object;
	bool		json_array;		/* json_elements[nelements] */
	JsonScalar	json;
	JsonScalar *json_elements;
} FieldValue;

/*
 * automation_lower
 *		Lower-case text for case-insensitive comparison.  ASCII takes a fast
 *		path; anything else goes through the collation's rules.  Constants
 *		(cache.c) and values use this same function, so they always agree.
 */
char *
automation_lower(const char *s, int len, Oid collation)
{
	char	   *out;

	for (int i = 0; i < len; i++)
		if ((unsigned char) s[i] >= 0x80)
			return str_tolower(s, len, collation);
	out = palloc(len + 1);
	for (int i = 0; i < len; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + ('a' - 'A') : s[i];
	out[len] = '\0';
	return out;
}

/*
 * lower_text
 *		A text-like datum lower-cased; char(n) padding is not significant.
 */
static char *
lower_text(Datum value, Oid type, Oid collation)
{
	text	   *t = DatumGetTextPP(value);
	int			len = VARSIZE_ANY_EXHDR(t);

	if (type == BPCHAROID)
		while (len > 0 && VARDATA_ANY(t)[len - 1] == ' ')
			len--;
	return automation_lower(VARDATA_ANY(t), len, collation);
}

/*
 * automation_row_init
 *		Prepare a row event for evaluation; nothing is read yet.
 */
void
automation_row_init(RowState *row, TupleDesc tupdesc, int event,
					HeapTuple newtuple, HeapTuple oldtuple)
{
	memset(row, 0, sizeof(*row));
	row->tupdesc = tupdesc;
	row->event = event;
	row->tuples[ROW_NEW] = newtuple;
	row->tuples[ROW_OLD] = oldtuple;
}

/*
 * automation_row_use_slots
 *		Read the row from the trigger's slots instead of deforming the whole
 *		tuples: a slot deforms incrementally, only up to the highest column
 *		the definitions read, and keeps what it deformed.
 */
void
automation_row_use_slots(RowState *row, TupleTableSlot *newslot, TupleTableSlot *oldslot)
{
	row->slots[ROW_NEW] = row->tuples[ROW_NEW] != NULL ? newslot : NULL;
	row->slots[ROW_OLD] = row->tuples[ROW_OLD] != NULL ? oldslot : NULL;
}

/*
 * automation_row_column
 *		Column attnum of NEW or OLD, deforming that tuple on first use.
 */
Datum
automation_row_column(RowState *row, int which, AttrNumber attnum, bool *isnull)
{
	if (row->tuples[which] == NULL)
	{
		*isnull = true;
		return (Datum) 0;
	}
	if (row->slots[which] != NULL)
		return slot_getattr(row->slots[which], attnum, isnull);
	if (row->values[which] == NULL)
	{
		int			natts = row->tupdesc->natts;

		row->values[which] = palloc(sizeof(Datum) * natts);
		row->nulls[which] = palloc(sizeof(bool) * natts);
		heap_deform_tuple(row->tuples[which], row->tupdesc,
						  row->values[which], row->nulls[which]);
	}
	*isnull = row->nulls[which][attnum - 1];
	return row->values[which][attnum - 1];
}

/*
 * automation_row_lower_text
 *		A text column of NEW or OLD lower-cased, once per row.
 */
char *
automation_row_lower_text(RowState *row, int which, CompiledCondition *condition, Datum column)
{
	AttrNumber	attnum = condition->attnum;

	if (row->lowered[which] == NULL)
		row->lowered[which] = palloc0(sizeof(char *) * row->tupdesc->natts);
	if (row->lowered[which][attnum - 1] == NULL)
		row->lowered[which][attnum - 1] = lower_text(column, condition->column_type,
													 condition->collation);
	return row->lowered[which][attnum - 1];
}

/*
 * Exact decimals
 *
 * A JSON number, and a constant compared with one, as a sign, its
 * significant digits and a decimal magnitude, read in place from its text:
 * two numbers compare digit by digit, exactly, whatever their size, and
 * reading one never fails (no numeric_in, whose range jsonb shares, and no
 * double, which takes 9007199254740993 for 9007199254740992).  The syntax is
 * JSON's: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?, in full.
 * No space, no plus sign, no leading zero, no NaN, no Infinity, no hex: a
 * constant written otherwise ("02134", "0x10", " 5") is text, and never
 * equals a number.
 */

/* a larger exponent is not read: magnitudes stay far from int64's range */
#define DECIMAL_MAX_EXPONENT	INT64CONST(1000000000000000)

static inline char
decimal_digit(const Decimal *d, int i)
{
	return i < d->nint ? d->int_digits[i] : d->frac_digits[i - d->nint];
}

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * parse_decimal
 *		Read s[0..len) as a JSON number; false if it is not one (in full),
 *		or its exponent is beyond DECIMAL_MAX_EXPONENT.
 */
static bool
parse_decimal(const char *s, int len, Decimal *d)
{
	const char *p = s;
	const char *end = s + len;
	bool		negative = false;
	int64		exponent = 0;
	int			total;

	memset(d, 0, sizeof(*d));
	if (p < end && *p == '-')
	{
		negative = true;
		p++;
	}
	d->int_digits = p;
	if (p < end && *p == '0')
		p++;
	else
		while (p < end && is_digit(*p))
			p++;
	d->nint = p - d->int_digits;
	if (d->nint == 0)
		return false;
	if (p < end && *p == '.')
	{
		d->frac_digits = ++p;
		while (p < end && is_digit(*p))
			p++;
		d->nfrac = p - d->frac_digits;
		if (d->nfrac == 0)
			return false;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		bool		exponent_negative = false;
		const char *digits;

		p++;
		if (p < end && (*p == '-' || *p == '+'))
			exponent_negative = *p++ == '-';
		digits = p;
		while (p < end && is_digit(*p))
		{
			exponent = exponent * 10 + (*p++ - '0');
			if (exponent > DECIMAL_MAX_EXPONENT)
				return false;
		}
		if (p == digits)
			return false;
		if (exponent_negative)
			exponent = -exponent;
	}
	if (p != end)
		return false;

	total = d->nint + d->nfrac;
	while (d->first < total && decimal_digit(d, d->first) == '0')
		d->first++;
	if (d->first == total)
		return true;			/* zero, whatever its sign */
	d->last = total;
	while (decimal_digit(d, d->last - 1) == '0')
		d->last--;
	d->sign = negative ? -1 : 1;
	d->magnitude = exponent - d->nfrac + (total - d->first);
	return true;
}

static int
decimal_cmp(const Decimal *a, const Decimal *b)
{
	int			result = 0;

	if (a->sign != b->sign)
		return a->sign < b->sign ? -1 : 1;
	if (a->sign == 0)
		return 0;
	if (a->magnitude != b->magnitude)
		result = a->magnitude < b->magnitude ? -1 : 1;
	else
	{
		int			na = a->last - a->first;
		int			nb = b->last - b->first;

		for (int i = 0; i < Min(na, nb) && result == 0; i++)
		{
			char		x = decimal_digit(a, a->first + i);
			char		y = decimal_digit(b, b->first + i);

			if (x != y)
				result = x < y ? -1 : 1;
		}
		/* no trailing zeros: more significant digits is the larger */
		if (result == 0 && na != nb)
			result = na < nb ? -1 : 1;
	}
	return a->sign * result;
}

static bool
constant_decimal(const char *constant, Decimal *d)
{
	return parse_decimal(constant, strlen(constant), d);
}

/*
 * JSON paths
 *
 * The value below a json or jsonb column reads as a scalar (a string, a
 * number or a boolean), an object, an array (of which the scalars count),
 * absent (a missing key, a JSON null, a step that is not an object) or
 * unreadable.  Strings compare as lower-case text, numbers as exact
 * decimals, booleans as "true"/"false".
 *
 * A json (not jsonb) column is read from its text by the scanner below: no
 * conversion to jsonb (which cannot hold "\u0000" or 1e1000000, so the
 * conversion would fail the application's write), no recursion (any depth
 * of nesting), no error: the table accepted the text, so reading it must
 * not fail the write (SPEC section 10).  Only the keys on the path and the
 * value found are decoded; duplicate keys: the last one counts, as in jsonb.
 * Unreadable: a string with \u0000, or with a \u escape above U+007F when
 * the database is not UTF-8 (PostgreSQL 15 has no converter that does not
 * raise), a number whose exponent is beyond 10^15 (present, but never
 * compared); text that is not JSON at all (not even known to be present).
 */
typedef enum JsonRead
{
	JSON_READ_SCALAR,
	JSON_READ_NULL,
	JSON_READ_CONTAINER,		/* at '{' or '[', not consumed */
	JSON_READ_UNREADABLE,
	JSON_READ_INVALID
} JsonRead;

static inline bool
json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *
json_skip_space(const char *p, const char *end)
{
	while (p < end && json_space(*p))
		p++;
	return p;
}

/* past the string whose opening quote is at p; NULL if it never closes */
static const char *
json_skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++)
	{
		if (*p == '\\')
		{
			if (++p == end)
				return NULL;
		}
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* past a scalar that is not a string (number, true, false, null) */
static const char *
json_skip_bare(const char *p, const char *end)
{
	while (p < end && !json_space(*p) &&
		   *p != ',' && *p != ':' && *p != '}' && *p != ']' &&
		   *p != '{' && *p != '[' && *p != '"')
		p++;
	return p;
}

/* past the value at p, at any depth, without recursion; NULL if not JSON */
static const char *
json_skip_value(const char *p, const char *end)
{
	int64		depth = 0;

	do
	{
		p = json_skip_space(p, end);
		if (p == end)
			return NULL;
		switch (*p)
		{
			case '"':
				if ((p = json_skip_string(p, end)) == NULL)
					return NULL;
				break;
			case '{':
			case '[':
				depth++;
				p++;
				break;
			case '}':
			case ']':
				if (depth == 0)
					return NULL;
				depth--;
				p++;
				break;
			case ',':
			case ':':
				if (depth == 0)
					return NULL;
				p++;
				break;
			default:
				{
					const char *start = p;

					p = json_skip_bare(p, end);
					if (p == start)
						return NULL;
				}
		}
	} while (depth > 0);
	return p;
}

static int
json_hex4(const char *p, const char *end)
{
	int			code = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++)
	{
		char		c = p[i];

		code <<= 4;
		if (c >= '0' && c <= '9')
			code |= c - '0';
		else if (c >= 'a' && c <= 'f')
			code |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			code |= c - 'A' + 10;
		else
			return -1;
	}
	return code;
}

/*
 * json_decode_string
 *		The JSON string between its quotes, start (after the opening quote)
 *		to end (at the closing quote), without its escapes, into out.
 *		False if it cannot be read as text in this database: \u0000, a
 *		lone surrogate, an escape above U+007F in a database that is not
 *		UTF-8, a bad escape.
 */
static bool
json_decode_string(const char *p, const char *end, StringInfo out)
{
	while (p < end)
	{
		const char *run = p;
		pg_wchar	code;

		while (p < end && *p != '\\')
			p++;
		appendBinaryStringInfo(out, run, p - run);
		if (p == end)
			break;
		if (++p == end)
			return false;
		switch (*p++)
		{
			case '"':
				appendStringInfoChar(out, '"');
				continue;
			case '\\':
				appendStringInfoChar(out, '\\');
				continue;
			case '/':
				appendStringInfoChar(out, '/');
				continue;
			case 'b':
				appendStringInfoChar(out, '\b');
				continue;
			case 'f':
				appendStringInfoChar(out, '\f');
				continue;
			case 'n':
				appendStringInfoChar(out, '\n');
				continue;
			case 'r':
				appendStringInfoChar(out, '\r');
				continue;
			case 't':
				appendStringInfoChar(out, '\t');
				continue;
			case 'u':
				break;
			default:
				return false;
		}
		{
			int			first = json_hex4(p, end);

			if (first < 0)
				return false;
			p += 4;
			code = first;
			if (is_utf16_surrogate_first(code))
			{
				int			second;

				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
					(second = json_hex4(p + 2, end)) < 0 ||
					!is_utf16_surrogate_second(second))
					return false;
				p += 6;
				code = surrogate_pair_to_codepoint(code, second);
			}
			else if (is_utf16_surrogate_second(code))
				return false;
		}
		if (code == 0)
			return false;
		if (GetDatabaseEncoding() == PG_UTF8)
		{
			unsigned char utf8[8];

			unicode_to_utf8(code, utf8);
			appendBinaryStringInfo(out, (char *) utf8, pg_utf_mblen(utf8));
		}
		else if (code <= 0x7f)
			appendStringInfoChar(out, (char) code);
		else
			return false;
	}
	return true;
}

/* is the string at p (at its opening quote, closing quote at close) key? */
static bool
json_key_equals(const char *p, const char *close, const char *key, int keylen)
{
	StringInfoData decoded;

	p++;
	if (memchr(p, '\\', close - p) == NULL)
		return close - p == keylen && memcmp(p, key, keylen) == 0;
	initStringInfo(&decoded);
	return json_decode_string(p, close, &decoded) &&
		decoded.len == keylen && memcmp(decoded.data, key, keylen) == 0;
}

/*
 * json_object_member
 *		The value of key in the object whose '{' is at p: *value points at
 *		it, or is NULL when the key is absent (the last of duplicates wins).
 *		False if the text is not JSON.
 */
static bool
json_object_member(const char *p, const char *end, const char *key,
				   const char **value)
{
	int			keylen = strlen(key);

	*value = NULL;
	p = json_skip_space(p + 1, end);
	if (p < end && *p == '}')
		return true;
	for (;;)
	{
		const char *name = p;
		const char *name_end;
		bool		match;

		if (p == end || *p != '"' || (p = json_skip_string(p, end)) == NULL)
			return false;
		name_end = p - 1;
		match = json_key_equals(name, name_end, key, keylen);
		p = json_skip_space(p, end);
		if (p == end || *p != ':')
			return false;
		p = json_skip_space(p + 1, end);
		if (match)
			*value = p;
		if ((p = json_skip_value(p, end)) == NULL)
			return false;
		p = json_skip_space(p, end);
		if (p == end)
			return false;
		if (*p == '}')
			return true;
		if (*p != ',')
			return false;
		p = json_skip_space(p + 1, end);
	}
}

/* a scalar's number, lower-case string or boolean; false: unreadable */
static bool
json_scalar_number(JsonScalar *scalar, char *text)
{
	scalar->kind = JSON_NUMBER;
	scalar->text = text;
	return parse_decimal(text, strlen(text), &scalar->number);
}

static void
json_scalar_string(JsonScalar *scalar, const char *s, int len)
{
	scalar->kind = JSON_STRING;
	scalar->text = automation_lower(s, len, DEFAULT_COLLATION_OID);
}

static void
json_scalar_bool(JsonScalar *scalar, bool value)
{
	scalar->kind = JSON_BOOL;
	scalar->text = value ? (char *) "true" : (char *) "false";
}

/*
 * json_text_scalar
 *		Read the value at *p of a json text: a scalar into *scalar (and *p
 *		past it), or say it is a null, a container, unreadable or not JSON.
 */
static JsonRead
json_text_scalar(const char **pp, const char *end, JsonScalar *scalar)
{
	const char *p = json_skip_space(*pp, end);
	const char *after;

	if (p == end)
		return JSON_READ_INVALID;
	if (*p == '{' || *p == '[')
	{
		*pp = p;
		return JSON_READ_CONTAINER;
	}
	if (*p == '"')
	{
		StringInfoData decoded;

		if ((after = json_skip_string(p, end)) == NULL)
			return JSON_READ_INVALID;
		*pp = after;
		initStringInfo(&decoded);
		if (!json_decode_string(p + 1, after - 1, &decoded))
			return JSON_READ_UNREADABLE;
		json_scalar_string(scalar, decoded.data, decoded.len);
		return JSON_READ_SCALAR;
	}
	after = json_skip_bare(p, end);
	*pp = after;
	if (after - p == 4 && memcmp(p, "null", 4) == 0)
		return JSON_READ_NULL;
	if (after - p == 4 && memcmp(p, "true", 4) == 0)
	{
		json_scalar_bool(scalar, true);
		return JSON_READ_SCALAR;
	}
	if (after - p == 5 && memcmp(p, "false", 5) == 0)
	{
		json_scalar_bool(scalar, false);
		return JSON_READ_SCALAR;
	}
	if (after == p || !((*p >= '0' && *p <= '9') || *p == '-'))
		return JSON_READ_INVALID;
	return json_scalar_number(scalar, pnstrdup(p, after - p))
		? JSON_READ_SCALAR : JSON_READ_UNREADABLE;
}

/* room for one more element of a JSON array's scalars */
static void
json_element_room(FieldValue *value, int *capacity)
{
	if (value->json_elements == NULL)
	{
		*capacity = 8;
		value->json_elements = palloc(sizeof(JsonScalar) * *capacity);
	}
	else if (value->nelements == *capacity)
	{
		*capacity *= 2;
		value->json_elements = repalloc(value->json_elements,
										sizeof(JsonScalar) * *capacity);
	}
}

/*
 * read_json_text_field
 *		Follow the condition's path through a json column's text.
 */
static void
read_json_text_field(CompiledCondition *condition, Datum column, FieldValue *value)
{
	text	   *t = DatumGetTextPP(column);
	const char *p = VARDATA_ANY(t);
	const char *end = p + VARSIZE_ANY_EXHDR(t);
	int			capacity = 0;

	for (int i = 0; i < condition->json_path_length; i++)
	{
		const char *member;

		p = json_skip_space(p, end);
		if (p == end)
			goto invalid;
		if (*p != '{')
		{
			/* a scalar or an array has no key: absent, if it is JSON */
			if (json_skip_value(p, end) == NULL)
				goto invalid;
			return;
		}
		if (!json_object_member(p, end, condition->json_path[i], &member))
			goto invalid;
		if (member == NULL)
			return;
		p = member;
	}

	switch (json_text_scalar(&p, end, &value->json))
	{
		case JSON_READ_SCALAR:
			value->isnull = false;
			value->json_scalar = true;
			if (value->json.kind == JSON_STRING)
				value->text = value->json.text;
			return;
		case JSON_READ_NULL:
			return;
		case JSON_READ_UNREADABLE:
			value->isnull = false;
			value->unreadable = true;
			return;
		case JSON_READ_INVALID:
			goto invalid;
		case JSON_READ_CONTAINER:
			break;
	}
	value->isnull = false;
	if (*p == '{')
	{
		value->json_object = true;	/* exists, compares as nothing */
		return;
	}
	value->json_array = true;
	p = json_skip_space(p + 1, end);
	if (p < end && *p == ']')
		return;
	for (;;)
	{
		JsonScalar	element;

		switch (json_text_scalar(&p, end, &element))
		{
			case JSON_READ_SCALAR:
				json_element_room(value, &capacity);
				value->json_elements[value->nelements++] = element;
				break;
			case JSON_READ_NULL:
				break;
			case JSON_READ_CONTAINER:
				/* nested containers are not elements that compare */
				if ((p = json_skip_value(p, end)) == NULL)
					goto invalid;
				break;
			case JSON_READ_UNREADABLE:
				value->unreadable = true;
				break;
			case JSON_READ_INVALID:
				goto invalid;
		}
		p = json_skip_space(p, end);
		if (p == end)
			goto invalid;
		if (*p == ']')
			return;
		if (*p != ',')
			goto invalid;
		p++;
	}

invalid:
	/* not JSON: cannot happen for a value json_in accepted */
	memset(value, 0, sizeof(*value));
	value->unknown = true;
}

/* a jsonb scalar; false for a null (and, defensively, a number not read) */
static bool
jsonb_scalar(JsonbValue *v, JsonScalar *scalar, bool *unreadable)
{
	switch (v->type)
	{
		case jbvString:
			json_scalar_string(scalar, v->val.string.val, v->val.string.len);
			return true;
		case jbvNumeric:
			if (!json_scalar_number(scalar,
									DatumGetCString(DirectFunctionCall1(numeric_out,
																		NumericGetDatum(v->val.numeric)))))
				*unreadable = true;
			return true;
		case jbvBool:
			json_scalar_bool(scalar, v->val.boolean);
			return true;
		default:
			return false;
	}
}

/*
 * read_jsonb_field
 *		Follow the condition's path below a jsonb column.
 */
static void
read_jsonb_field(CompiledCondition *condition, Datum column, FieldValue *value)
{
	Jsonb	   *jb = DatumGetJsonbP(column);
	JsonbContainer *container = &jb->root;
	JsonbValue *found = NULL;
	JsonbValue	scalar;
	JsonbIterator *it;
	JsonbIteratorToken token;
	JsonbValue	element;
	int			capacity = 0;

	for (int i = 0; i < condition->json_path_length; i++)
	{
		if (!JsonContainerIsObject(container))
			return;
		found = getKeyJsonValueFromContainer(container, condition->json_path[i],
											 strlen(condition->json_path[i]), NULL);
		if (found == NULL)
			return;
		if (i < condition->json_path_length - 1)
		{
			if (found->type != jbvBinary)
				return;
			container = found->val.binary.data;
		}
	}

	if (found->type != jbvBinary)
	{
		if (jsonb_scalar(found, &value->json, &value->unreadable))
		{
			value->isnull = false;
			value->json_scalar = !value->unreadable;
		}
	}
	else if (JsonContainerIsScalar(found->val.binary.data))
	{
		if (JsonbExtractScalar(found->val.binary.data, &scalar) &&
			jsonb_scalar(&scalar, &value->json, &value->unreadable))
		{
			value->isnull = false;
			value->json_scalar = !value->unreadable;
		}
	}
	else if (!JsonContainerIsArray(found->val.binary.data))
	{
		value->isnull = false;
		value->json_object = true;	/* exists, compares as nothing */
	}
	else
	{
		value->isnull = false;
		value->json_array = true;
		it = JsonbIteratorInit(found->val.binary.data);
		while ((token = JsonbIteratorNext(&it, &element, true)) != WJB_DONE)
		{
			JsonScalar	item;

			if (token != WJB_ELEM || !jsonb_scalar(&element, &item, &value->unreadable))
				continue;
			json_element_room(value, &capacity);
			value->json_elements[value->nelements++] = item;
		}
	}
	if (value->json_scalar && value->json.kind == JSON_STRING)
		value->text = value->json.text;
}

/*
 * read_field
 *		Materialize a condition's field from NEW (which = ROW_NEW) or OLD.
 */
static void
read_field(CompiledCondition *condition, RowState *row, int which, FieldValue *value)
{
	Datum		column;
	bool		isnull;

	memset(value, 0, sizeof(*value));
	value->isnull = true;
	column = automation_row_column(row, which, condition->attnum, &isnull);
	if (isnull)
		return;

	switch (condition->kind)
	{
		case VALUE_TEXT:
			value->text = automation_row_lower_text(row, which, condition, column);
			value->isnull = false;
			break;
		case VALUE_ORDERED:
			value->datum = column;
			value->isnull = false;
			break;
		case VALUE_ARRAY:
			{
				ArrayType  *array = DatumGetArrayTypeP(column);

				deconstruct_array(array, condition->compare_type,
								  condition->compare_typlen, condition->compare_typbyval,
								  condition->compare_typalign,
								  &value->elements, &value->element_nulls,
								  &value->nelements);
				if (condition->text_elements)
				{
					for (int i = 0; i < value->nelements; i++)
						if (!value->element_nulls[i])
							value->elements[i] =
								CStringGetDatum(lower_text(value->elements[i],
														   condition->compare_type,
														   condition->collation));
				}
				value->isnull = false;
				break;
			}
		case VALUE_JSON:
			if (condition->column_type == JSONOID)
				read_json_text_field(condition, column, value);
			else
				read_jsonb_field(condition, column, value);
			break;
	}
}

/*
 * compare_json_constant
 *		Order a JSON scalar against a constant.  A number compares exactly
 *		with a constant that is a JSON number (parse_decimal), and with
 *		nothing else.  A string compares as lower-case text: for equality
 *		with any constant, for order only with one that is not a number
 *		(as text "10" < "9": a string is not ordered against a number).  A
 *		boolean equals "true" or "false" and is not ordered.  *comparable
 *		is false when the two cannot be compared.
 */
static int
compare_json_constant(JsonScalar *scalar, const char *constant, bool ordering,
					  bool *comparable)
{
	Decimal		number;

	*comparable = true;
	if (scalar->kind == JSON_NUMBER)
	{
		if (constant_decimal(constant, &number))
			return decimal_cmp(&scalar->number, &number);
		*comparable = false;
		return 0;
	}
	if (ordering &&
		(scalar->kind == JSON_BOOL || constant_decimal(constant, &number)))
	{
		*comparable = false;
		return 0;
	}
	return strcmp(scalar->text, constant);
}

static bool
json_scalars_equal(JsonScalar *a, JsonScalar *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == JSON_NUMBER)
		return decimal_cmp(&a->number, &b->number) == 0;
	return strcmp(a->text, b->text) == 0;
}

/*
 * compare_to_constant
 *		Compare a materialized scalar value with constant i; *comparable is
 *		false when the two cannot be ordered (e.g. a json object).  ordering:
 *		for GT/GTE/LT/LTE, else for equality.
 */
static int
compare_to_constant(CompiledCondition *condition, FieldValue *value, int i,
					bool ordering, bool *comparable)
{
	*comparable = true;
	switch (condition->kind)
	{
		case VALUE_TEXT:
			return strcmp(value->text, condition->constant_texts[i]);
		case VALUE_ORDERED:
			return DatumGetInt32(FunctionCall2Coll(&condition->compare_proc,
												   condition->collation,
												   value->datum,
												   condition->constants[i]));
		case VALUE_JSON:
			if (!value->json_scalar)
				break;
			return compare_json_constant(&value->json, condition->constant_texts[i],
										 ordering, comparable);
		case VALUE_ARRAY:
			break;
	}
	*comparable = false;
	return 0;
}

static bool
equals_constant(CompiledCondition *condition, FieldValue *value, int i)
{
	bool		comparable;
	int			cmp;

	if (value->isnull)
		return false;
	cmp = compare_to_constant(condition, value, i, false, &comparable);
	return comparable && cmp == 0;
}

/*
 * values_distinct
 *		OLD IS DISTINCT FROM NEW, with the condition's notion of equality.
 */
static bool
values_distinct(CompiledCondition *condition, FieldValue *a, FieldValue *b)
{
	if (a->isnull || b->isnull)
		return a->isnull != b->isnull;
	switch (condition->kind)
	{
		case VALUE_TEXT:
			return strcmp(a->text, b->text) != 0;
		case VALUE_ORDERED:
			return DatumGetInt32(FunctionCall2Coll(&condition->compare_proc,
												   condition->collation,
												   a->datum, b->datum)) != 0;
		case VALUE_JSON:
			if (a->json_scalar != b->json_scalar || a->json_array != b->json_array ||
				a->json_object != b->json_object)
				return true;
			if (a->json_scalar)
				return !json_scalars_equal(&a->json, &b->json);
			if (a->json_array)
			{
				if (a->nelements != b->nelements)
					return true;
				for (int i = 0; i < a->nelements; i++)
					if (!json_scalars_equal(&a->json_elements[i], &b->json_elements[i]))
						return true;
			}
			return false;		/* objects compare as nothing */
		case VALUE_ARRAY:
			break;
	}
	return true;
}

/*
 * contains_constant
 *		Text (a text column, a JSON string): substring; array (column or
 *		json): has the element.
 */
static bool
contains_constant(CompiledCondition *condition, FieldValue *value)
{
	const char *needle = condition->constant_texts[0];

	if (value->isnull)
		return false;
	if (condition->kind == VALUE_JSON && value->json_array)
	{
		for (int i = 0; i < value->nelements; i++)
		{
			bool		comparable;

			if (compare_json_constant(&value->json_elements[i], needle, false,
									  &comparable) == 0 && comparable)
				return true;
		}
		return false;
	}
	if (condition->kind == VALUE_ARRAY)
	{
		for (int i = 0; i < value->nelements; i++)
		{
			if (value->element_nulls[i])
				continue;
			if (condition->text_elements)
			{
				if (strcmp(DatumGetCString(value->elements[i]), needle) == 0)
					return true;
			}
			else if (DatumGetInt32(FunctionCall2Coll(&condition->compare_proc,
													 condition->collation,
													 value->elements[i],
													 condition->constants[0])) == 0)
				return true;
		}
		return false;
	}
	return value->text != NULL && strstr(value->text, needle) != NULL;
}

static inline bool
cannot_read(FieldValue *value)
{
	return value->unreadable || value->unknown;
}

/*
 * automation_clock_instant
 *		A date or time value of a clock operator's field as an instant in
 *		UTC microseconds: timestamptz as it is, timestamp as UTC wall-clock
 *		time, a date as its midnight UTC (doc/definitions.md, "Relative
 *		dates").  Infinities stay infinite; a date beyond the timestamp range
 *		is an infinity.
 */
Timestamp
automation_clock_instant(CompiledCondition *condition, Datum datum)
{
	int			overflow = 0;
	Timestamp	at;

	if (condition->compare_type != DATEOID)
		return DatumGetTimestamp(datum);	/* timestamp, timestamptz */
	at = date2timestamp_opt_overflow(DatumGetDateADT(datum), &overflow);
	if (overflow > 0)
		TIMESTAMP_NOEND(at);
	else if (overflow < 0)
		TIMESTAMP_NOBEGIN(at);
	return at;
}

/*
 * automation_clock_span
 *		The interval of a clock condition as microseconds, when it has no
 *		months: then a day is 24 hours in UTC wall-clock arithmetic and
 *		now -/+ span is exactly what timestamp_mi_interval /
 *		timestamp_pl_interval compute (clock_bound), and the clock index
 *		(candidates.c) can sort conditions by it.  False for months, or for
 *		components so large that a sum might overflow (validation keeps
 *		intervals within 1000 years, this bound is above it).
 */
#define CLOCK_SPAN_DAYS		INT64CONST(366000)

bool
automation_clock_span(CompiledCondition *condition, int64 *span)
{
	Interval   *interval = DatumGetIntervalP(condition->constants[0]);

	if (interval->month != 0 ||
		interval->day < -CLOCK_SPAN_DAYS || interval->day > CLOCK_SPAN_DAYS ||
		interval->time < -CLOCK_SPAN_DAYS * USECS_PER_DAY ||
		interval->time > CLOCK_SPAN_DAYS * USECS_PER_DAY)
		return false;
	*span = interval->day * USECS_PER_DAY + interval->time;
	return true;
}

/*
 * clock_bound
 *		now + interval (within_next) or now - interval (within_last,
 *		older_than) in UTC wall-clock time: plain arithmetic when the
 *		interval has no months (automation_clock_span), else the calendar
 *		path, which costs two date conversions per condition and
 *		transaction (doc/benchmark.md, "0.4.0").
 */
static Timestamp
clock_bound(CompiledCondition *condition, TimestampTz now)
{
	bool		later = condition->operator == OPERATOR_WITHIN_NEXT;
	int64		span;

	if (automation_clock_span(condition, &span))
		return later ? (Timestamp) now + span : (Timestamp) now - span;
	return DatumGetTimestamp(DirectFunctionCall2(later ? timestamp_pl_interval : timestamp_mi_interval,
												 TimestampGetDatum((Timestamp) now),
												 condition->constants[0]));
}

/*
 * clock_holds
 *		within_last: now - interval <= value <= now; within_next: now <=
 *		value <= now + interval; older_than: value < now - interval.  now is
 *		the transaction's start (SQL now()); the bound is computed in UTC
 *		calendar arithmetic (a month is a calendar month), once per
 *		transaction (clock_bound).  The interval is at most 1000 years with no
 *		negative part (validation and compile_interval), so the bound cannot
 *		overflow.
 */
static bool
clock_holds(CompiledCondition *condition, FieldValue *value, const char **reason)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	Timestamp	at = automation_clock_instant(condition, value->datum);
	bool		holds;

	if (condition->clock_now != now)
	{
		condition->clock_bound = clock_bound(condition, now);
		condition->clock_now = now;
	}
	switch (condition->operator)
	{
		case OPERATOR_WITHIN_LAST:
			holds = condition->clock_bound <= at && at <= now;
			*reason = holds ? "value is within the last interval"
				: at > now ? "value is in the future" : "value is older than the interval";
			return holds;
		case OPERATOR_WITHIN_NEXT:
			holds = now <= at && at <= condition->clock_bound;
			*reason = holds ? "value is within the next interval"
				: at < now ? "value is in the past" : "value is later than the interval";
			return holds;
		case OPERATOR_OLDER_THAN:
			holds = at < condition->clock_bound;
			*reason = holds ? "value is older than the interval" : "value is not older than the interval";
			return holds;
		default:
			elog(ERROR, "automation: operator %s is not a clock operator", condition->operator_label);
	}
	return false;
}

/*
 * automation_condition_holds
 *		Evaluate one condition for a row event.  On DELETE the row is OLD.
 *		If result is given, it is filled with the outcome and a reason.
 *
 *		A JSON value that cannot be read (see "JSON paths") holds no
 *		condition that compares it, nor that condition's negation: equals
 *		and not_equals, in and not_in, contains and not_contains, ... are
 *		all false, and so are changed, changed_to and changed_from when OLD
 *		or NEW cannot be read.  It is present: exists holds, not_exists does
 *		not, and changed on INSERT holds.  A json text that is not JSON at
 *		all holds nothing, exists and not_exists included.
 */
bool
automation_condition_holds(CompiledCondition *condition, RowState *row,
						   ConditionResult *result)
{
	FieldValue	current;
	FieldValue	previous;
	bool		holds = false;
	const char *reason = NULL;
	int			event = row->event;
	bool		comparable;
	int			cmp;

	/*
	 * A previous row read as the current one (fire_when): its own
	 * predecessor is unknown, so an edge condition does not hold on it, and
	 * the definition behaves as under every_change (SPEC section 3).
	 */
	if (row->no_prior && automation_operator_edge(condition->operator))
	{
		reason = "a change is not known of the previous row";
		goto done;
	}

	read_field(condition, row, event == EVENT_DELETE ? ROW_OLD : ROW_NEW, &current);

	if (current.unknown ||
		(current.unreadable && condition->operator != OPERATOR_EXISTS &&
		 condition->operator != OPERATOR_NOT_EXISTS &&
		 !(condition->operator == OPERATOR_CHANGED && event == EVENT_INSERT)))
	{
		reason = "value cannot be read";
		goto done;
	}

	switch (condition->operator)
	{
		case OPERATOR_EQUALS:
			holds = equals_constant(condition, &current, 0);
			reason = current.isnull ? "value is null" : holds ? "value equals" : "value differs";
			break;
		case OPERATOR_NOT_EQUALS:
			holds = !equals_constant(condition, &current, 0);
			reason = current.isnull ? "value is null" : holds ? "value differs" : "value equals";
			break;
		case OPERATOR_CONTAINS:
		case OPERATOR_NOT_CONTAINS:
			holds = contains_constant(condition, &current);
			reason = current.isnull ? "value is null" : holds ? "value contains it" : "value does not contain it";
			if (condition->operator == OPERATOR_NOT_CONTAINS)
				holds = !holds;
			break;
		case OPERATOR_STARTS_WITH:
		case OPERATOR_ENDS_WITH:
			if (!current.isnull && current.text != NULL)
			{
				size_t		len = strlen(current.text);
				size_t		clen = strlen(condition->constant_texts[0]);

				holds = len >= clen &&
					memcmp(condition->operator == OPERATOR_STARTS_WITH
						   ? current.text : current.text + len - clen,
						   condition->constant_texts[0], clen) == 0;
			}
			reason = current.isnull ? "value is null" : holds ? "value matches" : "value does not match";
			break;
		case OPERATOR_GREATER_THAN:
		case OPERATOR_GREATER_EQUAL:
		case OPERATOR_LESS_THAN:
		case OPERATOR_LESS_EQUAL:
			if (current.isnull)
			{
				reason = "value is null";
				break;
			}
			cmp = compare_to_constant(condition, &current, 0, true, &comparable);
			if (!comparable)
			{
				reason = "value is not comparable";
				break;
			}
			holds = condition->operator == OPERATOR_GREATER_THAN ? cmp > 0 :
				condition->operator == OPERATOR_GREATER_EQUAL ? cmp >= 0 :
				condition->operator == OPERATOR_LESS_THAN ? cmp < 0 : cmp <= 0;
			reason = holds ? "comparison holds" : "comparison fails";
			break;
		case OPERATOR_IN:
		case OPERATOR_NOT_IN:
			for (int i = 0; i < condition->nconstants && !holds; i++)
				holds = equals_constant(condition, &current, i);
			reason = current.isnull ? "value is null" : holds ? "value is in the list" : "value is not in the list";
			if (condition->operator == OPERATOR_NOT_IN)
				holds = !holds;
			break;
		case OPERATOR_EXISTS:
		case OPERATOR_NOT_EXISTS:
			holds = !current.isnull;
			reason = holds ? "value is present" : "value is null or absent";
			if (condition->operator == OPERATOR_NOT_EXISTS)
				holds = !holds;
			if (condition->negated)
				holds = !holds;
			break;
		case OPERATOR_CHANGED:
			if (event == EVENT_INSERT)
			{
				holds = !current.isnull;
				reason = holds ? "inserted with a value" : "inserted without a value";
			}
			else if (event == EVENT_UPDATE)
			{
				read_field(condition, row, ROW_OLD, &previous);
				if (cannot_read(&previous))
				{
					reason = "old value cannot be read";
					goto done;
				}
				holds = values_distinct(condition, &previous, &current);
				reason = holds ? "value changed" : "value unchanged";
			}
			else
				reason = "a delete changes no field";
			if (condition->negated)
				holds = !holds;
			break;
		case OPERATOR_CHANGED_TO:
			if (event == EVENT_DELETE)
			{
				reason = "a delete changes no field";
				break;
			}
			if (!equals_constant(condition, &current, 0))
			{
				reason = current.isnull ? "new value is null" : "new value differs";
				break;
			}
			if (event == EVENT_UPDATE)
			{
				read_field(condition, row, ROW_OLD, &previous);
				if (cannot_read(&previous))
				{
					reason = "old value cannot be read";
					break;
				}
				if (equals_constant(condition, &previous, 0))
				{
					reason = "value was already equal";
					break;
				}
			}
			holds = true;
			reason = "value changed to it";
			break;
		case OPERATOR_CHANGED_FROM:
			if (event != EVENT_UPDATE)
			{
				reason = event == EVENT_INSERT ? "an insert has no old value" : "a delete changes no field";
				break;
			}
			read_field(condition, row, ROW_OLD, &previous);
			if (cannot_read(&previous))
			{
				reason = "old value cannot be read";
				break;
			}
			if (!equals_constant(condition, &previous, 0))
			{
				reason = previous.isnull ? "old value is null" : "old value differs";
				break;
			}
			holds = !equals_constant(condition, &current, 0);
			reason = holds ? "value changed from it" : "value unchanged";
			break;
		case OPERATOR_WITHIN_LAST:
		case OPERATOR_WITHIN_NEXT:
		case OPERATOR_OLDER_THAN:
			if (current.isnull)
			{
				reason = "value is null";
				break;
			}
			holds = clock_holds(condition, &current, &reason);
			break;
	}
done:
	if (result != NULL)
	{
		result->holds = holds;
		result->reason = reason;
	}
	return holds;
}


/*
 * automation_value_hash
 *		Hash a column value as the value index does: text lower-cased, other
 *		types with their hash support function.  False if not hashable.
 */
bool
automation_value_hash(CompiledCondition *condition, Datum value, uint32 *hash)
{
	if (condition->kind == VALUE_TEXT)
	{
		const char *s = DatumGetCString(value);

		*hash = DatumGetUInt32(hash_any((const unsigned char *) s, strlen(s)));
		return true;
	}
	if (condition->kind == VALUE_ORDERED && condition->has_hash_proc)
	{
		*hash = DatumGetUInt32(FunctionCall1Coll(&condition->hash_proc,
												 condition->collation, value));
		return true;
	}
	return false;
}

/*
 * automation_conditions_match
 *		The conditions hold: all conditions of one group (conditions come
 *		ordered by group, then sort order; groups are ORed).  Only the
 *		groups of the mask groups are evaluated (the others are known not
 *		to hold: the candidate index's guards, candidates.c); GROUPS_ALL
 *		evaluates every group.  Without results, evaluated in order,
 *		stopping a group at its first failing condition and the whole at
 *		the first group that holds; with results (one per condition, and
 *		groups must be GROUPS_ALL), every condition is evaluated and
 *		reported.  *group (may be NULL): the first group that holds, or -1.
 */
bool
automation_conditions_match(CompiledCondition *conditions, int nconditions, RowState *row,
							GroupMask groups, ConditionResult *results, int *group)
{
	int			c = 0;
	int			matched = nconditions == 0 ? 0 : -1;	/* no condition: holds */

	Assert(results == NULL || groups == GROUPS_ALL);
	while (c < nconditions)
	{
		int			g = conditions[c].group;
		bool		holds = true;

		if ((groups & GROUP_BIT(g)) == 0)
		{
			/* its guard did not hit: it cannot hold */
			while (c < nconditions && conditions[c].group == g)
				c++;
			continue;
		}
		for (; c < nconditions && conditions[c].group == g; c++)
		{
			if (results != NULL)
				holds &= automation_condition_holds(&conditions[c], row, &results[c]);
			else if (!automation_condition_holds(&conditions[c], row, NULL))
			{
				holds = false;
				/* the rest of this group need not be read */
				while (c + 1 < nconditions && conditions[c + 1].group == g)
					c++;
			}
		}
		if (holds && matched < 0)
		{
			matched = g;
			if (results == NULL)
				break;
		}
	}
	if (group != NULL)
		*group = matched;
	return matched >= 0;
}

/*
 * automation_row_prior
 *		The previous row of an UPDATE, to be read as if it were the current
 *		one (fire_when = becomes_true: did the condition hold before?).  It
 *		shares row's tuples and slots; edge conditions do not hold on it.
 */
void
automation_row_prior(RowState *prior, RowState *row)
{
	automation_row_init(prior, row->tupdesc, EVENT_UPDATE, row->tuples[ROW_OLD], NULL);
	prior->slots[ROW_NEW] = row->slots[ROW_OLD];
	prior->no_prior = true;
}
