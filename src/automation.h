/*-------------------------------------------------------------------------
 *
 * automation.h
 *	  Declarations shared by the automation extension's C modules.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_H
#define AUTOMATION_H

/* settings (automation.c) */
extern int	automation_max_depth;
extern int	automation_current_depth;

/* cache.c */
extern void automation_cache_init(void);

#endif							/* AUTOMATION_H */
