-- cqueues: a TCP echo server on 127.0.0.1, one controller, one coroutine per
-- connection (cq:wrap); binary mode, output unbuffered, nodelay.
--   lua5.4 echo_cqueues.lua [PORT]  PORT 0 (the default): a free port
-- Prints "PORT <port>" once it listens, then serves until killed (echo_load.c drives it).
-- Each read asks for the 64 bytes echo_load.c sends ("read exactly n" is the cheapest
-- read of cqueues' buffered sockets; "-65536", up to that many, costs one more try).
local cqueues = require "cqueues"
local socket = require "cqueues.socket"

local MSG = 64
local server = socket.listen { host = "127.0.0.1", port = tonumber(arg[1]) or 0 }
assert(server:listen())
local _, _, port = server:localname()
print("PORT " .. port)
io.stdout:flush()

local cq = cqueues.new()
cq:wrap(function()
    for con in server:clients { nodelay = true } do
        cq:wrap(function()
            con:setmode("b", "bn")
            while true do
                local data = con:read(MSG)
                if not data or not con:write(data) then
                    break
                end
            end
            con:close()
        end)
    end
end)
assert(cq:loop())
