/*-------------------------------------------------------------------------
 *
 * decide.h
 *	  The one decision path (decide.c): what one row event does to the
 *	  definitions of its table.  Called by the row trigger (FIRE), by
 *	  explain (PREDICT), and by backtest (COUNT); explain equals the trigger
 *	  because it runs this same code.
 *
 * For each definition, in evaluation order (workflows by creation, then
 * rules by priority):
 *
 *	candidates (candidates.c) -> operation -> rule chain (stop_subsequent_rules)
 *	-> tenant -> match: OR of AND-groups (evaluate.c) -> fire_when
 *	-> then, for the matched, in order (enqueue.c): loop guard -> cooldown
 *	-> circuit breaker -> enqueue
 *
 * A rule that matched (fire_when included) stops the chain after it,
 * whatever its cooldown or breaker says.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_DECIDE_H
#define AUTOMATION_DECIDE_H

#include "enqueue.h"

/* What the path decided for one definition (PREDICT and COUNT). */
typedef struct Decision
{
	Definition *definition;
	Verdict		verdict;
	bool		candidate;		/* the index returned it */
	int			group;			/* the first group that holds on NEW, or -1 */
	bool		stops_chain;	/* a matched rule with stop_subsequent_rules */
	char	   *reason;			/* PREDICT: why not, or why it fires */
	ConditionResult *conditions;	/* PREDICT: one per condition, on NEW */
} Decision;

typedef struct DecideRequest
{
	/* in */
	DecideMode	mode;
	EntityCache *cache;
	RowState   *row;			/* the row event, NEW and OLD */
	FiringContext *firing;		/* its record and tenant; built if !firing_ready */
	bool		firing_ready;
	bool		check_history;	/* PREDICT/COUNT: read cooldowns and breakers
								 * (false: matched definitions are "fires") */
	bool		hide_other_tenants; /* PREDICT: skip definitions of tenants
									 * other than viewer_tenant (RLS) */
	const char *viewer_tenant;
	/* out */
	int			nmatched;		/* definitions that matched (fire_when included) */
	int			nfired;			/* of which fired (FIRE) or would fire */
	Decision   *decisions;		/* PREDICT/COUNT: one per definition of the
								 * cache, in order; FIRE: NULL */
} DecideRequest;

extern void automation_decide(DecideRequest *request);

#endif							/* AUTOMATION_DECIDE_H */
