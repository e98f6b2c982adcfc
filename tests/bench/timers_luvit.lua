-- luvit's luv: N coroutines, each sleeping 10 ms once on a uv timer of its own that
-- resumes it. Wall time to the wake-up of the last one, and VmHWM.
local uv = require "luv"
local bench = require "bench"
assert(uv.new_timer, "this is not luvit's luv")

local N = bench.arg(1, 100000)

local function sleep(ms)
    local co = coroutine.running()
    local t = uv.new_timer()
    t:start(ms, 0, function()
        t:close()
        assert(coroutine.resume(co))
    end)
    coroutine.yield()
end

local done, t1 = 0, nil
local function sleeper()
    sleep(10)
    done = done + 1
    if done == N then
        t1 = bench.now()  -- the last one woke
    end
end

local t0 = bench.now()
for _ = 1, N do
    coroutine.wrap(sleeper)()
end
uv.run()
assert(done == N, "not every sleeper woke")
bench.result("timers_wall", t1 - t0, "s")
bench.result("timers_hwm", bench.status_kb("VmHWM") / 1024, "MiB")
