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
 * definitions without evaluating them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/hash.h"
#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/formatting.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "automation.h"

/* A field's value in one row, in the form its condition compares. */
typedef struct FieldValue
{
	bool		isnull;
	Datum		datum;			/* VALUE_ORDERED */
	char	   *text;			/* VALUE_TEXT, VALUE_JSON scalar: lower case */
	bool		json_is_number;
	Datum	   *elements;		/* VALUE_ARRAY, or a json array (as text) */
	bool	   *element_nulls;
	int			nelements;
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
 * row_column
 *		Column attnum of NEW or OLD, deforming that tuple on first use.
 */
static Datum
row_column(RowState *row, int which, AttrNumber attnum, bool *isnull)
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
 * row_lower_text
 *		A text column of NEW or OLD lower-cased, once per row.
 */
static char *
row_lower_text(RowState *row, int which, CompiledCondition *condition, Datum column)
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
 * json_scalar_text
 *		A jsonb scalar as lower-case text; false for containers and null.
 */
static bool
json_scalar_text(JsonbValue *v, char **out, bool *is_number)
{
	*is_number = false;
	switch (v->type)
	{
		case jbvString:
			*out = automation_lower(v->val.string.val, v->val.string.len, DEFAULT_COLLATION_OID);
			return true;
		case jbvNumeric:
			*out = DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
			*is_number = true;
			return true;
		case jbvBool:
			*out = pstrdup(v->val.boolean ? "true" : "false");
			return true;
		default:
			return false;
	}
}

/*
 * read_json_field
 *		Follow the condition's path below a json/jsonb column.
 */
static void
read_json_field(CompiledCondition *condition, Datum column, FieldValue *value)
{
	Jsonb	   *jb;
	JsonbContainer *container;
	JsonbValue *found = NULL;
	JsonbValue	scalar;

	if (condition->column_type == JSONOID)
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												CStringGetDatum(TextDatumGetCString(column))));
	else
		jb = DatumGetJsonbP(column);
	container = &jb->root;

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

	if (found->type == jbvBinary)
	{
		JsonbIterator *it;
		JsonbIteratorToken token;
		JsonbValue	element;
		int			capacity = 8;

		if (JsonContainerIsScalar(found->val.binary.data))
		{
			if (JsonbExtractScalar(found->val.binary.data, &scalar) &&
				json_scalar_text(&scalar, &value->text, &value->json_is_number))
				value->isnull = false;
			return;
		}
		if (!JsonContainerIsArray(found->val.binary.data))
		{
			value->isnull = false;	/* an object: exists, compares as nothing */
			return;
		}
		value->isnull = false;
		value->elements = palloc(sizeof(Datum) * capacity);
		it = JsonbIteratorInit(found->val.binary.data);
		while ((token = JsonbIteratorNext(&it, &element, true)) != WJB_DONE)
		{
			char	   *element_text;
			bool		is_number;

			if (token != WJB_ELEM || !json_scalar_text(&element, &element_text, &is_number))
				continue;
			if (value->nelements == capacity)
			{
				capacity *= 2;
				value->elements = repalloc(value->elements, sizeof(Datum) * capacity);
			}
			value->elements[value->nelements++] = CStringGetDatum(element_text);
		}
		return;
	}
	if (json_scalar_text(found, &value->text, &value->json_is_number))
		value->isnull = false;
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
	column = row_column(row, which, condition->attnum, &isnull);
	if (isnull)
		return;

	switch (condition->kind)
	{
		case VALUE_TEXT:
			value->text = row_lower_text(row, which, condition, column);
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
			read_json_field(condition, column, value);
			break;
	}
}

/*
 * compare_json_scalar
 *		Order a json scalar against a constant: numerically when both are
 *		numbers, else as lower-case text.  *comparable false if neither fits.
 */
static int
compare_json_scalar(const char *field, bool field_is_number, const char *constant,
					bool *comparable)
{
	char	   *end;
	double		b = strtod(constant, &end);
	bool		constant_is_number = *constant != '\0' && *end == '\0';

	*comparable = field_is_number == constant_is_number;
	if (!*comparable)
		return 0;
	if (field_is_number)
	{
		double		a = strtod(field, NULL);

		return a < b ? -1 : a > b ? 1 : 0;
	}
	return strcmp(field, constant);
}

/*
 * compare_to_constant
 *		Compare a materialized scalar value with constant i; *comparable is
 *		false when the two cannot be ordered (e.g. a json object).
 */
static int
compare_to_constant(CompiledCondition *condition, FieldValue *value, int i,
					bool *comparable)
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
			if (value->text == NULL)
			{
				*comparable = false;
				return 0;
			}
			return compare_json_scalar(value->text, value->json_is_number,
									   condition->constant_texts[i], comparable);
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
	cmp = compare_to_constant(condition, value, i, &comparable);
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
			if (a->text != NULL && b->text != NULL)
				return strcmp(a->text, b->text) != 0;
			if (a->nelements != b->nelements)
				return true;
			for (int i = 0; i < a->nelements; i++)
				if (strcmp(DatumGetCString(a->elements[i]), DatumGetCString(b->elements[i])) != 0)
					return true;
			return (a->text == NULL) != (b->text == NULL);
		case VALUE_ARRAY:
			break;
	}
	return true;
}

/*
 * contains_constant
 *		Text: substring; array (column or json): has the element.
 */
static bool
contains_constant(CompiledCondition *condition, FieldValue *value)
{
	const char *needle = condition->constant_texts[0];

	if (value->isnull)
		return false;
	if (value->elements != NULL || condition->kind == VALUE_ARRAY)
	{
		for (int i = 0; i < value->nelements; i++)
		{
			if (value->element_nulls && value->element_nulls[i])
				continue;
			if (condition->kind == VALUE_JSON || condition->text_elements)
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

/*
 * automation_condition_holds
 *		Evaluate one condition for a row event.  On DELETE the row is OLD.
 *		If result is given, it is filled with the outcome and a reason.
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

	read_field(condition, row, event == EVENT_DELETE ? ROW_OLD : ROW_NEW, &current);

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
			cmp = compare_to_constant(condition, &current, 0, &comparable);
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
			if (!equals_constant(condition, &previous, 0))
			{
				reason = previous.isnull ? "old value is null" : "old value differs";
				break;
			}
			holds = !equals_constant(condition, &current, 0);
			reason = holds ? "value changed from it" : "value unchanged";
			break;
	}
	if (result != NULL)
	{
		result->holds = holds;
		result->reason = reason;
	}
	return holds;
}

/*
 * automation_definition_matches
 *		All conditions hold (in sort order, stopping at the first that fails).
 */
bool
automation_definition_matches(Definition *definition, RowState *row)
{
	if ((definition->event_mask & row->event) == 0)
		return false;
	for (int i = 0; i < definition->nconditions; i++)
		if (!automation_condition_holds(&definition->conditions[i], row, NULL))
			return false;
	return true;
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

static int
compare_ints(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	return x < y ? -1 : x > y;
}

static int
append_orders(List *orders, int *out, int n)
{
	ListCell   *lc;

	foreach(lc, orders)
		out[n++] = lfirst_int(lc);
	return n;
}

/*
 * room_for
 *		Make room for more candidate orders: past the caller's stack array,
 *		move to a palloc'd one that holds every definition (no definition is
 *		a candidate twice, bar IN duplicates removed when merging).
 */
static int *
room_for(int *orders, int n, int more, int *capacity, int ndefinitions)
{
	int		   *grown;

	if (n + more <= *capacity)
		return orders;
	*capacity = Max(ndefinitions, n + more);
	grown = palloc(sizeof(int) * *capacity);
	memcpy(grown, orders, sizeof(int) * n);
	return grown;
}

/*
 * range_bound
 *		Number of sorted constants c with c < value (or c <= value when
 *		inclusive): a binary search.
 */
static int
range_bound(RangeIndex *range, int op, Datum value, bool inclusive)
{
	int			low = 0;
	int			high = range->n[op];

	while (low < high)
	{
		int			mid = (low + high) / 2;
		int			cmp = DatumGetInt32(FunctionCall2Coll(&range->sample->compare_proc,
														  range->sample->collation,
														  range->constants[op][mid], value));

		if (cmp < 0 || (inclusive && cmp == 0))
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

/*
 * automation_candidates
 *		The definitions that could fire on this event, in evaluation order,
 *		written to orders (room for cache->ndefinitions).  Definitions filed
 *		under an unchanged column, a different value or a threshold the
 *		value does not pass are not returned.
 */
int
automation_candidates(EntityCache *cache, RowState *row, int *orders)
{
	EventIndex *index = &cache->events[automation_event_index(row->event)];
	int			which = row->event == EVENT_DELETE ? ROW_OLD : ROW_NEW;
	int			stack_others[64];
	int		   *others = stack_others;
	int			nothers = 0;
	int			capacity = lengthof(stack_others);
	int			nalways;
	ListCell   *lc;

#define ADD_ORDERS(list) \
	do { \
		others = room_for(others, nothers, list_length(list), &capacity, \
						  cache->ndefinitions); \
		nothers = append_orders((list), others, nothers); \
	} while (0)

	foreach(lc, index->edge_columns)
	{
		EdgeGroup  *group = lfirst(lc);
		bool		old_null;
		bool		new_null;
		Datum		old_value = row_column(row, ROW_OLD, group->attnum, &old_null);
		Datum		new_value = row_column(row, ROW_NEW, group->attnum, &new_null);
		Form_pg_attribute attr = TupleDescAttr(row->tupdesc, group->attnum - 1);

		if (old_null && new_null)
			continue;
		if (old_null == new_null &&
			datum_image_eq(old_value, new_value, attr->attbyval, attr->attlen))
			continue;
		ADD_ORDERS(group->orders);
	}

	foreach(lc, index->value_columns)
	{
		ValueColumn *column = lfirst(lc);
		bool		isnull;
		Datum		value = row_column(row, which, column->attnum, &isnull);
		ValueIndexKey key;
		ValueIndexEntry *entry;

		if (isnull)
			continue;
		if (column->sample->kind == VALUE_TEXT)
			value = CStringGetDatum(row_lower_text(row, which, column->sample, value));
		memset(&key, 0, sizeof(key));
		key.attnum = column->attnum;
		if (!automation_value_hash(column->sample, value, &key.hash))
			continue;
		entry = hash_search(index->value_index, &key, HASH_FIND, NULL);
		if (entry != NULL)
			ADD_ORDERS(entry->orders);
	}

	foreach(lc, index->range_columns)
	{
		RangeIndex *range = lfirst(lc);
		bool		isnull;
		Datum		value = row_column(row, which, range->attnum, &isnull);
		int			bound;

		if (isnull)
			continue;
		/*
		 * Detoast once what every comparison of the binary search would
		 * detoast again: an out-of-line or compressed value, or a numeric
		 * with a short header (numeric_cmp copies it; text compares read
		 * short headers in place).
		 */
		if (TupleDescAttr(row->tupdesc, range->attnum - 1)->attlen == -1 &&
			VARATT_IS_EXTENDED(DatumGetPointer(value)) &&
			(!VARATT_IS_SHORT(DatumGetPointer(value)) ||
			 TupleDescAttr(row->tupdesc, range->attnum - 1)->atttypid == NUMERICOID))
			value = PointerGetDatum(PG_DETOAST_DATUM(value));
		for (int op = 0; op < RANGE_OPS; op++)
		{
			if (range->n[op] == 0)
				continue;
			/* GT: c < v; GTE: c <= v; LT: c > v; LTE: c >= v */
			bound = range_bound(range, op, value,
								op == RANGE_GREATER_EQUAL || op == RANGE_LESS_THAN);
			others = room_for(others, nothers, range->n[op], &capacity,
							  cache->ndefinitions);
			if (op == RANGE_GREATER || op == RANGE_GREATER_EQUAL)
				for (int i = 0; i < bound; i++)
					others[nothers++] = range->orders[op][i];
			else
				for (int i = bound; i < range->n[op]; i++)
					others[nothers++] = range->orders[op][i];
		}
	}
#undef ADD_ORDERS

	/* the always list is kept sorted; merge the few others into it */
	nalways = list_length(index->always);
	if (nothers == 0)
		return append_orders(index->always, orders, 0);
	if (nothers > 1)
		qsort(others, nothers, sizeof(int), compare_ints);
	{
		int			n = 0;
		int			a = 0;
		int			o = 0;

		while (a < nalways || o < nothers)
		{
			if (o == nothers ||
				(a < nalways && list_nth_int(index->always, a) < others[o]))
				orders[n++] = list_nth_int(index->always, a++);
			else
			{
				/* an IN list may name two values that land in one bucket */
				if (n == 0 || orders[n - 1] != others[o])
					orders[n++] = others[o];
				o++;
			}
		}
		return n;
	}
}
