-- wrk `done` callback: one machine-readable line with throughput, latency percentiles and errors.
-- wrk's own --latency table stops at p99 only for some builds and is awkward to parse; this is exact.
done = function(summary, latency, requests)
   local errors = summary.errors
   local socket_errors = errors.connect + errors.read + errors.write + errors.timeout
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      errors.status, socket_errors))
end
