-- The LuaSocket drop-in inside fibers: what stock LuaSocket cannot show (the conformance
-- suite in socket_conformance/ pins the LuaSocket semantics themselves). Blocking calls
-- suspend only their fiber; fibers sharing one connection never interleave bytes; select
-- has no 1024-descriptor limit; closing an object wakes the fibers waiting on it.
-- Everything stays on 127.0.0.1 and unix sockets in a temp directory.
local tap = require("tap")
local luv, test = tap.luv, tap.test
local socket = require("luv.socket")
local unix = require("socket.unix")

-- Fails unless `actual` equals `wanted`: tables (result lists) element by element, with
-- the number subtype (LuaSocket's counts are floats).
local function expect(actual, wanted)
  local function show(v)
    if type(v) ~= "table" then
      return math.type(v) and ("%s (%s)"):format(v, math.type(v)) or tostring(v)
    end
    local parts = {}
    for i = 1, math.max(#v, 3) do parts[i] = show(v[i]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  local same = math.type(actual) == math.type(wanted) and actual == wanted
  if type(wanted) == "table" and type(actual) == "table" then
    same = true
    for i = 1, math.max(#wanted, #actual, 3) do
      if actual[i] ~= wanted[i] or math.type(actual[i]) ~= math.type(wanted[i]) then
        same = false
      end
    end
  end
  if not same then
    error(("expected %s, got %s"):format(show(wanted), show(actual)), 2)
  end
end

local function server()
  local srv = assert(socket.bind("127.0.0.1", 0))
  local _, port = srv:getsockname()
  return srv, tonumber(port)
end

-- A connected pair: the client and the accepted end.
local function pair()
  local srv, port = server()
  local c = assert(socket.connect("127.0.0.1", port))
  srv:settimeout(5)
  local a = assert(srv:accept())
  srv:close()
  return c, a
end

local function go(fn, ...)
  local f = luv.fiber.create(fn, ...)
  f:ready()
  return f
end

test("require 'luv.socket' returns the socket module on luv's socket.core", function()
  assert(socket == require("socket"))
  assert(package.preload["socket.core"] ~= nil)
  expect(socket._VERSION, "LuaSocket 3.0.0")
  assert(tostring(socket.tcp()):match("^tcp{master}: 0x"))
end)

test("installing after LuaSocket's own socket.core was loaded raises a clear error", function()
  local open = assert(package.loadlib(package.searchpath("luv", package.cpath),
    "luaopen_luv_socket"))
  local core, preload = package.loaded["socket.core"], package.preload["socket.core"]
  local registry = debug.getregistry()
  -- As if stock LuaSocket had been required first, in a state the drop-in never saw.
  package.loaded["socket.core"] = {}
  package.preload["socket.core"] = nil
  registry["luv.socket.installed"] = nil
  local ok, err = pcall(open)
  package.loaded["socket.core"], package.preload["socket.core"] = core, preload
  registry["luv.socket.installed"] = true
  assert(not ok and err:find("LuaSocket's own socket.core is already loaded", 1, true), err)
end)

test("under the luv command, require 'luv.socket' after 'socket' is the same module", function()
  -- The command installs the drop-in at start; luv.so on LUA_CPATH is a second copy of
  -- the code, which must not be taken for LuaSocket's own socket.core.
  if tap.plain then return end
  local f = assert(io.popen(("%q -e 'local a = require \"socket\"; print(a == require \"luv.socket\")'")
    :format(arg[-1])))
  local out = f:read("a")
  f:close()
  assert(out == "true\n", out)
end)

test("a receive suspends only its fiber", function()
  local c, a = pair()
  local order = {}
  local reader = go(function()
    c:settimeout(5)
    order[#order + 1] = "reading"
    local line = c:receive()
    order[#order + 1] = "got " .. line
  end)
  local other = go(function()
    for i = 1, 3 do
      order[#order + 1] = "tick " .. i
      luv.sleep(0.01)
    end
    a:send("hello\n")
  end)
  reader:join()
  other:join()
  expect(table.concat(order, ","), "reading,tick 1,tick 2,tick 3,got hello")
  c:close()
  a:close()
end)

test("100 fibers each with its own connection, at once", function()
  local srv, port = server()
  srv:settimeout(5)
  local echo = go(function()
    local served = {}
    for i = 1, 100 do
      local s = assert(srv:accept())
      served[i] = go(function()
        s:settimeout(5)
        while true do
          local line = s:receive()
          if not line then break end
          assert(s:send(line .. "\n"))
        end
        s:close()
      end)
    end
    for _, f in ipairs(served) do f:join() end
  end)
  local clients = {}
  for i = 1, 100 do
    clients[i] = go(function()
      local c = assert(socket.connect("127.0.0.1", port))
      c:settimeout(5)
      for j = 1, 20 do
        assert(c:send(("%d:%d\n"):format(i, j)))
        expect(c:receive(), ("%d:%d"):format(i, j))
      end
      c:close()
    end)
  end
  for _, f in ipairs(clients) do f:join() end
  echo:join()
  srv:close()
end)

test("fibers sharing one connection never interleave their sends", function()
  local c, a = pair()
  local size = 1024 * 1024
  local senders = {}
  for i, ch in ipairs({ "a", "b", "c", "d" }) do
    senders[i] = go(function()
      c:settimeout(10)
      expect(c:send(ch:rep(size)), size + 0.0)
    end)
  end
  a:settimeout(10)
  local seen = {}
  for _ = 1, 4 do
    local block = assert(a:receive(size))
    local ch = block:sub(1, 1)
    assert(block == ch:rep(size), "interleaved bytes in a block of " .. ch)
    seen[#seen + 1] = ch
  end
  for _, f in ipairs(senders) do f:join() end
  table.sort(seen)
  expect(table.concat(seen), "abcd")
  c:close()
  a:close()
end)

test("two fibers receiving lines from one connection each get whole lines", function()
  local c, a = pair()
  local got = {}
  local readers = {}
  for r = 1, 2 do
    readers[r] = go(function()
      c:settimeout(5)
      for _ = 1, 50 do
        local line = assert(c:receive())
        got[#got + 1] = line
      end
    end)
  end
  for i = 1, 100 do
    -- Dribbled in pieces, so that a receive waits in the middle of a line.
    local line = ("line %03d %s\n"):format(i, ("x"):rep(i))
    a:send(line:sub(1, 5))
    luv.sleep(0)
    a:send(line:sub(6))
  end
  for _, f in ipairs(readers) do f:join() end
  table.sort(got)
  expect(#got, 100)
  for i = 1, 100 do
    expect(got[i], ("line %03d %s"):format(i, ("x"):rep(i)))
  end
  c:close()
  a:close()
end)

test("timeouts are per call and leave other fibers running", function()
  local c, a = pair()
  c:settimeout(0.2)
  local ticks = 0
  local ticker = go(function()
    for _ = 1, 5 do
      luv.sleep(0.02)
      ticks = ticks + 1
    end
  end)
  local t0 = socket.gettime()
  expect({ c:receive() }, { nil, "timeout", "" })
  local dt = socket.gettime() - t0
  assert(dt >= 0.19 and dt < 1.5, "timeout after " .. dt)
  ticker:join()
  expect(ticks, 5)
  -- settimeout(0): never waits.
  c:settimeout(0)
  expect({ c:receive() }, { nil, "timeout", "" })
  c:close()
  a:close()
end)

test("closing an object wakes the fiber waiting on it with 'closed'", function()
  local c, a = pair()
  local result
  local reader = go(function()
    result = { c:receive() }
  end)
  luv.sleep(0.05)
  c:close()
  reader:join()
  expect(result, { nil, "closed", "" })
  a:close()
end)

test("fiber:cancel() ends a waiting receive with ECANCELED", function()
  local c, a = pair()
  local result
  local reader = go(function()
    result = { c:receive() }
  end)
  luv.sleep(0.05)
  reader:cancel()
  reader:join()
  expect(result, { nil, "ECANCELED: operation canceled", "" })
  c:close()
  a:close()
end)

test("socket.sleep suspends only the fiber; gettime is fresh and sub-millisecond", function()
  local woke = false
  local sleeper = go(function()
    socket.sleep(0.1)
    woke = true
  end)
  local t0 = socket.gettime()
  local spins = 0
  while not woke do
    spins = spins + 1
    luv.sleep(0.005)
  end
  sleeper:join()
  local dt = socket.gettime() - t0
  assert(spins >= 5, "other fiber ran only " .. spins .. " times")
  assert(dt >= 0.09, "slept " .. dt)
  local a, b = socket.gettime(), socket.gettime()
  assert(b >= a and math.type(a) == "float")
  -- Two readings in a tight loop differ by less than a millisecond but are not cached.
  local distinct = false
  for _ = 1, 1000 do
    if socket.gettime() ~= a then distinct = true break end
  end
  assert(distinct, "gettime is cached")
end)

test("select over 1100 descriptors, beyond FD_SETSIZE", function()
  local srv, port = server()
  srv:settimeout(5)
  local clients, accepted = {}, {}
  for i = 1, 550 do
    clients[i] = assert(socket.connect("127.0.0.1", port))
    accepted[i] = assert(srv:accept())
  end
  local all = {}
  for i = 1, 550 do
    all[#all + 1] = clients[i]
    all[#all + 1] = accepted[i]
  end
  local maxfd = 0
  for _, s in ipairs(all) do maxfd = math.max(maxfd, s:getfd()) end
  assert(maxfd > 1024, "descriptors stayed below 1024: " .. maxfd)
  -- Nothing readable: a timeout.
  local r, w, err = socket.select(all, nil, 0.05)
  expect({ #r, #w, err }, { 0, 0, "timeout" })
  -- One fiber writes to the last client later; select wakes for it.
  local writer = go(function()
    luv.sleep(0.05)
    accepted[550]:send("x")
  end)
  r, w, err = socket.select(all, nil, 5)
  writer:join()
  expect(#r, 1)
  assert(r[1] == clients[550] and r[clients[550]] == 1.0)
  for _, s in ipairs(all) do s:close() end
  srv:close()
end)

test("unix stream sockets between fibers", function()
  local path = os.tmpname()
  os.remove(path)
  local srv = assert(unix())
  assert(srv:bind(path))
  assert(srv:listen())
  local server_fiber = go(function()
    srv:settimeout(5)
    local s = assert(srv:accept())
    s:settimeout(5)
    local line = s:receive()
    s:send(line:upper() .. "\n")
    s:close()
  end)
  local c = assert(unix())
  assert(c:connect(path))
  c:settimeout(5)
  c:send("over unix\n")
  expect(c:receive(), "OVER UNIX")
  server_fiber:join()
  c:close()
  srv:close()
  os.remove(path)
end)

test("a peer that resets gives 'closed', and nothing is leaked", function()
  local function open_fds()
    return #assert(luv.fs.readdir("/proc/self/fd"))
  end
  local fds0 = open_fds()
  for _ = 1, 20 do
    local c, a = pair()
    a:setoption("linger", { on = true, timeout = 0 })
    a:close()  -- RST
    c:settimeout(5)
    local data, err = c:receive()
    assert(data == nil and err == "closed", tostring(err))
    local _, serr = c:send(("x"):rep(100000))
    assert(serr == "closed", tostring(serr))
    c:close()
  end
  collectgarbage()
  expect(open_fds(), fds0)
end)

tap.done()
