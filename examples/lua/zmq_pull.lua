-- The original luv's "ØMQ + Fibers" example across two processes: this one binds a PULL
-- socket to a free port of 127.0.0.1, starts zmq_push.lua (with the same interpreter) to
-- connect and push, and a fiber prints what arrives until "STOP".
--
--   lua5.4 zmq_pull.lua [count]
local luv = require("luv")

local count = tonumber(arg[1]) or 10

local zmq = luv.zmq.create(1)
local pull = zmq:socket(luv.zmq.PULL)
local endpoint = assert(pull:bind('tcp://127.0.0.1:*'))  -- the port the system chose

-- The interpreter running this script (lua5.4 or the luv command), and zmq_push.lua
-- beside it.
local i = 0
while arg[i - 1] do i = i - 1 end
local pusher = (arg[0]:match("^(.*/)") or "./") .. "zmq_push.lua"
local child = assert(luv.process.spawn(arg[i], { pusher, endpoint, count }))

local cons = luv.fiber.create(function()
   while true do
      local msg = pull:recv()
      if msg == "STOP" then
         break
      end
      print("GOT: "..msg)
   end
   pull:close()
end)

cons:join()
local status = child:wait()
print("pusher exited with status " .. tostring(status))
zmq:close()
