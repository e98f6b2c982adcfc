-- luv.fiber: create, ready, join, yield, self, status, cancel.
local tap = require("tap")
local luv, test, test_main, expect, raises, fails = tap.luv, tap.test, tap.test_main,
  tap.expect, tap.raises, tap.fails

-- ---- join ---------------------------------------------------------------------------

test("join returns the results, no extra leading values", function()
  local f = luv.fiber.create(function(a, b) return a, nil, b end, 1, 2)
  local r = table.pack(f:join())
  assert(r.n == 3 and r[1] == 1 and r[2] == nil and r[3] == 2)
  assert(select("#", luv.fiber.create(function() end):join()) == 0)
end)

test("join passes the creation arguments, nils included", function()
  local f = luv.fiber.create(function(...) return select("#", ...), ... end, nil, "x", nil)
  local n, a, b, c = f:join()
  assert(n == 3 and a == nil and b == "x" and c == nil)
end)

test("join raises the fiber's error with the fiber's traceback", function()
  local function inner_failure() error("boom") end
  local f = luv.fiber.create(function() luv.sleep(0.001) inner_failure() end)
  local err = raises("boom", f.join, f)
  assert(err:find("stack traceback:", 1, true), err)
  assert(err:find("inner_failure", 1, true), "traceback lacks the fiber's frames: " .. err)
end)

test("join raises a non-string error object unchanged", function()
  local obj = { code = 7 }
  local f = luv.fiber.create(function() error(obj) end)
  local ok, err = pcall(f.join, f)
  assert(not ok and err == obj)
end)

test_main("join from the main chunk", function()
  local f = luv.fiber.create(function() luv.sleep(0.005) return "done" end)
  assert(f:join() == "done")
end)

test("join from another fiber, twice, and after the end", function()
  local f = luv.fiber.create(function() luv.sleep(0.005) return 1, 2 end)
  local g = luv.fiber.create(function() return f:join() end)
  local a, b = g:join()
  assert(a == 1 and b == 2)
  assert(f:status() == "dead")
  a, b = f:join()
  assert(a == 1 and b == 2)
  a, b = f:join()
  assert(a == 1 and b == 2)
end)

test("a failed fiber raises again on each join", function()
  local f = luv.fiber.create(function() error("again", 0) end)
  raises("again", f.join, f)
  raises("again", f.join, f)
end)

test("several fibers join one fiber at once", function()
  local f = luv.fiber.create(function() luv.sleep(0.01) return "r" end)
  local got = {}
  local joiners = {}
  for i = 1, 3 do
    joiners[i] = luv.fiber.create(function() got[i] = f:join() end):ready()
  end
  for i = 1, 3 do joiners[i]:join() end
  assert(got[1] == "r" and got[2] == "r" and got[3] == "r")
end)

test("join with a timeout raises ETIMEDOUT and the fiber goes on", function()
  local f = luv.fiber.create(function() luv.sleep(0.03) return "finished" end)
  raises("ETIMEDOUT", f.join, f, 0.005)
  assert(f:status() == "suspended")
  assert(f:join(10) == "finished")
end)

test("a failed fiber closes its to-be-closed variables", function()
  local closed = {}
  local f = luv.fiber.create(function()
    local t <close> = luv.timer.create()
    local guard <close> = setmetatable({}, { __close = function(_, err) closed.err = err end })
    closed.timer = t
    luv.sleep(0.001)
    error("failing", 0)
  end)
  raises("failing", f.join, f)
  -- __close gets the error (here already carrying the fiber's traceback).
  assert(tostring(closed.err):find("^failing"), tostring(closed.err))
  assert(tostring(closed.timer):find("(closed)", 1, true))
end)

test("a fiber cannot join itself", function()
  local f
  f = luv.fiber.create(function() return pcall(f.join, f) end)
  local ok, err = f:join()
  assert(not ok and err:find("cannot join itself", 1, true), err)
end)

test("join starts a fiber that was never readied", function()
  local ran = expect()
  local f = luv.fiber.create(function() ran() end)
  assert(f:status() == "suspended")
  f:join()
end)

test("ready() returns the fiber and is idempotent", function()
  local runs = expect(nil, 1)
  local f = luv.fiber.create(function() runs() end)
  assert(f:ready() == f and f:ready() == f)
  assert(f:status() == "ready")
  f:join()
  f:ready()
  luv.sleep(0.001)
end)

test("a callable table can be a fiber's body", function()
  local callable = setmetatable({}, { __call = function(_, x) return x * 2 end })
  assert(luv.fiber.create(callable, 21):join() == 42)
end)

-- ---- yield ordering -----------------------------------------------------------------

test("coroutine.yield and luv.fiber.yield queue the fiber at the tail", function()
  local order = {}
  local fibers = {}
  for i = 1, 3 do
    fibers[i] = luv.fiber.create(function()
      for k = 1, 3 do
        order[#order + 1] = i .. k
        if i == 2 then luv.fiber.yield() else coroutine.yield("ignored") end
      end
    end)
  end
  for i = 1, 3 do fibers[i]:ready() end
  for i = 1, 3 do fibers[i]:join() end
  assert(table.concat(order, " ") == "11 21 31 12 22 32 13 23 33", table.concat(order, " "))
end)

test("luv.fiber.yield deep in C frames also lets the others run", function()
  local order = {}
  local a = luv.fiber.create(function()
    table.sort({ 2, 1 }, function(x, y)
      order[#order + 1] = "a"
      luv.fiber.yield()
      return x < y
    end)
  end)
  local b = luv.fiber.create(function()
    for _ = 1, 2 do order[#order + 1] = "b"; luv.fiber.yield() end
  end)
  a:ready(); b:ready()
  a:join(); b:join()
  assert(table.concat(order):sub(1, 2) == "ab", table.concat(order))
end)

-- ---- self and status ----------------------------------------------------------------

test("luv.self() is the running fiber", function()
  local f
  f = luv.fiber.create(function() return luv.self() == f, luv.fiber.self() == f end)
  local a, b = f:join()
  assert(a and b)
  assert(tostring(luv.self()):find("^luv.fiber: "))
end)

test("status() at each stage", function()
  local seen
  local f
  f = luv.fiber.create(function() seen = f:status(); luv.sleep(0.01) end)
  assert(f:status() == "suspended")
  f:ready()
  assert(f:status() == "ready")
  luv.sleep(0.001)
  assert(seen == "running")
  assert(f:status() == "suspended", f:status())
  f:join()
  assert(f:status() == "dead")
end)

-- ---- cancel -------------------------------------------------------------------------

local function cancel_while_blocked(body)
  local f = luv.fiber.create(body):ready()
  luv.sleep(0.005)
  assert(f:status() == "suspended", f:status())
  assert(f:cancel() == true)
  assert(f:status() == "ready")
  return f
end

test("cancel wakes luv.sleep with ECANCELED", function()
  local f = cancel_while_blocked(function() return luv.sleep(30) end)
  fails("ECANCELED", f:join())
end)

test("cancel wakes timer:wait with ECANCELED", function()
  local t <close> = luv.timer.create()
  t:start(30000)
  local f = cancel_while_blocked(function() return t:wait() end)
  fails("ECANCELED", f:join())
end)

test("cancel wakes idle:wait with ECANCELED", function()
  local i <close> = luv.idle.create()
  local f = cancel_while_blocked(function() return i:wait() end)
  fails("ECANCELED", f:join())
end)

test("cancel wakes join with an ECANCELED error", function()
  local long = luv.fiber.create(function() luv.sleep(0.05) return "late" end)
  local f = cancel_while_blocked(function() return pcall(long.join, long) end)
  local ok, err = f:join()
  assert(not ok and err:find("ECANCELED", 1, true), err)
  assert(long:join() == "late")
end)

test("cancel before the fiber waits fails its next wait only", function()
  local f = luv.fiber.create(function()
    local first = table.pack(luv.sleep(0.001))
    return first, luv.sleep(0.001)
  end)
  assert(f:cancel() == true)
  local first, second = f:join()
  fails("ECANCELED", table.unpack(first, 1, first.n))
  assert(second == true)
end)

test("cancel of a dead fiber returns false", function()
  local f = luv.fiber.create(function() end)
  f:join()
  assert(f:cancel() == false)
end)

-- ---- bad input ----------------------------------------------------------------------

test("bad arguments raise, naming the argument", function()
  raises("bad argument #1 to 'create' (function expected, got number)", function()
    luv.fiber.create(42)
  end)
  raises("bad argument #1 to 'sleep' (number expected, got string)", function()
    luv.sleep("x")
  end)
  raises("bad argument #1 to 'sleep'", function() luv.sleep(-1) end)
  raises("bad argument #1 to 'sleep'", function() luv.sleep(0 / 0) end)
  raises("luv.fiber expected", function() luv.fiber.create(print).join({}) end)
end)

tap.done()
