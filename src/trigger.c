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
 *	- What fires is decided by automation_decide() in FIRE mode (decide.c),
 *	  the path explain() predicts with.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "utils/rel.h"

#include "automation.h"
#include "decide.h"

PG_FUNCTION_INFO_V1(automation_row_trigger);

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
	HeapTuple	newtuple = NULL;
	HeapTuple	oldtuple = NULL;
	int			event;
	FiringContext firing;
	RowState	row;
	DecideRequest request;

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

	automation_row_init(&row, RelationGetDescr(trigdata->tg_relation), event,
						newtuple, oldtuple);
	automation_row_use_slots(&row, event == EVENT_UPDATE ? trigdata->tg_newslot : trigdata->tg_trigslot,
							 event == EVENT_INSERT ? NULL : trigdata->tg_trigslot);
	memset(&request, 0, sizeof(request));
	request.mode = DECIDE_FIRE;
	request.cache = cache;
	request.row = &row;
	request.firing = &firing;
	automation_decide(&request);
	return PointerGetDatum(NULL);
}
