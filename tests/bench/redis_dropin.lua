-- redis-lua (Debian lua-redis, unmodified) on luv's LuaSocket drop-in against the same
-- client on stock LuaSocket, one redis-server (started here, on a free port of
-- 127.0.0.1), in one run:
--
--   concurrency: 50 fibers x 200 GETs, each fiber with its own connection, on the drop-in,
--                against the same 10,000 GETs on 50 connections through stock LuaSocket
--                in one thread (one after the other): wall time, stock / drop-in.
--                Target >= 10x.
--   single:      10,000 GETs on one connection, in one fiber on the drop-in, against one
--                thread on stock LuaSocket: stock time / drop-in time (the drop-in's
--                throughput relative to stock). Target >= 0.9x.
--
-- The connections are made before the clock starts; every reply is checked. The stock
-- half runs in a child process of its own (`lua5.4 redis_dropin.lua --stock ...`) that
-- never loads luv, so nothing of the drop-in can leak into it. Each half runs ROUNDS
-- times, interleaved, and keeps its best time.
--
--   LUA_CPATH="build/?.so;;" lua5.4 tests/bench/redis_dropin.lua [PER_FIBER [ROUNDS]]
--
-- PER_FIBER defaults to 200 (GETs per fiber; 50 fibers), ROUNDS to 3. SOCKET_IMPL=stock
-- runs the fiber half on stock LuaSocket too (only to check this script before the
-- drop-in exists: the fibers then run one after the other, and the ratios are ~1).
-- Prints RESULT lines (tests/bench/run.sh) and a "#" summary.
--
-- redis-server is single-threaded: it is started with room for the 50 connections at
-- once (maxclients, tcp-backlog) and nothing that writes to disk; on a 2-core machine it
-- takes one core and the client the other, so the concurrent figure measures how well
-- the client keeps 50 requests in flight (redis answers each batch in one loop turn).
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = package.path .. ";" .. HERE .. "/?.lua;" .. HERE .. "/../../lua/?.lua;"
  .. HERE .. "/../../lua/?/init.lua"

local REDIS_LUA = (os.getenv("REDIS_LUA_DIR") or "/usr/share/lua/5.3") .. "/redis.lua"
local FIBERS = 50
local VALUE = ("0123456789abcdef"):rep(4) .. "\r\n\0" -- 67 bytes, CRLF and NUL inside

local function load_redis()
  local ok, redis = pcall(dofile, REDIS_LUA)
  if not ok then
    io.stderr:write("redis_dropin.lua: cannot load redis-lua from " .. REDIS_LUA .. ": "
      .. tostring(redis) .. " (Debian lua-redis; or set REDIS_LUA_DIR)\n")
    os.exit(2)
  end
  return redis
end

local function connect_all(redis, port, n)
  local clients = {}
  for i = 1, n do clients[i] = redis.connect("127.0.0.1", port) end
  return clients
end

local function gets(c, n)
  for _ = 1, n do
    local v = c:get("bench:key")
    if v ~= VALUE then error("bad reply: " .. tostring(v)) end
  end
end

----------------------------------------------------------------------------------------
-- The stock half: a child process, plain lua5.4 and stock LuaSocket, no luv.
----------------------------------------------------------------------------------------

if arg[1] == "--stock" then
  local port, per, rounds = tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
  local socket = require("socket")
  local redis = load_redis()
  local clients = connect_all(redis, port, FIBERS)
  local single = redis.connect("127.0.0.1", port)
  gets(single, 100) -- warm-up
  for _ = 1, rounds do
    local t0 = socket.gettime()
    for i = 1, FIBERS do gets(clients[i], per) end
    local t1 = socket.gettime()
    gets(single, FIBERS * per)
    local t2 = socket.gettime()
    print(("STOCK %.6f %.6f"):format(t1 - t0, t2 - t1))
    io.stdout:flush()
  end
  os.exit(0)
end

----------------------------------------------------------------------------------------
-- The drop-in half, and the run.
----------------------------------------------------------------------------------------

local PER = math.tointeger(tonumber(arg[1])) or 200
local ROUNDS = math.tointeger(tonumber(arg[2])) or 3
local IMPL = os.getenv("SOCKET_IMPL") or "luv"

if IMPL == "luv" then
  local ok, err = pcall(require, "luv.socket")
  if not ok then
    io.stderr:write('redis_dropin.lua: require "luv.socket" failed (the LuaSocket drop-in is'
      .. " missing?): " .. tostring(err):match("^[^\n]*") .. "\n")
    os.exit(2)
  end
end
local luv = require("luv")
assert(type(luv) == "table" and luv.fiber, "loaded the wrong luv (check LUA_CPATH)")
local socket = require("socket")
local bench = require("bench")
local redis = load_redis()

local function now() return luv.hrtime() / 1e9 end

local function shquote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local server -- the redis-server process

local function start_redis()
  if not os.execute("command -v redis-server >/dev/null 2>&1") then
    io.stderr:write("redis_dropin.lua: redis-server not installed (Debian redis-server)\n")
    os.exit(2)
  end
  for _ = 1, 5 do
    local port = free_port()
    server = assert(luv.process.spawn("timeout", {
      "-k", "2", "600", "redis-server", "--port", tostring(port), "--bind", "127.0.0.1",
      "--save", "", "--appendonly", "no", "--maxclients", "1000", "--tcp-backlog", "511",
      "--loglevel", "warning", "--protected-mode", "no",
      stdin = "ignore", stdout = "ignore",
    }))
    local deadline = now() + 10
    while now() < deadline do
      local s = socket.tcp()
      s:settimeout(0.5)
      local ok = s:connect("127.0.0.1", port)
      s:close()
      if ok then return port end
      if server:wait(0.05) then break end -- it exited: the port was taken, try another
    end
    server:kill("KILL")
    server:wait(2)
  end
  error("could not start redis-server")
end

local function stop_redis()
  if server then
    server:kill("TERM")
    if not server:wait(3) then
      server:kill("KILL")
      server:wait(3)
    end
  end
end

-- The same shape for redis-benchmark (C, hiredis, no pipelining): requests/s with 50
-- connections over requests/s with one, best of 2. The most any client can gain from
-- concurrency against this redis-server on this machine; nil without redis-benchmark.
local function redis_benchmark_ratio(port, n)
  if not os.execute("command -v redis-benchmark >/dev/null 2>&1") then return nil end
  local function rps(conns)
    local best = 0
    for _ = 1, 2 do
      local p = io.popen(("redis-benchmark -h 127.0.0.1 -p %d -c %d -n %d -t get -q 2>/dev/null")
        :format(port, conns, n))
      local out = p:read("a")
      p:close()
      local v = tonumber(out:match("GET: ([%d.]+) requests per second"))
      best = math.max(best, v or 0)
    end
    return best
  end
  local one, many = rps(1), rps(FIBERS)
  if one == 0 or many == 0 then return nil end
  return many / one, one, many
end

local function interpreter()
  local i = 0
  while arg[i - 1] do i = i - 1 end
  return arg[i]
end

local function run()
  local port = start_redis()
  local setup = redis.connect("127.0.0.1", port)
  assert(setup:set("bench:key", VALUE))

  local clients = connect_all(redis, port, FIBERS)
  local single = redis.connect("127.0.0.1", port)
  luv.fiber.create(gets, single, 100):join() -- warm-up

  local stock_cmd = ("exec env -u LUA_CPATH -u LUA_PATH -u LUA_CPATH_5_4 -u LUA_PATH_5_4"
    .. " -u LUA_INIT -u LUA_INIT_5_4 REDIS_LUA_DIR=%s %s %s --stock %d %d 1")
    :format(shquote(REDIS_LUA:match("^(.*)/[^/]*$")), shquote(interpreter()), shquote(arg[0]),
      port, PER)

  local best = { conc_dropin = math.huge, single_dropin = math.huge,
                 conc_stock = math.huge, single_stock = math.huge }
  for _ = 1, ROUNDS do
    -- concurrency, drop-in: 50 fibers at once
    local fibers = {}
    local t0 = now()
    for i = 1, FIBERS do fibers[i] = luv.fiber.create(gets, clients[i], PER):ready() end
    for i = 1, FIBERS do fibers[i]:join() end
    best.conc_dropin = math.min(best.conc_dropin, now() - t0)
    -- single fiber, drop-in
    t0 = now()
    luv.fiber.create(gets, single, FIBERS * PER):join()
    best.single_dropin = math.min(best.single_dropin, now() - t0)
    -- stock, in its own process (it times itself, after its own connects and warm-up)
    local p = assert(io.popen(stock_cmd, "r"))
    local out = p:read("a")
    local ok = p:close()
    local conc, single_s = out:match("STOCK (%S+) (%S+)")
    if not ok or not conc then error("the stock half failed: " .. out) end
    best.conc_stock = math.min(best.conc_stock, tonumber(conc))
    best.single_stock = math.min(best.single_stock, tonumber(single_s))
  end

  local ceiling = redis_benchmark_ratio(port, FIBERS * PER)

  local conc_ratio = best.conc_stock / best.conc_dropin
  local single_ratio = best.single_stock / best.single_dropin
  local n = FIBERS * PER
  bench.result("redis_conc_dropin", best.conc_dropin, "s")
  bench.result("redis_conc_stock", best.conc_stock, "s")
  bench.result("redis_conc_ratio", conc_ratio, "x")
  bench.result("redis_single_dropin", n / best.single_dropin, "req/s")
  bench.result("redis_single_stock", n / best.single_stock, "req/s")
  bench.result("redis_single_ratio", single_ratio, "x")
  print(("# redis-lua GETs, best of %d, SOCKET_IMPL=%s"):format(ROUNDS, IMPL))
  print(("# %d fibers x %d GETs: drop-in %.3f s, stock one after the other %.3f s:"
    .. " %.2fx (target >= 10x) %s"):format(FIBERS, PER, best.conc_dropin, best.conc_stock,
    conc_ratio, conc_ratio >= 10 and "PASS" or "MISS"))
  print(("# %d GETs, one connection: drop-in fiber %.0f/s, stock %.0f/s: %.2fx"
    .. " (target >= 0.9x) %s"):format(n, n / best.single_dropin, n / best.single_stock,
    single_ratio, single_ratio >= 0.9 and "PASS" or "MISS"))
  if ceiling then
    bench.result("redis_ceiling_ratio", ceiling, "x")
    print(("# for scale, redis-benchmark (C) on this machine: %d connections %.2fx one"
      .. " connection's requests/s"):format(FIBERS, ceiling))
  end
end

local ok, err = xpcall(run, debug.traceback)
stop_redis()
if not ok then
  io.stderr:write("redis_dropin.lua: " .. tostring(err) .. "\n")
  os.exit(1)
end
