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
 *	  starts a notifier for any database whose slot has pending bits and no
 *	  notifier;
 *	- a notifier (dynamic background worker, one per database) takes the
 *	  pending bits atomically and sends one NOTIFY automation_jobs per action
 *	  type in one transaction, then sleeps automation.wakeup_interval ms
 *	  before looking again, so bursts coalesce; after a second with nothing
 *	  to send it exits (so DROP DATABASE is not held up).
 *
 * Invariants:
 *	- A wake-up is never lost: bits are set after the jobs are visible
 *	  (XACT_EVENT_COMMIT), and the notifier clears them with an atomic
 *	  exchange before sending, so bits set after a send cause another send.
 *	  A notifier that exits re-checks its slot after unregistering and pokes
 *	  the launcher if bits arrived meanwhile.
 *	- slot->database and slot->notifier are protected by the spinlock;
 *	  slot->pending is atomic.
 *	- The table, not the notification, is the source of truth: workers also
 *	  poll.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
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
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "automation.h"

#define WAKEUP_MAX_DATABASES 64
#define NOTIFIER_IDLE_EXIT_MS 1000

static const char *const action_types[] = {
	"webhook", "send_channel_message", "send_email", "update_field",
	"create_task", "assign_user", "change_stage", "tag", "untag", "notify"
};

typedef struct WakeupSlot
{
	Oid			database;		/* InvalidOid: free */
	pg_atomic_uint32 pending;	/* bit i: action_types[i] has new jobs */
	Latch	   *notifier;		/* NULL: no notifier running */
	bool		starting;		/* launcher registered one, not yet up */
} WakeupSlot;

typedef struct WakeupShared
{
	slock_t		mutex;
	Latch	   *launcher;
	pg_atomic_uint64 sent;		/* NOTIFY transactions sent, for tests */
	WakeupSlot	slots[WAKEUP_MAX_DATABASES];
} WakeupShared;

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
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "automation");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "automation_wakeup_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "automation wakeup launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "automation wakeup launcher");
	RegisterBackgroundWorker(&worker);
}

static int
action_type_bit(const char *action_type)
{
	for (int i = 0; i < lengthof(action_types); i++)
		if (strcmp(action_types[i], action_type) == 0)
			return i;
	return -1;
}

/*
 * automation_wakeup_request
 *		Remember that this transaction enqueued a job of this type; the
 *		wake-up happens when it commits.
 */
void
automation_wakeup_request(const char *action_type)
{
	int			bit = action_type_bit(action_type);

	if (bit >= 0)
		transaction_pending |= (uint32) 1 << bit;
}

/*
 * signal_database
 *		Publish pending bits for the current database and wake whoever sends
 *		them.  Runs after commit: must not fail.
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
		SpinLockRelease(&wakeup->mutex);
		return;					/* more databases than slots: workers poll */
	}
	pg_atomic_fetch_or_u32(&slot->pending, bits);
	latch = slot->notifier != NULL ? slot->notifier : wakeup->launcher;
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
 * automation_wakeup_launcher_main
 *		Start a notifier for every database with pending bits and none.
 */
void
automation_wakeup_launcher_main(Datum arg)
{
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	SpinLockAcquire(&wakeup->mutex);
	wakeup->launcher = MyLatch;
	/* notifiers of a previous launcher are gone after a crash restart */
	SpinLockRelease(&wakeup->mutex);

	for (;;)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		for (int i = 0; i < WAKEUP_MAX_DATABASES; i++)
		{
			WakeupSlot *slot = &wakeup->slots[i];
			bool		start = false;

			SpinLockAcquire(&wakeup->mutex);
			if (slot->database != InvalidOid && slot->notifier == NULL &&
				!slot->starting && pg_atomic_read_u32(&slot->pending) != 0)
			{
				slot->starting = true;
				start = true;
			}
			SpinLockRelease(&wakeup->mutex);

			if (start)
			{
				BackgroundWorker worker;
				BackgroundWorkerHandle *handle;

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
				if (!RegisterDynamicBackgroundWorker(&worker, &handle))
				{
					SpinLockAcquire(&wakeup->mutex);
					slot->starting = false;
					SpinLockRelease(&wakeup->mutex);
					ereport(WARNING,
							(errmsg("automation: could not start a notifier"),
							 errhint("Raise max_worker_processes.")));
				}
			}
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
	}
}

/*
 * notifier_exit
 *		Unregister from the slot; if bits arrived meanwhile, poke the
 *		launcher so they are not stranded.
 */
static void
notifier_exit(int code, Datum arg)
{
	WakeupSlot *slot = &wakeup->slots[DatumGetInt32(arg)];
	Latch	   *launcher;
	bool		pending;

	SpinLockAcquire(&wakeup->mutex);
	slot->notifier = NULL;
	slot->starting = false;
	pending = pg_atomic_read_u32(&slot->pending) != 0;
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
	for (int i = 0; i < lengthof(action_types); i++)
		if (bits & ((uint32) 1 << i))
			Async_Notify("automation_jobs", action_types[i]);
	CommitTransactionCommand();
	pg_atomic_fetch_add_u64(&wakeup->sent, 1);
	pgstat_report_stat(false);
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
			last_activity = GetCurrentTimestamp();
			/* coalesce: whatever commits during the interval waits for it */
			if (automation_wakeup_interval > 0)
				(void) WaitLatch(NULL, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 automation_wakeup_interval, PG_WAIT_EXTENSION);
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
