#!/bin/bash
# test/bench/breaker_bulk.sh: one INSERT of N matching rows, fired by a
# workflow (circuit breaker: one reservation per row) and by a rule (no
# breaker), on a throwaway cluster.  Prints milliseconds per load; the cost
# per firing of the workflow must not grow with N (issue 11, item 11).
#
# Usage: test/bench/breaker_bulk.sh ["25000 50000 100000"]
# Results go in doc/benchmark.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES=${1:-"25000 50000 100000"}
. test/lib/cluster.sh
cluster_start "shared_buffers = 256MB" "max_wal_size = 8GB" >/dev/null
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
psql >/dev/null <<'SQL'
CREATE EXTENSION automation;
CREATE TABLE wf_leads (id bigserial PRIMARY KEY, source text);
CREATE TABLE rule_leads (id bigserial PRIMARY KEY, source text);
SELECT automation.watch('wf_lead', 'public.wf_leads');
SELECT automation.watch('rule_lead', 'public.rule_leads');
SELECT automation.create_workflow('{"name": "web lead", "condition_entity": "wf_lead",
	"condition_field": "source", "condition_operator": "equals", "condition_value": "web",
	"action_type": "webhook", "action_config": {"url": "https://hooks.example.com/lead"},
	"max_triggers_per_day": 2000000000}');
SELECT automation.create_rule('{"name": "web lead", "entity_type": "rule_lead",
	"trigger_type": "RULE_LEAD_CREATED",
	"conditions": [{"field_path": "source", "operator": "EQUALS", "value_string": "web"}],
	"actions": [{"action_type": "NOTIFY", "recipient": "sales", "message": "a"}]}');
SQL
load() { # table rows -> ms
	psql -At <<-SQL | tail -1
	TRUNCATE automation.jobs, automation.firings, $1;
	\timing on
	INSERT INTO $1 (source) SELECT 'web' FROM generate_series(1, $2);
	SQL
}
printf "%8s %12s %12s %8s\n" rows workflow_ms rule_ms ratio
for n in $SIZES; do
	load wf_leads 100 >/dev/null; load rule_leads 100 >/dev/null
	w=$(load wf_leads "$n" | sed -E 's/Time: ([0-9.]+) ms.*/\1/')
	r=$(load rule_leads "$n" | sed -E 's/Time: ([0-9.]+) ms.*/\1/')
	printf "%8s %12.0f %12.0f %8.2f\n" "$n" "$w" "$r" "$(echo "$w / $r" | bc -l)"
done
