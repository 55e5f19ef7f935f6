/*-------------------------------------------------------------------------
 *
 * owner.h
 *	  Owner scopes: the one way automation runs with another role's rights
 *	  (owner.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUTOMATION_OWNER_H
#define AUTOMATION_OWNER_H

typedef struct OwnerScope
{
	Oid			save_userid;
	int			save_sec_context;
	int			guc_nest_level;
} OwnerScope;

extern Oid	automation_owner(void);
extern Oid	automation_rel_owner(Oid relid);
extern void automation_owner_enter(OwnerScope *scope);
extern void automation_role_enter(OwnerScope *scope, Oid role, const char *search_path);
extern void automation_owner_leave(OwnerScope *scope);
extern void automation_fixed_styles(void);
extern void automation_require_owner(const char *function);
extern bool automation_caller_sees_all(void);
extern char *automation_caller_tenant(void);
extern bool automation_input_runs_no_user_code(Oid type);

#endif							/* AUTOMATION_OWNER_H */
