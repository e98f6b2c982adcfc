-- LuaSocket conformance, the module and its utilities: module contents (functions,
-- constants, _VERSION), socket.select (timeouts, readable/writable, dirty sockets, hash
-- form, duck typing), socket.gettime/socket.sleep, socket.dns (local names and failures),
-- newtry/protect/try/skip, and socket.sink/socket.source with ltn12.
--
--   lua5.4 tests/lua/socket_conformance/misc.lua                  -- stock LuaSocket
--   SOCKET_IMPL=luv lua5.4 tests/lua/socket_conformance/misc.lua  -- luv's drop-in
--
-- (SOCKET_IMPL=luv loads the drop-in with require "luv.socket" before anything else.)
--
-- harness.lua describes the output, the peer and the conventions of the checks.

-- harness.lua sits next to this file: found whatever the working directory and LUA_PATH.
local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local H = require("harness")

local socket, ltn12 = H.socket, H.ltn12
local case, check, expect, truthy, raises = H.case, H.check, H.expect, H.truthy, H.raises
local raises_suffix, between, timed = H.raises_suffix, H.between, H.timed
local track, peer, pair, pattern = H.track, H.peer, H.pair, H.pattern

H.start_peer() -- for the sink/source case

----------------------------------------------------------------------------------------
-- Module
----------------------------------------------------------------------------------------

-- The module table: socket.lua extends socket.core and returns the same table. Surprise:
-- 3.1.0 still reports _VERSION "LuaSocket 3.0.0" (LUASOCKET_VERSION was never bumped).
-- There is no _DEBUG (only in LUASOCKET_DEBUG builds).
case("module: functions, constants, _VERSION", function()
  check("require 'socket.core' is the socket table", socket, require("socket.core"))
  check("package.loaded.socket", socket, package.loaded.socket)
  check("_VERSION", "LuaSocket 3.0.0", socket._VERSION)
  check("_DEBUG", nil, socket._DEBUG)
  check("_SETSIZE", 1024, socket._SETSIZE)
  check("_SOCKETINVALID", -1, socket._SOCKETINVALID)
  check("_DATAGRAMSIZE", 8192, socket._DATAGRAMSIZE)
  check("BLOCKSIZE", 2048, socket.BLOCKSIZE)
  for _, name in ipairs({ "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "connect", "connect4",
    "connect6", "bind", "select", "sleep", "gettime", "newtry", "protect", "try", "skip",
    "sink", "source", "choose", "__unload" }) do
    check("type(socket." .. name .. ")", "function", type(socket[name]))
  end
  check("type(socket.dns)", "table", type(socket.dns))
  for _, name in ipairs({ "toip", "tohostname", "getaddrinfo", "getnameinfo", "gethostname" }) do
    check("type(socket.dns." .. name .. ")", "function", type(socket.dns[name]))
  end
  check("type(socket.sourcet)", "table", type(socket.sourcet))
  check("type(socket.sinkt)", "table", type(socket.sinkt))
  for _, name in ipairs({ "by-length", "until-closed", "default" }) do
    check("sourcet[" .. name .. "]", "function", type(socket.sourcet[name]))
  end
  for _, name in ipairs({ "close-when-done", "keep-open", "default" }) do
    check("sinkt[" .. name .. "]", "function", type(socket.sinkt[name]))
  end
  -- socket.unix is a separate module (socket.unix); it is not a field of socket.
  check("socket.unix", nil, rawget(socket, "unix"))
end)

----------------------------------------------------------------------------------------
-- select
----------------------------------------------------------------------------------------

-- socket.select(recvt, sendt, timeout) returns readable, writable (2 values), each an
-- array that also maps socket -> index (a float); on timeout {}, {}, 'timeout'
-- (3 values). A dirty socket (bytes in the internal buffer) counts as readable at once,
-- even with nothing in the kernel.
case("select: timeout, writable, readable, dirty, hash form", function()
  local c, a = pair()
  local dt, r, w, e = timed(socket.select, { a, c }, nil, 0.2)
  check("nothing ready: readable empty", nil, next(r))
  check("nothing ready: writable empty", nil, next(w))
  check("nothing ready: err", "timeout", e)
  check("nothing ready: 3 results", 3, select("#", socket.select({ a }, nil, 0)))
  between("elapsed", dt, 0.15, 0.6)

  r, w, e = socket.select(nil, { c }, 1)
  check("writable[1]", c, w[1])
  check("writable[c]", 1.0, w[c])
  check("err on success", nil, e)
  check("2 results on success", 2, select("#", socket.select(nil, { c }, 1)))

  c:send("one\ntwo\n")
  r = socket.select({ a }, nil, 2)
  check("readable[1]", a, r[1])
  check("readable[a]", 1.0, r[a])
  expect("receive", { n = 3, "one", nil, nil }, a:receive())
  check("dirty", true, a:dirty())
  dt, r, w, e = timed(socket.select, { c, a }, nil, 2)
  between("dirty socket returns at once", dt, 0, 0.3)
  check("dirty socket readable", a, r[1])
  check("clean socket not readable", nil, r[c])
  check("only one readable", nil, r[2])
  expect("second line", { n = 3, "two", nil, nil }, a:receive())
  check("clean now", false, a:dirty())
  r, w, e = socket.select({ a }, nil, 0)
  check("timeout 0", "timeout", e)
end)

-- select with empty tables or nils and a timeout just sleeps that long; objects without
-- an fd (closed) are ignored; a listening socket with a pending connection is readable;
-- any table with getfd (and dirty) works.
case("select: empty sets sleep, closed ignored, server readable, duck typing", function()
  local dt, r, w, e = timed(socket.select, {}, {}, 0.25)
  check("empty: err", "timeout", e)
  between("empty tables sleep", dt, 0.2, 0.8)
  dt, r, w, e = timed(socket.select, nil, nil, 0.25)
  check("nils: err", "timeout", e)
  between("nils sleep", dt, 0.2, 0.8)
  dt = timed(socket.select, {}, {}, 0)
  between("timeout 0 returns at once", dt, 0, 0.1)

  local closed = socket.tcp()
  closed:close()
  r, w, e = socket.select({ closed }, { closed }, 0)
  check("closed sockets ignored", "timeout", e)

  local srv = track(socket.bind("127.0.0.1", 0))
  local _, port = srv:getsockname()
  local c = track(socket.tcp())
  c:settimeout(3)
  c:connect("127.0.0.1", port)
  r = socket.select({ srv }, nil, 2)
  check("server with a pending connection", srv, r[1])
  check("server index", 1.0, r[srv])

  local fake = {
    getfd = function() return srv:getfd() end,
    dirty = function() return true end,
  }
  r = socket.select({ fake }, nil, 1)
  check("duck-typed dirty object", fake, r[1])
  raises_suffix("non-table argument", "(table expected, got number)",
    function() socket.select(1, 2) end)
end)

----------------------------------------------------------------------------------------
-- time
----------------------------------------------------------------------------------------

-- socket.gettime: epoch seconds as a float with sub-millisecond resolution; socket.sleep
-- returns nothing, sleeps at least the time asked, and treats negatives as 0.
case("socket.gettime / socket.sleep", function()
  local t1 = socket.gettime()
  check("gettime type", "float", math.type(t1))
  truthy("close to os.time()", math.abs(t1 - os.time()) < 2)
  local fine = false
  for _ = 1, 20 do
    local a, b = socket.gettime(), socket.gettime()
    truthy("monotonic enough", b >= a)
    if (b * 1000) % 1 ~= 0 or (a * 1000) % 1 ~= 0 then fine = true end
    if b - a > 0 and b - a < 0.001 then fine = true end
  end
  truthy("sub-millisecond resolution", fine)
  expect("sleep returns nothing", { n = 0 }, socket.sleep(0.01))
  local dt = timed(socket.sleep, 0.1)
  between("sleep(0.1)", dt, 0.099, 0.5)
  dt = timed(socket.sleep, -1)
  between("sleep(-1)", dt, 0, 0.05)
  raises_suffix("sleep()", "(number expected, got no value)", function() socket.sleep() end)
end)

----------------------------------------------------------------------------------------
-- DNS
----------------------------------------------------------------------------------------

-- socket.dns on local names: toip/tohostname return a name or address plus a table
-- {name=, alias={}, ip={}}; getaddrinfo returns {family='inet'|'inet6', addr=} entries
-- (SOCK_STREAM only, so one per address); gethostname is the kernel's host name.
case("dns: toip, tohostname, getaddrinfo, getnameinfo, gethostname", function()
  local ip, info = socket.dns.toip("localhost")
  check("toip(localhost)", "127.0.0.1", ip)
  check("info.name type", "string", type(info.name))
  check("info.alias type", "table", type(info.alias))
  local found = false
  for _, v in ipairs(info.ip) do if v == "127.0.0.1" then found = true end end
  truthy("info.ip has 127.0.0.1", found)
  ip, info = socket.dns.toip("127.0.0.1")
  check("toip(127.0.0.1)", "127.0.0.1", ip)
  check("toip(127.0.0.1) info.ip[1]", "127.0.0.1", info.ip[1])
  local name, info2 = socket.dns.tohostname("127.0.0.1")
  check("tohostname(127.0.0.1)", "localhost", name)
  check("tohostname info.ip[1]", "127.0.0.1", info2.ip[1])

  local list = socket.dns.getaddrinfo("127.0.0.1")
  check("getaddrinfo(127.0.0.1) count", 1, #list)
  check("family", "inet", list[1].family)
  check("addr", "127.0.0.1", list[1].addr)
  local keys = 0
  for _ in pairs(list[1]) do keys = keys + 1 end
  check("only family and addr", 2, keys)
  list = socket.dns.getaddrinfo("localhost")
  found = false
  for _, v in ipairs(list) do
    truthy("family inet/inet6", v.family == "inet" or v.family == "inet6")
    if v.family == "inet" and v.addr == "127.0.0.1" then found = true end
  end
  truthy("getaddrinfo(localhost) has inet 127.0.0.1", found)
  list = socket.dns.getaddrinfo("::1")
  check("getaddrinfo(::1) family", "inet6", list[1] and list[1].family)
  check("getaddrinfo(::1) addr", "::1", list[1] and list[1].addr)

  local names = socket.dns.getnameinfo("127.0.0.1")
  check("getnameinfo(127.0.0.1)[1]", "localhost", names[1])
  raises("getnameinfo()", "host and serv cannot be both nil",
    function() socket.dns.getnameinfo() end)

  local host = socket.dns.gethostname()
  check("gethostname type", "string", type(host))
  local f = io.open("/proc/sys/kernel/hostname", "r")
  if f then
    check("gethostname", (f:read("a"):gsub("%s+$", "")), host)
    f:close()
  end
end)

-- Failures on a reserved, never-resolving name, quickly: the getaddrinfo-based calls say
-- 'host or service not provided, or not known'; the gethostbyname-based toip/tohostname
-- say 'host not found'.
case("dns failures for no-such-host.invalid", function()
  local bad = "no-such-host.invalid"
  local dt = timed(function()
    expect("toip", { n = 2, nil, "host not found" }, socket.dns.toip(bad))
    expect("tohostname", { n = 2, nil, "host not found" }, socket.dns.tohostname(bad))
    expect("getaddrinfo", { n = 2, nil, "host or service not provided, or not known" },
      socket.dns.getaddrinfo(bad))
    expect("getnameinfo", { n = 2, nil, "host or service not provided, or not known" },
      socket.dns.getnameinfo(bad))
    expect("tcp connect", { n = 2, nil, "host or service not provided, or not known" },
      socket.tcp():connect(bad, 80))
    expect("socket.connect", { n = 2, nil, "host or service not provided, or not known" },
      socket.connect(bad, 80))
  end)
  between("all failures together", dt, 0, 5)
end)

----------------------------------------------------------------------------------------
-- try / protect / skip
----------------------------------------------------------------------------------------

-- newtry/try: pass all values through when the first is truthy; otherwise call the
-- finalizer and raise the second value wrapped in a table (metatable hidden: getmetatable
-- gives false). protect turns such a raise into nil, err, re-raises anything else, and
-- keeps working across coroutine yields. skip(n, ...) drops n values.
case("newtry / protect / try / skip", function()
  expect("try passes values", { n = 3, 1, "two", 3 }, socket.try(1, "two", 3))
  local ok, e = pcall(socket.try, nil, "boom")
  check("try raises", false, ok)
  check("raised value type", "table", type(e))
  check("raised value [1]", "boom", e[1])
  check("hidden metatable", false, getmetatable(e))
  expect("protect(try nil, err)", { n = 2, nil, "boom" },
    socket.protect(function() socket.try(nil, "boom") end)())
  expect("protect(try false, err)", { n = 2, nil, "e" },
    socket.protect(function() socket.try(false, "e") end)())
  expect("protect(try nil)", { n = 2, nil, nil },
    socket.protect(function() socket.try(nil) end)())
  expect("protect passes results", { n = 2, 3, "x" },
    socket.protect(function(a, b) return a + b, "x" end)(1, 2))
  local ok2, e2 = pcall(socket.protect(function() error("plain", 0) end))
  check("protect re-raises plain errors: ok", false, ok2)
  check("protect re-raises plain errors: message", "plain", e2)
  local tbl = {}
  local ok3, e3 = pcall(socket.protect(function() error(tbl) end))
  check("protect re-raises tables", tbl, e3)
  check("ok3", false, ok3)

  local calls = 0
  local try = socket.newtry(function() calls = calls + 1 end)
  expect("newtry success", { n = 2, "a", "b" }, try("a", "b"))
  check("finalizer not called on success", 0, calls)
  expect("newtry failure", { n = 2, nil, "bad" }, socket.protect(function() try(nil, "bad") end)())
  check("finalizer called once", 1, calls)

  local co = coroutine.wrap(socket.protect(function(x)
    local y = coroutine.yield(x + 1)
    socket.try(nil, "after " .. y)
  end))
  check("yield through protect", 2, co(1))
  expect("resume through protect", { n = 2, nil, "after resume" }, co("resume"))

  expect("skip(1, ...)", { n = 2, "b", "c" }, socket.skip(1, "a", "b", "c"))
  expect("skip(3, 'a')", { n = 0 }, socket.skip(3, "a"))
  expect("skip(0, 'a')", { n = 1, "a" }, socket.skip(0, "a"))
end)

----------------------------------------------------------------------------------------
-- LTN12 sources and sinks
----------------------------------------------------------------------------------------

-- socket.sink('keep-open') sends each chunk and leaves the socket open;
-- socket.source('until-closed') reads BLOCKSIZE chunks to EOF, then closes the socket;
-- 'by-length' reads exactly n bytes and stops without waiting for EOF;
-- 'close-when-done' closes at the end of the data. Both kinds expose getfd/dirty.
-- Unknown modes raise 'unknown key (x)'.
case("socket.sink / socket.source with ltn12", function()
  local data = string.rep("0123456789", 1000)
  local c = peer("echo")
  local sink = socket.sink("keep-open", c)
  check("sink getfd", c:getfd(), sink.getfd())
  check("sink dirty", false, sink.dirty())
  expect("pump into the socket", { n = 1, 1 }, ltn12.pump.all(ltn12.source.string(data), sink))
  truthy("still open", c:getfd() >= 0)
  c:shutdown("send")
  local got = {}
  local src = socket.source("until-closed", c)
  check("source getfd", c:getfd(), src.getfd())
  expect("pump from the socket", { n = 1, 1 }, ltn12.pump.all(src, (ltn12.sink.table(got))))
  check("echoed data", data, table.concat(got))
  expect("until-closed closed the socket", { n = 1, -1.0 }, c:getfd())

  local c2 = peer("pat 5000; send; sleep 1; close")
  local got2 = {}
  local dt = timed(ltn12.pump.all, socket.source("by-length", c2, 5000), (ltn12.sink.table(got2)))
  check("by-length data", pattern(5000), table.concat(got2))
  between("by-length does not wait for EOF", dt, 0, 0.7)
  truthy("by-length leaves the socket open", c2:getfd() >= 0)

  local c3 = peer("drain")
  expect("close-when-done", { n = 1, 1 },
    ltn12.pump.all(ltn12.source.string("abc"), socket.sink("close-when-done", c3)))
  expect("closed at the end", { n = 1, -1.0 }, c3:getfd())
  raises("unknown sink mode", "unknown key (bogus)", function() socket.sink("bogus", c3) end)
  raises("unknown source mode", "unknown key (bogus)", function() socket.source("bogus", c3) end)
end)

H.done()
