-- luvit's luv: N coroutines, each sleeping 10 s on a uv timer of its own that resumes
-- it (the idiomatic sleep). A timer at 200 ms measures, then closes every timer.
local uv = require "luv"
local bench = require "bench"
assert(uv.new_timer, "this is not luvit's luv")

local N = bench.arg(1, 10000)
local timers = {}

local function sleep(ms, slot)
    local co = coroutine.running()
    local t = uv.new_timer()
    timers[slot] = t
    t:start(ms, 0, function()
        t:close()
        assert(coroutine.resume(co))
    end)
    coroutine.yield()
end

-- Warm up the loop before the baseline.
coroutine.wrap(function() sleep(0, 1) end)()
uv.run()
for i = 1, N do
    timers[i] = false
end
local rss0, heap0 = bench.settled_rss()

for i = 1, N do
    coroutine.wrap(function() sleep(10000, i) end)()
end

local measure = uv.new_timer()
measure:start(200, 0, function()
    measure:close()
    local rss, heap = bench.settled_rss()
    bench.result("sleeper_rss", (rss - rss0) / N, "KiB/fiber")
    bench.result("sleeper_heap", (heap - heap0) / N, "KiB/fiber")
    for i = 1, N do
        timers[i]:close()  -- "cancel": the coroutines are dropped
    end
end)
uv.run()
