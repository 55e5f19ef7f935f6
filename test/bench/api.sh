#!/bin/bash
# test/bench/api.sh: automation-api against the SQL API it serves, in one run.
# Not a timed test; results go in doc/benchmark.md ("HTTP API").
#
# Usage: test/bench/api.sh [--quick] [--runs N] [--duration SECONDS]
#                          [--clients "1 8"] [--ops "get post"]
#
# For each operation and number of connections it measures, RUNS times and
# alternately (API, SQL, API, SQL, ...: both see the same machine):
#   get   GET /v1/workflows/{id} with wrk   vs  SELECT automation.get_workflow($1)
#   post  POST /v1/workflows with wrk       vs  SELECT automation.create_workflow($1)
#         (test/bench/api_post.lua: the          (the same body, a unique name per
#         seed's body, a unique name each)       transaction, pgbench -M prepared)
# with the same number of connections: wrk -c N against automation-api
# --pool N, pgbench -c N connecting as the key's role.  Requests per second
# and the p50/p99 latency of each side (wrk --latency; pgbench's
# per-transaction log), the median of the runs, and the ratio API / SQL.
# 1-connection cells run with the client, automation-api and every server
# process pinned to CPU 1 (taskset); 8-connection cells use every CPU.
# Targets (issue 13): API >= 0.5x SQL for get, >= 0.7x for post, API p99 < 50
# ms at 8 connections.  Then where the API's time goes, at 1 connection
# pinned: wrk on GET /healthz (HTTP and a SELECT 1: the server's own cost)
# and pgbench -r (latency per statement) of the statements automation-api
# sends per request (BEGIN, _api_authenticate, the set_config of role, tenant
# and request id, the call, COMMIT; as in src/api/request.c), as its login
# role.  --profile adds a perf profile of the API side of the 8-connection
# cells (needs linux-perf).
#
# Needs: root (or sudo) as for test/lib/cluster.sh, automation and
# automation-api installed (make install); installs wrk from Debian.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=3
DURATION=5
CLIENTS="1 8"
OPS="get post"
PROFILE=0
while [ $# -gt 0 ]; do
	case "$1" in
		--quick) RUNS=1; DURATION=3 ;;
		--runs) RUNS=$2; shift ;;
		--duration) DURATION=$2; shift ;;
		--clients) CLIENTS=$2; shift ;;
		--ops) OPS=$2; shift ;;
		--profile) PROFILE=1 ;;
		-h|--help) sed -n '2,27p' "$0"; exit 0 ;;
		*) echo "unknown option: $1" >&2; exit 2 ;;
	esac
	shift
done

. test/lib/deps.sh
install_deps wrk
[ "$PROFILE" = 1 ] && install_deps linux-perf
. test/lib/cluster.sh
API=${API:-$($PGBIN/pg_config --bindir)/automation-api}
[ -x "$API" ] || { echo "automation-api is not installed ($API): make install" >&2; exit 1; }
BENCH_TMP=$(mktemp -d /tmp/automation-bench-api.XXXXXX)
chmod 755 "$BENCH_TMP"
API_PID=
stop_api() {
	if [ -n "$API_PID" ]; then
		kill "$API_PID" 2>/dev/null || true
		wait "$API_PID" 2>/dev/null || true
		API_PID=
	fi
}
cleanup() {
	stop_api
	cluster_stop
	rm -rf "$BENCH_TMP"
}
cluster_start "fsync = off" "shared_buffers = 256MB" "max_wal_size = 8GB" \
	"checkpoint_timeout = 30min" "autovacuum_naptime = 10s" "max_connections = 100"
trap cleanup EXIT

psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# the seed's table, entity and channel; the API's login role; the role the
# key runs as, which pgbench logs in as; a key without a practical limit
psql >/dev/null <<'SQL'
CREATE EXTENSION automation;
CREATE TABLE deals (id bigserial PRIMARY KEY, name text NOT NULL, status text NOT NULL DEFAULT 'open',
	value numeric(12,2), currency text DEFAULT 'EUR', owner_id text);
SELECT automation.watch('deal', 'deals');
SELECT automation.create_channel('slack', 'http://127.0.0.1:9/slack');
CREATE ROLE bench_api LOGIN NOINHERIT;
CREATE ROLE bench_app LOGIN;
SELECT automation.grant_role('bench_app', 'admin');
SELECT automation.grant_role('bench_api', 'api');
SQL
KEY=$(psql -Atc "SELECT automation.create_api_key('bench', automation._api_scopes(), 'bench_app'::regrole,
	rate_limit => 1000000)->>'key'")
WF=$(PGUSER=bench_app psql -Atc "SELECT automation.create_workflow('{
	\"name\": \"Ping owner on won deals\", \"condition_entity\": \"deal\", \"condition_field\": \"status\",
	\"condition_operator\": \"changed_to\", \"condition_value\": \"won\",
	\"action_type\": \"send_channel_message\",
	\"action_config\": {\"channel\": \"slack\", \"recipient\": \"#sales-wins\",
	                    \"message\": \"Deal {{deal.name}} closed at {{deal.value}} {{deal.currency}}\"},
	\"max_triggers_per_day\": 50}')->>'id'")

cat >"$BENCH_TMP/get.sql" <<'SQL'
SELECT automation.get_workflow(:wf);
SQL
# the body of test/bench/api_post.lua, named by run, client and a counter
cat >"$BENCH_TMP/post.sql" <<'SQL'
\set n :n + 1
SELECT automation.create_workflow(jsonb_build_object(
	'name', 'sql ' || :run || ' ' || :client_id || ' ' || :n,
	'condition_entity', 'deal', 'condition_field', 'status',
	'condition_operator', 'changed_to', 'condition_value', 'won',
	'action_type', 'send_channel_message',
	'action_config', jsonb_build_object('channel', 'slack', 'recipient', '#sales-wins',
		'message', 'Deal {{deal.name}} closed at {{deal.value}} {{deal.currency}}'),
	'max_triggers_per_day', 50));
SQL

# pin_server CPUS: the postmaster and every server process
pin_server() {
	local pm
	pm=$(head -1 "$CLUSTER_DIR/data/postmaster.pid")
	for p in $pm $(ps -o pid= --ppid "$pm"); do
		taskset -a -p -c "$1" "$p" >/dev/null 2>&1 || true
	done
}

PORT=
# start_api POOL CPUS: automation-api with POOL connections, on CPUS
start_api() {
	stop_api
	PORT=$(free_port)
	taskset -c "$2" "$API" --dbname "host=$PGHOST port=$PGPORT dbname=postgres user=bench_api" \
		--listen "127.0.0.1:$PORT" --pool "$1" --max-connections 1024 >"$BENCH_TMP/api.log" 2>&1 &
	API_PID=$!
	for _ in $(seq 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
		sleep 0.1
	done
	# open the pool's connections before measuring
	for _ in $(seq $((4 * $1))); do
		curl -sf -o /dev/null -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/v1/workflows/$WF"
	done
	pin_server "$2"		# backends started since
}

# to_ms VALUE: wrk's "812.00us" / "1.20ms" / "1.01s" in milliseconds
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "%s", v }'
}

# run_api OP CLIENTS CPUS -> "rps p50_ms p99_ms"
run_api() {
	local threads=1 pin=() out=$BENCH_TMP/wrk.out
	[ "$2" -gt 1 ] && threads=2
	[ "$2" = 1 ] && pin=(taskset -c "$3")
	if [ "$1" = get ]; then
		"${pin[@]}" wrk -t "$threads" -c "$2" -d "${DURATION}s" --latency \
			-H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/v1/workflows/$WF" >"$out" 2>&1
	else
		BENCH_KEY=$KEY BENCH_RUN="$RANDOM$RANDOM" "${pin[@]}" wrk -t "$threads" -c "$2" -d "${DURATION}s" \
			--latency -s test/bench/api_post.lua "http://127.0.0.1:$PORT" >"$out" 2>&1
	fi
	if grep -q 'Non-2xx' "$out" || grep -q '^not_created [1-9]' "$out"; then
		echo "API errors during $1/$2:" >&2; cat "$out" >&2; return 1
	fi
	local rps p50 p99
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
	p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
	echo "$rps $p50 $p99"
}

# run_sql OP CLIENTS CPUS -> "tps p50_ms p99_ms"
run_sql() {
	local threads=1 pin=()
	[ "$2" -gt 1 ] && threads=2
	[ "$2" = 1 ] && pin=(taskset -c "$3")
	rm -f "$BENCH_TMP"/log.*
	(cd "$BENCH_TMP" && PGUSER=bench_app "${pin[@]}" pgbench -n -M prepared -c "$2" -j "$threads" \
		-T "$DURATION" -l --log-prefix=log -D wf="$WF" -D run="$RANDOM$RANDOM" -D n=0 \
		-f "$1.sql" postgres >pgbench.out 2>&1) ||
		{ cat "$BENCH_TMP/pgbench.out" >&2; return 1; }
	if grep -q 'number of failed transactions: [1-9]' "$BENCH_TMP/pgbench.out"; then
		cat "$BENCH_TMP/pgbench.out" >&2; return 1
	fi
	local tps
	tps=$(awk '/^tps = / { print $3; exit }' "$BENCH_TMP/pgbench.out")
	cat "$BENCH_TMP"/log.* | awk '{ print $3 }' | sort -n | awk -v tps="$tps" '
		{ v[NR] = $1 }
		END { printf "%s %.3f %.3f\n", tps, v[int(NR * 0.50) + 1] / 1000, v[int(NR * 0.99) + 1] / 1000 }'
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { local i=$1; shift; for x in "$@"; do echo "$x" | awk -v i="$i" '{ print $i }'; done | tr '\n' ' '; }

target() {
	case "$1" in
		get) echo 0.5 ;;
		post) echo 0.7 ;;
	esac
}

# cell OP CLIENTS
cell() {
	local op=$1 clients=$2 cpus api=() sql=() r
	if [ "$clients" = 1 ]; then cpus=1; else cpus=0,1; fi
	start_api "$clients" "$cpus"
	psql -c "VACUUM ANALYZE automation.workflows" -c CHECKPOINT >/dev/null
	for r in $(seq 1 "$RUNS"); do
		api+=("$(run_api "$op" "$clients" "$cpus")")
		sql+=("$(run_sql "$op" "$clients" "$cpus")")
	done
	if [ "$PROFILE" = 1 ] && [ "$clients" != 1 ]; then
		# automation-api and this cluster's server processes only: the
		# machine may be running other work
		local pm pids perf_pid
		pm=$(head -1 "$CLUSTER_DIR/data/postmaster.pid")
		pids=$(echo "$API_PID" $(ps -o pid= --ppid "$pm") | tr -s ' ' ',')
		perf record -F 999 -p "$pids" -o "$BENCH_TMP/perf.$op.data" -- sleep "$DURATION" >/dev/null 2>&1 &
		perf_pid=$!
		run_api "$op" "$clients" "$cpus" >/dev/null
		wait "$perf_pid" || true
		{ perf report -i "$BENCH_TMP/perf.$op.data" --sort comm,dso --stdio 2>/dev/null |
			grep -v '^#' | grep '%' | head -12 >"$BENCH_TMP/profile.$op"; } || true
		{ perf report -i "$BENCH_TMP/perf.$op.data" --sort comm,sym --stdio 2>/dev/null |
			grep -v '^#' | grep '%' | head -30 >"$BENCH_TMP/symbols.$op"; } || true
	fi
	stop_api
	local ratios=() i
	for i in "${!api[@]}"; do
		ratios+=("$(echo "${api[$i]} ${sql[$i]}" | awk '{ printf "%.3f", $1 / $4 }')")
	done
	printf '| %-4s | %d | %8.0f | %8.0f | **%.2f** | %s | %6.2f | %6.2f | %6.2f | %6.2f | %s |\n' \
		"$op" "$clients" \
		"$(col 1 "${api[@]}" | median)" "$(col 1 "${sql[@]}" | median)" \
		"$(echo "${ratios[*]}" | median)" "$(target "$op")" \
		"$(col 2 "${api[@]}" | median)" "$(col 3 "${api[@]}" | median)" \
		"$(col 2 "${sql[@]}" | median)" "$(col 3 "${sql[@]}" | median)" \
		"$(printf '%.2f ' "${ratios[@]}")"
}

echo "# automation-api benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $RUNS runs x ${DURATION}s per side and cell, API and SQL alternated"
echo "# $(psql -Atc 'SELECT version()')"
echo "# $(wrk --version 2>&1 | head -1)"
echo
echo '| op | conns | API req/s | SQL tps | API/SQL | target | API p50 ms | API p99 ms | SQL p50 ms | SQL p99 ms | ratio per run |'
echo '|---|---|---|---|---|---|---|---|---|---|---|'
for op in $OPS; do
	for clients in $CLIENTS; do
		cell "$op" "$clients"
	done
done
echo
echo "# workflows at the end: $(psql -Atc 'SELECT count(*) FROM automation.workflows')"

# where the time goes: the statements of one API request, as automation-api
# sends them (src/api/request.c, src/api/routes.c), each with its latency
breakdown() {	# breakdown OP
	local call
	if [ "$1" = get ]; then
		call='SELECT automation.get_workflow(:wf)::text;'
	else
		call=$(sed -n '/^SELECT automation.create_workflow(/,$p' "$BENCH_TMP/post.sql" |
			sed 's/));$/), NULL::uuid)::text;/')
		call="\\set n :n + 1
$call"
	fi
	cat >"$BENCH_TMP/seq.$1.sql" <<-EOF
	BEGIN;
	SELECT outcome, key_id, role, tenant_id, rate_limit, remaining, reset_seconds, retry_after FROM automation._api_authenticate(:key, :scope, NULL);
	SELECT pg_catalog.set_config('role', 'bench_app', true), pg_catalog.set_config('automation.tenant', '', true), pg_catalog.set_config('automation.request_id', :rid, true);
	$call
	COMMIT;
	EOF
	local scope=read:workflows
	[ "$1" = post ] && scope=write:workflows
	(cd "$BENCH_TMP" && PGUSER=bench_api taskset -c 1 pgbench -n -M extended -c 1 -j 1 -T "$DURATION" -r \
		-D wf="$WF" -D key="$KEY" -D scope="$scope" -D rid=01JE4Q3ZK8M5T6V7W8X9Y0Z1AB -D run="$RANDOM$RANDOM" -D n=0 \
		-f "seq.$1.sql" postgres >"seq.$1.out" 2>&1) || { cat "$BENCH_TMP/seq.$1.out" >&2; return 1; }
	echo "#   $1, per request: $(awk '/^latency average/ { print $4 " ms" }' "$BENCH_TMP/seq.$1.out") in the database (pgbench -r, the API's statements as its login role):"
	sed -n '/statement latencies/,$p' "$BENCH_TMP/seq.$1.out" | tail -n +2 |
		awk '{ ms = $1; $1 = ""; $2 = ""; sub(/^ +/, ""); printf "#     %7.3f ms  %s\n", ms, substr($0, 1, 90) }'
}
pin_server 1
start_api 1 1
wrk -t 1 -c 1 -d "${DURATION}s" --latency "http://127.0.0.1:$PORT/healthz" >"$BENCH_TMP/healthz.out" 2>&1
stop_api
echo
echo "# where the API's time goes, 1 connection, everything on CPU 1:"
echo "#   GET /healthz (HTTP, the server, a SELECT 1): $(awk '/^Requests\/sec:/ { printf "%.0f req/s", $2 }' "$BENCH_TMP/healthz.out"), p50 $(to_ms "$(awk '$1 == "50%" { print $2 }' "$BENCH_TMP/healthz.out")") ms"
for op in $OPS; do
	breakdown "$op"
done
if [ "$PROFILE" = 1 ]; then
	for f in "$BENCH_TMP"/profile.*; do
		[ -f "$f" ] || continue
		echo
		echo "# perf, API side at 8 connections, $(basename "$f" | cut -d. -f2): share of CPU by process and object"
		sed 's/^/#   /' "$f"
		echo "# ... and the hottest functions"
		sed 's/^/#   /' "${f/profile./symbols.}"
	done
fi
