-- The original's bench.lua: 2 fibers, each N x coroutine.yield(); luv's scheduler runs
-- them round-robin (a coroutine.yield() at a fiber's own level re-queues it).
local luv = require "luv"
local bench = require "bench"

local N = bench.arg(1, 5000000)

local function body()
    for _ = 1, N do
        coroutine.yield()
    end
end

local t0 = bench.now()
luv.fiber.create(body):ready()
luv.fiber.create(body):ready()
luv.run()
bench.result("switch_coroutine_yield", 2 * N / (bench.now() - t0), "switches/s")
