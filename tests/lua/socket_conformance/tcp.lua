-- LuaSocket conformance, TCP clients: receive patterns ('*l', n, '*a', prefixes, partial
-- results at EOF and on timeout), send (ranges, after the peer closed or reset, a big
-- partial send resumed), timeouts ('b' and 't', 0, nil), connect (refused, host names,
-- non-blocking, reopening, local address and family), shutdown, getfd/setfd,
-- getstats/setstats, getsockname/getpeername, options and __gc. The far end is the peer
-- process (peer.lua) or an in-process pair.
--
--   lua5.4 tests/lua/socket_conformance/tcp.lua                  -- stock LuaSocket
--   SOCKET_IMPL=luv lua5.4 tests/lua/socket_conformance/tcp.lua  -- luv's drop-in
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
local between, timed, check_class = H.between, H.timed, H.check_class
local track, peer, pair, free_port, pattern = H.track, H.peer, H.pair, H.free_port, H.pattern

local PORT = H.start_peer()

----------------------------------------------------------------------------------------
-- receive
----------------------------------------------------------------------------------------

-- '*l' (the default) reads up to LF and drops EVERY CR in the line, not just a trailing
-- one; only the first two characters of the pattern count ('*line' works). At EOF the
-- unterminated rest comes back as the partial result of nil,'closed' (its CRs dropped too).
case("receive '*l': LF-terminated, all CRs dropped, '*line', partial at EOF", function()
  local c = peer("lit ab%0Dc%0D%0Ad%0A%0D%0Aef%0D; send; close")
  expect("receive()", { n = 3, "abc", nil, nil }, c:receive())
  expect("receive('*l')", { n = 3, "d", nil, nil }, c:receive("*l"))
  expect("receive('*line') of CRLF", { n = 3, "", nil, nil }, c:receive("*line"))
  expect("receive() at EOF", { n = 3, nil, "closed", "ef" }, c:receive())
  expect("receive() after EOF", { n = 3, nil, "closed", "" }, c:receive())
end)

-- A line longer than the 8192-byte internal buffer is assembled across refills.
case("receive '*l' of a 20000-byte line", function()
  local c = peer("pat 20000; lit %0A; pat 5; send; close")
  local line = c:receive()
  check("length", 20000, #line)
  truthy("content", line == pattern(20000))
  expect("rest", { n = 3, "abcde", nil, nil }, c:receive("*a"))
end)

-- receive(n) returns exactly n bytes and leaves the rest buffered (dirty() true).
-- receive(0) with buffered data returns '' at once. With a prefix, only n - #prefix more
-- bytes are read; a prefix at least n long is returned as is, nothing read. '*a' reads to
-- EOF; with no new bytes at EOF it fails: nil,'closed',prefix.
-- getstats' received counts bytes consumed from the buffer, prefixes excluded.
case("receive(n), receive(0), prefix, '*a', dirty(), received count", function()
  local c = peer("pat 30; send; close")
  expect("receive(5)", { n = 3, "abcde", nil, nil }, c:receive(5))
  check("dirty after a partial read", true, c:dirty())
  expect("receive(0) with data buffered", { n = 3, "", nil, nil }, c:receive(0))
  expect("receive(3, 'XY')", { n = 3, "XYf", nil, nil }, c:receive(3, "XY"))
  expect("receive(2, '12345')", { n = 3, "12345", nil, nil }, c:receive(2, "12345"))
  expect("receive('5') (numeric string)", { n = 3, "ghijk", nil, nil }, c:receive("5"))
  check("received so far", 11.0, (c:getstats()))
  expect("receive('*a')", { n = 3, "lmnopqrstuvwxyzabcd", nil, nil }, c:receive("*a"))
  check("dirty after '*a'", false, c:dirty())
  expect("receive('*a') at EOF", { n = 3, nil, "closed", "" }, c:receive("*a"))
  expect("receive('*a', 'P') at EOF", { n = 3, nil, "closed", "P" }, c:receive("*a", "P"))
  expect("receive(0) at EOF", { n = 3, nil, "closed", "" }, c:receive(0))
  expect("receive(3) at EOF", { n = 3, nil, "closed", "" }, c:receive(3))
  check("received in total", 30.0, (c:getstats()))
end)

-- '*a' of 100000 bytes (several buffer refills), and '*a' with a prefix.
case("receive '*a' of 100000 bytes, with prefix", function()
  local c = peer("pat 100000; send; close")
  local data = expect("receive('*a', '>')", { n = 3, ">" .. pattern(100000), nil, nil },
    c:receive("*a", ">"))
  check("length", 100001, #data)
end)

-- A failure returns nil, err, partial where partial holds the prefix plus everything
-- consumed before the error; those bytes are gone from the buffer.
case("receive(n) failure at EOF: nil, 'closed', partial", function()
  local c = peer("lit abc; send; close")
  expect("receive(5)", { n = 3, nil, "closed", "abc" }, c:receive(5))
  expect("receive(5, 'xy')", { n = 3, nil, "closed", "xy" }, c:receive(5, "xy"))
  check("dirty", false, c:dirty())
end)

-- On timeout the partial result is returned and the resume idiom receive(n, partial)
-- completes it later.
case("receive(n) timeout: nil, 'timeout', partial; resume with the prefix", function()
  local c = peer("lit S%0Aabc; send; sleep 0.6; lit de; send; close")
  expect("sync", { n = 3, "S", nil, nil }, c:receive())
  c:settimeout(0.2)
  local dt, data, err, partial = timed(c.receive, c, 5)
  expect("receive(5)", { n = 3, nil, "timeout", "abc" }, data, err, partial)
  between("elapsed", dt, 0.15, 0.55)
  c:settimeout(3)
  expect("receive(5, partial)", { n = 3, "abcde", nil, nil }, c:receive(5, partial))
end)

-- receive(0) with an empty buffer is not a no-op: it waits for at least one byte (or
-- timeout/EOF), leaves it buffered and returns ''. (OpenResty returns '' at once.)
case("receive(0) waits for a byte; timeout and EOF results", function()
  local c = peer("lit S%0A; send; sleep 0.4; lit x; send; sleep 0.4; close")
  expect("sync", { n = 3, "S", nil, nil }, c:receive())
  local dt = timed(function()
    expect("receive(0)", { n = 3, "", nil, nil }, c:receive(0))
  end)
  between("receive(0) waited for the byte", dt, 0.25, 3)
  check("dirty", true, c:dirty())
  expect("receive(1)", { n = 3, "x", nil, nil }, c:receive(1))
  c:settimeout(0)
  expect("receive(0), timeout 0, no data", { n = 3, nil, "timeout", "" }, c:receive(0))
  c:settimeout(3)
  expect("receive(0) at EOF", { n = 3, nil, "closed", "" }, c:receive(0))
end)

-- Our own side closed: receive fails with 'closed' and no I/O; a prefix already as long
-- as the count is returned without touching the (closed) socket. Surprising but true:
-- receive(2, 'abc') on a closed object succeeds.
case("receive/send on a closed object", function()
  local c = peer("lit hello%0A; send; sleep 1")
  expect("receive", { n = 3, "hello", nil, nil }, c:receive())
  expect("close", { n = 1, 1.0 }, c:close())
  expect("close again", { n = 1, 1.0 }, c:close())
  expect("getfd after close", { n = 1, -1.0 }, c:getfd())
  expect("receive()", { n = 3, nil, "closed", "" }, c:receive())
  expect("receive('*a')", { n = 3, nil, "closed", "" }, c:receive("*a"))
  expect("receive(4, 'P')", { n = 3, nil, "closed", "P" }, c:receive(4, "P"))
  expect("receive(2, 'abc')", { n = 3, "abc", nil, nil }, c:receive(2, "abc"))
  expect("send", { n = 3, nil, "closed", 0.0 }, c:send("x"))
  expect("send('')", { n = 3, 0.0, nil, nil }, c:send(""))
end)

-- The peer closes abortively (SO_LINGER 0 -> RST): ECONNRESET reads as 'closed'; sends
-- fail with 'closed' too, and the index is a float.
case("peer reset: receive and send give 'closed'", function()
  local c = peer("reset")
  expect("receive", { n = 3, nil, "closed", "" }, c:receive())
  local res
  for _ = 1, 50 do
    res = table.pack(c:send("ping"))
    if not res[1] then break end
    socket.sleep(0.02)
  end
  expect("send after the reset", { n = 3, nil, "closed", 0.0 }, table.unpack(res, 1, res.n))
end)

----------------------------------------------------------------------------------------
-- send
----------------------------------------------------------------------------------------

-- send(data, i, j) sends data:sub(i, j) and returns the index of the last byte sent (a
-- float), i.e. j on success; i > j sends nothing and returns i - 1; numbers are coerced.
-- The peer echoes everything back so the bytes on the wire are checked too.
case("send(data, i, j): return values and bytes on the wire", function()
  local c = peer("echo")
  expect("send('hello world', 7)", { n = 3, 11.0, nil, nil }, c:send("hello world", 7))
  expect("send('abcdef', 2, 4)", { n = 3, 4.0, nil, nil }, c:send("abcdef", 2, 4))
  expect("send('abcdef', -3)", { n = 3, 6.0, nil, nil }, c:send("abcdef", -3))
  expect("send('abcdef', -3, -2)", { n = 3, 5.0, nil, nil }, c:send("abcdef", -3, -2))
  expect("send('abcdef', 5, 2)", { n = 3, 4.0, nil, nil }, c:send("abcdef", 5, 2))
  expect("send('abcdef', 0)", { n = 3, 6.0, nil, nil }, c:send("abcdef", 0))
  expect("send('abcdef', 3, 100)", { n = 3, 6.0, nil, nil }, c:send("abcdef", 3, 100))
  expect("send('abcdef', -100, 2)", { n = 3, 2.0, nil, nil }, c:send("abcdef", -100, 2))
  expect("send('')", { n = 3, 0.0, nil, nil }, c:send(""))
  expect("send(123)", { n = 3, 3.0, nil, nil }, c:send(123))
  local _, sent = c:getstats()
  check("sent count (script line included)", 5.0 + 28.0, sent)
  expect("shutdown('send')", { n = 1, 1.0 }, c:shutdown("send"))
  expect("echoed bytes", { n = 3, "worldbcddefdeabcdefcdefab123", nil, nil }, c:receive("*a"))
end)

-- After the peer closes (FIN), the first send may still succeed (the kernel only learns
-- from the peer's RST); a bounded loop must end in nil, 'closed', 0.0.
case("send after the peer closed: eventually nil, 'closed', 0.0", function()
  local c = peer("close")
  expect("EOF", { n = 3, nil, "closed", "" }, c:receive())
  local res
  for _ = 1, 50 do
    res = table.pack(c:send("ping"))
    if not res[1] then break end
    check("a send before the error", 4.0, res[1])
    socket.sleep(0.02)
  end
  expect("send", { n = 3, nil, "closed", 0.0 }, table.unpack(res, 1, res.n))
end)

-- A 16 MB send to a peer that does not read for 0.8 s fills the buffers: with a 0.3 s
-- timeout it returns nil, 'timeout', last with 0 < last < size (a float). Resuming with
-- send(data, last + 1) finishes, and the peer counts every byte exactly once.
case("big send: partial 'timeout' then resume with send(data, last+1)", function()
  local size = 16 * 1024 * 1024
  local data = string.rep("x", size)
  local c = peer("lit R%0A; send; sleep 0.8; drain; count")
  expect("sync", { n = 3, "R", nil, nil }, c:receive())
  c:settimeout(0.3)
  local dt, ok, err, last = timed(c.send, c, data)
  check("first send result", nil, ok)
  check("first send error", "timeout", err)
  check("last index type", "float", math.type(last))
  truthy("0 < last < size, got " .. tostring(last), last > 0 and last < size)
  between("elapsed", dt, 0.25, 1.5)
  c:settimeout(5)
  expect("resumed send", { n = 3, size + 0.0, nil, nil }, c:send(data, last + 1))
  expect("shutdown('send')", { n = 1, 1.0 }, c:shutdown("send"))
  expect("bytes the peer got", { n = 3, tostring(size), nil, nil }, c:receive())
end)

----------------------------------------------------------------------------------------
-- timeouts
----------------------------------------------------------------------------------------

-- settimeout returns 1.0; block ('b', default) and total ('t' or 'r', first character
-- only) are two separate values, both -1 (infinite) by default; nil means -1; a negative
-- value is stored as given.
case("settimeout/gettimeout values", function()
  local s = track(socket.tcp())
  expect("default", { n = 2, -1.0, -1.0 }, s:gettimeout())
  expect("settimeout(0.5)", { n = 1, 1.0 }, s:settimeout(0.5))
  expect("after block 0.5", { n = 2, 0.5, -1.0 }, s:gettimeout())
  expect("settimeout(2, 't')", { n = 1, 1.0 }, s:settimeout(2, "t"))
  expect("after total 2", { n = 2, 0.5, 2.0 }, s:gettimeout())
  expect("settimeout(3, 'total')", { n = 1, 1.0 }, s:settimeout(3, "total"))
  expect("settimeout(4, 'r')", { n = 1, 1.0 }, s:settimeout(4, "r"))
  expect("after 'total' and 'r'", { n = 2, 0.5, 4.0 }, s:gettimeout())
  expect("settimeout(0.25, 'block')", { n = 1, 1.0 }, s:settimeout(0.25, "block"))
  expect("after 'block'", { n = 2, 0.25, 4.0 }, s:gettimeout())
  s:settimeout(nil)
  expect("after settimeout(nil)", { n = 2, -1.0, 4.0 }, s:gettimeout())
  s:settimeout(-3)
  expect("after settimeout(-3)", { n = 2, -3.0, 4.0 }, s:gettimeout())
  s:settimeout(nil, "t")
  expect("after settimeout(nil, 't')", { n = 2, -3.0, -1.0 }, s:gettimeout())
  s:settimeout(7)
  expect("integer argument", { n = 2, 7.0, -1.0 }, s:gettimeout())
end)

-- Both the block and the total timeout are measured from the START of each call (each
-- wait gets min(block, total) - elapsed), so a peer dribbling one byte every 0.4 s does
-- not keep a 0.6 s receive(3) alive: it fails at 0.6 s with partial 'a', whichever mode.
-- (A per-wait timeout would have returned 'abc'.) The next call starts a fresh budget.
case("timeouts 'b' and 't' both count from the start of the call", function()
  for _, mode in ipairs({ "b", "t", "both" }) do
    local c = peer("lit S; send; lit abc; dribble 0.4")
    expect(mode .. ": sync", { n = 3, "S", nil, nil }, c:receive(1))
    if mode == "both" then
      c:settimeout(2, "b")
      c:settimeout(0.6, "t")
    else
      c:settimeout(0.6, mode)
    end
    local dt, data, err, partial = timed(c.receive, c, 3)
    expect(mode .. ": receive(3)", { n = 3, nil, "timeout", "a" }, data, err, partial)
    between(mode .. ": elapsed", dt, 0.55, 1.0)
    if mode == "t" then
      -- 'b' comes 0.2 s into the next call: the total is per call, not cumulative.
      expect("t: next call", { n = 3, "b", nil, nil }, c:receive(1))
    end
    c:close()
  end
end)

-- settimeout(0) is non-blocking: an immediate nil, 'timeout', '' when nothing is there.
case("settimeout(0): non-blocking receive", function()
  local c = peer("sleep 2")
  c:settimeout(0)
  local dt = timed(function()
    expect("receive()", { n = 3, nil, "timeout", "" }, c:receive())
    expect("receive(5)", { n = 3, nil, "timeout", "" }, c:receive(5))
    expect("receive('*a')", { n = 3, nil, "timeout", "" }, c:receive("*a"))
    expect("receive(5, 'pre')", { n = 3, nil, "timeout", "pre" }, c:receive(5, "pre"))
  end)
  between("elapsed", dt, 0, 0.1)
end)

-- settimeout(nil) and negative values block without limit.
case("settimeout(nil) / negative: blocking", function()
  for _, v in ipairs({ "nil", -1 }) do
    local c = peer("lit S%0A; send; sleep 0.3; lit late%0A; send")
    expect("sync", { n = 3, "S", nil, nil }, c:receive())
    if v == "nil" then c:settimeout(nil) else c:settimeout(v) end
    local dt, line = timed(c.receive, c)
    check("line (timeout " .. v .. ")", "late", line)
    between("elapsed", dt, 0.15, 3)
  end
end)

----------------------------------------------------------------------------------------
-- connect
----------------------------------------------------------------------------------------

-- A refused connect gives nil, 'connection refused'; the object becomes tcp{client}
-- even though connect failed (stock sets the class first, for non-blocking connects).
-- socket.connect gives nil, 'connection refused' too.
case("connect refused", function()
  local port = free_port()
  local s = track(socket.tcp())
  expect("connect", { n = 2, nil, "connection refused" }, s:connect("127.0.0.1", port))
  check_class("after a failed connect", s, "tcp{client}")
  expect("socket.connect", { n = 2, nil, "connection refused" }, socket.connect("127.0.0.1", port))
  local s4 = track(socket.tcp4())
  expect("tcp4 connect", { n = 2, nil, "connection refused" }, s4:connect("127.0.0.1", port))
end)

-- Host names go through getaddrinfo ("localhost"); the port may be a number or a
-- numeric string.
case("connect to 'localhost', port as number or string", function()
  local s = track(socket.tcp())
  expect("connect('localhost')", { n = 1, 1.0 }, s:connect("localhost", PORT))
  expect("getpeername", { n = 3, "127.0.0.1", PORT, "inet" }, s:getpeername())
  s:send("close\n")
  local c = track(socket.connect("localhost", tostring(PORT)))
  check_class("socket.connect('localhost', '<port>')", c, "tcp{client}")
  c:send("close\n")
end)

-- Connecting an already connected object: surprising. Stock's first connect() syscall
-- returns EINPROGRESS and stock only polls for the result, so the kernel socket is still
-- in its "connecting" state: the next connect() returns 0 (1.0 to Lua) and only a third
-- one fails with EISCONN = 'already connected'.
case("connect again on a connected object: 1.0, then 'already connected'", function()
  local s = track(socket.tcp())
  expect("first connect", { n = 1, 1.0 }, s:connect("127.0.0.1", PORT))
  expect("second connect", { n = 1, 1.0 }, s:connect("127.0.0.1", PORT))
  expect("third connect", { n = 2, nil, "already connected" }, s:connect("127.0.0.1", PORT))
  s:send("close\n")
end)

-- Non-blocking connect: settimeout(0) gives nil, 'timeout' (in progress); once select
-- reports it writable, connect again returns 1.0; once more, 'already connected'.
case("non-blocking connect: 'timeout', select writable, connect -> 1.0", function()
  local s = track(socket.tcp())
  s:settimeout(0)
  expect("connect", { n = 2, nil, "timeout" }, s:connect("127.0.0.1", PORT))
  check_class("in progress", s, "tcp{client}")
  local _, w = socket.select(nil, { s }, 3)
  check("writable", s, w[1])
  expect("connect again", { n = 1, 1.0 }, s:connect("127.0.0.1", PORT))
  expect("and again", { n = 2, nil, "already connected" }, s:connect("127.0.0.1", PORT))
  s:settimeout(3)
  s:send("lit ok%0A; send\n")
  expect("usable", { n = 3, "ok", nil, nil }, s:receive())
end)

-- connect on a closed object creates a new fd and works.
case("connect on a closed object reopens it", function()
  local s = track(socket.tcp())
  s:settimeout(3)
  expect("connect", { n = 1, 1.0 }, s:connect("127.0.0.1", PORT))
  s:send("close\n")
  s:close()
  expect("closed fd", { n = 1, -1.0 }, s:getfd())
  expect("connect after close", { n = 1, 1.0 }, s:connect("127.0.0.1", PORT))
  truthy("new fd", s:getfd() >= 0)
  s:send("lit again%0A; send\n")
  expect("usable", { n = 3, "again", nil, nil }, s:receive())
end)

-- socket.connect(host, port, laddr, lport, family): binds locally first; errors come back
-- as nil, err. Surprise: the family argument only applies to the local bind, so
-- connect6 to an IPv4 literal (without a local address) still connects over IPv4.
-- A bad family name raises.
case("socket.connect with local address, connect4/connect6, family", function()
  local c = track(socket.connect("127.0.0.1", PORT, "127.0.0.1", 0))
  check_class("with laddr", c, "tcp{client}")
  local ip, port, fam = c:getsockname()
  check("local ip", "127.0.0.1", ip)
  check("local port type", "string", type(port))
  check("family", "inet", fam)
  c:settimeout(3)
  c:send("peer\n")
  expect("the peer sees our bound port", { n = 3, "127.0.0.1 " .. port, nil, nil }, c:receive())
  local c2 = track(socket.connect("127.0.0.1", PORT, "127.0.0.1"))
  check_class("laddr without lport", c2, "tcp{client}")
  c2:send("close\n")
  expect("laddr unresolvable", { n = 2, nil, "host or service not provided, or not known" },
    socket.connect("127.0.0.1", PORT, "no-such-host.invalid", 0))
  expect("lport in use", { n = 2, nil, "address already in use" },
    socket.connect("127.0.0.1", PORT, "127.0.0.1", PORT))
  local c4 = track(socket.connect4("127.0.0.1", PORT))
  check_class("connect4", c4, "tcp{client}")
  c4:send("close\n")
  local c6 = track(socket.connect6("127.0.0.1", PORT))
  check_class("connect6 to an IPv4 literal", c6, "tcp{client}")
  check("connect6 family", "inet", select(3, c6:getpeername()))
  c6:send("close\n")
  raises("bad family", "bad argument #5 to 'connect' (invalid option 'bogus')",
    function() socket.connect("127.0.0.1", PORT, nil, nil, "bogus") end)
end)

----------------------------------------------------------------------------------------
-- close, shutdown, fd, stats, names, options
----------------------------------------------------------------------------------------

-- shutdown returns 1.0 whatever happens (OS errors are ignored). After 'send' the peer
-- sees EOF and this side can still read its answer. After 'receive', a read with
-- nothing queued ends at once with 'closed'.
case("shutdown('send'|'receive'|'both') and close", function()
  local c = peer("drain; count")
  expect("send", { n = 3, 5.0, nil, nil }, c:send("12345"))
  expect("shutdown('send')", { n = 1, 1.0 }, c:shutdown("send"))
  expect("answer after shutdown('send')", { n = 3, "5", nil, nil }, c:receive())
  expect("shutdown()", { n = 1, 1.0 }, c:shutdown())
  expect("shutdown('both')", { n = 1, 1.0 }, c:shutdown("both"))
  expect("close", { n = 1, 1.0 }, c:close())
  expect("shutdown on a closed object", { n = 1, 1.0 }, c:shutdown("send"))

  local r = peer("sleep 1")
  expect("shutdown('receive')", { n = 1, 1.0 }, r:shutdown("receive"))
  r:settimeout(2)
  local dt = timed(function()
    expect("receive after shutdown('receive')", { n = 3, nil, "closed", "" }, r:receive())
  end)
  between("elapsed", dt, 0, 0.5)
end)

-- getfd is a float (-1.0 without an fd); setfd overwrites the raw descriptor and returns
-- nothing, so ownership of a connection can be moved between objects. Surprise: names
-- are reported with the receiving object's family, 'unspec' for a fresh socket.tcp().
case("getfd / setfd", function()
  local c = peer("close")
  local fd = c:getfd()
  check("getfd type", "float", math.type(fd))
  local x = track(socket.tcp())
  expect("setfd", { n = 0 }, x:setfd(fd))
  expect("setfd(-1) on the old owner", { n = 0 }, c:setfd(-1))
  expect("new owner getfd", { n = 1, fd }, x:getfd())
  expect("old owner getfd", { n = 1, -1.0 }, c:getfd())
  expect("old owner send", { n = 3, nil, "closed", 0.0 }, c:send("x"))
  -- The family reported is the object's, not the fd's: socket.tcp() is AF_UNSPEC.
  expect("new owner getpeername", { n = 3, "127.0.0.1", PORT, "unspec" }, x:getpeername())
  check_class("new owner keeps its class", x, "tcp{master}")
end)

-- getstats: received (bytes consumed, line terminators included), sent, age in seconds,
-- all floats; setstats(r, s, age) overwrites them and returns 1.0; missing arguments keep
-- the old values.
case("getstats / setstats", function()
  local script = "lit ab%0D%0Acd%0A; send; close"
  local c = peer(script)
  expect("line 1", { n = 3, "ab", nil, nil }, c:receive())
  local r, s, age = c:getstats()
  check("received", 4.0, r)
  check("sent", #script + 1.0, s)
  check("age type", "float", math.type(age))
  between("age", age, 0, 5)
  c:receive()
  check("received after line 2", 7.0, (c:getstats()))
  expect("setstats", { n = 1, 1.0 }, c:setstats(100, 200, 10))
  r, s, age = c:getstats()
  check("received after setstats", 100.0, r)
  check("sent after setstats", 200.0, s)
  between("age after setstats", age, 10, 11)
  expect("setstats()", { n = 1, 1.0 }, c:setstats())
  r, s, age = c:getstats()
  check("received kept", 100.0, r)
  check("sent kept", 200.0, s)
  between("age kept", age, 10, 11)
end)

-- getsockname: ip, port as a STRING, family; getpeername: ip, port as an INTEGER, family
-- ('inet', not getfamily's 'inet4'). Failures are nil + strerror text.
case("getsockname / getpeername: values and types", function()
  local c = peer("peer")
  local ip, port, fam = c:getsockname()
  check("getsockname results", 3, select("#", c:getsockname()))
  check("sockname ip", "127.0.0.1", ip)
  check("sockname family", "inet", fam)
  check("sockname port type", "string", type(port))
  truthy("sockname port numeric", tonumber(port) and tonumber(port) > 0)
  expect("getpeername", { n = 3, "127.0.0.1", PORT, "inet" }, c:getpeername())
  expect("the peer agrees", { n = 3, "127.0.0.1 " .. port, nil, nil }, c:receive())
  expect("fresh tcp() getsockname", { n = 2, nil, "Bad file descriptor" }, socket.tcp():getsockname())
  local t4 = track(socket.tcp4())
  expect("unbound tcp4 getsockname", { n = 3, "0.0.0.0", "0", "inet" }, t4:getsockname())
  expect("unconnected getpeername", { n = 2, nil, "Transport endpoint is not connected" },
    t4:getpeername())
  local srv = track(socket.bind("127.0.0.1", 0))
  local sip, sport, sfam = srv:getsockname()
  check("server ip", "127.0.0.1", sip)
  check("server port type", "string", type(sport))
  check("server family", "inet", sfam)
end)

-- Options: booleans are type-checked (exact messages), linger takes/returns
-- {on=bool, timeout=n} (timeout an integer on the way out), numeric options come back as
-- floats, 'error' is nil on a healthy socket. Unknown names raise. Without an fd
-- (fresh socket.tcp()) set/get fail with 'setsockopt failed' / 'getsockopt failed'.
case("setoption / getoption", function()
  local c = pair()
  for _, name in ipairs({ "keepalive", "tcp-nodelay", "reuseaddr", "reuseport" }) do
    expect(name .. " default", { n = 1, false }, c:getoption(name))
    expect("setoption " .. name, { n = 1, 1.0 }, c:setoption(name, true))
    expect(name .. " after set", { n = 1, true }, c:getoption(name))
    expect("setoption " .. name .. " false", { n = 1, 1.0 }, c:setoption(name, false))
    expect(name .. " after unset", { n = 1, false }, c:getoption(name))
  end
  local l = c:getoption("linger")
  check("linger default on", false, l.on)
  check("linger default timeout", 0, l.timeout)
  expect("setoption linger", { n = 1, 1.0 }, c:setoption("linger", { on = true, timeout = 5 }))
  l = c:getoption("linger")
  check("linger on", true, l.on)
  check("linger timeout", 5, l.timeout)
  expect("setoption tcp-keepidle", { n = 1, 1.0 }, c:setoption("tcp-keepidle", 30))
  expect("tcp-keepidle", { n = 1, 30.0 }, c:getoption("tcp-keepidle"))
  check("recv-buffer-size type", "float", math.type(c:getoption("recv-buffer-size")))
  check("send-buffer-size type", "float", math.type(c:getoption("send-buffer-size")))
  expect("error option on a healthy socket", { n = 1, nil }, c:getoption("error"))

  raises("keepalive = 1", "bad argument #2 to 'setoption' (boolean expected, got number)",
    function() c:setoption("keepalive", 1) end)
  raises("tcp-nodelay = 'yes'", "bad argument #2 to 'setoption' (boolean expected, got string)",
    function() c:setoption("tcp-nodelay", "yes") end)
  raises("reuseaddr = nil", "bad argument #2 to 'setoption' (boolean expected, got nil)",
    function() c:setoption("reuseaddr", nil) end)
  raises("linger = true", "bad argument #2 to 'setoption' (table expected, got boolean)",
    function() c:setoption("linger", true) end)
  raises("linger on = 1", "bad argument #2 to 'setoption' (boolean 'on' field expected)",
    function() c:setoption("linger", { on = 1, timeout = 1 }) end)
  raises("linger timeout missing", "bad argument #2 to 'setoption' (number 'timeout' field expected)",
    function() c:setoption("linger", { on = true }) end)
  raises("unknown setoption", "bad argument #1 to 'setoption' (unsupported option `bogus')",
    function() c:setoption("bogus", true) end)
  raises("unknown getoption", "bad argument #1 to 'getoption' (unsupported option `bogus')",
    function() c:getoption("bogus") end)
  raises("nil option name", "bad argument #1 to 'setoption' (string expected, got nil)",
    function() c:setoption(nil, true) end)

  local m = track(socket.tcp())
  expect("setoption without fd", { n = 2, nil, "setsockopt failed" }, m:setoption("keepalive", true))
  expect("getoption without fd", { n = 2, nil, "getsockopt failed" }, m:getoption("keepalive"))
  local srv = track(socket.bind("127.0.0.1", 0))
  expect("socket.bind sets reuseaddr", { n = 1, true }, srv:getoption("reuseaddr"))
end)

-- __gc closes: dropping the last reference to a connected object and collecting makes
-- the other end see EOF.
case("__gc closes the socket", function()
  local srv = track(assert(socket.bind("127.0.0.1", 0)))
  local _, port = srv:getsockname()
  -- The client lives only in this function's frame, so nothing on the stack keeps it.
  local function connect_and_drop()
    local c = socket.tcp()
    c:settimeout(3)
    truthy("connect", c:connect("127.0.0.1", port))
  end
  connect_and_drop()
  srv:settimeout(3)
  local a = track(srv:accept())
  collectgarbage()
  collectgarbage()
  a:settimeout(3)
  expect("EOF after the collector ran", { n = 3, nil, "closed", "" }, a:receive())
end)

H.done()
