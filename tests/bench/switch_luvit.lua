-- luvit's luv (libuv bindings, no scheduler): the idiomatic yield is luvit's
-- setImmediate (a check handle draining a queue, an idle handle so the loop does not
-- block) resuming the coroutine. 2 coroutines, each N x yield().
local uv = require "luv"
local bench = require "bench"
assert(uv.new_timer, "this is not luvit's luv")

local N = bench.arg(1, 1000000)

local queue, checker, idler = {}, uv.new_check(), uv.new_idle()
local function noop() end
local function on_check()
    local q = queue
    queue = {}
    for i = 1, #q do
        assert(coroutine.resume(q[i]))
    end
    if #queue == 0 then
        checker:stop()
        idler:stop()
    end
end
local function set_immediate(co)
    if #queue == 0 then
        checker:start(on_check)
        idler:start(noop)
    end
    queue[#queue + 1] = co
end

local function yield()
    set_immediate(coroutine.running())
    coroutine.yield()
end

local function body()
    for _ = 1, N do
        yield()
    end
end

local t0 = bench.now()
set_immediate(coroutine.create(body))
set_immediate(coroutine.create(body))
uv.run()
bench.result("switch", 2 * N / (bench.now() - t0), "switches/s")
