-- luv: a TCP echo server on 127.0.0.1 in the natural luv style: the main chunk accepts,
-- one fiber per connection reads and writes back what it read.
--   lua5.4 echo_luv.lua [PORT]      PORT 0 (the default): a free port
-- Prints "PORT <port>" once it listens, then serves until killed (echo_load.c drives it).
local luv = require "luv"
assert(luv.fiber, "this is not luv's luv")

local server = luv.net.tcp()
assert(server:bind("127.0.0.1", tonumber(arg[1]) or 0))
assert(server:listen(1024))
print("PORT " .. server:getsockname().port)
io.stdout:flush()

while true do
    local client = luv.net.tcp()
    assert(server:accept(client))
    client:nodelay(true)
    luv.fiber.create(function()
        while true do
            local n, data = client:read()
            if not n or not client:write(data) then
                break
            end
        end
        client:close()
    end):ready()
end
