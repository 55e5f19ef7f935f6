/*-------------------------------------------------------------------------
 *
 * definition.h
 *	  A compiled definition: a workflow or a rule, its conditions (in
 *	  groups) and its actions, as the compiler (cache.c) builds it.
 *
 * Terms: a "definition" is a workflow or a rule; it holds conditions (ANDed
 * within a group, groups ORed) and actions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_DEFINITION_H
#define AUTOMATION_DEFINITION_H

#include "utils/jsonb.h"

#include "evaluate.h"

typedef struct CompiledAction
{
	char	   *action_type;	/* lower case, as in automation.jobs */
	Jsonb	   *config;			/* action keys, merge tokens not rendered */
	int			delay_minutes;
} CompiledAction;

typedef struct Definition
{
	bool		is_rule;
	char	   *id;				/* wf_... or the rule's uuid as text */
	char	   *name;
	char	   *tenant_id;		/* NULL: global */
	char	   *created_by;
	int			event_mask;
	int			max_triggers_per_day;	/* workflows */
	int			cooldown_hours; /* rules; -1: none */
	bool		stop_subsequent;
	bool		becomes_true;	/* fire_when = 'becomes_true' */
	int			order;			/* position in EntityCache.definitions */
	int			nconditions;
	CompiledCondition *conditions;	/* by group, then sort order */
	int			nactions;
	CompiledAction *actions;
	int			npayload_columns;	/* -1: every column (payload_columns null) */
	AttrNumber *payload_attnums;	/* the chosen columns, in the given order */
	TupleDesc	payload_tupdesc;	/* blessed record type of those columns */
	bool		payload_has_json;	/* a json column among those sent */
} Definition;

/* An active definition that cannot be compiled against its table, and why. */
typedef struct SkippedDefinition
{
	Definition *definition;		/* id, name, tenant; no conditions */
	char	   *reason;
} SkippedDefinition;

#endif							/* AUTOMATION_DEFINITION_H */
