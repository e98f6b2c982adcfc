-- copas (>= 3): 2 threads, each N x copas.pause(0).
local copas = require "copas"
local bench = require "bench"
assert(copas.pause, "this copas has no pause(): Copas >= 3 is needed")

local N = bench.arg(1, 200000)
local pause = copas.pause

local function body()
    for _ = 1, N do
        pause(0)
    end
end

local t0 = bench.now()
copas.addthread(body)
copas.addthread(body)
copas.loop()
bench.result("switch", 2 * N / (bench.now() - t0), "switches/s")
