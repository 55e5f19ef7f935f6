/*-------------------------------------------------------------------------
 *
 * rowtext.c
 *	  A column of a row as text, the way every session reads it back: the
 *	  record key and tenant of a firing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "parser/parse_coerce.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "automation.h"
#include "owner.h"

/*
 * automation_style_dependent
 *		Does a value of this type print differently under another DateStyle,
 *		IntervalStyle or TimeZone?  (Asked once per entity, when it is
 *		compiled: cache.c.)
 */
bool
automation_style_dependent(Oid type)
{
	char		category = TypeCategory(getBaseType(type));

	return category == TYPCATEGORY_DATETIME || category == TYPCATEGORY_TIMESPAN;
}

/*
 * automation_datum_text
 *		A value of type as text; with fixed_styles, dates and times are
 *		printed the same way in every session.
 */
char *
automation_datum_text(Datum value, Oid type, bool fixed_styles)
{
	Oid			typoutput;
	bool		typisvarlena;

	getTypeOutputInfo(type, &typoutput, &typisvarlena);
	if (fixed_styles)
	{
		/*
		 * A record key or tenant is read back by other sessions (database
		 * actions, cooldowns): print dates and times the same way in every
		 * session, not in the writer's DateStyle or TimeZone.
		 */
		int			level = NewGUCNestLevel();
		char	   *text;

		automation_fixed_styles();
		(void) set_config_option("timezone", "UTC", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		text = OidOutputFunctionCall(typoutput, value);
		AtEOXact_GUC(true, level);
		return text;
	}
	return OidOutputFunctionCall(typoutput, value);
}

/*
 * column_text
 *		A column's value as text, or NULL (automation_datum_text).
 */
char *
automation_column_text(HeapTuple tuple, TupleDesc tupdesc, AttrNumber attnum,
					   bool fixed_styles)
{
	bool		isnull;
	Datum		value;

	if (tuple == NULL || attnum == InvalidAttrNumber)
		return NULL;
	value = heap_getattr(tuple, attnum, tupdesc, &isnull);
	if (isnull)
		return NULL;
	return automation_datum_text(value, TupleDescAttr(tupdesc, attnum - 1)->atttypid,
								 fixed_styles);
}
