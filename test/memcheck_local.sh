#!/usr/bin/env bash
# test/memcheck.sh: the regression and isolation suites with the server
# under Valgrind memcheck.  A separate, long command (about an hour on two
# cores); not part of test/run-all.sh.  See doc/memory_safety.md.
#
#   test/memcheck.sh                  build, install, run every suite
#   REGRESS="hostile rules" ISOLATION= test/memcheck.sh
#                                     only these (names as in the Makefile)
#   VALGRIND_OPTS="--track-origins=no" extra valgrind options
#   KEEP=1                            keep the cluster directory and logs
#
# The server is an ordinary throwaway cluster (as postgres, temp dir, free
# port, automation preloaded) whose postmaster runs under
#   valgrind --tool=memcheck --trace-children=yes --leak-check=no
#            --suppressions=test/valgrind.supp --error-exitcode=0 ...
# Every forked backend and background worker inherits the instrumentation;
# each process logs to its own file.  Afterwards the script reads the logs:
# an error whose stack passes through automation.so fails the run; other
# errors (an uninstrumented Debian server has a few) are only counted.  The
# suites themselves must pass too.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
. test/lib/deps.sh
. test/lib/cluster.sh

: # deps present
: # installed into the private copy

dir=$(mktemp -d /tmp/automation-memcheck.XXXXXX)
chmod 755 "$dir"
mkdir -p "$dir/vg" "$dir/out"
chown -R postgres: "$dir" 2>/dev/null || sudo chown -R postgres: "$dir"
port=$(free_port)

stop() {
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -w -t 300 -m fast stop >/dev/null 2>&1 ||
			as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -w -t 60 -m immediate stop >/dev/null 2>&1
	fi
	if [ "${KEEP:-}" = 1 ]; then
		echo "kept: $dir (valgrind logs in $dir/vg, server log $dir/server.log)"
	else
		rm -rf "$dir"
	fi
}
trap stop EXIT

as_postgres "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log"; exit 1; }
{
	echo "port = $port"
	echo "listen_addresses = '127.0.0.1'"
	echo "unix_socket_directories = '$dir'"
	echo "shared_preload_libraries = 'automation'"
	echo "fsync = off"
	echo "max_connections = 30"
	echo "max_prepared_transactions = 10"
	echo "log_min_messages = warning"
	echo "log_line_prefix = '%m [%p] '"
	# Valgrind makes everything 20-50 times slower.
	echo "autovacuum = off"
	echo "checkpoint_timeout = 1h"
	echo "deadlock_timeout = 5s"
} | as_postgres tee -a "$dir/data/postgresql.conf" >/dev/null

cp test/valgrind.supp "$dir/valgrind.supp"
chmod 644 "$dir/valgrind.supp"
# shellcheck disable=SC2086
as_postgres bash -c "exec valgrind --tool=memcheck --trace-children=yes --leak-check=no \
	--error-exitcode=0 --error-limit=no --num-callers=40 --track-origins=yes \
	--read-var-info=no --suppressions='$dir/valgrind.supp' --gen-suppressions=all \
	--log-file='$dir/vg/%p.log' ${VALGRIND_OPTS:-} \
	'$PGBIN/postgres' -D '$dir/data' >'$dir/server.log' 2>&1" &

export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
# sql/hostile.sql limits itself to 10 minutes unless the session has a limit.
export PGOPTIONS="-c statement_timeout=4h"
started=
for _ in $(seq 1 300); do
	if "$PGBIN/pg_isready" -q; then started=1; break; fi
	sleep 1
done
[ -n "$started" ] || { echo "server did not start under valgrind"; cat "$dir/server.log"; exit 1; }
echo "server under valgrind on port $port; logs in $dir/vg"

suites_rc=0
start=$(date +%s)
# Two runs, so a failing regression test does not skip the isolation specs.
make -s installcheck PG_CONFIG=$PGBIN/pg_config ISOLATION= \
	${REGRESS+REGRESS="$REGRESS"} \
	REGRESS_OPTS="--inputdir=. --outputdir=$dir/out/regress" || suites_rc=1
make -s installcheck PG_CONFIG=$PGBIN/pg_config REGRESS= \
	${ISOLATION+ISOLATION="$ISOLATION"} \
	ISOLATION_OPTS="--inputdir=. --outputdir=$dir/out/isolation" || suites_rc=1
echo "suites took $(( $(date +%s) - start ))s"
if [ $suites_rc -ne 0 ]; then
	for f in "$dir"/out/*/regression.diffs; do
		[ -s "$f" ] && { echo "----- $f"; head -200 "$f"; }
	done
fi

# Stop the server so every process writes its final error summary.
as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -w -t 300 -m fast stop >/dev/null 2>&1
wait

crashes=$(grep -c 'terminated by signal\|was terminated by exception' "$dir/server.log" || true)

# One valgrind error block: from "==pid== <kind>" to the blank "==pid==" line.
# Report the blocks whose stack mentions automation.so.
python3 - "$dir/vg" >"$dir/report.txt" <<'EOF'
import os, re, sys
logdir = sys.argv[1]
ours, others = [], 0
for name in sorted(os.listdir(logdir)):
    block = []
    for line in open(os.path.join(logdir, name), errors="replace"):
        text = re.sub(r"^==\d+== ?", "", line.rstrip("\n"))
        if line.startswith("{") or text.startswith("{"):
            block = []          # start of a generated suppression: skip it
            continue
        if text == "" or line.startswith("}"):
            if block and any(s in " ".join(block) for s in ("at 0x", "by 0x")):
                if any("automation.so" in l for l in block):
                    ours.append((name, block))
                else:
                    others += 1
            block = []
            continue
        if re.match(r"^(Invalid|Conditional|Use of uninit|Syscall param|Source and dest|Mismatched|Argument|Invalid free|.* bytes in .* blocks)", text) or block:
            block.append(text)
print(f"errors attributed to automation.so: {len(ours)}")
print(f"other errors (uninstrumented server noise): {others}")
for name, block in ours:
    print(f"----- {name}")
    print("\n".join(block))
EOF
cat "$dir/report.txt"
ours=$(sed -n 's/^errors attributed to automation.so: //p' "$dir/report.txt")
echo "crashes in the server log: $crashes"

if [ "$suites_rc" -ne 0 ] || [ "${ours:-1}" != 0 ] || [ "$crashes" != 0 ]; then
	echo "memcheck: FAILED"
	KEEP=1
	exit 1
fi
echo "memcheck: ok"
