-- Scripted peer for the conformance suite in this directory (tests/lua/socket_conformance/);
-- harness.lua's H.start_peer() runs it, found next to harness.lua, whatever the working
-- directory. It always runs under the stock interpreter with stock LuaSocket:
--
--   lua5.4 tests/lua/socket_conformance/peer.lua [parent-pid]
--
-- It listens on 127.0.0.1:0, prints "PORT <n>" on stdout, then serves any number of
-- connections at once (a small coroutine scheduler over socket.select, so that a slow
-- or stuck connection never delays the next one). Each connection starts with one
-- script line, a list of steps separated by ';', executed in order:
--
--   recv N        read exactly N bytes from the connection and append them to buf
--   pat N         append N bytes of the pattern "abc...z" repeated to buf
--   lit TEXT      append TEXT to buf, with %XX hex escapes decoded (e.g. %0D%0A = CRLF)
--   send          send buf (all of it), then empty buf
--   dribble S     send buf one byte at a time, sleeping S seconds before each byte
--   sleep S       wait S seconds
--   rcvbuf N      setoption("recv-buffer-size", N) on the connection
--   shut          shutdown("send"): the suite sees EOF, the peer can still read
--   drain         read until EOF (or error), counting the bytes into cnt
--   count         send "<cnt>\n"
--   echo          send back every chunk read, until EOF
--   peer          send "<ip> <port>\n" (the suite's address as this side sees it)
--   connect PORT  connect to 127.0.0.1:PORT; later steps use the new connection
--   reset         close with SO_LINGER {on, 0}, i.e. abortively (RST)
--   close         close the connection (also done implicitly after the last step)
--   quit          exit the process at once
--
-- The peer exits on "quit", when the suite closes the stdout pipe, when the parent
-- process (pid given as argument) is gone, or after 60 seconds in any case. Every wait
-- is bounded (10 s per step).

-- The peer must be stock LuaSocket (a C socket.core), whatever LUA_PATH says.
if package.preload["socket.core"] or package.searchpath("socket.core", package.path) then
  io.stdout:write("ERROR socket.core would not be stock LuaSocket's C module\n")
  os.exit(1)
end
local socket = require("socket")

local LIFETIME = 60
local STEP_TIMEOUT = 10
local parent = tonumber(arg and arg[1])
local started = socket.gettime()

local function now() return socket.gettime() end

local function log(...)
  io.stderr:write("socket_conformance/peer.lua: ", table.concat({ ... }, " "), "\n")
end

local function pattern(n)
  local alpha = "abcdefghijklmnopqrstuvwxyz"
  local whole = alpha:rep(n // 26)
  return whole .. alpha:sub(1, n % 26)
end

-- Cooperative waits: a task yields (kind, sock, deadline); kind is "r", "w" or nil.
local function wait(kind, sock, deadline)
  coroutine.yield(kind, sock, deadline)
end

local function sleep(s)
  local deadline = now() + s
  while now() < deadline do wait(nil, nil, deadline) end
end

-- receive(pattern) with the non-blocking resume idiom.
local function receive(sock, pat)
  local deadline = now() + STEP_TIMEOUT
  local acc = ""
  while true do
    local data, err, partial = sock:receive(pat, acc)
    if data then return data end
    if err ~= "timeout" then return nil, err, partial end
    acc = partial
    if now() >= deadline then return nil, "timeout", acc end
    wait("r", sock, deadline)
  end
end

local function send(sock, data)
  local deadline = now() + STEP_TIMEOUT
  local i = 1
  while i <= #data do
    local last, err, plast = sock:send(data, i)
    if last then return last end
    if err ~= "timeout" then return nil, err end
    i = plast + 1
    if now() >= deadline then return nil, "timeout" end
    wait("w", sock, deadline)
  end
  return #data
end

local function unescape(text)
  return (text:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function handle(conn)
  conn:settimeout(0)
  local script, err = receive(conn, "*l")
  if not script then
    conn:close()
    return
  end
  local buf, cnt = "", 0
  local extra = {}
  for step in script:gmatch("[^;]+") do
    local cmd, rest = step:match("^%s*(%S+)%s*(.-)%s*$")
    if cmd == "recv" then
      local data = receive(conn, tonumber(rest))
      buf = buf .. (data or "")
    elseif cmd == "pat" then
      buf = buf .. pattern(tonumber(rest))
    elseif cmd == "lit" then
      buf = buf .. unescape(rest)
    elseif cmd == "send" then
      send(conn, buf)
      buf = ""
    elseif cmd == "dribble" then
      local s = tonumber(rest)
      for i = 1, #buf do
        sleep(s)
        if not send(conn, buf:sub(i, i)) then break end
      end
      buf = ""
    elseif cmd == "sleep" then
      sleep(tonumber(rest))
    elseif cmd == "rcvbuf" then
      conn:setoption("recv-buffer-size", tonumber(rest))
    elseif cmd == "shut" then
      conn:shutdown("send")
    elseif cmd == "drain" then
      local deadline = now() + STEP_TIMEOUT
      while true do
        local data, e, partial = conn:receive(65536)
        data = data or partial
        cnt = cnt + #data
        if e and e ~= "timeout" then break end
        if now() >= deadline then break end
        if e == "timeout" then wait("r", conn, deadline) end
      end
    elseif cmd == "count" then
      send(conn, tostring(cnt) .. "\n")
    elseif cmd == "echo" then
      local deadline = now() + STEP_TIMEOUT
      while true do
        local data, e, partial = conn:receive(65536)
        data = data or partial
        if #data > 0 and not send(conn, data) then break end
        if e and e ~= "timeout" then break end
        if now() >= deadline then break end
        if e == "timeout" then wait("r", conn, deadline) end
      end
    elseif cmd == "peer" then
      local ip, port = conn:getpeername()
      send(conn, tostring(ip) .. " " .. tostring(port) .. "\n")
    elseif cmd == "connect" then
      local c = socket.tcp()
      c:settimeout(0)
      c:connect("127.0.0.1", tonumber(rest))
      wait("w", c, now() + STEP_TIMEOUT)
      c:settimeout(0)
      extra[#extra + 1] = conn
      conn = c
    elseif cmd == "reset" then
      conn:setoption("linger", { on = true, timeout = 0 })
      conn:close()
    elseif cmd == "close" then
      conn:close()
    elseif cmd == "quit" then
      os.exit(0)
    else
      log("unknown step", step)
    end
  end
  conn:close()
  for _, c in ipairs(extra) do c:close() end
end

local server = assert(socket.bind("127.0.0.1", 0))
server:settimeout(0)
local _, port = server:getsockname()
io.stdout:write("PORT ", tostring(port), "\n")
io.stdout:flush()

local tasks = {}

local function spawn(fn, ...)
  local co = coroutine.create(fn)
  local task = { co = co }
  tasks[#tasks + 1] = task
  local ok, kind, sock, deadline = coroutine.resume(co, ...)
  if not ok then log(tostring(kind)) end
  task.kind, task.sock, task.deadline = kind, sock, deadline
end

local function parent_alive()
  if not parent then return true end
  local f = io.open("/proc/" .. parent .. "/stat", "r")
  if not f then return false end
  local stat = f:read("a") or ""
  f:close()
  -- A zombie (state Z) has exited already.
  return not stat:match("^%d+ %b() Z")
end

-- A heartbeat on stdout: once the suite has closed its end of the pipe (pclose, or the
-- suite died), the write fails (SIGPIPE is ignored by LuaSocket) and the peer exits.
local function pipe_alive()
  local ok = io.stdout:write(".")
  if ok then ok = io.stdout:flush() end
  return ok ~= nil
end

local last_check = 0
while true do
  local t = now()
  if t - started > LIFETIME then break end
  if t - last_check > 0.2 then
    last_check = t
    if not parent_alive() or not pipe_alive() then break end
  end
  local recvt, sendt = { server }, {}
  local timeout = 0.2
  for _, task in ipairs(tasks) do
    if task.kind == "r" then
      recvt[#recvt + 1] = task.sock
    elseif task.kind == "w" then
      sendt[#sendt + 1] = task.sock
    end
    if task.deadline then timeout = math.min(timeout, task.deadline - t) end
  end
  local r, w = socket.select(recvt, sendt, math.max(timeout, 0))
  if r[server] then
    local conn = server:accept()
    if conn then spawn(handle, conn) end
  end
  t = now()
  local alive = {}
  for _, task in ipairs(tasks) do
    local ready = (task.kind == "r" and r[task.sock]) or (task.kind == "w" and w[task.sock])
      or (task.deadline and t >= task.deadline)
    if ready then
      local ok, kind, sock, deadline = coroutine.resume(task.co)
      if not ok then log(tostring(kind)) end
      task.kind, task.sock, task.deadline = kind, sock, deadline
    end
    if coroutine.status(task.co) ~= "dead" then alive[#alive + 1] = task end
  end
  tasks = alive
end
os.exit(0)
