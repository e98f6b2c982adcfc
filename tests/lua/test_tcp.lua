-- luv.net.tcp: TCP streams. Every connection is on 127.0.0.1 or ::1, every listener binds
-- to a loopback address and port 0 (a free port); every loop is bounded, and every wait
-- that might hang has a timeout.
local tap = require("tap")
local luv, test, expect, raises, fails = tap.luv, tap.test, tap.expect, tap.raises, tap.fails

local LONG = 10  -- seconds: the timeout of waits that must not time out

local function elapsed(since)
  return (luv.hrtime() - since) / 1e9
end

-- A listening socket on `host` (default 127.0.0.1), port chosen by the kernel.
local function listener(host, backlog)
  local server = luv.net.tcp()
  assert(server:bind(host or "127.0.0.1", 0))
  assert(server:listen(backlog))
  return server, server:getsockname().port
end

-- A connected pair: the client end and the server's end of one connection. The kernel
-- completes the handshake for the listen queue, so connect returns before accept.
local function pair(host)
  local server, port = listener(host)
  local client = luv.net.tcp()
  assert(client:connect(host or "127.0.0.1", port, LONG))
  local conn = luv.net.tcp()
  assert(server:accept(conn, LONG) == conn)
  server:close()
  return client, conn
end

-- A to-be-closed value that closes the given streams (a local list may hold only one
-- <close> variable).
local function closing(...)
  local streams = table.pack(...)
  return setmetatable({}, { __close = function()
    for i = 1, streams.n do streams[i]:close() end
  end })
end

-- Reads exactly n bytes (or fails the test).
local function read_exactly(s, n)
  local parts, got = {}, 0
  for _ = 1, n + 1 do  -- every successful read returns at least one byte
    if got == n then break end
    local len, data = s:read(n - got, LONG)
    assert(len, data)
    assert(len == #data and len <= n - got, "read returned more than asked for")
    parts[#parts + 1] = data
    got = got + len
  end
  assert(got == n, "short read")
  return table.concat(parts)
end

-- An echo server on its own fibers: accepts `connections` clients, echoes each.
local function echo_server(server, connections)
  return luv.fiber.create(function()
    local handlers = {}
    for i = 1, connections do
      local client = luv.net.tcp()
      assert(server:accept(client, LONG))
      handlers[i] = luv.fiber.create(function()
        for _ = 1, 1e6 do
          local n, data, code = client:read(nil, LONG)
          if not n then
            assert(code == "EOF", data)
            break
          end
          assert(client:write(data, LONG))
        end
        client:close()
      end):ready()
    end
    for _, h in ipairs(handlers) do h:join() end
  end):ready()
end

-- The number of open file descriptors of this process, or nil without /proc.
local pid do
  local f = io.open("/proc/self/stat")
  if f then
    pid = f:read("n")
    f:close()
  end
end
local function count_fds()
  if not pid then return nil end
  local p = assert(io.popen("ls /proc/" .. pid .. "/fd"))
  local n = 0
  for _ in p:lines() do n = n + 1 end
  p:close()
  return n
end

local function ipv6_available()
  local s = luv.net.tcp()
  local ok, err = s:bind("::1", 0)
  s:close()
  return ok, err
end

-- ---- basics --------------------------------------------------------------------------

test("luv.net.tcp makes an unconnected luv.tcp", function()
  local t <close> = luv.net.tcp()
  assert(getmetatable(t).__name == "luv.tcp")
  assert(tostring(t):match("^luv%.tcp: 0x%x+$"), tostring(t))
  assert(t:readable() == false and t:writable() == false)
  local v = t:getpeername()
  assert(v == nil, "an unconnected socket has no peer")
end)

test("echo round trip; readable and writable", function()
  local server, port = listener()
  local done = echo_server(server, 1)
  local c <close> = luv.net.tcp()
  assert(c:connect("127.0.0.1", port, LONG) == true)
  assert(c:readable() and c:writable())
  assert(c:write("hello") == true)
  assert(read_exactly(c, 5) == "hello")
  c:close()
  done:join()
  server:close()
end)

test("getsockname and getpeername", function()
  local c, a = pair()
  local _ <close> = closing(c, a)
  local cs, cp = c:getsockname(), c:getpeername()
  local as, ap = a:getsockname(), a:getpeername()
  assert(cs.family == "inet" and cs.address == "127.0.0.1" and math.type(cs.port) == "integer")
  assert(cp.family == "inet" and cp.address == "127.0.0.1")
  assert(cs.port == ap.port and cs.address == ap.address)
  assert(cp.port == as.port and cp.address == as.address)
  assert(cs.port ~= cp.port)
end)

test("bind to port 0 picks a free port", function()
  local s <close>, port = listener()
  assert(port > 0 and port <= 65535)
  local s2 <close> = luv.net.tcp()
  -- libuv may report the bind's EADDRINUSE at listen() instead
  local v, msg, code = s2:bind("127.0.0.1", port)
  if v then v, msg, code = s2:listen() end
  fails("EADDRINUSE", v, msg, code)
end)

test("partial reads leave the rest buffered", function()
  local c, a = pair()
  local _ <close> = closing(c, a)
  assert(c:write("hello world"))
  luv.sleep(0.01)
  local n, data = a:read(3, LONG)
  assert(n == 3 and data == "hel", data)
  n, data = a:read(100, LONG)      -- returns what is there, without waiting for 100
  assert(n == 8 and data == "lo world", data)
  assert(c:write("abc"))
  c:close()
  luv.sleep(0.01)
  assert(select(2, a:read(1, LONG)) == "a")
  assert(select(2, a:read(nil, LONG)) == "bc")  -- data before the end comes first
  fails("EOF", a:read(nil, LONG))
  fails("EOF", a:read(nil, LONG))               -- the end is sticky
end)

test("50 fibers x 100 round trips against one echo server", function()
  local clients, rounds = 50, 100
  local server, port = listener()
  local done = echo_server(server, clients)
  local finished = expect(nil, clients)
  local fibers = {}
  for i = 1, clients do
    fibers[i] = luv.fiber.create(function()
      local c <close> = luv.net.tcp()
      assert(c:connect("127.0.0.1", port, LONG))
      for r = 1, rounds do
        local msg = ("client %d round %d|"):format(i, r):rep(1 + (i + r) % 7)
        assert(c:write(msg, LONG))
        local got = read_exactly(c, #msg)
        assert(got == msg, ("client %d round %d got %q"):format(i, r, got))
      end
      finished()
    end):ready()
  end
  for i = 1, clients do fibers[i]:join() end
  done:join()
  server:close()
end)

test("16 MB to a slow reader: every byte, in order; write returns once the kernel has it",
     function()
  local c, a <close> = pair()
  -- 16 MB of numbered 16-byte records, so that a lost, doubled or swapped piece shows.
  local records = {}
  for i = 1, 1024 * 1024 do records[i] = ("%015d\n"):format(i) end
  local big = table.concat(records)
  records = nil
  assert(#big == 16 * 1024 * 1024)

  local received = 0
  local reader = luv.fiber.create(function()
    local parts = {}
    for _ = 1, #big do
      local n, data, code = a:read(64 * 1024, LONG)
      if not n then
        assert(code == "EOF", data)
        break
      end
      received = received + n
      parts[#parts + 1] = data
      luv.sleep(0.001)  -- slow
    end
    return table.concat(parts)
  end):ready()

  local start = luv.hrtime()
  assert(c:write(big, 60) == true)
  local at_return = received
  -- The kernel has every byte: closing at once loses nothing.
  c:close()
  local got = reader:join()
  assert(#got == #big, ("got %d of %d bytes"):format(#got, #big))
  assert(got == big, "the bytes arrived changed or out of order")
  -- The writer waited for the slow reader: no more than the kernel's buffers (and the
  -- reader's 64 KB inbox) were still on their way when write returned.
  local buffers = 0
  for _, file in ipairs({ "/proc/sys/net/ipv4/tcp_wmem", "/proc/sys/net/ipv4/tcp_rmem" }) do
    local f = io.open(file)
    if f then
      local _, _, max = f:read("n", "n", "n")
      f:close()
      buffers = buffers + (max or 0)
    end
  end
  if buffers > 0 and buffers < #big then
    assert(at_return >= #big - buffers - 2 * 64 * 1024,
           ("write returned with only %d bytes read (buffers %d)"):format(at_return, buffers))
  end
  assert(elapsed(start) > 0.01)
end)

test("a reader that stops reading pushes back on the writer", function()
  local c, a = pair()
  local _ <close> = closing(c, a)
  assert(c:write("start"))
  assert(select(2, a:read(nil, LONG)) == "start")  -- a is reading now, then stops
  local big = string.rep("p", 32 * 1024 * 1024)
  -- If a's side buffered without limit, 32 MB over loopback would take milliseconds.
  fails("ETIMEDOUT", c:write(big, 0.3))
  -- The write was queued whole: it goes on and arrives once a reads again.
  local total = 0
  for _ = 1, #big do
    if total == #big then break end
    local n, data = a:read(1024 * 1024, LONG)
    assert(n, data)
    assert(data == string.rep("p", n))
    total = total + n
  end
  assert(total == #big)
end)

test("peer closes with unread data: the reader gets a fail triple", function()
  local c <close>, a = pair()
  assert(c:write("data the peer never reads"))
  luv.sleep(0.01)
  local reader = luv.fiber.create(function() return c:read(nil, LONG) end):ready()
  luv.sleep(0.01)
  a:close()  -- unread data: the kernel resets the connection
  local v, msg, code = reader:join()
  assert(v == nil and (code == "ECONNRESET" or code == "EOF"), tostring(msg))
  fails(code, c:read(nil, LONG))  -- sticky
  local w, wmsg, wcode = c:write("more")
  assert(w == nil and (wcode == "EPIPE" or wcode == "ECONNRESET"), tostring(wmsg))
end)

test("connect to a port nobody listens on: ECONNREFUSED", function()
  local bound <close> = luv.net.tcp()
  assert(bound:bind("127.0.0.1", 0))  -- bound, not listening: the port stays ours
  local port = bound:getsockname().port
  local c <close> = luv.net.tcp()
  fails("ECONNREFUSED", c:connect("127.0.0.1", port, LONG))
end)

local v6, v6_err = ipv6_available()
if v6 then
  test("IPv6 loopback: echo, names", function()
    local server, port = listener("::1")
    local done = echo_server(server, 1)
    local c <close> = luv.net.tcp()
    assert(c:connect("::1", port, LONG))
    local me, peer = c:getsockname(), c:getpeername()
    assert(me.family == "inet6" and me.address == "::1", me.address)
    assert(peer.family == "inet6" and peer.address == "::1" and peer.port == port)
    assert(c:write("over six"))
    assert(read_exactly(c, 8) == "over six")
    c:close()
    done:join()
    server:close()
  end)
else
  tap.skip("IPv6 loopback: echo, names", "IPv6 is not available here: " .. tostring(v6_err))
end

test("connect by name: localhost", function()
  local server4, port = listener("127.0.0.1")
  -- localhost may resolve to ::1 first: listen there too, on the same port, if we can.
  local server6
  if v6 then
    server6 = luv.net.tcp()
    if not (server6:bind("::1", port) and server6:listen()) then
      server6:close()
      server6 = nil
    end
  end
  local c <close> = luv.net.tcp()
  assert(c:connect("localhost", port, LONG))
  local peer = c:getpeername()
  assert(peer.port == port)
  assert(peer.address == "127.0.0.1" or (server6 and peer.address == "::1"), peer.address)
  local server = peer.family == "inet" and server4 or server6
  local conn <close> = luv.net.tcp()
  assert(server:accept(conn, LONG))
  assert(c:write("by name"))
  assert(read_exactly(conn, 7) == "by name")
  server4:close()
  if server6 then server6:close() end
end)

-- ---- timeouts --------------------------------------------------------------------------

test("read with a timeout on a quiet connection: ETIMEDOUT, the stream stays usable",
     function()
  local c, a = pair()
  local _ <close> = closing(c, a)
  local start = luv.hrtime()
  fails("ETIMEDOUT", a:read(100, 0.05))
  assert(elapsed(start) >= 0.045, "the timeout came early")
  assert(elapsed(start) < 5)
  assert(c:write("late"))
  assert(select(2, a:read(100, LONG)) == "late")
  fails("ETIMEDOUT", a:read(100, 0))
end)

test("accept with a timeout and nobody connecting: ETIMEDOUT", function()
  local server <close>, port = listener()
  local client <close> = luv.net.tcp()
  local start = luv.hrtime()
  fails("ETIMEDOUT", server:accept(client, 0.05))
  assert(elapsed(start) >= 0.045)
  -- The same objects work afterwards.
  local c <close> = luv.net.tcp()
  assert(c:connect("127.0.0.1", port, LONG))
  assert(server:accept(client, LONG) == client)
end)

test("settimeout sets the default of every wait; an argument overrides it", function()
  local c, a = pair()
  local _ <close> = closing(c, a)
  assert(a:settimeout(0.05) == a)
  local start = luv.hrtime()
  fails("ETIMEDOUT", a:read())
  assert(elapsed(start) >= 0.045)
  -- an explicit timeout wins over the object's
  local writer = luv.fiber.create(function() luv.sleep(0.1); return c:write("slow") end):ready()
  assert(select(2, a:read(nil, LONG)) == "slow")
  writer:join()
  -- accept, on a listener with a default timeout
  local server <close> = listener()
  assert(server:settimeout(0.02) == server)
  local client <close> = luv.net.tcp()
  fails("ETIMEDOUT", server:accept(client))
  -- nil removes it
  assert(a:settimeout(nil) == a)
  local late = luv.fiber.create(function() luv.sleep(0.1); return c:write("later") end):ready()
  assert(select(2, a:read()) == "later")
  late:join()
  raises("timeout must be >= 0", a.settimeout, a, -1)
  raises("number expected", a.settimeout, a, "soon")
end)

-- ---- cancel, close, EBUSY --------------------------------------------------------------

test("fiber:cancel() interrupts a read: ECANCELED; the stream stays usable", function()
  local c, a = pair()
  local _ <close> = closing(c, a)
  local reader = luv.fiber.create(function() return a:read(nil, LONG) end):ready()
  luv.sleep(0.01)
  assert(reader:status() == "suspended")
  reader:cancel()
  fails("ECANCELED", reader:join())
  -- Another fiber may read now (no EBUSY left behind), and gets the next bytes.
  assert(c:write("after"))
  assert(select(2, a:read(nil, LONG)) == "after")
end)

test("fiber:cancel() interrupts an accept: ECANCELED", function()
  local server <close>, port = listener()
  local client <close> = luv.net.tcp()
  local acceptor = luv.fiber.create(function() return server:accept(client) end):ready()
  luv.sleep(0.01)
  acceptor:cancel()
  fails("ECANCELED", acceptor:join())
  local c <close> = luv.net.tcp()
  assert(c:connect("127.0.0.1", port, LONG))
  assert(server:accept(client, LONG) == client)
end)

test("fiber:cancel() interrupts a write; the write still arrives whole", function()
  local c, a = pair()
  local _ <close> = closing(c, a)
  local big = string.rep("w", 32 * 1024 * 1024)  -- more than the kernel buffers
  local writer = luv.fiber.create(function() return c:write(big) end):ready()
  luv.sleep(0.05)
  assert(writer:status() == "suspended", "the write should be waiting for the reader")
  writer:cancel()
  fails("ECANCELED", writer:join())
  local total = 0
  for _ = 1, #big do
    if total == #big then break end
    local n, data = a:read(1024 * 1024, LONG)
    assert(n, data)
    total = total + n
  end
  assert(total == #big)
end)

test("close() wakes a reader and an acceptor with ECANCELED", function()
  local c <close>, a = pair()
  local reader = luv.fiber.create(function() return a:read(nil, LONG) end):ready()
  luv.sleep(0.01)
  assert(a:close() == true)
  fails("ECANCELED", reader:join())
  assert(a:close() == true)  -- idempotent

  local server = listener()
  local client <close> = luv.net.tcp()
  local acceptor = luv.fiber.create(function() return server:accept(client, LONG) end):ready()
  luv.sleep(0.01)
  server:close()
  fails("ECANCELED", acceptor:join())
end)

test("close() ends a waiting write with ECANCELED", function()
  local c, a <close> = pair()
  local big = string.rep("z", 32 * 1024 * 1024)
  local writer = luv.fiber.create(function() return c:write(big, LONG) end):ready()
  luv.sleep(0.05)
  assert(writer:status() == "suspended")
  c:close()
  fails("ECANCELED", writer:join())
end)

test("a second reader gets EBUSY at once", function()
  local c, a = pair()
  local _ <close> = closing(c, a)
  local first = luv.fiber.create(function() return a:read(nil, LONG) end):ready()
  luv.sleep(0.01)
  local start = luv.hrtime()
  fails("EBUSY", a:read(nil, LONG))
  assert(elapsed(start) < 1, "EBUSY should come at once")
  assert(c:write("for the first"))
  local n, data = first:join()
  assert(n == 13 and data == "for the first")
end)

-- A fiber already woken (its data or its connection is there) but not yet resumed when
-- another fiber closes the stream must not raise "attempt to use a closed luv.tcp": it
-- did nothing wrong. It gets what woke it, or ECANCELED.
test("close() by another fiber after a reader was woken: data or ECANCELED, no error",
     function()
  for round = 1, 2 do
    local c1, a = pair()
    local c2, b = pair()
    local _ <close> = closing(c1, a, c2, b)
    local reader = luv.fiber.create(function() return pcall(a.read, a, nil, LONG) end)
    local closer = luv.fiber.create(function()
      assert(b:read(nil, LONG))
      a:close()
    end)
    closer:ready()
    reader:ready()
    luv.sleep(0.01)
    -- both wake in the same loop iteration; the closer (woken first) runs first
    if round == 1 then
      assert(c2:write("y")); assert(c1:write("x"))
    else
      assert(c1:write("x")); assert(c2:write("y"))
    end
    local ok, n, data, code = reader:join()
    closer:join()
    assert(ok, "the woken reader raised: " .. tostring(n))
    assert(n == 1 and data == "x" or (n == nil and code == "ECANCELED"), tostring(data))
  end
end)

-- A reader is woken when bytes arrive, and runs later; a fiber that runs in between may
-- read them first (the fast path takes buffered bytes whoever registered as the reader).
-- The woken reader then has nothing: it must wait for more, not report a false EOF.
test("a woken reader whose bytes another fiber took first waits for more (no false EOF)",
     function()
  local c1, a = pair()
  local c2, b = pair()
  local _ <close> = closing(c1, a, c2, b)
  local reader = luv.fiber.create(function() return a:read(nil, LONG) end)
  local thief = luv.fiber.create(function()
    assert(b:read(nil, LONG))
    return a:read(nil, LONG)  -- the reader was woken for these bytes but has not run yet
  end)
  thief:ready()
  reader:ready()
  luv.sleep(0.01)
  -- both wake in the same loop iteration; the thief (woken first) runs first
  assert(c2:write("y"))
  assert(c1:write("x"))
  luv.sleep(0.05)
  assert(c1:write("z"))
  local got = {}
  for _, f in ipairs({ reader, thief }) do
    local n, data, code = f:join()
    assert(n == 1, "a reader got " .. tostring(data) .. " " .. tostring(code))
    got[#got + 1] = data
  end
  table.sort(got)
  assert(got[1] == "x" and got[2] == "z", table.concat(got, ","))
end)

test("close() during connect's name resolution: ECANCELED, no error", function()
  local server <close>, port = listener()
  local c = luv.net.tcp()
  local connector = luv.fiber.create(function()
    return pcall(c.connect, c, "localhost", port, LONG)
  end):ready()
  luv.fiber.yield()  -- the connector now waits for the resolver
  c:close()
  local ok, v, msg, code = connector:join()
  assert(ok, "the connecting fiber raised: " .. tostring(v))
  assert(v == nil and code == "ECANCELED", tostring(msg))
end)

-- ---- writers -------------------------------------------------------------------------

-- `writers` fibers write `blocks` blocks of `size` bytes each, all on one connection:
-- block k of writer i is its letter, k in 5 digits, and the letter again up to `size`.
-- The reader, which starts late so that writes queue up, checks that every block is whole
-- and that each writer's blocks arrive in order.
local function concurrent_writers(writers, blocks, size)
  local c, a = pair()
  local _ <close> = closing(c, a)
  local letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
  assert(writers <= #letters)
  local fibers = {}
  for i = 1, writers do
    local letter = letters:sub(i, i)
    fibers[i] = luv.fiber.create(function()
      for k = 1, blocks do
        local block = letter .. ("%05d"):format(k) .. letter:rep(size - 6)
        assert(c:write(block, LONG))
        luv.fiber.yield()
      end
    end):ready()
  end
  luv.sleep(0.05)
  local data = read_exactly(a, writers * blocks * size)
  for i = 1, writers do fibers[i]:join() end
  local next_block = {}
  for at = 1, #data, size do
    local letter, k = data:sub(at, at), tonumber(data:sub(at + 1, at + 5))
    local rest = data:sub(at + 6, at + size - 1)
    assert(k and rest == letter:rep(size - 6), ("block at %d is not whole"):format(at))
    local want = next_block[letter] or 1
    assert(k == want, ("writer %s: block %d came when %d was due"):format(letter, k, want))
    next_block[letter] = want + 1
  end
  for i = 1, writers do
    assert(next_block[letters:sub(i, i)] == blocks + 1)
  end
end

test("20 concurrent writers x 50 blocks of 1000 bytes: whole and in order", function()
  concurrent_writers(20, 50, 1000)
end)

test("10 concurrent writers x 8 blocks of 300 KB: whole and in order", function()
  concurrent_writers(10, 8, 300 * 1024)
end)

test("shutdown: the peer reads EOF, the other direction still works", function()
  local c, a = pair()
  local _ <close> = closing(c, a)
  assert(c:write("last words"))
  assert(c:shutdown(LONG) == true)
  assert(c:writable() == false and c:readable() == true)
  assert(read_exactly(a, 10) == "last words")
  fails("EOF", a:read(nil, LONG))
  assert(a:write("reply"))
  assert(read_exactly(c, 5) == "reply")
end)

test("nodelay and keepalive", function()
  local c, a = pair()
  local _ <close> = closing(c, a)
  assert(c:nodelay(true) == true)
  assert(c:nodelay(false) == true)
  assert(c:keepalive(true, 30) == true)
  assert(c:keepalive(false) == true)
end)

test("two fibers accepting on one listener both get a connection", function()
  local server <close>, port = listener()
  local acceptors = {}
  for i = 1, 2 do
    acceptors[i] = luv.fiber.create(function()
      local conn = luv.net.tcp()
      assert(server:accept(conn, LONG))
      return conn
    end):ready()
  end
  luv.sleep(0.01)
  local c1, c2 = luv.net.tcp(), luv.net.tcp()
  local _ <close> = closing(c1, c2)
  assert(c1:connect("127.0.0.1", port, LONG))
  assert(c2:connect("127.0.0.1", port, LONG))
  local a1, a2 = acceptors[1]:join(), acceptors[2]:join()
  assert(a1 ~= a2)
  a1:close()
  a2:close()
end)

-- ---- misuse --------------------------------------------------------------------------

test("use after close raises 'attempt to use a closed luv.tcp'", function()
  local t = luv.net.tcp()
  assert(t:close() == true)
  assert(t:close() == true)
  assert(tostring(t):match("^luv%.tcp: 0x%x+ %(closed%)$"), tostring(t))
  local other = luv.net.tcp()
  local calls = {
    { "read" }, { "write", "x" }, { "listen" }, { "accept", other }, { "shutdown" },
    { "readable" }, { "writable" }, { "bind", "127.0.0.1", 0 },
    { "connect", "127.0.0.1", 1 }, { "getsockname" }, { "getpeername" },
    { "nodelay", true }, { "keepalive", false },
  }
  for _, call in ipairs(calls) do
    raises("attempt to use a closed luv.tcp", t[call[1]], t, table.unpack(call, 2))
  end
  -- accepting into a closed client raises too
  local server <close> = listener()
  raises("attempt to use a closed luv.tcp", server.accept, server, t)
  other:close()
end)

test("<close> closes at the end of the block", function()
  local kept
  do
    local t <close> = luv.net.tcp()
    kept = t
  end
  assert(tostring(kept):find("(closed)", 1, true))
end)

test("bad arguments raise, naming the argument", function()
  local t <close> = luv.net.tcp()
  local err = raises("port must be in 0..65535", function() return t:bind("127.0.0.1", 70000) end)
  assert(err:find("bad argument #2 to 'bind'", 1, true), err)
  raises("port must be in 0..65535", t.bind, t, "127.0.0.1", -1)
  raises("port must be in 0..65535", t.connect, t, "127.0.0.1", 65536)
  err = raises("string expected, got table", function() return t:bind({}, 80) end)
  assert(err:find("bad argument #1 to 'bind'", 1, true), err)
  raises("string expected", t.connect, t, nil, 80)
  raises("number expected", t.bind, t, "127.0.0.1", "http")
  raises("number has no integer representation", t.bind, t, "127.0.0.1", 80.5)
  raises("length must be > 0", t.read, t, 0)
  raises("timeout must be >= 0", t.read, t, 10, -1)
  raises("string expected", t.write, t, {})
  raises("luv.tcp or luv.pipe expected", t.accept, t, "client")
  raises("boolean expected", t.nodelay, t, 1)
  raises("number expected", t.keepalive, t, true)
  raises("luv.tcp or luv.pipe expected", luv.net.tcp().read, {})
  -- a host that is not a numeric address is not resolved by bind: a fail, not an error
  local v, msg, code = t:bind("not-an-address", 0)
  assert(v == nil and code == "EINVAL" and msg:find("not-an-address", 1, true), msg)
end)

-- ---- resources -----------------------------------------------------------------------

if pid then
  -- Connects a pair and drops it without closing it.
  local function leak_a_pair()
    local c, a = pair()
    assert(c:write("x"))
  end

  test("a stream collected unclosed is closed", function()
    leak_a_pair()  -- warm up: libuv's reserve fd, the read buffer
    collectgarbage()
    collectgarbage()
    local before = count_fds()
    for _ = 1, 10 do leak_a_pair() end
    assert(count_fds() >= before + 20, "the pairs should hold fds until collected")
    collectgarbage()
    collectgarbage()
    luv.sleep(0.01)
    local after = count_fds()
    assert(after == before, ("%d fds before, %d after"):format(before, after))
  end)

  test("10,000 connect/accept/close cycles leave no fd behind", function()
    local fibers, cycles = 100, 100
    local before = count_fds()
    local server, port = listener(nil, 1024)
    local start = luv.hrtime()
    local acceptor = luv.fiber.create(function()
      for _ = 1, fibers * cycles do
        local conn = luv.net.tcp()
        assert(server:accept(conn, LONG))
        conn:close()  -- the server closes first: the client reads EOF
      end
    end):ready()
    local clients = {}
    for i = 1, fibers do
      clients[i] = luv.fiber.create(function()
        for _ = 1, cycles do
          local c = luv.net.tcp()
          assert(c:connect("127.0.0.1", port, LONG))
          local v, msg, code = c:read(nil, LONG)
          assert(v == nil and (code == "EOF" or code == "ECONNRESET"), msg)
          c:close()
        end
      end):ready()
    end
    for i = 1, fibers do clients[i]:join() end
    acceptor:join()
    server:close()
    luv.sleep(0.01)
    local after = count_fds()
    assert(after == before, ("%d fds before, %d after"):format(before, after))
    print(("# %d cycles in %.2f s"):format(fibers * cycles, elapsed(start)))
  end)
else
  tap.skip("a stream collected unclosed is closed", "no /proc/self here")
  tap.skip("10,000 connect/accept/close cycles leave no fd behind", "no /proc/self here")
end

-- A child process with at most 64 fds fills them with connections, then shows that the
-- listener accepts again once some are closed.
local emfile_child = [=[
local luv = require("luv")
local function run()
  local server = luv.net.tcp()
  assert(server:bind("127.0.0.1", 0))
  assert(server:listen())
  local port = server:getsockname().port
  local conns, hit = {}, nil
  for _ = 1, 200 do
    local c = luv.net.tcp()
    local ok, _, code = c:connect("127.0.0.1", port, 5)
    if not ok then
      c:close()
      hit = "connect:" .. code
      break
    end
    local a = luv.net.tcp()
    ok, _, code = server:accept(a, 0.3)
    if not ok then
      a:close()
      c:close()
      hit = "accept:" .. code
      break
    end
    conns[#conns + 1] = { c, a }
  end
  assert(hit, "never ran out of fds")
  -- Fill what is left with files, then free exactly one fd: a client takes it, and the
  -- listener has none left for the accept.
  local files = {}
  for _ = 1, 200 do
    local f = io.open("/dev/null")
    if not f then break end
    files[#files + 1] = f
  end
  local half_closed
  if #files > 0 then
    table.remove(files):close()
  else
    half_closed = table.remove(conns)
    half_closed[1]:close()  -- the client end only: one fd
  end
  local c = luv.net.tcp()
  local at_limit, dropped = nil, "-"
  local ok, _, code = c:connect("127.0.0.1", port, 5)
  if ok then
    local a = luv.net.tcp()
    ok, _, code = server:accept(a, 0.3)
    at_limit = ok and "accepted" or code
    a:close()
    -- what the client whose connection could not be accepted sees
    local v, _, rcode = c:read(nil, 1)
    dropped = v and "data" or rcode
  else
    at_limit = "connect:" .. code
  end
  c:close()
  if half_closed then half_closed[2]:close() end
  -- Free fds: the files and five connections.
  for _, f in ipairs(files) do f:close() end
  for _ = 1, 5 do
    local p = table.remove(conns)
    if p then p[1]:close(); p[2]:close() end
  end
  -- The listener keeps accepting: three more connections, each with a round trip.
  for i = 1, 3 do
    local c2 = luv.net.tcp()
    assert(c2:connect("127.0.0.1", port, 5))
    local a2 = luv.net.tcp()
    assert(server:accept(a2, 5))
    assert(c2:write("ping" .. i))
    local _, data = assert(a2:read(5, 5))
    assert(data == "ping" .. i)
    c2:close()
    a2:close()
  end
  print(("RESULT ok connections=%d limit=%s at_limit=%s dropped=%s"):format(
    #conns, hit, at_limit, dropped))
end
luv.fiber.create(run):join()
]=]

test("a listener keeps accepting after running out of fds (EMFILE)", function()
  local script = tap.write_temp(emfile_child, ".lua")
  local out, code = tap.run(("timeout 60 sh -c %s"):format(tap.shell_quote(
    ("ulimit -n 64 && exec %s %s"):format(tap.shell_quote(tap.self_command()),
                                          tap.shell_quote(script)))))
  os.remove(script)
  assert(code == 0, ("the child exited with %s:\n%s"):format(code, out))
  local n, limit, at_limit, dropped =
    out:match("RESULT ok connections=(%d+) limit=(%S+) at_limit=(%S+) dropped=(%S+)")
  assert(n, "no result line in:\n" .. out)
  assert(tonumber(n) > 5, "too few connections before the limit: " .. n)
  assert(limit:find("EMFILE", 1, true) or limit == "accept:ETIMEDOUT", limit)
  -- at the limit, libuv's reserve-fd trick drops the connection (the accept times out)
  -- or the accept fails with EMFILE; either way it must not succeed or crash
  assert(at_limit == "ETIMEDOUT" or at_limit == "EMFILE", at_limit)
  -- a dropped connection ends for its client (or is still pending, after EMFILE)
  assert(dropped == "EOF" or dropped == "ECONNRESET" or at_limit == "EMFILE", dropped)
  print("# " .. out:match("RESULT[^\n]*"))
end)

tap.done()
