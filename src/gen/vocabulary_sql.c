/*
 * vocabulary_sql.c: writes the SQL side of the vocabulary (src/vocabulary.h).
 *
 *	 vocabulary_sql install	  > src/sql/install/05_vocabulary.sql
 *	 vocabulary_sql upgrade	  > src/sql/upgrade/<prev>--<version>/10_vocabulary.sql
 *
 * Built and run by the top-level Makefile with the host compiler; it is not
 * part of the extension or the worker.  The install fragment creates the
 * lookup functions and adds the CHECK of domain automation.job_action_type
 * (created without one by 00_schema.sql); the upgrade fragment replaces
 * the functions, revokes the new ones from PUBLIC and grants them to the
 * roles that could call the 0.3.0 lookups, and replaces the domain's CHECK.
 * Both carry the same function text, as test/e2e/upgrade.sh requires.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vocabulary.h"

static const VocabOperator operators[] = VOCAB_OPERATOR_TABLE;
static const VocabAction actions[] = VOCAB_ACTION_TABLE;
static const char *const value_names[] = VOCAB_VALUE_NAMES;
static const char *const field_names[] = VOCAB_FIELD_NAMES;
static const char *const trigger_names[] = VOCAB_TRIGGER_NAMES;
static const char *const index_names[] = VOCAB_INDEX_NAMES;
static const char *const runs_names[] = VOCAB_RUNS_NAMES;

#define NOPERATORS (sizeof(operators) / sizeof(operators[0]))
#define NACTIONS (sizeof(actions) / sizeof(actions[0]))

/* a SQL string literal, or NULL::text */
static void
literal(const char *s)
{
	if (s == NULL)
	{
		fputs("NULL::text", stdout);
		return;
	}
	putchar('\'');
	for (; *s; s++)
	{
		if (*s == '\'')
			putchar('\'');
		putchar(*s);
	}
	fputs("'::text", stdout);
}

/* "a,b" as '{a,b}'::text[]; NULL as NULL::text[] */
static void
text_array(const char *list)
{
	if (list == NULL)
	{
		fputs("NULL::text[]", stdout);
		return;
	}
	printf("'{%s}'::text[]", list);
}

/* "k=v,k2=v2" as a jsonb object of strings */
static void
defaults_json(const char *pairs)
{
	const char *p = pairs;
	bool		first = true;

	fputs("'{", stdout);
	while (*p)
	{
		const char *eq = strchr(p, '=');
		const char *end = strchr(p, ',');

		if (end == NULL)
			end = p + strlen(p);
		if (eq == NULL || eq > end)
		{
			fprintf(stderr, "vocabulary_sql: default \"%s\" is not key=value\n", p);
			exit(1);
		}
		printf("%s\"%.*s\": \"%.*s\"", first ? "" : ", ", (int) (eq - p), p,
			   (int) (end - eq - 1), eq + 1);
		first = false;
		p = *end ? end + 1 : end;
	}
	fputs("}'::jsonb", stdout);
}

static void
function_head(bool upgrade, const char *signature, const char *returns)
{
	printf("CREATE %sFUNCTION automation.%s\nRETURNS %s\n"
		   "LANGUAGE sql IMMUTABLE PARALLEL SAFE\n"
		   "SET search_path = pg_catalog, pg_temp\nAS $$\n",
		   upgrade ? "OR REPLACE " : "", signature, returns);
}

/* an array function of one spelling column; which: 0 workflow, 1 rule, 2 job */
static void
spelling_array(bool upgrade, const char *name, bool of_actions, int which)
{
	bool		first = true;
	char		signature[100];

	snprintf(signature, sizeof(signature), "%s()", name);
	function_head(upgrade, signature, "text[]");
	fputs("\tSELECT '{", stdout);
	for (size_t i = 0; i < (of_actions ? NACTIONS : NOPERATORS); i++)
	{
		const char *s;

		if (of_actions)
			s = which == 0 ? actions[i].workflow : which == 1 ? actions[i].rule : actions[i].job;
		else
			s = which == 0 ? operators[i].workflow : operators[i].rule;
		if (s == NULL)
			continue;
		printf("%s%s", first ? "" : ",", s);
		first = false;
	}
	fputs("}'::text[]\n$$;\n\n", stdout);
}

static void
functions(bool upgrade)
{
	puts("/*\n"
		 " * _operators: the condition operators (SPEC section 3), one row each in\n"
		 " * hint order: spellings (workflow NULL: rules only), the value form\n"
		 " * (scalar, ordered, string, list, flag, interval), the fields it fits\n"
		 " * (any, text, text_array, ordered, date), level / edge / clock, how the\n"
		 " * candidate index files it, the events it can hold on.\n"
		 " */");
	function_head(upgrade, "_operators()",
				  "TABLE (ord integer, workflow text, rule text, value text, field text,\n"
				  "\t\t\t   trigger text, index text, events text[])");
	for (size_t i = 0; i < NOPERATORS; i++)
	{
		const VocabOperator *o = &operators[i];
		const char *sep = "";

		printf(i == 0 ? "\tVALUES (" : "\t\t  (");
		printf("%d, ", (int) i + 1);
		literal(o->workflow);
		fputs(", ", stdout);
		literal(o->rule);
		fputs(", ", stdout);
		literal(value_names[o->value]);
		fputs(", ", stdout);
		literal(field_names[o->field]);
		fputs(", ", stdout);
		literal(trigger_names[o->trigger]);
		fputs(", ", stdout);
		literal(index_names[o->index]);
		fputs(", '{", stdout);
		if (o->events & VOCAB_ON_INSERT)
			printf("%sINSERT", sep), sep = ",";
		if (o->events & VOCAB_ON_UPDATE)
			printf("%sUPDATE", sep), sep = ",";
		if (o->events & VOCAB_ON_DELETE)
			printf("%sDELETE", sep), sep = ",";
		printf("}'::text[])%s\n", i + 1 < NOPERATORS ? "," : "");
	}
	puts("$$;\n");

	puts("/*\n"
		 " * _action_types: the action types (SPEC section 6), one row each in hint\n"
		 " * order: spellings (workflow NULL: rules only; job: jobs.action_type),\n"
		 " * where it runs (http, channel, email: the worker; database:\n"
		 " * execute_job), its keys (NULL: the task table's columns) besides\n"
		 " * delay_minutes, the required keys, the defaults of absent keys.\n"
		 " */");
	function_head(upgrade, "_action_types()",
				  "TABLE (ord integer, workflow text, rule text, job text, runs text,\n"
				  "\t\t\t   keys text[], required text[], defaults jsonb)");
	for (size_t i = 0; i < NACTIONS; i++)
	{
		const VocabAction *a = &actions[i];

		printf(i == 0 ? "\tVALUES (" : "\t\t  (");
		printf("%d, ", (int) i + 1);
		literal(a->workflow);
		fputs(", ", stdout);
		literal(a->rule);
		fputs(", ", stdout);
		literal(a->job);
		fputs(", ", stdout);
		literal(runs_names[a->runs]);
		fputs(", ", stdout);
		text_array(a->keys);
		fputs(", ", stdout);
		text_array(a->required);
		fputs(", ", stdout);
		defaults_json(a->defaults);
		printf(")%s\n", i + 1 < NACTIONS ? "," : "");
	}
	puts("$$;\n");

	puts("/* The spellings, in hint order. */");
	spelling_array(upgrade, "_workflow_operators", false, 0);
	spelling_array(upgrade, "_rule_operators", false, 1);
	spelling_array(upgrade, "_workflow_action_types", true, 0);
	spelling_array(upgrade, "_rule_action_types", true, 1);
	spelling_array(upgrade, "_job_action_types", true, 2);
}

static void
domain_check(void)
{
	fputs("ALTER DOMAIN automation.job_action_type ADD CONSTRAINT job_action_type_check\n"
		  "\tCHECK (VALUE IN (", stdout);
	for (size_t i = 0; i < NACTIONS; i++)
		printf("%s'%s'", i == 0 ? "" : ", ", actions[i].job);
	puts("));");
}

int
main(int argc, char **argv)
{
	bool		upgrade;

	if (argc != 2 || (strcmp(argv[1], "install") != 0 && strcmp(argv[1], "upgrade") != 0))
	{
		fprintf(stderr, "usage: vocabulary_sql install|upgrade\n");
		return 2;
	}
	upgrade = strcmp(argv[1], "upgrade") == 0;
	printf("/*\n"
		   " * %s: GENERATED by `make` from src/vocabulary.h\n"
		   " * (src/gen/vocabulary_sql.c); do not edit, do not commit.\n"
		   " *\n"
		   " * The vocabulary of the rules language as SQL sees it: the lookup\n"
		   " * functions the validation of workflows, rules and jobs queries, and the\n"
		   " * CHECK of domain automation.job_action_type.\n"
		   " */\n\n",
		   upgrade ? "10_vocabulary.sql" : "05_vocabulary.sql");
	functions(upgrade);
	if (upgrade)
	{
		puts("REVOKE ALL ON FUNCTION automation._operators(), automation._action_types(),\n"
			 "\tautomation._workflow_operators(), automation._workflow_action_types(),\n"
			 "\tautomation._job_action_types() FROM PUBLIC;\n"
			 "/*\n"
			 " * Roles that could validate definitions (EXECUTE on _rule_operators,\n"
			 " * _validate_action) or claim and run jobs (_check_action_types,\n"
			 " * run_database_jobs) need the new lookups.\n"
			 " */\n"
			 "DO $$\n"
			 "DECLARE\n"
			 "\tr record;\n"
			 "BEGIN\n"
			 "\tFOR r IN SELECT DISTINCT a.grantee::regrole::text AS grantee\n"
			 "\t\t\t   FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a\n"
			 "\t\t\t  WHERE p.oid IN ('automation._rule_operators()'::regprocedure,\n"
			 "\t\t\t\t\t\t  'automation._validate_action(text, jsonb, text, text, text, name, text)'::regprocedure,\n"
			 "\t\t\t\t\t\t  'automation._check_action_types(text[])'::regprocedure,\n"
			 "\t\t\t\t\t\t  'automation.run_database_jobs(integer)'::regprocedure)\n"
			 "\t\t\t\tAND a.privilege_type = 'EXECUTE' AND a.grantee <> 0\n"
			 "\t\t\t\tAND a.grantee <> p.proowner\n"
			 "\tLOOP\n"
			 "\t\tEXECUTE format('GRANT EXECUTE ON FUNCTION automation._operators(), automation._action_types(), '\n"
			 "\t\t\t\t\t   'automation._workflow_operators(), automation._workflow_action_types(), '\n"
			 "\t\t\t\t\t   'automation._job_action_types() TO %s', r.grantee);\n"
			 "\tEND LOOP;\n"
			 "END\n"
			 "$$;\n");
		puts("ALTER DOMAIN automation.job_action_type DROP CONSTRAINT job_action_type_check;");
	}
	domain_check();
	return ferror(stdout) ? 1 : 0;
}
