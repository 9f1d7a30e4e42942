-- GET with each token of the file BENCH_TOKENS (one per line) in turn; the
-- thread stops once it has an answer for every token. Run with one thread.
local tokens = {}
local next_token = 0
local answers = 0
statuses = {}

function init(args)
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
    wrk.thread:stop()
  end
end
