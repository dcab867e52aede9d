-- wrk script of the benchmark: POST /v1/messages with a distinct 2 KB JSON body per request,
-- Claude-Code-like headers, and a JSON summary printed by done().
--
-- Arguments (after `--`): stream|json|mixed  auth-header  auth-value  extra-header-or-"-"  limit
--   stream|json|mixed  "stream":true in every body, in none, or in every second one
--   auth-header        x-api-key or authorization (value as given)
--   extra              an anthropic-beta value to send, or "-"
--   limit              stop after this many responses (0: run for the -d duration)
--   body               "-" for the 2 KB body, or a path P: the bodies are P.json and P.stream, each
--                      with one __REQ_TAG__ that is replaced by a distinct tag per request

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
-- A body read from files: the part before and after its __REQ_TAG__, per mode.
local file_body

local function split_template(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  local at = assert(text:find("__REQ_TAG__", 1, true), path .. " has no __REQ_TAG__")
  return { text:sub(1, at - 1), text:sub(at + #"__REQ_TAG__") }
end
local headers

function init(args)
  mode = args[1] or "json"
  auth_header = args[2] or "x-api-key"
  auth_value = args[3] or ""
  beta = args[4] or "-"
  limit = tonumber(args[5] or "0") or 0
  local body_path = args[6] or "-"
  if body_path ~= "-" then
    file_body = { json = split_template(body_path .. ".json"), stream = split_template(body_path .. ".stream") }
  end
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
  -- One conversation per 8 requests or so: a session id changes now and then, like real clients.
  headers["x-claude-code-session-id"] = "bench-session-" .. thread_id .. "-" .. (counter % 8)
  if file_body then
    local parts = file_body.json
    if head == head_stream then parts = file_body.stream end
    return wrk.format("POST", "/v1/messages", headers, parts[1] .. tag .. parts[2])
  end
  local fill = BODY_SIZE - #head - #tag - #tail
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
