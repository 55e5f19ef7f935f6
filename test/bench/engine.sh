#!/bin/bash
# test/bench/engine.sh: throughput of a watched table relative to an identical
# unwatched twin, with pgbench.  Not a timed test; results go in
# doc/benchmark.md.
#
# Usage: test/bench/engine.sh [--quick] [--runs N] [--duration SECONDS]
#                             [--counts "0 10 100 1000"] [--clients "1 4"]
#                             [--workloads "nomatch match bulk"] [--no-fsync-run]
#                             [--mix basic|full]
#
# Starts a throwaway cluster (test/lib/cluster.sh, fsync = off), loads
# test/bench/setup.sql (bench.deals watched as "deal", bench.deals_twin without
# trigger, 100,000 rows each), then for each number of definitions, workload
# and client count runs pgbench RUNS times, each run with the watched and the
# twin script at equal weight (interleaved transaction by transaction, so both
# see the same machine at the same moments; other work on the machine cancels
# out).  From pgbench's per-transaction log it takes each table's mean latency
# (without each client's first transaction, which loads the compiled
# definitions) and prints the throughput it stands for (clients / mean
# latency), the median of the runs' ratios (watched / twin) and the ratios.
# 1-client cells run with pgbench and every server process pinned to CPU 1;
# 4-client cells use both CPUs.  The matching workload runs with a session
# LISTENing on automation_jobs and deleting jobs and firings every second.
# Finally the matching workload runs once more with fsync = on and
# synchronous_commit = on.  --mix selects the definitions (setup.sql):
# basic (default), the mix of 0.1.0-0.3.0, runs on every version; full adds
# 0.4.0's rules language (condition groups, fire_when becomes_true, relative
# dates).  test/bench/ab.sh alternates builds and mixes.
#
# Needs: root (or sudo) as for test/lib/cluster.sh, pgbench, taskset, and
# automation installed (make install).
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=5
DURATION=4
COUNTS="0 10 100 1000"
CLIENTS="1 4"
WORKLOADS="nomatch match bulk"
FSYNC_RUN=1
MIX=basic
while [ $# -gt 0 ]; do
	case "$1" in
		--quick) RUNS=3; DURATION=2; COUNTS="0 100 1000" ;;
		--runs) RUNS=$2; shift ;;
		--duration) DURATION=$2; shift ;;
		--counts) COUNTS=$2; shift ;;
		--clients) CLIENTS=$2; shift ;;
		--workloads) WORKLOADS=$2; shift ;;
		--no-fsync-run) FSYNC_RUN=0 ;;
		--mix) MIX=$2; shift ;;
		-h|--help) sed -n '2,28p' "$0"; exit 0 ;;
		*) echo "unknown option: $1" >&2; exit 2 ;;
	esac
	shift
done

. test/lib/cluster.sh
BENCH_TMP=$(mktemp -d /tmp/automation-bench.XXXXXX)
DRAINER_PID=
cleanup() {
	stop_drainer
	cluster_stop
	rm -rf "$BENCH_TMP"
}
cluster_start "fsync = off" "shared_buffers = 256MB" "max_wal_size = 8GB" \
	"checkpoint_timeout = 30min" "autovacuum_naptime = 10s"
trap cleanup EXIT

psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# pin_server CPUS: the postmaster and every server process (new backends
# inherit it from the postmaster)
pin_server() {
	local pm
	pm=$(head -1 "$CLUSTER_DIR/data/postmaster.pid")
	for p in $pm $(ps -o pid= --ppid "$pm"); do
		taskset -a -p -c "$1" "$p" >/dev/null 2>&1 || true
	done
}

start_drainer() {
	command psql -X -q >/dev/null 2>&1 <<-'EOF' &
	SET application_name = 'bench_drainer';
	LISTEN automation_jobs;
	WITH j AS (DELETE FROM automation.jobs RETURNING 1), f AS (DELETE FROM automation.firings RETURNING 1) SELECT (SELECT count(*) FROM j), (SELECT count(*) FROM f)
	\watch 1
	EOF
	DRAINER_PID=$!
	sleep 0.5
}

stop_drainer() {
	if [ -n "$DRAINER_PID" ]; then
		kill "$DRAINER_PID" 2>/dev/null || true
		wait "$DRAINER_PID" 2>/dev/null || true
		DRAINER_PID=
	fi
}

# keep the drainer's backend off the measured CPU
move_drainer() {
	local pid
	pid=$(psql -Atc "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench_drainer'")
	[ -n "$pid" ] && taskset -p -c "$1" "$pid" >/dev/null 2>&1 || true
}

# run_pair WORKLOAD CLIENTS -> "watched_us twin_us": one pgbench run with the
# watched and the twin script at equal weight, so both see the same machine at
# the same moments; mean latency of each from the per-transaction log, without
# each client's first transaction (which loads the compiled definitions).
run_pair() {
	local w="$BENCH_TMP/$1.watched.sql" t="$BENCH_TMP/$1.twin.sql" pin=()
	sed "s/@TABLE@/bench.deals/g" "test/bench/$1.sql" >"$w"
	sed "s/@TABLE@/bench.deals_twin/g" "test/bench/$1.sql" >"$t"
	rm -f "$BENCH_TMP"/log.*
	[ "$2" = 1 ] && pin=(taskset -c 1)
	(cd "$BENCH_TMP" && "${pin[@]}" pgbench -n -M prepared -c "$2" -j "$2" -T "$DURATION" \
		-l --log-prefix=log -f "$w@1" -f "$t@1" >pgbench.out 2>&1) ||
		{ cat "$BENCH_TMP/pgbench.out" >&2; return 1; }
	cat "$BENCH_TMP"/log.* | awk '$2 > 0 { n[$4]++; s[$4] += $3 }
		END { printf "%.1f %.1f\n", s[0] / n[0], s[1] / n[1] }'
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

target() {
	case "$1/$2" in
		nomatch/100) echo 0.90 ;;
		nomatch/1000) echo 0.85 ;;
		bulk/100) echo 0.70 ;;
		*) echo - ;;
	esac
}

prepare_cell() {
	psql -c "VACUUM bench.deals" -c "VACUUM bench.deals_twin" \
		-c "DELETE FROM automation.jobs" -c "DELETE FROM automation.firings" \
		-c "VACUUM automation.jobs" -c "VACUUM automation.firings" -c "CHECKPOINT"
}

# cell WORKLOAD CLIENTS COUNT [LABEL]
cell() {
	local workload=$1 clients=$2 count=$3 label=${4:-} watched=() twin=() w t
	prepare_cell
	if [ "$clients" = 1 ]; then pin_server 1; else pin_server 0,1; fi
	if [ "$workload" = match ]; then
		start_drainer
		[ "$clients" = 1 ] && move_drainer 0
	fi
	for r in $(seq 1 "$RUNS"); do
		read -r w t < <(run_pair "$workload" "$clients")
		# throughput equivalent of the mean latency
		watched+=("$(echo "$w" | awk -v c="$clients" '{ printf "%.1f", c * 1e6 / $1 }')")
		twin+=("$(echo "$t" | awk -v c="$clients" '{ printf "%.1f", c * 1e6 / $1 }')")
	done
	stop_drainer
	local ratios=()
	for i in "${!watched[@]}"; do
		ratios+=("$(echo "${watched[$i]} ${twin[$i]}" | awk '{ printf "%.3f", $1 / $2 }')")
	done
	w=$(echo "${watched[*]}" | median)
	t=$(echo "${twin[*]}" | median)
	printf '| %-7s%s | %d | %4d | %9.0f | %9.0f | **%.2f** | %s | %s |\n' \
		"$workload" "$label" "$clients" "$count" "$w" "$t" \
		"$(echo "${ratios[*]}" | median)" "$(target "$workload" "$count")" \
		"$(printf '%.2f ' "${ratios[@]}")"
}

psql -f test/bench/setup.sql >/dev/null
echo "# automation engine benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $RUNS runs x ${DURATION}s per cell, watched and twin interleaved in each run"
echo "# $(psql -Atc 'SELECT version()'), automation $(psql -Atc "SELECT extversion FROM pg_extension WHERE extname = 'automation'"), mix $MIX"
echo
echo '| workload | clients | definitions | watched tps | twin tps | ratio | target | ratio per run |'
echo '|---|---|---|---|---|---|---|---|'
for count in $COUNTS; do
	if [ "$MIX" = basic ]; then
		psql -Atc "SELECT bench.add_definitions($count)" >/dev/null
	else
		psql -Atc "SELECT bench.add_definitions($count, '$MIX')" >/dev/null
	fi
	for workload in $WORKLOADS; do
		for clients in $CLIENTS; do
			cell "$workload" "$clients" "$count"
		done
	done
done

if [ "$FSYNC_RUN" = 1 ]; then
	pin_server 0,1
	echo "fsync = on" | as_postgres tee -a "$CLUSTER_DIR/data/postgresql.conf" >/dev/null
	echo "synchronous_commit = on" | as_postgres tee -a "$CLUSTER_DIR/data/postgresql.conf" >/dev/null
	cluster_restart
	psql -Atc "SHOW fsync" -Atc "SHOW synchronous_commit" | tr '\n' ' ' | grep -q "^on on" ||
		{ echo "fsync/synchronous_commit not on" >&2; exit 1; }
	for clients in $CLIENTS; do
		cell match "$clients" "$(psql -Atc 'SELECT (SELECT count(*) FROM automation.workflows) + (SELECT count(*) FROM automation.rules)')" " (fsync on)"
	done
fi
echo
echo "# mix of definitions at the largest count:"
psql -Atc "SELECT format('#   %s: %s  x%s', kind, conditions, n) FROM bench.mix"
