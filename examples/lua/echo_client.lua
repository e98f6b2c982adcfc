-- A client for echo_server.lua: connects, sends a few lines, prints the replies.
--   luv echo_client.lua [port]        (default 8080, like the server)
local luv = require("luv")

local port = tonumber(arg and arg[1]) or 8080

local main = luv.fiber.create(function()
   local client = luv.net.tcp()
   assert(client:connect("127.0.0.1", port, 5))
   for _, line in ipairs({ "hello", "fibers", "goodbye" }) do
      assert(client:write(line .. "\n"))
      -- the reply may come in pieces: read until its end of line
      local reply = ""
      repeat
         local got, str = assert(client:read(nil, 5))
         reply = reply .. str
      until reply:find("\n", 1, true)
      io.write(reply)
   end
   client:close()
end)

main:join()
