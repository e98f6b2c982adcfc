-- The pushing half of a PUSH/PULL pair in two processes (zmq_pull.lua starts this one):
--
--   lua5.4 zmq_push.lua <endpoint> [count]
--
-- connects to the puller's endpoint and sends `count` ticks (default 10) from a fiber,
-- then "STOP". Closing the context waits until the messages are out.
local luv = require("luv")

local endpoint = assert(arg[1], "usage: zmq_push.lua <endpoint> [count]")
local count = tonumber(arg[2]) or 10

local zmq = luv.zmq.create(1)
local push = zmq:socket(luv.zmq.PUSH)
assert(push:connect(endpoint))

local prod = luv.fiber.create(function()
   for i=1, count do
      push:send("tick: "..i)
   end
   push:send("STOP")
end)
prod:join()

push:close()
zmq:close()
