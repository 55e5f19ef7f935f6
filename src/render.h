/*-------------------------------------------------------------------------
 *
 * render.h
 *	  Rendering an action's merge tokens for one firing (render.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_RENDER_H
#define AUTOMATION_RENDER_H

#include "enqueue.h"

extern Jsonb *automation_render_config(CompiledAction *action, Definition *definition,
									   FiringContext *firing);

#endif							/* AUTOMATION_RENDER_H */
