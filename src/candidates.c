/*-------------------------------------------------------------------------
 *
 * candidates.c
 *	  The candidate index: for each row event, the compiled definitions that
 *	  could fire, without evaluating the others.
 *
 * Built once per entity load (automation_index_build, called by the
 * compiler), read per row (automation_candidates).  Each condition group of
 * a definition is filed for each event under one guard; a group that no
 * condition guards is evaluated on every event ("always").  A candidate is
 * a definition with the groups whose guard hit, or that have none: the
 * decision path (FIRE) evaluates only those.  The index is exact for what
 * it leaves out: a definition it does not return, or a group it does not
 * name, cannot hold on that event.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "utils/datum.h"
#include "utils/memutils.h"

#include "automation.h"
#include "candidates.h"

/*
 * never_holds_on
 *		True if the condition can never hold for this event (edge-triggered
 *		conditions on DELETE, CHANGED_FROM on INSERT).
 */
static bool
never_holds_on(CompiledCondition *condition, int event)
{
	return !condition->negated && automation_operator_never_on(condition->operator, event);
}

static bool
value_indexable(CompiledCondition *condition)
{
	return automation_operator_hashable(condition->operator, condition->nconstants) &&
		(condition->kind == VALUE_TEXT ||
		 (condition->kind == VALUE_ORDERED && condition->has_hash_proc));
}

static int
range_op(CompiledCondition *condition)
{
	if (condition->kind != VALUE_ORDERED || !condition->has_compare_proc ||
		condition->nconstants != 1)
		return -1;
	return automation_operator_range(condition->operator);
}

/* qsort_arg comparator: range entries by constant */
typedef struct RangeEntry
{
	Datum		constant;
	int			key;
} RangeEntry;

static int
compare_range_entries(const void *a, const void *b, void *arg)
{
	CompiledCondition *sample = arg;
	const RangeEntry *x = a;
	const RangeEntry *y = b;
	int			cmp = DatumGetInt32(FunctionCall2Coll(&sample->compare_proc,
													  sample->collation,
													  x->constant, y->constant));

	return cmp != 0 ? cmp : (x->key > y->key) - (x->key < y->key);
}

/*
 * add_to_range_index
 *		File a definition under its threshold condition.  The arrays are
 *		sorted once all definitions are filed (sort_range_indexes).
 */
static void
add_to_range_index(EventIndex *index, CompiledCondition *guard, int op, int key)
{
	RangeIndex *range = NULL;
	ListCell   *lc;
	RangeEntry *entries;

	foreach(lc, index->range_columns)
	{
		RangeIndex *candidate = lfirst(lc);

		if (candidate->attnum == guard->attnum &&
			candidate->sample->compare_proc.fn_oid == guard->compare_proc.fn_oid)
			range = candidate;
	}
	if (range == NULL)
	{
		range = palloc0(sizeof(RangeIndex));
		range->attnum = guard->attnum;
		range->sample = guard;
		index->range_columns = lappend(index->range_columns, range);
	}
	/* constants[op] holds RangeEntry pairs until sorted */
	entries = (RangeEntry *) range->constants[op];
	entries = entries == NULL ? palloc(sizeof(RangeEntry))
		: repalloc(entries, sizeof(RangeEntry) * (range->n[op] + 1));
	entries[range->n[op]].constant = guard->constants[0];
	entries[range->n[op]].key = key;
	range->constants[op] = (Datum *) entries;
	range->n[op]++;
}

static void
sort_range_indexes(EventIndex *index)
{
	ListCell   *lc;

	foreach(lc, index->range_columns)
	{
		RangeIndex *range = lfirst(lc);

		for (int op = 0; op < RANGE_OPS; op++)
		{
			RangeEntry *entries = (RangeEntry *) range->constants[op];

			if (range->n[op] == 0)
				continue;
			qsort_arg(entries, range->n[op], sizeof(RangeEntry),
					  compare_range_entries, range->sample);
			range->constants[op] = palloc(sizeof(Datum) * range->n[op]);
			range->orders[op] = palloc(sizeof(int) * range->n[op]);
			for (int i = 0; i < range->n[op]; i++)
			{
				range->constants[op][i] = entries[i].constant;
				range->orders[op][i] = entries[i].key;
			}
			pfree(entries);
		}
	}
}

/*
 * clock_op
 *		The clock index direction of a within_last / within_next /
 *		older_than condition whose interval has no months, else -1.
 */
static int
clock_op(CompiledCondition *condition)
{
	int			op = automation_operator_clock(condition->operator);
	int64		span;

	if (op < 0 || condition->negated || condition->nconstants != 1 ||
		condition->json_path_length > 0 || !automation_clock_span(condition, &span))
		return -1;
	return op;
}

/* a definition filed under one clock condition, until sorted */
typedef struct ClockEntry
{
	int64		span;
	int			key;
} ClockEntry;

static int
compare_clock_entries(const void *a, const void *b)
{
	const ClockEntry *x = a;
	const ClockEntry *y = b;

	if (x->span != y->span)
		return x->span < y->span ? -1 : 1;
	return (x->key > y->key) - (x->key < y->key);
}

/*
 * add_to_clock_index
 *		File a definition under its clock condition.  The arrays are sorted
 *		once all definitions are filed (sort_clock_indexes).
 */
static void
add_to_clock_index(EventIndex *index, CompiledCondition *guard, int op, int key)
{
	ClockIndex *clock = NULL;
	ListCell   *lc;
	ClockEntry *entries;
	int64		span = 0;

	foreach(lc, index->clock_columns)
	{
		if (((ClockIndex *) lfirst(lc))->attnum == guard->attnum)
			clock = lfirst(lc);
	}
	if (clock == NULL)
	{
		clock = palloc0(sizeof(ClockIndex));
		clock->attnum = guard->attnum;
		clock->sample = guard;
		index->clock_columns = lappend(index->clock_columns, clock);
	}
	(void) automation_clock_span(guard, &span);
	/* spans[op] holds ClockEntry pairs until sorted */
	entries = (ClockEntry *) clock->spans[op];
	entries = entries == NULL ? palloc(sizeof(ClockEntry))
		: repalloc(entries, sizeof(ClockEntry) * (clock->n[op] + 1));
	entries[clock->n[op]].span = span;
	entries[clock->n[op]].key = key;
	clock->spans[op] = (int64 *) entries;
	clock->n[op]++;
}

static void
sort_clock_indexes(EventIndex *index)
{
	ListCell   *lc;

	foreach(lc, index->clock_columns)
	{
		ClockIndex *clock = lfirst(lc);

		for (int op = 0; op < CLOCK_OPS; op++)
		{
			ClockEntry *entries = (ClockEntry *) clock->spans[op];

			if (clock->n[op] == 0)
				continue;
			qsort(entries, clock->n[op], sizeof(ClockEntry), compare_clock_entries);
			clock->spans[op] = palloc(sizeof(int64) * clock->n[op]);
			clock->orders[op] = palloc(sizeof(int) * clock->n[op]);
			for (int i = 0; i < clock->n[op]; i++)
			{
				clock->spans[op][i] = entries[i].span;
				clock->orders[op][i] = entries[i].key;
			}
			pfree(entries);
		}
	}
}

static bool
edge_triggered(CompiledCondition *condition)
{
	return !condition->negated && automation_operator_edge(condition->operator);
}

/*
 * group_guard
 *		The condition that guards one group of a definition for an event:
 *		the value(s) of an EQUALS/CHANGED_TO/IN condition (hash buckets),
 *		else (UPDATE) the column of an edge-triggered condition, skipped
 *		when that column did not change, else the threshold of a
 *		GT/GTE/LT/LTE condition (sorted constants, one binary search per
 *		row), else a within_last / within_next / older_than condition
 *		without months (sorted intervals, one binary search per row).
 *		NULL: nothing guards it, the definition is always evaluated.
 *		*never: the group cannot hold on this event.
 */
static CompiledCondition *
group_guard(CompiledCondition *conditions, int n, int event, bool *never)
{
	*never = false;
	for (int c = 0; c < n; c++)
		*never |= never_holds_on(&conditions[c], event);
	if (*never)
		return NULL;
	for (int c = 0; c < n; c++)
		if (value_indexable(&conditions[c]))
			return &conditions[c];
	if (event == EVENT_UPDATE)
		for (int c = 0; c < n; c++)
			if (edge_triggered(&conditions[c]))
				return &conditions[c];
	for (int c = 0; c < n; c++)
		if (range_op(&conditions[c]) >= 0)
			return &conditions[c];
	for (int c = 0; c < n; c++)
		if (clock_op(&conditions[c]) >= 0)
			return &conditions[c];
	return NULL;
}

/*
 * file_under
 *		File one group of a definition (its key) under its guard condition.
 */
static void
file_under(EventIndex *index, CompiledCondition *guard, int key, int event,
		   MemoryContext context)
{
	ListCell   *lc;

	if (value_indexable(guard))
	{
		ValueIndexKey hkey;
		ValueIndexEntry *entry;
		bool		found;
		bool		known = false;

		if (index->value_index == NULL)
		{
			HASHCTL		ctl;

			memset(&ctl, 0, sizeof(ctl));
			ctl.keysize = sizeof(ValueIndexKey);
			ctl.entrysize = sizeof(ValueIndexEntry);
			ctl.hcxt = context;
			index->value_index = hash_create("automation value index", 64, &ctl,
											 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		}
		for (int k = 0; k < guard->nconstants; k++)
		{
			memset(&hkey, 0, sizeof(hkey));
			hkey.attnum = guard->attnum;
			automation_value_hash(guard, guard->constants[k], &hkey.hash);
			entry = hash_search(index->value_index, &hkey, HASH_ENTER, &found);
			if (!found)
				entry->orders = NIL;
			if (!list_member_int(entry->orders, key))
				entry->orders = lappend_int(entry->orders, key);
		}
		foreach(lc, index->value_columns)
			known |= ((ValueColumn *) lfirst(lc))->attnum == guard->attnum;
		if (!known)
		{
			ValueColumn *column = palloc(sizeof(ValueColumn));

			column->attnum = guard->attnum;
			column->sample = guard;
			index->value_columns = lappend(index->value_columns, column);
		}
	}
	else if (event == EVENT_UPDATE && edge_triggered(guard))
	{
		EdgeGroup  *group = NULL;

		foreach(lc, index->edge_columns)
		{
			if (((EdgeGroup *) lfirst(lc))->attnum == guard->attnum)
				group = lfirst(lc);
		}
		if (group == NULL)
		{
			group = palloc0(sizeof(EdgeGroup));
			group->attnum = guard->attnum;
			index->edge_columns = lappend(index->edge_columns, group);
		}
		if (!list_member_int(group->orders, key))
			group->orders = lappend_int(group->orders, key);
	}
	else if (range_op(guard) >= 0)
		add_to_range_index(index, guard, range_op(guard), key);
	else
		add_to_clock_index(index, guard, clock_op(guard), key);
}

/*
 * automation_index_build
 *		For each event, file every condition group that can hold on it:
 *		under its guard (the definition is a candidate, with that group,
 *		when the guard hits), or in "always" when it has none.  A
 *		definition without conditions is always a candidate.  Allocates in
 *		context.
 */
void
automation_index_build(CandidateIndex *cindex, Definition **definitions,
					   int ndefinitions, MemoryContext context)
{
	static const int events[3] = {EVENT_INSERT, EVENT_UPDATE, EVENT_DELETE};
	MemoryContext old = MemoryContextSwitchTo(context);

	for (int e = 0; e < 3; e++)
	{
		EventIndex *index = &cindex->events[e];
		int			event = events[e];

		for (int d = 0; d < ndefinitions; d++)
		{
			Definition *definition = definitions[d];

			if ((definition->event_mask & event) == 0)
				continue;
			if (definition->nconditions == 0)
				index->always = lappend_int(index->always,
											CANDIDATE_KEY(definition->order, 0));
			for (int c = 0; c < definition->nconditions;)
			{
				int			first = c;
				int			key;
				bool		never;
				CompiledCondition *guard;

				while (c < definition->nconditions &&
					   definition->conditions[c].group == definition->conditions[first].group)
					c++;
				guard = group_guard(&definition->conditions[first], c - first, event, &never);
				if (never)
					continue;
				key = CANDIDATE_KEY(definition->order, definition->conditions[first].group);
				if (guard == NULL)
					index->always = lappend_int(index->always, key);
				else
					file_under(index, guard, key, event, context);
			}
		}
		/* sorted by key (a group out of 0-30 shares bit 31: out of order) */
		list_sort(index->always, list_int_cmp);
		sort_range_indexes(index);
		sort_clock_indexes(index);
	}
	MemoryContextSwitchTo(old);
}

/*
 * automation_event_index
 *		EVENT_* bit to the index of CandidateIndex.events.
 */
int
automation_event_index(int event)
{
	return event == EVENT_INSERT ? 0 : event == EVENT_UPDATE ? 1 : 2;
}

static int
compare_ints(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	return x < y ? -1 : x > y;
}

static int
append_orders(List *keys, int *out, int n)
{
	ListCell   *lc;

	foreach(lc, keys)
		out[n++] = lfirst_int(lc);
	return n;
}

/*
 * add_candidate
 *		Append the group of one key to the candidates (sorted keys: a
 *		definition's keys come together), returning their number.
 */
static inline int
add_candidate(Candidate *candidates, int n, int key)
{
	int			order = CANDIDATE_KEY_ORDER(key);

	if (n > 0 && candidates[n - 1].order == order)
		candidates[n - 1].groups |= CANDIDATE_KEY_GROUPS(key);
	else
	{
		candidates[n].order = order;
		candidates[n].groups = CANDIDATE_KEY_GROUPS(key);
		n++;
	}
	return n;
}

/*
 * room_for
 *		Make room for more candidate keys: past the caller's stack array,
 *		move to a palloc'd one that holds one key per definition, or
 *		twice what it held (a definition has a key per group whose guard
 *		hit; IN duplicates are merged with them).
 */
static int *
room_for(int *orders, int n, int more, int *capacity, int ndefinitions)
{
	int		   *grown;

	if (n + more <= *capacity)
		return orders;
	*capacity = Max(Max(ndefinitions, 2 * *capacity), n + more);
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
 * spans_below
 *		Number of sorted spans s with s < d: a binary search.
 */
static int
spans_below(ClockIndex *clock, int op, int64 d)
{
	int			low = 0;
	int			high = clock->n[op];

	while (low < high)
	{
		int			mid = (low + high) / 2;

		if (clock->spans[op][mid] < d)
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

/*
 * automation_candidates
 *		The definitions that could fire on this event, in evaluation order,
 *		each with the groups that can hold, written to candidates (room for
 *		ndefinitions).  Groups filed under an unchanged column, a different
 *		value, a threshold the value does not pass or a relative date it is
 *		not within are not returned; a definition none of whose groups is
 *		returned is not a candidate.
 */
int
automation_candidates(CandidateIndex *cindex, int ndefinitions, RowState *row,
					  Candidate *candidates)
{
	EventIndex *index = &cindex->events[automation_event_index(row->event)];
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
						  ndefinitions); \
		nothers = append_orders((list), others, nothers); \
	} while (0)

	foreach(lc, index->edge_columns)
	{
		EdgeGroup  *group = lfirst(lc);
		bool		old_null;
		bool		new_null;
		Datum		old_value = automation_row_column(row, ROW_OLD, group->attnum, &old_null);
		Datum		new_value = automation_row_column(row, ROW_NEW, group->attnum, &new_null);
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
		Datum		value = automation_row_column(row, which, column->attnum, &isnull);
		ValueIndexKey key;
		ValueIndexEntry *entry;

		if (isnull)
			continue;
		if (column->sample->kind == VALUE_TEXT)
			value = CStringGetDatum(automation_row_lower_text(row, which, column->sample, value));
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
		Datum		value = automation_row_column(row, which, range->attnum, &isnull);
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
							  ndefinitions);
			if (op == RANGE_GREATER || op == RANGE_GREATER_EQUAL)
				for (int i = 0; i < bound; i++)
					others[nothers++] = range->orders[op][i];
			else
				for (int i = bound; i < range->n[op]; i++)
					others[nothers++] = range->orders[op][i];
		}
	}

	foreach(lc, index->clock_columns)
	{
		ClockIndex *clock = lfirst(lc);
		bool		isnull;
		Datum		value = automation_row_column(row, which, clock->attnum, &isnull);
		Timestamp	now = (Timestamp) GetCurrentTransactionStartTimestamp();
		Timestamp	at;
		int64		d;

		if (isnull)
			continue;			/* a clock condition holds nothing on NULL */
		at = automation_clock_instant(clock->sample, value);
		others = room_for(others, nothers,
						  clock->n[0] + clock->n[1] + clock->n[2], &capacity, ndefinitions);

		/*
		 * With d = now - at, exact in int64 (clock_bound): older_than holds
		 * iff at < now - span, i.e. span < d (all spans when d overflows:
		 * at is -infinity); within_last iff now - span <= at <= now, i.e.
		 * at <= now and span >= d; within_next iff now <= at <= now + span,
		 * i.e. at >= now and span >= at - now.
		 */
		if (clock->n[CLOCK_OLDER_THAN] > 0)
		{
			int			bound = pg_sub_s64_overflow(now, at, &d) ? clock->n[CLOCK_OLDER_THAN]
				: spans_below(clock, CLOCK_OLDER_THAN, d);

			for (int i = 0; i < bound; i++)
				others[nothers++] = clock->orders[CLOCK_OLDER_THAN][i];
		}
		if (clock->n[CLOCK_WITHIN_LAST] > 0 && at <= now && !pg_sub_s64_overflow(now, at, &d))
			for (int i = spans_below(clock, CLOCK_WITHIN_LAST, d); i < clock->n[CLOCK_WITHIN_LAST]; i++)
				others[nothers++] = clock->orders[CLOCK_WITHIN_LAST][i];
		if (clock->n[CLOCK_WITHIN_NEXT] > 0 && at >= now && !pg_sub_s64_overflow(at, now, &d))
			for (int i = spans_below(clock, CLOCK_WITHIN_NEXT, d); i < clock->n[CLOCK_WITHIN_NEXT]; i++)
				others[nothers++] = clock->orders[CLOCK_WITHIN_NEXT][i];
	}
#undef ADD_ORDERS

	/* the always list is kept sorted; merge the few others into it */
	nalways = list_length(index->always);
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
				n = add_candidate(candidates, n, list_nth_int(index->always, a++));
			else
				n = add_candidate(candidates, n, others[o++]);
		}
		return n;
	}
}
