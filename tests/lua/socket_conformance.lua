-- LuaSocket conformance suite: pins down what stock LuaSocket 3.1.0 (Debian's lua-socket,
-- Lua 5.4) does, so that the same file can be run against luv's drop-in `socket.core`
-- and every difference shows up as a failing case.
--
--   lua5.4 tests/lua/socket_conformance.lua                   -- stock LuaSocket
--   SOCKET_IMPL=luv lua5.4 tests/lua/socket_conformance.lua   -- drop-in (require "luv.socket")
--   build/src/cli/luv tests/lua/socket_conformance.lua        -- drop-in installed by the CLI
--
-- Output: "ok N - name" / "not ok N - name: first line" (+ "#   " detail lines), and a
-- last line "# N passed, M failed"; the exit status is 0 only if nothing failed.
--
-- Since stock LuaSocket blocks, the far end of most TCP connections is a separate process,
-- tests/lua/socket_peer.lua, always run with `lua5.4` and stock LuaSocket. Each connection
-- to it starts with a one-line script (see the peer's header for the steps). UDP, unix
-- sockets and a few TCP cases talk to themselves in-process (the kernel completes a
-- connect to a listening socket before accept, and small sends never block).
--
-- All traffic stays on 127.0.0.1, ::1 (skipped if unavailable) and unix sockets in the
-- temp directory. Every wait is bounded; the whole file takes a few seconds.
--
-- Conventions in the checks below: `expect(what, {n = k, ...}, f())` compares the whole
-- result list, its length included (stock returns e.g. `data, nil, nil` from receive);
-- numbers compare with their subtype (LuaSocket pushes most counts with lua_pushnumber,
-- so they are floats in 5.4: `5.0`, not `5`); error messages compare exactly, after
-- stripping the "file:line: " position prefix.

local IMPL = os.getenv("SOCKET_IMPL") or "stock"

if IMPL == "luv" then
  -- The drop-in installs itself through package.preload["socket.core"] (and friends).
  local ok, err = pcall(require, "luv.socket")
  if not ok then
    print("not ok 1 - SOCKET_IMPL=luv: require \"luv.socket\" failed: "
      .. tostring(err):match("^[^\n]*"))
    print("# 0 passed, 1 failed")
    os.exit(1)
  end
elseif IMPL ~= "stock" then
  print("not ok 1 - unknown SOCKET_IMPL=" .. IMPL .. " (expected 'luv' or unset)")
  print("# 0 passed, 1 failed")
  os.exit(1)
end

local socket = require("socket")
local ltn12 = require("ltn12")

print("# socket_conformance: SOCKET_IMPL=" .. IMPL .. ", " .. tostring(socket._VERSION))

----------------------------------------------------------------------------------------
-- Harness
----------------------------------------------------------------------------------------

local count, passed, failed = 0, 0, 0
local tracked, tmpfiles = {}, {}

-- Sockets made by a case are closed after it, pass or fail, so that the peer sees EOF.
local function track(s)
  if s then tracked[#tracked + 1] = s end
  return s
end

local function tmppath()
  local p = os.tmpname()
  os.remove(p) -- os.tmpname creates the file; sockets need the name free
  tmpfiles[#tmpfiles + 1] = p
  return p
end

local function cleanup()
  for _, s in ipairs(tracked) do pcall(function() s:close() end) end
  tracked = {}
  for _, p in ipairs(tmpfiles) do os.remove(p) end
  tmpfiles = {}
end

local SKIP = {}
local function skip(reason) error(setmetatable({ reason = reason }, SKIP), 0) end

local function case(name, fn)
  count = count + 1
  local ok, err = xpcall(fn, function(e)
    if getmetatable(e) == SKIP then return e end
    return debug.traceback(tostring(e), 2)
  end)
  cleanup()
  if ok then
    passed = passed + 1
    print(("ok %d - %s"):format(count, name))
  elseif getmetatable(err) == SKIP then
    passed = passed + 1
    print(("ok %d - %s # SKIP %s"):format(count, name, err.reason))
  else
    failed = failed + 1
    local text = tostring(err)
    local first, rest = text:match("^([^\n]*)\n?(.*)$")
    print(("not ok %d - %s: %s"):format(count, name, first))
    for line in rest:gmatch("[^\n]+") do print("#   " .. line) end
  end
  io.stdout:flush()
end

local function show(v)
  if type(v) == "string" then
    if #v > 60 then return ("%q...(%d bytes)"):format(v:sub(1, 60), #v) end
    return ("%q"):format(v)
  elseif math.type(v) == "float" then
    return ("%s (float)"):format(tostring(v))
  elseif math.type(v) == "integer" then
    return ("%s (integer)"):format(tostring(v))
  end
  return tostring(v)
end

local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then return math.type(a) == math.type(b) and a == b end
  return a == b
end

local function check(what, expected, actual)
  if not same(expected, actual) then
    error(("%s: expected %s, got %s"):format(what, show(expected), show(actual)), 2)
  end
end

local function truthy(what, v)
  if not v then error(what, 2) end
  return v
end

local function showlist(t)
  local parts = {}
  for i = 1, t.n do parts[i] = show(t[i]) end
  return "(" .. table.concat(parts, ", ") .. ")"
end

-- Compares a whole result list: expect("what", {n = 3, "abc", nil, nil}, s:receive(3)).
local function expect(what, exp, ...)
  local got = table.pack(...)
  local n = exp.n or #exp
  local ok = got.n == n
  for i = 1, math.max(n, got.n) do
    if not same(exp[i], got[i]) then ok = false end
  end
  if not ok then
    error(("%s: expected %s, got %s"):format(what, showlist({ n = n, table.unpack(exp, 1, n) }),
      showlist(got)), 2)
  end
  return ...
end

local function strip(msg)
  return (tostring(msg):gsub("^[^\n]-:%d+: ", "", 1))
end

-- fn must raise exactly `message` (position prefix stripped).
local function raises(what, message, fn)
  local ok, err = pcall(fn)
  if ok then error(what .. ": expected an error " .. show(message) .. ", got none", 2) end
  if strip(err) ~= message then
    error(("%s: expected error %s, got %s"):format(what, show(message), show(strip(err))), 2)
  end
end

-- fn must raise a message ending with `suffix`.
local function raises_suffix(what, suffix, fn)
  local ok, err = pcall(fn)
  if ok then error(what .. ": expected an error ending " .. show(suffix) .. ", got none", 2) end
  local msg = strip(err)
  if msg:sub(-#suffix) ~= suffix then
    error(("%s: expected error ending %s, got %s"):format(what, show(suffix), show(msg)), 2)
  end
end

local function between(what, v, lo, hi)
  if type(v) ~= "number" or v < lo or v > hi then
    error(("%s: expected between %s and %s, got %s"):format(what, lo, hi, show(v)), 2)
  end
end

local function timed(fn, ...)
  local t0 = socket.gettime()
  local r = table.pack(fn(...))
  return socket.gettime() - t0, table.unpack(r, 1, r.n)
end

local function classof(obj)
  return (tostring(obj):match("^(.-): "))
end

local function check_class(what, obj, class)
  local s = tostring(obj)
  if not s:match("^" .. class:gsub("%p", "%%%0") .. ": 0x%x+$") then
    error(("%s: expected tostring %q, got %s"):format(what, class .. ": 0x...", show(s)), 2)
  end
  if obj.class ~= class then
    error(("%s: expected .class %q, got %s"):format(what, class, show(obj.class)), 2)
  end
end

-- The peer's pattern: "abc...z" repeated, cut to n bytes.
local function pattern(n)
  local alpha = "abcdefghijklmnopqrstuvwxyz"
  return alpha:rep(n // 26) .. alpha:sub(1, n % 26)
end

----------------------------------------------------------------------------------------
-- The peer process
----------------------------------------------------------------------------------------

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local PEER_SCRIPT = here .. "/socket_peer.lua"

local function shquote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function mypid()
  local f = io.open("/proc/self/stat", "r")
  if not f then return "" end
  local pid = f:read("l"):match("^(%d+)")
  f:close()
  return pid or ""
end

local peer_proc = io.popen("exec lua5.4 " .. shquote(PEER_SCRIPT) .. " " .. mypid(), "r")
local peer_line = peer_proc and peer_proc:read("l")
local PORT = tonumber(peer_line and peer_line:match("^PORT (%d+)$"))
if not PORT then
  print("not ok 1 - could not start " .. PEER_SCRIPT .. ": " .. tostring(peer_line))
  print("# 0 passed, 1 failed")
  os.exit(1)
end

-- A connection to the peer, already given its script. Timeout 5 s unless changed.
local function peer(script)
  local c = track(socket.tcp())
  c:settimeout(5)
  local ok, err = c:connect("127.0.0.1", PORT)
  truthy("connect to the peer: " .. tostring(err), ok)
  truthy("send the script", c:send(script .. "\n"))
  return c
end

-- A port nobody listens on (bound then released at once).
local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

-- An in-process connected pair over 127.0.0.1: client, accepted, server.
local function pair()
  local srv = track(assert(socket.bind("127.0.0.1", 0)))
  local _, port = srv:getsockname()
  local c = track(socket.tcp())
  c:settimeout(5)
  truthy("pair connect", c:connect("127.0.0.1", port))
  srv:settimeout(5)
  local a = track(srv:accept())
  truthy("pair accept", a)
  a:settimeout(5)
  return c, a, srv
end

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
  -- Called as a plain function with a non-socket, argument 1 is numbered.
  raises("receive on a table", "bad argument #1 to 'receive' (tcp{client} expected)",
    function() local f = c.receive; f({}) end)
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
  check("sent count (script line included)", 5.0 + 39.0, sent)
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
-- nothing, so ownership of a connection can be moved between objects.
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
  expect("new owner getpeername", { n = 3, "127.0.0.1", PORT, "inet" }, x:getpeername())
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
  do
    local c = socket.tcp()
    c:settimeout(3)
    truthy("connect", c:connect("127.0.0.1", port))
    c = nil
  end
  srv:settimeout(3)
  local a = track(srv:accept())
  collectgarbage()
  collectgarbage()
  a:settimeout(3)
  expect("EOF after the collector ran", { n = 3, nil, "closed", "" }, a:receive())
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
  expect("pump from the socket", { n = 1, 1 }, ltn12.pump.all(src, ltn12.sink.table(got)))
  check("echoed data", data, table.concat(got))
  expect("until-closed closed the socket", { n = 1, -1.0 }, c:getfd())

  local c2 = peer("pat 5000; send; sleep 1; close")
  local got2 = {}
  local dt = timed(ltn12.pump.all, socket.source("by-length", c2, 5000), ltn12.sink.table(got2))
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

----------------------------------------------------------------------------------------
-- Done
----------------------------------------------------------------------------------------

do
  local q = socket.tcp()
  q:settimeout(2)
  if q:connect("127.0.0.1", PORT) then q:send("quit\n") end
  q:close()
  -- Closing the pipe also makes the peer exit (its heartbeat write fails).
  peer_proc:close()
end

print(("# %d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
