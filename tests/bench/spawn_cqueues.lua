-- cqueues: N trivial coroutines, wrapped in batches of 1,000, each batch run to the end
-- by cq:loop(). Time per coroutine.
local cqueues = require "cqueues"
local bench = require "bench"

local BATCH = 1000
local N = bench.arg(1, 200000) // BATCH * BATCH  -- whole batches

local function trivial() end

local t0 = bench.now()
local cq = cqueues.new()
for _ = 1, N // BATCH do
    for _ = 1, BATCH do
        cq:wrap(trivial)
    end
    assert(cq:loop())
end
bench.result("spawn", (bench.now() - t0) / N * 1e6, "us/fiber")
