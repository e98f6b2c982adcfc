-- cat over stdio: copies standard input to standard output in 64 KiB reads, with
-- luv.stdin and luv.stdout, which suspend only the calling fiber. While it waits for
-- input, a ticker fiber keeps counting: the loop is never blocked.
local luv = require("luv")

local ticks = 0
local ticker = luv.fiber.create(function()
  while luv.sleep(0.001) do           -- a cancel ends the sleep with a fail: the loop ends
    ticks = ticks + 1
  end
end)
ticker:ready()

local total = 0
while true do
  local n, data = luv.stdin:read(65536)
  if not n then
    error(data)                       -- a read error: nil, "ENAME: message", "ENAME"
  elseif n == 0 then
    break                             -- end of input
  end
  assert(luv.stdout:write(data))
  total = total + n
end
ticker:cancel()
luv.stderr:write(("cat: %d bytes\n"):format(total))
