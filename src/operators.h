/*-------------------------------------------------------------------------
 *
 * operators.h
 *	  The condition operators: their spellings and properties (operators.c).
 *	  What an operator means on a row is written in evaluate.c's
 *	  automation_condition_holds(); everything else about an operator (its
 *	  spelling, whether it is edge-triggered, which index can guard it) is
 *	  asked here, so adding one touches this vocabulary and its semantics.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_OPERATORS_H
#define AUTOMATION_OPERATORS_H

typedef enum ConditionOperator
{
	OPERATOR_EQUALS,
	OPERATOR_NOT_EQUALS,
	OPERATOR_CONTAINS,
	OPERATOR_NOT_CONTAINS,
	OPERATOR_STARTS_WITH,
	OPERATOR_ENDS_WITH,
	OPERATOR_GREATER_THAN,
	OPERATOR_GREATER_EQUAL,
	OPERATOR_LESS_THAN,
	OPERATOR_LESS_EQUAL,
	OPERATOR_IN,
	OPERATOR_NOT_IN,
	OPERATOR_EXISTS,
	OPERATOR_NOT_EXISTS,
	OPERATOR_CHANGED,
	OPERATOR_CHANGED_TO,
	OPERATOR_CHANGED_FROM
} ConditionOperator;

/* threshold directions of the range index (candidates.c) */
#define RANGE_GREATER		0
#define RANGE_GREATER_EQUAL 1
#define RANGE_LESS_THAN		2
#define RANGE_LESS_EQUAL	3
#define RANGE_OPS			4

/* workflow or rule spelling to the operator and its label; false if unknown */
extern bool automation_operator_parse(const char *name, ConditionOperator *op,
									  const char **label);

/* edge-triggered (changed*): holds on a change, not on a state */
extern bool automation_operator_edge(ConditionOperator op);

/* can never hold on this row event (EVENT_* bit), unless negated */
extern bool automation_operator_never_on(ConditionOperator op, int event);

/* guarded by the NEW value's hash bucket(s): EQUALS, CHANGED_TO (one value), IN */
extern bool automation_operator_hashable(ConditionOperator op, int nconstants);

/* the RANGE_* direction of a threshold operator, or -1 */
extern int	automation_operator_range(ConditionOperator op);

#endif							/* AUTOMATION_OPERATORS_H */
