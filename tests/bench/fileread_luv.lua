-- Reading a file in 64 KiB reads from one fiber while 100 other fibers keep a 10 ms
-- timer going: the read throughput, and how late the worst timer wake-up was. The file
-- is in the page cache, so its reads complete on the loop's thread without suspending
-- (preadv2 RWF_NOWAIT); the timers must not notice, since a reader that has not let the
-- loop poll for 1 ms takes the threadpool once (scheduler::may_complete_inline).
--   lua5.4 fileread_luv.lua FILE
local luv = require "luv"
local bench = require "bench"

local path = assert(arg[1], "usage: fileread_luv.lua FILE")
local reading = true
local worst_ms, wakeups = 0, 0

for _ = 1, 100 do
    luv.fiber.create(function()
        while reading do
            local t0 = luv.hrtime()
            if not luv.sleep(0.01) then
                break
            end
            local late = (luv.hrtime() - t0) / 1e6 - 10
            if late > worst_ms then
                worst_ms = late
            end
            wakeups = wakeups + 1
        end
    end):ready()
end

local reader = luv.fiber.create(function()
    local f <close> = assert(luv.fs.open(path, "r"))
    local total = 0
    local t0 = bench.now()
    while true do
        local n, data = f:read(65536)
        assert(n, data)
        if n == 0 then
            break
        end
        total = total + n
    end
    local t1 = bench.now()
    reading = false
    return total, t1 - t0
end)
local total, seconds = reader:join()
luv.run()
bench.result("fileread_mbs", total / seconds / 1e6, "MB/s")
bench.result("fileread_late_ms", worst_ms, "ms")
bench.result("fileread_wakeups", wakeups, "wakeups")
