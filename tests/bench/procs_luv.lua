-- luv: N children (/bin/true) spawned and waited for, at most P running at once: P fibers,
-- each spawning a child and waiting for it, again and again. Children per second, from the
-- first spawn to the last exit.
--   lua5.4 procs_luv.lua [N [P]]     N = 1000, P = 16
local luv = require "luv"
local bench = require "bench"
assert(luv.fiber, "this is not luv's luv")

local N = bench.arg(1, 1000)
local P = bench.arg(2, 16)

local started = 0
local function worker()
    while started < N do
        started = started + 1
        local proc = assert(luv.process.spawn("/bin/true", {}))
        local status, signal = proc:wait()
        assert(status == 0 and signal == 0, "/bin/true failed")
        proc:close()
    end
end

local t0 = bench.now()
local workers = {}
for i = 1, math.min(P, N) do
    workers[i] = luv.fiber.create(worker):ready()
end
for _, w in ipairs(workers) do
    w:join()
end
local t1 = bench.now()
bench.result("procs_rate", N / (t1 - t0), "children/s")
