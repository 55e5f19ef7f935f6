#!/bin/bash
# test/bench/backtest.sh: automation.backtest() throughput, rows evaluated per
# second over a table of 100,000 rows, for a definition of 1 condition and
# one of 10 (issue 12 item 9; target: at least 1,000,000 rows/s for one
# condition no database index serves).  Not a timed test; results go in
# doc/benchmark.md ("backtest").
#
# Usage: test/bench/backtest.sh [--rows N] [--runs N]
#
# Starts a throwaway cluster (test/lib/cluster.sh), loads bench_bt.deals
# (ROWS rows, 11 columns, no index but the primary key), pins the server to
# CPU 1 (taskset), warms the table into shared buffers, then for each case
# times RUNS backtests by the id of a stored definition (server-side, from
# clock_timestamp()) and prints the median rows/s, with a plain
# "SELECT count(*)" of the table and a SELECT of the columns the 10-condition
# definition reads as references (the scan alone).
#
# Needs: root (or sudo) as for test/lib/cluster.sh, taskset, and automation
# installed (make install).
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=100000
RUNS=7
while [ $# -gt 0 ]; do
	case "$1" in
		--rows) ROWS=$2; shift ;;
		--runs) RUNS=$2; shift ;;
		-h|--help) sed -n '2,19p' "$0"; exit 0 ;;
		*) echo "unknown option: $1" >&2; exit 2 ;;
	esac
	shift
done

. test/lib/cluster.sh
cluster_start "shared_buffers = 256MB" "max_wal_size = 4GB"
trap cluster_stop EXIT

psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# the postmaster and every server process (new backends inherit it)
pin_server() {
	local pm
	pm=$(head -1 "$CLUSTER_DIR/data/postmaster.pid")
	for p in $pm $(ps -o pid= --ppid "$pm"); do
		taskset -a -p -c "$1" "$p" >/dev/null 2>&1 || true
	done
}

psql -v rows="$ROWS" <<'EOF'
CREATE EXTENSION automation;
CREATE SCHEMA bench_bt;
CREATE TABLE bench_bt.deals (id int PRIMARY KEY, status text, amount numeric, stage text,
	owner text, region text, score int, created date, notes text, tags text[], custom jsonb);
INSERT INTO bench_bt.deals
SELECT g, (ARRAY['new', 'open', 'won', 'lost'])[1 + g % 4], (g % 1000) * 10.5,
	   'stage ' || (g % 7), 'owner' || (g % 50), (ARRAY['emea', 'amer', 'apac'])[1 + g % 3],
	   g % 100, date '2025-01-01' + g % 365, repeat('x', 40), ARRAY['t' || (g % 5)],
	   jsonb_build_object('tier', g % 3)
  FROM generate_series(1, :rows) g;
VACUUM ANALYZE bench_bt.deals;
SELECT automation.watch('deal', 'bench_bt.deals') IS NOT NULL AS watched;
-- 1 condition: status = 'won' (a quarter of the rows match)
SELECT automation.create_rule('{"name": "one", "entity_type": "deal", "trigger_type": "DEAL_UPDATED",
	"conditions": [{"field_path": "status", "operator": "EQUALS", "value_string": "won"}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/1"}]}') IS NOT NULL AS one;
-- 10 conditions that all hold: every condition of every row is evaluated
SELECT automation.create_rule('{"name": "ten", "entity_type": "deal", "trigger_type": "DEAL_UPDATED",
	"conditions": [
		{"field_path": "status", "operator": "NOT_EQUALS", "value_string": "deleted"},
		{"field_path": "amount", "operator": "GTE", "value_int": 0},
		{"field_path": "stage", "operator": "STARTS_WITH", "value_string": "stage"},
		{"field_path": "owner", "operator": "EXISTS"},
		{"field_path": "region", "operator": "IN", "value_array": ["emea", "amer", "apac"]},
		{"field_path": "score", "operator": "LT", "value_int": 1000},
		{"field_path": "created", "operator": "GT", "value_datetime": "2020-01-01T00:00:00Z"},
		{"field_path": "notes", "operator": "CONTAINS", "value_string": "xx"},
		{"field_path": "tags", "operator": "NOT_CONTAINS", "value_string": "zz"},
		{"field_path": "custom.tier", "operator": "NOT_EQUALS", "value_string": "9"}],
	"actions": [{"action_type": "WEBHOOK", "url": "https://example.com/10"}]}') IS NOT NULL AS ten;
EOF

pin_server 1

psql -At -v runs="$RUNS" <<'EOF'
-- warm: the table in shared buffers, the plans and caches of this backend
SELECT count(*) FROM bench_bt.deals \g /dev/null
SELECT automation.backtest(id::text, 0) FROM automation.rules \g /dev/null
CREATE TEMP TABLE timings (label text, run int, rows bigint, seconds float8);
CREATE FUNCTION pg_temp.time_it(label text, q text, runs int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	n bigint;
	r jsonb;
BEGIN
	FOR i IN 1 .. runs LOOP
		t0 := clock_timestamp();
		EXECUTE q INTO r;
		n := coalesce((r ->> 'evaluated')::bigint, (r ->> 'count')::bigint);
		INSERT INTO timings VALUES (label, i, n,
			extract(epoch FROM clock_timestamp() - t0));
	END LOOP;
END $$;
SELECT pg_temp.time_it('scan only: SELECT count(*)',
	'SELECT jsonb_build_object(''count'', count(*)) FROM bench_bt.deals', :runs);
SELECT pg_temp.time_it('scan only: the 10 columns',
	'SELECT jsonb_build_object(''count'', count(*)) FROM (SELECT status, amount, stage, owner, region, score, created, notes, tags, custom FROM bench_bt.deals OFFSET 0) s', :runs);
SELECT pg_temp.time_it('backtest, 1 condition',
	format('SELECT automation.backtest(%L, 10)', (SELECT id::text FROM automation.rules WHERE name = 'one')), :runs);
SELECT pg_temp.time_it('backtest, 10 conditions',
	format('SELECT automation.backtest(%L, 10)', (SELECT id::text FROM automation.rules WHERE name = 'ten')), :runs);
\pset format aligned
\pset tuples_only off
SELECT label, max(rows) AS rows,
	   round((percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) * 1000)::numeric, 1) AS median_ms,
	   round((max(rows) / percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds))::numeric) AS rows_per_second
  FROM timings GROUP BY label ORDER BY min(ctid);
SELECT (automation.backtest(id::text, 0) - 'sample')::text AS result, name FROM automation.rules ORDER BY name;
EOF
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), server pinned to CPU 1, $RUNS runs, median"
