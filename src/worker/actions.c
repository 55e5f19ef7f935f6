/*
 * actions.c: the worker's view of the action types, from the vocabulary
 * (src/vocabulary.h): which ones it knows and where each runs.
 *
 * Invariants:
 *   - a job whose action type is not in this build's vocabulary has no
 *     entry (vocab_action returns NULL) and fails permanently with a clear
 *     error (main.c); it never falls through to another delivery path;
 *   - the dispatch in main.c switches on VocabRuns without a default, so a
 *     new place to run is a compile-time warning (-Wswitch, WERROR=1).
 */
#include <stddef.h>
#include <string.h>

#include "worker.h"

static const VocabAction actions[] = VOCAB_ACTION_TABLE;

/* vocab_action: the vocabulary entry of a jobs.action_type, NULL if unknown. */
const VocabAction *
vocab_action(const char *job_action_type)
{
	if (job_action_type == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(actions[i].job, job_action_type) == 0)
			return &actions[i];
	return NULL;
}

/* vocab_action_names: "webhook, send_channel_message, ..." for messages. */
const char *
vocab_action_names(void)
{
	static char names[512];

	if (names[0] == '\0')
	{
		for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		{
			if (i > 0)
				strncat(names, ", ", sizeof(names) - strlen(names) - 1);
			strncat(names, actions[i].job, sizeof(names) - strlen(names) - 1);
		}
	}
	return names;
}
