/*-------------------------------------------------------------------------
 *
 * actions.c
 *	  The action types' spellings and properties, from the vocabulary
 *	  (src/vocabulary.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "actions.h"

static const VocabAction actions[ACTION_COUNT] = VOCAB_ACTION_TABLE;

/*
 * automation_action_info
 *		The action type's entry in the vocabulary.  An ActionType outside
 *		it is a bug: an error, never a guess.
 */
const VocabAction *
automation_action_info(ActionType type)
{
	if ((int) type < 0 || type >= ACTION_COUNT)
		elog(ERROR, "automation: action type %d is not in the vocabulary", (int) type);
	return &actions[type];
}

/*
 * automation_action_parse
 *		A workflow (send_email), rule (SEND_EMAIL) or job spelling, in any
 *		case, to its ActionType; false if the vocabulary has no such type.
 */
bool
automation_action_parse(const char *name, ActionType *type)
{
	if (name == NULL)
		return false;
	for (int i = 0; i < ACTION_COUNT; i++)
	{
		if (pg_strcasecmp(name, actions[i].job) == 0 ||
			pg_strcasecmp(name, actions[i].rule) == 0 ||
			(actions[i].workflow != NULL && pg_strcasecmp(name, actions[i].workflow) == 0))
		{
			*type = (ActionType) i;
			return true;
		}
	}
	return false;
}
