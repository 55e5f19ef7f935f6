/*-------------------------------------------------------------------------
 *
 * automation.h
 *	  Declarations shared by the automation extension's C modules.
 *
 * Terms: a "definition" is a workflow or a rule; it holds conditions
 * (ANDed) and actions.  An "entity cache" is the compiled form of every
 * active definition of one watched table, owned by the per-backend cache
 * (cache.c) and rebuilt after any definition change commits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_H
#define AUTOMATION_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"

#include "owner.h"

/* settings (automation.c) */
extern int	automation_max_depth;
extern int	automation_payload_column_limit;	/* kB */
extern int	automation_current_depth;
extern char *automation_tenant;
extern char *automation_request_id;

/* row events, also the bit of a definition's event mask */
#define EVENT_INSERT	0x01
#define EVENT_UPDATE	0x02
#define EVENT_DELETE	0x04

typedef enum ConditionOperator
{
	OPERATOR_EQUALS,
	OPERATOR_NOT_EQUALS,
	OPERATOR_CONTAINS,
	OPERATOR_NOT_CONTAINS,
	OPERATOR_STARTS_WITH,
	OPERATOR_ENDS_WITH,
	OPERATOR_GREATER_THAN,
	OPERATOR_GREATER_EQUAL,
	OPERATOR_LESS_THAN,
	OPERATOR_LESS_EQUAL,
	OPERATOR_IN,
	OPERATOR_NOT_IN,
	OPERATOR_EXISTS,
	OPERATOR_NOT_EXISTS,
	OPERATOR_CHANGED,
	OPERATOR_CHANGED_TO,
	OPERATOR_CHANGED_FROM
} ConditionOperator;

/* How a field's value is compared. */
typedef enum ValueKind
{
	VALUE_TEXT,					/* text-like column: case-insensitive */
	VALUE_ORDERED,				/* any type with a btree comparison */
	VALUE_ARRAY,				/* array column: contains = has element */
	VALUE_JSON					/* path into a json/jsonb column */
} ValueKind;

typedef struct CompiledCondition
{
	ConditionOperator operator;
	bool		negated;		/* EXISTS/NOT_EXISTS/CHANGED with value false */
	AttrNumber	attnum;
	ValueKind	kind;
	Oid			column_type;
	Oid			collation;
	int			json_path_length;
	char	  **json_path;		/* keys below the json column */
	Oid			compare_type;	/* column type, or element type for arrays */
	bool		text_elements;	/* VALUE_ARRAY of a text-like type */
	int16		compare_typlen;
	bool		compare_typbyval;
	char		compare_typalign;
	FmgrInfo	compare_proc;	/* btree comparison of compare_type */
	bool		has_compare_proc;
	FmgrInfo	hash_proc;		/* hash of compare_type, for the value index */
	bool		has_hash_proc;
	/* the constant(s), parsed once into compare_type */
	int			nconstants;
	Datum	   *constants;
	char	  **constant_texts; /* lower-cased text form, for text and json */
	char	   *field_label;	/* field path as written */
	char	   *value_label;	/* value as written, for explain */
	const char *operator_label;
} CompiledCondition;

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
	int			order;			/* position in EntityCache.definitions */
	int			nconditions;
	CompiledCondition *conditions;
	int			nactions;
	CompiledAction *actions;
	int			npayload_columns;	/* -1: every column (payload_columns null) */
	AttrNumber *payload_attnums;	/* the chosen columns, in the given order */
	TupleDesc	payload_tupdesc;	/* blessed record type of those columns */
	bool		payload_has_json;	/* a json column among those sent */
} Definition;

/* One bucket of the per-event index: definitions guarded by one column. */
typedef struct ValueIndexKey
{
	AttrNumber	attnum;
	uint32		hash;
} ValueIndexKey;

typedef struct ValueIndexEntry
{
	ValueIndexKey key;
	List	   *orders;			/* int list of definition orders */
} ValueIndexEntry;

typedef struct EventIndex
{
	List	   *always;			/* orders evaluated on every event, sorted */
	List	   *edge_columns;	/* EdgeGroup *, guarded by "column changed" */
	List	   *value_columns;	/* ValueColumn *, guarded by NEW value */
	HTAB	   *value_index;	/* ValueIndexKey -> ValueIndexEntry */
	List	   *range_columns;	/* RangeIndex *, guarded by a threshold */
} EventIndex;

/* Definitions guarded by GT/GTE/LT/LTE on one column, by sorted constant. */
#define RANGE_GREATER		0
#define RANGE_GREATER_EQUAL 1
#define RANGE_LESS_THAN		2
#define RANGE_LESS_EQUAL	3
#define RANGE_OPS			4

typedef struct RangeIndex
{
	AttrNumber	attnum;
	CompiledCondition *sample;	/* compare_proc and collation to use */
	int			n[RANGE_OPS];
	Datum	   *constants[RANGE_OPS];	/* ascending */
	int		   *orders[RANGE_OPS];
} RangeIndex;

/* One row event as the evaluator reads it: each tuple deformed once. */
#define ROW_NEW 0
#define ROW_OLD 1

typedef struct RowState
{
	TupleDesc	tupdesc;
	int			event;
	HeapTuple	tuples[2];
	TupleTableSlot *slots[2];	/* the trigger's slots: deformed lazily, up
								 * to the highest column read */
	Datum	   *values[2];		/* without slots: the whole tuple, once */
	bool	   *nulls[2];
	char	  **lowered[2];		/* per attnum, lower-cased text, once */
} RowState;

typedef struct EdgeGroup
{
	AttrNumber	attnum;
	List	   *orders;
} EdgeGroup;

typedef struct ValueColumn
{
	AttrNumber	attnum;
	CompiledCondition *sample;	/* how to hash this column's NEW value */
} ValueColumn;

/* An active definition that cannot be compiled against its table, and why. */
typedef struct SkippedDefinition
{
	Definition *definition;		/* id, name, tenant; no conditions */
	char	   *reason;
} SkippedDefinition;

typedef struct EntityCache
{
	Oid			relid;			/* hash key */
	bool		watched;		/* false: table not (or no longer) watched */
	char	   *entity;
	AttrNumber	key_attnum;
	AttrNumber	tenant_attnum;	/* InvalidAttrNumber: no tenancy */
	bool		key_styled;		/* printed under fixed styles (trigger.c) */
	bool		tenant_styled;
	int			ndefinitions;
	int			definitions_capacity;
	Definition **definitions;	/* workflows by creation, then rules by priority */
	EventIndex	events[3];		/* INSERT, UPDATE, DELETE */
	List	   *skipped;		/* SkippedDefinition *: active definitions
								 * the table no longer fits */
	MemoryContext context;
} EntityCache;

/* cache.c */
extern void automation_cache_init(void);
extern EntityCache *automation_get_entity_cache(Oid relid);
extern EntityCache *automation_get_entity_cache_by_name(const char *entity);
extern int	automation_event_index(int event);
extern void automation_cache_pin(void);
extern void automation_cache_unpin(void);
extern bool automation_input_runs_no_user_code(Oid type);

/* evaluate.c */
typedef struct ConditionResult
{
	bool		holds;
	const char *reason;			/* static text or palloc'd in the caller's context */
} ConditionResult;

extern void automation_row_init(RowState *row, TupleDesc tupdesc, int event,
								HeapTuple newtuple, HeapTuple oldtuple);
extern void automation_row_use_slots(RowState *row, TupleTableSlot *newslot,
									 TupleTableSlot *oldslot);
extern char *automation_lower(const char *s, int len, Oid collation);
extern bool automation_condition_holds(CompiledCondition *condition, RowState *row,
									   ConditionResult *result);
extern bool automation_definition_matches(Definition *definition, RowState *row);
extern int	automation_candidates(EntityCache *cache, RowState *row, int *orders);
extern bool automation_value_hash(CompiledCondition *condition, Datum value,
								  uint32 *hash);

/* enqueue.c */
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

extern void automation_fire(Definition **matched, int nmatched, FiringContext *firing);
extern char *automation_predict(Definition *definition, FiringContext *firing);

/* wakeup.c */
extern int	automation_wakeup_interval;
extern void automation_wakeup_request(const char *action_type);
extern void automation_wakeup_init(void);
extern void automation_wakeup_shmem_request(void);
extern void automation_wakeup_shmem_startup(void);

/* trigger.c */
extern bool automation_style_dependent(Oid type);
extern char *automation_column_text(HeapTuple tuple, TupleDesc tupdesc, AttrNumber attnum,
									bool fixed_styles);
extern void automation_firing_init(FiringContext *firing, EntityCache *cache, int event,
								   HeapTuple newtuple, HeapTuple oldtuple, TupleDesc tupdesc);

/* jsonsafe.c */
extern bool automation_try(void (*fn) (void *arg), void *arg, char **message);
extern Jsonb *automation_json_to_jsonb(Datum json);
extern bool automation_has_json_column(TupleDesc tupdesc);

/* render.c */
extern Jsonb *automation_render_config(CompiledAction *action, Definition *definition,
									   FiringContext *firing);

/* breaker.c */
extern void automation_breaker_shmem_request(void);
extern void automation_breaker_shmem_startup(void);
extern int32 automation_breaker_used(const char *workflow_id);
extern bool automation_breaker_reserve(const char *workflow_id, int max_per_day,
									   bool *trip);
extern void automation_breaker_init(void);

/* ratelimit.c */
extern void automation_ratelimit_shmem_request(void);
extern void automation_ratelimit_shmem_startup(void);

#endif							/* AUTOMATION_H */
