-- luvit's luv (Debian lua-luv) in its callback style: a TCP echo server on 127.0.0.1,
-- uv.new_tcp, listen, accept, read_start, write back what was read.
--   lua5.4 echo_luvit.lua [PORT]    PORT 0 (the default): a free port
-- Prints "PORT <port>" once it listens, then serves until killed (echo_load.c drives it).
local uv = require "luv"
assert(uv.new_tcp, "this is not luvit's luv")

local server = uv.new_tcp()
assert(server:bind("127.0.0.1", tonumber(arg[1]) or 0))
assert(server:listen(1024, function(err)
    assert(not err, err)
    local client = uv.new_tcp()
    server:accept(client)
    client:nodelay(true)
    client:read_start(function(rerr, data)
        if rerr or not data then
            client:close()
        else
            client:write(data)
        end
    end)
end))
print("PORT " .. server:getsockname().port)
io.stdout:flush()
uv.run()
