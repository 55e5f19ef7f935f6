#!/usr/bin/env bash
# test/e2e/api_openapi.sh: the OpenAPI document of automation-api is valid,
# complete and true.
#
#   1. src/api/openapi.json passes `redocly lint` (@redocly/cli from npm,
#      installed once into a cache outside the repository by
#      test/lib/redocly.sh) with src/api/redocly.yaml: recommended-strict
#      plus the conventions of SPEC §13 as rules;
#   2. its paths and methods are exactly the routes of
#      `automation-api --list-routes`;
#   3. a running automation-api serves the same document at
#      GET /v1/openapi.json, without a key;
#   4. real requests to every route, successes and errors, get the statuses,
#      headers and bodies the document describes
#      (test/lib/openapi_conformance.py).
#
# Needs PGHOST/PGPORT/PGUSER of a cluster with automation preloaded and
# automation-api installed (make install).  Creates and drops its own
# database and roles.  Prints "N passed, M failed"; exits non-zero on any
# failure.
set -u
cd "$(dirname "$0")/../.."
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
API=${API:-$($PGBIN/pg_config --bindir)/automation-api}
DOC=src/api/openapi.json
DB=api_openapi_e2e
LOGIN=api_openapi_login
APP=api_openapi_app
TMP=$(mktemp -d /tmp/api-openapi.XXXXXX)
. test/lib/redocly.sh
passed=0
failed=0
api_pid=

cleanup() {
	[ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
	$PGBIN/dropdb --if-exists -f "$DB" >/dev/null 2>&1
	$PGBIN/psql -XAtq -d postgres -c "DROP ROLE IF EXISTS $LOGIN" -c "DROP ROLE IF EXISTS $APP" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

check() {	# check NAME COMMAND...: counts and prints "ok - NAME" or "FAILED - NAME"
	local name=$1; shift
	if "$@"; then
		passed=$((passed + 1)); echo "ok - $name"
	else
		failed=$((failed + 1)); echo "FAILED - $name"
	fi
}
finish() {
	echo "$passed passed, $failed failed"
	[ $failed -eq 0 ]
	exit
}

# -- 1. lint
lint() {
	local redocly
	redocly=$(redocly_bin) || return 1
	"$redocly" lint --config src/api/redocly.yaml "$DOC" >"$TMP/lint.out" 2>&1 ||
		{ cat "$TMP/lint.out"; return 1; }
	grep -q "Your API description is valid" "$TMP/lint.out" || { cat "$TMP/lint.out"; return 1; }
}
check "redocly lint $DOC (src/api/redocly.yaml)" lint

# -- 2. the document's routes are the server's
documented_routes() {
	/usr/bin/python3 - "$DOC" <<-'EOF'
	import json, sys
	doc = json.load(open(sys.argv[1]))
	for path, item in doc["paths"].items():
	    for method in item:
	        if method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
	            print(method.upper(), path)
	EOF
}
same_routes() {
	documented_routes | LC_ALL=C sort >"$TMP/documented"
	"$API" --list-routes | LC_ALL=C sort >"$TMP/served" || return 1
	[ -s "$TMP/served" ] || { echo "   automation-api --list-routes printed nothing"; return 1; }
	diff -u --label documented --label served "$TMP/documented" "$TMP/served" | sed 's/^/   /'
	cmp -s "$TMP/documented" "$TMP/served"
}
if [ ! -x "$API" ]; then
	check "automation-api is installed ($API)" false
	finish
fi
check "the document's paths and methods are automation-api --list-routes" same_routes

# -- 3. a running server serves the document
$PGBIN/dropdb --if-exists -f "$DB" >/dev/null 2>&1
$PGBIN/createdb "$DB" || { check "create database $DB" false; finish; }
$PGBIN/psql -XAtq -v ON_ERROR_STOP=1 -d "$DB" >"$TMP/setup.out" 2>&1 <<SQL || { cat "$TMP/setup.out"; check "setup" false; finish; }
SET client_min_messages = warning;
DROP ROLE IF EXISTS $LOGIN;
DROP ROLE IF EXISTS $APP;
CREATE ROLE $LOGIN LOGIN NOINHERIT;
CREATE ROLE $APP NOLOGIN;
CREATE EXTENSION automation;
CREATE TABLE deals (id bigserial PRIMARY KEY, name text NOT NULL, status text NOT NULL DEFAULT 'open',
	value numeric(12,2), currency text DEFAULT 'EUR', owner_id text);
CREATE TABLE leads (id bigserial PRIMARY KEY, name text NOT NULL, lead_source_id integer, owner_id text);
GRANT SELECT, INSERT, UPDATE ON deals, leads TO $APP;
SELECT automation.watch('deal', 'deals');
SELECT automation.watch('lead', 'leads');
SELECT automation.create_channel('slack', 'http://127.0.0.1:9/slack');
SELECT automation.grant_role('$APP', 'admin');
SELECT automation.grant_role('$LOGIN', 'api');
-- history for the list routes: a workflow that fires twice with a budget of
-- one (a job, two firings, a tripped breaker and its alert)
SELECT automation.create_workflow('{"name": "history", "condition_entity": "deal",
	"condition_field": "status", "condition_operator": "changed_to", "condition_value": "won",
	"action_type": "send_channel_message", "max_triggers_per_day": 1,
	"action_config": {"channel": "slack", "recipient": "#x", "message": "m"}}');
INSERT INTO deals (name) VALUES ('a'), ('b');
UPDATE deals SET status = 'won';
SQL
keys() {	# the keys, as JSON, for openapi_conformance.py
	$PGBIN/psql -XAtq -v ON_ERROR_STOP=1 -d "$DB" <<-SQL
	SELECT jsonb_build_object(
		'all', automation.create_api_key('all', automation._api_scopes(), '$APP'::regrole)->>'key',
		'read', automation.create_api_key('read', ARRAY['read:workflows'], '$APP'::regrole)->>'key',
		'limited', automation.create_api_key('limited', automation._api_scopes(), '$APP'::regrole,
											 rate_limit => 1)->>'key',
		'pool', automation.create_user_pool('sales', ARRAY['alice', 'bob']));
	SQL
}
keys >"$TMP/keys.json" || { check "create the API keys" false; finish; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$API" --dbname "host=$PGHOST port=$PGPORT dbname=$DB user=$LOGIN" --listen "127.0.0.1:$port" \
	--max-body 1048576 >"$TMP/api.log" 2>&1 &
api_pid=$!
base=http://127.0.0.1:$port
up() {
	local i
	for i in $(seq 100); do
		curl -sf -o /dev/null "$base/healthz" && return 0
		kill -0 "$api_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$TMP/api.log"
	return 1
}
check "automation-api starts and /healthz answers 200" up || finish

served_document() {
	curl -s -D "$TMP/doc.headers" -o "$TMP/served.json" -w '%{http_code}\n' "$base/v1/openapi.json" >"$TMP/doc.status" || return 1
	[ "$(cat "$TMP/doc.status")" = 200 ] || { echo "   status $(cat "$TMP/doc.status")"; return 1; }
	grep -qi '^content-type: application/json' "$TMP/doc.headers" || { echo "   not application/json"; return 1; }
	grep -qi '^x-request-id: ' "$TMP/doc.headers" || { echo "   no X-Request-ID"; return 1; }
	/usr/bin/python3 - "$DOC" "$TMP/served.json" <<-'EOF'
	import json, sys
	a, b = (json.load(open(f)) for f in sys.argv[1:3])
	if a != b:
	    print("   GET /v1/openapi.json differs from src/api/openapi.json")
	    sys.exit(1)
	EOF
}
check "GET /v1/openapi.json (no key) is src/api/openapi.json" served_document

# -- 4. conformance of real responses
if /usr/bin/python3 test/lib/openapi_conformance.py "$DOC" "$base" "$TMP/keys.json" >"$TMP/conformance.out" 2>&1; then
	conformance_ok=true
else
	conformance_ok=false
fi
grep -v '^[0-9]* passed, [0-9]* failed$' "$TMP/conformance.out"
summary=$(grep '^[0-9]* passed, [0-9]* failed$' "$TMP/conformance.out")
if [ -n "$summary" ]; then
	set -- $summary
	passed=$((passed + $1)); failed=$((failed + $3))
fi
$conformance_ok || [ -n "$summary" ] || { failed=$((failed + 1)); echo "FAILED - openapi_conformance.py did not finish"; }
finish
