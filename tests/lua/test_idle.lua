-- luv.idle: idle watchers that fibers wait on.
local tap = require("tap")
local luv, test, expect, raises, fails = tap.luv, tap.test, tap.expect, tap.raises, tap.fails

test("start, wait, stop", function()
  local idle <close> = luv.idle.create()
  assert(idle:active() == false)
  assert(idle:start() == true)
  assert(idle:active() == true)
  for _ = 1, 3 do assert(idle:wait() == true) end
  assert(idle:stop() == true)
  assert(idle:active() == false)
end)

test("a stopped idle watcher times out", function()
  local idle <close> = luv.idle.create()
  fails("ETIMEDOUT", idle:wait(0.01))
  idle:start()
  idle:stop()
  fails("ETIMEDOUT", idle:wait(0.01))
end)

test("a wait with a timeout returns true when the watcher runs first", function()
  local idle <close> = luv.idle.create()
  idle:start()
  assert(idle:wait(10) == true)
end)

test("every waiting fiber wakes", function()
  local idle <close> = luv.idle.create()
  local woke = expect(nil, 3)
  local fibers = {}
  for i = 1, 3 do
    fibers[i] = luv.fiber.create(function() assert(idle:wait() == true); woke() end):ready()
  end
  luv.fiber.yield()
  idle:start()
  for i = 1, 3 do fibers[i]:join() end
end)

test("wakes repeatedly while a timer pauses", function()
  -- The original README's idle example, with the counts checked.
  local idle <close> = luv.idle.create()
  idle:start()
  local idle_count = 0
  local stop = false
  local counter = luv.fiber.create(function()
    while not stop do
      idle:wait()
      idle_count = idle_count + 1
    end
  end):ready()

  local timer <close> = luv.timer.create()
  timer:start(10, 10)
  local seen = {}
  for i = 1, 10 do
    assert(timer:wait() == true)
    seen[i] = idle_count
  end
  timer:stop()
  stop = true
  counter:join()
  idle:stop()
  for i = 2, 10 do
    assert(seen[i] > seen[i - 1], "no idle wake-up between ticks " .. (i - 1) .. " and " .. i)
  end
end)

test("close wakes waiters with ECANCELED", function()
  local idle = luv.idle.create()
  local f = luv.fiber.create(function() return idle:wait() end):ready()
  luv.sleep(0.002)
  idle:close()
  fails("ECANCELED", f:join())
end)

test("close is idempotent; use after close raises; <close>", function()
  local outer
  do
    local idle <close> = luv.idle.create()
    idle:start()
    outer = idle
  end
  assert(tostring(outer):find("(closed)", 1, true))
  outer:close()
  raises("attempt to use a closed luv.idle", outer.start, outer)
  raises("attempt to use a closed luv.idle", outer.wait, outer)
  raises("luv.idle expected, got luv.timer", function() outer.start(luv.timer.create()) end)
end)

test("__gc of an unreferenced idle watcher does not crash", function()
  for _ = 1, 50 do
    luv.idle.create():start()
  end
  collectgarbage()
  collectgarbage()
  luv.sleep(0.005)
end)

tap.done()
