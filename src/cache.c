/*-------------------------------------------------------------------------
 *
 * cache.c
 *	  Compiled per-backend cache of workflows and rules (placeholder).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "automation.h"

/*
 * automation_cache_init
 *		Register the invalidation callback.  Called once from _PG_init.
 */
void
automation_cache_init(void)
{
}
