#!/usr/bin/env bash
# test/e2e/api_security.sh: the attacks of doc/redteam-api-0.4.0.md that
# need a running automation-api, each a check that failed before its fix.
#
#   A1  code a key's role owns, run by a request (a domain CHECK reached by
#       validating a condition value, a row-level security policy reached
#       by enroll_existing or backtest), can neither leave a session
#       setting on the pooled connection (search_path: another key's
#       request would run the attacker's operator as that key's role) nor
#       RESET ROLE to the login role and SET ROLE to another key's role.
#   A2  an API login role is never made a member of a role that is a
#       superuser in all but name (a member of a superuser role or of
#       pg_execute_server_program, pg_read_server_files,
#       pg_write_server_files).
#   A3  Authorization, the tenant header and Idempotency-Key given twice
#       are 400 (not the first copy).
#   A4  POST /v1/backtest's scope is decided by the body's shape: an "id"
#       holding a workflow body as JSON text (which automation.backtest(text)
#       accepts) is not found, not a workflow backtest under read:rules.
#   A10 automation._invoker() (the caller create_api_key trusts) refuses to
#       answer inside a security-restricted operation, where the code runs
#       as another role than the session's.
# ~5 s.
set -u
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
. test/lib/api.sh
. test/lib/expect.sh
trap 'api_stop_all' EXIT

api_setup
api_psql <<'SQL' >/dev/null
SET client_min_messages = warning;
DO $$ BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sec_victim') THEN CREATE ROLE sec_victim; END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sec_mallory') THEN CREATE ROLE sec_mallory; END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sec_wrapper') THEN CREATE ROLE sec_wrapper; END IF;
END $$;
SELECT automation.grant_role('sec_victim', 'admin'), automation.grant_role('sec_mallory', 'admin');
CREATE TABLE public.sec_secrets (s text);
ALTER TABLE public.sec_secrets OWNER TO sec_victim;
INSERT INTO public.sec_secrets VALUES ('victim-secret');
CREATE SCHEMA mal AUTHORIZATION sec_mallory;
SET ROLE sec_mallory;
CREATE TABLE mal.loot (who text, what text);
GRANT INSERT ON mal.loot TO PUBLIC;
GRANT USAGE ON SCHEMA mal TO PUBLIC;
/* set at session level by the domain CHECK: a pooled connection keeps it */
CREATE FUNCTION mal.chk(t text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
	PERFORM set_config('search_path', 'mal, pg_catalog', false);
	PERFORM set_config('application_name', 'poisoned', false);
	RETURN true;
END $f$;
CREATE DOMAIN mal.tag AS text CHECK (mal.chk(VALUE));
/* the operator another key's request would then run, as that key's role */
CREATE FUNCTION mal.eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
	IF current_user <> 'sec_mallory' THEN
		BEGIN
			INSERT INTO mal.loot SELECT current_user, string_agg(x.s, ',') FROM public.sec_secrets x;
		EXCEPTION WHEN others THEN
			INSERT INTO mal.loot VALUES (current_user, SQLERRM);
		END;
	END IF;
	RETURN a OPERATOR(pg_catalog.=) b;
END $f$;
CREATE OPERATOR mal.= (LEFTARG = text, RIGHTARG = text, FUNCTION = mal.eq);
CREATE OPERATOR mal.> (LEFTARG = text, RIGHTARG = text, FUNCTION = mal.eq);
/* a row-level security policy that goes back to the login role and on to the victim */
CREATE FUNCTION mal.policy() RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
	RESET ROLE;
	SET ROLE sec_victim;
	INSERT INTO mal.loot SELECT 'policy as ' || current_user, string_agg(x.s, ',') FROM public.sec_secrets x;
	RETURN true;
END $f$;
CREATE TABLE mal.items (id int PRIMARY KEY, status text, tag mal.tag);
INSERT INTO mal.items VALUES (1, 'won', NULL), (2, 'open', NULL);
ALTER TABLE mal.items ENABLE ROW LEVEL SECURITY;
ALTER TABLE mal.items FORCE ROW LEVEL SECURITY;
CREATE POLICY p ON mal.items USING (mal.policy());
SELECT automation.watch('item', 'mal.items') IS NOT NULL;
SQL
MAL=$(api_key mal read:workflows,write:workflows sec_mallory)
VICTIM=$(api_key victim read:workflows sec_victim)
# one pool thread: every request shares the one database connection
api_start --pool 1

wf_body() { # NAME FIELD EXTRA
	printf '{"name": "%s", "condition_entity": "item", "condition_field": "%s", "condition_operator": "equals",
		"condition_value": "won", "action_type": "webhook", "action_config": {"url": "https://example.com/h"}%s}' "$1" "$2" "${3:-}"
}
post() { # KEY BODY -> status
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		-d "$2" "$API_URL/v1/workflows"
}

echo "# A1: a domain CHECK (condition value validation) leaves no session setting behind"
check "the workflow on the domain column is created" 201 "$(post "$MAL" "$(wf_body dom tag)")"
for _ in 1 2 3; do
	curl -s -o /dev/null -H "Authorization: Bearer $VICTIM" "$API_URL/v1/workflows"
done
check "the pooled connection kept no setting of the CHECK's" "0" \
	"$(api_psql -At -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'poisoned'")"
check "no request of another key ran the attacker's operator" "0" \
	"$(api_psql -At -c "SELECT count(*) FROM mal.loot")"
check "the victim's requests still succeed" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $VICTIM" "$API_URL/v1/workflows")"

echo "# A1: the login role's requests resolve no operator through a session search_path"
# even if a session setting got through: pin it by hand on the one pooled connection
api_psql -q -c "ALTER ROLE automation_api SET search_path = mal, pg_catalog"
api_stop_all
api_start --pool 1
curl -s -o /dev/null -H "Authorization: Bearer $VICTIM" "$API_URL/v1/workflows?cursor=wf_0"
curl -s -o /dev/null -H "Authorization: Bearer $VICTIM" "$API_URL/v1/workflows"
check "a poisoned session search_path runs no attacker operator in the key check or the route" "0" \
	"$(api_psql -At -c "SELECT count(*) FROM mal.loot")"
api_psql -q -c "ALTER ROLE automation_api RESET search_path"
api_stop_all
api_start --pool 1

echo "# A1: a row-level security policy run by enroll_existing or backtest cannot RESET ROLE"
status=$(post "$MAL" "$(wf_body enr status ', "enroll_existing": true')")
check "enroll_existing over a table whose policy switches roles is refused" 403 "$status"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $MAL" -H 'Content-Type: application/json' \
	-d "{\"definition\": $(wf_body bt status), \"sample\": 5}" "$API_URL/v1/backtest")
check "backtest over it is refused" 403 "$status"
check "the policy never acted as another role" "0" "$(api_psql -At -c "SELECT count(*) FROM mal.loot")"

echo "# A2: no superuser in all but name for the login role"
api_psql -q <<'SQL'
GRANT postgres TO sec_wrapper;
SELECT automation.create_api_key('exec', '{read:jobs}', 'pg_execute_server_program') IS NOT NULL;
SELECT automation.create_api_key('wrap', '{read:jobs}', 'sec_wrapper') IS NOT NULL;
SELECT automation.create_api_key('files', '{read:jobs}', 'pg_write_server_files') IS NOT NULL;
SQL
check "automation_api is a member of no superuser-equivalent role" "" "$(api_psql -At -c "
	SELECT string_agg(r.rolname, ',' ORDER BY r.rolname) FROM pg_roles r
	 WHERE pg_has_role('automation_api', r.oid, 'MEMBER')
	   AND (r.rolsuper OR r.rolname IN ('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'))")"
api_psql -q -c "REVOKE postgres FROM sec_wrapper"

echo "# A3: a header that decides the request is given once"
ANY=$(api_key any read:workflows)
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "the tenant header twice is 400" 400 \
	"$(code -H "Authorization: Bearer $ANY" -H 'X-Tenant-ID: acme' -H 'X-Tenant-ID: beta' "$API_URL/v1/workflows")"
check "Authorization twice is 400" 400 \
	"$(code -H "Authorization: Bearer $ANY" -H "Authorization: Bearer $ANY" "$API_URL/v1/workflows")"
check "Idempotency-Key twice is 400" 400 \
	"$(code -H "Authorization: Bearer $ANY" -H 'Idempotency-Key: 5b0c8a3e-2f4d-4b6a-9c1e-7d8f9a0b1c2d' \
		-H 'Idempotency-Key: 6b0c8a3e-2f4d-4b6a-9c1e-7d8f9a0b1c2d' "$API_URL/v1/workflows")"
check "one tenant header is fine" 200 \
	"$(code -H "Authorization: Bearer $ANY" -H 'X-Tenant-ID: acme' "$API_URL/v1/workflows")"

echo "# A4: a key with read:rules only cannot backtest a workflow body passed as an id"
RULES=$(api_key rules read:rules)
body=$(wf_body bt2 status | jq -Rs '{id: .}')
check "a JSON body in id is not found (not a workflow backtest under read:rules)" 404 \
	"$(code -H "Authorization: Bearer $RULES" -H 'Content-Type: application/json' -d "$body" "$API_URL/v1/backtest")"

echo "# A10: code run as another role in a restricted scope cannot make a key as the session's role"
# what a user trigger does when the worker's execute_as writes as a definition's creator
check "create_api_key inside execute_as is refused" "42501" "$(api_psql -At -c "
	DO \$\$ BEGIN
		PERFORM automation._execute_as('sec_mallory',
			'SELECT automation.create_api_key(''trojan'', ''{read:jobs}'', ''sec_victim'')', NULL);
		RAISE NOTICE 'created';
	EXCEPTION WHEN insufficient_privilege THEN RAISE NOTICE '42501';
	END \$\$" 2>&1 | sed 's/^NOTICE: *//')"
check "no key was made" 0 "$(api_psql -At -c "SELECT count(*) FROM automation.api_key_store WHERE name = 'trojan'")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
