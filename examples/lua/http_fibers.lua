-- The LuaSocket drop-in: Debian's unmodified socket.http, run from ten fibers at once.
--
-- A small HTTP server written with plain LuaSocket calls (accept, receive, send) runs in
-- one fiber; ten client fibers fetch /slow/<n> from it with socket.http.request. Each
-- response takes 0.3 s, yet all ten finish together in about 0.3 s: every blocking
-- LuaSocket call suspends only the fiber that made it.
--
--   build/src/cli/luv examples/lua/http_fibers.lua      (the luv command installs it)
--   LUA_CPATH="build/?.so;;" lua5.4 examples/lua/http_fibers.lua
local socket = require "luv.socket"  -- must come before anything requires "socket"
local http = require "socket.http"
local luv = require "luv"

local server = assert(socket.bind("127.0.0.1", 0))
local _, port = server:getsockname()

-- One fiber per connection: read the request line and headers, wait, answer, close.
local function serve(conn)
  conn:settimeout(5)
  local request = conn:receive()
  repeat
    local header = conn:receive()
  until header == nil or header == ""
  local n = request and request:match("^GET /slow/(%d+) ")
  socket.sleep(0.3)  -- a slow backend; only this fiber waits
  local body = n and ("response %s\n"):format(n) or "not found\n"
  conn:send(("HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s")
    :format(n and "200 OK" or "404 Not Found", #body, body))
  conn:close()
end

local acceptor = luv.fiber.create(function(count)
  for _ = 1, count do
    luv.fiber.create(serve, assert(server:accept())):ready()
  end
end, 10)
acceptor:ready()

local started = socket.gettime()
local clients = {}
for i = 1, 10 do
  clients[i] = luv.fiber.create(function()
    local body, code = http.request(("http://127.0.0.1:%s/slow/%d"):format(port, i))
    return code, body
  end)
  clients[i]:ready()
end
for i = 1, 10 do
  local code, body = clients[i]:join()
  io.write(("fiber %2d: %s %s"):format(i, code, body))
end
acceptor:join()
server:close()
local elapsed = socket.gettime() - started
print(("10 requests of 0.3 s each took %s"):format(elapsed < 2 and "less than 2 s" or
  ("%.2f s"):format(elapsed)))
