/*-------------------------------------------------------------------------
 *
 * operators.h
 *	  The condition operators: their spellings and properties, read from
 *	  the vocabulary (src/vocabulary.h, AUTOMATION_OPERATORS) by
 *	  operators.c.  What an operator means on a row is written in
 *	  evaluate.c's automation_condition_holds(); everything else about an
 *	  operator (its spelling, its value form, whether it is edge-triggered,
 *	  which index can guard it) is asked here, so adding one touches the
 *	  vocabulary and its semantics.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_OPERATORS_H
#define AUTOMATION_OPERATORS_H

/* ConditionOperator, VocabOperator: the vocabulary (one definition) */
#include "vocabulary.h"

/* threshold directions of the range index (candidates.c) */
#define RANGE_GREATER		0
#define RANGE_GREATER_EQUAL 1
#define RANGE_LESS_THAN		2
#define RANGE_LESS_EQUAL	3
#define RANGE_OPS			4

/* directions of the clock index (candidates.c) */
#define CLOCK_WITHIN_LAST	0
#define CLOCK_WITHIN_NEXT	1
#define CLOCK_OLDER_THAN	2
#define CLOCK_OPS			3

/* workflow or rule spelling to the operator and its label; false if unknown */
extern bool automation_operator_parse(const char *name, ConditionOperator *op,
									  const char **label);

/* the operator's vocabulary entry (value form, field kind, trigger, index) */
extern const VocabOperator *automation_operator_info(ConditionOperator op);

/* edge-triggered (changed*): holds on a change, not on a state */
extern bool automation_operator_edge(ConditionOperator op);

/* can never hold on this row event (EVENT_* bit), unless negated */
extern bool automation_operator_never_on(ConditionOperator op, int event);

/* guarded by the NEW value's hash bucket(s): EQUALS, CHANGED_TO (one value), IN */
extern bool automation_operator_hashable(ConditionOperator op, int nconstants);

/* the RANGE_* direction of a threshold operator, or -1 */
extern int	automation_operator_range(ConditionOperator op);
extern int	automation_operator_clock(ConditionOperator op);

#endif							/* AUTOMATION_OPERATORS_H */
