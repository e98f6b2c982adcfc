-- Baseline: plain Lua 5.4 coroutines, a Lua driver loop resuming 2 coroutines
-- round-robin, each doing N x coroutine.yield().
local bench = require "bench"

local N = bench.arg(1, 5000000)
local resume, status = coroutine.resume, coroutine.status

local function body()
    for _ = 1, N do
        coroutine.yield()
    end
end

local t0 = bench.now()
local ready = { coroutine.create(body), coroutine.create(body) }
local live = #ready
while live > 0 do
    for i = 1, #ready do
        local co = ready[i]
        if co then
            local ok, err = resume(co)
            if not ok then
                error(err)
            end
            if status(co) == "dead" then
                ready[i] = false
                live = live - 1
            end
        end
    end
end
bench.result("switch", 2 * N / (bench.now() - t0), "switches/s")
