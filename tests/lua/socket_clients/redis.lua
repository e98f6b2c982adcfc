-- Debian's lua-redis (redis-lua 2.0.5, /usr/share/lua/5.3/redis.lua), unmodified, on the
-- LuaSocket drop-in, against a redis-server this test starts (TCP on a free port of
-- 127.0.0.1 and a unix socket in a temp dir). Every case runs in a fiber of its own.
--
--   lua5.4 tests/lua/socket_clients/redis.lua                    -- drop-in (require "luv.socket")
--   SOCKET_IMPL=stock lua5.4 tests/lua/socket_clients/redis.lua  -- stock LuaSocket
--
-- What redis-lua asks of LuaSocket: socket.tcp(), settimeout(t, 't') (only when given a
-- timeout), connect(host, port), setoption('tcp-nodelay', true), send(whole buffer),
-- receive('*l') and receive(n) (n up to the value's size + 2), shutdown() (quit);
-- require('socket.unix') called as a function, then connect(path); socket.url.parse for
-- URIs. The transaction block runs in a coroutine.create of its own, and the pubsub
-- iterator is a coroutine.wrap: both read and write the socket from inside them.
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local C = dofile(HERE .. "/clients.lua")
local luv, test, dropin_test = C.luv, C.test, C.dropin_test
local eq, between = C.eq, C.between

local REDIS_LUA_DIR = os.getenv("REDIS_LUA_DIR") or "/usr/share/lua/5.3"

local PORT, SOCK

-- Every client gets a timeout (10 s unless given), so that a drop-in that blocks the
-- whole thread makes the cross-fiber cases fail in bounded time instead of hanging.
-- redis-lua applies it over TCP (settimeout(t, 't') before connect); over the unix
-- socket it takes none, and the test sets it on the socket.
local LONG = 10

local function connect(kind, timeout)
  timeout = timeout or LONG
  if kind == "unix" then
    local c = require("redis").connect("unix://" .. SOCK)
    c.network.socket:settimeout(timeout, "t")
    return c
  end
  return require("redis").connect({ host = "127.0.0.1", port = PORT, timeout = timeout })
end

local function close(c)
  if c then pcall(function() c.network.socket:close() end) end
end

-- Blocked clients as redis counts them (INFO clients).
local function blocked_clients(c)
  local info = c:info("clients")
  local section = info.clients or info
  return tonumber(section.blocked_clients)
end

-- Waits (bounded) until redis has `n` blocked clients; returns true, or false on timeout.
local function wait_blocked(c, n, seconds)
  local deadline = C.now() + (seconds or 5)
  repeat
    if blocked_clients(c) >= n then return true end
    luv.sleep(0.01)
  until C.now() > deadline
  return false
end

local function start_redis()
  local dir = C.tmpdir()
  SOCK = dir .. "/r.sock"
  local why
  for _ = 1, 5 do -- a free port can be taken again before redis binds it: retry
    PORT = C.free_port()
    local srv = C.spawn("redis-server", {
      "redis-server", "--port", tostring(PORT), "--bind", "127.0.0.1",
      "--unixsocket", SOCK, "--unixsocketperm", "700",
      "--save", "", "--appendonly", "no", "--dir", dir,
      "--protected-mode", "no", "--maxclients", "2000", "--loglevel", "warning",
    })
    local ok
    ok, why = C.wait_ready(srv, function()
      return C.tcp_probe(PORT)() and C.unix_probe(SOCK)()
    end, 15)
    if ok then return srv end
    C.stop(srv)
    os.remove(SOCK)
  end
  error("could not start redis-server: " .. tostring(why))
end

local function cases()
  local BIN = C.binary()
  local MB = C.blob(1024 * 1024, 3)

  test("redis-lua connects over TCP and over the unix socket (URI and table forms)", function()
    local a = require("redis").connect("127.0.0.1", PORT) -- host, port: no timeout
    local b = connect("unix")
    local d = require("redis").connect({ scheme = "unix", path = SOCK })
    eq("tcp ping", true, a:ping())
    eq("unix ping", true, b:ping())
    eq("unix table ping", true, d:ping())
    eq("flushdb", true, a:flushdb())
    eq("echo", "hello", b:echo("hello"))
    close(a); close(b); close(d)
  end)

  for _, kind in ipairs({ "tcp", "unix" }) do
    test(kind .. ": SET/GET of binary values (every byte, \\r\\n, \\0)", function()
      local c = connect(kind)
      eq("set", true, c:set(kind .. ":bin", BIN))
      eq("get", BIN, c:get(kind .. ":bin"))
      eq("set empty", true, c:set(kind .. ":empty", ""))
      eq("get empty", "", c:get(kind .. ":empty"))
      eq("get missing", nil, c:get(kind .. ":missing"))
      -- a binary key, too
      eq("set binary key", true, c:set("k\r\n\0" .. kind, "v\0"))
      eq("get binary key", "v\0", c:get("k\r\n\0" .. kind))
      -- each value byte alone
      for i = 0, 255, 17 do
        local v = string.char(i):rep(i + 1)
        c:set(kind .. ":byte", v)
        eq("byte " .. i, v, c:get(kind .. ":byte"))
      end
      close(c)
    end)

    test(kind .. ": SET/GET of a 1 MB value", function()
      local c = connect(kind)
      eq("set", true, c:set(kind .. ":mb", MB))
      eq("strlen", #MB, c:strlen(kind .. ":mb"))
      local got = c:get(kind .. ":mb")
      eq("length", #MB, #got)
      eq("bytes", true, got == MB)
      eq("ping after", true, c:ping())
      close(c)
    end)

    -- redis-lua's pipeline does table.insert(parsers, #requests, reply.parser), which
    -- Lua >= 5.3 rejects ("position out of bounds") once a command without a response
    -- parser follows the first one: with stock LuaSocket too. The pipelines here use
    -- commands defined with a parser (redis.command, redis-lua's own API), pset/pget/pincr.
    test(kind .. ": a pipeline of 200 commands, with a 1 MB SET and GET in it", function()
      local c = connect(kind)
      local replies, n = c:pipeline(function(p)
        for i = 1, 98 do p:pset(kind .. ":p" .. i, "v" .. i .. BIN) end
        p:pset(kind .. ":pmb", MB)
        p:pget(kind .. ":pmb")
        for i = 1, 98 do p:pget(kind .. ":p" .. i) end
        p:pincr(kind .. ":pcount")
        p:ping()
      end)
      eq("count", 200, n)
      for i = 1, 98 do eq("set reply " .. i, true, replies[i]) end
      eq("mb set", true, replies[99])
      eq("mb get", true, replies[100] == MB)
      for i = 1, 98 do eq("get reply " .. i, "v" .. i .. BIN, replies[100 + i]) end
      eq("incr", 1, replies[199])
      eq("ping (its parser applied)", true, replies[200])
      eq("ping after", true, c:ping())
      close(c)
    end)

    test(kind .. ": a pipeline of plain commands (fails on Lua 5.4 with stock too)", function()
      local c = connect(kind)
      local ok, replies = pcall(c.pipeline, c, function(p)
        p:set(kind .. ":plain", BIN)
        p:get(kind .. ":plain")
      end)
      if ok then
        eq("set", true, replies[1])
        eq("get", BIN, replies[2])
      else
        -- redis-lua's bug, raised before anything is sent: the client stays usable
        eq("the known error", true,
          tostring(replies):find("position out of bounds", 1, true) ~= nil or replies)
      end
      eq("ping after", true, c:ping())
      close(c)
    end)
  end

  test("transaction: MULTI/EXEC block (runs in redis-lua's own coroutine)", function()
    local c = connect("tcp")
    c:del("tx:a", "tx:l")
    local replies, n = c:transaction(function(t)
      t:set("tx:a", "1")
      t:incrby("tx:a", 41)
      t:get("tx:a")
      t:rpush("tx:l", "x", BIN)
    end)
    eq("queued", 4, n)
    eq("set", true, replies[1])
    eq("incrby", 42, replies[2])
    eq("get", "42", replies[3])
    eq("rpush", 2, replies[4])
    local l = c:lrange("tx:l", 0, -1)
    eq("list[2]", BIN, l[2])
    close(c)
  end)

  test("transaction: WATCH + CAS, retried after another client changes the key", function()
    local c, other = connect("tcp"), connect("unix")
    c:set("tx:counter", "10")
    local attempts = 0
    local replies = c:transaction({ watch = "tx:counter", cas = true, retry = 2 }, function(t)
      attempts = attempts + 1
      local v = tonumber(t:get("tx:counter"))       -- a read inside the coroutine
      if attempts == 1 then
        other:set("tx:counter", "100")             -- another connection, inside it too
        v = v - 90                                 -- stale on purpose
      end
      t:multi()
      t:set("tx:counter", tostring(v * 2))
    end)
    eq("attempts", 2, attempts)
    eq("replies", true, replies[1])
    eq("value", "200", c:get("tx:counter"))
    close(c); close(other)
  end)

  test("pubsub iterator (coroutine.wrap), publisher on another connection, in turn", function()
    local sub, pub = connect("tcp"), connect("unix")
    local iter = sub:pubsub({ subscribe = { "ps:a", "ps:b" } })
    local m1, abort = iter()
    eq("first kind", "subscribe", m1.kind)
    eq("first channel", "ps:a", m1.channel)
    local m2 = iter()
    eq("second channel", "ps:b", m2.channel)
    eq("publish reaches one subscriber", 1, pub:publish("ps:b", BIN))
    eq("publish 2", 1, pub:publish("ps:a", "two"))
    local m3 = iter()
    eq("kind", "message", m3.kind)
    eq("channel", "ps:b", m3.channel)
    eq("payload", BIN, m3.payload)
    local m4 = iter()
    eq("payload 2", "two", m4.payload)
    abort()
    local rest = 0
    for msg in iter do
      rest = rest + 1
      eq("after abort", "unsubscribe", msg.kind)
      if rest > 5 then error("the iterator does not end after abort()") end
    end
    eq("unsubscribe messages before the end", 1, rest)
    close(sub); close(pub)
  end)

  test("BLPOP with a 1 s timeout returns nil after about 1 s", function()
    local c = connect("tcp")
    c:del("bl:none")
    local dt, r = C.timed(c.blpop, c, "bl:none", 1)
    eq("reply", nil, r)
    between("seconds", dt, 0.9, 4)
    eq("ping after", true, c:ping())
    close(c)
  end)

  test("errors: a server error reply, connection refused, a client timeout", function()
    local c = connect("tcp")
    c:del("err:list")
    c:lpush("err:list", "x")
    local ok, err = pcall(c.get, c, "err:list")
    eq("error raised", false, ok)
    eq("WRONGTYPE", true, tostring(err):find("redis error: WRONGTYPE", 1, true) ~= nil)
    eq("still usable", true, c:ping())
    close(c)

    local port = C.free_port()
    ok, err = pcall(require("redis").connect, "127.0.0.1", port)
    eq("refused raises", false, ok)
    eq("refused message", true,
      tostring(err):find("could not connect to 127.0.0.1:" .. port .. " [connection refused]",
        1, true) ~= nil or err)
    ok, err = pcall(require("redis").connect, "unix://" .. C.tmpdir() .. "/nosuch.sock")
    eq("unix raises", false, ok)
    eq("unix message", true, tostring(err):find("could not connect to", 1, true) ~= nil or err)

    -- redis-lua's timeout option: settimeout(0.5, 't') before connect
    local t = connect("tcp", 0.5)
    eq("ping with timeout", true, t:ping())
    local dt
    dt, ok, err = C.timed(pcall, t.blpop, t, "err:never", 3)
    eq("timeout raises", false, ok)
    eq("timeout message", true, tostring(err):find("connection error: timeout", 1, true) ~= nil
      or err)
    between("timeout seconds", dt, 0.4, 2.5)
    close(t)
  end)

  test("quit closes the connection", function()
    local c = connect("tcp")
    eq("quit", true, c:quit())
    local ok = pcall(c.ping, c)
    eq("ping after quit fails", false, ok)
    close(c)
  end)

  test("50 fibers, each with its own client (TCP and unix), 100 SET/GET pairs each", function()
    local active, max_active = 0, 0
    local results = C.fibers(50, 90, function(i)
      local c = connect(i % 2 == 0 and "tcp" or "unix")
      for j = 1, 100 do
        local key = ("many:%d:%d"):format(i, j)
        local value = ("%d/%d/"):format(i, j) .. BIN:sub(1 + (i + j) % 200)
        active = active + 1
        if active > max_active then max_active = active end
        assert(c:set(key, value) == true, "set " .. key)
        local got = c:get(key)
        active = active - 1
        if got ~= value then error(("get %s: expected %s, got %s"):format(key,
          C.show(value), C.show(got))) end
      end
      c:quit()
      close(c)
      return i
    end)
    for i = 1, 50 do eq("fiber result", i, results[i]) end
    local c = connect("tcp")
    local keys = c:keys("many:*")
    eq("keys stored", 5000, #keys)
    close(c)
    if C.dropin then
      -- with the drop-in, the fibers' requests overlap
      assert(max_active > 1, "the 50 fibers never had two requests in flight at once")
    end
  end)

  -- The cases below need one fiber to run while another waits in a redis call.

  dropin_test("pubsub: subscriber iterating in one fiber, publisher in another", function()
    local sub, pub = connect("unix"), connect("tcp")
    local subscribed, got = 0, {}
    local listener = C.go(function()
      local iter = sub:pubsub({ subscribe = "xf:ch", psubscribe = "xf:p.*" })
      for msg, abort in iter do
        if msg.kind == "subscribe" or msg.kind == "psubscribe" then
          subscribed = subscribed + 1
        elseif msg.kind == "message" or msg.kind == "pmessage" then
          got[#got + 1] = msg
          if #got == 20 then abort() end
        end
      end
      return #got
    end)
    local deadline = C.now() + 5
    while subscribed < 2 and C.now() < deadline do luv.sleep(0.01) end
    eq("subscribed to both", 2, subscribed)
    local publisher = C.go(function()
      for i = 1, 10 do
        eq("publish", 1, pub:publish("xf:ch", i .. BIN))
        eq("ppublish", 1, pub:publish("xf:p." .. i, "p" .. i))
        if i % 3 == 0 then luv.sleep(0.01) end
      end
      return true
    end)
    eq("publisher", true, publisher:join(10))
    eq("listener", 20, listener:join(10))
    for i = 1, 10 do
      local m, pm = got[2 * i - 1], got[2 * i]
      eq("message " .. i, i .. BIN, m.payload)
      eq("channel", "xf:ch", m.channel)
      eq("pmessage kind", "pmessage", pm.kind)
      eq("pattern", "xf:p.*", pm.pattern)
      eq("pchannel", "xf:p." .. i, pm.channel)
      eq("ppayload", "p" .. i, pm.payload)
    end
    close(sub); close(pub)
  end)

  dropin_test("BLPOP in one fiber is woken by an LPUSH from another", function()
    local waiter_c, pusher = connect("tcp"), connect("unix")
    pusher:del("bl:q")
    local waiter = C.go(function()
      local t0 = C.now()
      local r = waiter_c:blpop("bl:q", 5)
      return r, C.now() - t0
    end)
    assert(wait_blocked(pusher, 1, 5), "the BLPOP never blocked (or this fiber never ran)")
    luv.sleep(0.1)
    eq("lpush", 1, pusher:lpush("bl:q", BIN))
    local r, dt = waiter:join(10)
    eq("key", "bl:q", r and r[1])
    eq("value", BIN, r and r[2])
    between("seconds blocked", dt, 0.1, 3)
    close(waiter_c); close(pusher)
  end)

  dropin_test("a fiber blocked 2 s in BLPOP does not stop another doing 100 GETs", function()
    local slow_c, fast_c = connect("tcp"), connect("tcp")
    fast_c:set("conc:k", BIN)
    local slow = C.go(function()
      local r = slow_c:blpop("conc:never", 2)
      return r == nil, C.now()
    end)
    local fast = C.go(function()
      assert(wait_blocked(fast_c, 1, 5), "the BLPOP never blocked")
      local t0 = C.now()
      for i = 1, 100 do
        eq("get " .. i, BIN, fast_c:get("conc:k"))
      end
      local t1 = C.now()
      eq("the BLPOP still blocked after the GETs", 1, blocked_clients(fast_c))
      return t1 - t0, t1
    end)
    local dt, fast_end = fast:join(10)
    local timed_out, slow_end = slow:join(10)
    eq("BLPOP timed out", true, timed_out)
    assert(fast_end < slow_end, "the GETs finished after the BLPOP")
    between("100 GETs took", dt, 0, 1.5)
    close(slow_c); close(fast_c)
  end)
end

C.main(function()
  if not os.execute("command -v redis-server >/dev/null 2>&1") then
    C.skip("redis-lua against redis-server", "redis-server not installed (Debian redis-server)")
    return
  end
  if not package.searchpath("redis", REDIS_LUA_DIR .. "/?.lua") then
    C.skip("redis-lua against redis-server", "no redis.lua in " .. REDIS_LUA_DIR
      .. " (Debian lua-redis; or set REDIS_LUA_DIR)")
    return
  end
  -- Only redis.lua comes from the 5.3 tree (loaded by its path, so that no other
  -- "redis" on the path, this very file included, can stand in for it).
  local file = package.searchpath("redis", REDIS_LUA_DIR .. "/?.lua")
  local redis = dofile(file)
  package.loaded.redis = redis
  -- Commands with a response parser, for the pipelines (see the pipeline cases).
  local function same(reply) return reply end
  redis.commands.pset = redis.command("SET", { response = same })
  redis.commands.pget = redis.command("GET", { response = same })
  redis.commands.pincr = redis.command("INCR", { response = same })
  print("# " .. redis._VERSION .. " from " .. file)
  start_redis()
  print(("# redis-server on 127.0.0.1:%d and %s"):format(PORT, SOCK))
  cases()
end)
