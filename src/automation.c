/*-------------------------------------------------------------------------
 *
 * automation.c
 *	  Module entry point: settings, preload check, per-module init.
 *
 * The library must be loaded through shared_preload_libraries: the breaker
 * counts and the wake-up flags live in shared memory.  _PG_init records
 * whether it ran in the postmaster; CREATE EXTENSION calls
 * automation_check_preload(), which refuses to install otherwise.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "automation.h"

PG_MODULE_MAGIC;

int			automation_max_depth = 5;
int			automation_current_depth = 0;

static bool loaded_by_preload = false;

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
							PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("automation");

	automation_cache_init();
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
