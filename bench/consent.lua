-- wrk script: POST /widget/v1/consents as a visitor's browser would, with the widget's cookies
-- (BENCH_COOKIE) and origin (BENCH_ORIGIN), reported as wrk-report.lua does.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
wrk.headers["Origin"] = os.getenv("BENCH_ORIGIN")
wrk.body = os.getenv("BENCH_CONSENT_BODY")
dofile(os.getenv("BENCH_DIR") .. "/wrk-report.lua")
