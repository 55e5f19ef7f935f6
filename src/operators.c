/*-------------------------------------------------------------------------
 *
 * operators.c
 *	  The condition operators' vocabulary: spellings and properties.  Their
 *	  meaning on a row is automation_condition_holds() (evaluate.c); the
 *	  compiler (cache.c) and the candidate index (candidates.c) ask here
 *	  what an operator is, never spell it themselves.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "automation.h"
#include "operators.h"

/*
 * automation_operator_parse
 *		Workflow or rule spelling to ConditionOperator; false if unknown.
 */
bool
automation_operator_parse(const char *name, ConditionOperator *op, const char **label)
{
	static const struct
	{
		const char *name;
		ConditionOperator op;
	}			operators[] = {
		{"equals", OPERATOR_EQUALS},
		{"not_equals", OPERATOR_NOT_EQUALS},
		{"contains", OPERATOR_CONTAINS},
		{"not_contains", OPERATOR_NOT_CONTAINS},
		{"starts_with", OPERATOR_STARTS_WITH},
		{"ends_with", OPERATOR_ENDS_WITH},
		{"greater_than", OPERATOR_GREATER_THAN},
		{"gt", OPERATOR_GREATER_THAN},
		{"gte", OPERATOR_GREATER_EQUAL},
		{"less_than", OPERATOR_LESS_THAN},
		{"lt", OPERATOR_LESS_THAN},
		{"lte", OPERATOR_LESS_EQUAL},
		{"in", OPERATOR_IN},
		{"not_in", OPERATOR_NOT_IN},
		{"exists", OPERATOR_EXISTS},
		{"not_exists", OPERATOR_NOT_EXISTS},
		{"changed", OPERATOR_CHANGED},
		{"changed_to", OPERATOR_CHANGED_TO},
		{"changed_from", OPERATOR_CHANGED_FROM},
	};

	for (int i = 0; i < lengthof(operators); i++)
	{
		if (pg_strcasecmp(name, operators[i].name) == 0)
		{
			*op = operators[i].op;
			*label = operators[i].name;
			return true;
		}
	}
	return false;
}

/*
 * automation_operator_edge
 *		changed, changed_to, changed_from: they hold on a change of the
 *		field, not on a state of the row.
 */
bool
automation_operator_edge(ConditionOperator op)
{
	return op == OPERATOR_CHANGED || op == OPERATOR_CHANGED_TO ||
		op == OPERATOR_CHANGED_FROM;
}

/*
 * automation_operator_never_on
 *		The (not negated) operator can never hold on this event:
 *		edge-triggered operators on DELETE, CHANGED_FROM on INSERT.
 */
bool
automation_operator_never_on(ConditionOperator op, int event)
{
	if (event == EVENT_DELETE)
		return automation_operator_edge(op);
	if (event == EVENT_INSERT)
		return op == OPERATOR_CHANGED_FROM;
	return false;
}

/*
 * automation_operator_hashable
 *		Holds only when the NEW value equals one of the constants: EQUALS
 *		and CHANGED_TO with one value, IN with at least one.
 */
bool
automation_operator_hashable(ConditionOperator op, int nconstants)
{
	return ((op == OPERATOR_EQUALS || op == OPERATOR_CHANGED_TO) && nconstants == 1) ||
		(op == OPERATOR_IN && nconstants >= 1);
}

/*
 * automation_operator_range
 *		The direction of a threshold operator (GT, GTE, LT, LTE), or -1.
 */
int
automation_operator_range(ConditionOperator op)
{
	switch (op)
	{
		case OPERATOR_GREATER_THAN:
			return RANGE_GREATER;
		case OPERATOR_GREATER_EQUAL:
			return RANGE_GREATER_EQUAL;
		case OPERATOR_LESS_THAN:
			return RANGE_LESS_THAN;
		case OPERATOR_LESS_EQUAL:
			return RANGE_LESS_EQUAL;
		default:
			return -1;
	}
}
