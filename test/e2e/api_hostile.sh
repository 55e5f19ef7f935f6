#!/usr/bin/env bash
# test/e2e/api_hostile.sh: every route of automation-api against every class
# of bad input (issue 13, item 5).
#
# The routes come from `automation-api --list-routes` (the server's own
# table).  Each route gets: no key, malformed Authorization headers, a key
# without the route's scope, a bad tenant header, a bad Idempotency-Key, an
# unknown and a repeated query parameter, path injection in {id}, and for
# each body class (malformed JSON, a JSON array, duplicate keys, invalid
# UTF-8, 20000-deep nesting, NUL bytes, a wrong or missing Content-Type, a
# malformed multipart body, a file upload, repeated form fields, a body on a
# route that takes none, an oversized body) a 4xx with the error envelope.
# The database is fingerprinted before and after: nothing may change.
# Then raw-socket abuse: CR/LF and overlong headers, a slow client (closed
# after --timeout), many connections (bounded by --max-connections), and
# the server still answers.  Run under ASan+UBSan by test/sanitize.sh.
# ~20 s.
set -u
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
. test/lib/api.sh
. test/lib/expect.sh
TMP=$(mktemp -d /tmp/api-hostile.XXXXXX)
trap 'api_stop_all; rm -rf "$TMP"' EXIT

api_setup
KEY=$(api_key all read:workflows,write:workflows,read:rules,write:rules,read:jobs)
ONLY_JOBS=$(api_key jobs read:jobs)
ONLY_WF=$(api_key wf read:workflows)
api_start --max-body 65536 --timeout 2 --max-connections 64 --pool 4
PORT=${API_URL##*:}

# a workflow and a rule for the {id} routes
WF=$(api_psql -At -c "SELECT automation.create_workflow('{\"name\": \"keep\", \"condition_entity\": \"deal\",
	\"condition_field\": \"status\", \"condition_operator\": \"equals\", \"condition_value\": \"won\",
	\"action_type\": \"webhook\", \"action_config\": {\"url\": \"https://example.com/h\"}}') ->> 'id'")
RULE=$(api_psql -At -c "SELECT automation.create_rule('{\"name\": \"keep\", \"entity_type\": \"lead\",
	\"trigger_type\": \"LEAD_CREATED\", \"conditions\": [{\"field_path\": \"status\", \"operator\": \"EQUALS\",
	\"value_string\": \"new\"}], \"actions\": [{\"action_type\": \"NOTIFY\", \"recipient\": \"ann\", \"message\": \"hi\"}]}') ->> 'id'")

fingerprint() {
	api_psql -At -c "SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (
		SELECT 'w' || w::text AS t FROM automation.workflows w UNION ALL
		SELECT 'r' || r::text FROM automation.rules r UNION ALL
		SELECT 'c' || c::text FROM automation.rule_conditions c UNION ALL
		SELECT 'a' || a::text FROM automation.rule_actions a UNION ALL
		SELECT 'i' || i::text FROM automation.idempotency_keys i UNION ALL
		SELECT 'k' || k::text FROM automation.api_key_store k UNION ALL
		SELECT 'j' || j::text FROM automation.jobs j UNION ALL
		SELECT 'p' || p::text FROM automation.user_pools p) x"
}
BEFORE=$(fingerprint)

# expect_4xx LABEL CURL-ARGS...: the response is a 4xx in the error envelope
# (the bodies are checked with jq at the end, all at once)
expect_4xx() {
	local label=$1
	shift
	n=$((n + 1))
	local status
	status=$(curl -s -o "$OUT.$n.body" -w '%{http_code}' --max-time 10 "$@")
	printf '%s\t%s\t%s\n' "$status" "$OUT.$n.body" "$label" >>"$OUT"
}

# fill TEMPLATE: a concrete path for a route template
fill() {
	case "$1" in
		*/workflows/*) echo "${1//\{id\}/$WF}" ;;
		*/rules/*) echo "${1//\{id\}/$RULE}" ;;
		*) echo "$1" ;;
	esac
}
# other_key SCOPE-ROUTE: a key without the route's scope
other_key() {
	case "$1" in
		*/jobs|*/firings|*/alerts) echo "$ONLY_WF" ;;
		*) echo "$ONLY_JOBS" ;;
	esac
}

printf '\xff\xfe{"name": "\xc3\x28"}' >"$TMP/badutf8"
python3 -c 'print("[" * 20000 + "]" * 20000)' >"$TMP/deep"
printf '{"name": "a\0b"}' >"$TMP/nul"
head -c 70000 /dev/zero | tr '\0' 'a' >"$TMP/big"
echo '{"name": "x"}' >"$TMP/upload.json"

$APIBIN --list-routes >"$TMP/routes"
check "the route table lists 19 routes" 19 "$(wc -l <"$TMP/routes")"
# one background job per route
sweep_route() {
	local method=$1 template=$2
	OUT=$3
	n=0
	path=$(fill "$template")
	url="$API_URL$path"
	M=(-X "$method")
	if [ "$template" = /healthz ] || [ "$template" = /v1/openapi.json ]; then
		expect_4xx "$method $template with a body" "${M[@]}" "$API_URL$template" -H 'Content-Type: application/json' --data-binary '[1]'
		expect_4xx "$method $template unknown query parameter" "${M[@]}" "$API_URL$template?x=1"
		return
	fi
	K=(-H "Authorization: Bearer $KEY")
	expect_4xx "$method $template no key" "${M[@]}" "$url"
	for auth in "Basic dXNlcjpwYXNz" "Bearer" "Bearer " "Bearer wbk_<script>" "Bearer wbk_' OR '1'='1" \
		"bearer $KEY$KEY" "Bearer ${KEY^^}" "Bearer $(head -c 3000 /dev/zero | tr '\0' 'k')"; do
		expect_4xx "$method $template Authorization: ${auth:0:30}" "${M[@]}" "$url" -H "Authorization: $auth"
	done
	expect_4xx "$method $template key without the scope" "${M[@]}" "$url" -H "Authorization: Bearer $(other_key "$template")"
	for tenant in "a b" "acme;drop" "$(head -c 200 /dev/zero | tr '\0' 't')" "../x" "é"; do
		expect_4xx "$method $template tenant header ${tenant:0:20}" "${M[@]}" "$url" "${K[@]}" -H "X-Tenant-ID: $tenant"
	done
	for ik in "x" "00000000-0000-0000-0000-00000000000" "' OR 1=1 --" "00000000-0000-0000-0000-0000000000000"; do
		expect_4xx "$method $template Idempotency-Key $ik" "${M[@]}" "$url" "${K[@]}" -H "Idempotency-Key: $ik"
	done
	expect_4xx "$method $template unknown query parameter" "${M[@]}" "$url?nope=1" "${K[@]}"
	case "$template" in
		/v1/workflows|/v1/rules|/v1/jobs|/v1/firings|/v1/alerts|/v1/circuit-breakers)
			if [ "$method" = GET ]; then
				expect_4xx "$method $template repeated limit" "${M[@]}" "$url?limit=1&limit=2" "${K[@]}"
				for l in 0 101 -1 1e3 abc "1;DROP"; do
					expect_4xx "$method $template limit=$l" "${M[@]}" "$url?limit=$l" "${K[@]}"
				done
				for c in "' OR 1=1 --" "-1" "x%00y" "$(head -c 100 /dev/zero | tr '\0' 'c')"; do
					expect_4xx "$method $template cursor=${c:0:20}" -G "${M[@]}" "$url" --data-urlencode "cursor=$c" "${K[@]}"
				done
			fi ;;
	esac
	case "$template" in
		*'{id}'*)
			for id in "..%2F..%2Fetc%2Fpasswd" "x%00y" "wf_'%3B%20DROP%20TABLE%20automation.workflows%3B--" \
				"$(head -c 300 /dev/zero | tr '\0' 'i')" "%E9" "00000000-0000-4000-8000-000000000000" "wf_01AAAAAAAAAAAAAAAAAAAAAAAA"; do
				p=${template//\{id\}/$id}
				expect_4xx "$method $p" "${M[@]}" "$API_URL$p" "${K[@]}" -H 'Content-Type: application/json' \
					$([ "$method" = PATCH ] && echo "--data-binary" && echo '{"name": "x"}')
			done ;;
	esac
	if [ "$method" = GET ] || [ "$method" = DELETE ] || [[ "$template" == */enable ]] || [[ "$template" == */disable ]]; then
		expect_4xx "$method $template with a body" "${M[@]}" "$url" "${K[@]}" -H 'Content-Type: application/json' --data-binary '{"name": "x"}'
		expect_4xx "$method $template with an oversized body" "${M[@]}" "$url" "${K[@]}" --data-binary @"$TMP/big"
		return
	fi
	# routes with a body
	J=(-H 'Content-Type: application/json')
	expect_4xx "$method $template malformed JSON" "${M[@]}" "$url" "${K[@]}" "${J[@]}" --data-binary '{"name": '
	expect_4xx "$method $template JSON array" "${M[@]}" "$url" "${K[@]}" "${J[@]}" --data-binary '[{"name": "x"}]'
	expect_4xx "$method $template JSON string" "${M[@]}" "$url" "${K[@]}" "${J[@]}" --data-binary '"x"'
	expect_4xx "$method $template duplicate keys" "${M[@]}" "$url" "${K[@]}" "${J[@]}" --data-binary '{"name": "a", "name": "b"}'
	expect_4xx "$method $template invalid UTF-8" "${M[@]}" "$url" "${K[@]}" "${J[@]}" --data-binary @"$TMP/badutf8"
	expect_4xx "$method $template deep nesting" "${M[@]}" "$url" "${K[@]}" "${J[@]}" --data-binary @"$TMP/deep"
	expect_4xx "$method $template NUL byte" "${M[@]}" "$url" "${K[@]}" "${J[@]}" --data-binary @"$TMP/nul"
	expect_4xx "$method $template \\u0000" "${M[@]}" "$url" "${K[@]}" "${J[@]}" --data-binary '{"name": "a\u0000b"}'
	expect_4xx "$method $template lone surrogate" "${M[@]}" "$url" "${K[@]}" "${J[@]}" --data-binary '{"name": "\ud800"}'
	expect_4xx "$method $template empty body" "${M[@]}" "$url" "${K[@]}" "${J[@]}" --data-binary ''
	expect_4xx "$method $template empty object" "${M[@]}" "$url" "${K[@]}" "${J[@]}" --data-binary '{}'
	expect_4xx "$method $template wrong types" "${M[@]}" "$url" "${K[@]}" "${J[@]}" --data-binary '{"name": 1, "conditions": "x", "id": 5, "sample": "all"}'
	expect_4xx "$method $template text/plain" "${M[@]}" "$url" "${K[@]}" -H 'Content-Type: text/plain' --data-binary '{"name": "x"}'
	expect_4xx "$method $template no Content-Type" "${M[@]}" "$url" "${K[@]}" -H 'Content-Type:' --data-binary '{"name": "x"}'
	expect_4xx "$method $template application/jsonx" "${M[@]}" "$url" "${K[@]}" -H 'Content-Type: application/jsonx' --data-binary '{"name": "x"}'
	expect_4xx "$method $template oversized (Content-Length)" "${M[@]}" "$url" "${K[@]}" "${J[@]}" --data-binary @"$TMP/big"
	expect_4xx "$method $template oversized (chunked)" "${M[@]}" "$url" "${K[@]}" "${J[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big"
	[[ "$template" == /v1/rules* ]] || expect_4xx "$method $template multipart where JSON is due" "${M[@]}" "$url" "${K[@]}" -F name=x
	if [ "$template" = /v1/rules ] || [ "$template" = '/v1/rules/{id}' ]; then
		expect_4xx "$method $template multipart without a boundary" "${M[@]}" "$url" "${K[@]}" -H 'Content-Type: multipart/form-data' --data-binary $'--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--x--\r\n'
		expect_4xx "$method $template truncated multipart" "${M[@]}" "$url" "${K[@]}" -H 'Content-Type: multipart/form-data; boundary=xyz' --data-binary $'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nRoute'
		expect_4xx "$method $template garbage multipart" "${M[@]}" "$url" "${K[@]}" -H 'Content-Type: multipart/form-data; boundary=xyz' --data-binary 'not multipart at all'
		expect_4xx "$method $template file upload" "${M[@]}" "$url" "${K[@]}" -F "name=@$TMP/upload.json"
		expect_4xx "$method $template repeated form field" "${M[@]}" "$url" "${K[@]}" -F name=a -F name=b -F entity_type=lead
		expect_4xx "$method $template bad form key" "${M[@]}" "$url" "${K[@]}" -F 'conditions[0][field_path][x][y]=a' -F name=b
		expect_4xx "$method $template invalid form" "${M[@]}" "$url" "${K[@]}" -F name= -F entity_type=nope -F 'conditions[0][operator]=NOPE'
		expect_4xx "$method $template urlencoded garbage" "${M[@]}" "$url" "${K[@]}" -H 'Content-Type: application/x-www-form-urlencoded' --data-binary '%%%&&&=%zz'
		expect_4xx "$method $template urlencoded invalid UTF-8" "${M[@]}" "$url" "${K[@]}" -H 'Content-Type: application/x-www-form-urlencoded' --data-binary 'name=%C3%28'
	fi
}
i=0
sweepers=()
while read -r method template; do
	i=$((i + 1))
	sweep_route "$method" "$template" "$TMP/sweep.$i" &
	sweepers+=($!)
done <"$TMP/routes"
wait "${sweepers[@]}"
echo "# sweep done after ${SECONDS}s"
# one pass over every answer: a 4xx status and the error envelope
for j in $(seq 1 "$i"); do cat "$TMP/sweep.$j"; done >"$TMP/all"
read -r total bad < <(python3 - "$TMP/all" <<'PY'
import json, sys
total = bad = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    status, body, label = line.rstrip("\n").split("\t", 2)
    total += 1
    try:
        doc = json.load(open(body, encoding="utf-8"))
        err = doc["error"]
        ok = (status.startswith("4") and len(status) == 3 and isinstance(err["code"], str)
              and isinstance(err["message"], str) and isinstance(err["details"], dict)
              and isinstance(doc["request_id"], str))
    except Exception:
        ok = False
    if not ok:
        bad += 1
        print("NOT A 4xx ENVELOPE: %s -> %s %s" % (label, status, open(body, errors="replace").read(300)), file=sys.stderr)
print(total, bad)
PY
)
check "every route, every bad input: a 4xx with the error envelope ($total requests)" 0 "$bad"
check "nothing changed in the database" "$BEFORE" "$(fingerprint)"

# raw sockets: header injection, overlong headers, slow clients, many connections
cat >"$TMP/raw.py" <<'PY'
import socket, sys, time
port = int(sys.argv[1]); key = sys.argv[2]; what = sys.argv[3]
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s
def exchange(data):
    s = conn(); s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b: break
            out += b
            if b"\r\n\r\n" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if n and len(body) >= n[0]: break
    except socket.timeout:
        pass
    s.close()
    return out
if what == "inject":
    r = exchange(b"GET /v1/workflows/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + key.encode() +
                 b"\r\nX-Request-ID: a\rX-Evil: 1\r\n\r\n")
    head = r.split(b"\r\n\r\n")[0]
    print("status", r.split(b" ")[1].decode() if r else "none", "evil" if b"X-Evil" in head else "clean")
elif what == "longheader":
    r = exchange(b"GET /v1/workflows HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"p" * 200000 + b"\r\n\r\n")
    print("status", r.split(b" ")[1].decode() if r else "closed")
elif what == "slow":
    s = conn(); s.sendall(b"GET /v1/workflows HTTP/1.1\r\nHost: a\r\n")
    t = time.time()
    try:
        while s.recv(1024): pass
    except socket.timeout:
        print("not closed"); sys.exit()
    print("closed after", round(time.time() - t))
elif what == "many":
    import os
    pid = int(sys.argv[4])
    socks = []
    for i in range(400):
        try:
            socks.append(conn())
        except OSError:
            break
    time.sleep(0.5)
    # the sockets the server holds (the others wait in the kernel's backlog or were closed)
    held = sum(1 for f in os.listdir("/proc/%d/fd" % pid) if os.readlink("/proc/%d/fd/%s" % (pid, f)).startswith("socket:"))
    print("opened", len(socks), "server_sockets", held)
    for s in socks: s.close()
PY
echo "# raw-socket tests from ${SECONDS}s"
check "a CR in a header value is not a second header (no injection)" "status 400 clean" \
	"$(python3 "$TMP/raw.py" "$PORT" "$KEY" inject | sed 's/status 4[0-9][0-9]/status 400/')"
check "an overlong header: refused (431/413) or closed" yes \
	"$(python3 "$TMP/raw.py" "$PORT" "$KEY" longheader | grep -qE 'status (413|431|400)|closed' && echo yes)"
check "a slow client is closed after --timeout (2 s)" yes \
	"$(python3 "$TMP/raw.py" "$PORT" "$KEY" slow | grep -qE 'closed after [23]$' && echo yes)"
many=$(python3 "$TMP/raw.py" "$PORT" "$KEY" many "$API_PID")
held=$(awk '{print $4}' <<<"$many")
# 64 client connections, the listening socket, one database connection per thread, the daemon's own
check "400 connections at once: the server holds at most --max-connections ($many)" yes "$([ "$held" -le $((64 + 1 + 4 + 8)) ] && echo yes)"
check "the server answers afterwards" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "$API_URL/v1/workflows")"
check "the server is still the same process" yes "$(kill -0 "$API_PID" && echo yes)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
