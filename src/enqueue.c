/*-------------------------------------------------------------------------
 *
 * enqueue.c
 *	  What a match does: loop guard, cooldown, circuit breaker, then one
 *	  automation.jobs row per action and an automation.firings row, in the
 *	  transaction of the change.
 *
 * Invariants:
 *	- Runs only for a definition that matched (automation_gate, called by
 *	  the decision path, decide.c); the no-match path never gets here, so it
 *	  costs no SPI call.
 *	- One sequence of gates for every mode: FIRE acts at each step, PREDICT
 *	  and COUNT ask the same questions of committed state and write nothing.
 *	- All SQL runs through SPI in an owner scope (owner.c: the extension
 *	  owner, a security-restricted operation, search_path pinned to
 *	  pg_catalog, pg_temp), with saved plans.
 *	- Code the writing role controls never runs in that scope: the row is
 *	  serialised (to_jsonb may call a cast to json of the row's types) and
 *	  merge tokens are rendered before the switch, as the writing role.
 *	- Apart from the breaker (shared memory, breaker.c) nothing here updates
 *	  a row that other firings share; last_triggered_at is derived from
 *	  automation.firings.
 *	- Wake-ups go through automation_wakeup_request() (wakeup.c): the
 *	  transaction never sends NOTIFY itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/value.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "automation.h"
#include "enqueue.h"
#include "owner.h"
#include "render.h"

static SPIPlanPtr firing_plan = NULL;
static SPIPlanPtr job_plan = NULL;
static SPIPlanPtr fired_plan = NULL;
static SPIPlanPtr cooldown_plan = NULL;

/*
 * a rule's firings for a record of a tenant within its cooldown ($1 rule,
 * $2 record, $3 hours, $4 tenant): record keys may be unique per tenant only.
 * automation._firing_settled (60_engine.sql: prune and the DELETE policy
 * firings_settled) restates the window in SQL: change both together.
 */
#define COOLDOWN_WINDOW \
	"FROM automation.firings WHERE rule_id = $1::uuid " \
	"AND md5(record_key) = md5($2) AND record_key = $2 " \
	"AND tenant_id IS NOT DISTINCT FROM $4 " \
	"AND outcome = 'fired' AND fired_at > now() - make_interval(hours => $3)"
static SPIPlanPtr trip_plan = NULL;
static SPIPlanPtr depth_alert_plan = NULL;

/*
 * prepare_saved
 *		Prepare and keep a plan once per backend.
 */
static SPIPlanPtr
prepare_saved(SPIPlanPtr *plan, const char *query, int nargs, Oid *argtypes)
{
	if (*plan == NULL || !SPI_plan_is_valid(*plan))
	{
		SPIPlanPtr	fresh = SPI_prepare(query, nargs, argtypes);

		if (fresh == NULL)
			elog(ERROR, "could not prepare automation query: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(fresh) != 0)
			elog(ERROR, "could not keep automation query plan");
		if (*plan != NULL)
			SPI_freeplan(*plan);
		*plan = fresh;
	}
	return *plan;
}

static Datum
text_or_null(const char *s, char *nulls, int i)
{
	if (s == NULL)
	{
		nulls[i] = 'n';
		return (Datum) 0;
	}
	return CStringGetTextDatum(s);
}

/*
 * record_firing
 *		One automation.firings row.
 */
static void
record_firing(Definition *definition, FiringContext *firing, const char *outcome)
{
	Oid			argtypes[8] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, INT4OID};
	Datum		values[8];
	char		nulls[8] = "        ";

	prepare_saved(&firing_plan,
				  "INSERT INTO automation.firings (source, workflow_id, rule_id, entity, "
				  "record_key, tenant_id, operation, outcome, depth) "
				  "VALUES (CASE WHEN $2 IS NULL THEN 'rule' ELSE 'workflow' END, $2, $3::uuid, "
				  "$1, $4, $5, $6, $7, $8)", 8, argtypes);
	values[0] = CStringGetTextDatum(firing->cache->entity);
	values[1] = text_or_null(definition->is_rule ? NULL : definition->id, nulls, 1);
	values[2] = text_or_null(definition->is_rule ? definition->id : NULL, nulls, 2);
	values[3] = text_or_null(firing->record_key, nulls, 3);
	values[4] = text_or_null(firing->tenant_id, nulls, 4);
	values[5] = CStringGetTextDatum(firing->operation);
	values[6] = CStringGetTextDatum(outcome);
	values[7] = Int32GetDatum(firing->depth);
	if (SPI_execute_plan(firing_plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record automation firing");
}

/*
 * row_jsonb
 *		The row as jsonb, or NULL: to_jsonb(row) straight from the tuple (no
 *		json text to parse again).  to_jsonb() reads its argument's type from
 *		the calling expression: enqueue_actions looks it up once per firing
 *		with one naming the row type.
 */
static Datum
row_jsonb(FmgrInfo *to_jsonb, HeapTuple tuple, TupleDesc tupdesc, char *nulls, int i)
{
	if (tuple == NULL)
	{
		nulls[i] = 'n';
		return (Datum) 0;
	}
	return FunctionCall1(to_jsonb, heap_copy_tuple_as_datum(tuple, tupdesc));
}

/*
 * without_columns
 *		The tuple with the columns marked in drop set to NULL.
 */
static HeapTuple
without_columns(HeapTuple tuple, TupleDesc tupdesc, const bool *drop)
{
	Datum	   *values = palloc(sizeof(Datum) * tupdesc->natts);
	bool	   *isnull = palloc(sizeof(bool) * tupdesc->natts);

	heap_deform_tuple(tuple, tupdesc, values, isnull);
	for (int a = 0; a < tupdesc->natts; a++)
		isnull[a] |= drop[a];
	return heap_form_tuple(tupdesc, values, isnull);
}

/*
 * row_jsonb_safe
 *		row_jsonb, for a row type with a json column (has_json, compiled
 *		once per definition by cache.c) in a subtransaction: a
 *		json value jsonb cannot hold ("\u0000", numbers beyond numeric's
 *		range) must not fail the write.  Then the row is serialised again
 *		with its json columns NULL (doc/reference.md, "Jobs and payload").
 */
typedef struct RowJsonb
{
	FmgrInfo   *to_jsonb;
	HeapTuple	tuple;
	TupleDesc	tupdesc;
	char	   *nulls;
	int			i;
	Datum		result;
} RowJsonb;

static void
row_jsonb_call(void *arg)
{
	RowJsonb   *r = arg;

	r->result = row_jsonb(r->to_jsonb, r->tuple, r->tupdesc, r->nulls, r->i);
}

static Datum
row_jsonb_safe(FmgrInfo *to_jsonb, HeapTuple tuple, TupleDesc tupdesc, bool has_json,
			   char *nulls, int i)
{
	RowJsonb	r = {to_jsonb, tuple, tupdesc, nulls, i, (Datum) 0};
	bool	   *json = NULL;

	if (tuple == NULL || !has_json)
		return row_jsonb(to_jsonb, tuple, tupdesc, nulls, i);
	if (automation_try(row_jsonb_call, &r, NULL))
		return r.result;
	json = palloc0(sizeof(bool) * tupdesc->natts);
	for (int a = 0; a < tupdesc->natts; a++)
		json[a] = !TupleDescAttr(tupdesc, a)->attisdropped &&	/* no type left */
			getBaseType(TupleDescAttr(tupdesc, a)->atttypid) == JSONOID;
	return row_jsonb(to_jsonb, without_columns(tuple, tupdesc, json), tupdesc, nulls, i);
}

/*
 * What the jobs of one firing carry that the writing role's code may compute:
 * the rows as jsonb and the rendered configs.  Built before the switch to
 * the owner (see file header).
 */
typedef struct FiringPayload
{
	Datum		new_row;
	Datum		old_row;
	char		row_nulls[2];
	Jsonb	  **configs;		/* one per action */
	Datum		omitted;		/* text[] of columns left out, or 0 */
} FiringPayload;

/*
 * without_large_values
 *		The tuple with every value larger than automation.payload_column_limit
 *		set to NULL (the tuple itself when none is), adding the columns'
 *		names to *omitted.  A payload is bounded: a 32 MB column would
 *		otherwise be copied into every job and to every worker.
 */
static HeapTuple
without_large_values(HeapTuple tuple, TupleDesc tupdesc, List **omitted)
{
	Size		limit = (Size) automation_payload_column_limit * 1024;
	bool	   *large = NULL;

	if (tuple == NULL || limit == 0)
		return tuple;
	for (int a = 0; a < tupdesc->natts; a++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, a);
		bool		null;
		Datum		value;

		if (attr->attisdropped || attr->attlen != -1)
			continue;
		value = heap_getattr(tuple, a + 1, tupdesc, &null);
		if (null || toast_raw_datum_size(value) <= limit)
			continue;
		if (large == NULL)
			large = palloc0(sizeof(bool) * tupdesc->natts);
		large[a] = true;
		if (!list_member(*omitted, makeString(NameStr(attr->attname))))
			*omitted = lappend(*omitted, makeString(pstrdup(NameStr(attr->attname))));
	}
	return large == NULL ? tuple : without_columns(tuple, tupdesc, large);
}

/*
 * chosen_columns
 *		The tuple projected onto the definition's payload_columns (a tuple
 *		of definition->payload_tupdesc, compiled by cache.c), or the tuple
 *		itself when the definition sends every column.  Only the chosen
 *		values are serialised: a column left out never reaches to_jsonb
 *		(nor a cast to json of its type), the size cap or the json
 *		fallback.
 */
static HeapTuple
chosen_columns(Definition *definition, HeapTuple tuple, TupleDesc tupdesc)
{
	Datum	   *values;
	bool	   *isnull;
	int			n = definition->npayload_columns;

	if (tuple == NULL || n < 0)
		return tuple;
	values = palloc(sizeof(Datum) * Max(n, 1));
	isnull = palloc(sizeof(bool) * Max(n, 1));
	for (int i = 0; i < n; i++)
		values[i] = heap_getattr(tuple, definition->payload_attnums[i], tupdesc, &isnull[i]);
	return heap_form_tuple(definition->payload_tupdesc, values, isnull);
}

/*
 * prepare_payload
 *		Serialise the rows and render every action's config, as the current
 *		(writing) role.
 */
static void
prepare_payload(FiringPayload *payload, Definition *definition, FiringContext *firing)
{
	FmgrInfo	to_jsonb;
	TupleDesc	tupdesc = definition->npayload_columns < 0 ? firing->tupdesc
		: definition->payload_tupdesc;

	payload->row_nulls[0] = payload->row_nulls[1] = ' ';
	fmgr_info(F_TO_JSONB, &to_jsonb);
	to_jsonb.fn_expr = (Node *) makeFuncExpr(F_TO_JSONB, JSONBOID,
											 list_make1(makeNullConst(tupdesc->tdtypeid, tupdesc->tdtypmod, InvalidOid)),
											 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	{
		List	   *omitted = NIL;
		HeapTuple	newtuple = chosen_columns(definition, firing->newtuple, firing->tupdesc);
		HeapTuple	oldtuple = chosen_columns(definition, firing->oldtuple, firing->tupdesc);

		newtuple = without_large_values(newtuple, tupdesc, &omitted);
		oldtuple = without_large_values(oldtuple, tupdesc, &omitted);
		payload->new_row = row_jsonb_safe(&to_jsonb, newtuple, tupdesc,
										  definition->payload_has_json, payload->row_nulls, 0);
		payload->old_row = row_jsonb_safe(&to_jsonb, oldtuple, tupdesc,
										  definition->payload_has_json, payload->row_nulls, 1);
		if (omitted != NIL)
		{
			Datum	   *names = palloc(sizeof(Datum) * list_length(omitted));
			int			n = 0;
			ListCell   *lc;

			foreach(lc, omitted)
				names[n++] = CStringGetTextDatum(strVal(lfirst(lc)));
			payload->omitted = PointerGetDatum(construct_array(names, n, TEXTOID, -1,
															   false, TYPALIGN_INT));
		}
	}
	payload->configs = palloc(sizeof(Jsonb *) * Max(definition->nactions, 1));
	for (int i = 0; i < definition->nactions; i++)
		payload->configs[i] = automation_render_config(&definition->actions[i],
													   definition, firing);
}

#define JOB_INSERT \
	"INSERT INTO automation.jobs (source, workflow_id, rule_id, action_type, " \
	"entity, record_key, tenant_id, payload, run_after, depth, run_as) " \
	"VALUES ($1, $2, $3::uuid, $4, $5, $6, $7, " \
	"jsonb_build_object('event', jsonb_build_object('operation', $8, " \
	"  'entity', $5, 'record_key', $6, 'at', now(), 'depth', $10, " \
	"  'source', $1, CASE WHEN $1 = 'workflow' THEN 'workflow_id' ELSE 'rule_id' END, " \
	"  coalesce($2, $3), 'name', $11, 'tenant_id', $7, 'definition_tenant_id', $16) " \
"  || CASE WHEN $17 IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('omitted_columns', $17) END, " \
	"  'config', $9, 'new', $12, 'old', $13), " \
	"now() + make_interval(mins => $14), $10, $15)"

/*
 * enqueue_actions
 *		The "fired" firing row and one job per action, with the payload
 *		prepared before the switch.
 */
static void
enqueue_actions(Definition *definition, FiringContext *firing, FiringPayload *payload)
{
	Oid			argtypes[17] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, JSONBOID, INT4OID, TEXTOID, JSONBOID, JSONBOID,
	INT4OID, TEXTOID, TEXTOID, TEXTARRAYOID};

	prepare_saved(&job_plan, JOB_INSERT, 17, argtypes);
	/* the firing row and the first job in one statement: one executor start */
	prepare_saved(&fired_plan,
				  "WITH firing AS (INSERT INTO automation.firings (source, workflow_id, "
				  "rule_id, entity, record_key, tenant_id, operation, outcome, depth) "
				  "VALUES ($1, $2, $3::uuid, $5, $6, $7, $8, 'fired', $10)) "
				  JOB_INSERT, 17, argtypes);

	for (int i = 0; i < definition->nactions; i++)
	{
		CompiledAction *action = &definition->actions[i];
		Datum		job_values[17];
		char		job_nulls[17];

		memset(job_nulls, ' ', sizeof(job_nulls));
		job_values[0] = CStringGetTextDatum(definition->is_rule ? "rule" : "workflow");
		job_values[1] = text_or_null(definition->is_rule ? NULL : definition->id, job_nulls, 1);
		job_values[2] = text_or_null(definition->is_rule ? definition->id : NULL, job_nulls, 2);
		job_values[3] = CStringGetTextDatum(action->action_type);
		job_values[4] = CStringGetTextDatum(firing->cache->entity);
		job_values[5] = text_or_null(firing->record_key, job_nulls, 5);
		job_values[6] = text_or_null(firing->tenant_id, job_nulls, 6);
		job_values[7] = CStringGetTextDatum(firing->operation);
		job_values[8] = JsonbPGetDatum(payload->configs[i]);
		job_values[9] = Int32GetDatum(firing->depth);
		job_values[10] = CStringGetTextDatum(definition->name);
		job_values[11] = payload->new_row;
		job_nulls[11] = payload->row_nulls[0];
		job_values[12] = payload->old_row;
		job_nulls[12] = payload->row_nulls[1];
		job_values[13] = Int32GetDatum(action->delay_minutes);
		job_values[14] = CStringGetTextDatum(definition->created_by);
		job_values[15] = text_or_null(definition->tenant_id, job_nulls, 15);
		job_values[16] = payload->omitted;
		job_nulls[16] = payload->omitted == (Datum) 0 ? 'n' : ' ';
		if (SPI_execute_plan(i == 0 ? fired_plan : job_plan, job_values, job_nulls,
							 false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not enqueue automation job");
		automation_wakeup_request(action->type);
	}
}

/*
 * in_cooldown
 *		A rule fired for this record within its cooldown window.
 */
static bool
in_cooldown(Definition *definition, FiringContext *firing)
{
	Datum		values[4];
	char		nulls[4] = "    ";

	if (definition->cooldown_hours <= 0 || firing->record_key == NULL)
		return false;
	prepare_saved(&cooldown_plan,
				  "SELECT 1 " COOLDOWN_WINDOW " LIMIT 1",
				  4, (Oid[]) {TEXTOID, TEXTOID, INT4OID, TEXTOID});
	values[0] = CStringGetTextDatum(definition->id);
	values[1] = CStringGetTextDatum(firing->record_key);
	values[2] = Int32GetDatum(definition->cooldown_hours);
	values[3] = text_or_null(firing->tenant_id, nulls, 3);
	if (SPI_execute_plan(cooldown_plan, values, nulls, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not check automation cooldown");
	return SPI_processed > 0;
}

/*
 * trip_breaker
 *		Disable the workflow and raise the alert (once per trip).
 */
static void
trip_breaker(Definition *definition, FiringContext *firing)
{
	Datum		values[3];
	char		nulls[3] = "   ";

	prepare_saved(&trip_plan,
				  "WITH disabled AS (UPDATE automation.workflows SET enabled = false, "
				  "  disabled_reason = 'circuit_breaker', updated_at = now() "
				  "  WHERE id = $1 RETURNING id) "
				  "SELECT automation._raise_alert('circuit_breaker', "
				  "  format('workflow %s reached its limit of %s firings today and was disabled', $2, $3), "
				  "  jsonb_build_object('max_triggers_per_day', $3), $1, NULL, NULL, "
				  "  (SELECT tenant_id FROM automation.workflows WHERE id = $1)) "
				  "FROM disabled",
				  3, (Oid[]) {TEXTOID, TEXTOID, INT4OID});
	values[0] = CStringGetTextDatum(definition->id);
	values[1] = CStringGetTextDatum(definition->name);
	values[2] = Int32GetDatum(definition->max_triggers_per_day);
	if (SPI_execute_plan(trip_plan, values, nulls, false, 0) < 0)
		elog(ERROR, "could not trip automation circuit breaker");
}

/*
 * depth_alert
 *		The loop guard stopped a chain of automation-caused changes.
 */
static void
depth_alert(Definition *definition, FiringContext *firing)
{
	Datum		values[6];
	char		nulls[6] = "      ";

	/* the alert belongs to the tenant of the row whose chain was stopped */
	prepare_saved(&depth_alert_plan,
				  "SELECT automation._raise_alert('depth_limit', "
				  "  format('%s %s stopped at depth %s (automation.max_depth = %s)', "
				  "    CASE WHEN $1 IS NULL THEN 'rule' ELSE 'workflow' END, $3, $4, $5), "
				  "  jsonb_build_object('depth', $4, 'max_depth', $5), $1, $2::uuid, NULL, $6)",
				  6, (Oid[]) {TEXTOID, TEXTOID, TEXTOID, INT4OID, INT4OID, TEXTOID});
	values[0] = text_or_null(definition->is_rule ? NULL : definition->id, nulls, 0);
	values[1] = text_or_null(definition->is_rule ? definition->id : NULL, nulls, 1);
	values[2] = CStringGetTextDatum(definition->name);
	values[3] = Int32GetDatum(firing->depth);
	values[4] = Int32GetDatum(automation_max_depth);
	values[5] = text_or_null(firing->tenant_id, nulls, 5);
	if (SPI_execute_plan(depth_alert_plan, values, nulls, false, 0) < 0)
		elog(ERROR, "could not raise automation depth alert");
}

/*
 * cooldown_until
 *		PREDICT's words for a cooldown in_cooldown() found: when it ends.
 */
static char *
cooldown_until(Definition *definition, FiringContext *firing, MemoryContext caller)
{
	Datum		values[4];
	char		nulls[4] = "    ";
	bool		isnull;

	values[0] = CStringGetTextDatum(definition->id);
	values[1] = CStringGetTextDatum(firing->record_key);
	values[2] = Int32GetDatum(definition->cooldown_hours);
	values[3] = text_or_null(firing->tenant_id, nulls, 3);
	if (SPI_execute_with_args("SELECT automation._iso(max(fired_at) + make_interval(hours => $3)) "
							  COOLDOWN_WINDOW,
							  4, (Oid[]) {TEXTOID, TEXTOID, INT4OID, TEXTOID}, values, nulls,
							  true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not check automation cooldown");
	SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? NULL : MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0],
																	SPI_tuptable->tupdesc, 1));
}

/*
 * gate_one
 *		The steps after a match, in order — loop guard, cooldown (rules),
 *		circuit breaker (workflows), then the jobs — for one matched
 *		definition, inside the owner scope.  FIRE acts at each step (records
 *		the firing's outcome, raises the alert, reserves the breaker slot,
 *		enqueues); PREDICT and COUNT ask the same questions of committed
 *		state and change nothing; PREDICT says why in *reason (the caller's
 *		memory).  Committed state: a concurrent transaction can still change
 *		a prediction.
 */
static Verdict
gate_one(Definition *definition, FiringContext *firing, DecideMode mode,
		 FiringPayload *payload, char **reason, MemoryContext caller)
{
	bool		fire = mode == DECIDE_FIRE;

	/* loop guard */
	if (firing->depth > automation_max_depth)
	{
		if (fire)
		{
			record_firing(definition, firing, "depth_limit");
			depth_alert(definition, firing);
		}
		else if (reason != NULL)
			*reason = psprintf("the conditions hold, but the loop guard stops it: depth %d is over automation.max_depth = %d",
							   firing->depth, automation_max_depth);
		return VERDICT_DEPTH_LIMIT;
	}
	/* a rule's cooldown for this record */
	if (definition->is_rule && in_cooldown(definition, firing))
	{
		if (fire)
			record_firing(definition, firing, "cooldown");
		else if (reason != NULL)
			*reason = psprintf("the conditions hold, but the rule is in cooldown for record \"%s\" until %s (cooldown_hours %d)",
							   firing->record_key, cooldown_until(definition, firing, caller),
							   definition->cooldown_hours);
		return VERDICT_COOLDOWN;
	}
	/* a workflow's circuit breaker */
	if (!definition->is_rule)
	{
		if (fire)
		{
			bool		trip = false;

			if (!automation_breaker_reserve(definition->id,
											definition->max_triggers_per_day, &trip))
			{
				record_firing(definition, firing, "circuit_breaker");
				if (trip)
					trip_breaker(definition, firing);
				return VERDICT_BREAKER;
			}
		}
		else
		{
			int32		used = automation_breaker_used(definition->id);

			if (used >= definition->max_triggers_per_day)
			{
				if (reason != NULL)
					*reason = psprintf("the conditions hold, but the circuit breaker has no firing left today (%d of %d taken)",
									   used, definition->max_triggers_per_day);
				return VERDICT_BREAKER;
			}
		}
	}
	/* the jobs */
	if (fire)
	{
		if (definition->nactions > 0)
			enqueue_actions(definition, firing, payload);
		else
			record_firing(definition, firing, "fired");
	}
	return VERDICT_FIRES;
}

/*
 * automation_gate
 *		Take the matched definitions of one row event, in order, through
 *		gate_one.  FIRE prepares the payloads first, as the writing role
 *		(file header); then one owner scope serves them all (reads as the
 *		owner too, so the caller's row-level security does not hide firings
 *		of other tenants that count).  verdicts[i] gets each outcome;
 *		reasons (PREDICT, may be NULL) why one would not fire.
 */
void
automation_gate(Definition **matched, int nmatched, FiringContext *firing,
				DecideMode mode, Verdict *verdicts, char **reasons)
{
	FiringPayload *payloads = NULL;
	MemoryContext caller = CurrentMemoryContext;
	OwnerScope	owner;

	if (mode == DECIDE_FIRE)
	{
		/*
		 * As the writing role (file header), or as firing->payload_role:
		 * enrollment's "writer" is whoever enrolls, and a cast to json of a
		 * column's type is the table owner's code, never to run with the
		 * enrolling role's rights (doc/redteam-0.4.0.md, R1).
		 */
		OwnerScope	as_role;
		bool		switched = OidIsValid(firing->payload_role) &&
			firing->payload_role != GetUserId();

		if (switched)
		{
			automation_role_enter(&as_role, firing->payload_role, "pg_catalog, pg_temp");
			MemoryContextSwitchTo(caller);
		}
		payloads = palloc0(sizeof(FiringPayload) * nmatched);
		for (int i = 0; i < nmatched; i++)
			if (firing->depth <= automation_max_depth && matched[i]->nactions > 0)
				prepare_payload(&payloads[i], matched[i], firing);
		if (switched)
			automation_owner_leave(&as_role);
	}

	automation_owner_enter(&owner);
	for (int i = 0; i < nmatched; i++)
		verdicts[i] = gate_one(matched[i], firing, mode,
							   payloads != NULL ? &payloads[i] : NULL,
							   reasons != NULL ? &reasons[i] : NULL, caller);
	automation_owner_leave(&owner);
}

/*
 * automation_firing_init
 *		The firing of a row event: its record key and tenant read from the
 *		changed row (OLD for a delete), at the session's depth.  Built by
 *		the decision path (decide.c) for every mode, so all see the same
 *		record.
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
	firing->operation = event == EVENT_INSERT ? "INSERT" : event == EVENT_UPDATE ? "UPDATE" : "DELETE";
	firing->payload_role = InvalidOid;
}
