-- test/bench/api_post.lua: wrk script of test/bench/api.sh for
-- POST /v1/workflows.  Every request creates a new workflow: the seed's body
-- with a name unique to the run (BENCH_RUN), the wrk thread and a counter.
-- Any status but 201 counts as an error in wrk's summary (done() prints them).

local key = os.getenv("BENCH_KEY")
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local threads = {}
local next_thread = 0

function setup(thread)
	next_thread = next_thread + 1
	thread:set("thread_no", next_thread)
	table.insert(threads, thread)
end

function init(args)
	counter = 0
	not_created = 0
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["Authorization"] = "Bearer " .. key
end

function request()
	counter = counter + 1
	local body = string.format([[{"name": "api %s %d %d",
 "condition_entity": "deal", "condition_field": "status",
 "condition_operator": "changed_to", "condition_value": "won",
 "action_type": "send_channel_message",
 "action_config": {"channel": "slack", "recipient": "#sales-wins",
                   "message": "Deal {{deal.name}} closed at {{deal.value}} {{deal.currency}}"},
 "max_triggers_per_day": 50}]], run, thread_no, counter)
	return wrk.format(nil, "/v1/workflows", nil, body)
end

function response(status, headers, body)
	if status ~= 201 then
		not_created = not_created + 1
		if not_created <= 3 then
			io.stderr:write(string.format("status %d: %s\n", status, body))
		end
	end
end

function done(summary, latency, requests)
	local total = 0
	for _, thread in ipairs(threads) do
		total = total + thread:get("not_created")
	end
	io.write(string.format("not_created %d\n", total))
end
