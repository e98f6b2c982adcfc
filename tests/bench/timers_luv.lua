-- N fibers, each luv.sleep(0.01) once: wall time from the first create to the wake-up of
-- the last one, and the peak resident size (VmHWM).
local luv = require "luv"
local bench = require "bench"

local N = bench.arg(1, 100000)

local done, t1 = 0, nil
local function sleeper()
    luv.sleep(0.01)
    done = done + 1
    if done == N then
        t1 = bench.now()  -- the last one woke
    end
end

local t0 = bench.now()
for _ = 1, N do
    luv.fiber.create(sleeper):ready()
end
luv.run()
assert(done == N, "not every sleeper woke")
bench.result("timers_wall", t1 - t0, "s")
bench.result("timers_hwm", bench.status_kb("VmHWM") / 1024, "MiB")
