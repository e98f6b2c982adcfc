-- luv.sleep(s) must suspend for at least s. Deadlines count whole milliseconds of the
-- loop clock, so a sleep begun late in a millisecond ended up to 1 ms early when the loop
-- happened to wake at the deadline's millisecond (here: a 1 ms repeating timer).
local tap = require("tap")
local luv, test = tap.luv, tap.test

test("sleep(0.05) never ends before 50 ms", function()
  local tick <close> = luv.timer.create()
  tick:start(1, 1)  -- keeps the loop waking every millisecond
  local shortest = math.huge
  for _ = 1, 20 do
    -- Start the sleep 0.9 ms into a millisecond.
    while luv.hrtime() % 1000000 < 900000 do end
    local t0 = luv.hrtime()
    luv.sleep(0.05)
    shortest = math.min(shortest, (luv.hrtime() - t0) / 1e6)
  end
  assert(shortest >= 50, ("a sleep(0.05) ended after %.2f ms"):format(shortest))
end)

tap.done()
