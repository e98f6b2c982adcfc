-- Many fibers: a fiber that waits at its own level holds no native stack; one that waits
-- inside C frames (a table.sort comparator) holds one until it resumes.
local tap = require("tap")
local luv, test = tap.luv, tap.test

-- Waits (bounded) until cond() holds, letting the other fibers run.
local function wait_until(cond, what)
  for _ = 1, 10000 do
    if cond() then return end
    luv.sleep(0.001)
  end
  error("gave up waiting for " .. what)
end

test("10,000 fibers sleeping at their own level hold no native stack", function()
  local n, started, done = 10000, 0, 0
  local fibers = {}
  for i = 1, n do
    fibers[i] = luv.fiber.create(function()
      started = started + 1
      luv.sleep(0.5)
      done = done + 1
    end):ready()
  end
  wait_until(function() return started == n end, "the sleepers to start")
  local in_use = luv.stats().stacks_in_use
  assert(in_use == 1, "stacks in use while 10,000 fibers sleep: " .. in_use)
  for i = 1, n do fibers[i]:join() end
  assert(done == n)
  assert(luv.stats().stacks_in_use == 1)
end)

test("fibers blocked in table.sort comparators hold one stack each", function()
  local base = luv.stats().stacks_in_use
  local m, inside, release = 20, 0, false
  local fibers = {}
  for i = 1, m do
    fibers[i] = luv.fiber.create(function()
      local list = { 3, 1, 2, i }
      local blocked = false
      table.sort(list, function(a, b)
        if not blocked then
          blocked = true
          inside = inside + 1
          wait_until(function() return release end, "the release")
        end
        return a < b
      end)
      return list
    end):ready()
  end
  wait_until(function() return inside == m end, "the sorters to block")
  local in_use = luv.stats().stacks_in_use
  assert(in_use == base + m, ("%d stacks in use with %d parked sorters (base %d)")
         :format(in_use, m, base))
  release = true
  for i = 1, m do
    local list = fibers[i]:join()
    for k = 2, #list do assert(list[k - 1] <= list[k]) end
  end
  assert(luv.stats().stacks_in_use == base, "stacks were not given back")
  assert(luv.stats().stacks_cached >= 1)
end)

test("100,000 fibers each sleep once", function()
  local n, done = 100000, 0
  local last
  for _ = 1, n do
    last = luv.fiber.create(function()
      luv.sleep(0.01)
      done = done + 1
    end):ready()
  end
  last:join()
  wait_until(function() return done == n end, "all the sleepers")
  assert(done == n)
  assert(luv.stats().stacks_in_use == 1)
end)

test("100,000 yields between two fibers", function()
  local a, b = 0, 0
  local fa = luv.fiber.create(function() for _ = 1, 50000 do a = a + 1; luv.fiber.yield() end end)
  local fb = luv.fiber.create(function() for _ = 1, 50000 do b = b + 1; coroutine.yield() end end)
  fa:ready(); fb:ready()
  fa:join(); fb:join()
  assert(a == 50000 and b == 50000)
end)

tap.done()
