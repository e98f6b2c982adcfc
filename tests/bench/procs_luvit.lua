-- luvit's luv (Debian lua-luv) in its callback style: N children (/bin/true), at most P
-- running at once: each exit callback closes its handle and spawns the next child.
-- Children per second, from the first spawn to the last exit.
--   lua5.4 procs_luvit.lua [N [P]]   N = 1000, P = 16
local uv = require "luv"
local bench = require "bench"
assert(uv.new_timer, "this is not luvit's luv")

local N = bench.arg(1, 1000)
local P = bench.arg(2, 16)

local started, exited = 0, 0
local function spawn_one()
    started = started + 1
    local handle, err
    -- stdio 0, 1, 2 inherited, as luv.process.spawn does by default (without stdio,
    -- libuv would open /dev/null three times in each child).
    handle, err = uv.spawn("/bin/true", { args = {}, stdio = { 0, 1, 2 } }, function(code, signal)
        assert(code == 0 and signal == 0, "/bin/true failed")
        handle:close()
        exited = exited + 1
        if started < N then
            spawn_one()
        end
    end)
    assert(handle, err)
end

local t0 = bench.now()
for _ = 1, math.min(P, N) do
    spawn_one()
end
uv.run()
local t1 = bench.now()
assert(exited == N, "not every child exited")
bench.result("procs_rate", N / (t1 - t0), "children/s")
