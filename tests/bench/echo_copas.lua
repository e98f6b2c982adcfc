-- Copas (>= 3, see README.md): a TCP echo server on 127.0.0.1 over LuaSocket,
-- copas.addserver with a copas.handler per connection (a coroutine per connection),
-- nodelay.
--   lua5.4 echo_copas.lua [PORT]    PORT 0 (the default): a free port
-- Prints "PORT <port>" once it listens, then serves until killed (echo_load.c drives it).
-- Each receive asks for the 64 bytes echo_load.c sends (LuaSocket's receive(n) returns
-- once it has n bytes; copas.receivepartial, any bytes, costs one more recv() that finds
-- nothing). Copas waits in select(): at most ~1,000 connections (FD_SETSIZE).
local copas = require "copas"
local socket = require "socket"

local MSG = 64
local server = assert(socket.bind("127.0.0.1", tonumber(arg[1]) or 0, 1024))
local _, port = server:getsockname()
print("PORT " .. port)
io.stdout:flush()

copas.addserver(server, copas.handler(function(skt)
    skt:setoption("tcp-nodelay", true)
    while true do
        local data = skt:receive(MSG)
        if not data or not skt:send(data) then
            break
        end
    end
    skt:close()
end))
copas.loop()
