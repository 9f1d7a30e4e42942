-- A mixed workload: 60% GET /api/v1/me, 25% PATCH /api/v1/me, 10% sign-ins,
-- 5% sign-ups of new accounts. BENCH_USERS is a file of "username token"
-- lines (accounts seeded with the password BENCH_PASSWORD).
local users = {}
local password = os.getenv("BENCH_PASSWORD")
local counter = 0
statuses = {}

function init(args)
  for line in io.lines(os.getenv("BENCH_USERS")) do
    local name, token = line:match("^(%S+) (%S+)$")
    if name then
      table.insert(users, { name = name, token = token })
    end
  end
  math.randomseed(os.time() * 100 + (id or 0))
end

local json_headers = { ["Content-Type"] = "application/json" }

function request()
  counter = counter + 1
  local user = users[math.random(#users)]
  local auth = { ["Authorization"] = "Bearer " .. user.token, ["Content-Type"] = "application/json" }
  local roll = math.random(100)
  if roll <= 5 then
    local name = string.format("soak-t%d-n%d", id or 0, counter)
    local body = string.format(
      '{"email":"%s@example.com","username":"%s","password":"%s","accept_terms":true}',
      name, name, password)
    return wrk.format("POST", "/api/v1/accounts", json_headers, body)
  elseif roll <= 15 then
    local body = string.format('{"login":"%s","password":"%s"}', user.name, password)
    return wrk.format("POST", "/api/v1/sessions", json_headers, body)
  elseif roll <= 40 then
    local body = string.format('{"display_name":"Soak %d-%d","bio":"edited"}', id or 0, counter)
    return wrk.format("PATCH", "/api/v1/me", auth, body)
  else
    return wrk.format("GET", "/api/v1/me", auth)
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
