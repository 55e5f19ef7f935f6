/*-------------------------------------------------------------------------
 *
 * breaker.c
 *	  Exact daily circuit breakers for workflows, in bounded shared memory.
 *
 * Invariants:
 *	- A firing counts for the UTC day of its transaction's start: now(), the
 *	  day of the firing's fired_at, so the counts in memory and the rows that
 *	  rebuild them agree, before and after a restart.
 *	- One BreakerEntry per (database, workflow) in a shared hash of at most
 *	  BREAKER_MAX_ENTRIES entries, all allocated at startup (HASH_FIXED_SIZE):
 *	  it never takes shared memory that other tables (the lock manager) need.
 *	  It is protected by one LWLock, held only for a few instructions, or a
 *	  scan of the table when it is full; no transaction waits for another to
 *	  commit while the entry exists.
 *	- An entry keeps two days (by parity): the transaction's day and the one
 *	  before, so a transaction that crosses midnight still counts against the
 *	  day it started.  A slot of a day is built from automation.firings
 *	  (outcome 'fired' that day, since the last reset) when first used.  A
 *	  transaction that started before yesterday (UTC) fires no workflow.
 *	- A firing reserves a slot (reserved++) when committed + reserved < max.
 *	  At commit the slot becomes committed; at abort (or the abort of the
 *	  subtransaction that took it) it is returned.  So at most max firings
 *	  commit per UTC day, under any concurrency.
 *	- A firing is refused while committed + reserved slots fill the budget.
 *	  Only a refusal when committed slots and this transaction's own fill it
 *	  trips the breaker (tripped = true), so a budget held by transactions
 *	  that later abort is not lost.  Only the tripping transaction disables
 *	  the workflow and raises the alert; if it aborts, the trip is undone.
 *	- enable_workflow's fresh budget (a reset) is settled at commit, before
 *	  the transaction's own slots; until then the enabling transaction
 *	  itself (its enrollment, its writes) counts against that fresh budget:
 *	  no committed slot, its own and others' reservations (backtest.c).
 *	- An entry whose slots hold no reservation and no trip of a live day can
 *	  be evicted: its counts are in the rows.  Entries of deleted workflows
 *	  and dropped databases go that way.  Eviction runs when the table is
 *	  full.
 *	- Degraded mode, when the table is full of entries that cannot be
 *	  evicted: a workflow without an entry is counted from its rows under a
 *	  transaction-level advisory lock per workflow (database, hash of the id,
 *	  class BREAKER_LOCK_CLASS), taken once per transaction and held to its
 *	  end.  It is exact (committed rows of the day, seen with a fresh
 *	  snapshot, plus this transaction's own), never errors, and serialises
 *	  the transactions that fire that workflow.  An entry is only created
 *	  under the same lock, so no degraded firing is in flight while an entry
 *	  exists.
 *	- A transaction holding breaker state (a slot, a trip, a reset, a
 *	  degraded count) cannot be prepared (PREPARE TRANSACTION, 0A000): its
 *	  slots would outlive the backend that settles them.
 *	- This transaction's reservations are a stack (nest levels never
 *	  decrease along it) and its own slots per workflow a counter in a
 *	  backend-local hash: a firing costs constant time, a subtransaction's
 *	  end touches only its own reservations.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "automation.h"

#define BREAKER_MAX_ENTRIES 20000
#define WORKFLOW_ID_SIZE 64
#define BREAKER_LOCK_CLASS 0x4155	/* advisory lock field4: user locks use 1, 2 */
#define NO_DAY PG_INT32_MIN

typedef struct BreakerKey
{
	Oid			database;
	char		workflow_id[WORKFLOW_ID_SIZE];
} BreakerKey;

typedef struct BreakerDay
{
	int32		day;			/* days since 2000-01-01 UTC, or NO_DAY */
	int32		committed;
	int32		reserved;
	bool		tripped;
	TimestampTz tripped_at;
} BreakerDay;

typedef struct BreakerEntry
{
	BreakerKey	key;
	BreakerDay	days[2];		/* days[day & 1] */
} BreakerEntry;

typedef struct BreakerShared
{
	int64		settled;		/* slots freed (reserved back to 0) ... */
	int64		settled_at_scan;	/* ... at the last eviction scan */
	int32		scan_day;		/* wall-clock day of the last scan */
} BreakerShared;

/* This transaction's state for one workflow (backend-local). */
typedef struct LocalKey
{
	BreakerKey	key;
	int32		own;			/* live slots this transaction holds */
	bool		degraded;		/* counted from rows, under the lock */
	int32		base;			/* degraded: committed rows at the lock */
	bool		enabled;		/* degraded: the workflow was enabled */
	bool		tripped;		/* degraded, or after reset: this
								 * transaction tripped it */
	bool		reset;			/* this transaction enabled the workflow:
								 * it counts against the fresh budget its
								 * commit will give (enrollment) */
} LocalKey;

typedef enum ReservationKind
{
	RES_SLOT,					/* a slot in the shared entry */
	RES_DEGRADED,				/* a slot counted from rows */
	RES_TRIP,					/* the trip flag in the shared entry */
	RES_DEGRADED_TRIP,			/* the trip of a workflow counted from rows */
	RES_RESET					/* enable_workflow's fresh budget, at commit */
} ReservationKind;

/* A slot, trip or reset this backend holds until its (sub)transaction ends. */
typedef struct Reservation
{
	LocalKey   *local;
	int			nest_level;
	ReservationKind kind;
} Reservation;

static LWLock *breaker_lock = NULL;
static HTAB *breaker_table = NULL;
static BreakerShared *breaker_shared = NULL;

static HTAB *local_keys = NULL;
static Reservation *reservations = NULL;
static int	nreservations = 0;
static int	reservations_capacity = 0;
static bool any_degraded = false;
static SPIPlanPtr count_plan = NULL;

PG_FUNCTION_INFO_V1(automation_breaker_state);
PG_FUNCTION_INFO_V1(automation_breaker_reset);

static void breaker_xact_callback(XactEvent event, void *arg);
static void breaker_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
									 SubTransactionId parentSubid, void *arg);

static int32
day_of(TimestampTz t)
{
	return (int32) (t / USECS_PER_DAY - (t % USECS_PER_DAY < 0 ? 1 : 0));
}

/* the day a firing of this transaction counts for: that of now(), fired_at */
static int32
xact_day(void)
{
	return day_of(GetCurrentTransactionStartTimestamp());
}

static int32
wall_day(void)
{
	return day_of(GetCurrentTimestamp());
}

/*
 * automation_breaker_shmem_request
 *		shmem_request_hook part: room for the table, its state and its lock.
 */
void
automation_breaker_shmem_request(void)
{
	RequestAddinShmemSpace(add_size(hash_estimate_size(BREAKER_MAX_ENTRIES,
													   sizeof(BreakerEntry)),
									MAXALIGN(sizeof(BreakerShared))));
	RequestNamedLWLockTranche("automation_breakers", 1);
}

/*
 * automation_breaker_shmem_startup
 *		shmem_startup_hook part: attach to (or create) the table.  Every
 *		element is allocated here: the table never grows.
 */
void
automation_breaker_shmem_startup(void)
{
	HASHCTL		info;
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	breaker_lock = &(GetNamedLWLockTranche("automation_breakers"))->lock;
	breaker_shared = ShmemInitStruct("automation breaker state", sizeof(BreakerShared), &found);
	if (!found)
		memset(breaker_shared, 0, sizeof(BreakerShared));
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(BreakerKey);
	info.entrysize = sizeof(BreakerEntry);
	breaker_table = ShmemInitHash("automation breakers",
								  BREAKER_MAX_ENTRIES, BREAKER_MAX_ENTRIES,
								  &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
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

/* this transaction's state for a workflow, created on first use */
static LocalKey *
local_key(const char *workflow_id)
{
	BreakerKey	key;
	LocalKey   *local;
	bool		found;

	if (local_keys == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(BreakerKey);
		ctl.entrysize = sizeof(LocalKey);
		ctl.hcxt = TopMemoryContext;
		local_keys = hash_create("automation breaker reservations", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	make_key(&key, workflow_id);
	local = hash_search(local_keys, &key, HASH_ENTER, &found);
	if (!found)
	{
		local->own = 0;
		local->degraded = false;
		local->base = 0;
		local->enabled = false;
		local->tripped = false;
		local->reset = false;
	}
	return local;
}

static void
remember(LocalKey *local, ReservationKind kind)
{
	if (nreservations == reservations_capacity)
	{
		int			capacity = Max(64, reservations_capacity * 2);

		if (reservations == NULL)
			reservations = MemoryContextAlloc(TopMemoryContext, capacity * sizeof(Reservation));
		else
			reservations = repalloc(reservations, capacity * sizeof(Reservation));
		reservations_capacity = capacity;
	}
	reservations[nreservations].local = local;
	reservations[nreservations].nest_level = GetCurrentTransactionNestLevel();
	reservations[nreservations].kind = kind;
	nreservations++;
	if (kind == RES_SLOT || kind == RES_DEGRADED)
		local->own++;
}

/*
 * count_fired
 *		A workflow's firings that count for a day, from automation.firings
 *		(outcome 'fired' that day, since the last reset), with a fresh
 *		snapshot: committed rows and this transaction's own, whatever the
 *		isolation level.  *enabled: the workflow is enabled.  The caller
 *		reads as the extension owner.
 */
static int32
count_fired(const char *workflow_id, int32 day, bool *enabled)
{
	Datum		values[3];
	bool		isnull;
	int32		count = 0;
	bool		on = false;

	SPI_connect();
	if (count_plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare("SELECT (SELECT count(*)::int4 FROM automation.firings f "
									   "  WHERE f.workflow_id = $1 AND f.outcome = 'fired' "
									   "  AND f.fired_at >= greatest($2, (SELECT w.breaker_reset_at "
									   "    FROM automation.workflows w WHERE w.id = $1)) "
									   "  AND f.fired_at < $3), "
									   " coalesce((SELECT w.enabled FROM automation.workflows w "
									   "  WHERE w.id = $1), false)",
									   3, (Oid[]) {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID});

		if (plan == NULL)
			elog(ERROR, "could not prepare automation breaker count: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		count_plan = plan;
	}
	values[0] = CStringGetTextDatum(workflow_id);
	values[1] = TimestampTzGetDatum((TimestampTz) day * USECS_PER_DAY);
	values[2] = TimestampTzGetDatum((TimestampTz) (day + 1) * USECS_PER_DAY);
	if (SPI_execute_snapshot(count_plan, values, NULL, GetLatestSnapshot(),
							 InvalidSnapshot, true, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not count automation firings");
	count = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	on = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();
	if (enabled)
		*enabled = on;
	return count;
}

/* the lock that serialises a workflow's degraded firings and entry creation */
static void
workflow_lock_tag(LOCKTAG *tag, const BreakerKey *key)
{
	uint64		h = hash_bytes_extended((const unsigned char *) key->workflow_id,
										strlen(key->workflow_id), 0);

	SET_LOCKTAG_ADVISORY(*tag, key->database, (uint32) (h >> 32), (uint32) h,
						 BREAKER_LOCK_CLASS);
}

/* take (wait) or release it, held by the top transaction */
static void
workflow_lock(const BreakerKey *key, bool acquire)
{
	LOCKTAG		tag;
	ResourceOwner save = CurrentResourceOwner;

	workflow_lock_tag(&tag, key);
	CurrentResourceOwner = TopTransactionResourceOwner;
	PG_TRY();
	{
		if (acquire)
			(void) LockAcquire(&tag, ExclusiveLock, false, false);
		else
			LockRelease(&tag, ExclusiveLock, false);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = save;
	}
	PG_END_TRY();
}

/* a slot holds nothing that rows cannot rebuild, or its day is over */
static bool
day_evictable(BreakerDay *d, int32 today)
{
	return d->day == NO_DAY || d->day < today - 1 ||
		(d->reserved == 0 && !d->tripped);
}

/*
 * make_room
 *		With the lock held exclusively: true if the table has room for one
 *		more entry, after evicting every evictable entry when it is full.
 *		A full scan only when a slot was freed or the day changed since the
 *		last one.
 */
static bool
make_room(void)
{
	HASH_SEQ_STATUS status;
	BreakerEntry *entry;
	int32		today = wall_day();

	if (hash_get_num_entries(breaker_table) < BREAKER_MAX_ENTRIES)
		return true;
	if (breaker_shared->settled == breaker_shared->settled_at_scan &&
		breaker_shared->scan_day == today)
		return false;
	breaker_shared->settled_at_scan = breaker_shared->settled;
	breaker_shared->scan_day = today;
	hash_seq_init(&status, breaker_table);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (day_evictable(&entry->days[0], today) && day_evictable(&entry->days[1], today))
			(void) hash_search(breaker_table, &entry->key, HASH_REMOVE, NULL);
	return hash_get_num_entries(breaker_table) < BREAKER_MAX_ENTRIES;
}

static void
init_day(BreakerDay *d, int32 day, int32 committed)
{
	d->day = day;
	d->committed = committed;
	d->reserved = 0;
	d->tripped = false;
	d->tripped_at = 0;
}

/*
 * reserve_degraded
 *		The table is full: count from the rows, under the workflow's lock
 *		(taken by the caller, held to the end of the transaction).
 */
static bool
reserve_degraded(LocalKey *local, int max_per_day, bool *trip)
{
	if (local->base + local->own < max_per_day)
	{
		remember(local, RES_DEGRADED);
		return true;
	}
	if (local->enabled && !local->tripped)
	{
		local->tripped = true;
		*trip = true;
		remember(local, RES_DEGRADED_TRIP);
	}
	return false;
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
	int32		day = xact_day();
	LocalKey   *local;

	check_shmem();
	*trip = false;
	local = local_key(workflow_id);

	/* its day's counts may be gone: see the header */
	if (day < wall_day() - 1)
		return false;
	if (local->degraded)
		return reserve_degraded(local, max_per_day, trip);

	for (;;)
	{
		BreakerEntry *entry;
		int32		committed;
		bool		found;

		CHECK_FOR_INTERRUPTS();
		LWLockAcquire(breaker_lock, LW_EXCLUSIVE);
		entry = hash_search(breaker_table, &local->key, HASH_FIND, NULL);
		if (entry != NULL)
		{
			BreakerDay *d = &entry->days[day & 1];
			bool		ok;

			if (d->day == day)
			{
				/*
				 * After enable_workflow in this transaction, the budget its
				 * commit gives: no committed firing counts (the reset is
				 * settled before this transaction's own slots).
				 */
				int32		counted = local->reset ? 0 : d->committed;

				ok = counted + d->reserved < max_per_day;
				if (ok)
					d->reserved++;
				else if (!(local->reset ? local->tripped : d->tripped) &&
						 counted + local->own >= max_per_day)
				{
					d->tripped = true;
					d->tripped_at = GetCurrentTimestamp();
					local->tripped = local->reset;
					*trip = true;
				}
				LWLockRelease(breaker_lock);
				if (ok)
					remember(local, RES_SLOT);
				else if (*trip)
					remember(local, RES_TRIP);
				return ok;
			}
			LWLockRelease(breaker_lock);
			if (d->day != NO_DAY && d->day > day)
				return false;	/* the entry is two days ahead of us */

			/* the first firing of this day: from the rows */
			committed = count_fired(workflow_id, day, NULL);
			LWLockAcquire(breaker_lock, LW_EXCLUSIVE);
			entry = hash_search(breaker_table, &local->key, HASH_FIND, NULL);
			if (entry != NULL && (entry->days[day & 1].day == NO_DAY ||
								  entry->days[day & 1].day < day))
				init_day(&entry->days[day & 1], day, committed);
			LWLockRelease(breaker_lock);
			continue;
		}
		LWLockRelease(breaker_lock);

		/*
		 * No entry: create it under the workflow's lock, after any degraded
		 * transaction of the workflow has ended, from the rows.
		 */
		workflow_lock(&local->key, true);
		LWLockAcquire(breaker_lock, LW_SHARED);
		entry = hash_search(breaker_table, &local->key, HASH_FIND, NULL);
		LWLockRelease(breaker_lock);
		if (entry != NULL)
		{
			workflow_lock(&local->key, false);
			continue;
		}
		committed = count_fired(workflow_id, day, &local->enabled);
		LWLockAcquire(breaker_lock, LW_EXCLUSIVE);
		if (make_room())
		{
			entry = hash_search(breaker_table, &local->key, HASH_ENTER_NULL, &found);
			if (entry != NULL && !found)
			{
				init_day(&entry->days[day & 1], day, committed);
				init_day(&entry->days[(day + 1) & 1], NO_DAY, 0);
			}
		}
		LWLockRelease(breaker_lock);
		if (entry != NULL)
		{
			workflow_lock(&local->key, false);
			continue;
		}

		/* full: degraded, keeping the lock to the end of the transaction */
		local->degraded = true;
		local->base = committed;
		any_degraded = true;
		return reserve_degraded(local, max_per_day, trip);
	}
}

/*
 * automation_breaker_used
 *		Today's slots of a workflow that are taken (committed, or reserved by
 *		open transactions), without taking one: what the next reservation
 *		will be measured against.  From shared memory, or counted from
 *		automation.firings when the table has no entry for it.  The caller
 *		reads as the extension owner.
 */
int32
automation_breaker_used(const char *workflow_id)
{
	BreakerKey	key;
	BreakerEntry *entry;
	int32		day = xact_day();
	int32		used = -1;

	check_shmem();
	make_key(&key, workflow_id);
	LWLockAcquire(breaker_lock, LW_SHARED);
	entry = hash_search(breaker_table, &key, HASH_FIND, NULL);
	if (entry != NULL && entry->days[day & 1].day == day)
		used = entry->days[day & 1].committed + entry->days[day & 1].reserved;
	LWLockRelease(breaker_lock);
	return used >= 0 ? used : count_fired(workflow_id, day, NULL);
}

/* apply one reservation to the shared entry (lock held exclusively) */
static void
settle_shared(Reservation *r, bool commit, int32 day)
{
	BreakerEntry *entry = hash_search(breaker_table, &r->local->key, HASH_FIND, NULL);
	BreakerDay *d;

	if (entry == NULL)
		return;
	if (r->kind == RES_RESET)
	{
		if (!commit)
			return;
		/* a fresh budget: the rows rebuild it, since breaker_reset_at */
		if (entry->days[0].reserved == 0 && entry->days[1].reserved == 0)
			(void) hash_search(breaker_table, &r->local->key, HASH_REMOVE, NULL);
		else
			for (int i = 0; i < 2; i++)
			{
				entry->days[i].committed = 0;
				entry->days[i].tripped = false;
			}
		return;
	}
	d = &entry->days[day & 1];
	if (d->day != day)
		return;					/* that day's counts are gone */
	if (r->kind == RES_TRIP)
	{
		if (!commit)
			d->tripped = false;
		return;
	}
	d->reserved--;
	if (commit)
		d->committed++;
	if (d->reserved == 0)
		breaker_shared->settled++;
}

/*
 * settle
 *		Commit or return the reservations of nest level >= level: the top of
 *		the stack.  level 0: the whole transaction, which ends.
 */
static void
settle(bool commit, int level)
{
	int			first = nreservations;
	bool		shared = false;
	int32		day = 0;

	while (first > 0 && reservations[first - 1].nest_level >= level)
	{
		first--;
		if (reservations[first].kind != RES_DEGRADED &&
			reservations[first].kind != RES_DEGRADED_TRIP)
			shared = true;
	}
	if (first < nreservations)
	{
		if (shared && breaker_table != NULL)
		{
			day = xact_day();
			LWLockAcquire(breaker_lock, LW_EXCLUSIVE);
			for (int i = first; i < nreservations; i++)
				if (reservations[i].kind != RES_DEGRADED &&
					reservations[i].kind != RES_DEGRADED_TRIP)
					settle_shared(&reservations[i], commit, day);
			LWLockRelease(breaker_lock);
		}
		if (!commit)
			for (int i = first; i < nreservations; i++)
			{
				Reservation *r = &reservations[i];

				if (r->kind == RES_SLOT || r->kind == RES_DEGRADED)
					r->local->own--;
				else if (r->kind == RES_DEGRADED_TRIP || r->kind == RES_TRIP)
					r->local->tripped = false;
				else if (r->kind == RES_RESET)
					r->local->reset = false;
			}
		nreservations = first;
	}
	if (level == 0)
	{
		/* the transaction is over: forget it */
		if (local_keys != NULL)
		{
			hash_destroy(local_keys);
			local_keys = NULL;
		}
		if (reservations_capacity > 4096)
		{
			pfree(reservations);
			reservations = NULL;
			reservations_capacity = 0;
		}
		nreservations = 0;
		any_degraded = false;
	}
}

static void
breaker_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (nreservations > 0 || any_degraded)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that fired or enabled a workflow"),
						 errdetail("Its circuit breaker slots are settled by the session that took them, at COMMIT or ROLLBACK."),
						 errhint("Fire workflows in a transaction that commits without two-phase commit.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			settle(true, 0);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
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
	int			level = GetCurrentTransactionNestLevel();

	if (event == SUBXACT_EVENT_ABORT_SUB)
		settle(false, level);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		/* the parent takes them over: the top of the stack */
		for (int i = nreservations - 1; i >= 0 && reservations[i].nest_level >= level; i--)
			reservations[i].nest_level = level - 1;
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
	char	   *workflow_id = text_to_cstring(PG_GETARG_TEXT_PP(0));

	check_shmem();
	if (!caller_may_update_workflow(workflow_id))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to reset the circuit breaker of workflow \"%s\"",
						workflow_id),
				 errhint("Only a role that may update the workflow can enable it.")));
	remember(local_key(workflow_id), RES_RESET);
	local_key(workflow_id)->reset = true;
	PG_RETURN_VOID();
}

/*
 * automation_breaker_state
 *		The shared counts of this database's workflows that the caller may
 *		see (privileges and row-level security on automation.workflows), for
 *		the UTC day of now(): workflow_id, committed, reserved, tripped,
 *		tripped_at.  A workflow without an entry (evicted, or counted from
 *		rows while the table is full) has no row.  SQL:
 *		automation._breaker_state().
 */
Datum
automation_breaker_state(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS status;
	BreakerEntry *entry;
	int32		day = xact_day();

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
		BreakerDay *d = &entry->days[day & 1];

		if (entry->key.database != MyDatabaseId || d->day != day ||
			hash_search(visible, entry->key.workflow_id, HASH_FIND, NULL) == NULL)
			continue;
		values[0] = CStringGetTextDatum(entry->key.workflow_id);
		values[1] = Int32GetDatum(d->committed);
		values[2] = Int32GetDatum(d->reserved);
		values[3] = BoolGetDatum(d->tripped);
		values[4] = TimestampTzGetDatum(d->tripped_at);
		nulls[4] = !d->tripped;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(breaker_lock);
	return (Datum) 0;
}
