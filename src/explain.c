/*-------------------------------------------------------------------------
 *
 * explain.c
 *	  automation.explain(): which definitions a change would fire, and why,
 *	  condition by condition.
 *
 * Runs the trigger's own decision path (automation_decide, decide.c) in
 * PREDICT mode, so it equals the trigger by construction, and writes
 * nothing: no firing, no job, no breaker slot.  Like row-level security on
 * the definition tables, it shows a role other than the owner only the
 * definitions of its tenant (automation.tenant) and the global ones.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/acl.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/datum.h"

#include "automation.h"
#include "decide.h"
#include "owner.h"

PG_FUNCTION_INFO_V1(automation_explain);

/*
 * row_from_jsonb
 *		jsonb_populate_record(NULL::<table>, value) as a HeapTuple, built as
 *		the table's owner in a security-restricted owner scope: the input
 *		functions and domain CHECKs of the table's column types are the
 *		owner's code, and must not run with the rights of whoever calls
 *		explain() (a superuser, an administrator).  A value that does not
 *		fit is 22023 naming the argument.
 */
typedef struct RowBuild
{
	const char *query;
	Jsonb	   *value;
	Datum		result;
	MemoryContext context;
} RowBuild;

static void
row_build(void *arg)
{
	RowBuild   *b = arg;
	Datum		values[1];
	bool		isnull;

	values[0] = JsonbPGetDatum(b->value);
	if (SPI_execute_with_args(b->query, 1, (Oid[]) {JSONBOID}, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not build a row for explain");
	b->result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	/* into the caller's memory, out of SPI's */
	{
		MemoryContext old = MemoryContextSwitchTo(b->context);

		b->result = datumCopy(b->result, false, -1);
		MemoryContextSwitchTo(old);
	}
}

static HeapTuple
row_from_jsonb(Oid relid, Jsonb *value, const char *argument)
{
	HeapTupleHeader header;
	HeapTuple	tuple;
	RowBuild	build;
	OwnerScope	scope;
	char	   *message = NULL;
	bool		ok;

	if (value == NULL)
		return NULL;
	if (!JB_ROOT_IS_OBJECT(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("row must be a json object"),
				 errdetail("Got: %s.", JsonbToCString(NULL, &value->root, 60)),
				 errhint("Pass the row as {\"column\": value, ...}.")));
	build.query = psprintf("SELECT pg_catalog.jsonb_populate_record(NULL::%s, $1)",
						   quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
													  get_rel_name(relid)));
	build.value = value;
	build.result = (Datum) 0;
	build.context = CurrentMemoryContext;
	automation_role_enter(&scope, automation_rel_owner(relid), "pg_catalog, pg_temp");
	ok = automation_try(row_build, &build, &message);
	automation_owner_leave(&scope);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s: it does not fit table %s", argument,
						quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												   get_rel_name(relid))),
				 errdetail("%s", message),
				 errhint("Give each column a value of its type, e.g. {\"id\": 42, \"status\": \"won\"}.")));

	header = DatumGetHeapTupleHeader(build.result);
	tuple = palloc(sizeof(HeapTupleData));
	tuple->t_len = HeapTupleHeaderGetDatumLength(header);
	ItemPointerSetInvalid(&tuple->t_self);
	tuple->t_tableOid = relid;
	tuple->t_data = header;
	return tuple;
}

/*
 * automation_explain
 *		SQL: automation.explain(entity text, new_row jsonb, old_row jsonb)
 *		RETURNS TABLE (source, id, name, fires, reason, conditions).
 */
Datum
automation_explain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *entity;
	Jsonb	   *new_json = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	Jsonb	   *old_json = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	EntityCache *cache;
	HeapTuple	newtuple;
	HeapTuple	oldtuple;
	Relation	rel;
	TupleDesc	tupdesc;
	int			event;
	char	   *tenant = NULL;
	const char *viewer_tenant;
	RowState	row;
	FiringContext firing;
	bool		sees_all;
	bool		own_row;
	DecideRequest request;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("entity must not be null")));
	if (new_json == NULL && old_json == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("new_row and old_row must not both be null"),
				 errhint("Give new_row for an insert, both for an update, old_row alone for a delete.")));
	entity = text_to_cstring(PG_GETARG_TEXT_PP(0));
	cache = automation_get_entity_cache_by_name(entity);
	event = old_json == NULL ? EVENT_INSERT : new_json == NULL ? EVENT_DELETE : EVENT_UPDATE;

	InitMaterializedSRF(fcinfo, 0);
	rel = RelationIdGetRelation(cache->relid);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("the table of entity \"%s\" no longer exists", entity),
				 errhint("Unwatch the entity with automation.unwatch().")));
	tupdesc = CreateTupleDescCopy(RelationGetDescr(rel));
	RelationClose(rel);
	newtuple = row_from_jsonb(cache->relid, new_json, "new_row");
	oldtuple = row_from_jsonb(cache->relid, old_json, "old_row");
	/* the row building may have reloaded the cache */
	cache = automation_get_entity_cache(cache->relid);

	automation_row_init(&row, tupdesc, event, newtuple, oldtuple);
	/* the firing the trigger would build: its record and tenant */
	automation_firing_init(&firing, cache, event, newtuple, oldtuple, tupdesc);
	tenant = firing.tenant_id;

	/*
	 * Row-level security hides other tenants' definitions from everyone but
	 * the owner; explain hides them the same way.
	 */
	sees_all = automation_caller_sees_all();
	viewer_tenant = sees_all ? NULL : automation_caller_tenant();
	/*
	 * Cooldowns and breakers are read as the owner (enqueue.c): only for a
	 * row of the caller's own tenant (untenanted rows for a session without
	 * a tenant), and the cooldown reads only that tenant's firings, so the
	 * tenant written in the probe row cannot open another tenant's history.
	 */
	own_row = sees_all ||
		(viewer_tenant == NULL ? tenant == NULL
		 : tenant != NULL && strcmp(viewer_tenant, tenant) == 0);

	/* the trigger's own decision path, predicting (decide.c) */
	automation_cache_pin();
	memset(&request, 0, sizeof(request));
	request.mode = DECIDE_PREDICT;
	request.cache = cache;
	request.row = &row;
	request.firing = &firing;
	request.firing_ready = true;
	request.check_history = own_row;
	request.hide_other_tenants = !sees_all;
	request.viewer_tenant = viewer_tenant;
	automation_decide(&request);

	for (int d = 0; d < cache->ndefinitions; d++)
	{
		Decision   *decision = &request.decisions[d];
		Definition *definition = decision->definition;
		StringInfoData conditions;
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		if (decision->verdict == VERDICT_HIDDEN)
			continue;
		initStringInfo(&conditions);
		appendStringInfoChar(&conditions, '[');
		for (int c = 0; c < definition->nconditions; c++)
		{
			CompiledCondition *condition = &definition->conditions[c];
			ConditionResult *result = &decision->conditions[c];

			if (c > 0)
				appendStringInfoString(&conditions, ", ");
			appendStringInfoString(&conditions, "{\"field\": ");
			escape_json(&conditions, condition->field_label);
			appendStringInfoString(&conditions, ", \"operator\": ");
			escape_json(&conditions, condition->operator_label);
			appendStringInfoString(&conditions, ", \"value\": ");
			if (condition->value_label)
				escape_json(&conditions, condition->value_label);
			else
				appendStringInfoString(&conditions, "null");
			if (definition->is_rule)
				appendStringInfo(&conditions, ", \"group\": %d", condition->group);
			appendStringInfo(&conditions, ", \"holds\": %s, \"reason\": ",
							 result->holds ? "true" : "false");
			escape_json(&conditions, result->reason);
			appendStringInfoChar(&conditions, '}');
		}
		appendStringInfoChar(&conditions, ']');

		values[0] = CStringGetTextDatum(definition->is_rule ? "rule" : "workflow");
		values[1] = CStringGetTextDatum(definition->id);
		values[2] = CStringGetTextDatum(definition->name);
		values[3] = BoolGetDatum(decision->verdict == VERDICT_FIRES);
		values[4] = CStringGetTextDatum(decision->reason);
		values[5] = DirectFunctionCall1(jsonb_in, CStringGetDatum(conditions.data));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	/* active definitions the table no longer fits: skipped, and why */
	{
		ListCell   *lc;

		foreach(lc, cache->skipped)
		{
			SkippedDefinition *skipped = lfirst(lc);
			Definition *definition = skipped->definition;
			Datum		values[6];
			bool		nulls[6] = {false, false, false, false, false, false};

			if (!sees_all && definition->tenant_id != NULL &&
				(viewer_tenant == NULL || strcmp(viewer_tenant, definition->tenant_id) != 0))
				continue;
			values[0] = CStringGetTextDatum(definition->is_rule ? "rule" : "workflow");
			values[1] = CStringGetTextDatum(definition->id);
			values[2] = CStringGetTextDatum(definition->name);
			values[3] = BoolGetDatum(false);
			values[4] = CStringGetTextDatum(psprintf("skipped: %s", skipped->reason));
			values[5] = DirectFunctionCall1(jsonb_in, CStringGetDatum("[]"));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	automation_cache_unpin();
	return (Datum) 0;
}
