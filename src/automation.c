/*-------------------------------------------------------------------------
 *
 * automation.c
 *	  Module entry point: settings, preload check, per-module init.
 *
 * The library must be loaded through shared_preload_libraries: the breaker
 * counts, the wake-up flags and the API's rate limits live in shared
 * memory.  _PG_init records whether it ran in the postmaster; CREATE
 * EXTENSION calls automation_check_preload(), which refuses to install
 * otherwise.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/guc.h"

#include "automation.h"
#include "cache.h"

PG_MODULE_MAGIC;

int			automation_payload_column_limit = 64;
int			automation_max_depth = 5;
int			automation_current_depth = 0;
char	   *automation_tenant = NULL;
char	   *automation_request_id = NULL;

static bool loaded_by_preload = false;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void automation_shmem_request(void);
static void automation_shmem_startup(void);

void		_PG_init(void);

PG_FUNCTION_INFO_V1(automation_check_preload);

/*
 * _PG_init
 *		Define the settings and hand off to each module's init function.
 */
void
_PG_init(void)
{
	loaded_by_preload = process_shared_preload_libraries_in_progress;

	DefineCustomIntVariable("automation.max_depth",
							"Deepest chain of automation-caused changes that still enqueues jobs.",
							"A job's depth is one more than the depth of the job whose execution caused the change; 0 for changes made by the application.",
							&automation_max_depth,
							5, 0, 100,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("automation.current_depth",
							"Depth of the job being executed in this transaction (set by execute_job).",
							NULL,
							&automation_current_depth,
							0, 0, 1000,
							PGC_SUSET, GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							NULL, NULL, NULL);

	DefineCustomStringVariable("automation.tenant",
							   "Tenant whose definitions, jobs and history this session sees and creates.",
							   "Row-level security on automation's tables compares tenant_id with it; empty: global rows only.",
							   &automation_tenant,
							   "",
							   PGC_USERSET, 0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("automation.request_id",
							   "Id of the HTTP request this transaction serves (set by automation-api).",
							   "automation-api sets it locally for each request, as its X-Request-ID; empty outside a request.",
							   &automation_request_id,
							   "",
							   PGC_USERSET, GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("automation.payload_column_limit",
							"Largest column value a job's payload carries, in kB; 0: no limit.",
							"A larger value is sent as null and its column named in event.omitted_columns.",
							&automation_payload_column_limit,
							64, 0, INT_MAX / 1024,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("automation");

	automation_cache_init();
	automation_breaker_init();
	automation_wakeup_init();

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = automation_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = automation_shmem_startup;
}

static void
automation_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	automation_breaker_shmem_request();
	automation_wakeup_shmem_request();
	automation_ratelimit_shmem_request();
}

static void
automation_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	automation_breaker_shmem_startup();
	automation_wakeup_shmem_startup();
	automation_ratelimit_shmem_startup();
}

/*
 * automation_check_preload
 *		Error out unless the library was loaded by shared_preload_libraries.
 */
Datum
automation_check_preload(PG_FUNCTION_ARGS)
{
	if (!loaded_by_preload)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("automation must be loaded via shared_preload_libraries"),
				 errdetail("The circuit breakers and job wake-ups use shared memory, which only a preloaded library can allocate."),
				 errhint("Add 'automation' to shared_preload_libraries in postgresql.conf and restart the server.")));
	PG_RETURN_VOID();
}
