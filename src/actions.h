/*-------------------------------------------------------------------------
 *
 * actions.h
 *	  The action types: their spellings and where they run, read from the
 *	  vocabulary (src/vocabulary.h, AUTOMATION_ACTION_TYPES) by actions.c.
 *	  The compiler (cache.c) resolves a definition's action type once; the
 *	  enqueuer, the renderer and the wake-ups ask here by ActionType, never
 *	  by a spelling of their own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_ACTIONS_H
#define AUTOMATION_ACTIONS_H

/* ActionType, VocabAction: the vocabulary (one definition) */
#include "vocabulary.h"

/* workflow, rule or job spelling (either case) to the type; false if unknown */
extern bool automation_action_parse(const char *name, ActionType *type);

/* the type's vocabulary entry: spellings (job = jobs.action_type), runs, keys */
extern const VocabAction *automation_action_info(ActionType type);

#endif							/* AUTOMATION_ACTIONS_H */
