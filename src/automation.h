/*-------------------------------------------------------------------------
 *
 * automation.h
 *	  Shared basics of the automation extension's C modules: settings, row
 *	  event bits, and the small services every layer may call (wake-ups,
 *	  traps, breakers, printing a column).  The engine's own structures live
 *	  in their modules' headers (doc/CONTRACTS.md, "Engine modules").
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_H
#define AUTOMATION_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/jsonb.h"

#include "vocabulary.h"

/* settings (automation.c) */
extern int	automation_max_depth;
extern int	automation_payload_column_limit;	/* kB */
extern int	automation_current_depth;
extern char *automation_tenant;
extern char *automation_request_id;

/* row events, also the bit of a definition's event mask */
#define EVENT_INSERT	0x01
#define EVENT_UPDATE	0x02
#define EVENT_DELETE	0x04

/* wakeup.c */
extern int	automation_wakeup_interval;
extern void automation_wakeup_request(ActionType type);
extern void automation_wakeup_init(void);
extern void automation_wakeup_shmem_request(void);
extern void automation_wakeup_shmem_startup(void);

/* rowtext.c */
extern bool automation_style_dependent(Oid type);
extern char *automation_datum_text(Datum value, Oid type, bool fixed_styles);
extern char *automation_column_text(HeapTuple tuple, TupleDesc tupdesc, AttrNumber attnum,
									bool fixed_styles);

/* jsonsafe.c */
extern bool automation_try(void (*fn) (void *arg), void *arg, char **message);
extern Jsonb *automation_json_to_jsonb(Datum json);
extern bool automation_has_json_column(TupleDesc tupdesc);

/* breaker.c */
extern void automation_breaker_shmem_request(void);
extern void automation_breaker_shmem_startup(void);
extern int32 automation_breaker_used(const char *workflow_id);
extern bool automation_breaker_reserve(const char *workflow_id, int max_per_day,
									   bool *trip);
extern void automation_breaker_init(void);

/* ratelimit.c */
extern void automation_ratelimit_shmem_request(void);
extern void automation_ratelimit_shmem_startup(void);

#endif							/* AUTOMATION_H */
