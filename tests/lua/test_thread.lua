-- luv.thread: OS threads with a lua_State and a loop each. Spawning and joining from
-- fibers and from the main chunk, 100 threads at once, errors and their tracebacks,
-- threads that leave fibers running, every codec type both ways, what cannot travel,
-- timeouts, and what happens to threads nobody joins (in child processes).
local tap = require("tap")
local luv, test, test_main, raises, fails = tap.luv, tap.test, tap.test_main, tap.raises,
                                              tap.fails

local spawn = luv.thread.spawn
local LONG = 30  -- seconds: the timeout of joins that must not time out

local same = tap.same

test("spawn starts at once and join returns true and the results", function()
  local t = spawn(function(a, b) return a + b, "sum", nil end, 40, 2)
  assert(tostring(t):find("^luv.thread: 0x"), tostring(t))
  local r = table.pack(t:join(LONG))
  assert(r.n == 4 and r[1] == true and r[2] == 42 and r[3] == "sum" and r[4] == nil,
         "join: " .. tostring(r[1]) .. " " .. tostring(r[2]))
end)

test_main("join from the main chunk runs the loop", function()
  local t = spawn(function() return "from the thread" end)
  local ok, v = t:join(LONG)
  assert(ok == true and v == "from the thread", tostring(v))
end)

test("100 threads alive at once, all joined", function()
  local N, SLEEP = 100, 0.3
  local threads = {}
  local t0 = tap.now()
  for i = 1, N do
    -- Each one sleeps on its own loop: if they ran one after the other this would take
    -- N * SLEEP = 30 s.
    threads[i] = assert(spawn(function(n, s)
      local luv = require "luv"
      luv.sleep(s)
      return n * 2, luv.self() ~= nil
    end, i, SLEEP))
  end
  for i = 1, N do
    local ok, v, in_fiber = threads[i]:join(LONG)
    assert(ok == true and v == i * 2 and in_fiber == true, ("thread %d: %s"):format(i, v))
  end
  local took = tap.now() - t0
  assert(took < N * SLEEP / 4, ("100 threads took %.2f s: they did not run at once"):format(took))
end)

test("a thread that raises: false and the error with its traceback", function()
  local function fails_deep() error("boom in the thread") end
  local t = spawn(function() fails_deep() end)
  local ok, err = t:join(LONG)
  assert(ok == false, "expected false")
  assert(err:find("boom in the thread", 1, true), err)
  assert(err:find("stack traceback:", 1, true), "no traceback: " .. err)
  assert(err:find("fails_deep", 1, true), "the traceback misses the function: " .. err)
end)

test("an error object travels as a value; one that cannot travel, as its text", function()
  local ok, e = spawn(function() error({ code = 7, list = { 1, 2 } }) end):join(LONG)
  assert(ok == false and type(e) == "table" and e.code == 7 and e.list[2] == 2)
  ok, e = spawn(function() error(coroutine.create(print)) end):join(LONG)
  assert(ok == false and type(e) == "string" and e:find("^thread: 0x"), tostring(e))
end)

test("results that cannot be encoded: false and the codec's message", function()
  local ok, err = spawn(function() return 1, { co = coroutine.create(print) } end):join(LONG)
  assert(ok == false)
  assert(err == "luv.thread: the results of the thread: cannot encode a coroutine at result 2.co",
         err)
end)

test("an argument the thread cannot rebuild: false and the hook's error", function()
  -- The hook travels and runs in the thread, where it raises while decoding.
  local odd = setmetatable({}, { __codec = function()
    return function() error("cannot rebuild this here") end, 1
  end })
  local ran = false
  local ok, err = spawn(function() ran = true end, odd):join(LONG)
  assert(ok == false and err:find("cannot rebuild this here", 1, true), tostring(err))
  assert(not ran)
end)

test("join waits for the fibers the thread left running", function()
  local path = os.tmpname()
  local t = spawn(function(file)
    local luv = require "luv"
    local state = { done = false }
    luv.fiber.create(function()
      luv.sleep(0.1)
      state.done = true  -- after f returned: the results are encoded after the loop ends
      local f = assert(io.open(file, "w"))
      f:write("written by a fiber of the thread")
      f:close()
    end):ready()
    local timer = luv.timer.create()
    local ticks = 0
    luv.fiber.create(function()
      timer:start(10, 10)
      for _ = 1, 5 do timer:wait() ticks = ticks + 1 end
      timer:close()
      state.ticks = ticks
    end):ready()
    return state  -- at once: both fibers are still waiting
  end, path)
  local ok, state = t:join(LONG)
  assert(ok == true and state.done == true and state.ticks == 5,
         "the fibers had not finished: " .. tostring(state and state.ticks))
  local f = assert(io.open(path))
  assert(f:read("a") == "written by a fiber of the thread")
  f:close()
  os.remove(path)
end)

test("join suspends only the joining fiber: another one keeps ticking", function()
  local ticks, stop = 0, false
  local ticker = luv.fiber.create(function()
    while not stop do
      luv.sleep(0.01)
      ticks = ticks + 1
    end
  end)
  ticker:ready()
  local t = spawn(function()
    local luv = require "luv"
    luv.sleep(0.3)
    return "late"
  end)
  local t0 = tap.now()
  local ok, v = t:join(LONG)
  local took = tap.now() - t0
  stop = true
  ticker:join()
  assert(ok == true and v == "late")
  assert(took >= 0.25, ("join returned after %.3f s"):format(took))
  -- 0.3 s of 10 ms sleeps: about 30 ticks; a join that blocked the OS thread gives 0-1.
  assert(ticks >= 10, "the other fiber ticked only " .. ticks .. " times during the join")
end)

test("arguments and results of every codec type, both ways", function()
  local shared = { "shared" }
  local cyclic = { name = "cycle", list = { shared, shared } }
  cyclic.self = cyclic
  local counter = 0
  local function bump(n)  -- a closure over `counter`, called in the thread on its copy
    counter = counter + n
    return counter
  end
  local values = {
    n = 8, [1] = true, [2] = false, [3] = 0, [4] = -1, [5] = math.maxinteger,
    [6] = math.mininteger, [7] = 1.5, [8] = -0.0,
  }
  local args = table.pack(nil, values, 1 / 0, -1 / 0, 0 / 0, "bytes\0with\255zeros", "",
                          cyclic, bump, string.rep("x", 100000), math.pi)
  local t = spawn(function(...)
    local a = table.pack(...)
    -- The copies arrive with their sharing: check it here, on the thread's side.
    local c = a[8]
    assert(c.self == c and c.list[1] == c.list[2], "cycle or sharing lost in the thread")
    assert(a[9](2) == 2 and a[9](3) == 5, "the closure did not keep its upvalue")
    assert(a[5] ~= a[5], "NaN did not arrive as NaN")
    return ...
  end, table.unpack(args, 1, args.n))
  local r = table.pack(t:join(LONG))
  assert(r[1] == true, "the thread failed: " .. tostring(r[2]))
  assert(r.n == args.n + 1, "got " .. r.n - 1 .. " values back")
  assert(r[2] == nil)
  assert(same(values, r[3]), "booleans and numbers")
  assert(r[4] == 1 / 0 and r[5] == -1 / 0 and r[6] ~= r[6])
  assert(r[7] == "bytes\0with\255zeros" and r[8] == "")
  assert(same(cyclic, r[9]) and r[9].self == r[9] and r[9].list[1] == r[9].list[2])
  -- The thread called its copy of bump (2 + 3): the copy that came back holds 5, ours 0.
  assert(r[10](1) == 6 and r[10](1) == 7 and counter == 0)
  assert(r[11] == string.rep("x", 100000) and r[12] == math.pi)
  assert(math.type(r[3][5]) == "integer" and math.type(r[3][7]) == "float")
end)

test("values nested as deep as the codec allows, both ways", function()
  -- The codec recurses on the C stack: in the new thread, on the thread's own stack.
  local function chain(n)
    local t = {}
    local c = t
    for _ = 1, n do
      c.next = {}
      c = c.next
    end
    return t
  end
  local ok, depth, back = spawn(function(c, make, n)
    local d = 0
    while c.next do c, d = c.next, d + 1 end
    return d, make(n)
  end, chain(1000), chain, 1000):join(LONG)
  assert(ok == true and depth == 1000, tostring(depth))
  local d = 0
  while back.next do back, d = back.next, d + 1 end
  assert(d == 1000)
end)

test("library values go by name: the thread gets its own luv, string, print", function()
  local luv_module, fmt = luv, string.format
  local ok, same_names = spawn(function()
    return luv_module == require("luv") and fmt == string.format
       and type(luv_module.fiber.create) == "function"
  end):join(LONG)
  assert(ok == true and same_names == true)
  -- a C function of the base library can be the thread's function itself
  local n
  ok, n = spawn(select, "#", "a", nil, "c"):join(LONG)
  assert(ok == true and n == 3)
end)

test("what cannot travel is refused at spawn, naming where it is", function()
  local wrapped = coroutine.wrap(function() end)  -- a C closure of no library
  raises("luv.thread.spawn: cannot encode a C function at arg 1<upvalue wrapped>",
         spawn, function() return wrapped end)
  local timer = luv.timer.create()
  raises("luv.thread.spawn: cannot encode a userdata (luv.timer) at arg 2",
         spawn, function() end, timer)
  raises("luv.thread.spawn: cannot encode a coroutine at arg 3.co",
         spawn, function() end, 1, { co = coroutine.create(print) })
  timer:close()
end)

test("spawn with wrong arguments raises naming the argument", function()
  raises("bad argument #1 to 'spawn' (function expected, got no value)",
         function() luv.thread.spawn() end)
  raises("bad argument #1 to 'spawn' (function expected, got number)",
         function() luv.thread.spawn(42) end)
  raises("bad argument #1 to 'spawn' (function expected, got table)",
         function() luv.thread.spawn({}) end)
  local t = spawn(function() end)
  raises("luv.thread expected, got table", function() t.join({}) end)
  raises("timeout must be >= 0", function() t:join(-1) end)
  assert(t:join(LONG) == true)
end)

test("joining twice, and from two fibers at once, gives the same results", function()
  local t = spawn(function()
    require("luv").sleep(0.05)
    return { "table" }, 7
  end)
  local got = {}
  local function joiner()
    local ok, tbl, n = t:join(LONG)
    got[#got + 1] = ok and tbl[1] == "table" and n == 7
    return tbl
  end
  local a, b = luv.fiber.create(joiner), luv.fiber.create(joiner)
  a:ready()
  b:ready()
  local ta, tb = a:join(), b:join()
  assert(got[1] == true and got[2] == true)
  assert(ta ~= tb, "each join decodes a fresh copy")
  local ok, tbl, n = t:join()  -- after the end: at once
  assert(ok == true and tbl[1] == "table" and n == 7)
end)

test("join with a timeout returns ETIMEDOUT, and the thread goes on", function()
  local t = spawn(function()
    require("luv").sleep(1)  -- long enough for a loaded machine not to finish first
    return "eventually"
  end)
  fails("ETIMEDOUT", t:join(0.05))
  fails("ETIMEDOUT", t:join(0))
  local ok, v = t:join(LONG)
  assert(ok == true and v == "eventually")
  assert(t:join(0) == true)  -- finished: no wait at all
end)

test("a joining fiber that is cancelled gets ECANCELED; the thread is joined later", function()
  local t = spawn(function()
    require("luv").sleep(1)
    return 1
  end)
  local f = luv.fiber.create(function() return t:join(LONG) end)
  f:ready()
  luv.sleep(0.02)
  f:cancel()
  fails("ECANCELED", f:join())
  assert(select(2, t:join(LONG)) == 1)
end)

test("a thread uses fibers, timers, the filesystem, and threads of its own", function()
  local t = spawn(function()
    local luv = require "luv"
    local path = os.tmpname()
    local f = assert(luv.fs.open(path, "w"))
    assert(f:write("abc"))
    f:close()
    local st = assert(luv.fs.stat(path))
    assert(luv.fs.unlink(path))
    local inner = luv.thread.spawn(function(x) return x * 3 end, 14)
    local fiber = luv.fiber.create(function() return select(2, inner:join()) end)
    local timer = luv.timer.create()
    timer:start(5)
    assert(timer:wait(5))
    timer:close()
    return st.size, fiber:join(), type(luv.stdout)
  end)
  local ok, size, inner, stdout = t:join(LONG)
  assert(ok == true and size == 3 and inner == 42 and stdout == "userdata",
         tostring(size) .. " " .. tostring(inner))
end)

test("a thread collected without a join runs to its end", function()
  local path = os.tmpname()
  os.remove(path)
  spawn(function(file)
    require("luv").sleep(0.05)
    local f = assert(io.open(file, "w"))
    f:write("done")
    f:close()
  end, path)
  collectgarbage()
  collectgarbage()
  local deadline = tap.now() + LONG
  local f
  repeat
    luv.sleep(0.01)
    f = io.open(path)
  until f or tap.now() > deadline
  assert(f, "the thread never wrote its file")
  f:close()
  os.remove(path)
end)

-- ---- in child processes: the end of the program --------------------------------------

local child_env = ("LUA_CPATH=%s "):format(tap.shell_quote(package.cpath))

test("the program waits at its end for the threads nobody joined", function()
  local out, code = tap.run_lua([[
    local luv = require "luv"
    luv.thread.spawn(function()
      local luv = require "luv"
      luv.sleep(0.2)
      luv.stdout:write("the thread finished\n")
    end)
    print("the main chunk ends")
  ]], child_env .. tap.self_command())
  assert(code == 0, "status " .. tostring(code) .. ": " .. out)
  assert(out:find("the main chunk ends\n", 1, true) and out:find("the thread finished\n", 1, true),
         out)
end)

test("an error nobody joins is written to stderr, never a PANIC", function()
  local out, code = tap.run_lua([[
    local luv = require "luv"
    luv.thread.spawn(function() error("nobody joins me") end)
    collectgarbage()
    luv.sleep(0.1)
  ]], child_env .. tap.self_command())
  assert(out:find("luv: error in thread: [^\n]*nobody joins me") and
         out:find("stack traceback:", 1, true), out)
  assert(not out:find("PANIC", 1, true), out)
  -- The luv command says so by its exit status, as for a fiber's unjoined error.
  assert(code == (tap.plain and 0 or 1), "status " .. tostring(code))
end)

test("a failing thread and a thread that runs on do not crash lua_close", function()
  local out, code = tap.run_lua([[
    local luv = require "luv"
    local t = luv.thread.spawn(function() error("joined") end)
    local long = luv.thread.spawn(function()
      require("luv").sleep(0.1)
      return "ok"
    end)
    print(t:join())
    os.exit(0, true)  -- closes the state: it waits for `long`
  ]], child_env .. tap.self_command())
  assert(code == 0 and out:find("^false\t[^\n]*joined"), "status " .. tostring(code) .. ": " .. out)
  assert(not out:find("luv: error in thread", 1, true), out)
end)

tap.done()
