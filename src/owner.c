/*-------------------------------------------------------------------------
 *
 * owner.c
 *	  The one way automation runs with another role's rights.
 *
 * Every piece of C that reads or writes schema automation with the
 * extension owner's rights (cache loads, cooldowns, firings and jobs,
 * breaker rebuilds and trips, alerts, explain's predictions) enters an
 * owner scope; the database actions of execute_job enter a scope as the
 * definition's creator (execute_as.c).  A scope
 *
 *	- connects SPI;
 *	- switches the user id with SECURITY_LOCAL_USERID_CHANGE and
 *	  SECURITY_RESTRICTED_OPERATION, as core does for maintenance commands
 *	  and index expressions: SET ROLE, SET SESSION AUTHORIZATION, LISTEN,
 *	  PREPARE, temporary tables and cursors WITH HOLD are refused inside;
 *	- pins search_path under a GUC nest level of its own: the owner's
 *	  scope to "pg_catalog, pg_temp" (pg_temp explicitly last, so neither a
 *	  schema of the caller's nor a type or table in the caller's temporary
 *	  schema is ever found first; functions and operators are never looked
 *	  up in pg_temp).
 *
 * Leaving restores all three.  On error, transaction (or subtransaction)
 * abort restores the user id, the security context and the GUC nest level,
 * and releases SPI, as it does for core's own security-restricted
 * operations: a scope never outlives the (sub)transaction that opened it.
 *
 * What a scope does not do: run anything the caller controls.  The row is
 * serialised and merge tokens are rendered before the switch, as the
 * writing role (enqueue.c); cache compilation parses constants with
 * built-in input functions only (cache.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "automation.h"
#include "owner.h"

/*
 * automation_rel_owner
 *		The role that owns a relation.
 */
Oid
automation_rel_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * automation_owner
 *		The role that owns the extension's tables: automation's own reads and
 *		writes run as this role (in owner scopes, below).
 */
Oid
automation_owner(void)
{
	return automation_rel_owner(get_relname_relid("jobs", get_namespace_oid("automation", false)));
}

/* What the owner's SQL resolves names through. */
#define OWNER_SEARCH_PATH "pg_catalog, pg_temp"

static void
scope_enter(OwnerScope *scope, Oid role, const char *search_path)
{
	GetUserIdAndSecContext(&scope->save_userid, &scope->save_sec_context);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SetUserIdAndSecContext(role, scope->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	scope->guc_nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", search_path,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
}

/*
 * automation_owner_enter
 *		Run as the extension owner with search_path = pg_catalog, pg_temp.
 */
void
automation_owner_enter(OwnerScope *scope)
{
	scope_enter(scope, automation_owner(), OWNER_SEARCH_PATH);
}

/*
 * automation_role_enter
 *		Run as role with the given search_path (execute_as.c).
 */
void
automation_role_enter(OwnerScope *scope, Oid role, const char *search_path)
{
	scope_enter(scope, role, search_path);
}

/*
 * automation_fixed_styles
 *		DateStyle ISO, MDY and IntervalStyle postgres until the scope is
 *		left: constants are validated and compiled the same way in every
 *		session.
 */
void
automation_fixed_styles(void)
{
	(void) set_config_option("datestyle", "ISO, MDY", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("intervalstyle", "postgres", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * automation_owner_leave
 *		Back to the caller's user id, security context and settings.
 */
void
automation_owner_leave(OwnerScope *scope)
{
	/*
	 * false: every setting changed inside the scope is undone, as core does
	 * after its security-restricted operations.  Code a scope runs as a
	 * role other than the owner (a type's input or a domain CHECK in
	 * _value_parses_as_owner, a user trigger under execute_as.c) could
	 * otherwise set_config(..., false) a session setting (search_path) that
	 * outlives the request on a pooled connection (doc/redteam-api-0.4.0.md,
	 * A1).
	 */
	AtEOXact_GUC(false, scope->guc_nest_level);
	SetUserIdAndSecContext(scope->save_userid, scope->save_sec_context);
	SPI_finish();
}

/*
 * automation_require_owner
 *		Internal functions that act with more than the caller's rights
 *		refuse anyone but the extension owner and superusers (42501).
 *		GetUserId() is the owner when called from the extension's own
 *		SECURITY DEFINER functions.
 */
void
automation_require_owner(const char *function)
{
	Oid			user = GetUserId();

	if (user != automation_owner() && !superuser_arg(user))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", function),
				 errdetail("%s is internal to automation: only the extension owner may call it.",
						   function),
				 errhint("Use the public functions of schema automation (doc/security.md).")));
}

PG_FUNCTION_INFO_V1(automation_jobs_insert_guard);

/*
 * automation_jobs_insert_guard
 *		BEFORE INSERT ... FOR EACH ROW on automation.jobs: only the extension
 *		owner (the engine, in its owner scope) and superusers (a restore)
 *		insert jobs; anyone else, whatever was granted, gets 42501.  In C
 *		because the engine pays it once per enqueued job.  SQL:
 *		automation._jobs_insert_guard().
 */
Datum
automation_jobs_insert_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			user = GetUserId();

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("automation._jobs_insert_guard() must be a BEFORE INSERT ... FOR EACH ROW trigger")));
	if (user != automation_owner() && !superuser_arg(user))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to insert into automation.jobs"),
				 errdetail("role %s is not the owner of extension automation",
						   GetUserNameFromId(user, false)),
				 errhint("jobs are enqueued by the engine only")));
	return PointerGetDatum(trigdata->tg_trigtuple);
}

/*
 * automation_value_parses
 *		SQL: automation._value_parses_as_owner(v text, typ oid, typmod int)
 *		RETURNS boolean: does v parse as typ (a domain's CHECK included)?
 *		The input function runs as the type's owner, in a security-restricted
 *		owner scope: validating a definition on another role's table must not
 *		run that role's domain CHECK with the rights of whoever validates it
 *		(a superuser editing a tenant's workflow).  The caller refuses types
 *		whose input could reach another owner's code (automation._input_type).
 */
typedef struct ValueParse
{
	Oid			typ;
	int32		typmod;
	char	   *text;
} ValueParse;

static void
value_parse(void *arg)
{
	ValueParse *p = arg;
	Oid			typinput;
	Oid			typioparam;

	getTypeInputInfo(p->typ, &typinput, &typioparam);
	(void) OidInputFunctionCall(typinput, p->text, typioparam, p->typmod);
}

PG_FUNCTION_INFO_V1(automation_value_parses);

Datum
automation_value_parses(PG_FUNCTION_ARGS)
{
	ValueParse	p;
	HeapTuple	tuple;
	Oid			owner;
	OwnerScope	scope;
	bool		ok;
	Oid			basetype;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(true);
	if (PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	p.text = text_to_cstring(PG_GETARG_TEXT_PP(0));
	p.typ = PG_GETARG_OID(1);
	p.typmod = PG_ARGISNULL(2) ? -1 : PG_GETARG_INT32(2);
	tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(p.typ));
	if (!HeapTupleIsValid(tuple))
		PG_RETURN_BOOL(false);
	owner = ((Form_pg_type) GETSTRUCT(tuple))->typowner;
	basetype = ((Form_pg_type) GETSTRUCT(tuple))->typbasetype;
	ReleaseSysCache(tuple);

	/*
	 * Only the type's own code, run as its owner: a built-in, base or enum
	 * type (or an array of them), or one domain directly over such a type.
	 * A composite, range, a domain over a domain or an array of domains
	 * would run other owners' input code and CHECKs as this type's owner.
	 */
	if (!(OidIsValid(basetype) ? get_typtype(basetype) != TYPTYPE_DOMAIN &&
		  automation_input_runs_no_user_code(basetype)
		  : automation_input_runs_no_user_code(p.typ)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("values of type %s are not parsed by automation", format_type_be(p.typ)),
				 errdetail("Its input could run the code of a role other than its owner.")));

	automation_role_enter(&scope, owner, "pg_catalog, pg_temp");
	/* as the engine will read it, whatever the session's settings (cache.c) */
	automation_fixed_styles();
	ok = automation_try(value_parse, &p, NULL);
	automation_owner_leave(&scope);
	PG_RETURN_BOOL(ok);
}

PG_FUNCTION_INFO_V1(automation_input_type);

/*
 * automation_input_type
 *		SQL: automation._input_type(typ oid) RETURNS oid: the type a value of
 *		typ is parsed as without running a user's code (a domain as its base
 *		type), or NULL when its input could reach a user's code.  The
 *		engine's own rule (cache.c, automation_input_runs_no_user_code), for
 *		validation to agree with what the engine compiles.
 */
Datum
automation_input_type(PG_FUNCTION_ARGS)
{
	Oid			type = PG_GETARG_OID(0);
	Oid			base;

	if (!SearchSysCacheExists1(TYPEOID, ObjectIdGetDatum(type)))
		PG_RETURN_NULL();		/* not a type */
	base = getBaseType(type);
	if (!automation_input_runs_no_user_code(base))
		PG_RETURN_NULL();
	PG_RETURN_OID(base);
}

/*
 * automation_input_runs_no_user_code
 *		Constants are parsed as the extension owner: only types whose input
 *		function is built in or a base type's (only superusers create those)
 *		are parsed, and arrays of them.  The caller passes the type it will
 *		parse with (a column's domain is parsed as its base type); a domain
 *		as an array's element, or a composite or range type that may hold
 *		one, would run the domain's CHECK, the type owner's code: such
 *		conditions are skipped (doc/security.md).
 */
bool
automation_input_runs_no_user_code(Oid type)
{
	char		typtype;
	Oid			element;

	/* the type whose input function is called: a domain's CHECK is user code */
	typtype = get_typtype(type);
	if (typtype == TYPTYPE_ENUM)
		return true;
	if (typtype != TYPTYPE_BASE)
		return false;
	element = get_element_type(type);
	return !OidIsValid(element) || automation_input_runs_no_user_code(element);
}

/*
 * automation_caller_sees_all
 *		Row-level security on schema automation does not apply to the
 *		extension owner, superusers and BYPASSRLS roles: they see every
 *		tenant's definitions and history (explain.c, backtest.c).
 */
bool
automation_caller_sees_all(void)
{
	return superuser() || GetUserId() == automation_owner() ||
		has_bypassrls_privilege(GetUserId());
}

/*
 * automation_caller_tenant
 *		The tenant the caller acts for, automation._tenant() read as the
 *		caller (70_tenancy.sql: 42501 for a role bound to other tenants), or
 *		NULL for none; in the caller's memory context.
 */
char *
automation_caller_tenant(void)
{
	MemoryContext caller = CurrentMemoryContext;
	char	   *tenant = NULL;

	SPI_connect();
	if (SPI_execute("SELECT automation._tenant()", true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		char	   *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (value != NULL)
			tenant = MemoryContextStrdup(caller, value);
	}
	SPI_finish();
	return tenant;
}
