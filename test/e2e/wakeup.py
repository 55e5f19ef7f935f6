"""End-to-end checks of the wake-up background worker (see wakeup.sh)."""
import os
import select
import subprocess
import sys
import time

import psycopg2

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"FAILED - {name} {detail}")


def connect():
    for _ in range(100):
        try:
            c = psycopg2.connect("")
            c.autocommit = True
            return c
        except psycopg2.OperationalError:
            time.sleep(0.2)
    raise RuntimeError("server did not come back")


def drain(listener, seconds):
    """Notifications received within `seconds`, as (time, payload, pid)."""
    got = []
    deadline = time.time() + seconds
    while True:
        left = deadline - time.time()
        if left <= 0:
            break
        if select.select([listener], [], [], left)[0]:
            listener.poll()
            while listener.notifies:
                n = listener.notifies.pop(0)
                if n.channel == "automation_jobs":
                    got.append((time.time(), n.payload, n.pid))
    return got


admin = connect()
cur = admin.cursor()
cur.execute("""
    CREATE EXTENSION automation;
    CREATE TABLE deals (id int PRIMARY KEY, status text);
    INSERT INTO deals SELECT g, 'open' FROM generate_series(1, 1000) g;
    INSERT INTO automation.entities (name, relation, key_column) VALUES ('deal', 'deals', 'id');
    CREATE TRIGGER automation_row_trigger AFTER INSERT OR UPDATE OR DELETE ON deals
        FOR EACH ROW EXECUTE FUNCTION automation._row_trigger();
    INSERT INTO automation.workflows (name, condition_entity, condition_field,
        condition_operator, condition_value, action_type, action_config, max_triggers_per_day)
    VALUES ('won', 'deal', 'status', 'changed_to', 'won', 'webhook',
            '{"url": "https://hooks.example.com/won"}', 1000000),
           ('lost', 'deal', 'status', 'changed_to', 'lost', 'update_field',
            '{"field": "status", "value": "archived"}', 1000000);
""")

listener = connect()
listener.cursor().execute("LISTEN automation_jobs")
app = connect()
app_cur = app.cursor()
app_cur.execute("SELECT pg_backend_pid()")
app_pid = app_cur.fetchone()[0]

# 1. a burst of 300 committed transactions, each enqueuing one job
for i in range(1, 301):
    app_cur.execute("UPDATE deals SET status = 'won' WHERE id = %s", (i,))
last_commit = time.time()
got = drain(listener, 1.5)
check("burst: woken after the last commit",
      any(t >= last_commit for t, _, _ in got), f"got {len(got)}")
check("burst: coalesced (fewer notifications than commits)",
      0 < len(got) < 300, f"got {len(got)}")
check("burst: payload is the action type", {p for _, p, _ in got} == {"webhook"})
check("burst: no notification comes from the committing session",
      all(pid != app_pid for _, _, pid in got))

# 2. one transaction, two action types: one notification per type
app_cur.execute("BEGIN")
app_cur.execute("UPDATE deals SET status = 'won' WHERE id BETWEEN 301 AND 310")
app_cur.execute("UPDATE deals SET status = 'lost' WHERE id = 311")
app_cur.execute("COMMIT")
got = drain(listener, 1.0)
check("two types: one notification each",
      sorted(p for _, p, _ in got) == ["update_field", "webhook"], str(got))

# 3. a rollback wakes nobody
app_cur.execute("BEGIN")
app_cur.execute("UPDATE deals SET status = 'won' WHERE id BETWEEN 312 AND 320")
app_cur.execute("ROLLBACK")
got = drain(listener, 1.0)
check("rollback: no notification", got == [], str(got))

# 4. after an idle period the notifier has exited; a commit is still woken
time.sleep(2.0)
app_cur.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'automation notifier'")
check("idle: notifier exited", app_cur.fetchone()[0] == 0)
app_cur.execute("UPDATE deals SET status = 'won' WHERE id = 321")
got = drain(listener, 1.5)
check("idle: woken", [p for _, p, _ in got] == ["webhook"], str(got))

# 5. SIGKILL the notifier: the postmaster restarts everything; wake-ups resume
app_cur.execute("UPDATE deals SET status = 'won' WHERE id = 322")
pid = None
for _ in range(50):
    app_cur.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'automation notifier'")
    row = app_cur.fetchone()
    if row:
        pid = row[0]
        break
    time.sleep(0.02)
check("kill: found the notifier", pid is not None)
if pid:
    os.kill(pid, 9)
    time.sleep(1.0)
listener = connect()
listener.cursor().execute("LISTEN automation_jobs")
app = connect()
app_cur = app.cursor()
app_cur.execute("UPDATE deals SET status = 'won' WHERE id = 323")
got = drain(listener, 3.0)
check("kill: wake-ups resume after the crash restart",
      [p for _, p, _ in got] == ["webhook"], str(got))
app_cur.execute("SELECT count(*) FROM automation.jobs WHERE record_key IN ('322', '323')")
check("kill: committed jobs survived", app_cur.fetchone()[0] == 2)

# 6. a server restart rebuilds the breaker counts from automation.firings
app_cur.execute("""
    INSERT INTO automation.workflows (name, condition_entity, condition_field,
        condition_operator, condition_value, action_type, action_config, max_triggers_per_day)
    VALUES ('hot', 'deal', 'status', 'changed_to', 'hot', 'webhook',
            '{"url": "https://hooks.example.com/hot"}', 3)""")
app_cur.execute("UPDATE deals SET status = 'hot' WHERE id IN (401, 402)")
subprocess.run(["runuser", "-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl",
                "-D", os.environ["CLUSTER_DIR"] + "/data",
                "-l", os.environ["CLUSTER_DIR"] + "/server.log",  # later tests read it
                "-m", "fast", "-w", "restart"],
               check=True, stdout=subprocess.DEVNULL)
app = connect()
app_cur = app.cursor()
app_cur.execute("SELECT triggers_today, remaining, tripped FROM automation.circuit_breakers "
                "WHERE name = 'hot'")
check("restart: counts read back from firings", app_cur.fetchone() == (2, 1, False))
app_cur.execute("UPDATE deals SET status = 'hot' WHERE id IN (403, 404)")
app_cur.execute("SELECT outcome, count(*) FROM automation.firings f JOIN automation.workflows w "
                "ON w.id = f.workflow_id WHERE w.name = 'hot' GROUP BY 1 ORDER BY 1")
check("restart: exactly 3 fire, the 4th trips",
      app_cur.fetchall() == [("circuit_breaker", 1), ("fired", 3)])
app_cur.execute("SELECT enabled, disabled_reason FROM automation.workflows WHERE name = 'hot'")
check("restart: tripped workflow disabled", app_cur.fetchone() == (False, "circuit_breaker"))

app.close()
listener.close()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
