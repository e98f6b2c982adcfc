-- Baseline: plain Lua 5.4 coroutines, created in batches of 1,000 into a queue, then each
-- resumed to its end. Time per coroutine.
local bench = require "bench"

local BATCH = 1000
local N = bench.arg(1, 1000000) // BATCH * BATCH  -- whole batches
local create, resume = coroutine.create, coroutine.resume

local function trivial() end

local t0 = bench.now()
local queue = {}
for _ = 1, N // BATCH do
    for i = 1, BATCH do
        queue[i] = create(trivial)
    end
    for i = 1, BATCH do
        assert(resume(queue[i]))
        queue[i] = false
    end
end
bench.result("spawn", (bench.now() - t0) / N * 1e6, "us/fiber")
