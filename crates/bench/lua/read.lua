-- The same GET with a bearer token on every request: built once by wrk, so
-- the load generator spends as little as it can per request.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "none")
