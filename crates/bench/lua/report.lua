-- Appended to every script: numbers each wrk thread, and prints the run's
-- summary as one JSON line that the bench reads. `statuses` is counted only
-- by scripts that define `response` (which costs a Lua call per answer).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function done(summary, latency, requests)
  local counts = {}
  local took = -1
  for _, t in ipairs(threads) do
    local t_took = t:get("took")
    if type(t_took) == "number" and t_took > took then
      took = t_took
    end
    local s = t:get("statuses")
    if type(s) == "table" then
      for status, n in pairs(s) do
        counts[status] = (counts[status] or 0) + n
      end
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"took_s":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(90)),
    math.floor(latency:percentile(99)), math.floor(latency.max), took, table.concat(parts, ",")))
end
