/*-------------------------------------------------------------------------
 *
 * backtest.c
 *	  automation.backtest() and enrollment ("enroll_existing": true): one
 *	  definition evaluated over the rows its entity holds now.
 *
 * Invariants:
 *	- The rows are read by one query run as the caller (its privileges, the
 *	  table's row-level security), through a DestReceiver: each row is
 *	  evaluated in C straight from the executor's slot, with the trigger's
 *	  compiled evaluator; no per-row SQL, no JSON, no copy.  Only the
 *	  columns the definition reads (and the key and tenant) are fetched;
 *	  the others are NULL placeholders, so a slot's attribute numbers are
 *	  the table's.
 *	- "Matches as a state": every row is evaluated as an INSERT of itself
 *	  (changed_to X holds when the value is X, changed when it is not NULL,
 *	  changed_from never), whatever the rule's trigger type.
 *	- Rows counted: those the caller may see (the table's privileges and
 *	  row-level security); of a tenant definition, only its tenant's; and,
 *	  for a caller subject to automation's row-level security that acts for
 *	  a tenant (automation._tenant()), only that tenant's.  Cooldowns are
 *	  read for the counted rows, but, like explain(), a caller reads only
 *	  its own tenant's history: without a tenant, its rows of a tenant are
 *	  not counted as in cooldown; acting for a tenant, the untenanted rows
 *	  of an entity without a tenant column are not either.
 *	- Backtest writes nothing: the id form only reads; the body form creates
 *	  the definition in a subtransaction (so it is validated exactly as
 *	  create_workflow / create_rule validate it, with their errors), compiles
 *	  and evaluates it there, and rolls the subtransaction back.  Cooldowns
 *	  and breaker counts are read as the owner (owner scope), never written.
 *	- One engine: each row goes through automation_decide() (decide.c), the
 *	  trigger's own decision path, on an entity holding just this
 *	  definition: COUNT for backtest (the cooldown gate asked for rules with
 *	  a cooldown), FIRE for enrollment (loop guard, cooldown, breaker, jobs,
 *	  firings as for a write, operation ENROLL, in the caller's
 *	  transaction).  Enrollment follows a change of the definition in the
 *	  same transaction and stops at the first matched row that does not
 *	  fire but for a cooldown: the breaker (its trip disables the workflow
 *	  and raises the alert) or the loop guard.
 *	- Cancellable: CHECK_FOR_INTERRUPTS for every row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "tcop/dest.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/typcache.h"

#include "automation.h"
#include "cache.h"
#include "decide.h"
#include "owner.h"

PG_FUNCTION_INFO_V1(automation_backtest);
PG_FUNCTION_INFO_V1(automation_enroll);

#define SAMPLE_MAX 1000
#define ROWS_PER_RESET 1024
/* ... or sooner, once a row's detoasted values pass this (R7) */
#define ROW_CONTEXT_MAX (1024 * 1024)

/* one row of the sample: its key (for key order) and tenant */
typedef struct SampleRow
{
	Datum		key;
	bool		key_null;
	char	   *tenant;
} SampleRow;

/* The scan of one definition: a DestReceiver and what it counts. */
typedef struct DefinitionScan
{
	DestReceiver pub;			/* first: the executor sees a DestReceiver */
	EntityCache *cache;			/* the definition, compiled alone */
	Definition *definition;
	TupleDesc	tupdesc;		/* the table's (dropped columns included) */
	MemoryContext row_context;	/* reset every ROWS_PER_RESET rows */
	MemoryContext result_context;
	int			rows_in_context;

	/* which rows count */
	bool		tenant_needed;	/* a filter below applies */
	const char *definition_tenant;	/* NULL: global definition */
	bool		viewer_filter;	/* only the caller's tenant's rows */
	const char *viewer_tenant;
	bool		history_own_only;	/* cooldowns of the caller's tenant's rows
									 * only (untenanted rows for a caller
									 * without a tenant) */
	const char *history_tenant;
	Oid			tenant_type;
	Oid			key_type;
	Oid			key_collation;
	int16		key_typlen;
	bool		key_byval;
	FmgrInfo	key_compare;
	bool		has_key_compare;

	/* what is done with a matched row */
	bool		check_cooldown; /* a rule with a cooldown */
	bool		enroll;
	Oid			payload_role;	/* enrollment: the table's owner */

	/* results */
	int64		evaluated;
	int64		matched;
	int64		in_cooldown;
	int64		fired;
	int64		cooldown_outcomes;
	const char *stopped;		/* enrollment: the outcome that stopped it */
	int			sample_size;
	int			nsample;
	SampleRow  *sample;			/* max-heap by key while scanning */
} DefinitionScan;

/* never read: RowState reads NEW from the slot, but wants a tuple there */
static HeapTupleData slot_row;

/*
 * key_compare
 *		Key order: the key type's btree order (its column's collation), NULL
 *		last; keys of a type without one compare as text.
 */
static int
key_compare(DefinitionScan *scan, const SampleRow *a, const SampleRow *b)
{
	if (a->key_null || b->key_null)
		return (int) a->key_null - (int) b->key_null;
	if (scan->has_key_compare)
		return DatumGetInt32(FunctionCall2Coll(&scan->key_compare, scan->key_collation,
											   a->key, b->key));
	return strcmp(automation_datum_text(a->key, scan->key_type, false),
				  automation_datum_text(b->key, scan->key_type, false));
}

static int
sample_row_compare(const void *a, const void *b, void *arg)
{
	return key_compare((DefinitionScan *) arg, (const SampleRow *) a, (const SampleRow *) b);
}

/*
 * sample_offer
 *		Keep the sample_size smallest keys: a max-heap, its largest key at
 *		the root.
 */
static void
sample_offer(DefinitionScan *scan, Datum key, bool key_null, const char *tenant)
{
	SampleRow	row = {key, key_null, NULL};
	SampleRow  *heap = scan->sample;
	MemoryContext old;
	int			i;

	if (scan->sample_size == 0)
		return;
	if (scan->nsample == scan->sample_size &&
		key_compare(scan, &row, &heap[0]) >= 0)
		return;

	old = MemoryContextSwitchTo(scan->result_context);
	row.key = key_null ? (Datum) 0 : datumCopy(key, scan->key_byval, scan->key_typlen);
	row.tenant = tenant ? pstrdup(tenant) : NULL;
	MemoryContextSwitchTo(old);

	if (scan->nsample < scan->sample_size)
	{
		/* sift up */
		i = scan->nsample++;
		while (i > 0 && key_compare(scan, &heap[(i - 1) / 2], &row) < 0)
		{
			heap[i] = heap[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		heap[i] = row;
		return;
	}
	/* replace the root, sift down */
	if (!heap[0].key_null && !scan->key_byval)
		pfree(DatumGetPointer(heap[0].key));
	if (heap[0].tenant)
		pfree(heap[0].tenant);
	i = 0;
	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= scan->nsample)
			break;
		if (child + 1 < scan->nsample && key_compare(scan, &heap[child + 1], &heap[child]) > 0)
			child++;
		if (key_compare(scan, &heap[child], &row) <= 0)
			break;
		heap[i] = heap[child];
		i = child;
	}
	heap[i] = row;
}

/*
 * row_tenant
 *		The row's tenant as the trigger reads it (trigger.c), or NULL.
 */
static char *
row_tenant(DefinitionScan *scan, TupleTableSlot *slot)
{
	bool		isnull;
	Datum		value;

	if (scan->cache->tenant_attnum <= 0)
		return NULL;
	value = slot_getattr(slot, scan->cache->tenant_attnum, &isnull);
	if (isnull)
		return NULL;
	return automation_datum_text(value, scan->tenant_type, scan->cache->tenant_styled);
}

static bool
same_tenant(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/*
 * row_firing
 *		The firing of one counted row as the decision path reads it (COUNT:
 *		no tuple is formed): record key and tenant as the trigger prints
 *		them (rowtext.c).  The key is printed only when a gate needs it.
 */
static void
row_firing(DefinitionScan *scan, TupleTableSlot *slot, FiringContext *firing,
		   char *tenant, bool with_key)
{
	bool		key_null;
	Datum		key;

	memset(firing, 0, sizeof(*firing));
	firing->cache = scan->cache;
	firing->event = EVENT_INSERT;
	firing->operation = "INSERT";
	firing->tupdesc = scan->tupdesc;
	firing->tenant_id = tenant;
	firing->depth = automation_current_depth;
	if (with_key)
	{
		key = slot_getattr(slot, scan->cache->key_attnum, &key_null);
		firing->record_key = key_null ? NULL
			: automation_datum_text(key, scan->key_type, scan->cache->key_styled);
	}
}

/*
 * enroll_row
 *		Fire the definition for one row as the trigger fires a write:
 *		automation_decide in FIRE mode.  False when enrollment must stop
 *		(file header).
 */
static bool
enroll_row(DefinitionScan *scan, TupleTableSlot *slot, RowState *row, FiringContext *firing)
{
	int			natts = scan->tupdesc->natts;
	bool	   *nulls = palloc(sizeof(bool) * natts);
	HeapTuple	tuple;
	DecideRequest req;

	slot_getallattrs(slot);
	for (int a = 0; a < natts; a++)
		nulls[a] = slot->tts_isnull[a] || TupleDescAttr(scan->tupdesc, a)->attisdropped;
	tuple = heap_form_tuple(scan->tupdesc, slot->tts_values, nulls);
	tuple->t_tableOid = scan->cache->relid;
	/* the trigger's firing of an insert of the row, operation ENROLL */
	automation_firing_init(firing, scan->cache, EVENT_INSERT, tuple, NULL, scan->tupdesc);
	firing->operation = "ENROLL";
	/* the row is serialised as the table's owner, not the enrolling role */
	firing->payload_role = scan->payload_role;
	automation_row_init(row, scan->tupdesc, EVENT_INSERT, tuple, NULL);

	memset(&req, 0, sizeof(req));
	req.mode = DECIDE_FIRE;
	req.cache = scan->cache;
	req.row = row;
	req.firing = firing;
	req.firing_ready = true;
	automation_decide(&req);
	if (req.nmatched == 0)
		return true;
	scan->matched++;
	if (req.nfired > 0)
	{
		scan->fired++;
		return true;
	}
	/* matched, not fired: a rule's cooldown, or a gate that refuses every row */
	if (firing->depth > automation_max_depth)
		scan->stopped = "depth_limit";
	else if (!scan->definition->is_rule)
		scan->stopped = "circuit_breaker";
	else
	{
		scan->cooldown_outcomes++;
		return true;
	}
	return false;
}

/*
 * scan_receive
 *		One row of the table: count it, take it through the decision path.
 */
static bool
scan_receive(TupleTableSlot *slot, DestReceiver *self)
{
	DefinitionScan *scan = (DefinitionScan *) self;
	MemoryContext old;
	RowState	row;
	FiringContext firing;
	DecideRequest req;
	char	   *tenant = NULL;
	bool		go_on = true;

	CHECK_FOR_INTERRUPTS();
	old = MemoryContextSwitchTo(scan->row_context);

	if (scan->tenant_needed)
	{
		tenant = row_tenant(scan, slot);
		/*
		 * Not counted: the rows of tenants other than the caller's, and of
		 * a tenant definition, the rows of other tenants (which the
		 * decision path would refuse).
		 */
		if (scan->viewer_filter && !same_tenant(scan->viewer_tenant, tenant))
			goto done;
		if (scan->definition_tenant != NULL && !same_tenant(scan->definition_tenant, tenant))
			goto done;
	}
	scan->evaluated++;

	if (scan->enroll)
	{
		go_on = enroll_row(scan, slot, &row, &firing);
		goto done;
	}
	row_firing(scan, slot, &firing, tenant, scan->check_cooldown);

	automation_row_init(&row, scan->tupdesc, EVENT_INSERT, &slot_row, NULL);
	automation_row_use_slots(&row, slot, NULL);
	memset(&req, 0, sizeof(req));
	req.mode = DECIDE_COUNT;
	req.cache = scan->cache;
	req.row = &row;
	req.firing = &firing;
	req.firing_ready = true;
	req.check_history = scan->check_cooldown &&
		(!scan->history_own_only || same_tenant(scan->history_tenant, tenant));
	automation_decide(&req);
	if (req.nmatched == 0)
		goto done;
	scan->matched++;
	if (req.decisions[0].verdict == VERDICT_COOLDOWN)
		scan->in_cooldown++;
	{
		bool		key_null;
		Datum		key = slot_getattr(slot, scan->cache->key_attnum, &key_null);

		if (!scan->tenant_needed)
			tenant = row_tenant(scan, slot);
		sample_offer(scan, key, key_null, tenant);
	}

done:
	MemoryContextSwitchTo(old);
	/*
	 * Every ROWS_PER_RESET rows, or as soon as the context holds more than
	 * ROW_CONTEXT_MAX: a row's jsonb or text is detoasted here, and 1024
	 * rows of 2 MB documents took 2 GB (doc/redteam-0.4.0.md, R7).
	 */
	if (++scan->rows_in_context >= ROWS_PER_RESET ||
		MemoryContextMemAllocated(scan->row_context, true) > ROW_CONTEXT_MAX)
	{
		MemoryContextReset(scan->row_context);
		scan->rows_in_context = 0;
	}
	return go_on;				/* false: the executor stops */
}

static void
scan_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
scan_shutdown(DestReceiver *self)
{
}

static void
scan_destroy(DestReceiver *self)
{
}

/*
 * scan_definition
 *		Evaluate the compiled definition over the table's rows as the caller
 *		(see the file header), enrolling each match when scan->enroll.
 */
static void
scan_definition(DefinitionScan *scan)
{
	EntityCache *cache = scan->cache;
	Definition *definition = scan->definition;
	Relation	rel;
	bool	   *needed;
	StringInfoData query;
	SPIExecuteOptions options;
	char		relkind;
	int			rc;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nest_level;

	rel = RelationIdGetRelation(cache->relid);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("the table of entity \"%s\" no longer exists", cache->entity),
				 errhint("Unwatch the entity with automation.unwatch().")));
	scan->tupdesc = CreateTupleDescCopy(RelationGetDescr(rel));
	relkind = rel->rd_rel->relkind;
	RelationClose(rel);

	if (cache->key_attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the key column of entity \"%s\" no longer exists", cache->entity),
				 errhint("Watch the table again with automation.watch().")));
	/* the columns to fetch: key, tenant, what the conditions read */
	needed = palloc0(sizeof(bool) * (scan->tupdesc->natts + 1));
	needed[cache->key_attnum] = true;
	if (cache->tenant_attnum > 0)
		needed[cache->tenant_attnum] = true;
	for (int c = 0; c < definition->nconditions; c++)
		needed[definition->conditions[c].attnum] = true;

	initStringInfo(&query);
	appendStringInfoString(&query, "SELECT ");
	for (int a = 1; a <= scan->tupdesc->natts; a++)
	{
		Form_pg_attribute attr = TupleDescAttr(scan->tupdesc, a - 1);

		if (a > 1)
			appendStringInfoString(&query, ", ");
		if (!attr->attisdropped && (needed[a] || scan->enroll))
			appendStringInfoString(&query, quote_identifier(NameStr(attr->attname)));
		else
			appendStringInfoString(&query, "NULL");
	}
	/* a partitioned table's rows are its partitions'; an inheritance
	 * parent's trigger does not fire for its children's rows */
	appendStringInfo(&query, " FROM %s%s",
					 relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(cache->relid)),
												get_rel_name(cache->relid)));

	scan->key_type = TupleDescAttr(scan->tupdesc, cache->key_attnum - 1)->atttypid;
	scan->key_collation = TupleDescAttr(scan->tupdesc, cache->key_attnum - 1)->attcollation;
	get_typlenbyval(scan->key_type, &scan->key_typlen, &scan->key_byval);
	{
		TypeCacheEntry *typentry = lookup_type_cache(scan->key_type, TYPECACHE_CMP_PROC_FINFO);

		scan->has_key_compare = OidIsValid(typentry->cmp_proc_finfo.fn_oid);
		if (scan->has_key_compare)
			fmgr_info_copy(&scan->key_compare, &typentry->cmp_proc_finfo, CurrentMemoryContext);
	}
	if (cache->tenant_attnum > 0)
		scan->tenant_type = TupleDescAttr(scan->tupdesc, cache->tenant_attnum - 1)->atttypid;

	/* which rows count (file header) */
	scan->definition_tenant = definition->tenant_id;
	if (!automation_caller_sees_all())
	{
		/*
		 * A caller reads only its own tenant's history (explain.c): the
		 * global tenant no tenant's, a tenant not the untenanted rows' of an
		 * entity without a tenant column either (doc/redteam-0.4.0.md, R3).
		 */
		scan->history_own_only = true;
		scan->history_tenant = automation_caller_tenant();
		if (cache->tenant_attnum > 0)
		{
			scan->viewer_tenant = scan->history_tenant;
			scan->viewer_filter = scan->viewer_tenant != NULL;
		}
	}
	/* enrollment meets the cooldown as a firing does */
	scan->check_cooldown = !scan->enroll && definition->is_rule &&
		definition->cooldown_hours > 0;
	/* the row's tenant: to filter, and for cooldowns and firings (per tenant) */
	scan->tenant_needed = cache->tenant_attnum > 0 &&
		(scan->definition_tenant != NULL || scan->viewer_filter ||
		 scan->check_cooldown || scan->enroll);
	if (cache->tenant_attnum <= 0 && scan->definition_tenant != NULL)
	{
		/* a tenant definition on an entity without tenants: the trigger
		 * fires it for no row */
		return;
	}

	scan->row_context = AllocSetContextCreate(CurrentMemoryContext, "automation backtest row",
											  ALLOCSET_DEFAULT_SIZES);
	scan->result_context = CurrentMemoryContext;
	scan->sample = palloc(sizeof(SampleRow) * Max(scan->sample_size, 1));
	scan->pub.receiveSlot = scan_receive;
	scan->pub.rStartup = scan_startup;
	scan->pub.rShutdown = scan_shutdown;
	scan->pub.rDestroy = scan_destroy;
	scan->pub.mydest = DestNone;

	memset(&options, 0, sizeof(options));
	options.read_only = !scan->enroll;
	options.dest = &scan->pub;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * The scan runs code the table's owner controls (row-level security
	 * policies, a column type's functions) as the caller: as a
	 * security-restricted operation, as core runs index expressions, so
	 * that code can neither SET ROLE / RESET ROLE (back to a pooled
	 * session's login role: automation-api) nor leave a setting behind
	 * (its GUC nest level is undone).  doc/redteam-api-0.4.0.md, A1.
	 * Transaction abort restores both on error.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(save_userid, save_sec_context | SECURITY_RESTRICTED_OPERATION);
	save_nest_level = NewGUCNestLevel();
	rc = SPI_execute_extended(query.data, &options);
	AtEOXact_GUC(false, save_nest_level);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	/* SPI answers SPI_OK_UTILITY for a SELECT sent to a DestNone receiver */
	if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
		elog(ERROR, "automation backtest query failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	MemoryContextDelete(scan->row_context);
	scan->row_context = NULL;
}

/*
 * definition_relid
 *		The watched table of workflow or rule *id, looked up as the caller:
 *		a definition the caller may not see is not found (P0002, from
 *		automation._workflow_get / _rule_get).  *id becomes the id as
 *		stored (a rule's uuid in its canonical spelling).
 */
static Oid
definition_relid(bool is_rule, char **id)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		values[1];
	Oid			relid = InvalidOid;
	char	   *entity = NULL;
	bool		isnull;

	values[0] = CStringGetTextDatum(*id);
	SPI_connect();
	if (SPI_execute_with_args(is_rule
							  ? "SELECT e.relation::pg_catalog.oid, r.entity_type, r.id::pg_catalog.text "
							  "FROM automation._rule_get($1::uuid, false) r "
							  "LEFT JOIN automation.entities e ON e.name OPERATOR(pg_catalog.=) r.entity_type"
							  : "SELECT e.relation::pg_catalog.oid, w.condition_entity, w.id "
							  "FROM automation._workflow_get($1, false) w "
							  "LEFT JOIN automation.entities e ON e.name OPERATOR(pg_catalog.=) w.condition_entity",
							  1, (Oid[]) {TEXTOID}, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not look up automation definition %s", *id);
	*id = MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3));
	relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
	{
		entity = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("entity \"%s\" is not watched", entity ? entity : ""),
				 errhint("Watch its table first with automation.watch().")));
	}
	SPI_finish();
	return relid;
}

/*
 * is_uuid
 *		Does id read as a uuid (8-4-4-4-12 hex digits, or 32 in a row)?
 */
static bool
is_uuid(const char *id)
{
	int			digits = 0;

	for (const char *p = id; *p; p++)
	{
		if (isxdigit((unsigned char) *p))
			digits++;
		else if (*p != '-' && *p != '{' && *p != '}')
			return false;
	}
	return digits == 32 && strlen(id) <= 38;
}

/*
 * compile
 *		The definition compiled alone (cache.c), or an error when it no
 *		longer fits its table.
 */
static Definition *
compile(DefinitionScan *scan, bool is_rule, char *id)
{
	Oid			relid = definition_relid(is_rule, &id);
	EntityCache *cache = automation_compile_definition(relid, id, CurrentMemoryContext);

	scan->cache = cache;
	if (!cache->watched)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("the table of %s %s is no longer watched", is_rule ? "rule" : "workflow", id)));
	if (cache->ndefinitions == 1)
		scan->definition = cache->definitions[0];
	else if (cache->skipped != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s %s does not fit its table: %s", is_rule ? "rule" : "workflow", id,
						((SkippedDefinition *) linitial(cache->skipped))->reason),
				 errhint("Change the definition or the table; the trigger skips it too.")));
	else
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s %s has no condition or no action", is_rule ? "rule" : "workflow", id)));
	/*
	 * As a state: every row is evaluated as its own INSERT (file header),
	 * whatever the rule's trigger type.  The candidate index of an entity of
	 * one definition files it under "always" for every event: exact, and a
	 * probe per row would cost more than the evaluation it could save.
	 */
	scan->definition->event_mask |= EVENT_INSERT;
	{
		MemoryContext old = MemoryContextSwitchTo(cache->context);

		memset(&cache->index, 0, sizeof(cache->index));
		for (int e = 0; e < lengthof(cache->index.events); e++)
			cache->index.events[e].always = list_make1_int(0);
		MemoryContextSwitchTo(old);
	}
	return scan->definition;
}

/*
 * backtest_result
 *		{"evaluated", "matched", "sample": [{"record_key", "tenant_id"}],
 *		"in_cooldown", "would_trip_breaker"}
 */
static Jsonb *
backtest_result(DefinitionScan *scan, bool would_trip)
{
	StringInfoData out;

	if (scan->nsample > 1)
		qsort_arg(scan->sample, scan->nsample, sizeof(SampleRow), sample_row_compare, scan);
	initStringInfo(&out);
	appendStringInfo(&out, "{\"evaluated\": " INT64_FORMAT ", \"matched\": " INT64_FORMAT ", \"sample\": [",
					 scan->evaluated, scan->matched);
	for (int i = 0; i < scan->nsample; i++)
	{
		SampleRow  *row = &scan->sample[i];

		appendStringInfoString(&out, i > 0 ? ", {\"record_key\": " : "{\"record_key\": ");
		if (row->key_null)
			appendStringInfoString(&out, "null");
		else
			escape_json(&out, automation_datum_text(row->key, scan->key_type,
													scan->cache->key_styled));
		appendStringInfoString(&out, ", \"tenant_id\": ");
		if (row->tenant)
			escape_json(&out, row->tenant);
		else
			appendStringInfoString(&out, "null");
		appendStringInfoChar(&out, '}');
	}
	appendStringInfo(&out, "], \"in_cooldown\": " INT64_FORMAT ", \"would_trip_breaker\": %s}",
					 scan->in_cooldown, would_trip ? "true" : "false");
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}

/*
 * backtest_definition
 *		Backtest workflow or rule id (committed, or created by this
 *		transaction).
 */
static Jsonb *
backtest_definition(bool is_rule, char *id, int sample)
{
	DefinitionScan	   *scan = palloc0(sizeof(DefinitionScan));
	Definition *definition;
	bool		would_trip = false;
	Jsonb	   *result;

	scan->sample_size = sample;
	definition = compile(scan, is_rule, id);
	scan_definition(scan);

	/* firing every match today: does the breaker refuse one (breaker.c)? */
	if (!definition->is_rule && scan->matched > 0)
	{
		OwnerScope	owner;
		int32		used;

		automation_owner_enter(&owner);
		used = automation_breaker_used(definition->id);
		automation_owner_leave(&owner);
		would_trip = (int64) used + scan->matched > definition->max_triggers_per_day;
	}
	result = backtest_result(scan, would_trip);
	MemoryContextDelete(scan->cache->context);
	return result;
}

/*
 * body_kind
 *		Is a body a create_workflow body (true) or a create_rule body?
 */
static pg_noinline bool
body_is_rule(Jsonb *body)
{
	static const char *const workflow_keys[] = {"condition_entity", "condition_field",
	"condition_operator", "condition_value", "action_config", "max_triggers_per_day", "enabled"};
	static const char *const rule_keys[] = {"entity_type", "trigger_type", "conditions",
	"actions", "is_active", "priority", "cooldown_hours", "stop_subsequent_rules"};
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken token;
	bool		workflow = false;
	bool		rule = false;

	if (!JB_ROOT_IS_OBJECT(body))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("definition must be a JSON object"),
				 errdetail("Got: %s.", JsonbToCString(NULL, &body->root, 60)),
				 errhint("Pass a create_workflow or create_rule body.")));
	it = JsonbIteratorInit(&body->root);
	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (token != WJB_KEY)
			continue;
		for (int i = 0; i < lengthof(workflow_keys); i++)
			workflow |= v.val.string.len == strlen(workflow_keys[i]) &&
				memcmp(v.val.string.val, workflow_keys[i], v.val.string.len) == 0;
		for (int i = 0; i < lengthof(rule_keys); i++)
			rule |= v.val.string.len == strlen(rule_keys[i]) &&
				memcmp(v.val.string.val, rule_keys[i], v.val.string.len) == 0;
		/* form fields: conditions[0][operator] */
		rule |= memchr(v.val.string.val, '[', v.val.string.len) != NULL;
	}
	if (workflow)
		return false;
	if (rule)
		return true;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("definition is neither a create_workflow nor a create_rule body"),
			 errdetail("It has none of the keys condition_entity, entity_type, conditions."),
			 errhint("Pass the body you would pass to automation.create_workflow or automation.create_rule.")));
	return false;
}

/*
 * create_as_caller
 *		create_workflow(body) or create_rule(body) as the caller; the new
 *		definition's id.
 */
static char *
create_as_caller(bool is_rule, Jsonb *body)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		values[1] = {JsonbPGetDatum(body)};
	char	   *id;

	SPI_connect();
	if (SPI_execute_with_args(is_rule ? "SELECT automation.create_rule($1) ->> 'id'"
							  : "SELECT automation.create_workflow($1) ->> 'id'",
							  1, (Oid[]) {JSONBOID}, values, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not create the definition to backtest");
	id = MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	SPI_finish();
	return id;
}

/*
 * backtest_body
 *		Create the definition in a subtransaction, backtest it there, roll
 *		the subtransaction back (file header).  An error rolls it back too
 *		and is raised as it was (the validation's SQLSTATE and message).
 */
static Jsonb *
backtest_body(Jsonb *given, int sample)
{
	const bool	is_rule = body_is_rule(given);
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Jsonb	   *volatile result = NULL;

	/* a backtest never enrolls */
	Jsonb	   *const body = DatumGetJsonbP(DirectFunctionCall2(jsonb_delete, JsonbPGetDatum(given),
																CStringGetTextDatum("enroll_existing")));

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		char	   *id = create_as_caller(is_rule, body);

		CommandCounterIncrement();
		result = backtest_definition(is_rule, id, sample);
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *error;

		MemoryContextSwitchTo(caller);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		ReThrowError(error);
	}
	PG_END_TRY();
	return result;
}

/*
 * check_sample
 *		sample: 0 to SAMPLE_MAX rows.
 */
static int
check_sample(FunctionCallInfo fcinfo, int argno)
{
	int			sample = PG_ARGISNULL(argno) ? -1 : PG_GETARG_INT32(argno);

	if (sample < 0 || sample > SAMPLE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sample must be an integer from 0 to %d", SAMPLE_MAX),
				 errdetail("Got: %s.", PG_ARGISNULL(argno) ? "null" : psprintf("%d", sample)),
				 errhint("Pass how many matched rows to list (default 10).")));
	return sample;
}

/*
 * automation_backtest
 *		SQL: automation._backtest(definition jsonb, id text, sample int)
 *		RETURNS jsonb; automation.backtest(definition jsonb, sample) and
 *		automation.backtest(id text, sample) call it.  Acts as the caller:
 *		creates (and rolls back) as the caller, reads the definition and the
 *		rows as the caller; only cooldowns and breaker counts are read as
 *		the owner, for the rows the caller counts.
 */
Datum
automation_backtest(PG_FUNCTION_ARGS)
{
	int			sample = check_sample(fcinfo, 2);
	char	   *id;

	if (!PG_ARGISNULL(0))
		PG_RETURN_JSONB_P(backtest_body(PG_GETARG_JSONB_P(0), sample));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("definition must not be null"),
				 errhint("Pass a create_workflow or create_rule body, or the id of a workflow or rule.")));
	id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strncmp(id, "wf_", 3) == 0)
		PG_RETURN_JSONB_P(backtest_definition(false, id, sample));
	if (is_uuid(id))
		PG_RETURN_JSONB_P(backtest_definition(true, id, sample));
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("no workflow or rule has id %s", quote_literal_cstr(id)),
			 errhint("Workflow ids look like wf_01J...; rule ids are uuids.")));
	PG_RETURN_NULL();
}

/*
 * check_written_here
 *		Enrollment follows a change of the definition in this transaction:
 *		its row (seen as the caller, row-level security applying) was
 *		inserted or updated by it, which took the caller's own INSERT or
 *		UPDATE rights on it.  Returns whether the definition is enabled
 *		(workflow) or active (rule) and, for a rule, its trigger type.
 */
static bool
check_written_here(bool is_rule, const char *id, char **trigger_type)
{
	Datum		values[1];
	bool		isnull;
	bool		active;
	TransactionId xmin;

	values[0] = CStringGetTextDatum(id);
	SPI_connect();
	if (SPI_execute_with_args(is_rule
							  ? "SELECT xmin, is_active, trigger_type FROM automation.rules WHERE id OPERATOR(pg_catalog.=) $1::uuid"
							  : "SELECT xmin, enabled, NULL::text FROM automation.workflows WHERE id OPERATOR(pg_catalog.=) $1",
							  1, (Oid[]) {TEXTOID}, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read automation definition %s", id);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s %s not found", is_rule ? "rule" : "workflow", quote_literal_cstr(id))));
	xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	active = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	*trigger_type = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (*trigger_type)
		*trigger_type = MemoryContextStrdup(CurrentMemoryContext, *trigger_type);
	if (!TransactionIdIsCurrentTransactionId(xmin))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("enrollment of %s %s must follow its change in the same transaction",
						is_rule ? "rule" : "workflow", id),
				 errhint("Pass \"enroll_existing\": true to create_%s or update_%s%s.",
						 is_rule ? "rule" : "workflow", is_rule ? "rule" : "workflow",
						 is_rule ? "" : " or enable_workflow")));
	SPI_finish();
	return active;
}

/*
 * automation_enroll
 *		SQL: automation._enroll(kind text, id text) RETURNS jsonb.  Fire the
 *		workflow or rule once for every row backtest counts as matched,
 *		operation ENROLL, through the trigger's decision path (FIRE):
 *		loop guard, cooldown, breaker, jobs and firings in this transaction.
 *		Stops at the first firing the breaker or the loop guard refuses (the
 *		breaker's trip disables the workflow and raises its alert, as on a
 *		write).  Called by create_workflow, update_workflow, enable_workflow,
 *		create_rule and update_rule; refuses a definition this transaction
 *		has not written (42501), a disabled one and a _DELETED rule (22023).
 *		Returns {"evaluated", "matched", "fired", "in_cooldown", "stopped"}.
 */
Datum
automation_enroll(PG_FUNCTION_ARGS)
{
	char	   *kind = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *id = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		is_rule;
	char	   *trigger_type = NULL;
	DefinitionScan	   *scan = palloc0(sizeof(DefinitionScan));
	StringInfoData out;

	if (kind == NULL || (strcmp(kind, "workflow") != 0 && strcmp(kind, "rule") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kind must be \"workflow\" or \"rule\""),
				 errdetail("Got: %s.", kind ? kind : "null")));
	is_rule = strcmp(kind, "rule") == 0;
	if (id == NULL || (is_rule && !is_uuid(id)))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s %s not found", kind, id ? quote_literal_cstr(id) : "null")));
	CommandCounterIncrement();
	if (!check_written_here(is_rule, id, &trigger_type))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("enroll_existing needs an %s", is_rule ? "active rule" : "enabled workflow"),
				 errdetail("%s %s is %s.", is_rule ? "Rule" : "Workflow", id,
						   is_rule ? "not active" : "disabled"),
				 errhint("%s", is_rule ? "Set \"is_active\": true with it."
						 : "Set \"enabled\": true with it, or enable it with enable_workflow(id, '{\"enroll_existing\": true}').")));
	if (trigger_type != NULL && strlen(trigger_type) > 8 &&
		pg_strcasecmp(trigger_type + strlen(trigger_type) - 8, "_DELETED") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("enroll_existing does not fit trigger_type %s", trigger_type),
				 errdetail("Existing rows have not been deleted."),
				 errhint("Enroll with a _CREATED or _UPDATED rule.")));

	scan->enroll = true;
	(void) compile(scan, is_rule, id);
	scan->payload_role = automation_rel_owner(scan->cache->relid);
	scan_definition(scan);

	initStringInfo(&out);
	appendStringInfo(&out, "{\"evaluated\": " INT64_FORMAT ", \"matched\": " INT64_FORMAT
					 ", \"fired\": " INT64_FORMAT ", \"in_cooldown\": " INT64_FORMAT ", \"stopped\": ",
					 scan->evaluated, scan->matched, scan->fired, scan->cooldown_outcomes);
	if (scan->stopped)
		escape_json(&out, scan->stopped);
	else
		appendStringInfoString(&out, "null");
	appendStringInfoChar(&out, '}');
	MemoryContextDelete(scan->cache->context);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
