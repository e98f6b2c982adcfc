-- luvit's luv (Debian lua-luv): the same shapes as thread_luv.lua with uv.new_thread and
-- thread:join(). Its join blocks the whole OS thread (uv_thread_join) and returns no
-- results; its threads get no loop unless their code makes one.
--   lua5.4 thread_luvit.lua [N]   N = 2000
local uv = require "luv"
local bench = require "bench"
assert(uv.new_thread, "this is not luvit's luv")

local N = bench.arg(1, 2000)
local BATCH = 8
local ALIVE = 100

local function small(x)
    return x + 1
end

for i = 1, 20 do
    assert(uv.new_thread(small, i):join())
end

local t0 = bench.now()
for i = 1, N do
    assert(uv.new_thread(small, i):join())
end
bench.result("thread_seq", N / (bench.now() - t0), "threads/s")

t0 = bench.now()
local batch = {}
for first = 1, N, BATCH do
    for i = first, math.min(first + BATCH - 1, N) do
        batch[#batch + 1] = uv.new_thread(small, i)
    end
    for k, t in ipairs(batch) do
        assert(t:join())
        batch[k] = nil
    end
end
bench.result("thread_batch8", N / (bench.now() - t0), "threads/s")

local before = bench.settled_rss()
local threads = {}
for i = 1, ALIVE do
    threads[i] = uv.new_thread(function()
        require("luv").sleep(1500)
    end)
end
uv.sleep(700)
local during = bench.status_kb("VmRSS")
for i = 1, ALIVE do
    assert(threads[i]:join())
end
bench.result("thread_rss", (during - before) / ALIVE, "KiB/thread")
