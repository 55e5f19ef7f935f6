#!/usr/bin/env bash
# test/e2e/wakeup_slots.sh: wake-up slots of dead, closed and many databases.
#
# Run by test/run-all.sh against its cluster (PGHOST, PGPORT, CLUSTER_DIR);
# reads the server log ($CLUSTER_DIR/server.log). Proves (issue 11 item 5):
#   A. a database that refuses connections (ALLOW_CONNECTIONS false) with a
#      pending wake-up starts no notifier (no FATAL line), and once it allows
#      connections again its wake-up is sent;
#   B. DROP DATABASE ... WITH (FORCE) while wake-ups are pending (a commit
#      during the notifier's coalescing wait) is not held up by the notifier
#      and leaves the log quiet: no FATAL line from one second after the drop
#      on (0.2.0: ~124 lines a second, forever); other databases are still
#      woken;
#   C. more than 64 databases (66), one after another, each get their
#      automation_jobs notification (0.2.0: none from the 65th on);
#   D. when all 64 slots are held at once (the same 66 databases, each with
#      a pending wake-up and ALLOW_CONNECTIONS false), the next commits
#      succeed, their jobs are in the table, one LOG line says so, and
#      dropping the databases that held the slots frees them.
# Every "no FATAL" check first makes sure the server log is still written.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
: "${CLUSTER_DIR:?run by test/run-all.sh (or after cluster_start)}"

cleanup() {
	psql -X -q -d postgres >/dev/null 2>&1 <<-'SQL' || true
		ALTER SYSTEM RESET automation.wakeup_interval;
		SELECT pg_reload_conf();
	SQL
	psql -X -At -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'wk\_%'" 2>/dev/null |
		while read -r db; do
			psql -X -q -d postgres -c "ALTER DATABASE \"$db\" IS_TEMPLATE false" >/dev/null 2>&1 || true
			dropdb --force --if-exists "$db" >/dev/null 2>&1 || true
		done
}
trap cleanup EXIT
cleanup

SERVER_LOG="$CLUSTER_DIR/server.log" /usr/bin/python3 - <<'PY'
import os
import re
import select
import sys
import time

import psycopg2

LOG = os.environ["SERVER_LOG"]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"FAILED - {name} {detail}")


def connect(db):
    c = psycopg2.connect(dbname=db)
    c.autocommit = True
    return c


def log_offset():
    return os.path.getsize(LOG)


def log_lines(since, pattern):
    with open(LOG, "rb") as f:
        f.seek(since)
        text = f.read().decode("utf-8", "replace")
    return [l for l in text.splitlines() if re.search(pattern, l)]


def mark_log(name):
    """The server log is the one this test reads (a restart without -l
    would send it elsewhere and make every "no FATAL" check vacuous)."""
    marker = f"wakeup_slots marker {name} {time.time()}"
    c = connect("postgres")
    c.cursor().execute("DO $$BEGIN RAISE LOG '%s'; END$$" % marker)
    c.close()
    time.sleep(0.1)
    with open(LOG, "rb") as f:
        if marker.encode() not in f.read():
            print(f"FAILED - the server log {LOG} is not being written")
            sys.exit(1)


def notifications(listener, seconds, want=1):
    """automation_jobs payloads received within `seconds` (stop at `want`)."""
    got = []
    deadline = time.time() + seconds
    while len(got) < want:
        left = deadline - time.time()
        if left <= 0:
            break
        if select.select([listener], [], [], left)[0]:
            listener.poll()
            while listener.notifies:
                n = listener.notifies.pop(0)
                if n.channel == "automation_jobs":
                    got.append(n.payload)
    return got


admin = connect("postgres")
a = admin.cursor()

# a template with the extension, a watched table and a webhook workflow
a.execute("CREATE DATABASE wk_tpl")
with connect("wk_tpl") as t:
    t.cursor().execute("""
        CREATE EXTENSION automation;
        CREATE TABLE deals (id int PRIMARY KEY, status text);
        INSERT INTO deals SELECT g, 'open' FROM generate_series(1, 10) g;
        INSERT INTO automation.entities (name, relation, key_column)
            VALUES ('deal', 'deals', 'id');
        CREATE TRIGGER automation_row_trigger AFTER INSERT OR UPDATE OR DELETE ON deals
            FOR EACH ROW EXECUTE FUNCTION automation._row_trigger();
        INSERT INTO automation.workflows (name, condition_entity, condition_field,
            condition_operator, condition_value, action_type, action_config,
            max_triggers_per_day)
        VALUES ('won', 'deal', 'status', 'changed_to', 'won', 'webhook',
                '{"url": "https://hooks.example.com/won"}', 1000000)""")
t.close()


def create(db):
    a.execute(f"CREATE DATABASE {db} TEMPLATE wk_tpl STRATEGY FILE_COPY")


def drop(db):
    a.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def woken(db, deal, seconds=3.0):
    """Commit one job in `db`; is a LISTENer there woken?"""
    listener = connect(db)
    listener.cursor().execute("LISTEN automation_jobs")
    app = connect(db)
    app.cursor().execute("UPDATE deals SET status = 'won' WHERE id = %s", (deal,))
    got = notifications(listener, seconds)
    app.close()
    listener.close()
    return got == ["webhook"]


create("wk_other")
check("setup: another database is woken", woken("wk_other", 1))

# A. a database that refuses connections: no notifier, no FATAL, no loop
create("wk_closed")
listener = connect("wk_closed")
listener.cursor().execute("LISTEN automation_jobs")
app = connect("wk_closed")
a.execute("ALTER DATABASE wk_closed ALLOW_CONNECTIONS false")
start = log_offset()
app.cursor().execute("UPDATE deals SET status = 'won' WHERE id = 1")
got = notifications(listener, 2.0)
mark_log("A")
fatal = log_lines(start, r"FATAL")
check("closed: no FATAL while it refuses connections", fatal == [],
      f"{len(fatal)} lines, first: {fatal[:1]}")
check("closed: no notification while it refuses connections", got == [], str(got))
cur = app.cursor()
cur.execute("SELECT count(*) FROM automation.jobs")
check("closed: the job is in the table", cur.fetchone()[0] == 1)
check("closed: another database is still woken", woken("wk_other", 2))
a.execute("ALTER DATABASE wk_closed ALLOW_CONNECTIONS true")
got = notifications(listener, 3.0)
check("closed: woken once it allows connections again", got == ["webhook"], str(got))
app.close()
listener.close()

# B. DROP DATABASE ... WITH (FORCE) while a wake-up is pending
a.execute("ALTER SYSTEM SET automation.wakeup_interval = 4000")
a.execute("SELECT pg_reload_conf()")
time.sleep(0.3)
create("wk_dropped")
listener = connect("wk_dropped")
listener.cursor().execute("LISTEN automation_jobs")
app = connect("wk_dropped")
app.cursor().execute("UPDATE deals SET status = 'won' WHERE id = 1")
got = notifications(listener, 2.0)
check("drop: first commit woken", got == ["webhook"], str(got))
# the notifier now waits out its 4 s interval; this wake-up stays pending
app.cursor().execute("UPDATE deals SET status = 'won' WHERE id = 2")
start = log_offset()
t0 = time.time()
drop("wk_dropped")
took = time.time() - t0
check("drop: DROP DATABASE WITH (FORCE) not held up by the notifier", took < 2.0,
      f"took {took:.1f} s")
a.execute("ALTER SYSTEM RESET automation.wakeup_interval")
a.execute("SELECT pg_reload_conf()")
time.sleep(1.0)
quiet = log_offset()
time.sleep(3.0)
mark_log("B")
fatal_after = log_lines(quiet, r"FATAL")
fatal_all = log_lines(start, r"FATAL")
check("drop: no FATAL line from 1 s to 4 s after the drop", fatal_after == [],
      f"{len(fatal_after)} lines, first: {fatal_after[:1]}")
check("drop: at most 3 FATAL lines in all (the terminated sessions)",
      len(fatal_all) <= 3, f"{len(fatal_all)}: {fatal_all[:5]}")
check("drop: another database is still woken", woken("wk_other", 3))

# C. more than 64 databases over time, one after another; each keeps no
# slot once its notifier is gone (terminated here rather than waiting out
# its idle second, to keep the test short; a dropped database's goes too)
N = 66
t0 = time.time()
missed = []
for i in range(1, N + 1):
    db = f"wk_seq_{i}"
    create(db)
    if not woken(db, 1):
        missed.append(i)
    a.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
              "WHERE backend_type = 'automation notifier' AND datname = %s", (db,))
check(f"sequence: {N} databases one after another are each woken", missed == [],
      f"missed {len(missed)}: {missed[:10]}")
print(f"# sequence took {time.time() - t0:.1f} s")

# D. all 64 slots held at once: a database that refuses connections keeps
# its pending wake-up (and its slot) until it allows connections or is dropped
time.sleep(1.2)                 # wk_other's and wk_closed's notifiers exit
start = log_offset()
t0 = time.time()
errors = []
for i in range(1, N + 1):
    db = f"wk_seq_{i}"
    app = connect(db)
    a.execute(f"ALTER DATABASE {db} ALLOW_CONNECTIONS false")
    cur = app.cursor()
    try:
        cur.execute("UPDATE deals SET status = 'won' WHERE id = 2")
        cur.execute("SELECT count(*) FROM automation.jobs")
        jobs = cur.fetchone()[0]
        if jobs != 2:
            errors.append(f"{db}: {jobs} jobs")
    except psycopg2.Error as e:
        errors.append(str(e))
    app.close()
print(f"# holding the slots took {time.time() - t0:.1f} s")
check("full: every commit succeeded and enqueued its job", errors == [], str(errors[:3]))
time.sleep(1.5)
mark_log("D")
full = log_lines(start, r"wake-up slots")
check("full: one LOG line says the slots are full", len(full) == 1, str(full))
check("full: it says how many commits found no slot",
      len(full) == 1 and re.search(r"all 64 wake-up slots are in use; [12] commits", full[0]),
      str(full))
check("full: no FATAL line", log_lines(start, r"FATAL") == [])
t0 = time.time()
for i in range(1, N + 1):
    drop(f"wk_seq_{i}")
print(f"# dropping took {time.time() - t0:.1f} s")
time.sleep(1.5)
check("full: slots of dropped databases are freed", woken("wk_other", 4))
create("wk_after")
check("full: a new database is woken after the drops", woken("wk_after", 1))

admin.close()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
