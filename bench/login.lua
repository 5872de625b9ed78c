-- wrk script: POST /v1/auth/login, each request as the next of BENCH_USERS users whose body is
-- BENCH_LOGIN_TEMPLATE with the user's number in place of %d (one account signing in many times
-- at once is what the brute-force limit stops), reported as wrk-report.lua does.
local users = tonumber(os.getenv("BENCH_USERS") or "1")
local template = os.getenv("BENCH_LOGIN_TEMPLATE")
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
   counter = counter + 1
   return wrk.format(nil, nil, nil, string.format(template, counter % users))
end
dofile(os.getenv("BENCH_DIR") .. "/wrk-report.lua")
