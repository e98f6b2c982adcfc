-- luv.zmq throughput: N small messages over inproc:// PUSH/PULL, default high-water marks,
-- messages/s; the same shape as zmq_c.c (plain C, blocking libzmq calls).
--   zmq_inproc          the pusher in a luv.thread, the puller in a fiber of the main
--                       thread: what zmq_c.c does with two pthreads
--   zmq_inproc_fibers   the pusher and the puller as two fibers of one thread
--
--   LUA_PATH="tests/bench/?.lua;;" LUA_CPATH="build/?.so;;" lua5.4 tests/bench/zmq_luv.lua [N]
local luv = require "luv"
local bench = require "bench"

local n = bench.arg(1, 1000000)
local MESSAGE = "0123456789abcdef"  -- 16 bytes, as in zmq_c.c

-- Both loops check every result, as zmq_c.c does, without a call to assert per message.
local function push_all(ctx, endpoint, count, message)
  local push = assert(ctx:socket("PUSH"))
  assert(push:connect(endpoint))
  local send = push.send
  for _ = 1, count do
    if not send(push, message) then
      error("send failed")
    end
  end
  push:close()
end

local function pull_all(pull, count, message)
  local recv = pull.recv
  for _ = 1, count do
    if recv(pull) ~= message then
      error("lost or bad message")
    end
  end
end

local ctx = assert(luv.zmq.create())

if luv.thread and luv.thread.spawn then
  local pull = assert(ctx:socket("PULL"))
  assert(pull:bind("inproc://bench"))
  local t0 = bench.now()
  local pusher = luv.thread.spawn(function(c, ...)
    push_all(c, ...)
    c:close()
  end, ctx, "inproc://bench", n, MESSAGE)
  local puller = luv.fiber.create(pull_all, pull, n, MESSAGE)
  puller:join()
  local dt = bench.now() - t0
  pusher:join()
  pull:close()
  bench.result("zmq_inproc", n / dt, "msgs/s")
end

do
  local pull = assert(ctx:socket("PULL"))
  assert(pull:bind("inproc://bench-fibers"))
  local t0 = bench.now()
  local pusher = luv.fiber.create(push_all, ctx, "inproc://bench-fibers", n, MESSAGE)
  local puller = luv.fiber.create(pull_all, pull, n, MESSAGE)
  pusher:ready()
  puller:join()
  pusher:join()
  local dt = bench.now() - t0
  pull:close()
  bench.result("zmq_inproc_fibers", n / dt, "msgs/s")
end

ctx:close()
