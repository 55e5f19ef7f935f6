/*-------------------------------------------------------------------------
 *
 * cache.c
 *	  Compiled per-backend cache of the workflows and rules of each watched
 *	  table.
 *
 * Invariants:
 *	- Everything lives under automation_cache_context (a child of
 *	  CacheMemoryContext), one child context per entity.
 *	- A statement trigger on every definition table sends a relcache
 *	  invalidation for automation.workflows (see automation_definitions_changed);
 *	  the callback registered in _PG_init only clears cache_valid.  The next
 *	  lookup drops the whole cache and reloads lazily, per table.  Other
 *	  backends see the invalidation when the change commits, never before.
 *	- Definitions are read with the latest snapshot, so a cache rebuilt in a
 *	  long REPEATABLE READ transaction still sees every committed definition;
 *	  one snapshot, taken once per entity load, serves every query of that
 *	  load, so rules, their conditions and their actions are read as of one
 *	  moment, and children are matched to their rule by id.
 *	- While a trigger is evaluating (automation_cache_pin), an invalidation does
 *	  not free the memory the trigger is walking: the old contexts are retired
 *	  and freed when the last pin is released.
 *	- Reads run as the owner of automation.workflows (the extension owner), so
 *	  application roles need no privilege on schema automation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "automation.h"
#include "cache.h"
#include "owner.h"

PG_FUNCTION_INFO_V1(automation_definitions_changed);

static MemoryContext automation_cache_context = NULL;
static HTAB *entity_caches = NULL;
static bool cache_valid = false;
static Oid	definitions_relid = InvalidOid;
static Snapshot load_snapshot = NULL;	/* of the entity load under way */
static int	cache_pins = 0;
static int	pin_levels[1024];	/* nest level of each pin; max_stack_depth
								 * ends deeper trigger recursion first */
static List *retired_contexts = NIL;

static void invalidate_callback(Datum arg, Oid relid);
static void cache_xact_callback(XactEvent event, void *arg);
static void cache_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								   SubTransactionId parentSubid, void *arg);
static void unpin_to_level(int level);
static EntityCache *load_entity_cache(Oid relid, EntityCache *standalone,
									  const char *only_id);
static void load_workflows(EntityCache *cache, Relation rel);
static void load_rules(EntityCache *cache, Relation rel);
static void add_skipped(EntityCache *cache, Definition *definition, const char *reason);
static void report_skipped(EntityCache *cache);

/*
 * automation_cache_init
 *		Register the invalidation callback.  Called once from _PG_init.
 */
void
automation_cache_init(void)
{
	CacheRegisterRelcacheCallback(invalidate_callback, (Datum) 0);
	RegisterXactCallback(cache_xact_callback, NULL);
	RegisterSubXactCallback(cache_subxact_callback, NULL);
}

/*
 * cache_xact_callback / cache_subxact_callback
 *		An error inside a trigger leaves its pin behind.  Pins are taken at
 *		a transaction nest level: the abort of a subtransaction (a caught
 *		error, a savepoint rolled back) drops the pins taken inside it, and
 *		the end of the transaction, commit or abort, drops them all: no
 *		trigger is running then.
 */
static void
cache_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		unpin_to_level(0);
}

static void
cache_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		unpin_to_level(GetCurrentTransactionNestLevel() - 1);
}

/*
 * invalidate_callback
 *		Relcache invalidation: a definition changed (sent for
 *		automation.workflows), a watched table changed shape, or everything.
 *		Only flips the flag; no catalog access here.
 */
static void
invalidate_callback(Datum arg, Oid relid)
{
	if (!cache_valid)
		return;
	if (relid == InvalidOid || relid == definitions_relid)
		cache_valid = false;
	else if (entity_caches != NULL &&
			 hash_search(entity_caches, &relid, HASH_FIND, NULL) != NULL)
		cache_valid = false;
}

/*
 * automation_definitions_changed
 *		Statement trigger on the definition tables: tell every backend, at
 *		commit, that its compiled definitions are stale.
 */
Datum
automation_definitions_changed(PG_FUNCTION_ARGS)
{
	Oid			relid;

	Oid			automation_namespace = get_namespace_oid("automation", false);

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "automation_definitions_changed: not called by trigger manager");
	/* only the extension's own tables: elsewhere it would flush every cache */
	if (RelationGetNamespace(((TriggerData *) fcinfo->context)->tg_relation) != automation_namespace)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("automation._definitions_changed() belongs to the tables of schema automation")));
	relid = get_relname_relid("workflows", automation_namespace);
	CacheInvalidateRelcacheByRelid(relid);
	PG_RETURN_POINTER(NULL);
}

/*
 * automation_cache_pin / automation_cache_unpin
 *		Keep the compiled definitions alive while a trigger walks them.
 *		Each pin remembers the transaction nest level it was taken at.
 */
void
automation_cache_pin(void)
{
	if (cache_pins == lengthof(pin_levels))
		elog(ERROR, "automation: too many nested firings");
	pin_levels[cache_pins++] = GetCurrentTransactionNestLevel();
}

static void
release_retired(void)
{
	if (cache_pins == 0 && retired_contexts != NIL)
	{
		ListCell   *lc;

		foreach(lc, retired_contexts)
			MemoryContextDelete((MemoryContext) lfirst(lc));
		list_free(retired_contexts);
		retired_contexts = NIL;
	}
}

void
automation_cache_unpin(void)
{
	if (cache_pins > 0)
		cache_pins--;
	release_retired();
}

/*
 * unpin_to_level
 *		Drop the pins taken deeper than nest level (0: all).
 */
static void
unpin_to_level(int level)
{
	while (cache_pins > 0 && pin_levels[cache_pins - 1] > level)
		cache_pins--;
	release_retired();
}

/*
 * reset_cache
 *		Drop every compiled entity and start an empty table of them.
 */
static void
reset_cache(void)
{
	HASHCTL		ctl;

	if (automation_cache_context != NULL)
	{
		if (cache_pins > 0)
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			MemoryContextSetParent(automation_cache_context, TopMemoryContext);
			retired_contexts = lappend(retired_contexts, automation_cache_context);
			MemoryContextSwitchTo(old);
		}
		else
			MemoryContextDelete(automation_cache_context);
	}
	automation_cache_context = AllocSetContextCreate(CacheMemoryContext,
													 "automation definitions",
													 ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(EntityCache);
	ctl.hcxt = automation_cache_context;
	entity_caches = hash_create("automation entity caches", 16, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	definitions_relid = get_relname_relid("workflows",
										  get_namespace_oid("automation", false));
	cache_valid = true;
}

/*
 * automation_get_entity_cache
 *		The compiled definitions of one table, loading them on first use.
 *		Returns an entry with watched = false for a table not watched.
 */
EntityCache *
automation_get_entity_cache(Oid relid)
{
	EntityCache *cache;
	bool		found;

	/* invalidations were accepted when the statement locked its table */
	if (!cache_valid || entity_caches == NULL)
		reset_cache();

	cache = hash_search(entity_caches, &relid, HASH_FIND, &found);
	if (found)
		return cache;
	return load_entity_cache(relid, NULL, NULL);
}

/*
 * automation_get_entity_cache_by_name
 *		Same, by entity name (for explain); errors if not watched.
 */
EntityCache *
automation_get_entity_cache_by_name(const char *entity)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	Oid			relid = InvalidOid;
	OwnerScope	owner;

	values[0] = CStringGetTextDatum(entity);
	automation_owner_enter(&owner);
	if (SPI_execute_with_args("SELECT relation::oid FROM automation.entities WHERE name = $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read automation.entities");
	if (SPI_processed == 1)
	{
		bool		isnull;

		relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	}
	automation_owner_leave(&owner);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("entity \"%s\" is not watched", entity),
				 errhint("Watch its table first with automation.watch().")));
	return automation_get_entity_cache(relid);
}

/*
 * automation_compile_definition
 *		One workflow or rule of the watched table relid, compiled exactly as
 *		the trigger compiles it but whether or not it is enabled, into an
 *		EntityCache of its own under parent (not the per-backend cache):
 *		backtest and enrollment evaluate a definition that may be disabled,
 *		or not even committed (backtest.c).  Reads with the latest snapshot,
 *		so rows the current transaction wrote are seen.  The definition is
 *		either cache->definitions[0] or, when the table no longer fits it,
 *		in cache->skipped; neither when no such definition exists.
 */
EntityCache *
automation_compile_definition(Oid relid, const char *id, MemoryContext parent)
{
	MemoryContext context = AllocSetContextCreate(parent, "automation definition",
												  ALLOCSET_SMALL_SIZES);
	EntityCache *cache = MemoryContextAllocZero(context, sizeof(EntityCache));

	cache->context = context;
	return load_entity_cache(relid, cache, id);
}

/* helpers to read SPI results */
static char *
spi_text(HeapTuple tuple, TupleDesc desc, int column)
{
	char	   *value = SPI_getvalue(tuple, desc, column);

	return value ? pstrdup(value) : NULL;
}

static int
spi_int(HeapTuple tuple, TupleDesc desc, int column, int default_value)
{
	bool		isnull;
	Datum		value = SPI_getbinval(tuple, desc, column, &isnull);

	return isnull ? default_value : DatumGetInt32(value);
}

static bool
spi_bool(HeapTuple tuple, TupleDesc desc, int column, bool default_value)
{
	bool		isnull;
	Datum		value = SPI_getbinval(tuple, desc, column, &isnull);

	return isnull ? default_value : DatumGetBool(value);
}

/*
 * run_query
 *		Execute a read-only query with the latest snapshot (see file header).
 */
static void
run_query(const char *query, int nargs, Oid *argtypes, Datum *values)
{
	SPIPlanPtr	plan = SPI_prepare(query, nargs, argtypes);
	int			rc;

	if (plan == NULL)
		elog(ERROR, "could not prepare automation cache query: %s",
			 SPI_result_code_string(SPI_result));
	Assert(load_snapshot != NULL);
	rc = SPI_execute_snapshot(plan, values, NULL, load_snapshot,
							  InvalidSnapshot, true, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "automation cache query failed: %s", SPI_result_code_string(rc));
}

/*
 * only_definition
 *		While automation_compile_definition runs: the id of the one
 *		definition load_workflows and load_rules compile, enabled or not.
 */
static const char *only_definition = NULL;

/*
 * load_entity_cache
 *		Compile every active definition of one table into the per-backend
 *		cache; or, with standalone, only the definition only_id (enabled or
 *		not) into standalone, outside the per-backend cache and without
 *		raising the definition_skipped alert (it writes nothing).
 */
static EntityCache *
load_entity_cache(Oid relid, EntityCache *standalone, const char *only_id)
{
	EntityCache *cache;
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1];
	OwnerScope	owner;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext context;
	Relation	rel;

	context = standalone != NULL ? standalone->context
		: AllocSetContextCreate(automation_cache_context,
								"automation entity", ALLOCSET_SMALL_SIZES);

	automation_owner_enter(&owner);
	/* one snapshot for the whole load; abort releases it with the resource owner */
	load_snapshot = RegisterSnapshot(GetLatestSnapshot());
	/*
	 * Constants are parsed the same way in every session, whatever its
	 * DateStyle or IntervalStyle (the owner scope's nest level restores
	 * them).
	 */
	automation_fixed_styles();

	/*
	 * A partition fires as the watched partitioned table it belongs to (the
	 * row trigger is cloned onto partitions); the nearest watched ancestor
	 * wins.  Columns are resolved by name against the partition itself.
	 */
	{
		List	   *ancestors = lcons_oid(relid, get_partition_ancestors(relid));
		Datum	   *oids = palloc(sizeof(Datum) * list_length(ancestors));
		ListCell   *lc;
		int			n = 0;

		foreach(lc, ancestors)
			oids[n++] = ObjectIdGetDatum(lfirst_oid(lc));
		values[0] = PointerGetDatum(construct_array(oids, n, OIDOID, sizeof(Oid),
													true, TYPALIGN_INT));
	}
	run_query("SELECT name, key_column::text, tenant_column::text "
			  "FROM automation.entities "
			  "WHERE relation::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1) "
			  "ORDER BY pg_catalog.array_position($1, relation::pg_catalog.oid) LIMIT 1",
			  1, argtypes, values);

	cache = standalone != NULL ? standalone
		: hash_search(entity_caches, &relid, HASH_ENTER, NULL);
	memset(((char *) cache) + sizeof(Oid), 0, sizeof(EntityCache) - sizeof(Oid));
	cache->relid = relid;
	cache->context = context;

	if (SPI_processed == 1)
	{
		HeapTuple	tuple = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(context);
		char	   *key_column = spi_text(tuple, desc, 2);
		char	   *tenant_column = spi_text(tuple, desc, 3);

		cache->watched = true;
		cache->entity = spi_text(tuple, desc, 1);
		cache->key_attnum = get_attnum(relid, key_column);
		cache->tenant_attnum = tenant_column ? get_attnum(relid, tenant_column) : InvalidAttrNumber;
		cache->key_styled = cache->key_attnum > 0 &&
			automation_style_dependent(get_atttype(relid, cache->key_attnum));
		cache->tenant_styled = cache->tenant_attnum > 0 &&
			automation_style_dependent(get_atttype(relid, cache->tenant_attnum));
		MemoryContextSwitchTo(old);

		/* on error, the resource owner releases the relation */
		rel = RelationIdGetRelation(relid);
		if (rel == NULL)
			cache->watched = false; /* the table was dropped */
		else
		{
			only_definition = only_id;
			PG_TRY();
			{
				load_workflows(cache, rel);
				load_rules(cache, rel);
			}
			PG_CATCH();
			{
				/*
				 * A half-compiled entity (a cancelled statement, an error)
				 * must not stay cached as if it had no definitions: the
				 * next lookup reloads everything.
				 */
				cache_valid = false;
				load_snapshot = NULL;
				only_definition = NULL;
				PG_RE_THROW();
			}
			PG_END_TRY();
			only_definition = NULL;
			/* whether serialising a payload row may need the json fallback */
			for (int d = 0; d < cache->ndefinitions; d++)
			{
				Definition *definition = cache->definitions[d];

				definition->payload_has_json = automation_has_json_column(
					definition->npayload_columns < 0 ? RelationGetDescr(rel)
					: definition->payload_tupdesc);
			}
			RelationClose(rel);
			automation_index_build(&cache->index, cache->definitions,
								   cache->ndefinitions, cache->context);
			if (standalone == NULL)
				report_skipped(cache);
		}
	}

	UnregisterSnapshot(load_snapshot);
	load_snapshot = NULL;
	automation_owner_leave(&owner);
	MemoryContextSwitchTo(caller);
	return cache;
}

static bool
is_text_type(Oid type)
{
	return type == TEXTOID || type == VARCHAROID || type == BPCHAROID ||
		type == NAMEOID || TypeCategory(type) == TYPCATEGORY_STRING;
}

/*
 * set_compare_type
 *		Look up how values of a type are compared and hashed.
 */
static void
set_compare_type(CompiledCondition *condition, Oid type)
{
	TypeCacheEntry *typentry;

	condition->compare_type = type;
	get_typlenbyvalalign(type, &condition->compare_typlen,
						 &condition->compare_typbyval, &condition->compare_typalign);
	typentry = lookup_type_cache(type, TYPECACHE_CMP_PROC_FINFO | TYPECACHE_HASH_PROC_FINFO);
	if (OidIsValid(typentry->cmp_proc_finfo.fn_oid))
	{
		fmgr_info_cxt(typentry->cmp_proc_finfo.fn_oid, &condition->compare_proc,
					  CurrentMemoryContext);
		condition->has_compare_proc = true;
	}
	if (OidIsValid(typentry->hash_proc_finfo.fn_oid))
	{
		fmgr_info_cxt(typentry->hash_proc_finfo.fn_oid, &condition->hash_proc,
					  CurrentMemoryContext);
		condition->has_hash_proc = true;
	}
}

/*
 * parse_constant
 *		Parse one constant for a condition into its comparison form.
 */
static void
parse_constant(CompiledCondition *condition, const char *text, int i)
{
	if (condition->kind == VALUE_TEXT || condition->kind == VALUE_JSON ||
		condition->text_elements)
	{
		int			len = strlen(text);

		/* char(n) compares without its padding */
		if (condition->column_type == BPCHAROID ||
			(condition->text_elements && condition->compare_type == BPCHAROID))
			while (len > 0 && text[len - 1] == ' ')
				len--;
		condition->constant_texts[i] = automation_lower(text, len, condition->collation);
		condition->constants[i] = CStringGetDatum(condition->constant_texts[i]);
	}
	else
	{
		Oid			typinput;
		Oid			typioparam;

		getTypeInputInfo(condition->compare_type, &typinput, &typioparam);
		condition->constants[i] = OidInputFunctionCall(typinput, (char *) text,
													   typioparam, -1);
		condition->constant_texts[i] = pstrdup(text);
	}
}

/*
 * skip
 *		A definition the table no longer fits: LOG it and keep the reason
 *		for the caller (skip_reason, in the current memory context).
 *		Returns false, for compile_condition's callers.
 */
static char *skip_reason = NULL;

static bool
skip(const char *definition_name, const char *fmt,...)
pg_attribute_printf(2, 3);

static bool
skip(const char *definition_name, const char *fmt,...)
{
	StringInfoData reason;

	initStringInfo(&reason);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&reason, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&reason, needed);
	}
	skip_reason = reason.data;
	ereport(LOG,
			(errmsg("automation: skipping \"%s\": %s", definition_name, reason.data)));
	return false;
}

/*
 * parse_constant_safely
 *		parse_constant, with an input error (a column retyped since the
 *		definition was validated, a value that no longer parses) trapped in a
 *		subtransaction (automation_try): the definition is skipped with a LOG
 *		line, and the application's write goes on.  Text-like constants
 *		cannot fail and take no subtransaction.
 */
typedef struct ConstantParse
{
	CompiledCondition *condition;
	const char *text;
	int			i;
} ConstantParse;

static void
parse_constant_call(void *arg)
{
	ConstantParse *p = arg;

	parse_constant(p->condition, p->text, p->i);
}

static bool
parse_constant_safely(CompiledCondition *condition, const char *text, int i,
					  const char *definition_name, const char *field_path)
{
	ConstantParse p = {condition, text, i};
	char	   *message = NULL;

	if (condition->kind == VALUE_TEXT || condition->kind == VALUE_JSON ||
		condition->text_elements)
	{
		parse_constant(condition, text, i);
		return true;
	}
	if (automation_try(parse_constant_call, &p, &message))
		return true;
	return skip(definition_name, "value \"%s\" of field \"%s\" does not parse: %s",
				text, field_path, message);
}

/*
 * operator_takes_flag
 *		The operator's value is a flag (no constant; value_bool false
 *		negates it): the vocabulary's value form FLAG.
 */
static bool
operator_takes_flag(const char *operator_name)
{
	ConditionOperator op;
	const char *label;

	return automation_operator_parse(operator_name, &op, &label) &&
		automation_operator_info(op)->value == VOCAB_VALUE_FLAG;
}

/*
 * compile_interval
 *		The constant of a clock operator (within_last, within_next,
 *		older_than): an interval, a bare whole number meaning days, from 0
 *		to 1000 years, on a date, timestamp or timestamptz column (as
 *		_check_interval and _check_operator_field validate it).  A row that
 *		does not fit (it skipped validation, or the column was retyped)
 *		skips the definition.
 */
typedef struct IntervalParse
{
	const char *text;
	Datum		interval;
} IntervalParse;

static void
parse_interval_call(void *arg)
{
	IntervalParse *p = arg;
	const char *s = p->text;
	const char *c = s;

	/* a bare whole number means days */
	while (*c == ' ')
		c++;
	if (*c >= '0' && *c <= '9')
	{
		while (*c >= '0' && *c <= '9')
			c++;
		while (*c == ' ')
			c++;
		if (*c == '\0')
			s = psprintf("%s days", p->text);
	}
	p->interval = DirectFunctionCall3(interval_in, CStringGetDatum(s),
									  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

static bool
compile_interval(CompiledCondition *condition, char **texts, int ntexts,
				 const char *definition_name, const char *field_path)
{
	IntervalParse p = {0};
	Interval	limit = {0};
	char	   *message = NULL;

	if (condition->kind != VALUE_ORDERED ||
		(condition->compare_type != DATEOID && condition->compare_type != TIMESTAMPOID &&
		 condition->compare_type != TIMESTAMPTZOID))
		return skip(definition_name, "operator %s needs a date, timestamp or timestamptz field, not \"%s\"",
					condition->operator_label, field_path);
	if (ntexts != 1)
		return skip(definition_name, "operator %s needs one interval", condition->operator_label);
	p.text = texts[0];
	if (!automation_try(parse_interval_call, &p, &message))
		return skip(definition_name, "value \"%s\" of field \"%s\" is not an interval: %s",
					texts[0], field_path, message);
	limit.month = 1000 * MONTHS_PER_YEAR;
	if (DatumGetBool(DirectFunctionCall2(interval_gt, p.interval, IntervalPGetDatum(&limit))))
		return skip(definition_name, "value \"%s\" of field \"%s\" is longer than 1000 years",
					texts[0], field_path);
	memset(&limit, 0, sizeof(limit));
	if (DatumGetBool(DirectFunctionCall2(interval_lt, p.interval, IntervalPGetDatum(&limit))))
		return skip(definition_name, "value \"%s\" of field \"%s\" is a negative interval",
					texts[0], field_path);
	condition->constants[0] = p.interval;
	condition->constant_texts[0] = pstrdup(texts[0]);
	return true;
}

/*
 * compile_condition
 *		Resolve a field path against the table and parse the constants.
 *		Returns false (with a LOG message) when the table no longer fits the
 *		definition, e.g. the column was dropped: that definition is skipped.
 */
static bool
compile_condition(CompiledCondition *condition, EntityCache *cache, Relation rel,
				  const char *definition_name, const char *field_path,
				  const char *operator_name, bool negated,
				  char **constant_texts, int nconstants, const char *value_label)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	char	   *path = pstrdup(field_path);
	List	   *parts = NIL;
	char	   *part;
	char	   *saveptr = NULL;
	AttrNumber	attnum;
	Form_pg_attribute attr;
	Oid			element_type;

	memset(condition, 0, sizeof(*condition));
	if (!automation_operator_parse(operator_name, &condition->operator, &condition->operator_label))
	{
		return skip(definition_name, "unknown operator \"%s\"", operator_name);
	}
	condition->negated = negated;
	condition->field_label = pstrdup(field_path);
	condition->value_label = value_label ? pstrdup(value_label) : NULL;

	for (part = strtok_r(path, ".", &saveptr); part; part = strtok_r(NULL, ".", &saveptr))
		parts = lappend(parts, part);
	if (list_length(parts) > 1 && strcmp(linitial(parts), cache->entity) == 0)
		parts = list_delete_first(parts);
	if (parts == NIL ||
		(attnum = get_attnum(RelationGetRelid(rel), linitial(parts))) <= 0)
	{
		return skip(definition_name, "field \"%s\" is not a column of %s",
					field_path, RelationGetRelationName(rel));
	}
	attr = TupleDescAttr(tupdesc, attnum - 1);
	condition->attnum = attnum;
	condition->column_type = attr->atttypid;
	condition->collation = OidIsValid(attr->attcollation) ? attr->attcollation : DEFAULT_COLLATION_OID;

	if (list_length(parts) > 1)
	{
		if (attr->atttypid != JSONBOID && attr->atttypid != JSONOID)
		{
			return skip(definition_name, "field \"%s\" goes below a column that is not json",
						field_path);
		}
		condition->kind = VALUE_JSON;
		condition->json_path_length = list_length(parts) - 1;
		condition->json_path = palloc(sizeof(char *) * condition->json_path_length);
		for (int i = 1; i < list_length(parts); i++)
			condition->json_path[i - 1] = pstrdup(list_nth(parts, i));
		set_compare_type(condition, TEXTOID);
	}
	else if ((element_type = get_element_type(attr->atttypid)) != InvalidOid &&
			 automation_operator_info(condition->operator)->field == VOCAB_FIELD_TEXT_ARRAY)
	{
		condition->kind = VALUE_ARRAY;
		set_compare_type(condition, getBaseType(element_type));
		condition->text_elements = is_text_type(element_type);
	}
	else if (is_text_type(attr->atttypid))
	{
		condition->kind = VALUE_TEXT;
		set_compare_type(condition, TEXTOID);
	}
	else
	{
		condition->kind = VALUE_ORDERED;
		set_compare_type(condition, getBaseType(attr->atttypid));
		if (!condition->has_compare_proc)
		{
			return skip(definition_name, "values of field \"%s\" cannot be compared",
						field_path);
		}
	}

	if (condition->kind != VALUE_TEXT && condition->kind != VALUE_JSON &&
		!condition->text_elements && !automation_input_runs_no_user_code(condition->compare_type))
	{
		return skip(definition_name, "values of field \"%s\" have a type whose input function may run its owner's code",
					field_path);
	}

	condition->nconstants = nconstants;
	condition->constants = palloc0(sizeof(Datum) * Max(nconstants, 1));
	condition->constant_texts = palloc0(sizeof(char *) * Max(nconstants, 1));
	if (automation_operator_info(condition->operator)->value == VOCAB_VALUE_INTERVAL)
		return compile_interval(condition, constant_texts, nconstants, definition_name, field_path);
	for (int i = 0; i < nconstants; i++)
		if (!parse_constant_safely(condition, constant_texts[i], i, definition_name, field_path))
			return false;
	return true;
}

/*
 * compile_payload_columns
 *		Resolve a definition's payload_columns (text[], or NULL: every
 *		column) against the table once: the attribute numbers and a blessed
 *		record type of just those columns, which enqueue.c serialises
 *		instead of the whole row.  A name that is no longer a column skips
 *		the definition, like a dropped condition column.
 */
static bool
compile_payload_columns(Definition *definition, Relation rel, Datum columns, bool isnull)
{
	Datum	   *names;
	bool	   *nulls;
	int			n;
	TupleDesc	tupdesc;

	definition->npayload_columns = -1;
	if (isnull)
		return true;
	deconstruct_array(DatumGetArrayTypeP(columns), TEXTOID, -1, false, TYPALIGN_INT,
					  &names, &nulls, &n);
	definition->payload_attnums = palloc0(sizeof(AttrNumber) * Max(n, 1));
	tupdesc = CreateTemplateTupleDesc(n);
	for (int i = 0; i < n; i++)
	{
		char	   *name = nulls[i] ? NULL : TextDatumGetCString(names[i]);
		AttrNumber	attnum = name ? get_attnum(RelationGetRelid(rel), name) : InvalidAttrNumber;

		if (attnum <= 0)
			return skip(definition->name, "payload column \"%s\" is not a column of %s",
						name ? name : "null", RelationGetRelationName(rel));
		definition->payload_attnums[i] = attnum;
		TupleDescCopyEntry(tupdesc, i + 1, RelationGetDescr(rel), attnum);
	}
	definition->payload_tupdesc = BlessTupleDesc(tupdesc);
	definition->npayload_columns = n;
	return true;
}

/*
 * has_column
 *		Does this schema's definition table have the column: payload_columns
 *		(0.3.0), fire_when and the conditions' group (0.4.0)?  The library
 *		also runs on older schemas before the upgrade.
 */
static bool
has_column(const char *table, const char *column)
{
	Oid			relid = get_relname_relid(table, get_namespace_oid("automation", false));

	return OidIsValid(relid) && get_attnum(relid, column) != InvalidAttrNumber;
}

/*
 * parse_action
 *		Fill a CompiledAction from its type and jsonb config.  An action
 *		type the vocabulary does not know (a row that skipped validation)
 *		skips the definition with a LOG line: it is never enqueued as
 *		something else, nor without its wake-up.
 */
static bool
parse_action(CompiledAction *action, const char *action_type, const char *config_text,
			 const char *definition_name)
{
	Datum		config;
	JsonbValue	key;
	JsonbValue *delay;

	if (!automation_action_parse(action_type, &action->type))
		return skip(definition_name, "unknown action type \"%s\"",
					action_type ? action_type : "(null)");
	action->action_type = pstrdup(automation_action_info(action->type)->job);
	config = DirectFunctionCall1(jsonb_in, CStringGetDatum(config_text ? config_text : "{}"));
	action->config = DatumGetJsonbP(config);
	key.type = jbvString;
	key.val.string.val = "delay_minutes";
	key.val.string.len = strlen("delay_minutes");
	delay = findJsonbValueFromContainer(&action->config->root, JB_FOBJECT, &key);
	if (delay != NULL && delay->type == jbvNumeric)
		action->delay_minutes = DatumGetInt32(DirectFunctionCall1(numeric_int4,
																  NumericGetDatum(delay->val.numeric)));
	else if (delay != NULL && delay->type == jbvString)
		action->delay_minutes = pg_strtoint32(pnstrdup(delay->val.string.val, delay->val.string.len));
	return true;
}

/*
 * add_skipped
 *		Remember a definition the table no longer fits, for explain() and
 *		the alert (report_skipped).
 */
static void
add_skipped(EntityCache *cache, Definition *definition, const char *reason)
{
	MemoryContext old = MemoryContextSwitchTo(cache->context);
	SkippedDefinition *skipped = palloc0(sizeof(SkippedDefinition));

	skipped->definition = definition;
	skipped->reason = pstrdup(reason ? reason : "it does not fit its table");
	cache->skipped = lappend(cache->skipped, skipped);
	MemoryContextSwitchTo(old);
}

/*
 * report_skipped
 *		One 'definition_skipped' alert per definition and reason (not
 *		repeated by every backend that compiles it), in the owner scope.
 *		Trapped: a schema without that alert kind (before 0.3.0) or a
 *		read-only transaction must not fail the write.
 */
static void
raise_skipped_alert(void *arg)
{
	SkippedDefinition *skipped = arg;
	Definition *definition = skipped->definition;
	Datum		values[5];
	char		nulls[5] = "     ";

	values[0] = definition->is_rule ? (nulls[0] = 'n', (Datum) 0) : CStringGetTextDatum(definition->id);
	values[1] = definition->is_rule ? CStringGetTextDatum(definition->id) : (nulls[1] = 'n', (Datum) 0);
	values[2] = CStringGetTextDatum(definition->name);
	values[3] = CStringGetTextDatum(skipped->reason);
	values[4] = definition->tenant_id ? CStringGetTextDatum(definition->tenant_id)
		: (nulls[4] = 'n', (Datum) 0);
	if (SPI_execute_with_args("SELECT automation._raise_alert('definition_skipped', "
							  "  format('%s %s is skipped: %s', CASE WHEN $1 IS NULL THEN 'rule' ELSE 'workflow' END, $3, $4), "
							  "  jsonb_build_object('reason', $4), $1, $2::uuid, NULL, $5) "
							  "WHERE NOT EXISTS (SELECT 1 FROM automation.alerts a "
							  "  WHERE a.kind = 'definition_skipped' AND a.workflow_id IS NOT DISTINCT FROM $1 "
							  "    AND a.rule_id IS NOT DISTINCT FROM $2::uuid AND a.details ->> 'reason' = $4)",
							  5, (Oid[]) {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID},
							  values, nulls, false, 0) < 0)
		elog(ERROR, "could not raise the definition_skipped alert");
}

static void
report_skipped(EntityCache *cache)
{
	ListCell   *lc;

	foreach(lc, cache->skipped)
		(void) automation_try(raise_skipped_alert, lfirst(lc), NULL);
}

/*
 * add_definition
 *		Append a compiled definition to the entity.
 */
static void
add_definition(EntityCache *cache, Definition *definition)
{
	int		   *capacity = &cache->definitions_capacity;

	if (cache->ndefinitions == *capacity)
	{
		*capacity = *capacity == 0 ? 16 : *capacity * 2;
		cache->definitions = cache->definitions == NULL
			? palloc(sizeof(Definition *) * *capacity)
			: repalloc(cache->definitions, sizeof(Definition *) * *capacity);
	}
	definition->order = cache->ndefinitions;
	cache->definitions[cache->ndefinitions++] = definition;
}

/*
 * load_workflows
 *		Compile the enabled workflows of the entity, oldest first.
 */
static void
load_workflows(EntityCache *cache, Relation rel)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	MemoryContext old;

	values[0] = CStringGetTextDatum(cache->entity);
	values[1] = only_definition ? CStringGetTextDatum(only_definition) : (Datum) 0;
	run_query(psprintf("SELECT id, name, tenant_id, created_by::text, max_triggers_per_day, "
					   "condition_field, condition_operator, condition_value, action_type, "
					   "action_config::text, %s, %s "
					   "FROM automation.workflows "
					   "WHERE condition_entity OPERATOR(pg_catalog.=) $1 AND %s "
					   "ORDER BY created_at, id",
					   has_column("workflows", "payload_columns") ? "payload_columns" : "NULL::text[]",
					   has_column("workflows", "fire_when")
					   ? "fire_when OPERATOR(pg_catalog.=) 'becomes_true'" : "false",
					   only_definition ? "id OPERATOR(pg_catalog.=) $2" : "enabled"),
			  only_definition ? 2 : 1, argtypes, values);

	old = MemoryContextSwitchTo(cache->context);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Definition *definition = palloc0(sizeof(Definition));
		char	   *value = spi_text(tuple, desc, 8);
		char	   *operator_name = spi_text(tuple, desc, 7);
		int			nconstants = (value && value[0] != '\0') ? 1 : 0;

		definition->is_rule = false;
		definition->id = spi_text(tuple, desc, 1);
		definition->name = spi_text(tuple, desc, 2);
		definition->tenant_id = spi_text(tuple, desc, 3);
		definition->created_by = spi_text(tuple, desc, 4);
		definition->max_triggers_per_day = spi_int(tuple, desc, 5, 100);
		definition->becomes_true = spi_bool(tuple, desc, 12, false);
		definition->cooldown_hours = -1;
		definition->event_mask = EVENT_INSERT | EVENT_UPDATE;
		definition->nconditions = 1;
		definition->conditions = palloc0(sizeof(CompiledCondition));
		/* a flag ("changed") takes no value; equals '' compares with the empty string */
		if (!operator_takes_flag(operator_name) && value != NULL)
			nconstants = 1;
		if (!compile_condition(&definition->conditions[0], cache, rel,
							   definition->name, spi_text(tuple, desc, 6),
							   operator_name, false, &value, nconstants, value))
		{
			add_skipped(cache, definition, skip_reason);
			continue;
		}
		{
			bool		isnull;
			Datum		columns = SPI_getbinval(tuple, desc, 11, &isnull);

			if (!compile_payload_columns(definition, rel, columns, isnull))
			{
				add_skipped(cache, definition, skip_reason);
				continue;
			}
		}
		definition->nactions = 1;
		definition->actions = palloc0(sizeof(CompiledAction));
		if (!parse_action(&definition->actions[0], spi_text(tuple, desc, 9),
						  spi_text(tuple, desc, 10), definition->name))
		{
			add_skipped(cache, definition, skip_reason);
			continue;
		}
		add_definition(cache, definition);
	}
	MemoryContextSwitchTo(old);
}

/*
 * trigger_event_mask
 *		LEAD_CREATED / LEAD_UPDATED / LEAD_DELETED to an EVENT_* bit.
 */
static int
trigger_event_mask(const char *trigger_type)
{
	size_t		len = strlen(trigger_type);

	if (len > 8 && pg_strcasecmp(trigger_type + len - 8, "_CREATED") == 0)
		return EVENT_INSERT;
	if (len > 8 && pg_strcasecmp(trigger_type + len - 8, "_UPDATED") == 0)
		return EVENT_UPDATE;
	if (len > 8 && pg_strcasecmp(trigger_type + len - 8, "_DELETED") == 0)
		return EVENT_DELETE;
	return 0;
}

/*
 * rule_by_id
 *		The loaded rule of that id, or NULL (a child of a rule this load does
 *		not compile).
 */
typedef struct RuleSlot
{
	char		id[NAMEDATALEN];
	uint64		index;
} RuleSlot;

static bool
rule_by_id(HTAB *ids, const char *id, uint64 *index)
{
	char		key[NAMEDATALEN];
	RuleSlot   *slot;

	strlcpy(key, id, sizeof(key));
	slot = hash_search(ids, key, HASH_FIND, NULL);
	if (slot == NULL)
		return false;
	*index = slot->index;
	return true;
}

/*
 * load_rules
 *		Compile the active rules of the entity in evaluation order (priority,
 *		then creation), with their conditions and actions in sort order.
 */
static void
load_rules(EntityCache *cache, Relation rel)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	int			nargs = only_definition ? 2 : 1;
	const char *active = only_definition
		? "r.id::pg_catalog.text OPERATOR(pg_catalog.=) $2" : "r.is_active";
	MemoryContext old;
	SPITupleTable *rules;
	uint64		nrules;
	Definition **loaded;
	bool	   *ok;
	char	  **reasons;
	uint64		rule_index;
	HTAB	   *ids;
	HASHCTL		ctl;

	values[0] = CStringGetTextDatum(cache->entity);
	values[1] = only_definition ? CStringGetTextDatum(only_definition) : (Datum) 0;
	run_query(psprintf("SELECT id::text, name, tenant_id, created_by::text, trigger_type, "
					   "stop_subsequent_rules, cooldown_hours, %s, %s "
					   "FROM automation.rules r "
					   "WHERE entity_type OPERATOR(pg_catalog.=) $1 AND %s "
					   "ORDER BY priority, created_at, id",
					   has_column("rules", "payload_columns") ? "payload_columns" : "NULL::text[]",
					   has_column("rules", "fire_when")
					   ? "fire_when OPERATOR(pg_catalog.=) 'becomes_true'" : "false",
					   active),
			  nargs, argtypes, values);
	rules = SPI_tuptable;
	nrules = SPI_processed;
	if (nrules == 0)
		return;

	old = MemoryContextSwitchTo(cache->context);
	loaded = palloc0(sizeof(Definition *) * nrules);
	ok = palloc0(sizeof(bool) * nrules);
	reasons = palloc0(sizeof(char *) * nrules);
	for (uint64 i = 0; i < nrules; i++)
	{
		HeapTuple	tuple = rules->vals[i];
		TupleDesc	desc = rules->tupdesc;
		Definition *definition = palloc0(sizeof(Definition));

		definition->is_rule = true;
		definition->id = spi_text(tuple, desc, 1);
		definition->name = spi_text(tuple, desc, 2);
		definition->tenant_id = spi_text(tuple, desc, 3);
		definition->created_by = spi_text(tuple, desc, 4);
		definition->event_mask = trigger_event_mask(spi_text(tuple, desc, 5));
		definition->stop_subsequent = spi_bool(tuple, desc, 6, false);
		definition->cooldown_hours = spi_int(tuple, desc, 7, -1);
		definition->becomes_true = spi_bool(tuple, desc, 9, false);
		loaded[i] = definition;
		ok[i] = definition->event_mask != 0;
		if (!ok[i])
			reasons[i] = psprintf("unknown trigger_type \"%s\"", spi_text(tuple, desc, 5));
		else
		{
			bool		isnull;
			Datum		columns = SPI_getbinval(tuple, desc, 8, &isnull);

			if (!compile_payload_columns(definition, rel, columns, isnull))
			{
				ok[i] = false;
				reasons[i] = skip_reason;
			}
		}
	}
	MemoryContextSwitchTo(old);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(RuleSlot);
	ctl.hcxt = CurrentMemoryContext;
	ids = hash_create("automation rule ids", nrules, &ctl,
					  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (uint64 i = 0; i < nrules; i++)
	{
		char		key[NAMEDATALEN];
		RuleSlot   *slot;

		strlcpy(key, loaded[i]->id, sizeof(key));
		slot = hash_search(ids, key, HASH_ENTER, NULL);
		slot->index = i;
	}

	/* conditions, in the rules' order */
	run_query(psprintf("SELECT c.rule_id::text, c.field_path, c.operator, "
			  "coalesce(c.value_int::text, c.value_string, c.value_bool::text, "
			  "  to_char(c.value_datetime AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00\"')), "
			  "c.value_array, c.value_bool, "
			  "(count(*) OVER (PARTITION BY c.rule_id))::int4, %s "
			  "FROM automation.rules r JOIN automation.rule_conditions c ON c.rule_id = r.id "
			  "WHERE r.entity_type OPERATOR(pg_catalog.=) $1 AND %s "
			  "ORDER BY r.priority, r.created_at, r.id, %s c.sort_order, c.id",
			  has_column("rule_conditions", "group") ? "c.\"group\"" : "0",
			  active,
			  has_column("rule_conditions", "group") ? "c.\"group\"," : ""),
			  nargs, argtypes, values);
	old = MemoryContextSwitchTo(cache->context);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *rule_id = spi_text(tuple, desc, 1);
		Definition *definition;
		char	   *operator_name = spi_text(tuple, desc, 3);
		char	   *value = spi_text(tuple, desc, 4);
		bool		isnull;
		Datum		array = SPI_getbinval(tuple, desc, 5, &isnull);
		bool		negated = false;
		char	  **constants = &value;
		int			nconstants = value ? 1 : 0;
		StringInfoData label;

		if (!rule_by_id(ids, rule_id, &rule_index))
			continue;
		definition = loaded[rule_index];
		if (definition->conditions == NULL)
			definition->conditions = palloc0(sizeof(CompiledCondition) *
											 spi_int(tuple, desc, 7, 1));
		/* a flag (EXISTS, NOT_EXISTS, CHANGED) has no constant; value_bool false negates it */
		if (operator_takes_flag(operator_name))
		{
			negated = !spi_bool(tuple, desc, 6, true);
			value = NULL;
			nconstants = 0;
		}
		initStringInfo(&label);
		if (value)
			appendStringInfoString(&label, value);
		if (!isnull)
		{
			ArrayType  *arr = DatumGetArrayTypeP(array);
			Datum	   *elems;
			bool	   *nulls;
			int			nelems;

			deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
			constants = palloc(sizeof(char *) * Max(nelems, 1));
			nconstants = 0;
			for (int e = 0; e < nelems; e++)
			{
				if (nulls[e])
					continue;
				constants[nconstants++] = TextDatumGetCString(elems[e]);
			}
			appendStringInfoString(&label, SPI_getvalue(tuple, desc, 5));
		}
		if (!compile_condition(&definition->conditions[definition->nconditions],
							   cache, rel, definition->name,
							   spi_text(tuple, desc, 2), operator_name, negated,
							   constants, nconstants, label.data))
		{
			if (ok[rule_index])
				reasons[rule_index] = skip_reason;
			ok[rule_index] = false;
		}
		/* rows come by group: the evaluator and the index read them so */
		definition->conditions[definition->nconditions].group = spi_int(tuple, desc, 8, 0);
		definition->nconditions++;
	}
	MemoryContextSwitchTo(old);

	/* actions */
	run_query(psprintf("SELECT a.rule_id::text, a.action_type, a.config::text, "
			  "(count(*) OVER (PARTITION BY a.rule_id))::int4 "
			  "FROM automation.rules r JOIN automation.rule_actions a ON a.rule_id = r.id "
			  "WHERE r.entity_type OPERATOR(pg_catalog.=) $1 AND %s "
			  "ORDER BY r.priority, r.created_at, r.id, a.sort_order, a.id", active),
			  nargs, argtypes, values);
	old = MemoryContextSwitchTo(cache->context);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *rule_id = spi_text(tuple, desc, 1);
		Definition *definition;

		if (!rule_by_id(ids, rule_id, &rule_index))
			continue;
		definition = loaded[rule_index];
		if (definition->actions == NULL)
			definition->actions = palloc0(sizeof(CompiledAction) *
										  spi_int(tuple, desc, 4, 1));
		if (!parse_action(&definition->actions[definition->nactions++],
						  spi_text(tuple, desc, 2), spi_text(tuple, desc, 3),
						  definition->name))
		{
			if (ok[rule_index])
				reasons[rule_index] = skip_reason;
			ok[rule_index] = false;
		}
	}

	for (uint64 i = 0; i < nrules; i++)
	{
		if (ok[i] && loaded[i]->nconditions > 0 && loaded[i]->nactions > 0)
			add_definition(cache, loaded[i]);
		else if (reasons[i] != NULL)
			add_skipped(cache, loaded[i], reasons[i]);
	}
	MemoryContextSwitchTo(old);
}

