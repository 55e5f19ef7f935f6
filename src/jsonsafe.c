/*-------------------------------------------------------------------------
 *
 * jsonsafe.c
 *	  Reading a json (not jsonb) value without failing the application's
 *	  write.
 *
 * A json column accepts text that jsonb cannot hold: "\u0000" inside a
 * string, numbers beyond numeric's range ({"n": 1e1000000}).  The trigger
 * reads such columns when it renders merge tokens and serialises rows for
 * job payloads; a conversion error there would roll back the application's
 * write (SPEC section 10).  The conversion runs in a subtransaction; a
 * value jsonb cannot hold reads as absent (NULL).  Only json columns pay
 * for it; jsonb values are read as they are.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "automation.h"

/*
 * automation_try
 *		Run fn(arg) in a subtransaction; false if it raised an error, whose
 *		message goes to *message when message is not NULL.  A cancel or a
 *		shutdown is re-thrown: it is not a value that cannot be read.
 */
bool
automation_try(void (*fn) (void *arg), void *arg, char **message)
{
	MemoryContext context = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(context);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *error;

		MemoryContextSwitchTo(context);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		if (error->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			error->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			ReThrowError(error);
		if (message != NULL)
			*message = pstrdup(error->message);
		FreeErrorData(error);
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(context);
	CurrentResourceOwner = owner;
	return ok;
}

typedef struct JsonConversion
{
	Datum		json;
	Jsonb	   *result;
} JsonConversion;

static void
convert(void *arg)
{
	JsonConversion *c = arg;

	c->result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												   CStringGetDatum(TextDatumGetCString(c->json))));
}

/*
 * automation_json_to_jsonb
 *		A json value as jsonb, or NULL when jsonb cannot hold it.
 */
Jsonb *
automation_json_to_jsonb(Datum json)
{
	JsonConversion c = {json, NULL};

	return automation_try(convert, &c, NULL) ? c.result : NULL;
}

/*
 * automation_has_json_column
 *		Does the row type have a column of type json (or a domain over it),
 *		whose values jsonb may not hold?
 */
bool
automation_has_json_column(TupleDesc tupdesc)
{
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);

		if (!attr->attisdropped && getBaseType(attr->atttypid) == JSONOID)
			return true;
	}
	return false;
}
