-- luv.fiber.yield() ping-pong: 2 fibers, each N x luv.fiber.yield().
local luv = require "luv"
local bench = require "bench"

local N = bench.arg(1, 5000000)
local yield = luv.fiber.yield

local function body()
    for _ = 1, N do
        yield()
    end
end

local t0 = bench.now()
luv.fiber.create(body):ready()
luv.fiber.create(body):ready()
luv.run()
bench.result("switch_fiber_yield", 2 * N / (bench.now() - t0), "switches/s")
