# test/lib/api.sh: start and stop automation-api for the end-to-end tests.
#
# Sourced after test/lib/cluster.sh (PGHOST/PGPORT exported).  api_setup
# installs the extension in database "api" with the roles the tests use:
#   automation_api   the server's login role (grant_role(.., 'api'))
#   crm_admin        a key role with the admin grants
#   crm_reader       a key role that may only read
# and a watched table deals (tenant column org), a channel "slack".
# api_start [ARGS...] starts a server on a free port (API_URL, API_PID,
# API_LOG); api_key NAME SCOPES [ROLE] [TENANT] [RATE] prints a new key.

APIBIN=${APIBIN:-$PGBIN/automation-api}
API_PIDS=()

api_psql() {
	psql -X -q -v ON_ERROR_STOP=1 -d api "$@"
}

api_setup() {
	PGOPTIONS='-c client_min_messages=warning' psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS api' -c 'CREATE DATABASE api' >/dev/null
	api_psql <<'SQL' >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION automation;
DO $$ BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'automation_api') THEN CREATE ROLE automation_api LOGIN; END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'crm_admin') THEN CREATE ROLE crm_admin; END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'crm_reader') THEN CREATE ROLE crm_reader; END IF;
END $$;
SELECT automation.grant_role('automation_api', 'api');
SELECT automation.grant_role('crm_admin', 'admin');
GRANT USAGE ON SCHEMA automation TO crm_reader;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA automation TO crm_reader;
REVOKE EXECUTE ON FUNCTION automation._api_authenticate(text, text, text, text, integer), automation._execute_as(name, text, text[]) FROM crm_reader;
GRANT SELECT ON automation.workflows, automation.rules, automation.rule_conditions, automation.rule_actions,
	automation.firings TO crm_reader;
CREATE TABLE public.deals (id int PRIMARY KEY, name text, status text, value numeric, currency text, org text,
	stage_id int, owner_id text, tags text[]);
GRANT SELECT, UPDATE ON public.deals TO crm_admin;
SELECT automation.watch('deal', 'public.deals', tenant_column => 'org');
CREATE TABLE public.leads (id int PRIMARY KEY, lead_source_id int, status text, owner_id text, org text);
GRANT SELECT, UPDATE ON public.leads TO crm_admin;
SELECT automation.watch('lead', 'public.leads', tenant_column => 'org');
SELECT automation.create_channel('slack', 'https://hooks.example.com/services/T0/B0/x');
SQL
}

# api_key NAME SCOPES(comma list) [ROLE] [TENANT] [RATE]: prints the key
api_key() {
	local role=${3:-crm_admin} tenant=${4:-} rate=${5:-600}
	api_psql -At -v name="$1" -v scopes="{$2}" -v role="$role" -v tenant="$tenant" -v rate="$rate" <<'SQL'
SELECT automation.create_api_key(:'name', :'scopes'::text[], :'role'::regrole, nullif(:'tenant', ''), NULL, :'rate'::int) ->> 'key';
SQL
}

api_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# api_start [ARGS...]: a server on a free port; sets API_URL, API_PID, API_LOG
api_start() {
	local port
	port=$(api_free_port)
	API_LOG=$(mktemp /tmp/automation-api.XXXXXX.log)
	"${API_WRAPPER[@]}" "$APIBIN" --dbname "host=$PGHOST port=$PGPORT dbname=api user=automation_api" \
		--listen "127.0.0.1:$port" "$@" 2>"$API_LOG" &
	API_PID=$!
	API_PIDS+=("$API_PID")
	API_URL="http://127.0.0.1:$port"
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "$API_URL/healthz" && return 0
		sleep 0.05
	done
	echo "automation-api did not start:"; cat "$API_LOG"
	return 1
}

api_stop_all() {
	local p
	for p in "${API_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${API_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	API_PIDS=()
}
