-- luv.zmq: every socket type, the usual patterns (REQ/REP, PUB/SUB with SUBSCRIBE and
-- UNSUBSCRIBE, DEALER/ROUTER multipart, PAIR, PUSH/PULL over inproc, tcp and ipc), options,
-- errors, RCVTIMEO as a fiber timeout, contexts closed with open sockets, contexts passed
-- to threads; and no lost wake-up: 1,000,000 messages through PUSH/PULL with a high-water
-- mark of 10, between two fibers, two threads and two processes, and many fibers on many
-- sockets at once.
--
-- LUV_ZMQ_N sets the message count of the long transfers (default 1,000,000). The file
-- takes about 20 s, in the ASan build too (libzmq and lua5.4 are not instrumented).
local tap = require("tap")
local luv, test, test_main, raises, fails = tap.luv, tap.test, tap.test_main, tap.raises,
                                              tap.fails
local zmq = luv.zmq

local N = math.tointeger(tonumber(os.getenv("LUV_ZMQ_N"))) or 1000000
-- A wait that must not time out. A lost wake-up shows as an ETIMEDOUT error after it,
-- never as a hang of the suite.
local LONG_MS = 30000

local function go(fn, ...)
  local f = luv.fiber.create(fn, ...)
  f:ready()
  return f
end

local function pair(ctx, a, b, endpoint)
  local x = assert(ctx:socket(a))
  local y = assert(ctx:socket(b))
  local bound = assert(x:bind(endpoint))
  assert(y:connect(bound))
  return x, y
end

-- Runs fn every 5 ms in a fiber of its own until the fiber is cancelled.
local function every_5ms(fn)
  return go(function()
    repeat fn() until not luv.sleep(0.005)
  end)
end

-- Every wait in the long transfers is bounded: a lost wake-up fails instead of hanging.
local function bounded(s)
  assert(s:setsockopt("RCVTIMEO", LONG_MS))
  assert(s:setsockopt("SNDTIMEO", LONG_MS))
  return s
end

test("every socket type can be made, by constant or by name", function()
  local ctx = assert(zmq.create())
  local types = { "REQ", "REP", "DEALER", "ROUTER", "PUB", "SUB", "XPUB", "XSUB", "PUSH",
                  "PULL", "PAIR", "STREAM" }
  for _, name in ipairs(types) do
    assert(math.type(zmq[name]) == "integer", name)
    local a = assert(ctx:socket(zmq[name]))
    local b = assert(ctx:socket(name:lower()))
    assert(a:getsockopt("TYPE") == zmq[name] and b:getsockopt("type") == zmq[name], name)
    assert(tostring(a):find("^luv.zmq.socket: 0x%x+ %(" .. name .. "%)$"), tostring(a))
    a:close()
    b:close()
  end
  assert(ctx:close() == true)
  assert(ctx:close() == true)  -- idempotent
  local major = zmq.version()
  assert(major >= 4)
end)

test("REQ/REP over inproc: each request gets its reply", function()
  local ctx = assert(zmq.create())
  local rep, req = pair(ctx, "REP", "REQ", "inproc://reqrep")
  local server = go(function()
    for _ = 1, 100 do
      local msg = assert(rep:recv())
      assert(rep:send("re:" .. msg))
    end
  end)
  for i = 1, 100 do
    assert(req:send("q" .. i))
    assert(req:recv() == "re:q" .. i)
  end
  server:join()
  -- REQ's state machine: a second send before the reply is EFSM.
  assert(req:send("once"))
  fails("EFSM", req:send("twice"))
  ctx:close()
end)

test("PUB/SUB: SUBSCRIBE filters by prefix, UNSUBSCRIBE stops a prefix", function()
  local ctx = assert(zmq.create())
  local pub, sub = pair(ctx, "PUB", "SUB", "inproc://pubsub")
  assert(sub:setsockopt("SUBSCRIBE", "A"))
  bounded(sub)
  -- A subscription reaches the publisher asynchronously: publish until one arrives.
  local ticker = every_5ms(function()
    pub:send("B:never")
    pub:send("A:probe")
  end)
  assert(sub:recv() == "A:probe")
  ticker:cancel()
  assert(pub:send("B:filtered"))
  assert(pub:send("A:wanted"))
  local got = assert(sub:recv())
  while got == "A:probe" do got = assert(sub:recv()) end
  assert(got == "A:wanted", got)

  assert(sub:setsockopt("UNSUBSCRIBE", "A"))
  assert(sub:setsockopt("SUBSCRIBE", "C"))
  ticker = every_5ms(function() pub:send("C:probe") end)
  repeat got = assert(sub:recv()) until got == "C:probe"
  ticker:cancel()
  assert(pub:send("A:late"))
  assert(pub:send("C:end"))
  repeat
    got = assert(sub:recv())
    assert(got ~= "A:late", "a message of an unsubscribed prefix arrived")
  until got == "C:end"
  -- SUBSCRIBE with an empty prefix takes everything, binary bytes included.
  assert(sub:setsockopt("SUBSCRIBE", ""))
  ticker = every_5ms(function() pub:send("\0any") end)
  repeat got = assert(sub:recv()) until got == "\0any"
  ticker:cancel()
  ctx:close()
end)

test("DEALER/ROUTER: multipart with ROUTING_ID, tables and SNDMORE", function()
  local ctx = assert(zmq.create())
  local router = assert(ctx:socket("ROUTER"))
  local dealer = assert(ctx:socket("DEALER"))
  assert(dealer:setsockopt("ROUTING_ID", "dealer\0one"))
  assert(dealer:getsockopt("ROUTING_ID") == "dealer\0one")
  assert(router:bind("inproc://dr"))
  assert(dealer:connect("inproc://dr"))

  assert(dealer:send({ "", "hello", "world" }))
  local frames = assert(router:recv_multipart())
  assert(#frames == 4 and frames[1] == "dealer\0one" and frames[2] == "" and
         frames[3] == "hello" and frames[4] == "world", table.concat(frames, "|"))
  assert(router:send({ frames[1], "", "reply" }))
  frames = assert(dealer:recv_multipart())
  assert(#frames == 2 and frames[1] == "" and frames[2] == "reply")

  -- Frame by frame: SNDMORE, then recv and RCVMORE.
  assert(dealer:send("a", zmq.SNDMORE))
  assert(dealer:send("b", zmq.SNDMORE))
  assert(dealer:send("c"))
  assert(router:recv() == "dealer\0one" and router:getsockopt("RCVMORE") == true)
  assert(router:recv() == "a" and router:getsockopt("RCVMORE") == true)
  assert(router:recv() == "b" and router:getsockopt("RCVMORE") == true)
  assert(router:recv() == "c" and router:getsockopt("RCVMORE") == false)
  -- A table ending with SNDMORE leaves the message open for a next send.
  assert(dealer:send({ "x", "y" }, zmq.SNDMORE))
  assert(dealer:send("z"))
  frames = assert(router:recv_multipart())
  assert(#frames == 4 and frames[4] == "z")
  ctx:close()
end)

test("PAIR over inproc, both ways", function()
  local ctx = assert(zmq.create())
  local a, b = pair(ctx, "PAIR", "PAIR", "inproc://pair")
  local peer = go(function()
    for _ = 1, 1000 do
      assert(b:send(assert(b:recv()) .. "!"))
    end
  end)
  for i = 1, 1000 do
    assert(a:send(tostring(i)))
    assert(a:recv() == i .. "!")
  end
  peer:join()
  ctx:close()
end)

test("PUSH/PULL over tcp://127.0.0.1 (a free port) and ipc:// in a temp dir", function()
  local ctx = assert(zmq.create())
  local dir = assert(luv.fs.mkdtemp("/tmp/luv-zmq-XXXXXX"))
  for _, endpoint in ipairs({ "tcp://127.0.0.1:*", "ipc://" .. dir .. "/sock" }) do
    local pull = bounded(assert(ctx:socket("PULL")))
    local push = bounded(assert(ctx:socket("PUSH")))
    local bound = assert(pull:bind(endpoint))
    if endpoint:find("^tcp") then
      assert(bound:match("^tcp://127%.0%.0%.1:%d+$"), bound)
      assert(pull:getsockopt("LAST_ENDPOINT") == bound)
    else
      assert(bound == endpoint, bound)
    end
    assert(push:connect(bound))
    local sender = go(function()
      for i = 1, 10000 do assert(push:send("m" .. i)) end
    end)
    for i = 1, 10000 do
      assert(pull:recv() == "m" .. i)
    end
    sender:join()
    assert(push:disconnect(bound))
    assert(pull:unbind(bound))
    fails("ENOENT", pull:unbind(bound))
    push:close()
    pull:close()
  end
  ctx:close()
  luv.fs.rmdir(dir)
end)

test("RCVTIMEO and SNDTIMEO are fiber timeouts; other fibers run meanwhile", function()
  local ctx = assert(zmq.create())
  local pull = assert(ctx:socket("PULL"))
  assert(pull:bind("inproc://timeo"))
  assert(pull:setsockopt("RCVTIMEO", 150))
  assert(pull:getsockopt("RCVTIMEO") == 150)
  local ticks = 0
  local ticker = go(function()
    while luv.sleep(0.01) do
      ticks = ticks + 1
    end
  end)
  local t0 = tap.now()
  fails("ETIMEDOUT", pull:recv())
  local waited = tap.now() - t0
  assert(waited >= 0.145 and waited < 2, waited)
  assert(ticks >= 5, "the other fiber ran " .. ticks .. " times")
  ticker:cancel()
  -- A timeout of 0 never waits: EAGAIN, as DONTWAIT.
  assert(pull:setsockopt("RCVTIMEO", 0))
  fails("EAGAIN", pull:recv())
  assert(pull:setsockopt("RCVTIMEO", -1))
  fails("EAGAIN", pull:recv(zmq.DONTWAIT))
  -- A PUSH with no peer cannot send: SNDTIMEO ends the wait.
  local push = assert(ctx:socket("PUSH"))
  assert(push:setsockopt("SNDTIMEO", 50))
  fails("ETIMEDOUT", push:send("nobody"))
  fails("EAGAIN", push:send("nobody", zmq.DONTWAIT))
  ctx:close()
end)

test("options: get and set by name, in any case", function()
  local ctx = assert(zmq.create())
  local s = assert(ctx:socket("DEALER"))
  assert(s:setsockopt("LINGER", 0) and s:getsockopt("LINGER") == 0)
  assert(s:setsockopt("linger", 250) and s:getsockopt("Linger") == 250)
  assert(s:setsockopt("SNDHWM", 10) and s:getsockopt("SNDHWM") == 10)
  assert(s:setsockopt("RCVHWM", 20) and s:getsockopt("RCVHWM") == 20)
  assert(s:setsockopt("IMMEDIATE", true) and s:getsockopt("IMMEDIATE") == true)
  assert(s:setsockopt("IMMEDIATE", 0) and s:getsockopt("IMMEDIATE") == false)
  assert(s:setsockopt("MAXMSGSIZE", 1 << 40) and s:getsockopt("MAXMSGSIZE") == 1 << 40)
  assert(s:setsockopt("AFFINITY", 3) and s:getsockopt("AFFINITY") == 3)
  assert(s:setsockopt("IDENTITY", "id") and s:getsockopt("ROUTING_ID") == "id")
  assert(s:getsockopt("RCVMORE") == false)
  assert(math.type(s:getsockopt("FD")) == "integer")
  assert(s:getsockopt("EVENTS") == 0)  -- no peer: neither POLLIN nor POLLOUT
  assert(s:getsockopt("SNDTIMEO") == -1 and s:getsockopt("RCVTIMEO") == -1)
  assert(s:getsockopt("LAST_ENDPOINT") == "")
  assert(s:bind("inproc://opts"))
  assert(s:getsockopt("LAST_ENDPOINT") == "inproc://opts")
  ctx:close()
end)

test("errors: misuse raises naming the argument; the environment's failures return fail",
     function()
  local ctx = assert(zmq.create())
  -- Called as methods, as a program would, so that the messages name them.
  raises("bad argument #1 to 'create' (io_threads must be between 0 and 1024)",
         function() return zmq.create(-1) end)
  raises("bad argument #1 to 'socket' (unknown socket type 'NOPE')",
         function() return ctx:socket("NOPE") end)
  raises("bad argument #1 to 'socket' (unknown socket type 99)",
         function() return ctx:socket(99) end)
  raises("bad argument #1 to 'socket' (string expected, got table)",
         function() return ctx:socket({}) end)
  local s = assert(ctx:socket("PUSH"))
  raises("bad argument #1 to 'setsockopt' (unknown socket option 'NOPE')",
         function() return s:setsockopt("NOPE", 1) end)
  raises("bad argument #2 to 'setsockopt' (number expected, got string)",
         function() return s:setsockopt("LINGER", "x") end)
  raises("bad argument #2 to 'setsockopt' (value out of range)",
         function() return s:setsockopt("RCVTIMEO", -2) end)
  raises("bad argument #2 to 'setsockopt' (boolean, 0 or 1 expected)",
         function() return s:setsockopt("IMMEDIATE", 2) end)
  raises("bad argument #2 to 'setsockopt' (string expected, got table)",
         function() return s:setsockopt("ROUTING_ID", {}) end)
  raises("bad argument #1 to 'setsockopt' (socket option 'TYPE' is read-only)",
         function() return s:setsockopt("TYPE", 1) end)
  raises("bad argument #1 to 'getsockopt' (socket option 'SUBSCRIBE' cannot be read)",
         function() return s:getsockopt("SUBSCRIBE") end)
  raises("bad argument #1 to 'send' (string expected, got no value)",
         function() return s:send() end)
  raises("bad argument #1 to 'send' (a multipart message needs at least one frame)",
         function() return s:send({}) end)
  raises("bad argument #1 to 'send' (frame 2 is a table, not a string)",
         function() return s:send({ "a", {} }) end)
  raises("bad argument #2 to 'send' (flags must be luv.zmq.DONTWAIT and/or luv.zmq.SNDMORE)",
         function() return s:send("x", 64) end)
  raises("bad argument #1 to 'recv' (flags must be luv.zmq.DONTWAIT or nil)",
         function() return s:recv(zmq.SNDMORE) end)
  raises("bad argument #1 to 'bind' (string expected, got no value)",
         function() return s:bind() end)
  raises("luv.zmq.socket expected, got table", function() return s.send({}, "x") end)
  -- The environment: the fail triple, named as errno names it.
  fails("EINVAL", s:setsockopt("SUBSCRIBE", "x"))  -- a PUSH has no subscriptions
  fails("EPROTONOSUPPORT", s:connect("nope://x"))
  fails("ENOTSUP", s:recv())  -- a PUSH cannot receive
  local a = assert(ctx:socket("PULL"))
  local b = assert(ctx:socket("PULL"))
  local bound = assert(a:bind("tcp://127.0.0.1:*"))
  local v, msg, name = b:bind(bound)
  fails("EADDRINUSE", v, msg, name)
  assert(msg == "EADDRINUSE: Address already in use", msg)
  fails("EADDRINUSE", a:bind(bound))  -- bind twice
  s:close()
  assert(s:close() == true)
  raises("attempt to use a closed luv.zmq.socket", function() return s:send("x") end)
  assert(tostring(s):find("%(closed%)$"))
  ctx:close()
  raises("attempt to use a closed luv.zmq.context", function() return ctx:socket("PUSH") end)
  -- ctx:close() closed a and b too.
  raises("attempt to use a closed luv.zmq.socket", function() return a:recv() end)
end)

test("closing a socket wakes its waiting fibers with ECANCELED", function()
  local ctx = assert(zmq.create())
  local pull = assert(ctx:socket("PULL"))
  assert(pull:bind("inproc://close-wakes"))
  local results = {}
  local waiters = {}
  for i = 1, 3 do
    waiters[i] = go(function() results[i] = table.pack(pull:recv()) end)
  end
  luv.sleep(0.02)
  pull:close()
  for i = 1, 3 do
    waiters[i]:join()
    fails("ECANCELED", table.unpack(results[i], 1, 3))
  end
  ctx:close()
end)

test("closing a context with open sockets returns at once and wakes their fibers", function()
  local ctx = assert(zmq.create())
  -- Messages queued for a peer that never comes: zmq_ctx_term would wait for them for
  -- ever, but ctx:close() closes its open sockets with LINGER 0.
  local push = assert(ctx:socket("PUSH"))
  assert(push:connect("tcp://127.0.0.1:9"))
  for i = 1, 5 do assert(push:send("queued " .. i)) end
  local pull = assert(ctx:socket("PULL"))
  assert(pull:bind("inproc://ctx-close"))
  local result
  local waiter = go(function() result = table.pack(pull:recv()) end)
  luv.sleep(0.02)
  local t0 = tap.now()
  assert(ctx:close() == true)
  assert(tap.now() - t0 < 2, "ctx:close() took " .. (tap.now() - t0) .. " s")
  waiter:join()
  fails("ECANCELED", table.unpack(result, 1, 3))
  raises("attempt to use a closed luv.zmq.socket", function() return push:send("x") end)
end)

test("a context collected with its sockets, and sockets outliving their context's handle",
     function()
  do
    local ctx = assert(zmq.create())
    local a, b = pair(ctx, "PAIR", "PAIR", "inproc://gc")
    assert(a:send("x"))
  end
  collectgarbage()
  collectgarbage()
  -- A socket keeps the context alive after the handle it was made from is gone.
  local a, b = pair(assert(zmq.create()), "PAIR", "PAIR", "inproc://outlive")
  collectgarbage()
  collectgarbage()
  assert(a:send("still here"))
  assert(b:recv() == "still here")
  a:close()
  b:close()
end)

test("a context travels through luv.codec: the copy is the same context", function()
  local ctx = assert(zmq.create())
  local copy = luv.codec.decode(luv.codec.encode(ctx))
  assert(getmetatable(copy).__name == "luv.zmq.context" and copy ~= ctx)
  local a = assert(ctx:socket("PAIR"))
  local b = assert(copy:socket("PAIR"))
  assert(a:bind("inproc://codec"))
  assert(b:connect("inproc://codec"))  -- inproc works only within one context
  assert(a:send("same"))
  assert(b:recv() == "same")
  a:close()
  ctx:close()  -- the copy still owns the context
  local c, d = pair(copy, "PAIR", "PAIR", "inproc://codec-after")
  assert(c:send("still alive"))
  assert(d:recv() == "still alive")
  b:close()
  copy:close()
  -- Once every owner is gone, data that names the context cannot bring it back.
  local gone = assert(zmq.create())
  local data = luv.codec.encode(gone)
  assert(luv.codec.decode(data)):close()  -- takes over the encoding's hold
  gone:close()
  raises("luv.zmq: no context", luv.codec.decode, data)
end)

-- ---- no lost wake-up ---------------------------------------------------------------

-- Receives `count` messages "1".."count" in order from a bounded socket.
local function pull_all(pull, count)
  for i = 1, count do
    local m, err = pull:recv()
    if m ~= tostring(i) then
      error(("message %d: got %s, %s"):format(i, tostring(m), tostring(err)), 0)
    end
  end
end

local function push_all(push, count)
  for i = 1, count do
    local ok, err = push:send(tostring(i))
    if not ok then
      error(("send %d: %s"):format(i, tostring(err)), 0)
    end
  end
end

test(("%d messages PUSH/PULL with HWM 10 between two fibers"):format(N), function()
  local ctx = assert(zmq.create())
  local pull = bounded(assert(ctx:socket("PULL")))
  local push = bounded(assert(ctx:socket("PUSH")))
  assert(pull:setsockopt("RCVHWM", 10) and push:setsockopt("SNDHWM", 10))
  assert(pull:bind("inproc://lost-fibers"))
  assert(push:connect("inproc://lost-fibers"))
  local sender = go(push_all, push, N)
  pull_all(pull, N)
  sender:join()
  ctx:close()
end)

test(("%d messages PUSH/PULL with HWM 10 between two threads"):format(N), function()
  local ctx = assert(zmq.create())
  local pull = bounded(assert(ctx:socket("PULL")))
  assert(pull:setsockopt("RCVHWM", 10))
  assert(pull:bind("inproc://lost-threads"))
  -- The context goes as an upvalue, the count as an argument.
  local t = luv.thread.spawn(function(count)
    local push = assert(ctx:socket("PUSH"))
    assert(push:setsockopt("SNDHWM", 10) and push:setsockopt("SNDTIMEO", LONG_MS))
    assert(push:connect("inproc://lost-threads"))
    push_all(push, count)
    push:close()
    ctx:close()
    return "sent"
  end, N)
  pull_all(pull, N)
  local ok, v = t:join(LONG_MS / 1000)
  assert(ok == true and v == "sent", tostring(v))
  ctx:close()
end)

test(("%d messages PUSH/PULL with HWM 10 between two processes"):format(N), function()
  local ctx = assert(zmq.create())
  local pull = bounded(assert(ctx:socket("PULL")))
  assert(pull:setsockopt("RCVHWM", 10))
  local bound = assert(pull:bind("tcp://127.0.0.1:*"))
  local child = tap.write_temp(([[
    local luv = require "luv"
    local ctx = assert(luv.zmq.create())
    local push = assert(ctx:socket("PUSH"))
    assert(push:setsockopt("SNDHWM", 10) and push:setsockopt("SNDTIMEO", %d))
    assert(push:connect(%q))
    for i = 1, %d do assert(push:send(tostring(i))) end
    push:close()
    assert(ctx:close())  -- waits until the messages are out (LINGER)
  ]]):format(LONG_MS, bound, N))
  local proc = assert(luv.process.spawn(tap.self_command(), { child }))
  pull_all(pull, N)
  assert(proc:wait(LONG_MS / 1000) == 0)
  os.remove(child)
  ctx:close()
end)

test("several fibers on each of several sockets, both directions on one socket", function()
  local ctx = assert(zmq.create())
  local count = math.max(N // 50, 1000)
  local fibers, received = {}, {}
  for k = 1, 4 do
    local pull = bounded(assert(ctx:socket("PULL")))
    local push = bounded(assert(ctx:socket("PUSH")))
    assert(pull:setsockopt("RCVHWM", 5) and push:setsockopt("SNDHWM", 5))
    assert(pull:bind("inproc://many-" .. k))
    assert(push:connect("inproc://many-" .. k))
    -- Three senders and three receivers per socket pair.
    for s = 1, 3 do
      fibers[#fibers + 1] = go(function()
        for i = 1, count do assert(push:send(("%d:%d:%d"):format(k, s, i))) end
      end)
    end
    for _ = 1, 3 do
      fibers[#fibers + 1] = go(function()
        for _ = 1, count do
          local m = assert(pull:recv())
          received[m] = (received[m] or 0) + 1
        end
      end)
    end
  end
  -- A DEALER with one fiber sending and one receiving, echoed by a ROUTER.
  local router = bounded(assert(ctx:socket("ROUTER")))
  local dealer = bounded(assert(ctx:socket("DEALER")))
  assert(router:setsockopt("SNDHWM", 5) and dealer:setsockopt("SNDHWM", 5))
  assert(router:bind("inproc://echo"))
  assert(dealer:connect("inproc://echo"))
  fibers[#fibers + 1] = go(function()
    for _ = 1, count do assert(router:send(assert(router:recv_multipart()))) end
  end)
  fibers[#fibers + 1] = go(function()
    for i = 1, count do assert(dealer:send(tostring(i))) end
  end)
  local echoes = 0
  fibers[#fibers + 1] = go(function()
    for i = 1, count do
      assert(dealer:recv() == tostring(i))
      echoes = echoes + 1
    end
  end)
  for _, f in ipairs(fibers) do f:join() end
  assert(echoes == count)
  for k = 1, 4 do
    for s = 1, 3 do
      for i = 1, count, 97 do
        assert(received[("%d:%d:%d"):format(k, s, i)] == 1)
      end
    end
  end
  local total = 0
  for _ in pairs(received) do total = total + 1 end
  assert(total == 4 * 3 * count, total)
  ctx:close()
end)

test_main("the main chunk waits on a socket like a fiber", function()
  local ctx = assert(zmq.create())
  local a, b = pair(ctx, "PAIR", "PAIR", "inproc://main")
  go(function() luv.sleep(0.01) assert(a:send("to main")) end)
  assert(b:recv() == "to main")
  ctx:close()
end)

tap.done()
