/*-------------------------------------------------------------------------
 *
 * candidates.h
 *	  The candidate index (candidates.c): per row event, which compiled
 *	  definitions could fire, found without evaluating the others.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_CANDIDATES_H
#define AUTOMATION_CANDIDATES_H

#include "nodes/pg_list.h"
#include "utils/hsearch.h"

#include "definition.h"

/*
 * What the index files and returns is a key per (definition, group):
 * order * 32 + the group's bit index (GROUP_BIT_INDEX, evaluate.h), so
 * keys sort by definition order, then group.
 */
#define CANDIDATE_KEY(order, group)	((order) * 32 + GROUP_BIT_INDEX(group))
#define CANDIDATE_KEY_ORDER(key)	((key) / 32)
#define CANDIDATE_KEY_GROUPS(key)	((GroupMask) 1 << ((key) % 32))

/* One candidate: a definition and the groups whose guard hit (or that have
 * none): the only groups that can hold on the event. */
typedef struct Candidate
{
	int			order;
	GroupMask	groups;
} Candidate;

/* One bucket of the per-event index: definitions guarded by one column. */
typedef struct ValueIndexKey
{
	AttrNumber	attnum;
	uint32		hash;
} ValueIndexKey;

typedef struct ValueIndexEntry
{
	ValueIndexKey key;
	List	   *orders;			/* int list of candidate keys */
} ValueIndexEntry;

typedef struct EventIndex
{
	List	   *always;			/* keys of the groups evaluated on every event
								 * (no guard), sorted */
	List	   *edge_columns;	/* EdgeGroup *, guarded by "column changed" */
	List	   *value_columns;	/* ValueColumn *, guarded by NEW value */
	HTAB	   *value_index;	/* ValueIndexKey -> ValueIndexEntry */
	List	   *range_columns;	/* RangeIndex *, guarded by a threshold */
	List	   *clock_columns;	/* ClockIndex *, guarded by a relative date */
} EventIndex;

/* Definitions guarded by GT/GTE/LT/LTE on one column, by sorted constant. */
typedef struct RangeIndex
{
	AttrNumber	attnum;
	CompiledCondition *sample;	/* compare_proc and collation to use */
	int			n[RANGE_OPS];
	Datum	   *constants[RANGE_OPS];	/* ascending */
	int		   *orders[RANGE_OPS];	/* candidate keys */
} RangeIndex;

/*
 * Definitions guarded by within_last / within_next / older_than (without
 * months) on one column, by sorted interval in microseconds: with d the
 * row's distance from now, older_than holds only if span < d, within_last
 * only if span >= d, within_next only if span >= -d.
 */
typedef struct ClockIndex
{
	AttrNumber	attnum;
	CompiledCondition *sample;	/* how to read the column as an instant */
	int			n[CLOCK_OPS];
	int64	   *spans[CLOCK_OPS];	/* ascending */
	int		   *orders[CLOCK_OPS];	/* candidate keys */
} ClockIndex;

typedef struct EdgeGroup
{
	AttrNumber	attnum;
	List	   *orders;			/* candidate keys */
} EdgeGroup;

typedef struct ValueColumn
{
	AttrNumber	attnum;
	CompiledCondition *sample;	/* how to hash this column's NEW value */
} ValueColumn;

/* the index of one entity: one EventIndex per row event */
typedef struct CandidateIndex
{
	EventIndex	events[3];		/* INSERT, UPDATE, DELETE */
} CandidateIndex;

extern int	automation_event_index(int event);
extern void automation_index_build(CandidateIndex *index, Definition **definitions,
								   int ndefinitions, MemoryContext context);
extern int	automation_candidates(CandidateIndex *index, int ndefinitions,
								  RowState *row, Candidate *candidates);

#endif							/* AUTOMATION_CANDIDATES_H */
