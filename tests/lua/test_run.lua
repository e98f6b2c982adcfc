-- The main chunk and the loop: blocking outside any fiber, luv.run, deadlock, the main
-- object, and what happens to errors and os.exit in fibers nobody joins.
local tap = require("tap")
local luv, test, test_main, raises, fails = tap.luv, tap.test, tap.test_main, tap.raises,
  tap.fails

-- What luv.self() is in the main chunk: the "luv.main" object under lua5.4, the main
-- chunk's own fiber under the luv command.
local main_self = luv.self()

-- ---- the main object ---------------------------------------------------------------

if tap.plain then
  test_main("outside fibers luv.self() is the main object", function()
    assert(getmetatable(main_self).__name == "luv.main")
    assert(main_self:status() == "running")
    assert(luv.fiber.create(function() return main_self:status() end):join() == "normal")
    assert(tostring(main_self):find("^luv.main: "))
  end)
else
  test_main("under luv the main chunk is a fiber", function()
    assert(getmetatable(main_self).__name == "luv.fiber")
    assert(main_self:status() == "running")
    assert(luv.fiber.create(function() return main_self:status() end):join() == "suspended")
  end)
end

test_main("a fiber can cancel the main chunk's wait", function()
  luv.fiber.create(function() assert(main_self:cancel() == true) end):ready()
  fails("ECANCELED", luv.sleep(10))
  assert(luv.sleep(0.001) == true)
end)

-- ---- errors and os.exit in fibers nobody joins --------------------------------------

test("an unjoined fiber's error goes to stderr; the others go on", function()
  local out, code = tap.run_lua([[
    local luv = require("luv")
    assert(luv.fiber, "loaded the wrong luv")
    local n = 0
    luv.fiber.create(function()
      luv.sleep(0.005)
      local function broken_part() local x = nil; return x.field end
      broken_part()
    end):ready()
    local worker = luv.fiber.create(function()
      for _ = 1, 5 do luv.sleep(0.005); n = n + 1 end
    end):ready()
    worker:join()
    print("others went on: " .. n, "unjoined errors: " .. luv.stats().unjoined_errors)
  ]])
  -- The luv command reports the failure in its exit status too; lua5.4 knows nothing of it.
  local want = tap.plain and 0 or 1
  assert(code == want, "exit status " .. tostring(code) .. ": " .. out)
  assert(out:find("luv: error in fiber: ", 1, true), out)
  assert(out:find("attempt to index a nil value", 1, true), out)
  assert(out:find("stack traceback:", 1, true) and out:find("broken_part", 1, true), out)
  assert(out:find("others went on: 5\tunjoined errors: 1", 1, true), out)
end)

test("os.exit from a fiber ends the process with its status", function()
  local out, code = tap.run_lua([[
    local luv = require("luv")
    luv.fiber.create(function() luv.sleep(0.001) os.exit(3) end):ready()
    luv.run()
    print("not reached")
  ]])
  assert(code == 3 and not out:find("not reached", 1, true), code .. ": " .. out)
  out, code = tap.run_lua([[
    local luv = require("luv")
    luv.fiber.create(function()
      table.sort({ 2, 1 }, function(a, b) luv.sleep(0.001) os.exit(4, true) end)
    end):ready()
    luv.run()
  ]])
  assert(code == 4, code .. ": " .. out)
end)

-- ---- the main chunk and luv.run -----------------------------------------------------

test_main("a blocking call in the main chunk lets ready fibers run", function()
  local n = 0
  local f = luv.fiber.create(function() for _ = 1, 5 do n = n + 1; luv.fiber.yield() end end)
  f:ready()
  assert(luv.sleep(0.01) == true)
  assert(n == 5 and f:status() == "dead")
end)

test_main("blocking in a coroutine created by the main chunk", function()
  local co = coroutine.wrap(function()
    luv.sleep(0.002)
    coroutine.yield(1)
    luv.sleep(0.002)
    return 2
  end)
  assert(co() == 1 and co() == 2)
end)

if tap.plain then
  test_main("luv.run() returns when nothing is left", function()
    local done = 0
    for i = 1, 3 do
      luv.fiber.create(function() luv.sleep(i / 1000); done = done + 1 end):ready()
    end
    assert(luv.run() == true)
    assert(done == 3)
    assert(luv.run() == true)
  end)

  test_main("a deadlocked wait in the main chunk raises", function()
    raises("luv: deadlock", function() luv.timer.create():wait() end)
    local stuck = luv.fiber.create(function() luv.timer.create():wait() end)
    raises("luv: deadlock", stuck.join, stuck)
  end)

  test_main("luv.fiber.yield() outside fibers runs each ready fiber once", function()
    local runs = 0
    local f = luv.fiber.create(function()
      for _ = 1, 3 do runs = runs + 1; luv.fiber.yield() end
    end):ready()
    luv.fiber.yield()
    assert(runs == 1, runs)
    luv.fiber.yield()
    assert(runs == 2, runs)
    f:join()
  end)
else
  test_main("luv.run() in the main chunk's fiber waits for everything else", function()
    local done = false
    luv.fiber.create(function() luv.sleep(0.01); done = true end):ready()
    assert(luv.run() == true)
    assert(done)
  end)

  test("a deadlocked script fails with the deadlock error", function()
    local out, code = tap.run_lua("luv.timer.create():wait() print('unreachable')")
    assert(code == 1 and out:find("luv: deadlock", 1, true), out)
    assert(not out:find("unreachable", 1, true), out)
  end)
end

test("luv.run() in a fiber waits until everything else is over", function()
  local done = 0
  for i = 1, 3 do
    luv.fiber.create(function() luv.sleep(i / 200); done = done + 1 end):ready()
  end
  assert(luv.run() == true)
  assert(done == 3)
end)

test("luv.sleep(0) lets every ready fiber run", function()
  local ran = 0
  for _ = 1, 3 do luv.fiber.create(function() ran = ran + 1 end):ready() end
  assert(luv.sleep(0) == true)
  assert(ran == 3)
end)

tap.done()
