/*-------------------------------------------------------------------------
 *
 * decide.c
 *	  The one decision path: candidates -> match (groups) -> fire_when ->
 *	  rule chain -> tenant -> loop guard -> cooldown -> breaker -> enqueue,
 *	  for one row event, in one of three modes (decide.h).
 *
 * Invariants:
 *	- The trigger (FIRE), explain (PREDICT) and backtest (COUNT) all call
 *	  automation_decide(); no caller repeats a step.
 *	- FIRE walks only the candidates the index returns, and evaluates only
 *	  the groups of each that the index names (a group whose guard did
 *	  not hit cannot hold); a row that matches nothing costs the index
 *	  probes and the evaluation of those groups, and allocates nothing
 *	  beyond the trigger's per-row context.
 *	- PREDICT and COUNT walk every definition (for the report), evaluate
 *	  every group (PREDICT: every condition), and change nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "automation.h"
#include "decide.h"

/*
 * ensure_firing
 *		Build the firing context (record key, the row's tenant) the first
 *		time a step needs it: a tenant's definition, or a match for the
 *		gates.  A row whose candidates all fail on global definitions
 *		reads neither column (doc/benchmark.md, "0.4.0").
 */
static void
ensure_firing(DecideRequest *req)
{
	RowState   *row = req->row;

	if (req->firing_ready)
		return;
	automation_firing_init(req->firing, req->cache, row->event, row->tuples[ROW_NEW],
						   row->tuples[ROW_OLD], row->tupdesc);
	req->firing_ready = true;
}

/*
 * select_one
 *		The steps before a match is acted on, for one definition: operation,
 *		rule chain, tenant, conditions (OR of AND-groups: FIRE evaluates
 *		the candidate's groups, the others every group), index, fire_when.
 *		VERDICT_FIRES here means "matched"; the gates come after.
 */
static Verdict
select_one(DecideRequest *req, Definition *definition, bool candidate,
		   GroupMask groups, bool rules_stopped, Decision *decision)
{
	RowState   *row = req->row;
	FiringContext *firing = req->firing;
	bool		report = req->mode == DECIDE_PREDICT;
	bool		holds = false;
	int			group = -1;

	if (report)
	{
		/* explain reports every condition, whatever the verdict */
		decision->conditions = palloc0(sizeof(ConditionResult) *
									   Max(definition->nconditions, 1));
		holds = automation_conditions_match(definition->conditions, definition->nconditions,
											row, GROUPS_ALL, decision->conditions, &group);
		decision->group = group;
	}
	if ((definition->event_mask & row->event) == 0)
		return VERDICT_NOT_EVALUATED;
	if (definition->is_rule && rules_stopped)
		return VERDICT_CHAIN_STOPPED;
	if (definition->tenant_id != NULL)
	{
		ensure_firing(req);
		if (firing->tenant_id == NULL || strcmp(definition->tenant_id, firing->tenant_id) != 0)
			return VERDICT_OTHER_TENANT;
	}
	if (!report)
	{
		holds = automation_conditions_match(definition->conditions, definition->nconditions,
											row, groups, NULL, &group);
		if (decision != NULL)
			decision->group = group;
	}
	if (!holds)
		return VERDICT_NO_MATCH;
	if (!candidate)
		return VERDICT_NOT_CANDIDATE;	/* cannot happen: the index is exact */
	/*
	 * fire_when = becomes_true: not if it held for OLD already (SPEC 3):
	 * every group, the index's guards were asked about NEW
	 */
	if (definition->becomes_true && row->event == EVENT_UPDATE)
	{
		RowState	prior;

		automation_row_prior(&prior, row);
		if (automation_conditions_match(definition->conditions, definition->nconditions,
										&prior, GROUPS_ALL, NULL, NULL))
			return VERDICT_HELD_BEFORE;
	}
	return VERDICT_FIRES;
}

/*
 * select_reason
 *		PREDICT's words for a verdict reached before the gates.
 */
static char *
select_reason(Verdict verdict, Definition *definition, int group)
{
	switch (verdict)
	{
		case VERDICT_NOT_EVALUATED:
			return "not evaluated for this operation";
		case VERDICT_CHAIN_STOPPED:
			return "an earlier rule stopped the chain";
		case VERDICT_OTHER_TENANT:
			return "belongs to another tenant";
		case VERDICT_NO_MATCH:
			return definition->nconditions > 0 &&
				definition->conditions[0].group != definition->conditions[definition->nconditions - 1].group
				? "no group has all its conditions holding" : "a condition does not hold";
		case VERDICT_NOT_CANDIDATE:
			return "skipped by the index";
		case VERDICT_HELD_BEFORE:
			return "the conditions hold, but they held before the change too (fire_when becomes_true)";
		default:
			break;
	}
	/* matched */
	if (definition->nconditions > 0 &&
		definition->conditions[0].group != definition->conditions[definition->nconditions - 1].group)
		return psprintf("the conditions of group %d hold", group);
	return "all conditions hold";
}

/*
 * automation_decide
 *		Decide, or predict, what the row event does to every definition of
 *		its table (decide.h).
 */
void
automation_decide(DecideRequest *req)
{
	EntityCache *cache = req->cache;
	RowState   *row = req->row;
	bool		fire = req->mode == DECIDE_FIRE;
	Candidate	stack_candidates[64];
	Definition *stack_matched[64];
	Verdict		stack_verdicts[64];
	Candidate  *candidates;
	Definition **matched = stack_matched;
	Verdict    *verdicts = stack_verdicts;
	char	  **reasons = NULL;
	int		   *matched_at = NULL;	/* PREDICT/COUNT: decision of each match */
	bool	   *candidate = NULL;
	int			ncandidates;
	int			nwalk;
	bool		rules_stopped = false;	/* by a global rule: every later rule */
	bool		tenant_rules_stopped = false;	/* by a tenant's rule: its
												 * tenant's later rules */

	req->nmatched = req->nfired = 0;
	req->decisions = NULL;
	if (cache->ndefinitions == 0)
		return;
	candidates = cache->ndefinitions <= lengthof(stack_candidates) ? stack_candidates
		: palloc(sizeof(Candidate) * cache->ndefinitions);
	ncandidates = automation_candidates(&cache->index, cache->ndefinitions, row, candidates);
	if (fire)
	{
		if (ncandidates == 0)
			return;
		nwalk = ncandidates;
	}
	else
	{
		req->decisions = palloc0(sizeof(Decision) * cache->ndefinitions);
		candidate = palloc0(sizeof(bool) * cache->ndefinitions);
		for (int i = 0; i < ncandidates; i++)
			candidate[candidates[i].order] = true;
		matched = palloc(sizeof(Definition *) * cache->ndefinitions);
		verdicts = palloc(sizeof(Verdict) * cache->ndefinitions);
		matched_at = palloc(sizeof(int) * cache->ndefinitions);
		if (req->mode == DECIDE_PREDICT)
			reasons = palloc0(sizeof(char *) * cache->ndefinitions);
		nwalk = cache->ndefinitions;
	}

	automation_cache_pin();
	for (int i = 0; i < nwalk; i++)
	{
		int			order = fire ? candidates[i].order : i;
		Definition *definition = cache->definitions[order];
		Decision   *decision = fire ? NULL : &req->decisions[order];
		Verdict		verdict;

		if (decision != NULL)
		{
			decision->definition = definition;
			decision->candidate = candidate[order];
			decision->group = -1;
			if (req->hide_other_tenants && definition->tenant_id != NULL &&
				(req->viewer_tenant == NULL ||
				 strcmp(req->viewer_tenant, definition->tenant_id) != 0))
			{
				decision->verdict = VERDICT_HIDDEN;
				continue;
			}
		}
		verdict = select_one(req, definition, fire || candidate[order],
							 fire ? candidates[i].groups : GROUPS_ALL,
							 rules_stopped || (tenant_rules_stopped && definition->tenant_id != NULL),
							 decision);
		if (decision != NULL)
		{
			decision->verdict = verdict;
			if (reasons != NULL)
				decision->reason = select_reason(verdict, definition, decision->group);
		}
		if (verdict != VERDICT_FIRES)
			continue;
		if (fire && req->nmatched == lengthof(stack_matched))
		{
			matched = palloc(sizeof(Definition *) * cache->ndefinitions);
			memcpy(matched, stack_matched, sizeof(stack_matched));
			verdicts = palloc(sizeof(Verdict) * cache->ndefinitions);
		}
		if (matched_at != NULL)
			matched_at[req->nmatched] = order;
		matched[req->nmatched++] = definition;
		/* the chain stops after a match, whatever the gates say */
		if (definition->is_rule && definition->stop_subsequent)
		{
			/*
			 * A tenant's rule ends its tenant's chain, not the global rules:
			 * tenants use global definitions but do not change them
			 * (doc/tenancy.md; doc/redteam-0.4.0.md, R4).  A tenant rule
			 * matches only its tenant's rows, so the tenant rules after it
			 * are its tenant's.
			 */
			if (definition->tenant_id == NULL)
				rules_stopped = true;
			else
				tenant_rules_stopped = true;
			if (decision != NULL)
				decision->stops_chain = true;
		}
	}

	/* the gates: loop guard, cooldown, breaker, enqueue (enqueue.c) */
	if (req->nmatched > 0)
		ensure_firing(req);
	if (req->nmatched > 0 && (fire || req->check_history))
		automation_gate(matched, req->nmatched, req->firing, req->mode, verdicts, reasons);
	else
		for (int i = 0; i < req->nmatched; i++)
			verdicts[i] = VERDICT_FIRES;
	for (int i = 0; i < req->nmatched; i++)
	{
		if (verdicts[i] == VERDICT_FIRES)
			req->nfired++;
		if (!fire)
		{
			Decision   *decision = &req->decisions[matched_at[i]];

			decision->verdict = verdicts[i];
			if (reasons == NULL)
				continue;
			/* automation_gate wrote reasons[i] for a match it stops */
			if (verdicts[i] != VERDICT_FIRES)
				decision->reason = reasons[i];
			if (decision->stops_chain)
				decision->reason = verdicts[i] == VERDICT_FIRES
					? psprintf("%s; stops subsequent rules", decision->reason)
					: psprintf("%s; it still stops subsequent rules", decision->reason);
			if (!req->check_history)
				decision->reason = psprintf("%s (cooldown and breaker not checked: the row is another tenant's)",
											decision->reason);
		}
	}
	automation_cache_unpin();
}
