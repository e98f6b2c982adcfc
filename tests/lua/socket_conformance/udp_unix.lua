-- LuaSocket conformance, datagrams and unix sockets: UDP unconnected (setsockname,
-- sendto, receivefrom, truncation, timeouts), connected (setpeername, send/receive, '*',
-- ICMP refused) and closed or fd-less objects; socket.unix stream sockets (classes,
-- bind/listen/accept/connect, failures) and datagram sockets. Everything is in-process
-- (no peer); unix socket paths are temp names removed after each case.
--
--   lua5.4 tests/lua/socket_conformance/udp_unix.lua                  -- stock LuaSocket
--   SOCKET_IMPL=luv lua5.4 tests/lua/socket_conformance/udp_unix.lua  -- luv's drop-in
--
-- (SOCKET_IMPL=luv loads the drop-in with require "luv.socket" before anything else.)
--
-- harness.lua describes the output and the conventions of the checks.

-- harness.lua sits next to this file: found whatever the working directory and LUA_PATH.
local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local H = require("harness")

local socket = H.socket
local case, check, expect, truthy, raises = H.case, H.check, H.expect, H.truthy, H.raises
local between, timed, check_class = H.between, H.timed, H.check_class
local track, tmppath, free_port = H.track, H.tmppath, H.free_port

----------------------------------------------------------------------------------------
-- UDP
----------------------------------------------------------------------------------------

-- Unconnected UDP: udp{unconnected}, no fd until setsockname/sendto; sendto returns the
-- byte count (float); receivefrom returns data, ip, port (INTEGER); receive returns the
-- data alone. A 0-byte datagram is received as ''. A short buffer truncates and the rest
-- of the datagram is lost. Timeouts give just nil, 'timeout' (no partial).
case("UDP unconnected: setsockname, sendto, receivefrom, truncation, timeouts", function()
  local u = track(socket.udp())
  check_class("socket.udp()", u, "udp{unconnected}")
  expect("fresh getfd", { n = 1, -1.0 }, u:getfd())
  expect("setsockname", { n = 1, 1.0 }, u:setsockname("127.0.0.1", 0))
  local ip, port, fam = u:getsockname()
  check("sockname ip", "127.0.0.1", ip)
  check("sockname port type", "string", type(port))
  check("sockname family", "inet", fam)
  expect("dirty", { n = 1, false }, u:dirty())
  local v = track(socket.udp())
  expect("sendto", { n = 1, 5.0 }, v:sendto("hello", "127.0.0.1", port))
  expect("sendto, numeric port", { n = 1, 6.0 }, v:sendto("hello2", "127.0.0.1", tonumber(port)))
  local _, vport = v:getsockname()
  u:settimeout(2)
  expect("receivefrom", { n = 3, "hello", "127.0.0.1", tonumber(vport) }, u:receivefrom())
  expect("receive", { n = 1, "hello2" }, u:receive())
  expect("sendto ''", { n = 1, 0.0 }, v:sendto("", "127.0.0.1", port))
  expect("empty datagram", { n = 3, "", "127.0.0.1", tonumber(vport) }, u:receivefrom())
  v:sendto("truncate-me", "127.0.0.1", port)
  expect("receive(4)", { n = 1, "trun" }, u:receive(4))
  v:sendto("truncate-me", "127.0.0.1", port)
  expect("receivefrom(4)", { n = 3, "trun", "127.0.0.1", tonumber(vport) }, u:receivefrom(4))
  u:settimeout(0.2)
  local dt = timed(function()
    expect("receive timeout (rest was dropped)", { n = 2, nil, "timeout" }, u:receive())
  end)
  between("elapsed", dt, 0.15, 0.6)
  u:settimeout(0)
  dt = timed(function()
    expect("receivefrom, timeout 0", { n = 2, nil, "timeout" }, u:receivefrom())
  end)
  between("elapsed, timeout 0", dt, 0, 0.1)
  -- sendto takes numeric hosts only (AI_NUMERICHOST): glibc's gai_strerror text.
  expect("sendto a host name", { n = 2, nil, "Name or service not known" },
    v:sendto("x", "localhost", port))
end)

-- Connected UDP: setpeername makes udp{connected} (creating the fd if needed), send
-- returns the count, receive works, sendto/receivefrom raise; setpeername('*')
-- disconnects. An ICMP port-unreachable surfaces on the next receive as
-- 'connection refused'.
case("UDP connected: setpeername, send/receive, '*', refused", function()
  local u = track(socket.udp())
  u:setsockname("127.0.0.1", 0)
  local _, uport = u:getsockname()
  local z = track(socket.udp())
  expect("setpeername", { n = 1, 1.0 }, z:setpeername("127.0.0.1", uport))
  check_class("connected", z, "udp{connected}")
  local zip, zport = z:getsockname()
  check("implicit local ip", "127.0.0.1", zip)
  truthy("implicit local port", zport ~= "0")
  expect("getpeername", { n = 3, "127.0.0.1", tonumber(uport), "inet" }, z:getpeername())
  expect("send", { n = 1, 3.0 }, z:send("abc"))
  u:settimeout(2)
  expect("got it", { n = 3, "abc", "127.0.0.1", tonumber(zport) }, u:receivefrom())
  u:sendto("back", "127.0.0.1", zport)
  z:settimeout(2)
  expect("receive", { n = 1, "back" }, z:receive())
  raises("sendto on connected", "calling 'sendto' on bad self (udp{unconnected} expected)",
    function() z:sendto("x", "127.0.0.1", uport) end)
  raises("receivefrom on connected", "calling 'receivefrom' on bad self (udp{unconnected} expected)",
    function() z:receivefrom() end)
  raises("send on unconnected", "calling 'send' on bad self (udp{connected} expected)",
    function() u:send("x") end)
  raises("getpeername on unconnected", "calling 'getpeername' on bad self (udp{connected} expected)",
    function() u:getpeername() end)
  expect("setpeername('*')", { n = 1, 1.0 }, z:setpeername("*"))
  check_class("disconnected", z, "udp{unconnected}")
  expect("setpeername unresolvable", { n = 2, nil, "host or service not provided, or not known" },
    z:setpeername("no-such-host.invalid", 9))

  local dead = free_port()
  local q = track(socket.udp())
  q:setpeername("127.0.0.1", dead)
  q:settimeout(1)
  expect("send to a dead port", { n = 1, 4.0 }, q:send("ping"))
  expect("receive after ICMP unreachable", { n = 2, nil, "connection refused" }, q:receive())
end)

-- Closed (or fd-less) UDP objects. Surprising: receive on them SUCCEEDS with '' (stock
-- treats its internal 'closed' as a zero-length datagram), and sendto fails with
-- 'refused' (UDP's name for 'closed').
case("UDP closed and fd-less objects", function()
  local u = track(socket.udp())
  expect("receive without fd", { n = 1, "" }, u:receive())
  u:setsockname("127.0.0.1", 0)
  expect("close", { n = 1, 1.0 }, u:close())
  expect("close again", { n = 1, 1.0 }, u:close())
  expect("getfd", { n = 1, -1.0 }, u:getfd())
  expect("receive after close", { n = 1, "" }, u:receive())
  expect("sendto after close", { n = 2, nil, "refused" }, u:sendto("x", "127.0.0.1", 9))
  local u4 = track(socket.udp4())
  truthy("udp4 has an fd", u4:getfd() >= 0)
  expect("udp4 getsockname before bind", { n = 3, "0.0.0.0", "0", "inet" }, u4:getsockname())
  expect("udp getfamily", { n = 1, "inet4" }, u4:getfamily())
  raises("udp settimeout mode", "bad argument #2 to 'settimeout' (invalid timeout mode)",
    function() u4:settimeout(1, "z") end)
end)

----------------------------------------------------------------------------------------
-- Unix domain sockets
----------------------------------------------------------------------------------------

-- require 'socket.unix' gives a callable table (unix() = unix.stream()), with dgram and
-- the old aliases tcp/udp. Classes unixstream{master,client,server}; getsockname is the
-- path ('' when unbound); there is no getpeername/getoption/gettimeout. Connecting to a
-- missing path fails with strerror text AND destroys the fd (getfd -1.0); so does a
-- failed bind (existing path: 'address already in use').
case("unix stream sockets", function()
  local unix = require("socket.unix")
  check("module type", "table", type(unix))
  check("callable through its metatable", "function", type(getmetatable(unix).__call))
  check("tcp alias", unix.stream, unix.tcp)
  check("udp alias", unix.dgram, unix.udp)
  local path = tmppath()
  local s = track(unix())
  check_class("unix()", s, "unixstream{master}")
  truthy("fd at once", s:getfd() >= 0)
  expect("unbound getsockname", { n = 1, "" }, s:getsockname())
  check("no getpeername", nil, s.getpeername)
  check("no getoption", nil, s.getoption)
  check("no gettimeout", nil, s.gettimeout)
  expect("bind", { n = 1, 1.0 }, s:bind(path))
  expect("getsockname", { n = 1, path }, s:getsockname())
  expect("listen", { n = 1, 1.0 }, s:listen())
  check_class("listening", s, "unixstream{server}")
  s:settimeout(0.2)
  local dt = timed(function() expect("accept timeout", { n = 2, nil, "timeout" }, s:accept()) end)
  between("accept timeout", dt, 0.15, 0.6)
  local c = track(unix.stream())
  expect("connect", { n = 1, 1.0 }, c:connect(path))
  check_class("connected", c, "unixstream{client}")
  s:settimeout(3)
  local a = track(s:accept())
  check_class("accepted", a, "unixstream{client}")
  expect("accepted getsockname", { n = 1, path }, a:getsockname())
  expect("send", { n = 3, 10.0, nil, nil }, c:send("hi\r\nthere\n"))
  a:settimeout(3)
  expect("line 1", { n = 3, "hi", nil, nil }, a:receive())
  expect("line 2", { n = 3, "there", nil, nil }, a:receive())
  check("received", 10.0, (a:getstats()))
  expect("setoption keepalive", { n = 1, 1.0 }, c:setoption("keepalive", true))
  expect("shutdown('send')", { n = 1, 1.0 }, c:shutdown("send"))
  expect("EOF", { n = 3, nil, "closed", "" }, a:receive())
  a:send("bye")
  a:close()
  c:settimeout(3)
  expect("receive('*a')", { n = 3, "bye", nil, nil }, c:receive("*a"))

  local m = track(unix.stream())
  expect("connect to a missing path", { n = 2, nil, "No such file or directory" },
    m:connect(path .. ".missing"))
  expect("fd destroyed", { n = 1, -1.0 }, m:getfd())
  check_class("still master", m, "unixstream{master}")
  local b = track(unix.stream())
  expect("bind an existing path", { n = 2, nil, "address already in use" }, b:bind(path))
  expect("fd destroyed after bind failure", { n = 1, -1.0 }, b:getfd())
  expect("path too long", { n = 2, nil, "path too long" }, unix.stream():bind(("x"):rep(200)))
  raises("receive on master", "calling 'receive' on bad self (unixstream{client} expected)",
    function() m:receive() end)
end)

-- Unix datagram sockets: unixdgram{unconnected}/{connected}; sendto(data, path);
-- receivefrom returns data and the sender's path.
case("unix datagram sockets", function()
  local unix = require("socket.unix")
  local p1, p2 = tmppath(), tmppath()
  local d1 = track(unix.dgram())
  check_class("unix.dgram()", d1, "unixdgram{unconnected}")
  expect("bind", { n = 1, 1.0 }, d1:bind(p1))
  expect("getsockname", { n = 1, p1 }, d1:getsockname())
  local d2 = track(unix.dgram())
  d2:bind(p2)
  expect("sendto", { n = 1, 2.0 }, d2:sendto("dg", p1))
  d1:settimeout(2)
  expect("receivefrom", { n = 2, "dg", p2 }, d1:receivefrom())
  expect("connect", { n = 1, 1.0 }, d2:connect(p1))
  check_class("connected", d2, "unixdgram{connected}")
  expect("send", { n = 1, 3.0 }, d2:send("dg2"))
  expect("receive", { n = 1, "dg2" }, d1:receive())
end)

H.done()
