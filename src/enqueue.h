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
} FiringContext;

extern void automation_firing_init(FiringContext *firing, EntityCache *cache, int event,
								   HeapTuple newtuple, HeapTuple oldtuple, TupleDesc tupdesc);
extern void automation_fire(Definition **matched, int nmatched, FiringContext *firing);
extern char *automation_predict(Definition *definition, FiringContext *firing);

#endif							/* AUTOMATION_ENQUEUE_H */
