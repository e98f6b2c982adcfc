-- Sleepers: each fiber blocks as if it had the machine to itself, and wakes when its
-- time is up. Blocking calls work anywhere in ordinary Lua code: here inside pcall and
-- inside a table.sort comparator.
local luv = require("luv")

local delays = { 80, 20, 140, 60, 0, 100, 40, 120 }  -- milliseconds
local woken = {}

local sleepers = {}
for i, ms in ipairs(delays) do
  sleepers[i] = luv.fiber.create(function()
    assert(pcall(luv.sleep, ms / 1000))  -- suspends this fiber only
    woken[#woken + 1] = ms
    print(("sleeper %d woke after %d ms"):format(i, ms))
  end)
  sleepers[i]:ready()
end

-- Meanwhile another fiber sorts, pausing in every comparison; the sleepers keep
-- waking up around it.
local sorter = luv.fiber.create(function()
  local list = { 5, 3, 8, 1, 9, 2 }
  table.sort(list, function(a, b)
    luv.sleep(0.001)
    return a < b
  end)
  return table.concat(list, " ")
end)

print("sorted: " .. sorter:join())
for _, f in ipairs(sleepers) do
  f:join()
end
print("wake-up order: " .. table.concat(woken, " "))
