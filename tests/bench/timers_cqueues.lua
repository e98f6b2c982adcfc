-- cqueues: N coroutines on one controller, each cqueues.sleep(0.01) once. Wall time
-- to the wake-up of the last one, and VmHWM.
local cqueues = require "cqueues"
local bench = require "bench"

local N = bench.arg(1, 100000)

local done, t1 = 0, nil
local function sleeper()
    cqueues.sleep(0.01)
    done = done + 1
    if done == N then
        t1 = bench.now()  -- the last one woke
    end
end

local t0 = bench.now()
local cq = cqueues.new()
for _ = 1, N do
    cq:wrap(sleeper)
end
assert(cq:loop())
assert(done == N, "not every sleeper woke")
bench.result("timers_wall", t1 - t0, "s")
bench.result("timers_hwm", bench.status_kb("VmHWM") / 1024, "MiB")
