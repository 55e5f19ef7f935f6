#!/usr/bin/env bash
# test/e2e/api_ratelimit.sh: a key's rate limit is exact across several
# automation-api processes of one server (issue 13, item 3; SPEC section 13).
#
# Two automation-api processes serve one database; 60 concurrent clients
# (20 at a time, spread over both) send requests with one key whose
# rate_limit is 12 per minute, and the same with a second key of limit 5:
# exactly 12 (5) requests pass and the others get 429 rate_limited with
# Retry-After.  The buckets refill one token per 5 s (12 s), longer than the
# test, so "per window" is the whole run.  The buckets live in the
# extension's shared memory: a per-process count would pass up to twice as
# many.  ~3 s.
set -u
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
. test/lib/api.sh
. test/lib/expect.sh
TMP=$(mktemp -d /tmp/api-ratelimit.XXXXXX)
trap 'api_stop_all; rm -rf "$TMP"' EXIT

api_setup
api_start --pool 4
URL1=$API_URL
api_start --pool 4
URL2=$API_URL

# burst KEY N: N requests, 20 at a time, alternating servers; one status per line
burst() {
	local key=$1 n=$2
	for i in $(seq 1 "$n"); do
		if [ $((i % 2)) = 0 ]; then echo "$URL1"; else echo "$URL2"; fi
	done | xargs -P 20 -I{} curl -s -o /dev/null \
		-w 'STATUS %{http_code} LIMIT %header{x-ratelimit-limit} REMAINING %header{x-ratelimit-remaining} RETRY %header{retry-after}\n' \
		-H "Authorization: Bearer $key" "{}/v1/workflows?limit=1" >"$TMP/out"
}

for limit in 12 5; do
	KEY=$(api_key "limit $limit" read:workflows crm_admin "" "$limit")
	burst "$KEY" 60
	check "limit $limit over two processes: exactly $limit pass" "$limit" "$(grep -c '^STATUS 200' "$TMP/out")"
	check "limit $limit: the other $((60 - limit)) get 429" "$((60 - limit))" "$(grep -c '^STATUS 429' "$TMP/out")"
	check "limit $limit: every response has X-RateLimit-Limit $limit" 60 "$(grep -c " LIMIT $limit " "$TMP/out")"
	check "limit $limit: every 429 has Retry-After and Remaining 0" "$((60 - limit))" "$(grep -cE '^STATUS 429 .* REMAINING 0 RETRY [1-9]' "$TMP/out")"
	# Remaining counts down across both processes: each of limit-1 .. 0 once among the 200s
	check "limit $limit: the passing requests saw Remaining $((limit - 1)) down to 0, each once" \
		"$(seq 0 $((limit - 1)) | paste -sd' ')" \
		"$(awk '$2 == 200 { print $6 }' "$TMP/out" | sort -n | paste -sd' ')"
done
# the two keys' buckets are independent of a third key
OTHER=$(api_key other read:workflows crm_admin "" 600)
check "another key is not limited by them" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OTHER" "$URL1/v1/workflows?limit=1")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
