#!/usr/bin/env bash
# test/e2e/worker.sh: automation-worker end to end, against real local HTTP
# and SMTP servers (test/worker/*.py) and the running test cluster.
#
# Needs PGHOST/PGPORT/PGUSER of a cluster with automation preloaded and the
# worker installed (make install); CLUSTER_DIR for the restart case.  Creates
# and drops its own database.  Prints "N passed, M failed"; exits non-zero on
# any failure.
set -u
cd "$(dirname "$0")/../.."
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WORKER=${WORKER:-$($PGBIN/pg_config --bindir)/automation-worker}
DB=worker_e2e
export PGDATABASE=$DB
TMP=$(mktemp -d /tmp/worker-e2e.XXXXXX)
passed=0
failed=0
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	$PGBIN/dropdb --if-exists -f "$DB" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

check() {	# check NAME CONDITION-COMMAND...
	local name=$1; shift
	if "$@"; then
		passed=$((passed + 1)); echo "ok - $name"
	else
		failed=$((failed + 1)); echo "FAILED - $name"
	fi
}
sql() { $PGBIN/psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
eq() { [ "$1" = "$2" ] || { echo "   expected [$2], got [$1]"; return 1; }; }
wait_for() {	# wait_for SECONDS SQL-RETURNING-t
	local deadline=$((SECONDS + $1))
	while [ $SECONDS -lt $deadline ]; do
		[ "$(sql -c "$2")" = t ] && return 0
		sleep 0.1
	done
	return 1
}
wait_file() {	# wait_file SECONDS FILE PATTERN
	local deadline=$((SECONDS + $1))
	while [ $SECONDS -lt $deadline ]; do
		grep -q -- "$3" "$2" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# job TYPE CONFIG-JSON: insert a job as the engine would; prints its id.
job() {
	sql -v type="$1" -v cfg="$2" <<-'EOF'
	INSERT INTO automation.jobs (source, workflow_id, action_type, entity, record_key, payload, run_as)
	VALUES ('workflow', 'wf_e2e', :'type', 'deal', '42',
	        jsonb_build_object('event', jsonb_build_object('operation', 'UPDATE', 'entity', 'deal',
	                               'record_key', '42', 'at', now(), 'depth', 0, 'source', 'workflow',
	                               'workflow_id', 'wf_e2e', 'name', 'e2e'),
	                           'config', :'cfg'::jsonb,
	                           'new', '{"id": 42, "amount": 123456789012345678901234.5, "name": "Acme"}'::jsonb,
	                           'old', '{"id": 42, "name": "Old"}'::jsonb),
	        'postgres')
	RETURNING id;
	EOF
}
field() { sql -c "SELECT $2 FROM automation.jobs WHERE id = $1"; }
requests() { grep -c "\"phase\": \"start\", \"path\": \"$1\"" "$TMP/http.log"; }

# the pure parts, table-tested (test/worker/units.c)
sig=$(python3 -c 'import hmac, hashlib; print("t=1700000000,v1=" + hmac.new(b"key", b"1700000000.{\"a\":1}", hashlib.sha256).hexdigest())')
check "units: address classification, signature vector, email composition, lease arithmetic" \
	bash -c "cc -Wall -Wextra -Werror -Isrc -Isrc/worker -Isrc/common -I$($PGBIN/pg_config --includedir) -o '$TMP/units' test/worker/units.c \
		src/mergetoken.c src/worker/ssrf.c src/worker/sign.c src/worker/smtp.c src/worker/log.c src/common/log.c src/worker/lease.c -lcurl -ljansson -lcrypto && '$TMP/units' '$sig'"

[ -x "$WORKER" ] || { echo "worker not installed at $WORKER"; echo "0 passed, 1 failed"; exit 1; }
$PGBIN/dropdb --if-exists -f "$DB" >/dev/null 2>&1
$PGBIN/createdb "$DB" && sql -c 'CREATE EXTENSION automation' || { echo "0 passed, 1 failed"; exit 1; }

python3 test/worker/http_receiver.py "$TMP/http.port" "$TMP/http.log" & pids+=($!)
python3 test/worker/smtp_receiver.py "$TMP/smtp.port" "$TMP/smtp.log" & pids+=($!)
for f in http.port smtp.port; do
	for _ in $(seq 100); do [ -s "$TMP/$f" ] && break; sleep 0.05; done
done
HTTP="http://127.0.0.1:$(cat "$TMP/http.port")"
SMTP="smtp://127.0.0.1:$(cat "$TMP/smtp.port")"
touch "$TMP/http.log" "$TMP/smtp.log"
printf 's3cr3t-e2e\n' >"$TMP/secret"
COMMON=(--dbname "dbname=$DB" --signing-secret-file "$TMP/secret" --smtp-url "$SMTP"
	--smtp-from "Automation Bot <bot@example.com>" --poll 1)

# ---------------------------------------------------------------- one pass
ok=$(job webhook "{\"url\": \"$HTTP/ok/1\"}")
put=$(job webhook "{\"url\": \"$HTTP/ok/put\", \"method\": \"PUT\", \"headers\": {\"X-Trace\": \"abc\", \"Idempotency-Key\": \"forged\"}, \"body\": {\"deal\": \"Acme\", \"n\": 1}}")
bad=$(job webhook "{\"url\": \"$HTTP/bad/1\"}")
sql -c "INSERT INTO automation.channels (name, format, url) VALUES ('sales', 'slack', '$HTTP/ok/slack'), ('raw', 'json', '$HTTP/ok/json')"
sql -c "INSERT INTO automation.channels (name, format, url, tenant_id) VALUES ('sales', 'slack', '$HTTP/ok/acme-slack', 'acme')"
slack=$(job send_channel_message '{"channel": "sales", "recipient": "#deals", "message": "Deal Acme won"}')
# real firings on a multi-tenant table: a global and acme's workflow both send to "sales"
sql >/dev/null <<-'EOF'
	CREATE TABLE deals (id int PRIMARY KEY, org text, amount int);
	SELECT automation.watch('deal', 'public.deals', tenant_column => 'org');
	SELECT automation.create_workflow('{"name": "big deal", "condition_entity": "deal", "condition_field": "amount",
		"condition_operator": "greater_than", "condition_value": "100", "action_type": "send_channel_message",
		"action_config": {"channel": "sales", "recipient": "#global-{{deal.org}}", "message": "big"}}');
	SET automation.tenant = 'acme';
	SELECT automation.create_workflow('{"name": "big deal", "condition_entity": "deal", "condition_field": "amount",
		"condition_operator": "greater_than", "condition_value": "100", "action_type": "send_channel_message",
		"action_config": {"channel": "sales", "recipient": "#acme", "message": "big"}}');
	RESET automation.tenant;
	INSERT INTO deals VALUES (1, 'acme', 500), (2, 'beta', 500);
	EOF
# real firings: merge tokens in address fields stay one mailbox (SPEC section 10)
sql >/dev/null <<-'EOF'
	CREATE TABLE contacts (id int PRIMARY KEY, email text, name text);
	SELECT automation.watch('contact', 'public.contacts');
	SELECT automation.create_workflow('{"name": "mail contact", "condition_entity": "contact", "condition_field": "id",
		"condition_operator": "less_than", "condition_value": "1000", "action_type": "send_email",
		"action_config": {"to": "{{contact.email}}", "subject": "e2e-token {{contact.id}}", "body": "hi"}}');
	SELECT automation.create_workflow('{"name": "mail named contact", "condition_entity": "contact", "condition_field": "id",
		"condition_operator": "less_than", "condition_value": "1000", "action_type": "send_email",
		"action_config": {"to": "{{contact.name}} <{{contact.email}}>", "cc": "\"Copy: {{contact.name}}\" <copy@example.com>",
		                  "subject": "e2e-named {{contact.id}}", "body": "hi"}}');
	INSERT INTO contacts VALUES
		(101, 'ann@example.com', E'Eve "x" <victim@example.org>,\r\nBcc: victim2@example.org'),
		(102, 'me@example.com, victim@example.org', 'Me'),
		(103, E'me@example.com\r\nBcc: victim@example.org', 'Me'),
		(104, 'me@example.com;victim@example.org', 'Me');
	-- a database action from a real definition (execute_job runs only those)
	SELECT automation.create_rule('{"name": "notify contact", "entity_type": "contact", "trigger_type": "CONTACT_CREATED",
		"conditions": [{"field_path": "id", "operator": "GT", "value_int": 1000}],
		"actions": [{"action_type": "NOTIFY", "recipient": "ann", "message": "hi"}]}');
	INSERT INTO contacts VALUES (1001, NULL, NULL);
	EOF
rawch=$(job send_channel_message '{"channel": "raw", "recipient": "x", "message": "m"}')
nochan=$(job send_channel_message '{"channel": "nope", "recipient": "x", "message": "m"}')
mail=$(job send_email '{"to": "ann@example.com, bob@example.com", "cc": ["carol@example.com"], "bcc": "dave@example.com", "reply_to": "sales@example.com", "subject": "Déal gagné ✓\r\nBcc: evil@example.com", "body": "Hello\r\n.\r\nBcc: evil2@example.com\nnon-ASCII: ü"}')
badto=$(job send_email '{"to": "ann@example.com\r\nBcc: evil@example.com", "subject": "x", "body": "y"}')
named=$(job send_email '{"to": "\"Lee, Ann\" <ann2@example.com>, Zoë Ünal <zoe@example.com>", "cc": ["Carl <carl@example.com>"], "subject": "named", "body": "b"}')
badname=$(job send_email '{"to": "Eve\r\nBcc: evil@example.com <eve@example.com>", "subject": "x", "body": "y"}')
dbjob=$(sql -c "SELECT id FROM automation.jobs WHERE action_type = 'notify' AND record_key = '1001'")

timeout 20 "$WORKER" "${COMMON[@]}" --once --allow-host 127.0.0.1 --worker-id e2e-once 2>"$TMP/once.log"
rc=$?
check "--once drains and exits 0" eq "$rc" 0
check "webhook succeeds (2xx)" eq "$(field "$ok" "status || ' ' || attempts || ' ' || (result->>'status')")" "succeeded 1 200"
check "webhook: Idempotency-Key is the job's key" eq \
	"$(python3 -c 'import json,sys; print([e for e in map(json.loads, open(sys.argv[1])) if e["path"]=="/ok/1"][0]["headers"]["idempotency-key"])' "$TMP/http.log")" \
	"$(field "$ok" idempotency_key)"
check "webhook: signature verifies (HMAC-SHA256 of t.body), default body is event/new/old" python3 - "$TMP/http.log" <<-'EOF'
	import hashlib, hmac, json, sys, time
	e = [e for e in map(json.loads, open(sys.argv[1])) if e["path"] == "/ok/1"][0]
	sig = dict(p.split("=", 1) for p in e["headers"]["x-automation-signature"].split(","))
	want = hmac.new(b"s3cr3t-e2e", (sig["t"] + "." + e["body"]).encode(), hashlib.sha256).hexdigest()
	assert hmac.compare_digest(want, sig["v1"]), "bad signature"
	assert abs(time.time() - int(sig["t"])) < 60
	bad = hmac.new(b"other", (sig["t"] + "." + e["body"]).encode(), hashlib.sha256).hexdigest()
	assert bad != sig["v1"]
	body = json.loads(e["body"])
	assert set(body) == {"event", "new", "old"}, body
	assert body["event"]["workflow_id"] == "wf_e2e" and body["new"]["name"] == "Acme"
	assert "123456789012345678901234.5" in e["body"], "number precision lost"
	assert e["method"] == "POST" and e["headers"]["content-type"] == "application/json"
	EOF
check "webhook: method, custom headers, config body; reserved headers not overridable" python3 - "$TMP/http.log" <<-'EOF'
	import json, sys
	e = [e for e in map(json.loads, open(sys.argv[1])) if e["path"] == "/ok/put"][0]
	assert e["method"] == "PUT", e["method"]
	assert e["headers"]["x-trace"] == "abc"
	assert e["headers"]["idempotency-key"] != "forged"
	assert json.loads(e["body"]) == {"deal": "Acme", "n": 1}, e["body"]
	EOF
check "400 is permanent: dead after one attempt" eq "$(field "$bad" "status || ' ' || attempts || ' ' || left(last_error, 8)")" "dead 1 HTTP 400"
check "dead job raises a job_dead alert" eq "$(sql -c "SELECT count(*) FROM automation.alerts WHERE kind = 'job_dead' AND job_id = $bad")" 1
check "slack channel: {text, channel} to the channel's URL" python3 - "$TMP/http.log" <<-'EOF'
	import json, sys
	e = [e for e in map(json.loads, open(sys.argv[1])) if e["path"] == "/ok/slack" and e["phase"] == "start"
	     and "#deals" in e["body"]][0]
	assert json.loads(e["body"]) == {"text": "Deal Acme won", "channel": "#deals"}, e["body"]
	assert e["headers"]["x-automation-signature"].startswith("t=")
	EOF
check "tenant channels: acme's workflow sends to acme's own \"sales\"; the global workflow to the global one, on acme's row too; once each" \
	python3 - "$TMP/http.log" <<-'EOF'
	import json, sys
	got = sorted((e["path"], json.loads(e["body"])["channel"])
	             for e in map(json.loads, open(sys.argv[1]))
	             if e["phase"] == "start" and e["path"] in ("/ok/slack", "/ok/acme-slack"))
	assert got == [("/ok/acme-slack", "#acme"), ("/ok/slack", "#deals"), ("/ok/slack", "#global-acme"),
	               ("/ok/slack", "#global-beta")], got
	EOF
check "tenant channel jobs succeeded" eq "$(sql -c "SELECT string_agg(status, ' ' ORDER BY id) FROM automation.jobs WHERE record_key IN ('1', '2')")" "succeeded succeeded succeeded"
check "json channel: the job payload" python3 - "$TMP/http.log" <<-'EOF'
	import json, sys
	e = [e for e in map(json.loads, open(sys.argv[1])) if e["path"] == "/ok/json" and e["phase"] == "start"][0]
	b = json.loads(e["body"])
	assert set(b) == {"event", "config", "new", "old"} and b["config"]["channel"] == "raw", b
	EOF
check "unknown channel: dead with the cause" eq "$(field "$nochan" "status || ' ' || last_error")" "dead channel nope not found in automation.channels"
check "email accepted" eq "$(field "$mail" status)" succeeded
check "email: RFC 5322 message, encoded subject, stable Message-ID, bcc only in the envelope, no injected header" \
	python3 - "$TMP/smtp.log" "$(field "$mail" "'<job-' || id || '-' || idempotency_key || '@automation>'")" <<-'EOF'
	import email, email.policy, json, sys
	msgs = [json.loads(l) for l in open(sys.argv[1])]
	m = [m for m in msgs if "ann@example.com" in m["data"] and "Reply-To" in m["data"]][0]
	raw = m["data"]
	assert sorted(m["rcpt_to"]) == ["<ann@example.com>", "<bob@example.com>", "<carol@example.com>", "<dave@example.com>"], m["rcpt_to"]
	assert m["mail_from"] == "<bot@example.com>"
	head = raw.split("\r\n\r\n", 1)[0]
	names = [l.split(":", 1)[0].lower() for l in head.split("\r\n") if l and l[0] not in " \t"]
	assert "bcc" not in names, names
	for h in ["date", "from", "to", "cc", "reply-to", "subject", "message-id", "mime-version", "content-type", "content-transfer-encoding"]:
	    assert names.count(h) == 1, (h, names)
	assert "evil" not in head, head
	assert all(len(l) < 998 for l in raw.split("\r\n"))
	msg = email.message_from_string(raw, policy=email.policy.default)
	assert msg["Subject"] == "Déal gagné ✓  Bcc: evil@example.com", repr(msg["Subject"])
	assert msg["Message-ID"] == sys.argv[2], (msg["Message-ID"], sys.argv[2])
	assert msg["To"] == "ann@example.com, bob@example.com" and msg["Cc"] == "carol@example.com"
	assert msg["From"].addresses[0].display_name == "Automation Bot" and msg["From"].addresses[0].addr_spec == "bot@example.com"
	assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
	assert msg.get_content() == "Hello\r\n.\r\nBcc: evil2@example.com\nnon-ASCII: ü", repr(msg.get_content())
	assert not [x for x in m["rcpt_to"] if "evil" in x]
	EOF
check "email: an address carrying CR/LF is refused, nothing sent" eq \
	"$(field "$badto" "status || ' ' || (last_error LIKE 'to: invalid email address%')")" "dead true"
check "email: display names (a quoted comma, non-ASCII) in the headers, bare addresses in the envelope" \
	python3 - "$TMP/smtp.log" <<-'EOF'
	import email, email.policy, json, sys
	m = [m for m in map(json.loads, open(sys.argv[1])) if "Subject: named" in m["data"]][0]
	assert m["rcpt_to"] == ["<ann2@example.com>", "<zoe@example.com>", "<carl@example.com>"], m["rcpt_to"]
	msg = email.message_from_string(m["data"], policy=email.policy.default)
	to = [(a.display_name, a.addr_spec) for a in msg["To"].addresses]
	assert to == [("Lee, Ann", "ann2@example.com"), ("Zoë Ünal", "zoe@example.com")], to
	assert [(a.display_name, a.addr_spec) for a in msg["Cc"].addresses] == [("Carl", "carl@example.com")]
	assert all(ord(c) < 128 for c in m["data"].split("\r\n\r\n", 1)[0]), "raw non-ASCII in a header"
	EOF
check "email: a display name carrying CR/LF is refused, nothing sent" eq \
	"$(field "$badname" "status || ' ' || (last_error LIKE 'to: invalid email address%')")" "dead true"
contact_job() { sql -c "SELECT id FROM automation.jobs WHERE entity = 'contact' AND record_key = '$1' AND payload #>> '{config,subject}' LIKE '$2 %'"; }
check "email: a single address from a row's email column is delivered, to it alone" \
	eq "$(field "$(contact_job 101 e2e-token)" status)" succeeded
check "email: a row's email column holding \"me@example.com, victim@example.org\" sends to nobody: dead at once, the cause names the field and the token" \
	eq "$(field "$(contact_job 102 e2e-token)" "status || ' ' || attempts || ' ' || last_error")" \
	'dead 1 to: merge token {{contact.email}} did not render one email address: "me@example.com, victim@example.org"'
check "email: CR/LF or ';' inside a token: dead, nothing sent" \
	eq "$(sql -c "SELECT string_agg(status || ' ' || (last_error LIKE 'to: merge token {{contact.email}} did not render one %'), ',' ORDER BY record_key)
	              FROM automation.jobs WHERE entity = 'contact' AND record_key IN ('102', '103', '104')")" \
	"dead true,dead true,dead true,dead true,dead true,dead true"
check "email: tokens: the victim received nothing, only ann and the fixed cc did; a hostile display name is one quoted name" \
	python3 - "$TMP/smtp.log" <<-'EOF'
	import base64, json, re, sys
	msgs = [json.loads(l) for l in open(sys.argv[1])]
	assert not [m for m in msgs if any("victim" in r for r in m["rcpt_to"])], "a victim received mail"
	tok = [m for m in msgs if "e2e-token" in m["data"] or "e2e-named" in m["data"]]
	assert len(tok) == 2, len(tok)
	plain = [m for m in tok if "e2e-token 101" in m["data"]][0]
	assert plain["rcpt_to"] == ["<ann@example.com>"], plain["rcpt_to"]
	named = [m for m in tok if "e2e-named 101" in m["data"]][0]
	assert named["rcpt_to"] == ["<ann@example.com>", "<copy@example.com>"], named["rcpt_to"]
	head = named["data"].split("\r\n\r\n", 1)[0]
	names = [l.split(":", 1)[0].lower() for l in head.split("\r\n") if l and l[0] not in " \t"]
	assert "bcc" not in names and names.count("to") == 1 and names.count("cc") == 1, names
	# decoded by hand: adjacent encoded words join without the folding space (RFC 2047)
	def mailbox(h):
	    v = re.search(r"\r\n" + h + r": (.*?)\r\n(?! )", head, re.S).group(1)
	    words, addr = re.fullmatch(r"((?:=\?UTF-8\?B\?[^?]*\?=(?:\r\n )?)+) <([^<>]*)>", v).groups()
	    return "".join(base64.b64decode(w).decode() for w in re.findall(r"=\?UTF-8\?B\?([^?]*)\?=", words)), addr
	assert mailbox("To") == ('Eve "x" <victim@example.org>,  Bcc: victim2@example.org', "ann@example.com"), mailbox("To")
	assert mailbox("Cc") == ('Copy: Eve "x" <victim@example.org>,  Bcc: victim2@example.org', "copy@example.com"), mailbox("Cc")
	EOF
if [ "$(sql -c "SELECT to_regprocedure('automation.execute_job(bigint)') IS NOT NULL")" = t ]; then
	check "database action (notify) runs through execute_job" eq \
		"$(field "$dbjob" status)/$(sql -c "SELECT count(*) FROM automation.notifications WHERE job_id = $dbjob AND message = 'hi'")" "succeeded/1"
else
	check "database action without execute_job: failed with its cause" eq \
		"$(field "$dbjob" "status || ' ' || (last_error LIKE 'execute_job failed: 42883%')")" "dead true"
fi
check "one log line per delivery with job, type, outcome, attempt, latency" \
	grep -q "job=$bad type=webhook outcome=failed attempt=1/5 latency_ms=[0-9.]* cause=HTTP 400" "$TMP/once.log"

# ---------------------------------------------------------------- SSRF
lit=$(job webhook "{\"url\": \"$HTTP/ok/ssrf-literal\"}")
name=$(job webhook "{\"url\": \"http://localhost:$(cat "$TMP/http.port")/ok/ssrf-name\"}")
v6=$(job webhook "{\"url\": \"http://[::1]:$(cat "$TMP/http.port")/ok/ssrf-v6\"}")
mapped=$(job webhook "{\"url\": \"http://[::ffff:127.0.0.1]:$(cat "$TMP/http.port")/ok/ssrf-mapped\"}")
others=()
for u in "http://10.1.2.3/" "http://172.16.0.1/" "http://192.168.1.1/" "http://169.254.169.254/latest/meta-data/" \
	"http://0.0.0.0:$(cat "$TMP/http.port")/" "http://2130706433:$(cat "$TMP/http.port")/ok/ssrf-decimal" \
	"http://[fd00::1]/" "http://[fe80::1]/" "http://224.0.0.1/" "http://100.64.0.1/"; do
	others+=("$(job webhook "{\"url\": \"$u\"}")")
done
timeout 20 "$WORKER" "${COMMON[@]}" --once 2>"$TMP/ssrf1.log"
check "SSRF: 127.0.0.1 refused without --allow-host" eq "$(field "$lit" "status || ' ' || (last_error LIKE 'destination refused%loopback%')")" "dead true"
check "SSRF: a name resolving to loopback (localhost) refused" eq "$(field "$name" "status || ' ' || (last_error LIKE 'destination refused: localhost resolves to loopback%')")" "dead true"
check "SSRF: [::1] and IPv4-mapped [::ffff:127.0.0.1] refused" eq "$(sql -c "SELECT string_agg(status, ',' ORDER BY id) FROM automation.jobs WHERE id IN ($v6, $mapped)")" "dead,dead"
check "SSRF: private, link-local (metadata), unspecified, ULA, multicast, CGNAT and decimal-loopback refused at once" eq \
	"$(sql -c "SELECT count(*) FILTER (WHERE status = 'dead' AND last_error LIKE 'destination refused%') || '/' || count(*) FROM automation.jobs WHERE id IN ($(IFS=,; echo "${others[*]}"))")" "10/10"
check "SSRF: refused destinations received nothing" eq "$(grep -c ssrf- "$TMP/http.log")" 0
lit2=$(job webhook "{\"url\": \"$HTTP/ok/ssrf-allowed\"}")
name2=$(job webhook "{\"url\": \"http://localhost:$(cat "$TMP/http.port")/ok/ssrf-name2\"}")
timeout 20 "$WORKER" "${COMMON[@]}" --once --allow-host 127.0.0.1 2>"$TMP/ssrf2.log"
check "SSRF: --allow-host 127.0.0.1 delivers to it" eq "$(field "$lit2" status)" succeeded
check "SSRF: --allow-host 127.0.0.1 does not allow the name localhost" eq "$(field "$name2" status)" dead

# ---------------------------------------------------------------- types filter
t1=$(job webhook "{\"url\": \"$HTTP/ok/types\"}")
timeout 20 "$WORKER" "${COMMON[@]}" --once --types send_email,notify --allow-host 127.0.0.1 2>"$TMP/types.log"
check "--types: other action types are left queued" eq "$(field "$t1" "status || ' ' || attempts")" "queued 0"

# ---------------------------------------------------------------- long-running worker
"$WORKER" "${COMMON[@]}" --allow-host 127.0.0.1 --poll 30 --lease 5 --timeout 1 --worker-id e2e-bg 2>"$TMP/bg.log" &
bg=$!; pids+=($bg)
check "a job queued before the worker started is claimed at start" \
	wait_for 5 "SELECT status = 'succeeded' FROM automation.jobs WHERE id = $t1"
# t1 was queued before the worker started; this one arrives with a wake-up
note=$(job webhook "{\"url\": \"$HTTP/ok/notified\"}")
sql -c "NOTIFY automation_jobs, 'webhook'"
check "LISTEN: wake-up within 2 s" wait_for 2 "SELECT status = 'succeeded' FROM automation.jobs WHERE id = $note"
flaky=$(job webhook "{\"url\": \"$HTTP/flaky/1\"}")
sql -c "NOTIFY automation_jobs, 'webhook'"
check "503 then success" wait_for 10 "SELECT status = 'succeeded' AND attempts = 2 FROM automation.jobs WHERE id = $flaky"
check "503 retry: same Idempotency-Key, Retry-After (1 s) honoured" python3 - "$TMP/http.log" "$(field "$flaky" idempotency_key)" <<-'EOF'
	import json, sys
	es = [e for e in map(json.loads, open(sys.argv[1])) if e["path"] == "/flaky/1" and e["phase"] == "start"]
	assert len(es) == 2, len(es)
	assert {e["headers"]["idempotency-key"] for e in es} == {sys.argv[2]}
	assert 0.9 <= es[1]["t"] - es[0]["t"] < 3.5, es[1]["t"] - es[0]["t"]
	EOF
slow=$(job webhook "{\"url\": \"$HTTP/slow/3/timeout\"}")
sql -c "NOTIFY automation_jobs, 'webhook'"
check "a timeout is retryable: queued again with the cause" \
	wait_for 5 "SELECT status = 'queued' AND attempts = 1 AND last_error LIKE 'network error: Timeout%' FROM automation.jobs WHERE id = $slow"

# database restart while the worker runs
if [ -n "${CLUSTER_DIR:-}" ]; then
	restart() {
		if [ "$(id -u)" = 0 ]; then
			runuser -u postgres -- $PGBIN/pg_ctl -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -m fast -w -t 60 restart >/dev/null
		else
			$PGBIN/pg_ctl -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -m fast -w -t 60 restart >/dev/null
		fi
	}
	hold=$(job webhook "{\"url\": \"$HTTP/slow/0.9/restart\"}")
	sql -c "NOTIFY automation_jobs, 'webhook'"
	wait_file 5 "$TMP/http.log" '"path": "/slow/0.9/restart"'
	restart
	after=$(job webhook "{\"url\": \"$HTTP/ok/after-restart\"}")
	check "database restart: the worker reconnects and delivers new jobs" \
		wait_for 15 "SELECT status = 'succeeded' FROM automation.jobs WHERE id = $after"
	check "database restart: the job in flight during the restart is recorded once" \
		wait_for 5 "SELECT status = 'succeeded' AND attempts = 1 FROM automation.jobs WHERE id = $hold"
	check "database restart: the worker logged the lost connection" grep -q "database connection lost\|cannot connect" "$TMP/bg.log"
else
	echo "skip - database restart (CLUSTER_DIR not set)"
fi

# SIGTERM: stop claiming, finish what is held, exit 0
kill -TERM $bg 2>/dev/null
wait $bg; rc=$?
check "SIGTERM on an idle worker: exit 0" eq "$rc" 0
d1=$(job webhook "{\"url\": \"$HTTP/slow/1.5/drain\"}")
"$WORKER" "${COMMON[@]}" --allow-host 127.0.0.1 --concurrency 1 --batch 1 2>"$TMP/drain.log" &
w=$!; pids+=($w)
wait_file 5 "$TMP/http.log" '"path": "/slow/1.5/drain"'
d2=$(job webhook "{\"url\": \"$HTTP/ok/drain-after\"}")
sql -c "NOTIFY automation_jobs, 'webhook'"
sleep 0.2
kill -TERM $w
wait $w; rc=$?
check "SIGTERM drains: exit 0 after finishing the delivery in flight" eq "$rc/$(field "$d1" status)" "0/succeeded"
check "SIGTERM: no new job claimed after the signal" eq "$(field "$d2" "status || ' ' || attempts")" "queued 0"
sql -c "DELETE FROM automation.jobs WHERE id = $d2"

# SIGKILL mid-delivery: delivered again after the lease expires
k=$(job webhook "{\"url\": \"$HTTP/hang-once/kill\"}")
"$WORKER" "${COMMON[@]}" --allow-host 127.0.0.1 --lease 2 --worker-id e2e-victim 2>"$TMP/victim.log" &
w=$!; pids+=($w)
wait_file 5 "$TMP/http.log" '"path": "/hang-once/kill"'
{ kill -KILL $w; wait $w; } 2>/dev/null
check "SIGKILL: the job is left running under the dead worker's lease" eq "$(field "$k" "status || ' ' || locked_by")" "running e2e-victim"
"$WORKER" "${COMMON[@]}" --allow-host 127.0.0.1 --lease 2 --poll 0.5 --worker-id e2e-rescuer 2>"$TMP/rescuer.log" &
w=$!; pids+=($w)
check "SIGKILL: delivered by another worker after the lease expired" \
	wait_for 10 "SELECT status = 'succeeded' AND attempts = 2 AND locked_by = 'e2e-rescuer' FROM automation.jobs WHERE id = $k"
check "SIGKILL: both attempts carried the same Idempotency-Key" eq \
	"$(python3 -c 'import json,sys; print(len({e["headers"]["idempotency-key"] for e in map(json.loads, open(sys.argv[1])) if e["path"]=="/hang-once/kill"}))' "$TMP/http.log")" 1
kill -TERM $w; wait $w

echo
echo "$passed passed, $failed failed"
if [ $failed -gt 0 ]; then
	for f in "$TMP"/*.log; do echo "----- $f"; tail -20 "$f"; done
fi
[ $failed -eq 0 ]
