-- wrk script: POST /v1/auth/login with the body in BENCH_LOGIN_BODY, reported as wrk-report.lua does.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BENCH_LOGIN_BODY")
dofile(os.getenv("BENCH_DIR") .. "/wrk-report.lua")
