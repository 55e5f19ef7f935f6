/*-------------------------------------------------------------------------
 *
 * ids.c
 *	  Workflow ids: "wf_" followed by a ULID.
 *
 * A ULID is 48 bits of Unix milliseconds then 80 random bits, written as 26
 * Crockford base32 characters, so ids sort by creation time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "automation.h"

PG_FUNCTION_INFO_V1(automation_new_workflow_id);

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/*
 * automation_new_workflow_id
 *		Return a new "wf_<ULID>" text.
 */
Datum
automation_new_workflow_id(PG_FUNCTION_ARGS)
{
	uint8		bytes[16];
	char		out[3 + 26 + 1];
	TimestampTz now = GetCurrentTimestamp();
	uint64		ms;
	int			bit;

	/* Unix milliseconds from PostgreSQL's 2000-based microseconds. */
	ms = (uint64) (now / 1000) +
		(uint64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
	for (int i = 0; i < 6; i++)
		bytes[i] = (uint8) (ms >> (8 * (5 - i)));
	if (!pg_strong_random(bytes + 6, 10))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes for a workflow id")));

	memcpy(out, "wf_", 3);
	/* 128 bits as 26 base32 digits: the first digit carries 3 bits. */
	for (int d = 0; d < 26; d++)
	{
		int			value = 0;

		for (int b = 0; b < 5; b++)
		{
			bit = d * 5 + b - 2;	/* 130 bits total, 2 leading zeros */
			value <<= 1;
			if (bit >= 0 && (bytes[bit / 8] >> (7 - bit % 8)) & 1)
				value |= 1;
		}
		out[3 + d] = crockford[value];
	}
	out[3 + 26] = '\0';
	PG_RETURN_TEXT_P(cstring_to_text(out));
}
