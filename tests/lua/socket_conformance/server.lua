-- LuaSocket conformance, TCP objects and servers: the classes tcp{master}, tcp{client} and
-- tcp{server} (tostring, .class, getfamily), the exact errors of wrong-class calls and
-- bad arguments, bind/listen/accept (timeouts, names, errors), port 0 and reuse of a
-- port in TIME_WAIT, and IPv6 on ::1 (skipped when unavailable).
--
--   lua5.4 tests/lua/socket_conformance/server.lua                  -- stock LuaSocket
--   SOCKET_IMPL=luv lua5.4 tests/lua/socket_conformance/server.lua  -- luv's drop-in
--
-- (SOCKET_IMPL=luv loads the drop-in with require "luv.socket" before anything else.)
--
-- harness.lua describes the output, the peer and the conventions of the checks.

-- harness.lua sits next to this file: found whatever the working directory and LUA_PATH.
local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local H = require("harness")

local socket = H.socket
local case, check, expect, truthy, raises = H.case, H.check, H.expect, H.truthy, H.raises
local between, timed, check_class, skip = H.between, H.timed, H.check_class, H.skip
local track, peer, pair = H.track, H.peer, H.pair

local PORT = H.start_peer()

----------------------------------------------------------------------------------------
-- TCP classes
----------------------------------------------------------------------------------------

-- Object classes: tcp{master} (fresh), tcp{client} (connected/accepted), tcp{server}
-- (listening); tostring is "<class>: 0x<addr>" and obj.class the class name. A fresh
-- socket.tcp() has no fd yet (getfd -1.0, a float) and reports family "inet4";
-- tcp4()/tcp6() create the fd at once.
case("tcp classes: master/client/server, tostring, .class, getfamily", function()
  local m = track(socket.tcp())
  check_class("socket.tcp()", m, "tcp{master}")
  expect("fresh getfd", { n = 1, -1.0 }, m:getfd())
  expect("fresh getfamily", { n = 1, "inet4" }, m:getfamily())
  local m4 = track(socket.tcp4())
  check_class("socket.tcp4()", m4, "tcp{master}")
  check("tcp4 getfd is a float", "float", math.type(m4:getfd()))
  truthy("tcp4 has an fd", m4:getfd() >= 0)
  expect("tcp4 getfamily", { n = 1, "inet4" }, m4:getfamily())
  local m6 = socket.tcp6()
  if m6 then
    track(m6)
    check_class("socket.tcp6()", m6, "tcp{master}")
    expect("tcp6 getfamily", { n = 1, "inet6" }, m6:getfamily())
  end

  expect("connect", { n = 1, 1.0 }, m:connect("127.0.0.1", PORT))
  check_class("after connect", m, "tcp{client}")
  m:send("close\n")

  local s = track(socket.tcp())
  expect("bind", { n = 1, 1.0 }, s:bind("127.0.0.1", 0))
  check_class("after bind", s, "tcp{master}")
  expect("listen", { n = 1, 1.0 }, s:listen(4))
  check_class("after listen", s, "tcp{server}")

  local srv = track(socket.bind("127.0.0.1", 0))
  check_class("socket.bind()", srv, "tcp{server}")
  local c = track(socket.connect("127.0.0.1", PORT))
  check_class("socket.connect()", c, "tcp{client}")
  c:send("close\n")

  -- After close the class (and tostring) stay what they were.
  c:close()
  check_class("closed client", c, "tcp{client}")
  srv:close()
  check_class("closed server", srv, "tcp{server}")
end)

-- Methods check the class and raise on the wrong one. Called as methods, the message is
-- Lua's "calling 'x' on bad self (<class> expected)" (luaL_argerror on argument 1 of a
-- method call); there is no "got ..." part. Group methods (getfd, close, settimeout,
-- getsockname, setoption...) work on every class.
case("tcp wrong-class calls raise exact messages", function()
  local m = track(socket.tcp())
  raises("master:receive", "calling 'receive' on bad self (tcp{client} expected)",
    function() m:receive() end)
  raises("master:send", "calling 'send' on bad self (tcp{client} expected)",
    function() m:send("x") end)
  raises("master:accept", "calling 'accept' on bad self (tcp{server} expected)",
    function() m:accept() end)
  raises("master:shutdown", "calling 'shutdown' on bad self (tcp{client} expected)",
    function() m:shutdown() end)
  raises("master:getstats", "calling 'getstats' on bad self (tcp{client} expected)",
    function() m:getstats() end)
  raises("master:setstats", "calling 'setstats' on bad self (tcp{client} expected)",
    function() m:setstats(1, 2, 3) end)
  local c, _, srv = pair()
  raises("client:accept", "calling 'accept' on bad self (tcp{server} expected)",
    function() c:accept() end)
  raises("client:listen", "calling 'listen' on bad self (tcp{master} expected)",
    function() c:listen() end)
  raises("client:bind", "calling 'bind' on bad self (tcp{master} expected)",
    function() c:bind("*", 0) end)
  raises("server:receive", "calling 'receive' on bad self (tcp{client} expected)",
    function() srv:receive() end)
  raises("server:listen", "calling 'listen' on bad self (tcp{master} expected)",
    function() srv:listen() end)
  -- Called as a plain function with a non-socket, argument 1 is numbered (Lua names the
  -- function after the local variable holding it).
  raises("receive on a table", "bad argument #1 to 'receive' (tcp{client} expected)",
    function() local receive = c.receive; receive({}) end)
  -- Group methods are fine on any class.
  check("server:getfd is a float", "float", math.type(srv:getfd()))
  check("master:dirty", false, m:dirty())
  expect("master:settimeout", { n = 1, 1.0 }, m:settimeout(1))
end)

-- Argument checking with exact messages (the method form shifts argument numbers by one:
-- argument 2 of the C function is "#1").
case("tcp argument errors", function()
  local c = pair()
  for _, pat in ipairs({ "l", "a", "*x", "x", -1 }) do
    raises("receive(" .. tostring(pat) .. ")", "bad argument #1 to 'receive' (invalid receive pattern)",
      function() c:receive(pat) end)
  end
  raises("receive({})", "bad argument #1 to 'receive' (string expected, got table)",
    function() c:receive({}) end)
  raises("send()", "bad argument #1 to 'send' (string expected, got no value)",
    function() c:send() end)
  raises("send({})", "bad argument #1 to 'send' (string expected, got table)",
    function() c:send({}) end)
  raises("settimeout mode", "bad argument #2 to 'settimeout' (invalid timeout mode)",
    function() c:settimeout(1, "x") end)
  raises("settimeout('abc')", "bad argument #1 to 'settimeout' (number expected, got string)",
    function() c:settimeout("abc") end)
  raises("shutdown('bogus')", "bad argument #1 to 'shutdown' (invalid option 'bogus')",
    function() c:shutdown("bogus") end)
  raises("connect() without a port", "bad argument #2 to 'connect' (string expected, got no value)",
    function() socket.tcp():connect("127.0.0.1") end)
end)

----------------------------------------------------------------------------------------
-- servers
----------------------------------------------------------------------------------------

-- bind + listen + accept: accept honours the server's timeout (nil, 'timeout'), returns a
-- tcp{client} whose timeouts are NOT inherited (-1, -1); the accepted object's sockname
-- port is the server's (string), its peername port an integer. The peer connects back.
case("server: bind, listen, accept (timeout, class, names)", function()
  local s = track(socket.tcp())
  expect("bind", { n = 1, 1.0 }, s:bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  truthy("a port was chosen", port ~= "0")
  expect("listen(8)", { n = 1, 1.0 }, s:listen(8))
  s:settimeout(0.2)
  local dt = timed(function()
    expect("accept with nobody there", { n = 2, nil, "timeout" }, s:accept())
  end)
  between("accept timeout", dt, 0.15, 0.6)
  s:settimeout(0)
  dt = timed(function()
    expect("accept, timeout 0", { n = 2, nil, "timeout" }, s:accept())
  end)
  between("accept, timeout 0, elapsed", dt, 0, 0.1)

  local ctl = peer("connect " .. port .. "; lit hello from peer%0A; send; echo")
  s:settimeout(3)
  local a = track(s:accept())
  truthy("accepted", a)
  check_class("accepted", a, "tcp{client}")
  expect("accepted gettimeout", { n = 2, -1.0, -1.0 }, a:gettimeout())
  expect("accepted getfamily", { n = 1, "inet4" }, a:getfamily())
  a:settimeout(3)
  expect("receive", { n = 3, "hello from peer", nil, nil }, a:receive())
  expect("accepted getsockname", { n = 3, "127.0.0.1", port, "inet" }, a:getsockname())
  local pip, pport, pfam = a:getpeername()
  check("peer ip", "127.0.0.1", pip)
  check("peer port type", "integer", math.type(pport))
  check("peer family", "inet", pfam)
  expect("send", { n = 3, 5.0, nil, nil }, a:send("echo\n"))
  expect("echoed", { n = 3, "echo", nil, nil }, a:receive())
  ctl:close()

  expect("close server", { n = 1, 1.0 }, s:close())
  expect("accept on a closed server", { n = 2, nil, "closed" }, s:accept())
end)

-- listen on a fresh socket.tcp() (no fd yet) fails with strerror(EBADF), class unchanged.
-- Binding a port something listens on: 'address already in use'.
case("server errors: listen without fd, address in use", function()
  local m = track(socket.tcp())
  expect("listen without fd", { n = 2, nil, "Bad file descriptor" }, m:listen())
  check_class("class unchanged", m, "tcp{master}")
  expect("socket.bind on the peer's port", { n = 2, nil, "address already in use" },
    socket.bind("127.0.0.1", PORT))
  local b = track(socket.tcp())
  expect("bind on the peer's port", { n = 2, nil, "address already in use" },
    b:bind("127.0.0.1", PORT))
  expect("socket.bind unresolvable", { n = 2, nil, "host or service not provided, or not known" },
    socket.bind("no-such-host.invalid", 0))
end)

-- Port 0 picks a fresh port each time. After a connection whose server side closed first
-- (TIME_WAIT on the server port), a plain bind to that port fails but socket.bind (which
-- sets reuseaddr) succeeds.
case("port 0 and reuse of a port in TIME_WAIT", function()
  local s1 = track(socket.bind("127.0.0.1", 0))
  local s2 = track(socket.bind("127.0.0.1", 0))
  local _, p1 = s1:getsockname()
  local _, p2 = s2:getsockname()
  truthy("distinct ports", p1 ~= p2)
  s2:close()
  local c = track(socket.tcp())
  c:settimeout(3)
  truthy("connect", c:connect("127.0.0.1", p1))
  s1:settimeout(3)
  local a = track(s1:accept())
  a:close()
  socket.sleep(0.05)
  c:close()
  s1:close()
  local plain = track(socket.tcp())
  expect("plain bind", { n = 2, nil, "address already in use" }, plain:bind("127.0.0.1", p1))
  local again = track(socket.bind("127.0.0.1", p1))
  check_class("socket.bind with reuseaddr", again, "tcp{server}")
end)

-- IPv6 over ::1 (skipped when ::1 is unavailable): family 'inet6' everywhere, addresses
-- '::1'. An IPv4 object cannot connect to '::1': getaddrinfo's own message comes back.
case("IPv6 on ::1", function()
  local srv = socket.bind("::1", 0)
  if not srv then skip("::1 unavailable") end
  track(srv)
  check_class("server", srv, "tcp{server}")
  expect("server getfamily", { n = 1, "inet6" }, srv:getfamily())
  local ip, port, fam = srv:getsockname()
  check("server ip", "::1", ip)
  check("server port type", "string", type(port))
  check("server family", "inet6", fam)
  local c = track(socket.connect("::1", port))
  check_class("client", c, "tcp{client}")
  expect("client getfamily", { n = 1, "inet6" }, c:getfamily())
  srv:settimeout(3)
  local a = track(srv:accept())
  expect("client getpeername", { n = 3, "::1", tonumber(port), "inet6" }, c:getpeername())
  local _, cport = c:getsockname()
  expect("accepted getpeername", { n = 3, "::1", tonumber(cport), "inet6" }, a:getpeername())
  c:send("over v6\n")
  a:settimeout(3)
  expect("data", { n = 3, "over v6", nil, nil }, a:receive())
  local t4 = track(socket.tcp4())
  expect("tcp4 to ::1", { n = 2, nil, "Address family for hostname not supported" },
    t4:connect("::1", port))
end)

H.done()
