-- A fiber woken by a callback that libuv runs before it polls (a timer already due when
-- the loop is entered) must run at once. The loop polled anyway, blocking until the next
-- libuv event: here the 1500 ms timer nobody waits on, or forever when the only thing
-- left is a threadpool request (the prompt of `luv -i` waiting for a line, while a
-- background fiber's luv.sleep never came back).
--
-- Each case runs in a fresh process, since the state the loop is left in by one case
-- decides whether the next one shows the fault.
local tap = require("tap")
local test = tap.test

-- The fiber `a` waits (WAIT is replaced by the case's wait) while the fiber `b` keeps the
-- CPU 5 ms, past a's deadline. Prints how long a's wait took, in ms.
local scenario = [[
  local luv = require("luv")
  local far = luv.timer.create()
  far:start(1500)  -- an active handle with a far deadline; nobody waits on it
  local t = luv.timer.create()
  local t0 = luv.hrtime()
  local a = luv.fiber.create(function()
    WAIT
    return (luv.hrtime() - t0) / 1e6
  end)
  local b = luv.fiber.create(function()
    local s = luv.hrtime()
    while luv.hrtime() - s < 5e6 do end
  end)
  a:ready()
  b:ready()
  print(("took %.0f ms"):format(a:join()))
  far:close()
  t:close()
]]

local function check(wait)
  local out, code = tap.run_lua((scenario:gsub("WAIT", wait)))
  local ms = tonumber(out:match("took (%d+) ms"))
  assert(code == 0 and ms, code .. ": " .. out)
  assert(ms < 500, wait .. " took " .. ms .. " ms")
end

test("luv.sleep(0.001) behind a busy fiber ends in time", function()
  check("assert(luv.sleep(0.001))")
end)

test("timer:wait() on a 1 ms timer behind a busy fiber ends in time", function()
  check("t:start(1) assert(t:wait())")
end)

test("luv -i: a background sleeper behind a busy fiber keeps running", function()
  -- The only thing left in the loop is the prompt's read on the threadpool, so the
  -- sleeper stalled until the next line came: it had counted to 1 after half a second.
  local bin = os.getenv("LUV_BIN")
  assert(bin, "set LUV_BIN to the path of the luv binary")
  local line = "n = 0 " ..
    "luv.fiber.create(function() for i = 1, 1000 do luv.sleep(0.001) n = n + 1 end end):ready() " ..
    "luv.fiber.create(function() local s = luv.hrtime() while luv.hrtime() - s < 5e6 do end end):ready()"
  local out = tap.run("(printf '%s\\n' " .. tap.shell_quote(line) ..
                      "; sleep 0.5; printf 'print(\"n=\" .. n)\\n') | " ..
                      tap.shell_quote(bin) .. " -i")
  local n = tonumber(out:match("n=(%d+)"))
  assert(n and n >= 50, "the sleeper counted to " .. tostring(n) .. " in 0.5 s: " .. out)
end)

tap.done()
