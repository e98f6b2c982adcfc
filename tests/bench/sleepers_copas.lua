-- copas (>= 3): N threads, each copas.pause(10). A measuring thread wakes once they all
-- sleep (checked every 200 ms), measures, and exits the process.
local copas = require "copas"
local bench = require "bench"
assert(copas.pause, "this copas has no pause(): Copas >= 3 is needed")

local N = bench.arg(1, 10000)

copas.addthread(function() copas.pause(0) end)  -- warm up
copas.loop()
local threads = {}
for i = 1, N do
    threads[i] = false
end
local rss0, heap0 = bench.settled_rss()

local asleep = 0
local function sleeper()
    asleep = asleep + 1
    copas.pause(10)
end
for i = 1, N do
    threads[i] = copas.addthread(sleeper)
end
copas.addthread(function()
    for _ = 1, 50 do
        copas.pause(0.2)
        if asleep == N then
            break
        end
    end
    assert(asleep == N, "not every thread got to its sleep")
    local rss, heap = bench.settled_rss()
    bench.result("sleeper_rss", (rss - rss0) / N, "KiB/fiber")
    bench.result("sleeper_heap", (heap - heap0) / N, "KiB/fiber")
    os.exit(0)
end)
copas.loop()
