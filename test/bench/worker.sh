#!/usr/bin/env bash
# test/bench/worker.sh: automation-worker throughput and latency (not part of
# test/run-all.sh).
#
# Starts a throwaway cluster (test/lib/cluster.sh) and a local nginx
# (non-daemon, temp config, free port, `return 200`), then measures:
#   1. throughput: N webhook jobs already queued, drained by
#      `automation-worker --once` at --concurrency 1 and 4 (jobs/s);
#      (--timeout 1: the local endpoint answers at once; a claim holds at most
#      what can start within the lease, doc/worker.md "Leases and the backlog")
#   2. latency: a workflow with a webhook action fires on INSERTs paced by
#      pgbench (RATE/s for SECS s) while a worker runs; commit-to-receipt =
#      nginx's $msec at the request minus jobs.created_at (the inserting
#      transaction's start, so the figure slightly overstates it).
# Usage: test/bench/worker.sh [N=20000] [RATE=500] [SECS=10]
# Needs `make install` done (worker and extension) and nginx-light.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-20000}
RATE=${2:-500}
SECS=${3:-10}
. test/lib/cluster.sh
cluster_start >/dev/null
WORKER=$($PGBIN/pg_config --bindir)/automation-worker
T=$(mktemp -d /tmp/worker-bench.XXXXXX)
chmod 755 "$T"
NGINX_PORT=$(free_port)
mkdir -p "$T/tmp"
cat >"$T/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx-error.log;
events { worker_connections 4096; }
http {
	log_format lat '\$msec \$request_uri \$status';
	access_log $T/access.log lat buffer=256k flush=100ms;
	client_body_temp_path $T/tmp/body;
	proxy_temp_path $T/tmp/proxy;
	fastcgi_temp_path $T/tmp/fastcgi;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		location / { return 200 "ok\n"; }
	}
}
CONF
nginx -c "$T/nginx.conf" -e "$T/nginx-error.log" &
NGINX_PID=$!
trap 'kill $NGINX_PID 2>/dev/null; [ -n "${WPID:-}" ] && kill $WPID 2>/dev/null; rm -rf "$T"; cluster_stop' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$NGINX_PORT/" >/dev/null && break; sleep 0.1; done
sql() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
sql -c 'CREATE EXTENSION automation'
URL="http://127.0.0.1:$NGINX_PORT"

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "cluster: fsync=off (test cluster settings); worker batch 200"
for C in 1 4; do
	sql -c "TRUNCATE automation.jobs" -c "INSERT INTO automation.jobs (source, action_type, entity, record_key, payload, run_as)
		SELECT 'workflow', 'webhook', 'deal', g::text,
		       jsonb_build_object('event', jsonb_build_object('operation', 'UPDATE', 'entity', 'deal', 'record_key', g::text),
		                          'config', jsonb_build_object('url', '$URL/t/' || g), 'new', jsonb_build_object('id', g, 'name', 'deal ' || g), 'old', NULL),
		       'postgres'
		  FROM generate_series(1, $N) g" -c "VACUUM ANALYZE automation.jobs"
	start=$(date +%s.%N)
	"$WORKER" --once --concurrency $C --batch 200 --timeout 1 --allow-host 127.0.0.1 2>"$T/worker-$C.log"
	end=$(date +%s.%N)
	done_count=$(sql -c "SELECT count(*) FROM automation.jobs WHERE status = 'succeeded'")
	python3 -c "import sys; n, d, s, e = map(float, sys.argv[1:5]); print(f'throughput concurrency {int(sys.argv[5])}: {int(d)}/{int(n)} delivered in {e - s:.2f} s = {d / (e - s):.0f} jobs/s')" "$N" "$done_count" "$start" "$end" "$C"
done

# latency through the real path: trigger -> job -> wake-up -> worker -> nginx
sql >/dev/null <<SQL
CREATE TABLE deals (id bigserial PRIMARY KEY, name text, amount numeric);
SELECT automation.watch('deal', 'deals');
SELECT automation.create_workflow(jsonb_build_object(
	'name', 'bench webhook', 'condition_entity', 'deal', 'condition_field', 'amount',
	'condition_operator', 'greater_than', 'condition_value', '0',
	'action_type', 'webhook', 'action_config', jsonb_build_object('url', '$URL/l/{{deal.id}}'),
	'max_triggers_per_day', 100000000)) IS NOT NULL;
SQL
sql -c "TRUNCATE automation.jobs"
: >"$T/access.log.mark"
"$WORKER" --concurrency 4 --batch 200 --timeout 1 --allow-host 127.0.0.1 --poll 5 2>"$T/worker-lat.log" &
WPID=$!
sleep 0.5
echo "INSERT INTO deals (name, amount) VALUES ('d', 10);" >"$T/insert.sql"
$PGBIN/pgbench -n -c 4 -j 2 -R "$RATE" -T "$SECS" -f "$T/insert.sql" postgres >"$T/pgbench.log" 2>&1 || { cat "$T/pgbench.log"; exit 1; }
total=$(sql -c "SELECT count(*) FROM deals")
for _ in $(seq 100); do
	[ "$(sql -c "SELECT count(*) FROM automation.jobs WHERE status = 'succeeded'")" = "$total" ] && break
	sleep 0.1
done
kill -TERM $WPID; wait $WPID || true; WPID=
sleep 0.3	# access log flush
sql -c "SELECT record_key || ' ' || extract(epoch FROM created_at) FROM automation.jobs" >"$T/created.txt"
python3 - "$T/created.txt" "$T/access.log" "$total" "$RATE" "$SECS" <<'PY'
import sys
created = dict(l.split() for l in open(sys.argv[1]) if l.strip())
lat = []
for line in open(sys.argv[2]):
    msec, uri, status = line.split()
    if uri.startswith("/l/") and status == "200":
        key = uri[3:]
        if key in created:
            lat.append((float(msec) - float(created[key])) * 1000)
lat.sort()
def pct(p): return lat[min(len(lat) - 1, int(p / 100 * len(lat)))]
print(f"latency at {sys.argv[4]} commits/s for {sys.argv[5]} s: {len(lat)}/{sys.argv[3]} delivered; "
      f"commit-to-receipt p50 {pct(50):.1f} ms, p99 {pct(99):.1f} ms, max {lat[-1]:.1f} ms")
PY
