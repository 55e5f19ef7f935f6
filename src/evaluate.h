/*-------------------------------------------------------------------------
 *
 * evaluate.h
 *	  The evaluator (evaluate.c): pure predicates on one row event.  Knows
 *	  compiled conditions and rows, nothing of the cache, the index or
 *	  firing.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_EVALUATE_H
#define AUTOMATION_EVALUATE_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "executor/tuptable.h"
#include "datatype/timestamp.h"
#include "fmgr.h"

#include "operators.h"

/* How a field's value is compared. */
typedef enum ValueKind
{
	VALUE_TEXT,					/* text-like column: case-insensitive */
	VALUE_ORDERED,				/* any type with a btree comparison */
	VALUE_ARRAY,				/* array column: contains = has element */
	VALUE_JSON					/* path into a json/jsonb column */
} ValueKind;

typedef struct CompiledCondition
{
	ConditionOperator operator;
	bool		negated;		/* EXISTS/NOT_EXISTS/CHANGED with value false */
	int			group;			/* condition group (rules): groups are ORed */
	AttrNumber	attnum;
	ValueKind	kind;
	Oid			column_type;
	Oid			collation;
	int			json_path_length;
	char	  **json_path;		/* keys below the json column */
	Oid			compare_type;	/* column type, or element type for arrays */
	bool		text_elements;	/* VALUE_ARRAY of a text-like type */
	int16		compare_typlen;
	bool		compare_typbyval;
	char		compare_typalign;
	FmgrInfo	compare_proc;	/* btree comparison of compare_type */
	bool		has_compare_proc;
	FmgrInfo	hash_proc;		/* hash of compare_type, for the value index */
	bool		has_hash_proc;
	/* the constant(s), parsed once into compare_type */
	int			nconstants;
	Datum	   *constants;
	char	  **constant_texts; /* lower-cased text form, for text and json */
	/* clock operators (within_last, ...): the interval is constants[0]; the
	 * bound now -/+ it, computed once per transaction */
	TimestampTz clock_now;		/* the transaction start it was computed for */
	Timestamp	clock_bound;
	char	   *field_label;	/* field path as written */
	char	   *value_label;	/* value as written, for explain */
	const char *operator_label;
} CompiledCondition;

/*
 * A set of condition groups, as a mask: group g (SPEC: 0-24) is bit g; a
 * group outside 0-30 (a row that skipped validation) shares bit 31, so a
 * mask may name more groups than hit, never fewer.
 */
typedef uint32 GroupMask;

#define GROUP_BIT_INDEX(g)	((unsigned int) (g) < 31 ? (int) (g) : 31)
#define GROUP_BIT(g)		((GroupMask) 1 << GROUP_BIT_INDEX(g))
#define GROUPS_ALL			((GroupMask) 0xFFFFFFFF)

/* One row event as the evaluator reads it: each tuple deformed once. */
#define ROW_NEW 0
#define ROW_OLD 1

typedef struct RowState
{
	TupleDesc	tupdesc;
	int			event;
	bool		no_prior;		/* a previous row read as the current one
								 * (fire_when): its own predecessor is
								 * unknown, edge conditions do not hold */
	HeapTuple	tuples[2];
	TupleTableSlot *slots[2];	/* the trigger's slots: deformed lazily, up
								 * to the highest column read */
	Datum	   *values[2];		/* without slots: the whole tuple, once */
	bool	   *nulls[2];
	char	  **lowered[2];		/* per attnum, lower-cased text, once */
} RowState;

typedef struct ConditionResult
{
	bool		holds;
	const char *reason;			/* static text or palloc'd in the caller's context */
} ConditionResult;

extern void automation_row_init(RowState *row, TupleDesc tupdesc, int event,
								HeapTuple newtuple, HeapTuple oldtuple);
extern void automation_row_use_slots(RowState *row, TupleTableSlot *newslot,
									 TupleTableSlot *oldslot);
extern Datum automation_row_column(RowState *row, int which, AttrNumber attnum,
								   bool *isnull);
extern char *automation_row_lower_text(RowState *row, int which,
									   CompiledCondition *condition, Datum column);
extern char *automation_lower(const char *s, int len, Oid collation);
extern bool automation_condition_holds(CompiledCondition *condition, RowState *row,
									   ConditionResult *result);
extern Timestamp automation_clock_instant(CompiledCondition *condition, Datum datum);
extern bool automation_clock_span(CompiledCondition *condition, int64 *span);
extern bool automation_conditions_match(CompiledCondition *conditions, int nconditions,
										RowState *row, GroupMask groups,
										ConditionResult *results, int *group);
extern void automation_row_prior(RowState *prior, RowState *row);
extern bool automation_value_hash(CompiledCondition *condition, Datum value,
								  uint32 *hash);

#endif							/* AUTOMATION_EVALUATE_H */
