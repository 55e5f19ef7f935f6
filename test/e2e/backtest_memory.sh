#!/usr/bin/env bash
# test/e2e/backtest_memory.sh: backtest's memory does not grow with the size
# of the rows it reads (doc/redteam-0.4.0.md, R7).  A row's jsonb is
# detoasted in backtest's per-row context, which was reset every 1024 rows
# only: 1024 rows of 2 MB documents took 2 GB in the backend, and the
# application writer chooses the documents.  Reads the backend's peak
# resident memory (VmHWM, /proc) before and after one backtest over 300
# rows of 1 MB each, after a scan that touches the same shared buffers.
#
# Runs against the cluster of PGHOST/PGPORT/PGUSER (automation preloaded,
# on this machine); creates and drops its own database.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib/expect.sh
DB=automation_bt_memory_$$
cleanup() { dropdb --if-exists "$DB" >/dev/null 2>&1; }
trap cleanup EXIT
createdb "$DB" || exit 1

q "$DB" "CREATE EXTENSION automation;
	CREATE TABLE docs (id int PRIMARY KEY, doc jsonb);
	ALTER TABLE docs ALTER COLUMN doc SET STORAGE EXTERNAL;
	INSERT INTO docs
	SELECT g, jsonb_build_object('k', g, 'pad', b.s)
	  FROM generate_series(1, 300) g,
		   (SELECT string_agg(md5(i::text || random()::text), '') AS s
			  FROM generate_series(1, 32768) i) b;
	SELECT automation.watch('doc', 'public.docs');
	SELECT automation.create_workflow('{\"name\": \"big\", \"condition_entity\": \"doc\",
		\"condition_field\": \"doc.doc.k\", \"condition_operator\": \"greater_than\",
		\"condition_value\": \"0\", \"action_type\": \"webhook\",
		\"action_config\": {\"url\": \"https://example.com/d\"}}');" >/dev/null ||
	{ echo "setup failed"; exit 1; }

out=$(psql -X -q -At -d "$DB" 2>&1 <<'EOF'
SELECT pg_backend_pid() AS pid \gset
\setenv BPID :pid
SELECT sum(length(doc ->> 'pad')) > 0 FROM docs;
\! grep -s VmHWM /proc/$BPID/status | tr -dc 0-9; echo
SELECT automation.backtest(id, 0) ->> 'matched' FROM automation.workflows WHERE name = 'big';
\! grep -s VmHWM /proc/$BPID/status | tr -dc 0-9; echo
EOF
)
before=$(echo "$out" | sed -n 2p)
matched=$(echo "$out" | sed -n 3p)
after=$(echo "$out" | sed -n 4p)
check "backtest read every row" 300 "$matched"
if [ -z "$before" ] || [ -z "$after" ]; then
	echo "ok - skipped: the server's /proc is not readable here"
else
	grew=$(( (after - before) / 1024 ))
	echo "# backend peak memory grew by $grew MB over 300 MB of documents"
	check "peak memory grows by less than 64 MB" yes "$([ "$grew" -lt 64 ] && echo yes || echo "no ($grew MB)")"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
