-- wrk script: POST /widget/v1/messages as a visitor's browser would, with the widget's cookies
-- (BENCH_COOKIE) and origin (BENCH_ORIGIN), asking in turn the questions of BENCH_BODIES (one
-- JSON body a line), reported as wrk-report.lua does.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
wrk.headers["Origin"] = os.getenv("BENCH_ORIGIN")
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do
   bodies[#bodies + 1] = line
end
local turn = 0
request = function()
   turn = turn + 1
   return wrk.format(nil, nil, nil, bodies[(turn % #bodies) + 1])
end
dofile(os.getenv("BENCH_DIR") .. "/wrk-report.lua")
