/*-------------------------------------------------------------------------
 *
 * breaker.c
 *	  Exact daily circuit breakers for workflows, in shared memory.
 *
 * Invariants:
 *	- One BreakerEntry per (database, workflow) in a shared hash protected by
 *	  one LWLock, held only for a few instructions; no transaction waits for
 *	  another to commit.
 *	- A firing reserves a slot (reserved++) when committed + reserved < max.
 *	  At commit the slot becomes committed; at abort (or the abort of the
 *	  subtransaction that took it) it is returned.  So at most max firings
 *	  commit per UTC day, under any concurrency.
 *	- A firing is refused while committed + reserved slots fill the budget.
 *	  Only a refusal when committed slots and this transaction's own fill it
 *	  trips the breaker
 *	  (tripped = true), so a budget held by transactions that later abort is
 *	  not lost: the next firing takes the returned slot, and exactly max
 *	  firings commit.  Only the tripping transaction disables the workflow
 *	  and raises the alert; if it aborts, the trip is undone.
 *	- After a restart an entry is rebuilt on first use from automation.firings
 *	  (outcome 'fired' since the start of the UTC day or the last reset).
 *	- A prepared transaction's slots count as committed at PREPARE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "automation.h"

#define BREAKER_MAX_ENTRIES 20000
#define WORKFLOW_ID_SIZE 64

typedef struct BreakerKey
{
	Oid			database;
	char		workflow_id[WORKFLOW_ID_SIZE];
} BreakerKey;

typedef struct BreakerEntry
{
	BreakerKey	key;
	int32		day;			/* UTC day number the counts are for */
	int32		committed;
	int32		reserved;
	bool		tripped;
	TimestampTz tripped_at;
} BreakerEntry;

/* A slot or trip this backend holds until its (sub)transaction ends. */
typedef struct Reservation
{
	BreakerKey	key;
	int32		day;
	int			nest_level;
	bool		is_trip;		/* the trip flag, not a slot */
	bool		is_reset;		/* enable_workflow's fresh budget, at commit */
} Reservation;

static LWLock *breaker_lock = NULL;
static HTAB *breaker_table = NULL;
static List *reservations = NIL;

PG_FUNCTION_INFO_V1(automation_breaker_state);
PG_FUNCTION_INFO_V1(automation_breaker_reset);

static void breaker_xact_callback(XactEvent event, void *arg);
static void breaker_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
									 SubTransactionId parentSubid, void *arg);

static int32
utc_day(void)
{
	return (int32) ((GetCurrentTimestamp() / USECS_PER_SEC +
					 (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)
					/ SECS_PER_DAY);
}

/*
 * automation_breaker_shmem_request
 *		shmem_request_hook part: room for the table and its lock.
 */
void
automation_breaker_shmem_request(void)
{
	RequestAddinShmemSpace(hash_estimate_size(BREAKER_MAX_ENTRIES, sizeof(BreakerEntry)));
	RequestNamedLWLockTranche("automation_breakers", 1);
}

/*
 * automation_breaker_shmem_startup
 *		shmem_startup_hook part: attach to (or create) the table.
 */
void
automation_breaker_shmem_startup(void)
{
	HASHCTL		info;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	breaker_lock = &(GetNamedLWLockTranche("automation_breakers"))->lock;
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(BreakerKey);
	info.entrysize = sizeof(BreakerEntry);
	breaker_table = ShmemInitHash("automation breakers", 1024, BREAKER_MAX_ENTRIES,
								  &info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/*
 * automation_breaker_init
 *		Backend-local callbacks that settle reservations.  From _PG_init.
 */
void
automation_breaker_init(void)
{
	RegisterXactCallback(breaker_xact_callback, NULL);
	RegisterSubXactCallback(breaker_subxact_callback, NULL);
}

static void
make_key(BreakerKey *key, const char *workflow_id)
{
	memset(key, 0, sizeof(*key));
	key->database = MyDatabaseId;
	strlcpy(key->workflow_id, workflow_id, WORKFLOW_ID_SIZE);
}

static void
check_shmem(void)
{
	if (breaker_table == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("automation must be loaded via shared_preload_libraries"),
				 errhint("Add 'automation' to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * count_committed_today
 *		Rebuild a count from automation.firings (after a restart).
 */
static int32
count_committed_today(const char *workflow_id)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	int32		count = 0;

	values[0] = CStringGetTextDatum(workflow_id);
	SPI_connect();
	if (SPI_execute_with_args("SELECT count(*)::int4 FROM automation.firings f "
							  "WHERE f.workflow_id = $1 AND f.outcome = 'fired' "
							  "AND f.fired_at >= greatest(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', "
							  " (SELECT w.breaker_reset_at FROM automation.workflows w WHERE w.id = $1))",
							  1, argtypes, values, NULL, true, 0) == SPI_OK_SELECT &&
		SPI_processed == 1)
		count = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return count;
}

static void
remember(BreakerKey *key, int32 day, bool is_trip, bool is_reset)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	Reservation *r = palloc(sizeof(Reservation));

	r->key = *key;
	r->day = day;
	r->nest_level = GetCurrentTransactionNestLevel();
	r->is_trip = is_trip;
	r->is_reset = is_reset;
	reservations = lappend(reservations, r);
	MemoryContextSwitchTo(old);
}

/*
 * automation_breaker_reserve
 *		Take one of today's slots for a workflow.  Returns false when the
 *		budget is spent; *trip is then true for the one caller that must
 *		disable the workflow and raise the alert.
 */
bool
automation_breaker_reserve(const char *workflow_id, int max_per_day, bool *trip)
{
	BreakerKey	key;
	BreakerEntry *entry;
	bool		found;
	int32		today = utc_day();
	bool		ok;
	int32		own = 0;
	ListCell   *lc;

	check_shmem();
	*trip = false;
	make_key(&key, workflow_id);

	/* slots this transaction holds commit or abort with it */
	foreach(lc, reservations)
	{
		Reservation *r = lfirst(lc);

		if (!r->is_trip && !r->is_reset && r->day == today && memcmp(&r->key, &key, sizeof(key)) == 0)
			own++;
	}

	LWLockAcquire(breaker_lock, LW_EXCLUSIVE);
	entry = hash_search(breaker_table, &key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		int32		committed;

		LWLockRelease(breaker_lock);
		committed = count_committed_today(workflow_id);
		LWLockAcquire(breaker_lock, LW_EXCLUSIVE);
		entry = hash_search(breaker_table, &key, HASH_ENTER_NULL, &found);
		if (entry == NULL)
		{
			LWLockRelease(breaker_lock);
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("too many workflows with circuit breakers"),
					 errdetail("The shared table holds at most %d workflows.", BREAKER_MAX_ENTRIES)));
		}
		if (!found)
		{
			entry->day = today;
			entry->committed = committed;
			entry->reserved = 0;
			entry->tripped = false;
			entry->tripped_at = 0;
		}
	}
	if (entry->day != today)
	{
		entry->day = today;
		entry->committed = 0;
		entry->reserved = 0;
		entry->tripped = false;
	}
	ok = entry->committed + entry->reserved < max_per_day;
	if (ok)
		entry->reserved++;
	else if (!entry->tripped && entry->committed + own >= max_per_day)
	{
		entry->tripped = true;
		entry->tripped_at = GetCurrentTimestamp();
		*trip = true;
	}
	LWLockRelease(breaker_lock);

	if (ok || *trip)
		remember(&key, today, !ok, false);
	return ok;
}

/*
 * automation_breaker_used
 *		Today's slots of a workflow that are taken (committed, or reserved by
 *		open transactions), without taking one: what the next reservation
 *		will be measured against.  From shared memory, or counted from
 *		automation.firings when no firing has touched it since the start.
 *		The caller reads as the extension owner.
 */
int32
automation_breaker_used(const char *workflow_id)
{
	BreakerKey	key;
	BreakerEntry *entry;
	int32		today = utc_day();
	int32		used = -1;

	check_shmem();
	make_key(&key, workflow_id);
	LWLockAcquire(breaker_lock, LW_SHARED);
	entry = hash_search(breaker_table, &key, HASH_FIND, NULL);
	if (entry != NULL)
		used = entry->day == today ? entry->committed + entry->reserved : 0;
	LWLockRelease(breaker_lock);
	return used >= 0 ? used : count_committed_today(workflow_id);
}

/*
 * settle
 *		Commit or return the reservations of nest level >= level.
 */
static void
settle(bool commit, int level)
{
	ListCell   *lc;
	List	   *kept = NIL;

	if (reservations == NIL || breaker_table == NULL)
		return;
	LWLockAcquire(breaker_lock, LW_EXCLUSIVE);
	foreach(lc, reservations)
	{
		Reservation *r = lfirst(lc);
		BreakerEntry *entry;

		if (r->nest_level < level)
		{
			/* the list outlives the (sub)transaction's memory */
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			kept = lappend(kept, r);
			MemoryContextSwitchTo(old);
			continue;
		}
		entry = hash_search(breaker_table, &r->key, HASH_FIND, NULL);
		if (entry != NULL && r->is_reset)
		{
			if (commit)
			{
				entry->committed = 0;
				entry->tripped = false;
			}
		}
		else if (entry != NULL && entry->day == r->day)
		{
			if (r->is_trip)
			{
				if (!commit)
					entry->tripped = false;
			}
			else
			{
				entry->reserved--;
				if (commit)
					entry->committed++;
			}
		}
		pfree(r);
	}
	LWLockRelease(breaker_lock);
	list_free(reservations);
	reservations = kept;
}

static void
breaker_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			settle(true, 0);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			settle(false, 0);
			break;
		default:
			break;
	}
}

static void
breaker_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;
	int			level = GetCurrentTransactionNestLevel();

	if (event == SUBXACT_EVENT_ABORT_SUB)
		settle(false, level);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, reservations)
		{
			Reservation *r = lfirst(lc);

			if (r->nest_level >= level)
				r->nest_level = level - 1;
		}
	}
}

/*
 * caller_may_update_workflow
 *		The caller (not the owner) can lock the workflow for update: it has
 *		the privilege and row-level security shows it the row as its own.
 */
static bool
caller_may_update_workflow(const char *workflow_id)
{
	Datum		values[1];
	bool		ok;

	values[0] = CStringGetTextDatum(workflow_id);
	SPI_connect();
	ok = SPI_execute_with_args("SELECT 1 FROM automation.workflows w "
							   "WHERE w.id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
							   1, (Oid[]) {TEXTOID}, values, NULL, false, 1) == SPI_OK_SELECT &&
		SPI_processed == 1;
	SPI_finish();
	return ok;
}

/*
 * automation_breaker_reset
 *		Fresh budget for a workflow (enable_workflow), when the transaction
 *		commits; a rollback changes nothing.  Only for a workflow the caller
 *		may update (42501 otherwise): a tenant cannot lift another tenant's,
 *		or a global, breaker.  SQL: automation._breaker_reset(workflow_id text).
 */
Datum
automation_breaker_reset(PG_FUNCTION_ARGS)
{
	BreakerKey	key;
	char	   *workflow_id = text_to_cstring(PG_GETARG_TEXT_PP(0));

	check_shmem();
	if (!caller_may_update_workflow(workflow_id))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to reset the circuit breaker of workflow \"%s\"",
						workflow_id),
				 errhint("Only a role that may update the workflow can enable it.")));
	make_key(&key, workflow_id);
	remember(&key, utc_day(), false, true);
	PG_RETURN_VOID();
}

/*
 * automation_breaker_state
 *		The shared counts of this database's workflows that the caller may
 *		see (privileges and row-level security on automation.workflows):
 *		workflow_id, committed, reserved, tripped, tripped_at.  SQL:
 *		automation._breaker_state().
 */
Datum
automation_breaker_state(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS status;
	BreakerEntry *entry;
	int32		today = utc_day();

	HTAB	   *visible;
	HASHCTL		ctl;

	check_shmem();
	InitMaterializedSRF(fcinfo, 0);

	/* only the workflows the caller may see (privileges, row-level security) */
	SPI_connect();
	if (SPI_execute("SELECT w.id FROM automation.workflows w", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read automation.workflows");
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = WORKFLOW_ID_SIZE;
	ctl.entrysize = WORKFLOW_ID_SIZE;
	ctl.hcxt = rsinfo->econtext->ecxt_per_query_memory;
	visible = hash_create("automation visible workflows", Max(SPI_processed, 16), &ctl,
						  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char		id[WORKFLOW_ID_SIZE];

		strlcpy(id, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1),
				WORKFLOW_ID_SIZE);
		(void) hash_search(visible, id, HASH_ENTER, NULL);
	}
	SPI_finish();

	LWLockAcquire(breaker_lock, LW_SHARED);
	hash_seq_init(&status, breaker_table);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		if (entry->key.database != MyDatabaseId ||
			hash_search(visible, entry->key.workflow_id, HASH_FIND, NULL) == NULL)
			continue;
		values[0] = CStringGetTextDatum(entry->key.workflow_id);
		values[1] = Int32GetDatum(entry->day == today ? entry->committed : 0);
		values[2] = Int32GetDatum(entry->day == today ? entry->reserved : 0);
		values[3] = BoolGetDatum(entry->day == today && entry->tripped);
		values[4] = TimestampTzGetDatum(entry->tripped_at);
		nulls[4] = !(entry->day == today && entry->tripped);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(breaker_lock);
	return (Datum) 0;
}
