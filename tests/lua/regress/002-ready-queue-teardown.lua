-- Closing a Lua state with many fibers still in the ready queue took time quadratic in
-- their number (each collected fiber was unlinked from a singly-linked queue by a scan):
-- 40,000 fibers took about 13 s. It must take well under the 5 s allowed here.
local tap = require("tap")
local test = tap.test

test("exit with 40,000 fibers still ready", function()
  local file = tap.write_temp([[
    local luv = require("luv")
    for _ = 1, 40000 do luv.fiber.create(function() end):ready() end
    error("leaving with every fiber still ready", 0)
  ]])
  local out, code = tap.run("timeout 5 " .. tap.self_command() .. " " .. tap.shell_quote(file))
  os.remove(file)
  assert(code ~= 124, "the process took more than 5 s to exit")
  assert(code == 1 and out:find("leaving with every fiber still ready", 1, true),
         code .. ": " .. out)
end)

tap.done()
