-- wrk script of the benchmark: POST /v1/messages with a distinct 2 KB JSON body per request,
-- Claude-Code-like headers, and a JSON summary printed by done().
--
-- Arguments (after `--`): stream|json|mixed  auth-header  auth-value  extra-header-or-"-"  limit
--   stream|json|mixed  "stream":true in every body, in none, or in every second one
--   auth-header        x-api-key or authorization (value as given)
--   extra              an anthropic-beta value to send, or "-"
--   limit              stop after this many responses (0: run for the -d duration)

local BODY_SIZE = 2048
local mode, auth_header, auth_value, beta, limit
local counter = 0
local responses = 0
local thread_id = 0
local next_thread_id = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

local head_json, head_stream, tail, pad
local headers

function init(args)
  mode = args[1] or "json"
  auth_header = args[2] or "x-api-key"
  auth_value = args[3] or ""
  beta = args[4] or "-"
  limit = tonumber(args[5] or "0") or 0
  headers = {
    ["content-type"] = "application/json",
    ["anthropic-version"] = "2023-06-01",
    ["user-agent"] = "claude-cli/2.1.0 (external, cli)",
    ["x-app"] = "cli",
    ["accept"] = "application/json",
  }
  headers[auth_header] = auth_value
  if beta ~= "-" then headers["anthropic-beta"] = beta end
  head_json = '{"model":"claude-sonnet-4-5-20250929","max_tokens":1024,"messages":[{"role":"user","content":"'
  head_stream = '{"model":"claude-sonnet-4-5-20250929","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"'
  tail = '"}],"metadata":{"user_id":"user_bench_account__session_0000"}}'
  pad = string.rep("x", BODY_SIZE)
  if limit > 0 then
    function response(status, hdrs, body)
      responses = responses + 1
      if responses == limit then
        wrk.thread:stop()
        -- wrk waits out its -d duration even after its threads stop: the runner sends SIGINT on this line.
        io.write("LIMIT_REACHED\n")
        io.stdout:flush()
      end
    end
  end
end

function request()
  counter = counter + 1
  local head = head_json
  if mode == "stream" or (mode == "mixed" and counter % 2 == 0) then head = head_stream end
  local tag = "req " .. thread_id .. "-" .. counter .. " "
  local fill = BODY_SIZE - #head - #tag - #tail
  -- One conversation per 8 requests or so: a session id changes now and then, like real clients.
  headers["x-claude-code-session-id"] = "bench-session-" .. thread_id .. "-" .. (counter % 8)
  return wrk.format("POST", "/v1/messages", headers, head .. tag .. pad:sub(1, fill) .. tail)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
