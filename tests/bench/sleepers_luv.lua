-- Memory of N sleeping fibers: each does luv.sleep(10); once all sleep, the resident size
-- over the baseline, per fiber. Then every fiber is cancelled and the loop drains.
local luv = require "luv"
local bench = require "bench"

local N = bench.arg(1, 10000)

-- Warm up: the loop's carrier stack, the timer, the stack pool exist before the baseline.
luv.fiber.create(function() luv.sleep(0) end):ready()
luv.sleep(0.001)
local fibers = {}
for i = 1, N do
    fibers[i] = false  -- the list itself is part of the baseline
end
local rss0, heap0 = bench.settled_rss()

local asleep = 0
local function sleeper()
    asleep = asleep + 1
    luv.sleep(10)
end
for i = 1, N do
    fibers[i] = luv.fiber.create(sleeper):ready()
end
for _ = 1, 50 do  -- the main chunk waits; every fiber runs up to its sleep
    luv.sleep(0.2)
    if asleep == N then
        break
    end
end
assert(asleep == N, "not every fiber got to its sleep")

local rss, heap = bench.settled_rss()
bench.result("sleeper_rss", (rss - rss0) / N, "KiB/fiber")
bench.result("sleeper_heap", (heap - heap0) / N, "KiB/fiber")
io.stderr:write(string.format("sleepers_luv: stacks in use %d\n", luv.stats().stacks_in_use))

for i = 1, N do
    fibers[i]:cancel()
end
luv.run()
