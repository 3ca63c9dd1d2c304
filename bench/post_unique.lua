-- post_unique.lua -- wrk script: POST the same ~6 KB body, but every request is a distinct delivery.
--
-- Tollgate dedupes on Idempotency-Key (else SHA-256 of event + body); a plain wrk POST
-- would be a cheap duplicate after the first request. Here each request carries its own
-- Idempotency-Key "<prefix>-<thread>-<n>" and the same sequence replaces a placeholder in
-- the body (same length, so Content-Length never changes).
--
-- usage: BODY_FILE=payload.json [BODY_PLACEHOLDER=@@BENCH_SEQUENCE@@] [KEY_PREFIX=wrk-123] \
--        wrk -t1 -c32 -d10s -s bench/post_unique.lua URL
-- Extra headers: HEADERS='X-Gitlab-Token: t|X-Gitlab-Event: Pipeline Hook' (| separated).

local body_file = os.getenv("BODY_FILE") or error("post_unique.lua: set BODY_FILE")
local placeholder = os.getenv("BODY_PLACEHOLDER") or "@@BENCH_SEQUENCE@@"
local prefix = os.getenv("KEY_PREFIX") or ("wrk-" .. tostring(os.time()))

local f = assert(io.open(body_file, "rb"))
local body = f:read("*a")
f:close()

local s, e = string.find(body, placeholder, 1, true)
local head, tail, width
if s then
   head, tail, width = string.sub(body, 1, s - 1), string.sub(body, e + 1), e - s + 1
end

local headers = {["Content-Type"] = "application/json"}
for h in string.gmatch(os.getenv("HEADERS") or "", "[^|]+") do
   local name, value = string.match(h, "^%s*([^:]+):%s*(.-)%s*$")
   if name then headers[name] = value end
end

-- wrk runs setup() in the main Lua state, then each thread's script in its own state.
local threads = 0
function setup(thread)
   threads = threads + 1
   thread:set("thread_id", threads)
end

local n = 0
local fmt = "%0" .. tostring(width or 1) .. "d"

function request()
   n = n + 1
   local seq = (thread_id or 0) * 1000000000 + n
   headers["Idempotency-Key"] = prefix .. "-" .. seq
   local b = body
   if head then
      b = head .. string.format(fmt, seq) .. tail
   end
   return wrk.format("POST", nil, headers, b)
end

-- Prints the counts the benchmark script parses (wrk's own summary says nothing of 2xx).
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("RESULT requests=%d secs=%.3f rps=%.1f non2xx=%d connect=%d read=%d write=%d timeout=%d p50_ms=%.3f p99_ms=%.3f\n",
      summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
      e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
