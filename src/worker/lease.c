/*
 * lease.c: the lease arithmetic of the worker's backlog (doc/worker.md,
 * "Leases and the backlog").
 *
 * A claimed job is the worker's until its lease ends; after that another
 * worker may claim it and deliver it too.  So a delivery must end, and its
 * outcome be recorded, before the lease ends.  With
 *     L = --lease, T = --timeout (curl's limit for a whole transfer),
 *     M = min(1 s, L / 20)   (time to record an outcome after a timeout),
 * the worker:
 *   - delivers with timeout T' = min(T, L - 2M) (T' < T only when T does not
 *     fit in the lease; logged at start);
 *   - starts a delivery only while at least T' + M of its lease is left, a
 *     database action only while M is left (execute_job then holds the job's
 *     row lock, so no one can claim it until it is done);
 *   - claims at most C * W - inflight jobs (and at most --batch), with
 *     C = --concurrency and W = floor((L - 2M) / T') rounds of deliveries:
 *     job i of the backlog starts within floor((inflight + i) / C) * T' of
 *     the claim, so every claimed job can start in time even when each
 *     delivery takes the full T'.
 * The lease end is measured from the moment the claim was sent (the
 * database's now() is later), on the worker's monotonic clock, so a
 * different clock on the database server does not matter.
 */
#include "worker.h"

/* lease_plan: the margin, delivery timeout and claim bound for the options. */
void
lease_plan(LeasePlan *plan, long lease_ms, long timeout_ms, int concurrency, int batch)
{
	long long	rounds;
	long long	most;

	plan->margin_ms = lease_ms / 20 < 1000 ? lease_ms / 20 : 1000;
	plan->timeout_ms = timeout_ms;
	if (plan->timeout_ms > lease_ms - 2 * plan->margin_ms)
		plan->timeout_ms = lease_ms - 2 * plan->margin_ms;
	if (plan->timeout_ms < 1)
		plan->timeout_ms = 1;
	rounds = (lease_ms - 2 * plan->margin_ms) / plan->timeout_ms;
	if (rounds < 1)
		rounds = 1;
	plan->rounds = rounds;
	most = (long long) concurrency * rounds;
	plan->claim_max = most < batch ? (int) most : batch;
	plan->concurrency = concurrency;
}

/* lease_claim_limit: how many jobs a claim may take with inflight transfers. */
int
lease_claim_limit(const LeasePlan *plan, int inflight)
{
	long long	n = (long long) plan->concurrency * plan->rounds - inflight;

	if (n > plan->claim_max)
		n = plan->claim_max;
	return n < 1 ? 1 : (int) n;
}

/* lease_start_need_ms: the lease a job must have left to be started. */
double
lease_start_need_ms(const LeasePlan *plan, bool database_action)
{
	return database_action ? (double) plan->margin_ms
		: (double) (plan->timeout_ms + plan->margin_ms);
}
