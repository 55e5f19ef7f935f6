#!/usr/bin/env bash
# test/e2e/api.sh: automation-api end to end with curl (issue 13, item 6;
# SPEC section 13).
#
#   1. seed 000's own curl examples, verbatim but for the host and the key:
#      201 and the seed's response shape; the template example (no key) 401;
#   2. Create Rule as multipart/form-data with the seed's form keys, as
#      urlencoded, and as JSON: the same rule;
#   3. every route: workflows CRUD, enable/disable, rules CRUD, lists with
#      cursor pagination and filters, jobs/firings/alerts/circuit-breakers,
#      backtest (501 until the extension has automation.backtest),
#      /v1/openapi.json and /healthz without a key;
#   4. 401 (missing, unknown, revoked, expired), 403 (scope, tenant header,
#      the database's 42501), 404, 409 (duplicate_name,
#      idempotency_conflict), 413, 429 with Retry-After, the headers on
#      every response, X-Request-ID;
#   5. Idempotency-Key replay; tenant isolation through the API;
#   6. /healthz 503 without a database; a database restart while serving
#      (503, then recovery); SIGTERM drains a request in flight.
# Needs PGHOST/PGPORT/PGUSER of a cluster started by test/lib/cluster.sh
# (CLUSTER_DIR for the restart) with automation-api installed; ~15 s.
set -u
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
. test/lib/api.sh
. test/lib/expect.sh
TMP=$(mktemp -d /tmp/api-e2e.XXXXXX)
trap 'api_stop_all; rm -rf "$TMP"' EXIT

# req METHOD URL [curl args...]: STATUS, BODY (text), headers in $TMP/h
req() {
	local method=$1 url=$2
	shift 2
	STATUS=$(curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -X "$method" "$url" "$@")
	BODY=$(cat "$TMP/b")
}
hdr() { grep -i "^$1:" "$TMP/h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
code() { jq -r '.error.code // empty' <<<"$BODY"; }
# envelope: an error body has error.code/message/details and request_id
envelope_ok() { jq -e '(.error | has("code") and has("message") and has("details")) and (.request_id | type == "string")' <<<"$BODY" >/dev/null && echo yes || echo no; }

api_setup
KEY=$(api_key all read:workflows,write:workflows,read:rules,write:rules,read:jobs)
api_start --max-body 4096
A=(-H "Authorization: Bearer $KEY")
J=(-H "Content-Type: application/json")

# --- 1. seed 000 ------------------------------------------------------------
cat >"$TMP/seed.sh" <<'SEED'
curl -X POST \
  https://data.leadlex.com/functions/v1/api-gateway/v1/workflows \
  -H "Authorization: Bearer wbk_your_api_key_here" \
  -H "Content-Type: application/json" \
  -d '{
    "name": "Ping owner on won deals",
    "condition_entity": "deal",
    "condition_field": "status",
    "condition_operator": "changed_to",
    "condition_value": "won",
    "action_type": "send_channel_message",
    "action_config": {
      "channel": "slack",
      "recipient": "#sales-wins",
      "message": "Deal {{deal.name}} closed at {{deal.value}} {{deal.currency}}"
    },
    "max_triggers_per_day": 50
  }'
SEED
sed -i -e "s|https://data.leadlex.com/functions/v1/api-gateway|$API_URL|" \
	-e "s|wbk_your_api_key_here|$KEY|" -e 's|^curl |curl -s -o '"$TMP"'/b -D '"$TMP"'/h -w "%{http_code}" |' "$TMP/seed.sh"
STATUS=$(bash "$TMP/seed.sh"); BODY=$(cat "$TMP/b")
check "seed 000 example: 201" 201 "$STATUS"
check "seed 000 example: the seed's response keys" \
	"action_config action_type condition_entity condition_field condition_operator condition_value created_at enabled id last_triggered_at max_triggers_per_day name" \
	"$(jq -r '.data | [keys[] | select(. as $k | ["id","name","enabled","condition_entity","condition_field","condition_operator","condition_value","action_type","action_config","max_triggers_per_day","last_triggered_at","created_at"] | index($k))] | sort | join(" ")' <<<"$BODY")"
check "seed 000 example: values" \
	'"Ping owner on won deals",true,"deal","status","changed_to","won","send_channel_message","slack","#sales-wins","Deal {{deal.name}} closed at {{deal.value}} {{deal.currency}}",50,null' \
	"$(jq -c '.data | [.name,.enabled,.condition_entity,.condition_field,.condition_operator,.condition_value,.action_type,.action_config.channel,.action_config.recipient,.action_config.message,.max_triggers_per_day,.last_triggered_at] | .[]' <<<"$BODY" | paste -sd,)"
check "seed 000 example: wf_ id, ISO created_at" yes \
	"$(jq -e '(.data.id | test("^wf_[0-9A-Z]{26}$")) and (.data.created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"))' <<<"$BODY" >/dev/null && echo yes)"
check "seed 000 example: X-RateLimit-* and X-Request-ID" "600 yes yes yes" \
	"$(hdr X-RateLimit-Limit) $([ -n "$(hdr X-RateLimit-Remaining)" ] && echo yes) $([ -n "$(hdr X-RateLimit-Reset)" ] && echo yes) $([ -n "$(hdr X-Request-ID)" ] && echo yes)"
WF=$(jq -r .data.id <<<"$BODY")

# the template example of the seed (no Authorization header): 401
cat >"$TMP/template.sh" <<'SEED'
curl --request POST \
  --url https://api.example.com/v1/workflows \
  --header 'Content-Type: application/json' \
  --data '
{
  "name": "<string>",
  "condition_entity": "<string>",
  "condition_field": "<string>",
  "condition_operator": "<string>",
  "condition_value": "<string>",
  "action_type": "<string>",
  "action_config": {},
  "max_triggers_per_day": 123,
  "enabled": true
}
'
SEED
sed -i -e "s|https://api.example.com|$API_URL|" -e 's|^curl |curl -s -o '"$TMP"'/b -D '"$TMP"'/h -w "%{http_code}" |' "$TMP/template.sh"
STATUS=$(bash "$TMP/template.sh"); BODY=$(cat "$TMP/b")
check "seed 000 template without a key: 401 invalid_key" "401 invalid_key yes" "$STATUS $(code) $(envelope_ok)"
# with a key, its placeholders are a validation error
sed -i "s|--url|--header 'Authorization: Bearer $KEY' --url|" "$TMP/template.sh"
STATUS=$(bash "$TMP/template.sh"); BODY=$(cat "$TMP/b")
check "seed 000 template with a key: 400 validation_error" "400 validation_error" "$STATUS $(code)"

# --- 2. Create Rule: multipart, urlencoded, JSON ----------------------------
POOL=$(api_psql -At -c "SELECT automation.create_user_pool('closers', ARRAY['ann', 'bob'])")
FORM=(-F "name=Route web leads" -F "priority=10" -F "is_active=true" -F "description=" -F "entity_type=lead"
	-F "trigger_type=LEAD_CREATED" -F "stop_subsequent_rules=false" -F "actions[0][sort_order]=0"
	-F "actions[0][action_type]=ASSIGN_USER" -F "conditions[0][operator]=EXISTS"
	-F "conditions[0][field_path]=lead.lead_source_id" -F "conditions[0][sort_order]=0"
	-F "actions[0][assign_pool_id]=$POOL")
req POST "$API_URL/v1/rules" "${A[@]}" "${FORM[@]}"
check "POST /v1/rules multipart (the seed's form keys): 201" 201 "$STATUS"
normalize() { jq -S 'del(.data.id, .data.created_at, .data.updated_at) | .data.conditions[] |= del(.id) | .data.actions[] |= del(.id)' <<<"$1"; }
R_FORM=$(jq -r .data.id <<<"$BODY"); N_FORM=$(normalize "$BODY")
req DELETE "$API_URL/v1/rules/$R_FORM" "${A[@]}"
check "DELETE /v1/rules/{id}: 200" "200 true" "$STATUS $(jq -r .data.deleted <<<"$BODY")"
req GET "$API_URL/v1/rules/$R_FORM" "${A[@]}"
check "GET a deleted rule: 404 not_found" "404 not_found" "$STATUS $(code)"
# the form's blank description is kept as "" (create_rule's coercion), so the JSON says so too
req POST "$API_URL/v1/rules" "${A[@]}" "${J[@]}" -d "{\"name\": \"Route web leads\", \"priority\": 10, \"is_active\": true, \"description\": \"\",
	\"entity_type\": \"lead\", \"trigger_type\": \"LEAD_CREATED\", \"stop_subsequent_rules\": false,
	\"conditions\": [{\"field_path\": \"lead.lead_source_id\", \"operator\": \"EXISTS\", \"sort_order\": 0}],
	\"actions\": [{\"action_type\": \"ASSIGN_USER\", \"sort_order\": 0, \"assign_pool_id\": \"$POOL\"}]}"
check "POST /v1/rules JSON: 201" 201 "$STATUS"
check "the multipart form and the JSON body make the same rule" "$N_FORM" "$(normalize "$BODY")"
R_JSON=$(jq -r .data.id <<<"$BODY")
req DELETE "$API_URL/v1/rules/$R_JSON" "${A[@]}"
req POST "$API_URL/v1/rules" "${A[@]}" --data-urlencode "name=Route web leads" -d priority=10 -d is_active=true \
	-d entity_type=lead -d trigger_type=LEAD_CREATED -d stop_subsequent_rules=false \
	--data-urlencode "actions[0][sort_order]=0" --data-urlencode "actions[0][action_type]=ASSIGN_USER" \
	--data-urlencode "conditions[0][operator]=EXISTS" --data-urlencode "conditions[0][field_path]=lead.lead_source_id" \
	--data-urlencode "conditions[0][sort_order]=0" --data-urlencode "actions[0][assign_pool_id]=$POOL" -d description=
check "POST /v1/rules urlencoded: 201, the same rule" "201 $N_FORM" "$STATUS $(normalize "$BODY")"
RULE=$(jq -r .data.id <<<"$BODY")

# --- 3. every route ---------------------------------------------------------
req GET "$API_URL/v1/workflows/$WF" "${A[@]}"
check "GET /v1/workflows/{id}: the created record" "200 $WF 50" "$STATUS $(jq -r '.data.id + " " + (.data.max_triggers_per_day|tostring)' <<<"$BODY")"
req PATCH "$API_URL/v1/workflows/$WF" "${A[@]}" "${J[@]}" -d '{"max_triggers_per_day": 7}'
check "PATCH /v1/workflows/{id}" "200 7" "$STATUS $(jq -r .data.max_triggers_per_day <<<"$BODY")"
req POST "$API_URL/v1/workflows/$WF/disable" "${A[@]}"
check "POST /v1/workflows/{id}/disable" "200 false manual" "$STATUS $(jq -r '.data.enabled, .data.disabled_reason' <<<"$BODY" | paste -sd' ')"
req POST "$API_URL/v1/workflows/$WF/enable" "${A[@]}" "${J[@]}" -d '{}'
check "POST /v1/workflows/{id}/enable (empty JSON body)" "200 true" "$STATUS $(jq -r .data.enabled <<<"$BODY")"
for n in 2 3 4; do
	req POST "$API_URL/v1/workflows" "${A[@]}" "${J[@]}" -d "{\"name\": \"wf $n\", \"condition_entity\": \"deal\",
		\"condition_field\": \"status\", \"condition_operator\": \"equals\", \"condition_value\": \"lost\",
		\"action_type\": \"webhook\", \"action_config\": {\"url\": \"https://example.com/h\"}, \"enabled\": $([ $n = 4 ] && echo false || echo true)}"
done
req GET "$API_URL/v1/workflows?limit=2" "${A[@]}"
C1=$(jq -r .next_cursor <<<"$BODY")
check "GET /v1/workflows?limit=2: 2 and a cursor" "200 2 yes" "$STATUS $(jq '.data | length' <<<"$BODY") $([ "$C1" != null ] && echo yes)"
P1=$(jq -r '[.data[].id] | join(",")' <<<"$BODY")
req GET "$API_URL/v1/workflows?limit=2&cursor=$C1" "${A[@]}"
P2=$(jq -r '[.data[].id] | join(",")' <<<"$BODY")
check "second page: 2, last page (next_cursor null), no overlap" "200 2 null" "$STATUS $(jq '.data | length' <<<"$BODY") $(jq -r .next_cursor <<<"$BODY")"
check "pages in id order, all four" 4 "$(echo "$P1,$P2" | tr , '\n' | sort -u | wc -l)"
limits=""
for l in 0 101 abc %2B5 %205 5x ""; do
	req GET "$API_URL/v1/workflows?limit=$l" "${A[@]}"
	limits="$limits $STATUS"
done
check "limit must be digits from 1 to 100 (0 101 abc +5 ' 5' 5x '')" " 400 400 400 400 400 400 400" "$limits"
req GET "$API_URL/v1/workflows?enabled=false" "${A[@]}"
check "filter enabled=false" '200 ["wf 4"]' "$STATUS $(jq -c '[.data[].name]' <<<"$BODY")"
req GET "$API_URL/v1/workflows?entity=contact" "${A[@]}"
check "filter entity" '200 []' "$STATUS $(jq -c '.data' <<<"$BODY")"
req GET "$API_URL/v1/rules?entity=lead&is_active=true" "${A[@]}"
check "GET /v1/rules with filters" "200 $RULE" "$STATUS $(jq -r '[.data[].id] | join(",")' <<<"$BODY")"
req PATCH "$API_URL/v1/rules/$RULE" "${A[@]}" "${J[@]}" -d '{"priority": 20}'
check "PATCH /v1/rules/{id}" "200 20" "$STATUS $(jq -r .data.priority <<<"$BODY")"
req GET "$API_URL/v1/rules/$RULE" "${A[@]}"
check "GET /v1/rules/{id}" "200 20" "$STATUS $(jq -r .data.priority <<<"$BODY")"

api_psql -c "INSERT INTO deals (id, name, status, value, currency) VALUES (1, 'Acme', 'open', 10, 'EUR')" \
	-c "UPDATE deals SET status = 'won' WHERE id = 1"
req GET "$API_URL/v1/jobs?status=queued" "${A[@]}"
check "GET /v1/jobs: the won deal's channel message" "200 send_channel_message" "$STATUS $(jq -r '[.data[].action_type] | join(",")' <<<"$BODY")"
req GET "$API_URL/v1/firings?workflow_id=$WF" "${A[@]}"
check "GET /v1/firings?workflow_id=" "200 fired" "$STATUS $(jq -r '[.data[].outcome] | join(",")' <<<"$BODY")"
req GET "$API_URL/v1/circuit-breakers?limit=1" "${A[@]}"
check "GET /v1/circuit-breakers" "200 1" "$STATUS $(jq '.data | length' <<<"$BODY")"
req GET "$API_URL/v1/alerts" "${A[@]}"
check "GET /v1/alerts" "200 0 null" "$STATUS $(jq '.data | length' <<<"$BODY") $(jq -r .next_cursor <<<"$BODY")"
req POST "$API_URL/v1/backtest" "${A[@]}" "${J[@]}" -d "{\"id\": \"$WF\", \"sample\": 5}"
if api_psql -At -c "SELECT to_regprocedure('automation.backtest(text, integer)') IS NOT NULL" | grep -q t; then
	check "POST /v1/backtest" "200 yes" "$STATUS $(jq -e '.data | has("evaluated") and has("matched")' <<<"$BODY" >/dev/null && echo yes)"
else
	check "POST /v1/backtest without automation.backtest: 501 not_implemented" "501 not_implemented" "$STATUS $(code)"
fi
req GET "$API_URL/v1/openapi.json"
check "GET /v1/openapi.json without a key" "200 yes" "$STATUS $(jq -e '.openapi | startswith("3.1")' <<<"$BODY" >/dev/null && echo yes)"
req GET "$API_URL/healthz"
check "GET /healthz" "200 ok" "$STATUS $(jq -r .data.status <<<"$BODY")"
req DELETE "$API_URL/v1/workflows/$WF" "${A[@]}"
check "DELETE /v1/workflows/{id}" "200 $WF" "$STATUS $(jq -r .data.id <<<"$BODY")"

# --- 4. errors --------------------------------------------------------------
req GET "$API_URL/v1/workflows"
check "no key: 401 invalid_key, envelope, the client's rate-limit headers" "401 invalid_key yes 600 yes" \
	"$STATUS $(code) $(envelope_ok) $(hdr X-RateLimit-Limit) $([ -n "$(hdr X-RateLimit-Remaining)" ] && [ -n "$(hdr X-RateLimit-Reset)" ] && echo yes)"
req GET "$API_URL/v1/workflows" -H "Authorization: Bearer wbk_$(printf '0%.0s' $(seq 64))"
check "unknown key: 401" "401 invalid_key" "$STATUS $(code)"
REV=$(api_key revoked read:workflows)
REV_ID=$(api_psql -At -c "SELECT id FROM automation.api_keys WHERE name = 'revoked'")
req GET "$API_URL/v1/workflows" -H "Authorization: Bearer $REV"
check "a key works before revocation" 200 "$STATUS"
api_psql -c "SELECT automation.revoke_api_key('$REV_ID')" >/dev/null
req GET "$API_URL/v1/workflows" -H "Authorization: Bearer $REV"
check "revoked key: 401 on the next request" "401 invalid_key" "$STATUS $(code)"
EXP=$(api_psql -At -c "SELECT automation.create_api_key('expiring', '{read:workflows}', 'crm_admin', expires_at => clock_timestamp() + interval '1 second') ->> 'key'")
req GET "$API_URL/v1/workflows" -H "Authorization: Bearer $EXP"
check "a key works before it expires" 200 "$STATUS"
sleep 1.2
req GET "$API_URL/v1/workflows" -H "Authorization: Bearer $EXP"
check "expired key: 401" "401 invalid_key" "$STATUS $(code)"

RO=$(api_key readonly read:workflows)
req POST "$API_URL/v1/workflows" -H "Authorization: Bearer $RO" "${J[@]}" -d '{"name": "x"}'
check "key without write:workflows: 403 insufficient_permissions, rate headers" "403 insufficient_permissions yes 600" \
	"$STATUS $(code) $(envelope_ok) $(hdr X-RateLimit-Limit)"
WEAK=$(api_key weak read:workflows,write:workflows crm_reader)
req POST "$API_URL/v1/workflows" -H "Authorization: Bearer $WEAK" "${J[@]}" -d '{"name": "by a reader", "condition_entity": "deal",
	"condition_field": "status", "condition_operator": "equals", "condition_value": "x", "action_type": "webhook",
	"action_config": {"url": "https://example.com/h"}}'
check "the database refuses (42501): 403" "403 insufficient_permissions" "$STATUS $(code)"
req GET "$API_URL/v1/workflows/wf_01AAAAAAAAAAAAAAAAAAAAAAAA" "${A[@]}"
check "unknown workflow: 404 not_found" "404 not_found yes" "$STATUS $(code) $(envelope_ok)"
req GET "$API_URL/v1/rules/00000000-0000-4000-8000-000000000000" "${A[@]}"
check "unknown rule: 404" "404 not_found" "$STATUS $(code)"
req GET "$API_URL/v1/rules/not-a-uuid" "${A[@]}"
check "a rule id that is no UUID: 404" "404 not_found" "$STATUS $(code)"
req GET "$API_URL/v1/nothing" "${A[@]}"
check "unknown route: 404" "404 not_found" "$STATUS $(code)"
req PUT "$API_URL/v1/workflows" "${A[@]}"
check "a method the path does not take: 404, Allow" "404 POST, GET" "$STATUS $(hdr Allow)"
WFBODY='{"name": "wf 2", "condition_entity": "deal", "condition_field": "status", "condition_operator": "equals",
	"condition_value": "lost", "action_type": "webhook", "action_config": {"url": "https://example.com/h"}}'
req POST "$API_URL/v1/workflows" "${A[@]}" "${J[@]}" -d "$WFBODY"
check "duplicate name: 409 duplicate_name" "409 duplicate_name yes" "$STATUS $(code) $(envelope_ok)"
head -c 5000 /dev/zero | tr '\0' 'x' >"$TMP/big"
req POST "$API_URL/v1/workflows" "${A[@]}" "${J[@]}" --data-binary @"$TMP/big"
check "a body over --max-body: 413 payload_too_large" "413 payload_too_large yes" "$STATUS $(code) $(envelope_ok)"
req POST "$API_URL/v1/workflows" "${A[@]}" "${J[@]}" -H "Transfer-Encoding: chunked" --data-binary @"$TMP/big"
check "a chunked body over --max-body: 413" "413 payload_too_large" "$STATUS $(code)"

LIM=$(api_key limited read:workflows crm_admin "" 3)
for i in 1 2 3; do req GET "$API_URL/v1/workflows?limit=1" -H "Authorization: Bearer $LIM"; done
check "3rd request of a 3/min key: 200, Remaining 0" "200 3 0" "$STATUS $(hdr X-RateLimit-Limit) $(hdr X-RateLimit-Remaining)"
req GET "$API_URL/v1/workflows?limit=1" -H "Authorization: Bearer $LIM"
check "4th: 429 rate_limited, Retry-After 20, headers" "429 rate_limited yes 20 3 0" \
	"$STATUS $(code) $(envelope_ok) $(hdr Retry-After) $(hdr X-RateLimit-Limit) $(hdr X-RateLimit-Remaining)"
check "X-RateLimit-Reset: seconds until the bucket is full again" 60 "$(hdr X-RateLimit-Reset)"

# a refused key runs nothing (the key check, its guard and the call share
# one round trip): a body any accepted key would create, sent with a
# revoked key, a key without the scope and a key past its limit, while the
# login role itself could create it (INHERIT for this test): the call must
# not run at all, as the login role or any other
RBODY='{"name": "refused key", "condition_entity": "deal", "condition_field": "status", "condition_operator": "equals",
	"condition_value": "refused", "action_type": "webhook", "action_config": {"url": "https://example.com/h"}}'
api_psql -c "ALTER ROLE automation_api INHERIT"
REVW=$(api_key revoked_writer write:workflows)
api_psql -c "SELECT automation.revoke_api_key(id) FROM automation.api_keys WHERE name = 'revoked_writer'" >/dev/null
req POST "$API_URL/v1/workflows" -H "Authorization: Bearer $REVW" "${J[@]}" -d "$RBODY"
R1="$STATUS $(code)"
req POST "$API_URL/v1/workflows" -H "Authorization: Bearer $RO" "${J[@]}" -d "$RBODY"
R2="$STATUS $(code)"
LIMW=$(api_key limited_writer write:workflows crm_admin "" 1)
req GET "$API_URL/v1/workflows/wf_01AAAAAAAAAAAAAAAAAAAAAAAA" -H "Authorization: Bearer $LIMW"
req POST "$API_URL/v1/workflows" -H "Authorization: Bearer $LIMW" "${J[@]}" -d "$RBODY"
R3="$STATUS $(code)"
check "refused keys: 401, 403, 429, and no workflow" "401 invalid_key 403 insufficient_permissions 429 rate_limited 0" \
	"$R1 $R2 $R3 $(api_psql -At -c "SELECT count(*) FROM automation.workflows WHERE name = 'refused key'")"
api_psql -c "ALTER ROLE automation_api NOINHERIT"
req POST "$API_URL/v1/workflows" "${A[@]}" "${J[@]}" -d "$RBODY"
check "... the same body with an accepted key: 201" 201 "$STATUS"

req GET "$API_URL/v1/workflows?limit=1" "${A[@]}" -H "X-Request-ID: trace-123.abc_X"
check "X-Request-ID echoed" "trace-123.abc_X" "$(hdr X-Request-ID)"
req GET "$API_URL/v1/workflows?limit=1" "${A[@]}" -H "X-Request-ID: bad id;<script>"
check "an invalid X-Request-ID is replaced by a ULID" yes "$(hdr X-Request-ID | grep -qE '^[0-9A-HJKMNP-TV-Z]{26}$' && echo yes)"
req GET "$API_URL/v1/workflows/nope" "${A[@]}" -H "X-Request-ID: err-1"
check "the error envelope's request_id is the X-Request-ID" "err-1 err-1" "$(jq -r .request_id <<<"$BODY") $(hdr X-Request-ID)"

# requests without a valid key: limited per client address (--anonymous-rate-limit)
MAIN_URL=$API_URL
api_start --anonymous-rate-limit 3
for i in 1 2 3; do req GET "$API_URL/v1/workflows" -H "Authorization: Bearer wbk_$i"; done
check "3 requests with bad keys at --anonymous-rate-limit 3: 401, Remaining 0" "401 3 0" "$STATUS $(hdr X-RateLimit-Limit) $(hdr X-RateLimit-Remaining)"
req GET "$API_URL/v1/workflows"
check "the 4th (no key): 429 rate_limited with Retry-After 20" "429 rate_limited 20" "$STATUS $(code) $(hdr Retry-After)"
req GET "$API_URL/v1/workflows" "${A[@]}"
check "a valid key is not limited by the client's bad ones" 200 "$STATUS"
kill -TERM "$API_PID"; wait "$API_PID"
API_URL=$MAIN_URL

# --- 5. idempotency and tenants ---------------------------------------------
IK=7b0c9a1e-3f2d-4c55-9a77-1d2e3f405060
body() { echo "{\"name\": \"$1\", \"condition_entity\": \"deal\", \"condition_field\": \"status\", \"condition_operator\": \"equals\",
	\"condition_value\": \"lost\", \"action_type\": \"webhook\", \"action_config\": {\"url\": \"https://example.com/h\"}}"; }
req POST "$API_URL/v1/workflows" "${A[@]}" "${J[@]}" -H "Idempotency-Key: $IK" -d "$(body idem)"
FIRST="$STATUS $BODY"
req POST "$API_URL/v1/workflows" "${A[@]}" "${J[@]}" -H "Idempotency-Key: $IK" -d "$(body idem)"
check "Idempotency-Key replay: the first status and body" "$FIRST" "$STATUS $BODY"
check "the replay created nothing" 1 "$(api_psql -At -c "SELECT count(*) FROM automation.workflows WHERE name = 'idem'")"
req POST "$API_URL/v1/workflows" "${A[@]}" "${J[@]}" -H "Idempotency-Key: $IK" -d "$(body idem2)"
check "the same key with another body: 409 idempotency_conflict" "409 idempotency_conflict" "$STATUS $(code)"
req POST "$API_URL/v1/workflows" "${A[@]}" "${J[@]}" -H "Idempotency-Key: not-a-uuid" -d "$(body idem3)"
check "Idempotency-Key not a UUID: 400 validation_error" "400 validation_error" "$STATUS $(code)"

ACME=$(api_key acme read:workflows,write:workflows crm_admin acme)
GLOBEX=$(api_key globex read:workflows,write:workflows crm_admin globex)
req POST "$API_URL/v1/workflows" -H "Authorization: Bearer $ACME" "${J[@]}" -d "$(body acme-only)"
ACME_WF=$(jq -r .data.id <<<"$BODY")
check "a tenant key creates in its tenant" "201 acme" "$STATUS $(api_psql -At -c "SELECT tenant_id FROM automation.workflows WHERE id = '$ACME_WF'")"
req GET "$API_URL/v1/workflows/$ACME_WF" -H "Authorization: Bearer $GLOBEX"
check "another tenant's key: 404" "404 not_found" "$STATUS $(code)"
req GET "$API_URL/v1/workflows?limit=100" -H "Authorization: Bearer $GLOBEX"
check "another tenant's list does not show it" 0 "$(jq "[.data[] | select(.id == \"$ACME_WF\")] | length" <<<"$BODY")"
req GET "$API_URL/v1/workflows/$ACME_WF" -H "Authorization: Bearer $GLOBEX" -H "X-Tenant-ID: acme"
check "a tenant key naming another tenant in the header: 403" "403 insufficient_permissions" "$STATUS $(code)"
req GET "$API_URL/v1/workflows/$ACME_WF" -H "Authorization: Bearer $ACME" -H "X-Tenant-ID: acme"
check "a tenant key naming its own tenant: 200" 200 "$STATUS"
req GET "$API_URL/v1/workflows/$ACME_WF" "${A[@]}" -H "X-Tenant-ID: acme"
check "a key without a tenant takes the header's" 200 "$STATUS"
req GET "$API_URL/v1/workflows/$ACME_WF" "${A[@]}"
check "... and without the header sees no tenant's rows" 404 "$STATUS"
req PATCH "$API_URL/v1/workflows/$ACME_WF" -H "Authorization: Bearer $GLOBEX" "${J[@]}" -d '{"name": "taken over"}'
check "another tenant cannot change it" "404 acme-only" "$STATUS $(api_psql -At -c "SELECT name FROM automation.workflows WHERE id = '$ACME_WF'")"

# what the database sees during a request: the key's role, the tenant, the request id
api_psql <<'SQL'
CREATE TABLE public.seen (request_id text, tenant text, usr name, session_usr name);
GRANT INSERT ON public.seen TO PUBLIC;
CREATE FUNCTION public.record_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.seen VALUES (current_setting('automation.request_id', true),
		current_setting('automation.tenant', true), current_user, session_user);
	RETURN NEW;
END $$;
CREATE TRIGGER record_seen AFTER INSERT ON automation.workflows FOR EACH ROW EXECUTE FUNCTION public.record_seen();
SQL
req POST "$API_URL/v1/workflows" "${A[@]}" "${J[@]}" -H "X-Request-ID: seen-1" -H "X-Tenant-ID: initech" -d "$(body seen)"
check "the request ran as the key's role, in the header's tenant, with its request id" \
	"201 seen-1|initech|crm_admin|automation_api" "$STATUS $(api_psql -At -c 'SELECT request_id, tenant, usr, session_usr FROM public.seen')"
api_psql -c "DROP TRIGGER record_seen ON automation.workflows" -c "DROP TABLE public.seen" -c "DROP FUNCTION public.record_seen()"
check "between requests no session of the server holds a transaction open" "0 yes" \
	"$(api_psql -At -c "SELECT count(*) FILTER (WHERE state <> 'idle'), count(*) > 0 FROM pg_stat_activity WHERE application_name = 'automation-api'" | sed 's/|t$/ yes/')"

# --- 6. the database away, SIGTERM ------------------------------------------
api_start --dbname "host=127.0.0.1 port=1 dbname=api user=automation_api connect_timeout=1" 2>/dev/null
req GET "$API_URL/healthz"
check "/healthz without a database: 503 unavailable" "503 unavailable" "$STATUS $(code)"
req GET "$API_URL/v1/workflows" "${A[@]}"
check "a request without a database: 503 unavailable" "503 unavailable yes" "$STATUS $(code) $(envelope_ok)"
api_stop_all

api_start --pool 2
URL=$API_URL
req GET "$URL/v1/workflows?limit=1" "${A[@]}"
cluster_restart
statuses=""
for i in $(seq 1 40); do
	req GET "$URL/v1/workflows?limit=1" "${A[@]}"
	statuses="$statuses $STATUS"
	[ "$STATUS" = 200 ] && break
	sleep 0.1
done
check "after a database restart: 503 or 200 only, then 200" "yes 200" \
	"$(grep -qvE '^( (200|503))+$' <<<"$statuses" && echo "no:$statuses" || echo yes) $STATUS"
req GET "$URL/healthz"
check "/healthz after the restart" 200 "$STATUS"

# a request whose database session is terminated mid-statement: 503, then recovery
# (on a loaded machine the request may take a while to reach the lock: wait
# for it to wait, then terminate it, then end the locker)
psql -X -q -d api -c "SET application_name = 'api-test-locker'; BEGIN;
	LOCK TABLE automation.workflows IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(20); COMMIT;" >/dev/null 2>&1 &
LOCKER=$!
for i in $(seq 1 100); do
	[ "$(psql -X -q -At -d api -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE a.application_name = 'api-test-locker' AND l.relation = 'automation.workflows'::regclass AND l.granted")" = 1 ] && break
	sleep 0.1
done
curl -s -o "$TMP/killed" -w '%{http_code}' "$URL/v1/workflows?limit=1" "${A[@]}" >"$TMP/killed_status" &
CURL=$!
for i in $(seq 1 100); do
	[ "$(psql -X -q -At -d api -c "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'automation-api' AND wait_event_type = 'Lock'")" -ge 1 ] && break
	sleep 0.1
done
psql -X -q -At -d api -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	WHERE application_name = 'automation-api' AND wait_event_type = 'Lock'" >"$TMP/terminated"
wait "$CURL"
psql -X -q -At -d api -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	WHERE application_name = 'api-test-locker'" >/dev/null
[ "$(cat "$TMP/terminated")" = 1 ] || { echo "# server log:"; tail -20 "$API_LOG" | sed "s/^/#   /"; }
check "the request whose session was terminated: 503 unavailable" "1 503 unavailable" \
	"$(cat "$TMP/terminated") $(cat "$TMP/killed_status") $(jq -r .error.code "$TMP/killed")"
wait "$LOCKER"
req GET "$URL/v1/workflows?limit=1" "${A[@]}"
check "the next request is served" 200 "$STATUS"

# SIGTERM while a request waits for a lock: it is answered, the server exits 0
PID=$API_PID
psql -X -q -d api -c "BEGIN; LOCK TABLE automation.workflows IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1.5); COMMIT;" >/dev/null &
LOCKER=$!
sleep 0.3
curl -s -o "$TMP/drain" -w '%{http_code}' "$URL/v1/workflows?limit=1" "${A[@]}" >"$TMP/drain_status" &
CURL=$!
sleep 0.3
kill -TERM "$PID"
sleep 0.2
check "after SIGTERM new connections are refused" 000 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/healthz")"
wait "$CURL"
check "the request in flight is answered" 200 "$(cat "$TMP/drain_status")"
wait "$PID"
check "the server exits 0 after draining" 0 "$?"
wait "$LOCKER"
API_PIDS=()

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
