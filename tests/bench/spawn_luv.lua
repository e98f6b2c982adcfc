-- Fiber create + finish: N trivial fibers, created and readied in batches of 1,000, each
-- batch run to the end by luv.run(). Time per fiber.
local luv = require "luv"
local bench = require "bench"

local BATCH = 1000
local N = bench.arg(1, 1000000) // BATCH * BATCH  -- whole batches
local create = luv.fiber.create

local function trivial() end

local t0 = bench.now()
for _ = 1, N // BATCH do
    for _ = 1, BATCH do
        create(trivial):ready()
    end
    luv.run()
end
bench.result("spawn", (bench.now() - t0) / N * 1e6, "us/fiber")
