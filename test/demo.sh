#!/usr/bin/env bash
# test/demo.sh: automation in five minutes, on a fresh Debian 12 machine.
#
# Installs the dependencies, builds and installs automation, starts a
# throwaway cluster (as postgres, temp dir, free port, automation preloaded),
# builds a small CRM schema, watches it, creates the seed's example workflow
# and rule, makes a deal won and a lead arrive, shows the queued jobs, the
# firings and the round-robin assignment, then runs automation-worker once
# against a local endpoint and prints what arrived.  Finally it starts
# automation-api, creates an API key and makes the seed's Create Workflow
# request over HTTP with curl.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib/deps.sh
. test/lib/cluster.sh

install_deps
build_and_install
cluster_start

endpoint_dir=$(mktemp -d)
/usr/bin/python3 test/lib/demo_endpoint.py "$endpoint_dir/port" "$endpoint_dir/requests.log" &
endpoint_pid=$!
api_pid=
trap 'kill $endpoint_pid $api_pid 2>/dev/null; rm -rf "$endpoint_dir"; cluster_stop' EXIT
for _ in $(seq 50); do [ -s "$endpoint_dir/port" ] && break; sleep 0.1; done
endpoint_port=$(cat "$endpoint_dir/port")

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
sql() { psql -X -q -v ON_ERROR_STOP=1 --pset=pager=off "$@"; }

say "A small CRM schema, watched by automation"
sql <<SQL
CREATE EXTENSION automation;
CREATE TABLE deals (
	id bigserial PRIMARY KEY, name text NOT NULL, status text NOT NULL DEFAULT 'open',
	value numeric(12,2), currency text DEFAULT 'EUR', owner_id text,
	tags text[] NOT NULL DEFAULT '{}');
CREATE TABLE leads (
	id bigserial PRIMARY KEY, name text NOT NULL, email text,
	lead_source_id integer, owner_id text, tags text[] NOT NULL DEFAULT '{}');
CREATE TABLE tasks (
	id bigserial PRIMARY KEY, title text NOT NULL, owner_id text, due_at timestamptz);
SELECT automation.watch('deal', 'deals');
SELECT automation.watch('lead', 'leads');
SELECT automation.watch('task', 'tasks');
SELECT automation.create_channel('slack', 'http://127.0.0.1:$endpoint_port/slack', 'slack');
SELECT automation.create_user_pool('sales', ARRAY['alice', 'bob', 'carol']) AS sales_pool \gset
SQL

say "The seed's example workflow (Create Workflow)"
sql <<'SQL'
SELECT jsonb_pretty(automation.create_workflow('{
    "name": "Ping owner on won deals",
    "condition_entity": "deal",
    "condition_field": "status",
    "condition_operator": "changed_to",
    "condition_value": "won",
    "action_type": "send_channel_message",
    "action_config": {
      "channel": "slack",
      "recipient": "#sales-wins",
      "message": "Deal {{deal.name}} closed at {{deal.value}} {{deal.currency}}"
    },
    "max_triggers_per_day": 50
  }'));
SQL

say "The seed's example rule, from multipart form fields (Create Rule)"
sql <<'SQL'
SELECT id AS pool FROM automation.user_pools WHERE name = 'sales' \gset
SELECT jsonb_pretty(automation.create_rule(jsonb_build_object(
    'name', 'Round-robin web leads',
    'priority', '10',
    'is_active', 'true',
    'description', 'Every lead from the website goes to the next sales rep',
    'entity_type', 'lead',
    'trigger_type', 'LEAD_CREATED',
    'stop_subsequent_rules', 'false',
    'conditions[0][field_path]', 'lead.lead_source_id',
    'conditions[0][operator]', 'EQUALS',
    'conditions[0][value_int]', '7',
    'conditions[0][sort_order]', '0',
    'actions[0][action_type]', 'ASSIGN_USER',
    'actions[0][assign_pool_id]', :'pool',
    'actions[0][sort_order]', '0')));
SQL

say "A deal is won; four leads arrive, three from the website (plain SQL: any write path fires)"
sql <<'SQL'
INSERT INTO deals (name, value) VALUES ('Acme renewal', 12000), ('Globex pilot', 800);
UPDATE deals SET status = 'won' WHERE name = 'Acme renewal';
INSERT INTO leads (name, email, lead_source_id) VALUES
	('Ada', 'ada@example.com', 7), ('Grace', 'grace@example.com', 7),
	('Linus', 'linus@example.com', 3), ('Ken', 'ken@example.com', 7);
SQL

say "Queued jobs (enqueued in the same transactions as the changes)"
sql -c "SELECT id, source, action_type, entity, record_key, status,
               jsonb_pretty(payload->'config') AS config
          FROM automation.jobs ORDER BY id"
say "Firings"
sql -c "SELECT source, entity, record_key, operation, outcome, depth FROM automation.firings ORDER BY id"

say "Database actions run inside the database: round-robin assignment"
sql -c "SELECT automation.run_database_jobs() AS database_jobs_run"
sql -c "SELECT name, lead_source_id, owner_id FROM leads ORDER BY id"
sql -c "SELECT p.name, p.next_position AS cursor, array_agg(m.member ORDER BY m.position) AS members
          FROM automation.user_pools p JOIN automation.user_pool_members m ON m.pool_id = p.id
         GROUP BY p.name, p.next_position"

say "automation-worker delivers the Slack message to a local endpoint"
automation_worker=$(/usr/lib/postgresql/15/bin/pg_config --bindir)/automation-worker
"$automation_worker" --dbname "host=$PGHOST port=$PGPORT user=postgres dbname=postgres" \
	--once --allow-host 127.0.0.1
sleep 0.2
say "What arrived at http://127.0.0.1:$endpoint_port"
cat "$endpoint_dir/requests.log"
sql -c "SELECT id, action_type, status, attempts FROM automation.jobs ORDER BY id"
sql -c "SELECT * FROM automation.circuit_breakers"

say "The HTTP API: automation-api, a login role for it, a role and a key for the CRM front end"
sql <<'SQL'
CREATE ROLE automation_api LOGIN NOINHERIT;
CREATE ROLE crm_integration NOLOGIN;
SELECT automation.grant_role('automation_api', 'api') \g /dev/null
SELECT automation.grant_role('crm_integration', 'admin') \g /dev/null
SQL
api_key=$(sql -At -c "SELECT automation.create_api_key('CRM front end',
	ARRAY['read:workflows', 'write:workflows'], 'crm_integration')->>'key'")
sql -c "SELECT id, name, key_prefix, scopes, role, rate_limit FROM automation.api_keys"
api_port=$(free_port)
"$(/usr/lib/postgresql/15/bin/pg_config --bindir)/automation-api" \
	--dbname "host=$PGHOST port=$PGPORT user=automation_api dbname=postgres" \
	--listen "127.0.0.1:$api_port" 2>"$endpoint_dir/api.log" &
api_pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$api_port/healthz" && break; sleep 0.1; done

say "The seed's request (Create Workflow) over HTTP, with the key (named apart from the SQL one)"
echo "curl -X POST http://127.0.0.1:$api_port/v1/workflows -H \"Authorization: Bearer ${api_key:0:12}...\" ..."
curl -sS -D - -o "$endpoint_dir/created.json" -X POST \
  "http://127.0.0.1:$api_port/v1/workflows" \
  -H "Authorization: Bearer $api_key" \
  -H "Content-Type: application/json" \
  -d '{
    "name": "Ping owner on won deals (HTTP)",
    "condition_entity": "deal",
    "condition_field": "status",
    "condition_operator": "changed_to",
    "condition_value": "won",
    "action_type": "send_channel_message",
    "action_config": {
      "channel": "slack",
      "recipient": "#sales-wins",
      "message": "Deal {{deal.name}} closed at {{deal.value}} {{deal.currency}}"
    },
    "max_triggers_per_day": 50
  }'
/usr/bin/python3 -m json.tool "$endpoint_dir/created.json"

say "The same name again: 409 with the error envelope"
curl -sS -X POST "http://127.0.0.1:$api_port/v1/workflows" \
  -H "Authorization: Bearer $api_key" -H "Content-Type: application/json" \
  -d @- <<'JSON' | /usr/bin/python3 -m json.tool
{"name": "Ping owner on won deals (HTTP)", "condition_entity": "deal", "condition_field": "status",
 "condition_operator": "changed_to", "condition_value": "won", "action_type": "send_channel_message",
 "action_config": {"channel": "slack", "recipient": "#sales-wins", "message": "Deal {{deal.name}} won"}}
JSON
say "Done"
