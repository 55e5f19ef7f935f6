/*-------------------------------------------------------------------------
 *
 * operators.c
 *	  The condition operators' spellings and properties, from the
 *	  vocabulary (src/vocabulary.h).  Their meaning on a row is
 *	  automation_condition_holds() (evaluate.c); the compiler (cache.c) and
 *	  the candidate index (candidates.c) ask here what an operator is, never
 *	  spell it themselves.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "automation.h"
#include "operators.h"

static const VocabOperator operators[OPERATOR_COUNT] = VOCAB_OPERATOR_TABLE;

/*
 * automation_operator_info
 *		The operator's entry in the vocabulary.
 */
const VocabOperator *
automation_operator_info(ConditionOperator op)
{
	if ((int) op < 0 || op >= OPERATOR_COUNT)
		elog(ERROR, "automation: operator %d is not in the vocabulary", (int) op);
	return &operators[op];
}

/*
 * automation_operator_parse
 *		Workflow or rule spelling (either case) to ConditionOperator; false
 *		if unknown.  The label explain shows is the spelling in lower case
 *		("equals", "greater_than", "gt").
 */
bool
automation_operator_parse(const char *name, ConditionOperator *op, const char **label)
{
	static char labels[OPERATOR_COUNT][2][NAMEDATALEN];

	for (int i = 0; i < OPERATOR_COUNT; i++)
	{
		for (int spelling = 0; spelling < 2; spelling++)
		{
			const char *s = spelling == 0 ? operators[i].workflow : operators[i].rule;

			if (s == NULL || pg_strcasecmp(name, s) != 0)
				continue;
			if (labels[i][spelling][0] == '\0')
			{
				strlcpy(labels[i][spelling], s, NAMEDATALEN);
				for (char *c = labels[i][spelling]; *c; c++)
					*c = pg_ascii_tolower((unsigned char) *c);
			}
			*op = (ConditionOperator) i;
			*label = labels[i][spelling];
			return true;
		}
	}
	return false;
}

/*
 * automation_operator_edge
 *		changed, changed_to, changed_from: they hold on a change of the
 *		field, not on a state of the row (the vocabulary's EDGE).
 */
bool
automation_operator_edge(ConditionOperator op)
{
	return automation_operator_info(op)->trigger == VOCAB_TRIGGER_EDGE;
}

/*
 * automation_operator_never_on
 *		The (not negated) operator can never hold on this event (the
 *		vocabulary's events): edge-triggered operators on DELETE,
 *		CHANGED_FROM on INSERT.
 */
bool
automation_operator_never_on(ConditionOperator op, int event)
{
	StaticAssertStmt(VOCAB_ON_INSERT == EVENT_INSERT && VOCAB_ON_UPDATE == EVENT_UPDATE &&
					 VOCAB_ON_DELETE == EVENT_DELETE, "vocabulary event bits are EVENT_* bits");
	return (automation_operator_info(op)->events & event) == 0;
}

/*
 * automation_operator_hashable
 *		Holds only when the NEW value equals one of the constants (the
 *		vocabulary's index VALUE): EQUALS and CHANGED_TO with one value, IN
 *		with at least one.
 */
bool
automation_operator_hashable(ConditionOperator op, int nconstants)
{
	const VocabOperator *info = automation_operator_info(op);

	if (info->index != VOCAB_INDEX_VALUE || nconstants < 1)
		return false;
	return info->value == VOCAB_VALUE_LIST || nconstants == 1;
}

/*
 * automation_operator_range
 *		The direction of a threshold operator (the vocabulary's index GT,
 *		GTE, LT, LTE), or -1.
 */
int
automation_operator_range(ConditionOperator op)
{
	switch (automation_operator_info(op)->index)
	{
		case VOCAB_INDEX_GT:
			return RANGE_GREATER;
		case VOCAB_INDEX_GTE:
			return RANGE_GREATER_EQUAL;
		case VOCAB_INDEX_LT:
			return RANGE_LESS_THAN;
		case VOCAB_INDEX_LTE:
			return RANGE_LESS_EQUAL;
		case VOCAB_INDEX_NONE:
		case VOCAB_INDEX_VALUE:
		case VOCAB_INDEX_EDGE:
		case VOCAB_INDEX_CLOCK:
			break;
	}
	return -1;
}

/*
 * automation_operator_clock
 *		The direction of a clock operator (the vocabulary's index CLOCK):
 *		CLOCK_WITHIN_LAST, CLOCK_WITHIN_NEXT, CLOCK_OLDER_THAN, or -1.
 */
int
automation_operator_clock(ConditionOperator op)
{
	if (automation_operator_info(op)->index != VOCAB_INDEX_CLOCK)
		return -1;
	switch (op)
	{
		case OPERATOR_WITHIN_LAST:
			return CLOCK_WITHIN_LAST;
		case OPERATOR_WITHIN_NEXT:
			return CLOCK_WITHIN_NEXT;
		case OPERATOR_OLDER_THAN:
			return CLOCK_OLDER_THAN;
		default:
			elog(ERROR, "automation: operator %d is indexed as a clock but has no direction", (int) op);
	}
	return -1;
}
