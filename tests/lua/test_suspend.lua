-- Suspend anywhere: a blocking call deep in C frames (pcall, metamethods, table.sort,
-- gsub, require, user coroutines) suspends the whole fiber, lets the others run, and
-- resumes where it was. Where no switch is allowed (a __gc finalizer, a debug hook) the
-- call raises a clear error; runaway recursion is a Lua error, not a crash.
local tap = require("tap")
local luv, test, raises, fails = tap.luv, tap.test, tap.raises, tap.fails

-- A fiber that ticks every millisecond until stopped: while the fiber under test is
-- blocked, it must tick. Every wait below lasts 10 ms, so at least one 1 ms tick is due
-- before it ends, whatever the load of the machine.
local ticks = 0
local function start_ticker()
  local running = true
  local f = luv.fiber.create(function()
    for _ = 1, 100000 do
      if not running then return end
      luv.sleep(0.001)
      ticks = ticks + 1
    end
  end):ready()
  return function() running = false; f:join() end
end

-- The three kinds of blocking call, in turn; each checks that others ran meanwhile.
local kinds = {
  function() return luv.sleep(0.01) end,
  function()
    local t <close> = luv.timer.create()
    t:start(10)
    return t:wait()
  end,
  function() return luv.fiber.create(function() luv.sleep(0.01) return true end):join() end,
}
local turn = 0
local function block()
  local before = ticks
  turn = turn % #kinds + 1
  local ok = kinds[turn]()
  assert(ok == true, "the blocking call failed")
  assert(ticks > before, "no other fiber ran while this one was blocked")
  return "resumed"
end

-- Runs body(block) in a fiber with the ticker going, once for each kind of blocking call.
local function suspends(name, body)
  test(name, function()
    local stop = start_ticker()
    for _ = 1, #kinds do body(block) end
    stop()
  end)
end

suspends("inside pcall", function(block)
  local ok, v = pcall(block)
  assert(ok and v == "resumed")
  local ok2, err = pcall(function() block(); error("after", 0) end)
  assert(not ok2 and err == "after")
end)

suspends("inside xpcall, and in its message handler", function(block)
  local ok, v = xpcall(block, debug.traceback)
  assert(ok and v == "resumed")
  local ok2, err = xpcall(function() error("oops", 0) end, function(m) block(); return m .. "!" end)
  assert(not ok2 and err == "oops!")
end)

suspends("inside an __index metamethod", function(block)
  local t = setmetatable({}, { __index = function(_, k) return block() .. k end })
  assert(t.x == "resumedx")
end)

suspends("inside an __lt metamethod used by table.sort", function(block)
  local mt = { __lt = function(a, b) block() return a.v < b.v end }
  local list = { setmetatable({ v = 2 }, mt), setmetatable({ v = 1 }, mt) }
  table.sort(list)
  assert(list[1].v == 1 and list[2].v == 2)
end)

suspends("inside a table.sort comparator", function(block)
  local list = { 3, 1, 2 }
  local n = 0
  table.sort(list, function(a, b)
    n = n + 1
    if n == 1 then block() end
    return a < b
  end)
  assert(table.concat(list, ",") == "1,2,3")
end)

suspends("inside a string.gsub callback", function(block)
  local s = string.gsub("ab", "%w", function(c) block() return c:upper() end)
  assert(s == "AB")
end)

suspends("inside a chunk being required (package.preload)", function(block)
  package.loaded.slow_preload = nil
  package.preload.slow_preload = function(name) return { name = name, v = block() } end
  local m = require("slow_preload")
  assert(m.name == "slow_preload" and m.v == "resumed")
end)

suspends("inside a module file being required", function(block)
  _G.test_suspend_block = block
  local file = tap.write_temp("return { v = test_suspend_block() }\n", ".lua")
  local saved = package.path
  package.path = file .. ";" .. saved  -- an entry without '?' names the file itself
  package.loaded.slow_file_module = nil
  local ok, m = pcall(require, "slow_file_module")
  package.path = saved
  _G.test_suspend_block = nil
  os.remove(file)
  assert(ok, m)
  assert(m.v == "resumed")
end)

suspends("inside a user coroutine (coroutine.wrap iterator)", function(block)
  local sum = 0
  for v in coroutine.wrap(function()
    for i = 1, 2 do block(); coroutine.yield(i) end
  end) do
    sum = sum + v
  end
  assert(sum == 3)
end)

suspends("inside a coroutine inside a coroutine", function(block)
  local outer = coroutine.wrap(function()
    local inner = coroutine.wrap(function() coroutine.yield(block()) end)
    coroutine.yield(inner())
  end)
  assert(outer() == "resumed")
end)

suspends("inside __tostring called by tostring", function(block)
  local o = setmetatable({}, { __tostring = function() return block() end })
  assert(tostring(o) == "resumed")
end)

test("several fibers blocked in table.sort comparators at once", function()
  local inside, most = 0, 0
  local fibers = {}
  for i = 1, 5 do
    fibers[i] = luv.fiber.create(function()
      local list = { 5, 4, 3, 2, 1, i }
      table.sort(list, function(a, b)
        inside = inside + 1
        most = math.max(most, inside)
        luv.sleep(0.002)
        inside = inside - 1
        return a < b
      end)
      return list
    end):ready()
  end
  for i = 1, 5 do
    local list = fibers[i]:join()
    for k = 2, #list do assert(list[k - 1] <= list[k]) end
  end
  assert(most == 5, "only " .. most .. " fibers were in a comparator at once")
end)

test("cancel wakes a fiber blocked inside a comparator", function()
  local results = {}
  local f = luv.fiber.create(function()
    local list = { 2, 1 }
    table.sort(list, function(a, b)
      results[#results + 1] = table.pack(luv.sleep(30))
      return a < b
    end)
    return list[1]
  end):ready()
  luv.sleep(0.005)
  assert(f:cancel())
  assert(f:join() == 1)
  fails("ECANCELED", table.unpack(results[1], 1, results[1].n))
end)

test("an error raised after resuming in a comparator propagates", function()
  local ok, err = pcall(table.sort, { 2, 1 }, function()
    luv.sleep(0.001)
    error("from the comparator", 0)
  end)
  assert(not ok and err == "from the comparator")
  assert(luv.sleep(0.001) == true)
end)

test("a __gc finalizer that tries to suspend gets a clear error", function()
  local result
  setmetatable({}, { __gc = function() result = table.pack(pcall(luv.sleep, 0.01)) end })
  collectgarbage()
  collectgarbage()
  assert(result, "the finalizer did not run")
  assert(result[1] == false)
  assert(tostring(result[2]):find("luv: cannot suspend inside a __gc finalizer", 1, true),
         tostring(result[2]))
  assert(luv.sleep(0.001) == true)
end)

test("a debug hook that tries to suspend gets a clear error", function()
  local err
  debug.sethook(function()
    debug.sethook()
    err = select(2, pcall(luv.sleep, 0.01))
  end, "", 1)
  local _ = 1 + 1
  debug.sethook()
  assert(tostring(err):find("cannot suspend inside a debug hook", 1, true), tostring(err))
end)

local function recurse() return 1 + recurse() end
local function gsub_recurse(s) return (s:gsub(".", gsub_recurse)) end
local function index_chain()
  local t = setmetatable({}, {})
  getmetatable(t).__index = function(self, k) return self[k] end
  return t.x
end

local function check_overflows()
  raises("stack overflow", recurse)
  raises("C stack overflow", index_chain)
  raises("C stack overflow", gsub_recurse, "a")
end

test("runaway recursion in a fiber is a Lua error", function()
  check_overflows()
  assert(luv.sleep(0.001) == true)
end)

test("runaway recursion in a fiber parked inside C frames is a Lua error", function()
  local list = { 2, 1 }
  table.sort(list, function(a, b)
    luv.sleep(0.001)  -- from here on the fiber runs on a native stack of its own
    check_overflows()
    return a < b
  end)
  assert(list[1] == 1)
end)

tap.done()
