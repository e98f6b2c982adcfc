-- copas (>= 3): N threads, each copas.pause(0.01) once. Wall time to the wake-up of the
-- last one (copas.loop() itself lingers ~0.1 s more before it returns), and VmHWM.
local copas = require "copas"
local bench = require "bench"
assert(copas.pause, "this copas has no pause(): Copas >= 3 is needed")

local N = bench.arg(1, 100000)

local done, t1 = 0, nil
local function sleeper()
    copas.pause(0.01)
    done = done + 1
    if done == N then
        t1 = bench.now()  -- the last one woke
    end
end

local t0 = bench.now()
for _ = 1, N do
    copas.addthread(sleeper)
end
copas.loop()
assert(done == N, "not every sleeper woke")
bench.result("timers_wall", t1 - t0, "s")
bench.result("timers_hwm", bench.status_kb("VmHWM") / 1024, "MiB")
