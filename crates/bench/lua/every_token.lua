-- GET with each token of the file BENCH_TOKENS (one per line) in turn; the
-- thread stops once it has an answer for every token. Run with one thread.
local tokens = {}
local next_token = 0
local answers = 0
local started = 0
statuses = {}
took = -1

function init(args)
  started = os.time()
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if line ~= "" then
      table.insert(tokens, line)
    end
  end
end

function request()
  next_token = next_token % #tokens + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[next_token] })
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  answers = answers + 1
  if answers >= #tokens then
    took = os.time() - started
    wrk.thread:stop()
  end
end
