-- luv.pipe: unix-domain sockets (in a temporary directory) and pipes opened from an fd.
-- The stream methods are the same code as luv.tcp's (test_tcp.lua covers them in depth);
-- these tests cover what is specific to pipes, and the stream basics once more.
local tap = require("tap")
local luv, test, expect, raises, fails = tap.luv, tap.test, tap.expect, tap.raises, tap.fails

local LONG = 10  -- seconds: the timeout of waits that must not time out

local function elapsed(since)
  return (luv.hrtime() - since) / 1e9
end

-- A fresh private directory for the sockets; removed at the end.
local dir do
  local p = assert(io.popen("mktemp -d /tmp/luv-pipe-test.XXXXXX"))
  dir = p:read("l")
  p:close()
  assert(dir and dir:match("^/tmp/luv%-pipe%-test%."), "mktemp -d failed")
end
local serial = 0
local function socket_path()
  serial = serial + 1
  return ("%s/s%d.sock"):format(dir, serial)
end

local function exists(path)
  local f, err = io.open(path)  -- opening a socket file fails, but not with ENOENT
  if f then f:close() end
  return f ~= nil or not tostring(err):find("No such file", 1, true)
end

local function closing(...)
  local streams = table.pack(...)
  return setmetatable({}, { __close = function()
    for i = 1, streams.n do streams[i]:close() end
  end })
end

local function listener()
  local path = socket_path()
  local server = luv.pipe.create()
  assert(server:bind(path) == true)
  assert(server:listen() == true)
  return server, path
end

local function pair()
  local server, path = listener()
  local client = luv.pipe.create()
  assert(client:connect(path, LONG) == true)
  local conn = luv.pipe.create()
  assert(server:accept(conn, LONG) == conn)
  server:close()
  return client, conn
end

local function read_exactly(s, n)
  local parts, got = {}, 0
  for _ = 1, n + 1 do
    if got == n then break end
    local len, data = s:read(n - got, LONG)
    assert(len, data)
    parts[#parts + 1] = data
    got = got + len
  end
  assert(got == n, "short read")
  return table.concat(parts)
end

test("luv.pipe.create makes a luv.pipe", function()
  local p <close> = luv.pipe.create()
  assert(getmetatable(p).__name == "luv.pipe")
  assert(tostring(p):match("^luv%.pipe: 0x%x+$"), tostring(p))
  assert(p:readable() == false and p:writable() == false)
  local ipc <close> = luv.pipe.create(true)
  assert(getmetatable(ipc).__name == "luv.pipe")
  -- the TCP-only methods are not there
  assert(p.getsockname == nil and p.nodelay == nil)
end)

test("a unix-socket echo round trip", function()
  local server, path = listener()
  assert(exists(path), "bind creates the socket file")
  local echo = luv.fiber.create(function()
    local conn <close> = luv.pipe.create()
    assert(server:accept(conn, LONG))
    for _ = 1, 1000 do
      local n, data, code = conn:read(nil, LONG)
      if not n then
        assert(code == "EOF", data)
        break
      end
      assert(conn:write(data, LONG))
    end
  end):ready()
  local c <close> = luv.pipe.create()
  assert(c:connect(path, LONG) == true)
  assert(c:readable() and c:writable())
  for i = 1, 10 do
    local msg = ("message %d over a unix socket"):format(i)
    assert(c:write(msg) == true)
    assert(read_exactly(c, #msg) == msg)
  end
  assert(c:shutdown(LONG) == true)
  fails("EOF", c:read(nil, LONG))  -- the echo side closed after our EOF
  echo:join()
  server:close()
  assert(not exists(path), "closing the listener removes the socket file")
end)

test("16 clients x 20 round trips on one unix socket", function()
  local clients, rounds = 16, 20
  local server <close>, path = listener()
  local handlers = {}
  local acceptor = luv.fiber.create(function()
    for i = 1, clients do
      local conn = luv.pipe.create()
      assert(server:accept(conn, LONG))
      handlers[i] = luv.fiber.create(function()
        for _ = 1, rounds + 1 do
          local n, data = conn:read(nil, LONG)
          if not n then break end
          assert(conn:write(data, LONG))
        end
        conn:close()
      end):ready()
    end
  end):ready()
  local done = expect(nil, clients)
  local fibers = {}
  for i = 1, clients do
    fibers[i] = luv.fiber.create(function()
      local c <close> = luv.pipe.create()
      assert(c:connect(path, LONG))
      for r = 1, rounds do
        local msg = ("%d:%d;"):format(i, r):rep(r)
        assert(c:write(msg, LONG))
        assert(read_exactly(c, #msg) == msg)
      end
      done()
    end):ready()
  end
  for i = 1, clients do fibers[i]:join() end
  acceptor:join()
  for i = 1, clients do handlers[i]:join() end
end)

test("bind to a path in use fails with EADDRINUSE, naming the path", function()
  local server <close>, path = listener()
  local p <close> = luv.pipe.create()
  local v, msg, code = p:bind(path)
  fails("EADDRINUSE", v, msg, code)
  assert(msg:find(path, 1, true), msg)
  -- an ordinary file is in the way too
  local file = socket_path()
  assert(io.open(file, "w")):close()
  local q <close> = luv.pipe.create()
  fails("EADDRINUSE", q:bind(file))
  os.remove(file)
end)

test("connect to a missing path fails with ENOENT, naming the path", function()
  local path = socket_path()
  local p <close> = luv.pipe.create()
  local v, msg, code = p:connect(path, LONG)
  fails("ENOENT", v, msg, code)
  assert(msg:find(path, 1, true), msg)
end)

-- A unix socket address holds at most 107 bytes of path. libuv 1.44 cuts a longer path
-- short silently: bind then creates a socket file under another name (which close does
-- not remove), and connect may reach another socket. It must fail instead.
test("a path too long for a unix socket address fails (ENAMETOOLONG or EINVAL)", function()
  local long = dir .. "/" .. ("L"):rep(150)
  local p <close> = luv.pipe.create()
  local v, msg, code = p:bind(long)
  local cut = long:sub(1, 107)
  local made = exists(cut)
  os.remove(cut)
  assert(v == nil and (code == "ENAMETOOLONG" or code == "EINVAL"),
         ("bind(<%d bytes>) returned %s %s"):format(#long, tostring(v), tostring(msg)))
  assert(not made, "bind created a socket file under a shortened name")
  local q <close> = luv.pipe.create()
  v, msg, code = q:connect(long, LONG)
  assert(v == nil and (code == "ENAMETOOLONG" or code == "EINVAL"), tostring(msg))
end)

test("connect to a socket file nobody listens on: ECONNREFUSED", function()
  local path = socket_path()
  local bound <close> = luv.pipe.create()
  assert(bound:bind(path))  -- bound, not listening
  local p <close> = luv.pipe.create()
  fails("ECONNREFUSED", p:connect(path, LONG))
end)

test("partial reads, EOF after the data, sticky EOF", function()
  local c, a = pair()
  local _ <close> = closing(c, a)
  assert(c:write("hello pipe"))
  assert(c:shutdown(LONG))
  luv.sleep(0.01)
  assert(select(2, a:read(5, LONG)) == "hello")
  assert(select(2, a:read(nil, LONG)) == " pipe")
  fails("EOF", a:read(nil, LONG))
  fails("EOF", a:read(nil, LONG))
end)

test("a 4 MB write to a slow reader arrives whole", function()
  local c, a = pair()
  local _ <close> = closing(c, a)
  local parts = {}
  for i = 1, 256 * 1024 do parts[i] = ("%15d\n"):format(i) end
  local big = table.concat(parts)
  local reader = luv.fiber.create(function()
    local got = {}
    for _ = 1, #big do
      local n, data, code = a:read(nil, LONG)
      if not n then
        assert(code == "EOF", data)
        break
      end
      got[#got + 1] = data
      luv.sleep(0.001)
    end
    return table.concat(got)
  end):ready()
  assert(c:write(big, 60))
  assert(c:shutdown(LONG))
  assert(reader:join() == big)
end)

test("timeouts, settimeout, cancel, close, EBUSY on a pipe", function()
  local c, a = pair()
  local _ <close> = closing(c, a)
  local start = luv.hrtime()
  fails("ETIMEDOUT", a:read(nil, 0.05))
  assert(elapsed(start) >= 0.045)
  assert(a:settimeout(0.02) == a)
  fails("ETIMEDOUT", a:read())
  a:settimeout(nil)

  local reader = luv.fiber.create(function() return a:read() end):ready()
  luv.sleep(0.01)
  fails("EBUSY", a:read(nil, LONG))
  reader:cancel()
  fails("ECANCELED", reader:join())

  local server <close> = listener()
  local client <close> = luv.pipe.create()
  fails("ETIMEDOUT", server:accept(client, 0.02))
  local acceptor = luv.fiber.create(function() return server:accept(client) end):ready()
  luv.sleep(0.01)
  acceptor:cancel()
  fails("ECANCELED", acceptor:join())

  reader = luv.fiber.create(function() return a:read() end):ready()
  luv.sleep(0.01)
  a:close()
  fails("ECANCELED", reader:join())
end)

test("use after close raises 'attempt to use a closed luv.pipe'", function()
  local p = luv.pipe.create()
  assert(p:close() == true)
  assert(p:close() == true)
  assert(tostring(p):match("^luv%.pipe: 0x%x+ %(closed%)$"), tostring(p))
  for _, call in ipairs({ { "read" }, { "write", "x" }, { "listen" }, { "shutdown" },
                          { "bind", socket_path() }, { "connect", socket_path() },
                          { "open", 0 }, { "readable" }, { "writable" } }) do
    raises("attempt to use a closed luv.pipe", p[call[1]], p, table.unpack(call, 2))
  end
end)

test("bad arguments raise, naming the argument", function()
  local p <close> = luv.pipe.create()
  local err = raises("string expected, got table", function() return p:bind({}) end)
  assert(err:find("bad argument #1 to 'bind'", 1, true), err)
  raises("string expected", p.connect, p, nil)
  raises("fd must be >= 0", p.open, p, -1)
  raises("number expected", p.open, p, "stdin")
  raises("timeout must be >= 0", p.connect, p, socket_path(), -1)
  raises("luv.pipe expected", luv.pipe.create().bind, luv.net.tcp(), "x")
end)

-- open(fd): a child process whose stdin and stdout are pipes from the shell opens fd 0 and
-- fd 1 as luv pipes, reads its input to the end and writes it back, changed.
local open_child = [=[
local luv = require("luv")
luv.fiber.create(function()
  local input <close> = luv.pipe.create()
  assert(input:open(0))
  local parts = {}
  for _ = 1, 1000 do
    local n, data, code = input:read(nil, 10)
    if not n then
      assert(code == "EOF", data)
      break
    end
    parts[#parts + 1] = data
  end
  local output <close> = luv.pipe.create()
  assert(output:open(1))
  assert(output:write("got: " .. table.concat(parts):upper() .. "\n", 10))
end):join()
]=]

test("open(fd) on the ends of shell pipes", function()
  local script = tap.write_temp(open_child, ".lua")
  local out, code = tap.run(("printf 'ping from the shell' | timeout 30 %s %s | cat"):format(
    tap.shell_quote(tap.self_command()), tap.shell_quote(script)))
  os.remove(script)
  assert(code == 0, out)
  assert(out == "got: PING FROM THE SHELL\n", out)
end)

local pid do
  local f = io.open("/proc/self/stat")
  if f then
    pid = f:read("n")
    f:close()
  end
end
local function count_fds()
  local p = assert(io.popen("ls /proc/" .. pid .. "/fd"))
  local n = 0
  for _ in p:lines() do n = n + 1 end
  p:close()
  return n
end

if pid then
  test("a pipe collected unclosed is closed", function()
    local function leak() pair() end
    leak()
    collectgarbage()
    collectgarbage()
    local before = count_fds()
    for _ = 1, 10 do leak() end
    collectgarbage()
    collectgarbage()
    luv.sleep(0.01)
    assert(count_fds() == before)
  end)
else
  tap.skip("a pipe collected unclosed is closed", "no /proc/self here")
end

collectgarbage()
collectgarbage()
os.execute("rm -rf " .. tap.shell_quote(dir))
tap.done()
