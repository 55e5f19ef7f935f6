/*-------------------------------------------------------------------------
 *
 * execute_as.c
 *	  Run one SQL statement as another role: the database actions of a
 *	  workflow or rule run with the privileges of the role that created it.
 *
 * Invariants:
 *	- Only the extension owner (and superusers) can call
 *	  automation._execute_as(), whatever was granted: execute_job, SECURITY
 *	  DEFINER, is its one caller (automation_require_owner).
 *	- The switch is an owner scope of owner.c (security-restricted, SPI, a
 *	  GUC nest level of its own); an error anywhere restores the previous
 *	  user id when the (sub)transaction aborts.
 *	- The statement runs with search_path = "$user", public, pg_temp:
 *	  PostgreSQL's default path with the temporary schema moved last, not
 *	  the caller's settings (a worker could otherwise put its own schema, or
 *	  types in its temporary schema, in front of the creator's statement and
 *	  of the application triggers it fires).
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
#include "owner.h"

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
	OwnerScope	scope;
	int			rc;
	uint64		processed;

	automation_require_owner("automation._execute_as");
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

	automation_role_enter(&scope, role, "\"$user\", public, pg_temp");
	rc = SPI_execute_with_args(query, nargs, argtypes, values, nulls, false, 0);
	processed = SPI_processed;
	automation_owner_leave(&scope);
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
	/*
	 * Inside a security-restricted operation (an owner or role scope: a user
	 * trigger under execute_as.c, a type's input under
	 * _value_parses_as_owner, the backtest scan) the code runs as another
	 * role than the session's: answering the session's role would let it
	 * act as that role (create_api_key for the worker's login role,
	 * doc/redteam-api-0.4.0.md, A10).
	 */
	if (InSecurityRestrictedOperation())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the calling role is not known within a security-restricted operation"),
				 errhint("Call this function from the session's own role, not from a trigger, type or policy automation runs.")));
	PG_RETURN_DATUM(DirectFunctionCall1(namein,
										CStringGetDatum(GetUserNameFromId(GetOuterUserId(), false))));
}
