-- cqueues: 2 coroutines on one controller, each N x cqueues.poll() (a poll on nothing
-- re-queues the coroutine at once).
local cqueues = require "cqueues"
local bench = require "bench"

local N = bench.arg(1, 1000000)
local poll = cqueues.poll

local function body()
    for _ = 1, N do
        poll()
    end
end

local t0 = bench.now()
local cq = cqueues.new()
cq:wrap(body)
cq:wrap(body)
assert(cq:loop())
bench.result("switch", 2 * N / (bench.now() - t0), "switches/s")
