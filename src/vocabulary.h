/*-------------------------------------------------------------------------
 *
 * vocabulary.h
 *	  The one definition of the rules language's words: the condition
 *	  operators and the action types (SPEC sections 3 and 6).
 *
 * Everything else is generated from these two tables or reads them:
 *
 *	 - the extension's C modules: the ConditionOperator and ActionType enums
 *	   and the lookup tables below (VOCAB_OPERATOR_TABLE, VOCAB_ACTION_TABLE);
 *	 - the worker (src/worker/): its dispatch, by where an action runs;
 *	 - the SQL validation: `make` compiles src/gen/vocabulary_sql.c, which
 *	   includes this file and writes src/sql/install/05_vocabulary.sql and
 *	   src/sql/upgrade/0.3.0--0.4.0/10_vocabulary.sql (the lookup functions
 *	   automation._operators() and automation._action_types(), the spelling
 *	   lists, and the CHECK of the domain automation.job_action_type).
 *
 * Generated files are not edited by hand and not committed (.gitignore).
 * How to add an operator or an action type: doc/CONTRACTS.md, "Vocabulary".
 *
 * Plain C, no PostgreSQL header: the worker and the generator include it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_VOCABULARY_H
#define AUTOMATION_VOCABULARY_H

/*
 * How a condition gives its value (rule value keys; workflow condition_value):
 *
 *	 SCALAR		exactly one of value_int, value_string, value_bool,
 *				value_datetime; workflows: any string ("" included)
 *	 ORDERED	value_int or value_datetime; workflows: a string of the
 *				field's type
 *	 STRING		value_string
 *	 LIST		value_array (1 to 1000 elements)
 *	 FLAG		no value, or value_bool (false negates the operator);
 *				workflows: ""
 *	 INTERVAL	value_string holding a PostgreSQL interval with a unit
 *				("3 days"), or value_int meaning days; workflows: the
 *				interval string
 */
typedef enum VocabValue
{
	VOCAB_VALUE_SCALAR,
	VOCAB_VALUE_ORDERED,
	VOCAB_VALUE_STRING,
	VOCAB_VALUE_LIST,
	VOCAB_VALUE_FLAG,
	VOCAB_VALUE_INTERVAL
} VocabValue;

/*
 * Which fields an operator works on (a path into a json column fits every
 * kind but DATE):
 *
 *	 ANY			every field
 *	 TEXT			text-like columns
 *	 TEXT_ARRAY		text-like and array columns
 *	 ORDERED		numbers and date/times (workflows; a rule's value key
 *					decides, value_int or value_datetime)
 *	 DATE			date, timestamp and timestamptz columns, no json path
 */
typedef enum VocabField
{
	VOCAB_FIELD_ANY,
	VOCAB_FIELD_TEXT,
	VOCAB_FIELD_TEXT_ARRAY,
	VOCAB_FIELD_ORDERED,
	VOCAB_FIELD_DATE
} VocabField;

/*
 * When an operator holds:
 *
 *	 LEVEL	on every event whose row matches (NEW; OLD on DELETE)
 *	 EDGE	when the field changes (OLD against NEW); cannot hold on DELETE,
 *			and a rule on a _DELETED trigger refuses it
 *	 CLOCK	level-triggered against the time of evaluation (now()): the
 *			same row may hold now and not an hour later
 */
typedef enum VocabTrigger
{
	VOCAB_TRIGGER_LEVEL,
	VOCAB_TRIGGER_EDGE,
	VOCAB_TRIGGER_CLOCK
} VocabTrigger;

/*
 * How the candidate index (src/cache.c) files a definition guarded by the
 * operator:
 *
 *	 NONE	not indexable: another condition guards, else "always"
 *	 VALUE	hash buckets of the constant(s)
 *	 EDGE	"the column changed" (UPDATE)
 *	 GT, GTE, LT, LTE	the sorted constants of one column (range index)
 *	 CLOCK	the sorted intervals of one column's clock conditions (clock
 *			index: the row's distance from now, one binary search each
 *			way; an interval with months is not indexable)
 */
typedef enum VocabIndex
{
	VOCAB_INDEX_NONE,
	VOCAB_INDEX_VALUE,
	VOCAB_INDEX_EDGE,
	VOCAB_INDEX_GT,
	VOCAB_INDEX_GTE,
	VOCAB_INDEX_LT,
	VOCAB_INDEX_LTE,
	VOCAB_INDEX_CLOCK
} VocabIndex;

/* Events an operator can hold on (not negated): bits as EVENT_* of automation.h */
#define VOCAB_ON_INSERT 0x01
#define VOCAB_ON_UPDATE 0x02
#define VOCAB_ON_DELETE 0x04
#define VOCAB_ON_ALL	(VOCAB_ON_INSERT | VOCAB_ON_UPDATE | VOCAB_ON_DELETE)

/*
 * The operators, in the order of the hints ("use one of: ...").
 *
 * X(id, workflow spelling or NULL, rule spelling, value, field, trigger,
 *	 index, events)
 */
#define AUTOMATION_OPERATORS(X) \
	X(EQUALS, "equals", "EQUALS", SCALAR, ANY, LEVEL, VALUE, VOCAB_ON_ALL) \
	X(NOT_EQUALS, "not_equals", "NOT_EQUALS", SCALAR, ANY, LEVEL, NONE, VOCAB_ON_ALL) \
	X(IN, NULL, "IN", LIST, ANY, LEVEL, VALUE, VOCAB_ON_ALL) \
	X(NOT_IN, NULL, "NOT_IN", LIST, ANY, LEVEL, NONE, VOCAB_ON_ALL) \
	X(GREATER_THAN, "greater_than", "GT", ORDERED, ORDERED, LEVEL, GT, VOCAB_ON_ALL) \
	X(GREATER_EQUAL, NULL, "GTE", ORDERED, ORDERED, LEVEL, GTE, VOCAB_ON_ALL) \
	X(LESS_THAN, "less_than", "LT", ORDERED, ORDERED, LEVEL, LT, VOCAB_ON_ALL) \
	X(LESS_EQUAL, NULL, "LTE", ORDERED, ORDERED, LEVEL, LTE, VOCAB_ON_ALL) \
	X(CONTAINS, "contains", "CONTAINS", STRING, TEXT_ARRAY, LEVEL, NONE, VOCAB_ON_ALL) \
	X(NOT_CONTAINS, NULL, "NOT_CONTAINS", STRING, TEXT_ARRAY, LEVEL, NONE, VOCAB_ON_ALL) \
	X(STARTS_WITH, NULL, "STARTS_WITH", STRING, TEXT, LEVEL, NONE, VOCAB_ON_ALL) \
	X(ENDS_WITH, NULL, "ENDS_WITH", STRING, TEXT, LEVEL, NONE, VOCAB_ON_ALL) \
	X(EXISTS, NULL, "EXISTS", FLAG, ANY, LEVEL, NONE, VOCAB_ON_ALL) \
	X(NOT_EXISTS, NULL, "NOT_EXISTS", FLAG, ANY, LEVEL, NONE, VOCAB_ON_ALL) \
	X(CHANGED, "changed", "CHANGED", FLAG, ANY, EDGE, EDGE, VOCAB_ON_INSERT | VOCAB_ON_UPDATE) \
	X(CHANGED_TO, "changed_to", "CHANGED_TO", SCALAR, ANY, EDGE, VALUE, VOCAB_ON_INSERT | VOCAB_ON_UPDATE) \
	X(CHANGED_FROM, NULL, "CHANGED_FROM", SCALAR, ANY, EDGE, EDGE, VOCAB_ON_UPDATE) \
	X(WITHIN_LAST, "within_last", "WITHIN_LAST", INTERVAL, DATE, CLOCK, CLOCK, VOCAB_ON_ALL) \
	X(WITHIN_NEXT, "within_next", "WITHIN_NEXT", INTERVAL, DATE, CLOCK, CLOCK, VOCAB_ON_ALL) \
	X(OLDER_THAN, "older_than", "OLDER_THAN", INTERVAL, DATE, CLOCK, CLOCK, VOCAB_ON_ALL)

/*
 * Where an action runs:
 *
 *	 HTTP		the worker, an HTTP(S) request to the config's url
 *	 CHANNEL	the worker, an HTTP(S) request to a channel's url
 *	 EMAIL		the worker, SMTP
 *	 DATABASE	inside the database: automation.execute_job (the worker
 *				calls it, or automation.run_database_jobs())
 */
typedef enum VocabRuns
{
	VOCAB_RUNS_HTTP,
	VOCAB_RUNS_CHANNEL,
	VOCAB_RUNS_EMAIL,
	VOCAB_RUNS_DATABASE
} VocabRuns;

/*
 * The action types, in the order of the hints.  Keys are comma-separated;
 * keys NULL: any column of the table watched as task (create_task); every
 * action also takes delay_minutes.  Defaults are key=value pairs filled in
 * when the key is absent (the stored config carries them).
 *
 * X(id, workflow spelling or NULL, rule spelling, jobs.action_type, runs,
 *	 keys, required keys, defaults)
 */
#define AUTOMATION_ACTION_TYPES(X) \
	X(WEBHOOK, "webhook", "WEBHOOK", "webhook", HTTP, \
	  "url,method,headers,body", "url", "") \
	X(SEND_CHANNEL_MESSAGE, "send_channel_message", "SEND_CHANNEL_MESSAGE", "send_channel_message", CHANNEL, \
	  "channel,recipient,message", "channel,message", "") \
	X(SEND_EMAIL, "send_email", "SEND_EMAIL", "send_email", EMAIL, \
	  "to,subject,body,cc,bcc,reply_to", "to,subject,body", "") \
	X(UPDATE_FIELD, "update_field", "UPDATE_FIELD", "update_field", DATABASE, \
	  "field,value", "field,value", "") \
	X(CREATE_TASK, "create_task", "CREATE_TASK", "create_task", DATABASE, \
	  NULL, "", "") \
	X(ASSIGN_USER, NULL, "ASSIGN_USER", "assign_user", DATABASE, \
	  "assign_pool_id,assign_field", "assign_pool_id", "assign_field=owner_id") \
	X(CHANGE_STAGE, NULL, "CHANGE_STAGE", "change_stage", DATABASE, \
	  "stage_id,stage_field", "stage_id", "stage_field=stage_id") \
	X(TAG, NULL, "TAG", "tag", DATABASE, \
	  "tag,tags_field", "tag", "tags_field=tags") \
	X(UNTAG, NULL, "UNTAG", "untag", DATABASE, \
	  "tag,tags_field", "tag", "tags_field=tags") \
	X(NOTIFY, NULL, "NOTIFY", "notify", DATABASE, \
	  "recipient,message", "recipient,message", "")

/* The enums: OPERATOR_EQUALS, ..., ACTION_WEBHOOK, ... */
#define VOCAB_OPERATOR_ENUM(id, wf, rule, value, field, trigger, index, events) OPERATOR_##id,
typedef enum ConditionOperator
{
	AUTOMATION_OPERATORS(VOCAB_OPERATOR_ENUM)
} ConditionOperator;
#undef VOCAB_OPERATOR_ENUM

#define VOCAB_ACTION_ENUM(id, wf, rule, job, runs, keys, required, defaults) ACTION_##id,
typedef enum ActionType
{
	AUTOMATION_ACTION_TYPES(VOCAB_ACTION_ENUM)
} ActionType;
#undef VOCAB_ACTION_ENUM

/*
 * How many: macros, not enum members, so that a switch over the enum
 * without a default is checked for every value (-Wswitch).
 */
#define VOCAB_COUNT_ONE(...) + 1
#define OPERATOR_COUNT (0 AUTOMATION_OPERATORS(VOCAB_COUNT_ONE))
#define ACTION_COUNT (0 AUTOMATION_ACTION_TYPES(VOCAB_COUNT_ONE))

/* One operator's entry; VOCAB_OPERATOR_TABLE initialises an array of them. */
typedef struct VocabOperator
{
	const char *workflow;		/* NULL: rules only */
	const char *rule;
	VocabValue	value;
	VocabField	field;
	VocabTrigger trigger;
	VocabIndex	index;
	int			events;			/* VOCAB_ON_* */
} VocabOperator;

#define VOCAB_OPERATOR_ENTRY(id, wf, rule, value, field, trigger, index, events) \
	{wf, rule, VOCAB_VALUE_##value, VOCAB_FIELD_##field, VOCAB_TRIGGER_##trigger, \
	 VOCAB_INDEX_##index, events},
#define VOCAB_OPERATOR_TABLE { AUTOMATION_OPERATORS(VOCAB_OPERATOR_ENTRY) }

/* One action type's entry; VOCAB_ACTION_TABLE initialises an array of them. */
typedef struct VocabAction
{
	const char *workflow;		/* NULL: rules only */
	const char *rule;
	const char *job;			/* jobs.action_type */
	VocabRuns	runs;
	const char *keys;			/* NULL: columns of the task table */
	const char *required;
	const char *defaults;
} VocabAction;

#define VOCAB_ACTION_ENTRY(id, wf, rule, job, runs, keys, required, defaults) \
	{wf, rule, job, VOCAB_RUNS_##runs, keys, required, defaults},
#define VOCAB_ACTION_TABLE { AUTOMATION_ACTION_TYPES(VOCAB_ACTION_ENTRY) }

/*
 * The lower-case names of the enums' values, as SQL and the docs spell
 * them (index "value", runs "database", ...), for the generator.
 */
#define VOCAB_VALUE_NAMES	{"scalar", "ordered", "string", "list", "flag", "interval"}
#define VOCAB_FIELD_NAMES	{"any", "text", "text_array", "ordered", "date"}
#define VOCAB_TRIGGER_NAMES {"level", "edge", "clock"}
#define VOCAB_INDEX_NAMES	{"none", "value", "edge", "gt", "gte", "lt", "lte", "clock"}
#define VOCAB_RUNS_NAMES	{"http", "channel", "email", "database"}

#endif							/* AUTOMATION_VOCABULARY_H */
