/*-------------------------------------------------------------------------
 *
 * cache.h
 *	  The compiler and its per-backend cache (cache.c): every active
 *	  definition of one watched table, compiled, with its candidate index;
 *	  rebuilt after any definition change commits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_CACHE_H
#define AUTOMATION_CACHE_H

#include "candidates.h"
#include "definition.h"

typedef struct EntityCache
{
	Oid			relid;			/* hash key */
	bool		watched;		/* false: table not (or no longer) watched */
	char	   *entity;
	AttrNumber	key_attnum;
	AttrNumber	tenant_attnum;	/* InvalidAttrNumber: no tenancy */
	bool		key_styled;		/* printed under fixed styles (rowtext.c) */
	bool		tenant_styled;
	int			ndefinitions;
	int			definitions_capacity;
	Definition **definitions;	/* workflows by creation, then rules by priority */
	CandidateIndex index;
	List	   *skipped;		/* SkippedDefinition *: active definitions
								 * the table no longer fits */
	MemoryContext context;
} EntityCache;

extern void automation_cache_init(void);
extern EntityCache *automation_get_entity_cache(Oid relid);
extern EntityCache *automation_get_entity_cache_by_name(const char *entity);
extern EntityCache *automation_compile_definition(Oid relid, const char *id,
												  MemoryContext parent);
extern void automation_cache_pin(void);
extern void automation_cache_unpin(void);

#endif							/* AUTOMATION_CACHE_H */
