-- wrk script for the gateway benchmark: POST a chat completion, a Responses request or an
-- Anthropic Messages request.
--
-- Configured through environment variables (run.sh sets them):
--   WRK_API           chat (default, POST /v1/chat/completions), responses (POST /v1/responses) or
--                     messages (POST /v1/messages); the URL must name the matching path
--   WRK_AUTH          bearer token for the Authorization header (optional)
--   WRK_PORTKEY_HOST  when set, adds Portkey's routing headers pointing at this base URL
--   WRK_PORTKEY_PROVIDER  Portkey's provider for those headers (default openai)
--   WRK_RATE          when set (> 0), paces requests to this many per second in total
--   WRK_THREADS       number of wrk threads (needed to split WRK_RATE), default 1
--   WRK_TALLY         when "1", counts responses per status code and prints them
--
-- done() prints one machine-readable line starting with "BENCH " that run.sh parses.

local getenv = os.getenv

local bodies = {
  chat = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}',
  responses = '{"model":"gpt-4o-mini","input":"Hello","store":false}',
  messages = '{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}',
}
local api = getenv("WRK_API")
if api == nil or api == "" then api = "chat" end
assert(bodies[api], "WRK_API must be chat, responses or messages")

wrk.method = "POST"
wrk.body = bodies[api]
wrk.headers["Content-Type"] = "application/json"
if api == "messages" then
  wrk.headers["anthropic-version"] = "2023-06-01"
end

local auth = getenv("WRK_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. auth
  if api == "messages" then
    wrk.headers["x-api-key"] = auth
  end
end

local portkey_host = getenv("WRK_PORTKEY_HOST")
if portkey_host and portkey_host ~= "" then
  local provider = getenv("WRK_PORTKEY_PROVIDER")
  if provider == nil or provider == "" then provider = "openai" end
  wrk.headers["x-portkey-provider"] = provider
  wrk.headers["x-portkey-custom-host"] = portkey_host
end

local threads_n = tonumber(getenv("WRK_THREADS") or "1") or 1
local rate = tonumber(getenv("WRK_RATE") or "0") or 0
local tally = getenv("WRK_TALLY") == "1"

-- Threads, kept by setup() so done() can read their counters.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

-- Fixed-rate mode: wrk calls delay() before every request; hand out send slots on a
-- per-thread schedule (interval = threads / rate). A connection that is still busy when
-- its slot passes sends as soon as it is free; a backlog older than 50 ms is dropped
-- rather than burst, so the offered rate never exceeds the target.
if rate > 0 then
  local ffi = require("ffi")
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clk_id, bench_timespec *tp);
  ]]
  local ts = ffi.new("bench_timespec")
  local CLOCK_MONOTONIC = 1
  local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
  local interval = threads_n * 1000 / rate
  local next_slot = nil

  function delay()
    local t = now_ms()
    if next_slot == nil or next_slot < t - 50 then
      next_slot = t
    end
    local wait = next_slot - t
    next_slot = next_slot + interval
    if wait < 0 then wait = 0 end
    return math.floor(wait + 0.5)
  end
end

-- Per-thread status counters, only when tallying: defining response() makes wrk hand
-- every response to Lua, which costs client CPU, so the measured runs leave it out.
statuses = {}
sample = nil
if tally then
  function response(status, headers, body)
    local k = tostring(status)
    statuses[k] = (statuses[k] or 0) + 1
    if status ~= 200 and sample == nil then
      sample = k .. " " .. string.gsub(string.sub(body or "", 1, 300), "%s+", " ")
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f mean_ms=%.3f " ..
    "err_connect=%d err_read=%d err_write=%d err_timeout=%d non2xx=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000, latency.mean / 1000,
    e.connect, e.read, e.write, e.timeout, e.status))
  if tally then
    local total = {}
    for _, thread in ipairs(threads) do
      local s = thread:get("statuses")
      if s then
        for k, v in pairs(s) do total[k] = (total[k] or 0) + v end
      end
      local smp = thread:get("sample")
      if smp then io.write("SAMPLE " .. smp .. "\n") end
    end
    local parts = {}
    for k, v in pairs(total) do table.insert(parts, k .. "=" .. v) end
    table.sort(parts)
    io.write("STATUSES " .. table.concat(parts, " ") .. "\n")
  end
end
