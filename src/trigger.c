/*-------------------------------------------------------------------------
 *
 * trigger.c
 *	  The row trigger installed by automation.watch().
 *
 * Invariants:
 *	- AFTER ... FOR EACH ROW only; reads OLD/NEW straight from the trigger
 *	  tuples.
 *	- A row that matches nothing costs one cache lookup, the index probes of
 *	  automation_candidates() and the evaluation of the candidates: no SPI,
 *	  no JSON, and only allocations in the trigger manager's per-row context.
 *	- Workflows fire on INSERT and UPDATE; rules on their trigger type, in
 *	  priority order, until a matched rule with stop_subsequent_rules.
 *	- With a tenant column, a row fires its tenant's definitions and the
 *	  global ones (tenant_id NULL) only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "parser/parse_coerce.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "automation.h"

PG_FUNCTION_INFO_V1(automation_row_trigger);

/*
 * automation_style_dependent
 *		Does a value of this type print differently under another DateStyle,
 *		IntervalStyle or TimeZone?  (Asked once per entity, when it is
 *		compiled: cache.c.)
 */
bool
automation_style_dependent(Oid type)
{
	char		category = TypeCategory(getBaseType(type));

	return category == TYPCATEGORY_DATETIME || category == TYPCATEGORY_TIMESPAN;
}

/*
 * automation_datum_text
 *		A value of type as text; with fixed_styles, dates and times are
 *		printed the same way in every session.
 */
char *
automation_datum_text(Datum value, Oid type, bool fixed_styles)
{
	Oid			typoutput;
	bool		typisvarlena;

	getTypeOutputInfo(type, &typoutput, &typisvarlena);
	if (fixed_styles)
	{
		/*
		 * A record key or tenant is read back by other sessions (database
		 * actions, cooldowns): print dates and times the same way in every
		 * session, not in the writer's DateStyle or TimeZone.
		 */
		int			level = NewGUCNestLevel();
		char	   *text;

		automation_fixed_styles();
		(void) set_config_option("timezone", "UTC", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		text = OidOutputFunctionCall(typoutput, value);
		AtEOXact_GUC(true, level);
		return text;
	}
	return OidOutputFunctionCall(typoutput, value);
}

/*
 * column_text
 *		A column's value as text, or NULL (automation_datum_text).
 */
char *
automation_column_text(HeapTuple tuple, TupleDesc tupdesc, AttrNumber attnum,
					   bool fixed_styles)
{
	bool		isnull;
	Datum		value;

	if (tuple == NULL || attnum == InvalidAttrNumber)
		return NULL;
	value = heap_getattr(tuple, attnum, tupdesc, &isnull);
	if (isnull)
		return NULL;
	return automation_datum_text(value, TupleDescAttr(tupdesc, attnum - 1)->atttypid,
								 fixed_styles);
}

/*
 * automation_firing_init
 *		The firing of a row event: its record key and tenant read from the
 *		changed row (OLD for a delete), at the session's depth.  Shared with
 *		explain, so both see the same record.
 */
void
automation_firing_init(FiringContext *firing, EntityCache *cache, int event,
					   HeapTuple newtuple, HeapTuple oldtuple, TupleDesc tupdesc)
{
	HeapTuple	changed = event == EVENT_DELETE ? oldtuple : newtuple;

	firing->cache = cache;
	firing->event = event;
	firing->newtuple = newtuple;
	firing->oldtuple = oldtuple;
	firing->tupdesc = tupdesc;
	firing->record_key = automation_column_text(changed, tupdesc, cache->key_attnum,
												cache->key_styled);
	firing->tenant_id = automation_column_text(changed, tupdesc, cache->tenant_attnum,
											   cache->tenant_styled);
	firing->depth = automation_current_depth;
	firing->outcome = NULL;
}

/*
 * automation_row_trigger
 *		Evaluate the watched table's definitions for one row event and
 *		enqueue what matched.
 */
Datum
automation_row_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	EntityCache *cache;
	TupleDesc	tupdesc;
	HeapTuple	newtuple = NULL;
	HeapTuple	oldtuple = NULL;
	int			event;
	int			stack_orders[64];
	Definition *stack_matched[64];
	int		   *orders;
	Definition **matched;
	int			nmatched = 0;
	int			ncandidates;
	bool		rules_stopped = false;
	FiringContext firing;
	bool		firing_ready = false;
	RowState	row;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("automation._row_trigger() must be called as a trigger")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("automation._row_trigger() must be an AFTER ... FOR EACH ROW trigger"),
				 errhint("Use automation.watch() to attach it.")));

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		event = EVENT_INSERT;
		newtuple = trigdata->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		event = EVENT_UPDATE;
		oldtuple = trigdata->tg_trigtuple;
		newtuple = trigdata->tg_newtuple;
	}
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		event = EVENT_DELETE;
		oldtuple = trigdata->tg_trigtuple;
	}
	else
		return PointerGetDatum(NULL);	/* TRUNCATE: nothing to evaluate */

	cache = automation_get_entity_cache(RelationGetRelid(trigdata->tg_relation));
	if (!cache->watched || cache->ndefinitions == 0)
		return PointerGetDatum(NULL);

	tupdesc = RelationGetDescr(trigdata->tg_relation);
	orders = cache->ndefinitions <= lengthof(stack_orders) ? stack_orders
		: palloc(sizeof(int) * cache->ndefinitions);
	matched = stack_matched;	/* larger only once a 65th definition matches */
	automation_row_init(&row, tupdesc, event, newtuple, oldtuple);
	automation_row_use_slots(&row, event == EVENT_UPDATE ? trigdata->tg_newslot : trigdata->tg_trigslot,
							 event == EVENT_INSERT ? NULL : trigdata->tg_trigslot);
	ncandidates = automation_candidates(cache, &row, orders);
	if (ncandidates == 0)
		return PointerGetDatum(NULL);

	automation_cache_pin();
	for (int i = 0; i < ncandidates; i++)
	{
		Definition *definition = cache->definitions[orders[i]];

		if (definition->is_rule && rules_stopped)
			continue;
		if (!firing_ready)
		{
			automation_firing_init(&firing, cache, event, newtuple, oldtuple, tupdesc);
			firing_ready = true;
		}
		if (definition->tenant_id != NULL &&
			(firing.tenant_id == NULL || strcmp(definition->tenant_id, firing.tenant_id) != 0))
			continue;
		if (!automation_definition_matches(definition, &row))
			continue;
		if (nmatched == lengthof(stack_matched))
		{
			matched = palloc(sizeof(Definition *) * cache->ndefinitions);
			memcpy(matched, stack_matched, sizeof(stack_matched));
		}
		matched[nmatched++] = definition;
		if (definition->is_rule && definition->stop_subsequent)
			rules_stopped = true;
	}
	if (nmatched > 0)
		automation_fire(matched, nmatched, &firing);
	automation_cache_unpin();
	return PointerGetDatum(NULL);
}
