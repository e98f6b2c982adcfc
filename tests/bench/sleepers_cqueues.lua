-- cqueues: N coroutines on one controller, each cqueues.sleep(10). A measuring
-- coroutine wakes once they all sleep (checked every 200 ms), measures, and exits the
-- process, the simplest way to drop 10,000 sleeping coroutines here.
local cqueues = require "cqueues"
local bench = require "bench"

local N = bench.arg(1, 10000)

local cq = cqueues.new()
cq:wrap(function() cqueues.sleep(0) end)  -- warm up the controller
assert(cq:loop())
local list = {}
for i = 1, N do
    list[i] = false
end
local rss0, heap0 = bench.settled_rss()

local asleep = 0
local function sleeper()
    asleep = asleep + 1
    cqueues.sleep(10)
end
for i = 1, N do
    list[i] = cq:wrap(sleeper)  -- cq:wrap returns the controller; keeps the list's shape
end
cq:wrap(function()
    for _ = 1, 50 do
        cqueues.sleep(0.2)
        if asleep == N then
            break
        end
    end
    assert(asleep == N, "not every coroutine got to its sleep")
    local rss, heap = bench.settled_rss()
    bench.result("sleeper_rss", (rss - rss0) / N, "KiB/fiber")
    bench.result("sleeper_heap", (heap - heap0) / N, "KiB/fiber")
    os.exit(0)
end)
assert(cq:loop())
