/*
 * log.c: the worker's log lines (src/common/log.c writes them).
 *
 * One line per delivery: time, job id, action type, outcome, attempt,
 * latency in milliseconds, and for failures the cause.
 */
#include "worker.h"

const char log_program[] = "automation-worker";

/* log_delivery: the one line per delivery attempt. */
void
log_delivery(const Job *job, const char *outcome, double latency_ms, const char *detail)
{
	log_info("job=%lld type=%s outcome=%s attempt=%d/%d latency_ms=%.1f%s%s",
			 (long long) job->id, job->action_type, outcome, job->attempt,
			 job->max_attempts, latency_ms, detail && *detail ? " cause=" : "",
			 detail && *detail ? detail : "");
}
