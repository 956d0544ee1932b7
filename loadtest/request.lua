-- wrk script for loadtest/run.sh: POSTs one fixed JSON body and prints a
-- machine-readable summary line at the end.
--
-- Environment (read by every wrk thread):
--   LT_BODY_FILE  path of the JSON request body to send (required)
--   LT_AUTH       bearer token; sent as `Authorization: Bearer $LT_AUTH` when set
--   LT_DELAY_MS   when set, each connection waits this many ms before each
--                 request (wrk's delay() hook): N connections then offer about
--                 N * 1000 / (LT_DELAY_MS + latency) requests/s, a fixed rate
--
-- The summary line looks like
--   LT_RESULT requests=N duration_us=N rps=F p50_us=N p99_us=N ... err_status=N ...
-- where err_status counts responses with a status >= 400 (wrk's "Non-2xx or
-- 3xx responses") and the other err_* are wrk's socket errors.

local body_file = os.getenv("LT_BODY_FILE")
if body_file == nil or body_file == "" then
  error("LT_BODY_FILE is not set")
end
local f = assert(io.open(body_file, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("LT_AUTH")
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. auth
end

local delay_ms = tonumber(os.getenv("LT_DELAY_MS") or "")
if delay_ms ~= nil and delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "LT_RESULT requests=%d duration_us=%d bytes=%d rps=%.1f " ..
    "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
