-- wrk script for the serve benchmark: POSTs the body in $BENCH_BODY as an Inngest dev
-- executor does, and prints one machine-readable BENCH line when done.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Inngest-Server-Kind"] = "dev"
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"socket_errors":%d,"non_2xx":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
