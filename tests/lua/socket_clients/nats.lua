-- NATS on the LuaSocket drop-in, against Debian's nats-server started by the test on a
-- port of 127.0.0.1: first the protocol by hand on the socket API (INFO, CONNECT,
-- PING/PONG, SUB, PUB, MSG, UNSUB), then lua-nats (github.com/DawnAngel/lua-nats,
-- src/nats.lua), unmodified, whose code is not part of this repository: the test takes
-- a local copy from LUA_NATS_DIR (the checkout, or the directory holding nats.lua) and
-- reports its cases as skipped without one. lua-nats also needs lua-cjson (Debian
-- lua-cjson) and a `uuid` module: uuid.lua of this directory stands in for it.
--
--   LUA_NATS_DIR=/tmp/lua-nats lua5.4 tests/lua/socket_clients/nats.lua     -- drop-in
--   SOCKET_IMPL=stock LUA_NATS_DIR=/tmp/lua-nats lua5.4 tests/lua/socket_clients/nats.lua
--
-- What lua-nats asks of LuaSocket: socket.tcp(), settimeout(t, 't') (only when given a
-- timeout), connect(host, port), setoption('tcp-nodelay', true), send(), receive('*l'),
-- receive(n) for payloads, shutdown(); require('socket.unix') called as a function, then
-- connect(path). nats-server listens on TCP only, so the unix-socket case goes through
-- unix_relay.py (a unix socket in front of nats-server's TCP port).
--
-- nats-server 2.9 sends a PING of its own soon after a client connects (it measures the
-- round trip). lua-nats answers it only inside wait(); its ping() just reads the next
-- line, so a ping() may read that PING and return false (see the cases).
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local C = dofile(HERE .. "/clients.lua")
local luv, socket, test, dropin_test = C.luv, C.socket, C.test, C.dropin_test
local eq, between = C.eq, C.between

local PORT, PING_PORT, RELAY
local NATS_FILE, NATS_WHY

local function start_nats(name, config)
  local dir = C.tmpdir() .. "/" .. name
  assert(luv.fs.mkdir(dir))
  local argv = { "nats-server", "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", dir }
  if config then
    local conf = dir .. ".conf"
    local f = assert(io.open(conf, "w"))
    f:write(config)
    f:close()
    argv[#argv + 1] = "-c"
    argv[#argv + 1] = conf
  end
  local srv = C.spawn(name, argv)
  local port
  local ok, why = C.wait_ready(srv, function()
    for _, entry in ipairs(luv.fs.readdir(dir) or {}) do
      if entry:match("%.ports$") then
        port = tonumber((C.read_file(dir .. "/" .. entry) or ""):match("nats://127%.0%.0%.1:(%d+)"))
      end
    end
    return port ~= nil and C.tcp_probe(port)()
  end, 20)
  if not ok then error("could not start nats-server: " .. why, 0) end
  return port
end

----------------------------------------------------------------------------------------
-- The protocol by hand
----------------------------------------------------------------------------------------

-- A connection that has read INFO and sent CONNECT; :line() returns the next line that
-- is not a server PING (those are answered and counted).
local function raw(port, verbose)
  local s = socket.tcp()
  s:settimeout(5)
  assert(s:connect("127.0.0.1", port))
  assert(s:setoption("tcp-nodelay", true))
  local info = assert(s:receive("*l"))
  assert(info:match("^INFO {"), "expected INFO, got " .. info)
  local conn = { s = s, info = info, pings = 0 }
  function conn.line()
    for _ = 1, 100 do
      local l, err = s:receive("*l")
      if not l then return nil, err end
      if l ~= "PING" then return l end
      conn.pings = conn.pings + 1
      assert(s:send("PONG\r\n"))
    end
    error("100 PINGs in a row")
  end
  function conn.send(data) return assert(s:send(data)) end
  function conn.sync()
    conn.send("PING\r\n")
    eq("PONG", "PONG", conn.line())
  end
  function conn.msg() -- the next MSG: subject, sid, reply, payload
    local l = assert(conn.line())
    local subject, sid, rest = l:match("^MSG (%S+) (%S+) (.*)$")
    assert(subject, "expected MSG, got " .. l)
    local reply, n = rest:match("^(%S+) (%d+)$")
    if not reply then n = rest:match("^(%d+)$") end
    local payload = assert(s:receive(tonumber(n) + 2))
    eq("payload end", "\r\n", payload:sub(-2))
    return subject, sid, reply, payload:sub(1, -3)
  end
  function conn.close() s:close() end
  conn.send(('CONNECT {"verbose":%s,"pedantic":false,"name":"raw","lang":"lua"}\r\n')
    :format(verbose and "true" or "false"))
  return conn
end

local function raw_cases()
  local BIN = C.binary()

  test("raw: INFO, CONNECT (verbose), PING/PONG", function()
    local c = raw(PORT, true)
    eq("+OK to CONNECT", "+OK", c.line())
    eq("max_payload in INFO", true, c.info:match('"max_payload":(%d+)') ~= nil)
    for _ = 1, 3 do c.sync() end
    c.close()
  end)

  test("raw: SUB, PUB with a reply subject, MSG; binary and 1 MB payloads; UNSUB", function()
    local c = raw(PORT)
    local max = tonumber(c.info:match('"max_payload":(%d+)'))
    c.send("SUB raw.* 7\r\n")
    c.send(("PUB raw.bin inbox.1 %d\r\n%s\r\n"):format(#BIN, BIN))
    local subject, sid, reply, payload = c.msg()
    eq("subject", "raw.bin", subject)
    eq("sid", "7", sid)
    eq("reply", "inbox.1", reply)
    eq("payload", BIN, payload)
    local big = C.blob(math.min(max, 1024 * 1024), 4)
    c.send(("PUB raw.big %d\r\n"):format(#big) .. big .. "\r\n")
    subject, sid, reply, payload = c.msg()
    eq("big sid", "7", sid)
    eq("big subject", "raw.big", subject)
    eq("no reply", nil, reply)
    eq("big payload", true, payload == big)
    c.send("PUB raw.empty 0\r\n\r\n")
    subject, sid, reply, payload = c.msg()
    eq("empty subject", "raw.empty", subject)
    eq("empty", "", payload)
    c.send("UNSUB 7\r\nPUB raw.after 1\r\nx\r\n")
    c.sync() -- a PONG, not a MSG: the unsubscribed message never came
    c.close()
  end)

  test("raw: a subscriber and a publisher connection, 100 messages in order", function()
    local sub, pub = raw(PORT), raw(PORT)
    sub.send("SUB raw.seq 1\r\n")
    sub.sync()
    for i = 1, 100 do
      local p = i .. ":" .. BIN:sub(1, i)
      pub.send(("PUB raw.seq %d\r\n%s\r\n"):format(#p, p))
    end
    pub.sync()
    for i = 1, 100 do
      local _, _, _, payload = sub.msg()
      eq("message " .. i, i .. ":" .. BIN:sub(1, i), payload)
    end
    sub.close(); pub.close()
  end)

  dropin_test("raw: a subscriber fiber blocked in receive, a publisher fiber", function()
    local sub = raw(PORT)
    sub.send("SUB raw.xf 1\r\n")
    sub.sync()
    local listener = C.go(function()
      local got = {}
      for i = 1, 20 do
        local _, _, _, payload = sub.msg()
        got[i] = payload
      end
      return got
    end)
    local publisher = C.go(function()
      local pub = raw(PORT)
      for i = 1, 20 do
        pub.send(("PUB raw.xf %d\r\n%s\r\n"):format(#tostring(i), i))
        if i % 5 == 0 then luv.sleep(0.05) end
      end
      pub.sync()
      pub.close()
      return true
    end)
    eq("publisher", true, publisher:join(10))
    local got = listener:join(10)
    for i = 1, 20 do eq("message " .. i, tostring(i), got[i]) end
    sub.close()
  end)
end

----------------------------------------------------------------------------------------
-- lua-nats
----------------------------------------------------------------------------------------

-- A fresh instance of the lua-nats module, with globals of its own: nats.lua assigns a
-- global `unique_id` in request(), and its client prototype's `subscriptions` table is
-- shared by every client of one instance.
local function load_nats()
  local env = setmetatable({}, { __index = _G })
  return assert(loadfile(NATS_FILE, "t", env))()
end

local NATS -- the instance most cases share

-- Every client gets a timeout (10 s unless given), so that a drop-in that blocks the
-- whole thread makes the cross-fiber cases fail in bounded time instead of hanging.
-- lua-nats applies it over TCP (settimeout(t, 't') before connect); over a unix socket
-- it takes none, and the test sets it on the socket.
local function nconnect(params)
  params.host = params.host or "127.0.0.1"
  params.timeout = params.timeout or 10
  local c = (params.module or NATS).connect(params)
  if params.scheme == "unix" then c.network.socket:settimeout(params.timeout, "t") end
  c:connect()
  return c
end

local function nclose(c)
  pcall(function() c.network.socket:close() end)
end

-- Round trip through the server on c's own connection: everything c sent before has
-- been processed. Must not be used while other messages for c may arrive.
local function sync(c)
  local done = false
  local inbox = "_SYNC." .. require("uuid")()
  local sid = c:subscribe(inbox, function() done = true end)
  c:publish(inbox, "sync")
  for _ = 1, 20 do
    if done then break end
    c:wait(1)
  end
  c:unsubscribe(sid)
  assert(done, "the sync message never came")
end

local function nats_cases()
  local BIN = C.binary()

  test("lua-nats: connect (INFO captured), ping", function()
    local c = nconnect({ port = PORT })
    local info = c:get_server_info()
    eq("server_id", "string", type(info.server_id))
    eq("max_payload", "number", type(info.max_payload))
    local p1, p2, p3 = c:ping(), c:ping(), c:ping()
    -- nats-server's own PING (its round-trip measurement) comes at some point among the
    -- PONGs; the ping() that reads it returns false (and the PONGs then run one behind)
    print(("# ping() after connect(): %s %s %s"):format(tostring(p1), tostring(p2), tostring(p3)))
    local trues = (p1 and 1 or 0) + (p2 and 1 or 0) + (p3 and 1 or 0)
    assert(trues >= 2, ("ping() results %s %s %s"):format(tostring(p1), tostring(p2), tostring(p3)))
    c:shutdown()
    nclose(c)
  end)

  test("lua-nats: pub/sub between two clients, binary and 200 KB payloads", function()
    local sub, pub = nconnect({ port = PORT }), nconnect({ port = PORT })
    local got = {}
    sub:subscribe("ln.greet", function(payload, reply)
      got[#got + 1] = { payload = payload, reply = reply }
    end)
    sync(sub)
    local big = C.blob(200000, 2)
    pub:publish("ln.greet", "hello")
    pub:publish("ln.greet", BIN)
    pub:publish("ln.greet", big, "ln.replyto")
    sub:wait(3)
    eq("count", 3, #got)
    eq("1", "hello", got[1].payload)
    eq("2", BIN, got[2].payload)
    eq("3", true, got[3].payload == big)
    eq("3 reply", "ln.replyto", got[3].reply)
    eq("1 no reply", nil, got[1].reply)
    nclose(sub); nclose(pub)
  end)

  test("lua-nats: request/reply", function()
    local responder, requester = nconnect({ port = PORT }), nconnect({ port = PORT })
    responder:subscribe("ln.svc", function(payload, reply)
      responder:publish(reply, "re:" .. payload)
    end)
    sync(responder)
    local answer
    local uid, inbox = requester:request("ln.svc", "hello", function(payload)
      answer = payload
    end)
    eq("inbox", true, inbox:match("^_INBOX%.") ~= nil)
    responder:wait(1)
    requester:wait(1)
    eq("answer", "re:hello", answer)
    eq("the inbox unsubscribed", nil, requester.subscriptions[uid])
    nclose(responder); nclose(requester)
  end)

  test("lua-nats: unsubscribe", function()
    local sub, pub = nconnect({ port = PORT }), nconnect({ port = PORT })
    local got = 0
    local sid = sub:subscribe("ln.unsub", function() got = got + 1 end)
    sync(sub)
    pub:publish("ln.unsub", "one")
    sub:wait(1)
    eq("before", 1, got)
    sub:unsubscribe(sid)
    local marker = false
    sub:subscribe("ln.unsub.marker", function() marker = true end)
    sync(sub) -- the UNSUB and the SUB are done
    pub:publish("ln.unsub", "two")        -- not delivered: a stray MSG would make wait()
    pub:publish("ln.unsub.marker", "m")   -- raise (no callback for its sid)
    sub:wait(1)
    eq("marker", true, marker)
    eq("after", 1, got)
    nclose(sub); nclose(pub)
  end)

  test("lua-nats: the timeout path (timeout = 0.5)", function()
    local c = nconnect({ port = PORT, timeout = 0.5 })
    c:subscribe("ln.silent", function() error("no message expected") end)
    local dt, ok, err = C.timed(pcall, c.wait, c, 1)
    eq("raises", false, ok)
    eq("message", true, tostring(err):find("connection error: timeout", 1, true) ~= nil or err)
    between("seconds", dt, 0.4, 2.5)
    nclose(c)
  end)

  test("lua-nats: over a unix socket (unix_relay.py in front of nats-server)", function()
    local u = nconnect({ scheme = "unix", path = RELAY })
    eq("server_id", "string", type(u:get_server_info().server_id))
    local pub = nconnect({ port = PORT })
    local got = {}
    u:subscribe("ln.unix", function(payload) got[#got + 1] = payload end)
    sync(u)
    for i = 1, 10 do pub:publish("ln.unix", i .. BIN) end
    u:wait(10)
    for i = 1, 10 do eq("message " .. i, i .. BIN, got[i]) end
    -- and the other way
    local back
    pub:subscribe("ln.unix.back", function(payload) back = payload end)
    sync(pub)
    u:publish("ln.unix.back", BIN)
    pub:wait(1)
    eq("back", BIN, back)
    nclose(u); nclose(pub)
  end)

  test("lua-nats: server PINGs (ping_interval 1 s, ping_max 2) answered inside wait()", function()
    local c = nconnect({ port = PING_PORT })
    local pings = 0
    local read = c.network.read -- count the PINGs lua-nats reads (it answers them itself)
    c.network.read = function(client, len)
      local line = read(client, len)
      if line == "PING" then pings = pings + 1 end
      return line
    end
    local got
    c:subscribe("ln.tick", function(payload) got = payload end)
    -- a process of its own, stock LuaSocket, publishes in 3 s: without PONGs the server
    -- would close this connection as stale after about 2 s
    local late = assert(luv.process.spawn("lua5.4", { "-e", ([[
      local socket = require "socket"
      socket.sleep(3)
      local c = assert(socket.connect("127.0.0.1", %d))
      c:settimeout(5)
      c:receive("*l")
      c:send("CONNECT {}\r\nPUB ln.tick 4\r\nlate\r\nPING\r\n")
      repeat local l = c:receive("*l") until l == nil or l == "PONG"
      c:close()
    ]]):format(PING_PORT), stdin = "ignore" }))
    local ticks = 0
    local ticker
    if C.dropin then -- meanwhile another fiber runs
      ticker = C.go(function()
        while not got and ticks < 100 do
          luv.sleep(0.1)
          ticks = ticks + 1
        end
      end)
    end
    local dt = C.timed(c.wait, c, 1)
    eq("message", "late", got)
    between("seconds in wait()", dt, 2.5, 10)
    assert(pings >= 2, "only " .. pings .. " server PINGs were read")
    eq("publisher status", 0, (late:wait(10)))
    -- still connected
    local again
    c:subscribe("ln.tick.again", function(payload) again = payload end)
    c:publish("ln.tick.again", "yes")
    c:wait(1)
    eq("still connected", "yes", again)
    if ticker then
      ticker:join(5)
      assert(ticks >= 15, "another fiber ran only " .. ticks .. " times in " .. dt .. " s")
    end
    nclose(c)
  end)

  dropin_test("lua-nats: 5 subscriber and 5 publisher fibers, each with its own client", function()
    local ready = {}
    local subs = {}
    for i = 1, 5 do
      subs[i] = C.go(function()
        local c = nconnect({ port = PORT, timeout = 3 })
        local got = {}
        c:subscribe("fan." .. i, function(payload) got[#got + 1] = payload end)
        sync(c)
        ready[i] = true
        c:wait(20)
        nclose(c)
        return got
      end)
    end
    local pubs = C.fibers(5, 30, function(i)
      local c = nconnect({ port = PORT, timeout = 3 })
      local deadline = C.now() + 10
      while not ready[i] and C.now() < deadline do luv.sleep(0.01) end
      assert(ready[i], "subscriber " .. i .. " never got ready")
      for j = 1, 20 do
        c:publish("fan." .. i, i .. ":" .. j .. ":" .. BIN)
        if j % 4 == 0 then luv.sleep(0.005) end
      end
      sync(c)
      nclose(c)
      return i
    end)
    for i = 1, 5 do
      eq("publisher", i, pubs[i])
      local got = subs[i]:join(20)
      for j = 1, 20 do eq(("message %d/%d"):format(i, j), i .. ":" .. j .. ":" .. BIN, got[j]) end
    end
  end)

  dropin_test("lua-nats: request/reply from 5 fibers at once (a lua-nats instance each)", function()
    -- One instance per fiber: request() keeps the subscription id in a global
    -- (`unique_id`), so two fibers in request/wait on one instance unsubscribe each
    -- other's inboxes; the instances also keep their subscriptions apart.
    local ready = false
    local responder = C.go(function()
      local c = nconnect({ port = PORT, module = load_nats(), timeout = 3 })
      c:subscribe("rr.svc", function(payload, reply)
        c:publish(reply, "echo:" .. payload)
      end)
      sync(c)
      ready = true
      c:wait(25)
      nclose(c)
      return true
    end)
    C.fibers(5, 30, function(i)
      local c = nconnect({ port = PORT, module = load_nats(), timeout = 3 })
      local deadline = C.now() + 10
      while not ready and C.now() < deadline do luv.sleep(0.01) end
      assert(ready, "the responder never got ready")
      for k = 1, 5 do
        local answer
        c:request("rr.svc", i .. "/" .. k, function(payload) answer = payload end)
        c:wait(1)
        eq("answer", "echo:" .. i .. "/" .. k, answer)
      end
      nclose(c)
    end)
    eq("responder", true, responder:join(10))
  end)
end

C.main(function()
  if not os.execute("command -v nats-server >/dev/null 2>&1") then
    C.skip("NATS against nats-server", "nats-server not installed (Debian nats-server)")
    return
  end
  PORT = start_nats("nats-server")
  print("# nats-server on 127.0.0.1:" .. PORT)
  raw_cases()

  local dir = os.getenv("LUA_NATS_DIR")
  if not dir or dir == "" then
    NATS_WHY = "LUA_NATS_DIR is not set: point it at a local copy of lua-nats"
      .. " (github.com/DawnAngel/lua-nats; its code is not part of this repository)"
  else
    NATS_FILE = package.searchpath("nats", dir .. "/src/?.lua;" .. dir .. "/?.lua")
    if not NATS_FILE then
      NATS_WHY = "no nats.lua in LUA_NATS_DIR=" .. dir .. " (nor in its src/)"
    elseif not pcall(require, "cjson") then
      NATS_WHY = "lua-nats needs lua-cjson (Debian lua-cjson), which does not load"
    end
  end
  if NATS_WHY then
    C.skip("lua-nats", NATS_WHY)
    return
  end
  package.preload.uuid = function() return dofile(HERE .. "/uuid.lua") end
  NATS = load_nats()
  package.loaded.nats = NATS
  print("# " .. tostring(NATS._VERSION) .. " from " .. NATS_FILE)
  PING_PORT = start_nats("nats-ping", 'ping_interval: "1s"\nping_max: 2\n')
  print("# nats-server with ping_interval 1 s on 127.0.0.1:" .. PING_PORT)
  RELAY = C.tmpdir() .. "/nats.sock"
  local relay = C.spawn("unix_relay", { "python3", HERE .. "/unix_relay.py", RELAY,
                                         tostring(PORT), C.mypid() })
  assert(C.wait_ready(relay, C.unix_probe(RELAY), 20))
  print("# unix_relay.py on " .. RELAY)
  nats_cases()
end)
