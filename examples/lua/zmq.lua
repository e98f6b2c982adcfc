-- The original luv's ØMQ example (its README, "ØMQ Example"), with luv.thread.spawn where
-- it used luv.thread.create: a producer thread and a consumer thread talk over an
-- inproc:// PAIR socket. Both reach the one context as an upvalue: a context crosses to
-- a thread as a pointer to the same libzmq context (inproc:// works only within one).
local luv = require("luv")

local zmq = luv.zmq.create(1)

local prod = luv.thread.spawn(function()
   local pub = zmq:socket(luv.zmq.PAIR)
   pub:bind('inproc://#1')

   for i=1, 10 do
      pub:send("tick: "..i)
   end
   pub:send("STOP")
   assert(pub:recv() == "OK")
   pub:close()
   return "producer: sent 10 ticks and STOP, got OK"
end)

local cons = luv.thread.spawn(function()
   local sub = zmq:socket(luv.zmq.PAIR)
   -- inproc:// may be connected before it is bound: the threads start in any order.
   sub:connect('inproc://#1')

   local got = {}
   while true do
      local msg = sub:recv()
      if msg == "STOP" then
         sub:send("OK")
         break
      end
      got[#got + 1] = msg
   end
   sub:close()
   return "consumer: " .. table.concat(got, ", ")
end)

-- The threads print nothing themselves: their lines would interleave.
print(select(2, cons:join()))
print(select(2, prod:join()))
zmq:close()
