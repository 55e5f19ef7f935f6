/*-------------------------------------------------------------------------
 *
 * execute_as.c
 *	  Run one SQL statement as another role: the database actions of a
 *	  workflow or rule run with the privileges of the role that created it.
 *
 * Invariants:
 *	- Only the extension owner can call automation._execute_as() (nothing is
 *	  granted to PUBLIC); execute_job, SECURITY DEFINER, is its one caller.
 *	- The user id is switched with SECURITY_LOCAL_USERID_CHANGE, as core
 *	  ri_triggers.c does: SET ROLE is refused inside, and an error anywhere
 *	  restores the previous user id when the (sub)transaction aborts.
 *	- The statement runs with the default search_path (GetConfigOptionReset-
 *	  String), so application triggers it fires see what they expect.
 *	- Values are always parameters ($1..$n, text); the statement text is
 *	  built by the caller with quoted identifiers only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "automation.h"

PG_FUNCTION_INFO_V1(automation_execute_as);

/*
 * automation_execute_as
 *		SQL: automation._execute_as(role name, query text, params text[])
 *		RETURNS bigint, the number of rows the statement processed.
 */
Datum
automation_execute_as(PG_FUNCTION_ARGS)
{
	Oid			role;
	char	   *query;
	int			nargs = 0;
	Oid		   *argtypes = NULL;
	Datum	   *values = NULL;
	char	   *nulls = NULL;
	Oid			save_userid;
	int			save_sec_context;
	int			rc;
	uint64		processed;
	int			guc_nest_level;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("role and query must not be null")));
	role = get_role_oid(NameStr(*PG_GETARG_NAME(0)), false);
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!PG_ARGISNULL(2))
	{
		ArrayType  *params = PG_GETARG_ARRAYTYPE_P(2);
		Datum	   *elems;
		bool	   *elem_nulls;

		deconstruct_array(params, TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &elem_nulls, &nargs);
		argtypes = palloc(sizeof(Oid) * Max(nargs, 1));
		values = palloc(sizeof(Datum) * Max(nargs, 1));
		nulls = palloc(sizeof(char) * Max(nargs, 1));
		for (int i = 0; i < nargs; i++)
		{
			argtypes[i] = TEXTOID;
			values[i] = elems[i];
			nulls[i] = elem_nulls[i] ? 'n' : ' ';
		}
	}

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SetUserIdAndSecContext(role, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);

	/*
	 * The application's own triggers fire on this statement: give them the
	 * default search_path, not execute_job's locked-down one.
	 */
	guc_nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", GetConfigOptionResetString("search_path"),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	rc = SPI_execute_with_args(query, nargs, argtypes, values, nulls, false, 0);
	processed = SPI_processed;
	AtEOXact_GUC(true, guc_nest_level);

	SetUserIdAndSecContext(save_userid, save_sec_context);
	SPI_finish();
	if (rc < 0)
		elog(ERROR, "automation._execute_as: %s", SPI_result_code_string(rc));
	PG_RETURN_INT64((int64) processed);
}

PG_FUNCTION_INFO_V1(automation_invoker);

/*
 * automation_invoker
 *		SQL: automation._invoker() RETURNS name: the role the session acts
 *		as (SET ROLE included), even inside a SECURITY DEFINER function.
 */
Datum
automation_invoker(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(DirectFunctionCall1(namein,
										CStringGetDatum(GetUserNameFromId(GetOuterUserId(), false))));
}
