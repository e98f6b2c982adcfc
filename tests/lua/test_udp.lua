-- luv.net.udp. Every datagram stays on the loopback interface (127.0.0.1, ::1), and
-- the only name resolved is "localhost", which the hosts file answers for IPv4.
local tap = require("tap")
local luv, test, raises, fails, expect = tap.luv, tap.test, tap.raises, tap.fails, tap.expect
local net = luv.net

local function elapsed_ms(since)
  return (luv.hrtime() - since) / 1e6
end

-- A socket bound to a free port of `host`, and that port.
local function bound(host)
  local u = net.udp()
  assert(u:bind(host or "127.0.0.1", 0))
  return u, u:getsockname().port
end

test("a round trip over IPv4 loopback", function()
  local a <close>, port = bound()
  local b <close>, bport = bound()
  local addr = a:getsockname()
  assert(addr.family == "inet" and addr.address == "127.0.0.1" and port > 0)
  assert(b:send("ping", "127.0.0.1", port) == true)
  local data, host, from = a:recv()
  assert(data == "ping" and host == "127.0.0.1" and from == bport)
  assert(a:send("pong", host, from) == true)
  assert(b:recv() == "pong")
end)

test("a round trip over IPv6 loopback", function()
  local a <close>, port = bound("::1")
  local b <close>, bport = bound("::1")
  assert(a:getsockname().family == "inet6" and a:getsockname().address == "::1")
  assert(b:send("six", "::1", port))
  local data, host, from = a:recv()
  assert(data == "six" and host == "::1" and from == bport)
end)

test("an unbound socket binds itself on its first send", function()
  local a <close>, port = bound()
  local b <close> = net.udp()
  fails("EBADF", b:getsockname())
  assert(b:send("x", "127.0.0.1", port))
  local _, _, from = a:recv()
  assert(b:getsockname().port == from)
end)

test("hosts may be names: bind and send resolve localhost", function()
  local a <close> = net.udp()
  assert(a:bind("localhost", 0))
  local port = a:getsockname().port
  assert(a:getsockname().address == "127.0.0.1")
  local b <close>, bport = bound()
  assert(b:send("named", "localhost", port))
  local data, _, from = a:recv(5)
  assert(data == "named" and from == bport)
end)

test("many datagrams arrive whole and in order, empty and large ones too", function()
  local a <close>, port = bound()
  local b <close> = bound()
  local sizes = { 0, 1, 1000, 60000 }
  local n = 400
  local sender = luv.fiber.create(function()
    for i = 1, n do
      local size = sizes[i % #sizes + 1]
      local head = tostring(i) .. ":"
      local body = head .. string.rep("x", size - #head)  -- at least the head
      assert(b:send(body, "127.0.0.1", port))
      -- Let the loop poll, so that the receiver keeps up and the kernel's buffer never
      -- overflows (luv.fiber.yield() alone would not poll while fibers are ready).
      if i % #sizes == 0 then luv.sleep(0) end
    end
  end):ready()
  for i = 1, n do
    local data = assert(a:recv(5))
    assert(tonumber(data:match("^(%d+):")) == i, "datagram " .. i .. " out of order")
  end
  sender:join()
  assert(a:dropped() == 0)
end)

test("several fibers send to one receiver; several receivers run at once", function()
  local sink <close>, port = bound()
  local senders = {}
  for s = 1, 4 do
    senders[s] = luv.fiber.create(function()
      local u <close> = bound()
      for i = 1, 50 do
        assert(u:send(s .. ":" .. i, "127.0.0.1", port))
        luv.sleep(0)
      end
    end):ready()
  end
  local last = {}
  for _ = 1, 200 do
    local s, i = assert(sink:recv(5)):match("^(%d+):(%d+)$")
    s, i = tonumber(s), tonumber(i)
    assert(i == (last[s] or 0) + 1, "one sender's datagrams came out of order")
    last[s] = i
  end
  for s = 1, 4 do senders[s]:join(); assert(last[s] == 50) end

  -- Echo servers in fibers of their own, each with its client.
  local pairs_done = expect(nil, 3)
  local fibers = {}
  for k = 1, 3 do
    fibers[k] = luv.fiber.create(function()
      local server <close>, sport = bound()
      local client <close> = bound()
      local echo = luv.fiber.create(function()
        for _ = 1, 10 do
          local data, host, from = assert(server:recv(5))
          assert(server:send(data, host, from))
        end
      end):ready()
      for i = 1, 10 do
        assert(client:send(k .. "/" .. i, "127.0.0.1", sport))
        assert(client:recv(5) == k .. "/" .. i)
      end
      echo:join()
      pairs_done()
    end):ready()
  end
  for k = 1, 3 do fibers[k]:join() end
end)

test("a second concurrent reader gets EBUSY at once", function()
  local a <close>, port = bound()
  local first = luv.fiber.create(function() return a:recv(5) end):ready()
  luv.fiber.yield()
  fails("EBUSY", a:recv())
  local b <close> = bound()
  b:send("for the first", "127.0.0.1", port)
  assert(first:join() == "for the first")
end)

test("datagrams wait in a queue of 1024; later ones are dropped and counted", function()
  local a <close>, port = bound()
  fails("ETIMEDOUT", a:recv(0))  -- receiving starts with the first recv
  local b <close> = bound()
  local n = 1100
  for i = 1, n do
    assert(b:send(tostring(i), "127.0.0.1", port))
    -- The loop reads at most 32 datagrams per socket and iteration; poll often enough
    -- that the kernel's buffer never overflows, so only the queue's bound drops any.
    if i % 16 == 0 then luv.sleep(0) end
  end
  luv.sleep(0.01)
  assert(a:dropped() == n - 1024, "dropped " .. a:dropped())
  for i = 1, 1024 do
    assert(a:recv(0) == tostring(i))  -- queued: no wait
  end
  fails("ETIMEDOUT", a:recv(0))
end)

test("recv times out with ETIMEDOUT; settimeout sets the default", function()
  local a <close> = bound()
  local start = luv.hrtime()
  fails("ETIMEDOUT", a:recv(0.03))
  assert(elapsed_ms(start) >= 29, "the timeout came early")
  assert(a:settimeout(0.02) == true)
  start = luv.hrtime()
  fails("ETIMEDOUT", a:recv())
  assert(elapsed_ms(start) >= 19)
  fails("ETIMEDOUT", a:recv(0))  -- the argument wins over the socket's timeout
  assert(a:settimeout(nil) == true)
  local f = luv.fiber.create(function() return a:recv() end):ready()
  luv.sleep(0.04)
  assert(f:status() == "suspended", "recv without a timeout ended by itself")
  f:cancel()
  fails("ECANCELED", f:join())
end)

test("fiber:cancel() interrupts recv; the socket reads on afterwards", function()
  local a <close>, port = bound()
  local f = luv.fiber.create(function() return a:recv() end):ready()
  luv.sleep(0.005)
  assert(f:cancel())
  fails("ECANCELED", f:join())
  local b <close> = bound()
  b:send("after", "127.0.0.1", port)
  assert(a:recv(5) == "after")
end)

test("a ticker fiber keeps running while recv waits", function()
  local a <close> = bound()
  local ticks, done = 0, false
  local ticker = luv.fiber.create(function()
    while not done do
      ticks = ticks + 1
      luv.sleep(0.001)
    end
  end):ready()
  fails("ETIMEDOUT", a:recv(0.05))
  done = true
  ticker:join()
  assert(ticks >= 10, "only " .. ticks .. " ticks")
end)

test("close wakes the reader with ECANCELED", function()
  local a = bound()
  local f = luv.fiber.create(function() return a:recv() end):ready()
  luv.sleep(0.005)
  assert(a:close() == true)
  fails("ECANCELED", f:join())
end)

test("close is idempotent; use after close raises", function()
  local a = bound()
  assert(a:close() == true)
  assert(a:close() == true)
  assert(tostring(a):find("^luv%.udp: .* %(closed%)$"))
  for _, m in ipairs({ "bind", "send", "recv", "getsockname", "settimeout", "set_ttl",
                       "set_broadcast", "dropped" }) do
    raises("attempt to use a closed luv.udp", a[m], a, "127.0.0.1", 1, 1)
  end
end)

test("<close> and __gc close sockets", function()
  local outer
  do
    local u <close> = bound()
    outer = u
  end
  raises("attempt to use a closed luv.udp", outer.recv, outer)
  for _ = 1, 50 do
    local u = bound()
    u:recv(0)  -- receiving, then dropped
  end
  collectgarbage()
  collectgarbage()
  luv.sleep(0.005)
end)

test("send and bind failures", function()
  local a <close>, port = bound()
  fails("EAFNOSUPPORT", a:send("x", "::1", 9))
  fails("EMSGSIZE", a:send(string.rep("x", 70000), "127.0.0.1", 9))
  local b <close> = net.udp()
  fails("EADDRINUSE", b:bind("127.0.0.1", port))
  -- glibc refuses a malformed name before asking any DNS server.
  local v, msg, name = a:send("x", "bad name!", 9)
  assert(v == nil and name == "EAI_NONAME")
  assert(msg == "EAI_NONAME: unknown node or service: bad name!", msg)
  fails("EAI_NONAME", b:bind("bad name!", 0))
end)

test("reuseaddr lets two sockets share a port", function()
  local a <close> = net.udp()
  assert(a:bind("127.0.0.1", 0, { reuseaddr = true }))
  local b <close> = net.udp()
  assert(b:bind("127.0.0.1", a:getsockname().port, { reuseaddr = true }))
end)

test("options: broadcast, ttl, multicast ttl and loop", function()
  local a <close> = bound()
  assert(a:set_broadcast(true) == true and a:set_broadcast(false) == true)
  assert(a:set_ttl(64) == true)
  fails("EINVAL", a:set_ttl(0))
  assert(a:set_multicast_ttl(0) == true)
  assert(a:set_multicast_loop(true) == true)
  fails("EBADF", net.udp():set_ttl(5))  -- not bound yet
end)

test("multicast on the loopback interface: join, receive, leave", function()
  local r <close> = net.udp()
  assert(r:bind("0.0.0.0", 0, { reuseaddr = true }))
  local port = r:getsockname().port
  assert(r:set_membership("239.255.0.1", "127.0.0.1", "join") == true)
  local s <close> = bound()
  assert(s:set_multicast_interface("127.0.0.1"))
  assert(s:set_multicast_ttl(0) and s:set_multicast_loop(true))
  assert(s:send("to the group", "239.255.0.1", port))
  assert(r:recv(5) == "to the group")
  assert(r:set_membership("239.255.0.1", "127.0.0.1", "leave") == true)
  fails("EADDRNOTAVAIL", r:set_membership("239.255.0.1", "127.0.0.1", "leave"))
end)

test("bad arguments raise", function()
  local a <close> = net.udp()
  raises("port must be in 0..65535", a.bind, a, "127.0.0.1", 65536)
  raises("number expected", a.bind, a, "127.0.0.1")
  raises("string expected", a.send, a, {}, "127.0.0.1", 9)
  raises("bad argument #1 to 'recv' (timeout must be >= 0)", function() a:recv(-1) end)
  raises("timeout must be >= 0", a.settimeout, a, -1)
  raises("invalid option 'both'", a.set_membership, a, "239.255.0.1", nil, "both")
  raises("boolean expected", a.set_broadcast, a, 1)
  raises("luv.udp expected, got table", a.recv, {})
end)

test("recv inside a table.sort comparator (the fiber parks)", function()
  local a <close>, port = bound()
  local b <close> = bound()
  local t = { 3, 1, 2 }
  table.sort(t, function(x, y)
    b:send("c", "127.0.0.1", port)
    assert(a:recv(5) == "c")
    return x < y
  end)
  assert(t[1] == 1)
end)

tap.test_main("a round trip from the main chunk", function()
  local a <close>, port = bound()
  local b <close> = bound()
  local echo = luv.fiber.create(function()
    local data, host, from = assert(a:recv(5))
    assert(a:send(data:upper(), host, from))
  end):ready()
  assert(b:send("main", "127.0.0.1", port))
  assert(b:recv(5) == "MAIN")
  echo:join()
end)

test("a socket nobody waits on does not keep the loop alive", function()
  local out, code = tap.run_lua([[
    local luv = require "luv"
    local u = luv.net.udp()
    assert(u:bind("127.0.0.1", 0))
    u:recv(0)                  -- receiving, but nobody waits
    keep = u                   -- referenced: not collected
    luv.run()
    print("returned")
  ]])
  assert(code == 0 and out:find("returned"), out)
end)

tap.done()
