-- OS threads: spawn + join of a small function (x + 1), N times one at a time, then N in
-- batches of 8 (8 spawned, then the 8 joined), in threads per second; and the resident
-- memory of 100 threads alive at once, each asleep in its own loop, in KiB per thread.
-- Each thread is a new lua_State with the standard libraries and luv, a runtime and a
-- loop; the function goes in and the result comes back through luv.codec.
--   lua5.4 thread_luv.lua [N]   N = 2000
local luv = require "luv"
local bench = require "bench"

local N = bench.arg(1, 2000)
local BATCH = 8
local ALIVE = 100
local spawn = luv.thread.spawn

local function small(x)
    return x + 1
end

for i = 1, 20 do  -- warm-up: the allocator's arenas, the stacks glibc keeps for threads
    assert(select(2, spawn(small, i):join()) == i + 1)
end

local t0 = bench.now()
for i = 1, N do
    local ok, v = spawn(small, i):join()
    assert(ok and v == i + 1)
end
bench.result("thread_seq", N / (bench.now() - t0), "threads/s")

t0 = bench.now()
local batch = {}
for first = 1, N, BATCH do
    for i = first, math.min(first + BATCH - 1, N) do
        batch[#batch + 1] = spawn(small, i)
    end
    for k, t in ipairs(batch) do
        assert(select(2, t:join()) == first + k)
        batch[k] = nil
    end
end
bench.result("thread_batch8", N / (bench.now() - t0), "threads/s")

-- Memory: 100 threads asleep at once, measured while they sleep.
local before = bench.settled_rss()
local threads = {}
for i = 1, ALIVE do
    threads[i] = spawn(function()
        require("luv").sleep(1.5)
    end)
end
luv.sleep(0.7)
local during = bench.status_kb("VmRSS")
for i = 1, ALIVE do
    assert(threads[i]:join())
end
bench.result("thread_rss", (during - before) / ALIVE, "KiB/thread")
