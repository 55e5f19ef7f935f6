/*-------------------------------------------------------------------------
 *
 * ratelimit.c
 *	  Per-key rate limits of the HTTP API: token buckets in shared memory.
 *
 * Every automation-api process of a server authenticates its requests
 * through automation._api_authenticate, which takes one token from the
 * key's bucket here; the buckets live in the server's shared memory, so all
 * those processes (and all their connections) share one count per key.
 *
 * Invariants:
 *	- One RateBucket per (database, key id) in a shared hash of at most
 *	  RATELIMIT_MAX_KEYS entries, all allocated at startup (HASH_FIXED_SIZE).
 *	- A bucket holds at most `limit` tokens and refills continuously at
 *	  `limit` tokens per minute, from the time of the take (the wall clock,
 *	  not the transaction's start).  A request takes one token or is
 *	  refused; refused requests take nothing.
 *	- Every read and change of a bucket is under one LWLock held for a few
 *	  instructions (or a scan of the table when it is full), so concurrent
 *	  takes from any number of processes are exact.
 *	- When the table is full, the bucket that would be full again soonest
 *	  (a full one first: evicting it loses nothing) is evicted; an evicted
 *	  bucket that was not full starts again full, so a key can get more than
 *	  its limit only while more than RATELIMIT_MAX_KEYS keys are active at
 *	  once (doc/api-decisions.md).
 *	- Buckets are not transactional: a request that later fails still
 *	  counts, as it should.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "automation.h"
#include "owner.h"

#define RATELIMIT_MAX_KEYS 4096
#define RATELIMIT_KEY_ID_LEN 64

typedef struct RateKey
{
	Oid			database;
	char		key_id[RATELIMIT_KEY_ID_LEN];	/* zero-padded */
} RateKey;

typedef struct RateBucket
{
	RateKey		key;			/* hash key: first */
	int32		limit;			/* tokens per minute, and the capacity */
	double		tokens;			/* at updated_at */
	TimestampTz updated_at;
} RateBucket;

static LWLock *ratelimit_lock = NULL;
static HTAB *ratelimit_table = NULL;

/*
 * automation_ratelimit_shmem_request
 *		shmem_request_hook part: room for the table and its lock.
 */
void
automation_ratelimit_shmem_request(void)
{
	RequestAddinShmemSpace(hash_estimate_size(RATELIMIT_MAX_KEYS, sizeof(RateBucket)));
	RequestNamedLWLockTranche("automation_ratelimit", 1);
}

/*
 * automation_ratelimit_shmem_startup
 *		shmem_startup_hook part: attach to (or create) the table.
 */
void
automation_ratelimit_shmem_startup(void)
{
	HASHCTL		info;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ratelimit_lock = &(GetNamedLWLockTranche("automation_ratelimit"))->lock;
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(RateKey);
	info.entrysize = sizeof(RateBucket);
	ratelimit_table = ShmemInitHash("automation rate limits",
									RATELIMIT_MAX_KEYS, RATELIMIT_MAX_KEYS,
									&info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	LWLockRelease(AddinShmemInitLock);
}

/* bucket_refill: the bucket's tokens at now. */
static double
bucket_refill(RateBucket *bucket, TimestampTz now)
{
	double		elapsed = (double) (now - bucket->updated_at) / USECS_PER_SEC;
	double		tokens = bucket->tokens;

	if (elapsed > 0)
		tokens += elapsed * bucket->limit / 60.0;
	return Min(tokens, (double) bucket->limit);
}

/*
 * evict_one
 *		Remove the bucket that will be full soonest (seconds to full, less
 *		is better; a full bucket costs nothing to forget).  Lock held.
 */
static void
evict_one(TimestampTz now)
{
	HASH_SEQ_STATUS status;
	RateBucket *bucket;
	RateKey		victim;
	double		best = -1;

	hash_seq_init(&status, ratelimit_table);
	while ((bucket = hash_seq_search(&status)) != NULL)
	{
		double		to_full = (bucket->limit - bucket_refill(bucket, now)) * 60.0 / bucket->limit;

		if (best < 0 || to_full < best)
		{
			best = to_full;
			victim = bucket->key;
		}
	}
	if (best >= 0)
		hash_search(ratelimit_table, &victim, HASH_REMOVE, NULL);
}

PG_FUNCTION_INFO_V1(automation_ratelimit_take);

/*
 * automation_ratelimit_take
 *		SQL: automation._ratelimit_take(key_id text, rate_limit int,
 *		OUT allowed bool, OUT remaining int, OUT reset_seconds int,
 *		OUT retry_after int).  Takes one token from the key's bucket.
 *		reset_seconds: until the bucket is full again; retry_after: until
 *		the next token (0 when allowed).  The extension owner's only
 *		(automation._api_authenticate calls it): anyone else could spend
 *		another key's budget.
 */
Datum
automation_ratelimit_take(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	RateKey		key;
	RateBucket *bucket;
	text	   *key_id;
	int32		limit;
	TimestampTz now;
	bool		found;
	bool		allowed;
	double		tokens;

	automation_require_owner("automation._ratelimit_take");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key_id and rate_limit must not be null")));
	key_id = PG_GETARG_TEXT_PP(0);
	limit = PG_GETARG_INT32(1);
	if (limit < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate_limit must be at least 1"),
				 errdetail("The value was %d.", limit)));
	if (VARSIZE_ANY_EXHDR(key_id) >= RATELIMIT_KEY_ID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key_id is too long"),
				 errdetail("The limit is %d bytes.", RATELIMIT_KEY_ID_LEN - 1)));
	if (ratelimit_table == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("automation must be loaded via shared_preload_libraries")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "_ratelimit_take must return a record");

	memset(&key, 0, sizeof(key));
	key.database = MyDatabaseId;
	memcpy(key.key_id, VARDATA_ANY(key_id), VARSIZE_ANY_EXHDR(key_id));
	now = GetCurrentTimestamp();

	LWLockAcquire(ratelimit_lock, LW_EXCLUSIVE);
	bucket = hash_search(ratelimit_table, &key, HASH_ENTER_NULL, &found);
	if (bucket == NULL)
	{
		evict_one(now);
		bucket = hash_search(ratelimit_table, &key, HASH_ENTER_NULL, &found);
		if (bucket == NULL)
		{
			LWLockRelease(ratelimit_lock);
			elog(ERROR, "rate limit table has no free entry after an eviction");
		}
	}
	if (!found)
	{
		bucket->limit = limit;
		bucket->tokens = limit;
		bucket->updated_at = now;
	}
	else if (bucket->limit != limit)
	{
		/* the key's limit changed: the new capacity, no more than it had */
		bucket->tokens = Min(bucket_refill(bucket, now), (double) limit);
		bucket->limit = limit;
		bucket->updated_at = now;
	}
	tokens = bucket_refill(bucket, now);
	allowed = tokens >= 1.0;
	if (allowed)
		tokens -= 1.0;
	bucket->tokens = tokens;
	bucket->updated_at = now;
	LWLockRelease(ratelimit_lock);

	values[0] = BoolGetDatum(allowed);
	values[1] = Int32GetDatum((int32) floor(tokens));
	values[2] = Int32GetDatum((int32) ceil((limit - tokens) * 60.0 / limit));
	values[3] = Int32GetDatum(allowed ? 0 : Max(1, (int32) ceil((1.0 - tokens) * 60.0 / limit)));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
