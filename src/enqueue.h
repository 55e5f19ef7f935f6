/*-------------------------------------------------------------------------
 *
 * enqueue.h
 *	  Firing (enqueue.c): what happens to a definition a row event matched
 *	  — loop guard, cooldown, circuit breaker, then its jobs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_ENQUEUE_H
#define AUTOMATION_ENQUEUE_H

#include "cache.h"

/*
 * How a decision is taken (decide.h): FIRE acts (firings, jobs, breaker
 * slots, alerts); PREDICT and COUNT read committed state and change nothing
 * (PREDICT also says why, condition by condition).
 */
typedef enum DecideMode
{
	DECIDE_FIRE,				/* the row trigger (and enrollment) */
	DECIDE_PREDICT,				/* explain: verdicts and reasons */
	DECIDE_COUNT				/* backtest: verdicts only */
} DecideMode;

/* What happened, or would happen, to one definition on one row event. */
typedef enum Verdict
{
	VERDICT_HIDDEN,				/* PREDICT: another tenant's, not shown */
	VERDICT_NOT_EVALUATED,		/* not for this operation */
	VERDICT_CHAIN_STOPPED,		/* an earlier rule stopped the chain */
	VERDICT_OTHER_TENANT,		/* belongs to another tenant */
	VERDICT_NO_MATCH,			/* no group's conditions all hold */
	VERDICT_NOT_CANDIDATE,		/* holds, but the index left it out (a bug) */
	VERDICT_HELD_BEFORE,		/* becomes_true: already held for OLD */
	VERDICT_DEPTH_LIMIT,		/* matched; the loop guard stops it */
	VERDICT_COOLDOWN,			/* matched; the rule is in cooldown */
	VERDICT_BREAKER,			/* matched; the breaker has no firing left */
	VERDICT_FIRES				/* matched and fired (FIRE) or would fire */
} Verdict;

/* One row event being fired: its record and tenant, read once. */
typedef struct FiringContext
{
	EntityCache *cache;
	int			event;
	HeapTuple	newtuple;
	HeapTuple	oldtuple;
	TupleDesc	tupdesc;
	char	   *record_key;
	char	   *tenant_id;
	int			depth;
	const char *operation;		/* firings.operation, event.operation:
								 * INSERT, UPDATE, DELETE from the event; a
								 * caller may set ENROLL or TIME after
								 * automation_firing_init */
	Oid			payload_role;	/* who serialises the row (casts to json)
								 * and renders tokens: InvalidOid, the
								 * writing role; enrollment: the table's
								 * owner (backtest.c) */
} FiringContext;

extern void automation_firing_init(FiringContext *firing, EntityCache *cache, int event,
								   HeapTuple newtuple, HeapTuple oldtuple, TupleDesc tupdesc);
extern void automation_gate(Definition **matched, int nmatched, FiringContext *firing,
							DecideMode mode, Verdict *verdicts, char **reasons);

#endif							/* AUTOMATION_ENQUEUE_H */
