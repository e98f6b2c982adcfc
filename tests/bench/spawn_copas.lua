-- copas (>= 3): N trivial threads, added in batches of 1,000 by a spawner thread that
-- lets each batch run (copas.pause(0)) before the next. Time per thread, up to the end
-- of the last batch (copas.loop() itself lingers ~0.1 s before it returns).
local copas = require "copas"
local bench = require "bench"
assert(copas.pause, "this copas has no pause(): Copas >= 3 is needed")

local BATCH = 1000
local N = bench.arg(1, 200000) // BATCH * BATCH  -- whole batches

local finished = 0
local function trivial()
    finished = finished + 1
end

local t0, t1 = bench.now(), nil
copas.loop(function()
    for _ = 1, N // BATCH do
        for _ = 1, BATCH do
            copas.addthread(trivial)
        end
        copas.pause(0)
    end
    for _ = 1, 10 do  -- bounded: the last batch normally ran already
        if finished == N then
            break
        end
        copas.pause(0)
    end
    t1 = bench.now()
end)
assert(finished == N, "not every thread ran")
bench.result("spawn", (t1 - t0) / N * 1e6, "us/fiber")
