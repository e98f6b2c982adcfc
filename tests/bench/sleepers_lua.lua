-- Baseline: N bare Lua 5.4 coroutines, each suspended in coroutine.yield() (no timer,
-- no scheduler): what a sleeping coroutine costs at the very least.
local bench = require "bench"

local N = bench.arg(1, 10000)

local cos = {}
for i = 1, N do
    cos[i] = false
end
local rss0, heap0 = bench.settled_rss()

local function sleeper()
    coroutine.yield()
end
for i = 1, N do
    local co = coroutine.create(sleeper)
    assert(coroutine.resume(co))
    cos[i] = co
end

local rss, heap = bench.settled_rss()
bench.result("sleeper_rss", (rss - rss0) / N, "KiB/fiber")
bench.result("sleeper_heap", (heap - heap0) / N, "KiB/fiber")
