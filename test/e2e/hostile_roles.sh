#!/usr/bin/env bash
# test/e2e/hostile_roles.sh: the hostile-role suite (issue 10, deliverable 8).
#
# Roles with exactly the documented grants try to run their own code with
# another role's rights, or to cross a tenant boundary, on every path of the
# extension; the suite asserts that none of their code ever ran as another
# role and that automation still fired correctly.
#
#   hostile_app_writer   LOGIN; INSERT, SELECT and UPDATE(email) on the watched
#                        table public.contacts, the default TEMP privilege;
#                        nothing on schema automation
#   hostile_app_owner    owns schema hostile_owner and its tables (watched by the
#                        superuser), its enum/composite types and their casts
#   hostile_acme_admin   tenant administrator of tenant "hacme" (the grants of
#                        doc/tenancy.md, EXECUTE ON ALL FUNCTIONS included)
#   hostile_acme_worker  USAGE, EXECUTE ON ALL FUNCTIONS, SELECT and UPDATE on
#                        automation.jobs, bound to tenant "hacme"
#   hostile_beta_admin   the other tenant ("hbeta"), the victim
#   hostile_defmgr       a definition manager without tenant (global)
#
# Canary: every piece of attacker code (look-alike functions, aggregates and
# operators, domain CHECKs, casts, views, triggers) calls <schema>.hcanary,
# which logs (planter, current_user, session_user) into hostile_log.canary and
# raises WARNING 'HOSTILE-CANARY ...' when it runs as anyone but its planter
# (hostile/lib.sql).  Look-alikes are planted for every name the owner-rights
# SQL uses, derived from the source at test time (hostile/derive_names.py).
#
# Runs against PGHOST/PGPORT (PGUSER=postgres, automation preloaded), creates
# and drops its own database and roles; restarts the server once (breaker
# rebuild, cache loads after a restart) when run from test/run-all.sh or
# another test/lib/cluster.sh cluster (HOSTILE_RESTART=0 skips it).
# HOSTILE_VERSION=0.2.0 runs it against a released install script.
# Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
. test/lib/expect.sh
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WORKER=${WORKER:-$($PGBIN/pg_config --bindir)/automation-worker}
export PGUSER=${PGUSER:-postgres}
DB=automation_hostile
TMP=$(mktemp -d /tmp/hostile.XXXXXX)
chmod 755 "$TMP"
LOG=$TMP/transcript
: >"$LOG"
W=hostile_app_writer O=hostile_app_owner A=hostile_acme_admin K=hostile_acme_worker
B=hostile_beta_admin M=hostile_defmgr
TA=automation_tenant_hacme TB=automation_tenant_hbeta
ROLES="$W $O $A $K $B $M $TA $TB"
pids=()

drop_all() {
	$PGBIN/dropdb --if-exists -f "$DB" >/dev/null 2>&1
	for r in $ROLES; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1; done
}
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	exec 7>&- 2>/dev/null
	drop_all
	[ "${KEEP_HOSTILE_TMP:-}" = 1 ] && echo "transcript kept in $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT

su_q() { q "$DB" "$1"; }          # a value, as the superuser
# scene NAME ROLE PGOPTIONS < sql: one session of ROLE; output in $TMP/NAME.out
scene() {
	local name=$1 role=$2 opts=$3
	PGOPTIONS="-c client_min_messages=warning $opts" psql -X -q -At -d "$DB" -U "$role" \
		-v VERBOSITY=verbose -v fns="${FNS:-}" -v ops="${OPS:-}" -v types="${TYPES:-}" -v rels="${RELS:-}" \
		>"$TMP/$name.out" 2>&1
	{ echo "===== $name ($role, $opts)"; cat "$TMP/$name.out"; } >>"$LOG"
}
# res NAME KEY: the value a scene printed as "R:KEY|value"
res() { sed -n "s/^R:$2|//p" "$TMP/$1.out" | head -1; }
# canary rows of another role, and canary warnings, since MARK (and in scene NAME)
mark() { su_q "SELECT clock_timestamp()"; }
foreign() {
	{
		su_q "SELECT string_agg(DISTINCT format('%s ran as %s (%s)', planter, cur, trick), '; ')
		        FROM hostile_log.canary WHERE cur <> planter AND at >= '$1'" | grep -v '^$'
		[ -n "${2:-}" ] && grep -h 'HOSTILE-CANARY' "$TMP/$2.out" | sed 's/^.*HOSTILE-CANARY/HOSTILE-CANARY/' | sort -u | head -5
	} | tr '\n' ' ' | sed 's/ $//'
}
# verdict: "refused" (any of the SQLSTATEs in $2) or the value
sqlstate_of() { sed -n 's/^ERROR \([0-9A-Z]\{5\}\):.*/\1/p' <<<"$1" | head -1; }

echo "# hostile roles against $($PGBIN/psql -X -At -d postgres -c 'SHOW server_version')" \
	"(automation ${HOSTILE_VERSION:-default version})"
drop_all
# the server log from here on (when this is a test/lib/cluster.sh cluster)
SERVER_LOG=""
[ -n "${CLUSTER_DIR:-}" ] && [ -r "$CLUSTER_DIR/server.log" ] && SERVER_LOG=$CLUSTER_DIR/server.log
LOG_START=$([ -n "$SERVER_LOG" ] && stat -c %s "$SERVER_LOG" || echo 0)
$PGBIN/createdb "$DB" || { echo "0 passed, 1 failed"; exit 1; }

# ------------------------------------------------------------------ setup
ext="CREATE EXTENSION automation"
[ -n "${HOSTILE_VERSION:-}" ] && ext="$ext VERSION '$HOSTILE_VERSION'"
setup=$(psql -X -q -At -d "$DB" -v ON_ERROR_STOP=1 2>&1 <<-EOF
	SET client_min_messages = warning;
	$ext;
	\i test/e2e/hostile/lib.sql
	CREATE ROLE $TA NOLOGIN;
	CREATE ROLE $TB NOLOGIN;
	CREATE ROLE $W LOGIN;
	CREATE ROLE $O LOGIN;
	CREATE ROLE $A LOGIN IN ROLE $TA;
	CREATE ROLE $K LOGIN IN ROLE $TA;
	CREATE ROLE $B LOGIN IN ROLE $TB;
	CREATE ROLE $M LOGIN;
	-- schemas the attackers own (an application schema, and one per
	-- administrator: owning a schema is no privilege on automation)
	CREATE SCHEMA hostile_owner AUTHORIZATION $O;
	CREATE SCHEMA hostile_log AUTHORIZATION $O;
	CREATE SCHEMA h_acme_admin AUTHORIZATION $A;
	CREATE SCHEMA h_acme_worker AUTHORIZATION $K;
	CREATE SCHEMA h_defmgr AUTHORIZATION $M;
	-- the application's tables, owned by the superuser
	CREATE TABLE public.contacts (id int PRIMARY KEY, org text, email text,
		status text NOT NULL DEFAULT 'new', note text, tags text[] NOT NULL DEFAULT '{}',
		owner_id text, writer name);
	-- who wrote a row last (the superuser's own trigger, run by the writer)
	CREATE FUNCTION public.stamp_writer() RETURNS trigger LANGUAGE plpgsql
		SET search_path = pg_catalog, pg_temp AS \$\$
		BEGIN NEW.writer := current_user; RETURN NEW; END \$\$;
	CREATE TRIGGER stamp_writer BEFORE INSERT OR UPDATE ON public.contacts
		FOR EACH ROW EXECUTE FUNCTION public.stamp_writer();
	CREATE TABLE public.tasks (id serial PRIMARY KEY, title text, org text);
	CREATE TABLE public.secrets (id int PRIMARY KEY, value text, tags text[] NOT NULL DEFAULT '{}');
	INSERT INTO public.secrets VALUES (1, 'original');
	CREATE TABLE public.hmt (org text, id int, v text, PRIMARY KEY (org, id));
	CREATE TABLE public.nokey (id int, v text);
	GRANT SELECT, INSERT, UPDATE (email) ON public.contacts TO $W;
	GRANT SELECT, UPDATE (note, tags) ON public.contacts TO $A, $B;
	-- what acme's own definitions may do besides: so a forged job that
	-- kept run_as could still reach these (the forgery checks need it)
	GRANT SELECT, INSERT, UPDATE (title) ON public.tasks TO $A;
	GRANT USAGE ON SEQUENCE public.tasks_id_seq TO $A;
	-- the documented grants (doc/tenancy.md)
	GRANT USAGE ON SCHEMA automation TO $A, $K, $B, $M;
	GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA automation TO $A, $K, $B, $M;
	GRANT SELECT, INSERT, UPDATE, DELETE ON automation.workflows, automation.rules,
		automation.rule_conditions, automation.rule_actions, automation.user_pools,
		automation.user_pool_members, automation.channels, automation.idempotency_keys TO $A, $B, $M;
	GRANT SELECT ON automation.jobs, automation.firings, automation.alerts,
		automation.notifications, automation.entities, automation.circuit_breakers TO $A, $B, $M;
	GRANT USAGE ON ALL SEQUENCES IN SCHEMA automation TO $A, $B, $M;
	GRANT SELECT, UPDATE ON automation.jobs TO $K;
	-- the loop guard stops every change a job of the worker causes
	ALTER ROLE $K IN DATABASE $DB SET automation.max_depth = 0;
	SELECT automation.watch('contact', 'public.contacts', tenant_column => 'org') IS NOT NULL;
	SELECT automation.watch('task', 'public.tasks') IS NOT NULL;
	SELECT automation.watch('secret', 'public.secrets') IS NOT NULL;
	EOF
) || { echo "$setup"; echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

# the names the owner-rights SQL resolves, from the source
names=$(python3 test/e2e/hostile/derive_names.py "$top")
FNS=$(sed -n 1p <<<"$names") TYPES=$(sed -n 2p <<<"$names")
OPS=$(sed -n 3p <<<"$names") RELS=$(sed -n 4p <<<"$names")
echo "# derived from src/*.c and src/sql/install/*.sql: $(wc -w <<<"$FNS") function names," \
	"$(wc -w <<<"$TYPES") type names, $(wc -w <<<"$OPS") operators, $(wc -w <<<"$RELS") relation names"
plant_temp="SELECT hostile_lib.plant_temp(string_to_array(:'types', ' '), string_to_array(:'rels', ' '));
	SELECT 'self-test'::text;"

# app_owner: the canary log, look-alikes, its types with their casts, its tables
scene owner_setup $O "" <<-'EOF'
	\set ON_ERROR_STOP 1
	CREATE TABLE hostile_log.canary (planter name, trick text, cur name, sess name,
		at timestamptz DEFAULT clock_timestamp());
	GRANT USAGE ON SCHEMA hostile_log TO PUBLIC;
	GRANT INSERT ON hostile_log.canary TO PUBLIC;
	SELECT 'R:plant', hostile_lib.plant('hostile_owner', string_to_array(:'fns', ' '), string_to_array(:'ops', ' '));
	SET search_path = hostile_owner, pg_catalog;
	CREATE TYPE hostile_owner.mood AS ENUM ('calm', 'angry');
	CREATE TYPE hostile_owner.box AS (m hostile_owner.mood, n int);
	CREATE FUNCTION hostile_owner.mood_json(hostile_owner.mood) RETURNS json LANGUAGE plpgsql AS
		$$BEGIN PERFORM hostile_owner.hcanary('cast mood AS json'); RETURN pg_catalog.to_json($1::text); END$$;
	CREATE FUNCTION hostile_owner.mood_jsonb(hostile_owner.mood) RETURNS jsonb LANGUAGE plpgsql AS
		$$BEGIN PERFORM hostile_owner.hcanary('cast mood AS jsonb'); RETURN pg_catalog.to_jsonb($1::text); END$$;
	CREATE FUNCTION hostile_owner.mood_text(hostile_owner.mood) RETURNS text LANGUAGE plpgsql AS
		$$BEGIN PERFORM hostile_owner.hcanary('cast mood AS text'); RETURN pg_catalog.enum_out($1)::text; END$$;
	CREATE CAST (hostile_owner.mood AS json) WITH FUNCTION hostile_owner.mood_json(hostile_owner.mood);
	CREATE CAST (hostile_owner.mood AS jsonb) WITH FUNCTION hostile_owner.mood_jsonb(hostile_owner.mood);
	CREATE CAST (hostile_owner.mood AS text) WITH FUNCTION hostile_owner.mood_text(hostile_owner.mood);
	CREATE TABLE hostile_owner.items (id int PRIMARY KEY, status text, email text,
		mood hostile_owner.mood, box hostile_owner.box);
	-- a table of its own with its own trigger, that a superuser's workflow updates
	CREATE TABLE hostile_owner.gadgets (id int PRIMARY KEY, status text, mood hostile_owner.mood);
	CREATE FUNCTION hostile_owner.gadget_trigger() RETURNS trigger LANGUAGE plpgsql AS
		$$BEGIN PERFORM hostile_owner.hcanary('own trigger on gadgets'); RETURN NEW; END$$;
	CREATE TRIGGER gadget_trigger BEFORE UPDATE ON hostile_owner.gadgets
		FOR EACH ROW EXECUTE FUNCTION hostile_owner.gadget_trigger();
	SELECT 'R:ok', 'done';
	EOF
[ "$(res owner_setup ok)" = done ] || { cat "$TMP/owner_setup.out"; echo "app_owner setup failed"; exit 1; }
echo "# app_owner planted in hostile_owner: $(res owner_setup plant)"
for r in $A:h_acme_admin $K:h_acme_worker $M:h_defmgr; do
	scene "plant_${r%%:*}" "${r%%:*}" "" <<-EOF
		SELECT 'R:plant', hostile_lib.plant('${r#*:}', string_to_array(:'fns', ' '), string_to_array(:'ops', ' '));
		EOF
done
echo "# administrators planted: $(res plant_$A plant)"

# the superuser watches app_owner's tables and defines the global automation
ids=$(psql -X -q -At -d "$DB" -v ON_ERROR_STOP=1 2>&1 <<-'EOF'
	SET client_min_messages = warning;
	SELECT automation.watch('item', 'hostile_owner.items') IS NOT NULL;
	SELECT automation.watch('gadget', 'hostile_owner.gadgets') IS NOT NULL;
	CREATE FUNCTION hostile_lib.wf(body jsonb) RETURNS text LANGUAGE sql AS
		$$SELECT automation.create_workflow(body) ->> 'id'$$;
	CREATE FUNCTION hostile_lib.rule(body jsonb) RETURNS text LANGUAGE sql AS
		$$SELECT automation.create_rule(body) ->> 'id'$$;
	GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA hostile_lib TO PUBLIC;
	SELECT 'g_touch=' || hostile_lib.wf('{"name": "g-touch", "condition_entity": "contact",
		"condition_field": "email", "condition_operator": "contains", "condition_value": "@",
		"action_type": "update_field", "action_config": {"field": "status", "value": "touched"}}');
	SELECT 'g_mail=' || hostile_lib.wf('{"name": "g-mail", "condition_entity": "contact",
		"condition_field": "email", "condition_operator": "contains", "condition_value": "@",
		"action_type": "send_email", "action_config": {"to": "{{contact.email}}",
		"subject": "hello {{contact.id}}", "body": "status {{contact.status}}"}}');
	SELECT 'g_small=' || hostile_lib.wf('{"name": "g-small", "condition_entity": "contact",
		"condition_field": "org", "condition_operator": "equals", "condition_value": "hsmall",
		"action_type": "webhook", "action_config": {"url": "https://global.example.com/small"},
		"max_triggers_per_day": 2}');
	SELECT 'g_task=' || hostile_lib.rule('{"name": "g-task", "entity_type": "contact",
		"trigger_type": "CONTACT_CREATED",
		"conditions": [{"field_path": "email", "operator": "EXISTS"}],
		"actions": [{"action_type": "CREATE_TASK", "title": "call {{contact.email}}", "org": "{{contact.org}}"}]}');
	SELECT 'g_cooldown=' || hostile_lib.rule('{"name": "g-cooldown", "entity_type": "contact",
		"trigger_type": "CONTACT_UPDATED", "cooldown_hours": 24,
		"conditions": [{"field_path": "email", "operator": "CHANGED"}],
		"actions": [{"action_type": "TAG", "tag": "seen"}]}');
	SELECT 'i_hook=' || hostile_lib.wf('{"name": "i-hook", "condition_entity": "item",
		"condition_field": "status", "condition_operator": "not_equals", "condition_value": "zzz",
		"action_type": "webhook", "action_config": {"url": "https://global.example.com/item",
		"body": {"mood": "{{item.mood}}", "box": "{{item.box}}"}}}');
	SELECT 'i_small=' || hostile_lib.wf('{"name": "i-small", "condition_entity": "item",
		"condition_field": "status", "condition_operator": "equals", "condition_value": "small",
		"action_type": "webhook", "action_config": {"url": "https://global.example.com/ismall"},
		"max_triggers_per_day": 2}');
	SELECT 'i_cooldown=' || hostile_lib.rule('{"name": "i-cooldown", "entity_type": "item",
		"trigger_type": "ITEM_UPDATED", "cooldown_hours": 24,
		"conditions": [{"field_path": "status", "operator": "CHANGED"}],
		"actions": [{"action_type": "NOTIFY", "recipient": "ops", "message": "item {{item.id}} {{item.mood}}"}]}');
	SELECT 'i_gone=' || hostile_lib.rule('{"name": "i-gone", "entity_type": "item",
		"trigger_type": "ITEM_DELETED", "conditions": [{"field_path": "id", "operator": "EXISTS"}],
		"actions": [{"action_type": "WEBHOOK", "url": "https://global.example.com/gone"}]}');
	EOF
) || { echo "$ids"; echo "global definitions failed"; exit 1; }
scene acme_defs $A "-c automation.tenant=hacme" <<-'EOF'
	SELECT 'R:a_note', hostile_lib.rule('{"name": "a-note", "entity_type": "contact",
		"trigger_type": "CONTACT_CREATED", "conditions": [{"field_path": "email", "operator": "EXISTS"}],
		"actions": [{"action_type": "UPDATE_FIELD", "field": "note", "value": "acme-was-here"}]}');
	SELECT 'R:a_notify', hostile_lib.rule('{"name": "a-notify", "entity_type": "contact",
		"trigger_type": "CONTACT_UPDATED", "conditions": [{"field_path": "email", "operator": "CHANGED"}],
		"actions": [{"action_type": "NOTIFY", "recipient": "acme-recipient", "message": "acme {{contact.id}}"}]}');
	EOF
scene beta_defs $B "-c automation.tenant=hbeta" <<-'EOF'
	SELECT 'R:b_notify', hostile_lib.rule('{"name": "b-notify", "entity_type": "contact",
		"trigger_type": "CONTACT_UPDATED", "conditions": [{"field_path": "email", "operator": "CHANGED"}],
		"actions": [{"action_type": "NOTIFY", "recipient": "beta-secret-recipient", "message": "beta-secret-message {{contact.id}}"}]}');
	SELECT 'R:b_small', hostile_lib.wf('{"name": "b-small", "condition_entity": "contact",
		"condition_field": "status", "condition_operator": "equals", "condition_value": "big",
		"action_type": "webhook", "action_config": {"url": "https://beta.example.com/small"},
		"max_triggers_per_day": 2}');
	SELECT 'R:b_pool', automation.create_user_pool('beta-pool', ARRAY['b1', 'b2', 'b3']);
	EOF
idv() { sed -n "s/^$1=//p" <<<"$ids"; }
# a superuser's database action on app_owner's table would run app_owner's
# triggers and casts as the superuser: refused when created (doc/security.md)
check "a superuser cannot create update_field on app_owner's table (its code would run as postgres)" "42501" \
	"$(q "$DB" "DO \$\$ BEGIN PERFORM automation.create_workflow('{\"name\": \"gd-touch\", \"condition_entity\": \"gadget\",
		\"condition_field\": \"id\", \"condition_operator\": \"greater_than\", \"condition_value\": \"0\",
		\"action_type\": \"update_field\", \"action_config\": {\"field\": \"status\", \"value\": \"touched\"}}');
		EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'state=%', SQLSTATE; END \$\$" 2>&1 | sed -n 's/.*state=//p')"
G_TOUCH=$(idv g_touch) G_MAIL=$(idv g_mail) G_SMALL=$(idv g_small) G_TASK=$(idv g_task)
G_COOLDOWN=$(idv g_cooldown) I_HOOK=$(idv i_hook) I_SMALL=$(idv i_small) I_COOLDOWN=$(idv i_cooldown)
I_GONE=$(idv i_gone)
A_NOTE=$(res acme_defs a_note) A_NOTIFY=$(res acme_defs a_notify)
B_NOTIFY=$(res beta_defs b_notify) B_SMALL=$(res beta_defs b_small) B_POOL=$(res beta_defs b_pool)
for v in G_TOUCH G_MAIL G_SMALL G_TASK G_COOLDOWN I_HOOK I_SMALL I_COOLDOWN I_GONE A_NOTE A_NOTIFY B_NOTIFY B_SMALL B_POOL; do
	[ -n "${!v}" ] || { cat "$TMP"/*_defs.out; echo "$ids"; echo "definition $v missing"; exit 1; }
done

# ------------------------------------------------ listener of another tenant
# hostile_acme_admin LISTENs on every channel the extension notifies (and the
# per-tenant names a fix might use) for the whole run
mkfifo "$TMP/listen.fifo"
PGOPTIONS="-c automation.tenant=hacme" psql -X -q -At -d "$DB" -U $A <"$TMP/listen.fifo" >"$TMP/listen.out" 2>&1 &
pids+=($!)
exec 7>"$TMP/listen.fifo"
for ch in automation_notifications automation_alerts automation_jobs automation_notifications_hbeta \
	automation_alerts_hbeta automation_notifications_hacme automation_alerts_hacme; do
	echo "LISTEN $ch;" >&7
done
echo "SELECT 'listening';" >&7

# ------------------------------------------ trick 1: pg_temp types, app_writer
# only TEMP and column privileges: pg_temp domains named like every type the
# owner-rights SQL casts to, pg_temp views named like catalog relations
m=$(mark)
scene writer1 $W "" <<-EOF
	SELECT 'R:plant', hostile_lib.plant_temp(string_to_array('$TYPES', ' '), string_to_array('$RELS', ' '));
	SELECT 'self-test'::text;
	INSERT INTO public.contacts (id, org, email) VALUES (1, 'hacme', 'a1@example.com');
	INSERT INTO public.contacts (id, org, email) VALUES (2, 'hbeta', 'b2@example.com');
	INSERT INTO public.contacts (id, org, email) VALUES (3, NULL, 'g3@example.com');
	INSERT INTO public.contacts (id, org, email) VALUES (4, 'hsmall', 's4@example.com');
	INSERT INTO public.contacts (id, org, email) VALUES (5, 'hsmall', 's5@example.com');
	INSERT INTO public.contacts (id, org, email) VALUES (6, 'hsmall', 's6@example.com');
	INSERT INTO public.contacts (id, org, email) VALUES (7, NULL, 'me@example.com, victim@example.org');
	INSERT INTO public.contacts (id, org, email, status) VALUES (8, 'hbeta', 'b8@example.com', 'big');
	INSERT INTO public.contacts (id, org, email, status) VALUES (9, 'hbeta', 'b9@example.com', 'big');
	INSERT INTO public.contacts (id, org, email, status) VALUES (10, 'hbeta', 'b10@example.com', 'big');
	UPDATE public.contacts SET email = 'a1-new@example.com' WHERE id = 1;
	UPDATE public.contacts SET email = 'a1-newer@example.com' WHERE id = 1;
	UPDATE public.contacts SET email = 'b2-new@example.com' WHERE id = 2;
	SELECT 'R:done', count(*) FROM public.contacts;
	EOF
echo "# app_writer planted: $(res writer1 plant)"
check "fires: writer: its writes succeeded (10 contacts)" "10" "$(res writer1 done)"
check "writer: pg_temp types/relations ran as nobody else on INSERT/UPDATE, cooldown, breaker trip" "" "$(foreign "$m" writer1)"
check "fires: writer: global update_field job, rendered as the writer's row" "1" \
	"$(su_q "SELECT count(*) FROM automation.jobs WHERE workflow_id = '$G_TOUCH' AND record_key = '1'
	         AND payload #>> '{new,email}' = 'a1@example.com' AND payload #>> '{config,value}' = 'touched'
	         AND run_as = 'postgres' AND tenant_id = 'hacme'")"
check "fires: writer: create_task job rendered" "call g3@example.com" \
	"$(su_q "SELECT payload #>> '{config,title}' FROM automation.jobs WHERE rule_id = '$G_TASK' AND record_key = '3'")"
check "fires: writer: cooldown held the second change of contact 1" "fired cooldown" \
	"$(su_q "SELECT string_agg(outcome, ' ' ORDER BY id) FROM automation.firings WHERE rule_id = '$G_COOLDOWN' AND record_key = '1'")"
check "fires: writer: global breaker (max 2) tripped on the third row, disabled with one alert" "2 1 false 1" \
	"$(su_q "SELECT (SELECT count(*) FROM automation.jobs WHERE workflow_id = '$G_SMALL') || ' ' ||
	                (SELECT count(*) FROM automation.firings WHERE workflow_id = '$G_SMALL' AND outcome = 'circuit_breaker') || ' ' ||
	                (SELECT enabled FROM automation.workflows WHERE id = '$G_SMALL') || ' ' ||
	                (SELECT count(*) FROM automation.alerts WHERE kind = 'circuit_breaker' AND workflow_id = '$G_SMALL')")"

# --------------------------- tricks 1 and 2: look-alikes and casts, app_owner
m=$(mark)
scene owner1 $O "-c search_path=hostile_owner,pg_catalog" <<-EOF
	$plant_temp
	INSERT INTO hostile_owner.items VALUES (1, 'new', 'i1@example.com', 'calm', ROW('angry', 1));
	INSERT INTO hostile_owner.items VALUES (2, 'new', 'i2@example.com', 'angry', NULL);
	UPDATE hostile_owner.items SET status = 'open', mood = 'angry' WHERE id = 1;
	UPDATE hostile_owner.items SET status = 'closed' WHERE id = 1;
	INSERT INTO hostile_owner.items VALUES (3, 'small', NULL, 'calm', NULL), (4, 'small', NULL, 'calm', NULL),
		(5, 'small', NULL, 'calm', NULL);
	DELETE FROM hostile_owner.items WHERE id = 2;
	INSERT INTO hostile_owner.gadgets VALUES (1, 'new', 'calm');
	SELECT 'R:done', count(*) FROM hostile_owner.items;
	EOF
check "fires: owner: its writes succeeded (4 items)" "4" "$(res owner1 done)"
check "owner: look-alikes and casts ran as nobody else on INSERT/UPDATE/DELETE, cooldown, breaker trip" "" "$(foreign "$m" owner1)"
check "fires: owner: the row serialised with its enum and composite" "calm {\"m\": \"angry\", \"n\": 1}" \
	"$(su_q "SELECT (payload #>> '{new,mood}') || ' ' || (payload #> '{new,box}')::text FROM automation.jobs
	         WHERE workflow_id = '$I_HOOK' AND record_key = '1' ORDER BY id LIMIT 1")"
check "fires: owner: merge tokens of its enum rendered" "angry" \
	"$(su_q "SELECT payload #>> '{config,body,mood}' FROM automation.jobs WHERE workflow_id = '$I_HOOK' AND record_key = '2'")"
check "fires: owner: delete job carries the old row" "angry" \
	"$(su_q "SELECT payload #>> '{old,mood}' FROM automation.jobs WHERE rule_id = '$I_GONE' AND record_key = '2'")"
check "fires: owner: cooldown held the second status change" "fired cooldown" \
	"$(su_q "SELECT string_agg(outcome, ' ' ORDER BY id) FROM automation.firings WHERE rule_id = '$I_COOLDOWN' AND record_key = '1'")"
check "fires: owner: breaker (max 2) tripped on the third row" "2 1" \
	"$(su_q "SELECT (SELECT count(*) FROM automation.jobs WHERE workflow_id = '$I_SMALL') || ' ' ||
	                (SELECT count(*) FROM automation.firings WHERE workflow_id = '$I_SMALL' AND outcome = 'circuit_breaker')")"

# ------------------------- explain and prune under a tenant admin's look-alikes
m=$(mark)
scene admin1 $A "-c automation.tenant=hacme -c search_path=h_acme_admin,pg_catalog" <<-EOF
	$plant_temp
	SELECT 'R:explain_own', hostile_lib.val(\$q\$SELECT string_agg(name || ':' || fires || ':' || coalesce(reason, ''), ' / ' ORDER BY name)
		FROM automation.explain('contact', '{"id": 1, "org": "hacme", "email": "x@example.com", "status": "big"}',
		'{"id": 1, "org": "hacme", "email": "a1-newer@example.com", "status": "new"}')\$q\$);
	SELECT 'R:explain_breaker', hostile_lib.val(\$q\$SELECT reason FROM automation.explain('contact',
		'{"id": 40, "org": "hsmall", "email": "x@example.com"}') WHERE name = 'g-small'\$q\$);
	SELECT 'R:_explain', hostile_lib.val(\$q\$SELECT count(*) FROM automation._explain('contact',
		'{"id": 1, "org": "hacme", "email": "y@example.com"}', '{"id": 1, "org": "hacme", "email": "x@example.com"}')\$q\$);
	SELECT 'R:breakers', hostile_lib.val('SELECT count(*) FROM automation.circuit_breakers');
	SELECT 'R:prune', hostile_lib.val(\$q\$SELECT automation.prune('100 years')::text\$q\$);
	EOF
check "fires: admin: explain() as the tenant admin works" "yes" \
	"$(grep -q 'g-cooldown' <<<"$(res admin1 explain_own)" && echo yes || res admin1 explain_own)"
check "admin: explain/_explain/circuit_breakers/prune ran none of its look-alikes as another role" "" "$(foreign "$m" admin1)"

# ---------------- the queue and database actions under a tenant worker's look-alikes
m=$(mark)
JOB1=$(su_q "SELECT min(id) FROM automation.jobs WHERE workflow_id = '$G_TOUCH' AND record_key = '1'")
scene worker1 $K "-c automation.tenant=hacme -c search_path=h_acme_worker,pg_catalog" <<-EOF
	$plant_temp
	SELECT 'R:claim', hostile_lib.val(\$q\$SELECT string_agg(id::text, ',') FROM automation.claim_jobs('hostile', 2, '60 seconds', '{send_email}')\$q\$);
	SELECT 'R:complete', hostile_lib.val(\$q\$SELECT automation.complete_job(min(id))::text FROM automation.jobs WHERE status = 'running' AND locked_by = 'hostile'\$q\$);
	SELECT 'R:fail', hostile_lib.val(\$q\$SELECT automation.fail_job(max(id), 'hostile failure', true)::text FROM automation.jobs WHERE status = 'running' AND locked_by = 'hostile'\$q\$);
	SELECT 'R:execute', hostile_lib.val('SELECT automation.execute_job($JOB1)::text');
	SELECT 'R:run', hostile_lib.val('SELECT automation.run_database_jobs(50)::text');
	SELECT 'R:next', hostile_lib.val('SELECT automation.next_job_at() IS NOT NULL');
	EOF
check "worker: claim/complete/fail/execute_job/run_database_jobs ran none of its code as another role" "" "$(foreign "$m" worker1)"
check "fires: worker: execute_job ran the global update_field" '{"field": "status", "value": "touched", "updated": true}' "$(res worker1 execute)"
check "fires: worker: the actions wrote contact 1 (status, note, tag) as their creators" "touched acme-was-here {seen}" \
	"$(su_q "SELECT status || ' ' || coalesce(note, '-') || ' ' || tags::text FROM public.contacts WHERE id = 1")"
check "fires: worker: create_task ran as the rule's creator" "1" \
	"$(su_q "SELECT count(*) FROM public.tasks WHERE title = 'call a1@example.com' AND org = 'hacme'")"
check "fires: worker: the loop guard stopped the changes its jobs caused (depth_limit firings)" "yes" \
	"$(su_q "SELECT CASE WHEN count(*) > 0 THEN 'yes' ELSE 'none' END FROM automation.firings
	         WHERE outcome = 'depth_limit' AND record_key = '1'")"
check "tenancy: depth-limit alerts carry the tenant of the row" "hacme" \
	"$(su_q "SELECT string_agg(DISTINCT coalesce(tenant_id, '<none>'), ',') FROM automation.alerts WHERE kind = 'depth_limit'")"

# ---------------------------------------------- trick 3: forged jobs
scene forge_rows $W "" <<-'EOF'
	INSERT INTO public.contacts (id, org, email) SELECT i, 'hacme', 'f' || i || '@example.com' FROM generate_series(11, 19) i;
	EOF
job_of() { su_q "SELECT id FROM automation.jobs WHERE rule_id = '$A_NOTE' AND record_key = '$1'"; }
# forge ID SET-CLAUSE: hostile_acme_worker rewrites the job, then runs it
forge() {
	scene "forge$1" $K "-c automation.tenant=hacme" <<-EOF
		SELECT 'R:update', hostile_lib.val(\$q\$WITH u AS (UPDATE automation.jobs SET $2 WHERE id = $(job_of "$1") RETURNING 1) SELECT count(*) FROM u\$q\$);
		SELECT 'R:execute', hostile_lib.val('SELECT automation.execute_job($(job_of "$1"))::text');
		EOF
}
forge 11 "run_as = 'postgres'"
check "forged run_as: the action does not run as postgres" "$A" \
	"$(su_q "SELECT coalesce(writer, '-') FROM public.contacts WHERE id = 11 AND note = 'acme-was-here'
	         UNION ALL SELECT 'not written' WHERE NOT EXISTS (SELECT 1 FROM public.contacts WHERE id = 11 AND note IS NOT NULL)
	         UNION ALL SELECT writer || ' wrote ' || note FROM public.contacts WHERE id = 11 AND note <> 'acme-was-here'" | head -1 |
	   sed "s/^not written$/$A/")"
forge 12 "run_as = 'postgres', entity = 'secret', record_key = '1',
	payload = jsonb_set(payload, '{config}', '{\"field\": \"value\", \"value\": \"pwned-by-forged-job\"}')"
check "forged run_as+entity+record_key+config: a table the definition's creator cannot write is untouched" "original" \
	"$(su_q "SELECT value FROM public.secrets WHERE id = 1")"
forge 13 "record_key = '2'"
check "forged record_key: another tenant's row is untouched" "-" \
	"$(su_q "SELECT coalesce(note, '-') FROM public.contacts WHERE id = 2")"
TASK=$(su_q "SELECT min(id) FROM public.tasks")
forge 14 "entity = 'task', record_key = '$TASK', payload = jsonb_set(payload, '{config}', '{\"field\": \"title\", \"value\": \"pwned-entity\"}')"
check "forged entity: a table the definition does not target is untouched (even one its creator may write)" "0" \
	"$(su_q "SELECT count(*) FROM public.tasks WHERE title = 'pwned-entity'")"
forge 15 "payload = jsonb_set(payload, '{config,value}', '\"forged-value\"')"
check "forged payload.config: the definition's value, or nothing" "acme-was-here" \
	"$(su_q "SELECT coalesce(note, 'acme-was-here') FROM public.contacts WHERE id = 15")"
forge 16 "action_type = 'create_task', payload = jsonb_set(payload, '{config}', '{\"title\": \"forged-task\"}')"
check "forged action_type: no other action runs (even one its creator may run)" "0" \
	"$(su_q "SELECT count(*) FROM public.tasks WHERE title = 'forged-task'")"
forge 17 "depth = -1"
check "forged depth: the loop guard still counts the job's changes" "0" \
	"$(su_q "SELECT count(*) FROM automation.firings WHERE record_key = '17' AND operation = 'UPDATE' AND depth < 1")"
forge 18 "source = 'workflow', rule_id = NULL, workflow_id = '$G_TOUCH',
	payload = jsonb_set(payload, '{config}', '{\"field\": \"note\", \"value\": \"forged-identity\"}')"
check "forged workflow_id/rule_id: another definition's identity does not lend its rights" "not forged" \
	"$(su_q "SELECT CASE WHEN coalesce(note, '') = 'forged-identity' THEN 'written as ' || writer ELSE 'not forged' END FROM public.contacts WHERE id = 18")"
forge 19 "tenant_id = 'hbeta'"
check "forged tenant_id: refused (the job stays acme's)" "hacme" \
	"$(su_q "SELECT tenant_id FROM automation.jobs WHERE id = $(job_of 19)")"
# a delivery job: the global worker (the owner) would sign and send whatever
# URL and body the job holds
HOOK=$(su_q "SELECT min(id) FROM automation.jobs WHERE workflow_id = '$G_MAIL' AND tenant_id = 'hacme' AND status = 'queued'")
HOOK_TO=$(su_q "SELECT payload #>> '{config,to}' FROM automation.jobs WHERE id = $HOOK")
TASKJOB=$(su_q "SELECT min(id) FROM automation.jobs WHERE rule_id = '$G_TASK' AND tenant_id = 'hacme' AND status = 'succeeded'")
TASK_MAX=$(su_q "SELECT max(id) FROM public.tasks")
scene forge_more $K "-c automation.tenant=hacme" <<-EOF
	SELECT 'R:redirect', hostile_lib.val(\$q\$WITH u AS (UPDATE automation.jobs SET payload = jsonb_set(payload, '{config,to}', '"attacker@example.net"')
		WHERE id = $HOOK RETURNING 1) SELECT count(*) FROM u\$q\$);
	SELECT 'R:requeue', hostile_lib.val(\$q\$WITH u AS (UPDATE automation.jobs SET status = 'queued', finished_at = NULL, run_after = now()
		WHERE id = $TASKJOB RETURNING 1) SELECT count(*) FROM u\$q\$);
	SELECT 'R:replay', hostile_lib.val('SELECT automation.execute_job($TASKJOB)::text');
	EOF
check "forged delivery job: its recipient (what the owner's worker sends, and where) is unchanged" "$HOOK_TO" \
	"$(su_q "SELECT payload #>> '{config,to}' FROM automation.jobs WHERE id = $HOOK")"
check "forged status: a finished job cannot be run again (no second task)" "0" \
	"$(su_q "SELECT count(*) FROM public.tasks WHERE id > $TASK_MAX")"
BETA_JOB=$(su_q "SELECT id FROM automation.jobs WHERE rule_id = '$B_NOTIFY' LIMIT 1")
scene forge_all $K "-c automation.tenant=hacme" <<-EOF
	SELECT 'R:beta', hostile_lib.val('SELECT automation.execute_job($BETA_JOB)::text');
	EOF
check "tenancy: another tenant's job cannot be executed (P0002)" "P0002" "$(sqlstate_of "$(res forge_all beta)")"
check "forged jobs: nothing ran as another role" "" "$(foreign "$m"; grep -h HOSTILE-CANARY "$TMP"/forge*.out | head -2)"

# ---------------------------------------------- trick 4: internal functions
m=$(mark)
BETA_POS=$(su_q "SELECT next_position FROM automation.user_pools WHERE id = '$B_POOL'")
BREAKERS_BEFORE=$(su_q "SELECT string_agg(workflow_id || ':' || committed || ':' || tripped, ',' ORDER BY workflow_id) FROM automation._breaker_state()")
# the database-action helpers take (relation, key column) in 0.2.0 and an
# automation.entities row plus the tenant since 0.3.0: call whichever exists
if [ -n "$(su_q "SELECT to_regprocedure('automation._set_column(name, automation.entities, text, text, text, text)')")" ]; then
	TGT="(SELECT e FROM automation.entities e WHERE e.name = 'secret'), '1', NULL"
else
	TGT="'public.secrets', 'id', '1'"
fi
scene internal $A "-c automation.tenant=hacme -c search_path=h_acme_admin,pg_catalog" <<-EOF
	$plant_temp
	SELECT 'R:execute_as_super', hostile_lib.val(\$q\$SELECT automation._execute_as('postgres', 'ALTER ROLE $A SUPERUSER', NULL)::text\$q\$);
	SELECT 'R:execute_as_select', hostile_lib.val(\$q\$SELECT automation._execute_as('postgres', 'SELECT 1', NULL)::text\$q\$);
	SELECT 'R:execute_as_other', hostile_lib.val(\$q\$SELECT automation._execute_as('$K', 'SELECT 1', NULL)::text\$q\$);
	SELECT 'R:breaker_state', hostile_lib.val(\$q\$SELECT coalesce(string_agg(s.workflow_id, ','), 'none')
		FROM automation._breaker_state() s WHERE s.workflow_id IN ('$B_SMALL')\$q\$);
	SELECT 'R:breaker_reset_beta', hostile_lib.val(\$q\$SELECT automation._breaker_reset('$B_SMALL')::text\$q\$);
	SELECT 'R:breaker_reset_global', hostile_lib.val(\$q\$SELECT automation._breaker_reset('$G_SMALL')::text\$q\$);
	SELECT 'R:set_column', hostile_lib.val(\$q\$SELECT automation._set_column('postgres', $TGT, 'value', 'pwned-set-column')::text\$q\$);
	SELECT 'R:tag', hostile_lib.val(\$q\$SELECT automation._tag('postgres', $TGT, 'tags', 'pwned', true)::text\$q\$);
	SELECT 'R:create_task', hostile_lib.val(\$q\$SELECT automation._create_task('postgres', '{"title": "pwned-task"}')::text\$q\$);
	SELECT 'R:unwritten', hostile_lib.val(\$q\$SELECT automation._unwritten_reason('postgres', $TGT)\$q\$);
	SELECT 'R:pool', hostile_lib.val(\$q\$SELECT automation._next_pool_member('$B_POOL')\$q\$);
	SELECT 'R:alert', hostile_lib.val(\$q\$SELECT automation._raise_alert('depth_limit', 'forged alert', '{}', '$B_SMALL', NULL, NULL, 'hbeta')::text\$q\$);
	EOF
scene internal_m $M "-c search_path=h_defmgr,pg_catalog" <<-EOF
	$plant_temp
	SELECT 'R:execute_as_super', hostile_lib.val(\$q\$SELECT automation._execute_as('postgres', 'ALTER ROLE $M SUPERUSER', NULL)::text\$q\$);
	SELECT 'R:wf_secret', hostile_lib.val(\$q\$SELECT hostile_lib.wf('{"name": "m-secret", "condition_entity": "contact",
		"condition_field": "email", "condition_operator": "contains", "condition_value": "@",
		"action_type": "create_task", "action_config": {"title": "x"}}')\$q\$);
	EOF
check "_execute_as('postgres', 'ALTER ROLE ... SUPERUSER') by a tenant admin: 42501" "42501" "$(sqlstate_of "$(res internal execute_as_super)")"
check "_execute_as('postgres', 'SELECT 1') by a tenant admin: 42501" "42501" "$(sqlstate_of "$(res internal execute_as_select)")"
check "_execute_as(another role) by a tenant admin: 42501" "42501" "$(sqlstate_of "$(res internal execute_as_other)")"
check "_execute_as('postgres', ...) by a global definition manager: 42501" "42501" "$(sqlstate_of "$(res internal_m execute_as_super)")"
st=$(res internal breaker_state)
check "_breaker_state() shows a tenant admin no other tenant's workflow" "hidden" \
	"$([ "$st" = none ] || [ "$(sqlstate_of "$st")" = 42501 ] && echo hidden || echo "$st")"
BREAKERS_AFTER=$(su_q "SELECT string_agg(workflow_id || ':' || committed || ':' || tripped, ',' ORDER BY workflow_id) FROM automation._breaker_state()")
check "_breaker_reset(another tenant's / a global workflow) changes nothing" "$BREAKERS_BEFORE" "$BREAKERS_AFTER"
check "_set_column/_tag as postgres on a table the admin cannot write: untouched" "original {}" \
	"$(su_q "SELECT value || ' ' || tags::text FROM public.secrets WHERE id = 1")"
check "_create_task as postgres: no task" "0" "$(su_q "SELECT count(*) FROM public.tasks WHERE title = 'pwned-task'")"
check "_unwritten_reason as postgres (reads a table the admin cannot read): 42501" "42501" "$(sqlstate_of "$(res internal unwritten)")"
check "_set_column/_tag as postgres by a tenant admin: 42501" "42501 42501" \
	"$(sqlstate_of "$(res internal set_column)") $(sqlstate_of "$(res internal tag)")"
check "_next_pool_member(another tenant's pool) does not turn its rotation" "$BETA_POS" \
	"$(su_q "SELECT next_position FROM automation.user_pools WHERE id = '$B_POOL'")"
check "_raise_alert by a tenant admin writes no alert" "0" "$(su_q "SELECT count(*) FROM automation.alerts WHERE message = 'forged alert'")"
check "internal functions: nothing ran as another role" "" "$(foreign "$m" internal; grep -h HOSTILE-CANARY "$TMP/internal_m.out" | head -2)"

# ---------------------------------------------- trick 5: tenancy
# contact 2 is hbeta's; g-cooldown (global) fired for it: its time is hbeta's
scene tenancy $A "-c automation.tenant=hacme" <<-'EOF'
	SELECT 'R:own', hostile_lib.val($q$SELECT reason FROM automation.explain('contact',
		'{"id": 1, "org": "hacme", "email": "z@example.com"}', '{"id": 1, "org": "hacme", "email": "y@example.com"}')
		WHERE name = 'g-cooldown'$q$);
	SELECT 'R:claim_acme', hostile_lib.val($q$SELECT reason FROM automation.explain('contact',
		'{"id": 2, "org": "hacme", "email": "z@example.com"}', '{"id": 2, "org": "hacme", "email": "y@example.com"}')
		WHERE name = 'g-cooldown'$q$);
	SELECT 'R:claim_none', hostile_lib.val($q$SELECT reason FROM automation.explain('contact',
		'{"id": 2, "org": null, "email": "z@example.com"}', '{"id": 2, "org": null, "email": "y@example.com"}')
		WHERE name = 'g-cooldown'$q$);
	SELECT 'R:raw', hostile_lib.val($q$SELECT reason FROM automation._explain('contact',
		'{"id": 2, "org": "hacme", "email": "z@example.com"}', '{"id": 2, "org": "hacme", "email": "y@example.com"}')
		WHERE name = 'g-cooldown'$q$);
	SELECT 'R:idem', hostile_lib.val($q$SELECT automation.create_workflow('{"name": "a-idem", "condition_entity": "contact",
		"condition_field": "email", "condition_operator": "contains", "condition_value": "@acme-idem",
		"action_type": "webhook", "action_config": {"url": "https://acme.example.com/idem"}}',
		'5a1d0000-0000-4000-8000-00000000000a') ->> 'id'$q$);
	EOF
scene tenancy_b $B "-c automation.tenant=hbeta" <<-'EOF'
	SELECT 'R:idem', hostile_lib.val($q$SELECT automation.create_workflow('{"name": "b-idem", "condition_entity": "contact",
		"condition_field": "email", "condition_operator": "contains", "condition_value": "@beta-idem",
		"action_type": "webhook", "action_config": {"url": "https://beta.example.com/idem"}}',
		'5a1d0000-0000-4000-8000-00000000000a')::text$q$);
	EOF
check "fires: explain: the admin's own row shows its cooldown (the probe works)" "yes" \
	"$(grep -q 'until' <<<"$(res tenancy own)" && echo yes || res tenancy own)"
check "explain: a probe row claiming tenant hacme does not reveal hbeta's firing time" "hidden" \
	"$(grep -q 'until' <<<"$(res tenancy claim_acme)" && res tenancy claim_acme || echo hidden)"
check "explain: a probe row claiming no tenant does not reveal hbeta's firing time" "hidden" \
	"$(grep -q 'until' <<<"$(res tenancy claim_none)" && res tenancy claim_none || echo hidden)"
check "_explain: a probe row claiming tenant hacme does not reveal hbeta's firing time" "hidden" \
	"$(grep -q 'until' <<<"$(res tenancy raw)" && res tenancy raw || echo hidden)"
A_IDEM=$(res tenancy idem)
b_idem=$(res tenancy_b idem)
check "idempotency key reused by another tenant: no raw idempotency_keys_pkey violation" "no" \
	"$(grep -q 'idempotency_keys_pkey' <<<"$b_idem" && echo "$b_idem" || echo no)"
check "idempotency key reused by another tenant: the first tenant's response is not replayed" "no" \
	"$(grep -q "$A_IDEM" <<<"$b_idem" && echo "replayed $b_idem" || echo no)"

# the owner's worker runs every queued database job: hbeta's notify among them,
# and the superuser's update_field on app_owner's own table
m=$(mark)
ran=$(su_q "SELECT automation.run_database_jobs(1000)")
check "the owner's worker runs the queued database jobs and none of app_owner's code as postgres" "" \
	"$(foreign "$m")"
check "fires: the owner's worker ran the queued database jobs" "t" "$(su_q "SELECT $ran > 0")"
check "app_owner's table was not written by a superuser's action" "new" \
	"$(su_q "SELECT status FROM hostile_owner.gadgets WHERE id = 1")"
sleep 0.3
echo "SELECT 'listened';" >&7
echo '\q' >&7
exec 7>&-
wait "${pids[0]}" 2>/dev/null
cat "$TMP/listen.out" >>"$LOG"
heard=$(grep -c 'Asynchronous notification' "$TMP/listen.out")
echo "# hostile_acme_admin's LISTEN heard $heard notifications"
check "LISTEN: another tenant's notification recipient and message stay hidden" "" \
	"$(grep -o 'Asynchronous notification "[a-z_]*" with payload ".*beta-secret[^"]*' "$TMP/listen.out" | head -2 | tr '\n' ' ')"
check "LISTEN: another tenant's alerts (its workflow ids) stay hidden" "" \
	"$(grep -E "$B_SMALL|$B_NOTIFY" "$TMP/listen.out" | head -2 | tr '\n' ' ')"

# ---------------------------------------------- trick 6: watch() keys
# key (org, id), key_column id: refused (22023), or accepted with the tenant
# column completing the key -- then one tenant's update_field must not write
# the other tenant's row with the same id
w=$(su_q "SELECT hostile_lib.val(\$q\$SELECT automation.watch('hmt', 'public.hmt', key_column => 'id', tenant_column => 'org')::text\$q\$)")
if [ "$(sqlstate_of "$w")" = 22023 ]; then
	check "watch() with a key column unique only with the tenant column: refused (22023) or keyed by tenant" "ok" "ok"
elif [ -n "$(sqlstate_of "$w")" ]; then
	check "watch() with a key column unique only with the tenant column: refused (22023) or keyed by tenant" "ok" "$w"
else
	su_q "SELECT hostile_lib.wf('{\"name\": \"hmt-go\", \"condition_entity\": \"hmt\", \"condition_field\": \"v\",
		\"condition_operator\": \"changed_to\", \"condition_value\": \"go\", \"action_type\": \"update_field\",
		\"action_config\": {\"field\": \"v\", \"value\": \"done\"}}')" >/dev/null
	su_q "INSERT INTO public.hmt VALUES ('hbeta', 1, 'beta-row'), ('hacme', 1, 'x'); UPDATE public.hmt SET v = 'go' WHERE org = 'hacme'" >/dev/null
	su_q "SELECT automation.run_database_jobs(1000)" >/dev/null
	check "watch() with a key column unique only with the tenant column: refused (22023) or keyed by tenant" "hacme:done hbeta:beta-row" \
		"$(su_q "SELECT string_agg(org || ':' || v, ' ' ORDER BY org) FROM public.hmt")"
fi
check "watch() with a key column without any unique index: 22023" "22023" \
	"$(sqlstate_of "$(su_q "SELECT hostile_lib.val(\$q\$SELECT automation.watch('nokey', 'public.nokey', key_column => 'id')::text\$q\$)")")"

# ---------------------------------------------- trick 7: a token is one mailbox
if [ -x "$WORKER" ]; then
	python3 test/worker/smtp_receiver.py "$TMP/smtp.port" "$TMP/smtp.log" & pids+=($!)
	for _ in $(seq 100); do [ -s "$TMP/smtp.port" ] && break; sleep 0.05; done
	touch "$TMP/smtp.log"
	timeout 30 "$WORKER" --dbname "dbname=$DB" --once --types send_email --batch 100 \
		--smtp-url "smtp://127.0.0.1:$(cat "$TMP/smtp.port")" --smtp-from "bot@example.com" >>"$LOG" 2>&1
	check "fires: send_email: the worker delivered the rendered mail of contact 3 (the path works)" "yes" \
		"$(grep -q 'g3@example.com' "$TMP/smtp.log" && echo yes || echo no)"
	check "send_email: a row value 'me@example.com, victim@example.org' adds no recipient" "" \
		"$(grep -o '"rcpt_to": \[[^]]*victim@example.org[^]]*\]' "$TMP/smtp.log" | head -1)"
	check "send_email: the rendered 'to' of contact 7 is one mailbox or the job fails" "ok" \
		"$(su_q "SELECT CASE WHEN status = 'dead' THEN 'ok'
		                    WHEN jsonb_typeof(payload #> '{config,to}') = 'array' AND jsonb_array_length(payload #> '{config,to}') = 1 THEN 'ok'
		                    WHEN jsonb_typeof(payload #> '{config,to}') = 'string' AND payload #>> '{config,to}' NOT LIKE '%,%' THEN 'ok'
		                    ELSE status || ' ' || (payload #> '{config,to}')::text END
		         FROM automation.jobs WHERE workflow_id = '$G_MAIL' AND record_key = '7' ORDER BY id LIMIT 1")"
else
	echo "# automation-worker not installed at $WORKER: mailbox delivery checked on the job only"
	check "send_email: the rendered 'to' of contact 7 is one mailbox or refused" "1" \
		"$(su_q "SELECT CASE jsonb_typeof(payload #> '{config,to}') WHEN 'array' THEN jsonb_array_length(payload #> '{config,to}')
		         WHEN 'object' THEN (payload #> '{config,to}' ? 'error')::int
		         ELSE array_length(string_to_array(payload #>> '{config,to}', ','), 1) END
		         FROM automation.jobs WHERE workflow_id = '$G_MAIL' AND record_key = '7' ORDER BY id LIMIT 1")"
fi

# ---------------------------------------------- after a server restart
if [ "${HOSTILE_RESTART:-1}" = 1 ] && [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR/data" ] &&
	. test/lib/cluster.sh && cluster_restart; then
	for _ in $(seq 50); do psql -X -q -d "$DB" -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
	m=$(mark)
	# first firings after the restart: cache loads and breaker rebuilds from firings
	scene owner2 $O "-c search_path=hostile_owner,pg_catalog" <<-EOF
		$plant_temp
		INSERT INTO hostile_owner.items VALUES (6, 'new', NULL, 'angry', NULL);
		UPDATE hostile_owner.items SET status = 'reopened' WHERE id = 1;
		SELECT 'R:done', count(*) FROM hostile_owner.items;
		EOF
	scene writer2 $W "" <<-EOF
		SELECT hostile_lib.plant_temp(string_to_array('$TYPES', ' '), string_to_array('$RELS', ' '));
		INSERT INTO public.contacts (id, org, email) VALUES (30, 'hacme', 'r30@example.com');
		UPDATE public.contacts SET email = 'r30-new@example.com' WHERE id = 30;
		EOF
	scene admin2 $A "-c automation.tenant=hacme -c search_path=h_acme_admin,pg_catalog" <<-EOF
		$plant_temp
		SELECT 'R:explain', hostile_lib.val(\$q\$SELECT count(*) FROM automation.explain('contact',
			'{"id": 40, "org": "hsmall", "email": "x@example.com"}', '{"id": 40, "org": "hsmall", "email": "y@example.com"}')\$q\$);
		EOF
	check "after restart: breaker rebuilds and cache loads ran no attacker code as another role" "" \
		"$(foreign "$m" owner2; grep -h HOSTILE-CANARY "$TMP/writer2.out" "$TMP/admin2.out" | head -2)"
	check "fires: after restart: automation still fires (job for item 6, contact 30)" "1 1" \
		"$(su_q "SELECT (SELECT count(*) FROM automation.jobs WHERE workflow_id = '$I_HOOK' AND record_key = '6') || ' ' ||
		                (SELECT count(*) FROM automation.jobs WHERE workflow_id = '$G_TOUCH' AND record_key = '30' AND payload #>> '{new,email}' = 'r30@example.com')")"
	check "fires: after restart: the tripped global breaker stays spent" "0" \
		"$(su_q "SELECT count(*) FROM automation.jobs WHERE workflow_id = '$I_SMALL' AND record_key = '6'")"
else
	echo "# server restart skipped (not a test/lib/cluster.sh cluster, or HOSTILE_RESTART=0)"
fi

# ---------------------------------------------- the end
check "no attacker role became superuser" "" \
	"$(su_q "SELECT string_agg(rolname, ' ') FROM pg_roles WHERE rolname LIKE 'hostile\_%' AND (rolsuper OR rolbypassrls OR rolcreaterole)")"
check "fires: the canaries did run (as their planters), so they would have seen another role" "yes" \
	"$(su_q "SELECT CASE WHEN count(DISTINCT planter) >= 4 THEN 'yes' ELSE string_agg(DISTINCT planter, ',') END FROM hostile_log.canary WHERE cur = planter")"
check "every canary row names only its planter" "" \
	"$(su_q "SELECT string_agg(DISTINCT format('%s ran as %s (%s)', planter, cur, trick), '; ') FROM hostile_log.canary WHERE cur <> planter")"
check "no canary warning anywhere (client output${SERVER_LOG:+, server log})" "" \
	"$({ cat "$LOG"; [ -n "$SERVER_LOG" ] && tail -c +$((LOG_START + 1)) "$SERVER_LOG"; } | grep 'HOSTILE-CANARY' |
	   sed 's/^.*HOSTILE-CANARY/HOSTILE-CANARY/' | sort | uniq -c | sort -rn | head -8 | tr '\n' ' ')"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
