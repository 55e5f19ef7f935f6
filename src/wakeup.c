/*-------------------------------------------------------------------------
 *
 * wakeup.c
 *	  Coalesced wake-ups: committed jobs NOTIFY automation_jobs from a
 *	  background worker, never from the user's transaction.
 *
 * A transaction that enqueued jobs only sets bits (one per action type) in
 * its database's slot in shared memory when it commits, and sets a latch.
 * PostgreSQL serialises every notifying commit on one cluster-wide lock,
 * held through the commit's WAL flush; this keeps user commits off it.
 *
 * Processes:
 *	- the launcher (static background worker, restarted by the postmaster)
 *	  is connected to no database, which lets it read the shared catalog
 *	  pg_database (as the autovacuum and logical replication launchers do).
 *	  For a slot with pending bits and no notifier it looks the database up:
 *	  gone (or left invalid by an interrupted DROP DATABASE): it drops the
 *	  bits and frees the slot; not accepting connections (ALLOW_CONNECTIONS
 *	  false): it keeps the bits and looks again a second later, starting no
 *	  notifier that would only log a FATAL; otherwise it starts a notifier;
 *	- a notifier (dynamic background worker, one per database) takes the
 *	  pending bits atomically and sends one NOTIFY automation_jobs per action
 *	  type in one transaction, then waits automation.wakeup_interval ms
 *	  before looking again, so bursts coalesce; after a second with nothing
 *	  to send it exits (so DROP DATABASE is not held up) and frees its slot
 *	  if no bits are pending.
 *
 * Slots are held only by databases with pending bits or a notifier, so the
 * 64 slots bound the databases active at the same time, not over the
 * server's life.  A commit that finds no slot free sends no wake-up (its
 * jobs are in the table, workers poll): it counts itself in shared memory
 * and the launcher logs that once (then at most every ten minutes).
 *
 * No loops: a notifier that fails (exits with a non-zero code, e.g. a FATAL
 * while connecting, or never runs) counts a failure in its slot and the
 * launcher waits 1, 2, 4 ... 60 s before trying that slot again; a
 * successful send resets the count.  The launcher learns that the database
 * is gone from pg_database, not from the notifier's FATAL, so a dropped
 * database costs at most one FATAL line (a notifier that raced the drop).
 * The wait between two sends listens to the latch (SIGTERM from DROP
 * DATABASE ... WITH (FORCE) ends it at once) while a flag keeps committers
 * from setting that latch.
 *
 * Invariants:
 *	- A wake-up is never lost while its database exists: bits are set after
 *	  the jobs are visible (XACT_EVENT_COMMIT), and the notifier clears them
 *	  with an atomic exchange before sending, so bits set after a send cause
 *	  another send.  A notifier that exits re-checks its slot after
 *	  unregistering and pokes the launcher if bits arrived meanwhile.
 *	- Everything in a slot but pending is protected by the spinlock;
 *	  pending is atomic, but bits are only ever added under the spinlock, so
 *	  "pending == 0" seen under the spinlock lets a slot be freed without
 *	  losing a commit's bits (a committer either saw the slot as its own
 *	  and set bits first, or finds it free and claims one).
 *	- A slot is freed only when it has no notifier and none is starting.
 *	- The table, not the notification, is the source of truth: workers also
 *	  poll.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/async.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "actions.h"
#include "automation.h"

#define WAKEUP_MAX_DATABASES 64
#define NOTIFIER_IDLE_EXIT_MS 1000
#define LAUNCHER_NAP_MS 1000
#define CLOSED_RECHECK_MS 1000		/* ALLOW_CONNECTIONS false: look again */
#define RETRY_MAX_MS 60000			/* longest wait after failed notifiers */
#define LOG_REPEAT_MS (10 * 60 * 1000)	/* repeat a launcher warning */

/*
 * One pending bit per action type of the vocabulary (src/vocabulary.h):
 * bit i is ActionType i, notified as its jobs.action_type spelling.
 */
StaticAssertDecl(ACTION_COUNT <= 32, "one pending bit per action type in a uint32");

typedef struct WakeupSlot
{
	Oid			database;		/* InvalidOid: free */
	pg_atomic_uint32 pending;	/* bit i: ActionType i has new jobs */
	Latch	   *notifier;		/* NULL: no notifier running */
	bool		starting;		/* launcher registered one, not yet up */
	bool		coalescing;		/* notifier waits out the interval: no
								 * latch to set */
	int			failures;		/* notifiers that failed in a row */
	TimestampTz retry_at;		/* launcher starts none before this */
} WakeupSlot;

typedef struct WakeupShared
{
	slock_t		mutex;
	Latch	   *launcher;
	pg_atomic_uint64 sent;		/* NOTIFY transactions sent, for tests */
	pg_atomic_uint64 no_slot;	/* commits that found every slot taken */
	WakeupSlot	slots[WAKEUP_MAX_DATABASES];
} WakeupShared;

typedef enum DatabaseState
{
	DATABASE_OPEN,				/* a notifier can connect */
	DATABASE_CLOSED,			/* datallowconn false */
	DATABASE_GONE				/* dropped, or invalid (half dropped) */
} DatabaseState;

static WakeupShared *wakeup = NULL;
static uint32 transaction_pending = 0;
int			automation_wakeup_interval = 5;

void		automation_wakeup_launcher_main(Datum arg);
void		automation_wakeup_notifier_main(Datum arg);

static void wakeup_xact_callback(XactEvent event, void *arg);

/*
 * automation_wakeup_shmem_request / automation_wakeup_shmem_startup
 *		Shared state, from the module's shmem hooks.
 */
void
automation_wakeup_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(WakeupShared)));
}

void
automation_wakeup_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	wakeup = ShmemInitStruct("automation wakeup", sizeof(WakeupShared), &found);
	if (!found)
	{
		memset(wakeup, 0, sizeof(WakeupShared));
		SpinLockInit(&wakeup->mutex);
		pg_atomic_init_u64(&wakeup->sent, 0);
		pg_atomic_init_u64(&wakeup->no_slot, 0);
		for (int i = 0; i < WAKEUP_MAX_DATABASES; i++)
			pg_atomic_init_u32(&wakeup->slots[i].pending, 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * automation_wakeup_init
 *		Settings, the commit callback, and (when preloading) the launcher.
 */
void
automation_wakeup_init(void)
{
	BackgroundWorker worker;

	DefineCustomIntVariable("automation.wakeup_interval",
							"Minimum time between two NOTIFY automation_jobs of one database, in milliseconds.",
							"Wake-ups of the commits in between are folded into the next one.",
							&automation_wakeup_interval,
							5, 0, 10000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	RegisterXactCallback(wakeup_xact_callback, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	memset(&worker, 0, sizeof(worker));
	/* connected to no database: reads the shared catalog pg_database */
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "automation");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "automation_wakeup_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "automation wakeup launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "automation wakeup launcher");
	RegisterBackgroundWorker(&worker);
}

/*
 * automation_wakeup_request
 *		Remember that this transaction enqueued a job of this type; the
 *		wake-up happens when it commits.  Every type of the vocabulary has
 *		its bit; a type outside it is a bug, an error, never a job without
 *		its wake-up.
 */
void
automation_wakeup_request(ActionType type)
{
	if ((int) type < 0 || type >= ACTION_COUNT)
		elog(ERROR, "automation: no wake-up for action type %d: not in the vocabulary", (int) type);
	transaction_pending |= (uint32) 1 << type;
}

/* caller holds the spinlock; the slot has no notifier and none starting */
static void
free_slot(WakeupSlot *slot)
{
	slot->database = InvalidOid;
	pg_atomic_write_u32(&slot->pending, 0);
	slot->coalescing = false;
	slot->failures = 0;
	slot->retry_at = 0;
}

/*
 * signal_database
 *		Publish pending bits for the current database and wake whoever sends
 *		them.  Runs after commit: must not fail, and logs nothing (the
 *		launcher reports commits that found no slot).
 */
static void
signal_database(uint32 bits)
{
	WakeupSlot *slot = NULL;
	Latch	   *latch;

	if (wakeup == NULL)
		return;
	SpinLockAcquire(&wakeup->mutex);
	for (int i = 0; i < WAKEUP_MAX_DATABASES && slot == NULL; i++)
		if (wakeup->slots[i].database == MyDatabaseId)
			slot = &wakeup->slots[i];
	for (int i = 0; i < WAKEUP_MAX_DATABASES && slot == NULL; i++)
		if (wakeup->slots[i].database == InvalidOid)
		{
			slot = &wakeup->slots[i];
			slot->database = MyDatabaseId;
		}
	if (slot == NULL)
	{
		/* more active databases than slots: workers poll */
		latch = wakeup->launcher;
		SpinLockRelease(&wakeup->mutex);
		pg_atomic_fetch_add_u64(&wakeup->no_slot, 1);
		if (latch != NULL)
			SetLatch(latch);
		return;
	}
	/* bits are only added under the spinlock (see the header) */
	pg_atomic_fetch_or_u32(&slot->pending, bits);
	if (slot->coalescing)
		latch = NULL;			/* the notifier looks when its wait ends */
	else if (slot->notifier != NULL)
		latch = slot->notifier;
	else
		latch = wakeup->launcher;
	SpinLockRelease(&wakeup->mutex);
	if (latch != NULL)
		SetLatch(latch);
}

static void
wakeup_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (transaction_pending != 0)
				signal_database(transaction_pending);
			transaction_pending = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* a prepared transaction's jobs are found by polling */
			transaction_pending = 0;
			break;
		default:
			break;
	}
}

/*
 * retry_delay_ms
 *		Wait after the n-th failed notifier in a row: 1, 2, 4 ... 60 s.
 */
static long
retry_delay_ms(int failures)
{
	if (failures <= 0)
		return 0;
	if (failures > 6)
		return RETRY_MAX_MS;
	return Min(1000L << (failures - 1), RETRY_MAX_MS);
}

/*
 * database_state
 *		The launcher's look at pg_database, a shared catalog it can read
 *		although connected to no database.  Runs in the caller's transaction,
 *		whose snapshot sees a DROP DATABASE once it has committed.
 */
static DatabaseState
database_state(Relation pg_database, Oid database)
{
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	DatabaseState state;

	ScanKeyInit(&key, Anum_pg_database_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(database));
	/*
	 * A heap scan, like the autovacuum launcher's: with no database selected
	 * pg_database's indexes may have no relcache entry, and building one
	 * would read pg_class (FATAL).
	 */
	scan = systable_beginscan(pg_database, DatabaseOidIndexId, false, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (!HeapTupleIsValid(tuple))
		state = DATABASE_GONE;
	else
	{
		Form_pg_database form = (Form_pg_database) GETSTRUCT(tuple);

#ifdef DATCONNLIMIT_INVALID_DB
		if (form->datconnlimit == DATCONNLIMIT_INVALID_DB)
			state = DATABASE_GONE;
		else
#endif
		if (!form->datallowconn)
			state = DATABASE_CLOSED;
		else
			state = DATABASE_OPEN;
	}
	systable_endscan(scan);
	return state;
}

/*
 * start_notifier
 *		Register a notifier for slot i; false when no worker slot is free.
 */
static bool
start_notifier(int i, BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	worker.bgw_main_arg = Int32GetDatum(i);
	worker.bgw_notify_pid = MyProcPid;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "automation");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "automation_wakeup_notifier_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "automation notifier");
	snprintf(worker.bgw_type, BGW_MAXLEN, "automation notifier");
	return RegisterDynamicBackgroundWorker(&worker, handle);
}

/*
 * automation_wakeup_launcher_main
 *		Start a notifier for every database with pending bits and none; free
 *		the slots of databases that are gone; report what cannot be served.
 */
void
automation_wakeup_launcher_main(Datum arg)
{
	BackgroundWorkerHandle *handles[WAKEUP_MAX_DATABASES] = {0};
	uint64		no_slot_reported = 0;
	TimestampTz no_slot_logged_at = 0;
	TimestampTz no_worker_logged_at = 0;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	/* no database: shared catalogs only, blocks no DROP DATABASE */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	SpinLockAcquire(&wakeup->mutex);
	wakeup->launcher = MyLatch;
	/* notifiers of a previous launcher are gone after a crash restart */
	SpinLockRelease(&wakeup->mutex);
	no_slot_reported = pg_atomic_read_u64(&wakeup->no_slot);

	for (;;)
	{
		int			candidates[WAKEUP_MAX_DATABASES];
		Oid			databases[WAKEUP_MAX_DATABASES];
		DatabaseState states[WAKEUP_MAX_DATABASES];
		int			ncandidates = 0;
		TimestampTz now;
		uint64		no_slot;
		long		nap = LAUNCHER_NAP_MS;

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		now = GetCurrentTimestamp();

		/* commits that found every slot taken: say so, once in a while */
		no_slot = pg_atomic_read_u64(&wakeup->no_slot);
		if (no_slot > no_slot_reported &&
			(no_slot_logged_at == 0 ||
			 TimestampDifferenceExceeds(no_slot_logged_at, now, LOG_REPEAT_MS)))
		{
			ereport(LOG,
					(errmsg("automation: all %d wake-up slots are in use; " UINT64_FORMAT " commits with new jobs sent no wake-up",
							WAKEUP_MAX_DATABASES, no_slot - no_slot_reported),
					 errdetail("A slot is held by each database with a pending wake-up or a running notifier."),
					 errhint("The jobs are in automation.jobs; workers find them by polling. This message is repeated at most every ten minutes.")));
			no_slot_reported = no_slot;
			no_slot_logged_at = now;
		}

		/* pass 1, under the spinlock: what needs a look */
		for (int i = 0; i < WAKEUP_MAX_DATABASES; i++)
		{
			WakeupSlot *slot = &wakeup->slots[i];
			bool		check_handle;

			SpinLockAcquire(&wakeup->mutex);
			check_handle = slot->starting && handles[i] != NULL;
			if (slot->database != InvalidOid && slot->notifier == NULL &&
				!slot->starting)
			{
				if (pg_atomic_read_u32(&slot->pending) == 0)
					free_slot(slot);	/* idle: nothing to send, no notifier */
				else if (slot->retry_at <= now)
				{
					candidates[ncandidates] = i;
					databases[ncandidates] = slot->database;
					ncandidates++;
				}
				else
					nap = Min(nap, TimestampDifferenceMilliseconds(now, slot->retry_at) + 1);
			}
			SpinLockRelease(&wakeup->mutex);

			/* a notifier that never ran (fork failed, or died before its
			 * exit hook) never clears "starting": count it as failed */
			if (check_handle)
			{
				pid_t		pid;

				if (GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED)
				{
					SpinLockAcquire(&wakeup->mutex);
					if (slot->starting && slot->notifier == NULL)
					{
						slot->starting = false;
						slot->failures++;
						slot->retry_at = TimestampTzPlusMilliseconds(now, retry_delay_ms(slot->failures));
					}
					SpinLockRelease(&wakeup->mutex);
					pfree(handles[i]);
					handles[i] = NULL;
					SetLatch(MyLatch);	/* look at the slot again */
				}
			}
		}

		if (ncandidates > 0)
		{
			Relation	pg_database;

			/* pass 2: the catalog, in a transaction of our own */
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			pg_database = table_open(DatabaseRelationId, AccessShareLock);
			for (int c = 0; c < ncandidates; c++)
				states[c] = database_state(pg_database, databases[c]);
			table_close(pg_database, AccessShareLock);
			CommitTransactionCommand();
			pgstat_report_stat(false);
		}

		/* pass 3, under the spinlock again: act on a slot still as seen */
		for (int c = 0; c < ncandidates; c++)
		{
			int			i = candidates[c];
			WakeupSlot *slot = &wakeup->slots[i];
			bool		start = false;

			SpinLockAcquire(&wakeup->mutex);
			if (slot->database == databases[c] && slot->notifier == NULL &&
				!slot->starting)
			{
				switch (states[c])
				{
					case DATABASE_GONE:
						/* its jobs went with it; nobody is left to wake */
						free_slot(slot);
						break;
					case DATABASE_CLOSED:
						/* keep the bits for when it opens again */
						slot->retry_at = TimestampTzPlusMilliseconds(now, CLOSED_RECHECK_MS);
						nap = Min(nap, CLOSED_RECHECK_MS);
						break;
					case DATABASE_OPEN:
						slot->starting = true;
						start = true;
						break;
				}
			}
			SpinLockRelease(&wakeup->mutex);

			if (start)
			{
				if (handles[i] != NULL)
					pfree(handles[i]);
				handles[i] = NULL;
				if (!start_notifier(i, &handles[i]))
				{
					handles[i] = NULL;
					SpinLockAcquire(&wakeup->mutex);
					slot->starting = false;
					/* not the notifier's fault: try again in a second */
					slot->retry_at = TimestampTzPlusMilliseconds(now, 1000);
					SpinLockRelease(&wakeup->mutex);
					if (no_worker_logged_at == 0 ||
						TimestampDifferenceExceeds(no_worker_logged_at, now, LOG_REPEAT_MS))
					{
						ereport(WARNING,
								(errmsg("automation: could not start a notifier: no background worker slot is free"),
								 errdetail("Wake-ups wait and are retried every second; this message is repeated at most every ten minutes."),
								 errhint("Raise max_worker_processes.")));
						no_worker_logged_at = now;
					}
				}
			}
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(nap, 1), PG_WAIT_EXTENSION);
	}
}

/*
 * notifier_exit
 *		Unregister from the slot.  A notifier that failed (non-zero code: a
 *		FATAL while connecting, an error, a termination) counts a failure so
 *		the launcher backs off.  With no bits pending the slot is freed;
 *		with bits pending the launcher is poked so they are not stranded.
 */
static void
notifier_exit(int code, Datum arg)
{
	WakeupSlot *slot = &wakeup->slots[DatumGetInt32(arg)];
	Latch	   *launcher;
	bool		pending;
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&wakeup->mutex);
	slot->notifier = NULL;
	slot->starting = false;
	slot->coalescing = false;
	if (code != 0)
	{
		slot->failures++;
		slot->retry_at = TimestampTzPlusMilliseconds(now, retry_delay_ms(slot->failures));
	}
	pending = pg_atomic_read_u32(&slot->pending) != 0;
	if (!pending)
		free_slot(slot);
	launcher = wakeup->launcher;
	SpinLockRelease(&wakeup->mutex);
	if (pending && launcher != NULL)
		SetLatch(launcher);
}

/*
 * send_notifications
 *		One transaction, one NOTIFY automation_jobs per action type.
 */
static void
send_notifications(uint32 bits)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	for (int i = 0; i < ACTION_COUNT; i++)
		if (bits & ((uint32) 1 << i))
			Async_Notify("automation_jobs", automation_action_info((ActionType) i)->job);
	CommitTransactionCommand();
	pg_atomic_fetch_add_u64(&wakeup->sent, 1);
	pgstat_report_stat(false);
}

/*
 * coalesce
 *		Wait automation.wakeup_interval ms after a send.  Committers do not
 *		set our latch meanwhile (slot->coalescing), but a termination does,
 *		and ends the wait at once.
 */
static void
coalesce(WakeupSlot *slot)
{
	TimestampTz until;

	if (automation_wakeup_interval <= 0)
		return;
	until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), automation_wakeup_interval);
	SpinLockAcquire(&wakeup->mutex);
	slot->coalescing = true;
	SpinLockRelease(&wakeup->mutex);
	for (;;)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);

		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	SpinLockAcquire(&wakeup->mutex);
	slot->coalescing = false;
	SpinLockRelease(&wakeup->mutex);
}

/*
 * automation_wakeup_notifier_main
 *		Send the wake-ups of one database, coalescing bursts.
 */
void
automation_wakeup_notifier_main(Datum arg)
{
	int			index = DatumGetInt32(arg);
	WakeupSlot *slot = &wakeup->slots[index];
	Oid			database;
	TimestampTz last_activity;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	SpinLockAcquire(&wakeup->mutex);
	database = slot->database;
	SpinLockRelease(&wakeup->mutex);
	before_shmem_exit(notifier_exit, Int32GetDatum(index));
	/* the launcher saw it open; it may close or go meanwhile: FATAL, exit 1 */
	BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);

	SpinLockAcquire(&wakeup->mutex);
	slot->notifier = MyLatch;
	slot->starting = false;
	SpinLockRelease(&wakeup->mutex);

	last_activity = GetCurrentTimestamp();
	for (;;)
	{
		uint32		bits;
		long		idle_ms;

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		bits = pg_atomic_exchange_u32(&slot->pending, 0);
		if (bits != 0)
		{
			send_notifications(bits);
			SpinLockAcquire(&wakeup->mutex);
			slot->failures = 0;
			SpinLockRelease(&wakeup->mutex);
			last_activity = GetCurrentTimestamp();
			/* coalesce: whatever commits during the interval waits for it */
			coalesce(slot);
			continue;
		}

		idle_ms = (long) ((GetCurrentTimestamp() - last_activity) / 1000);
		if (idle_ms >= NOTIFIER_IDLE_EXIT_MS)
			proc_exit(0);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 NOTIFIER_IDLE_EXIT_MS - idle_ms, PG_WAIT_EXTENSION);
	}
}

/*
 * automation_wakeups_sent
 *		SQL: automation._wakeups_sent() -> bigint, NOTIFY transactions sent
 *		by the notifiers since the server started.
 */
PG_FUNCTION_INFO_V1(automation_wakeups_sent);

Datum
automation_wakeups_sent(PG_FUNCTION_ARGS)
{
	if (wakeup == NULL)
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) pg_atomic_read_u64(&wakeup->sent));
}
