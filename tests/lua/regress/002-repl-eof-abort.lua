-- `luv -i` with its input at an end (a pipe, or Ctrl-D) aborted with
-- "PANIC: unprotected error in call to Lua API" once the prompt had returned: the command
-- ran the prompt's leftovers as one more chunk. Run it only where LUV_BIN names the binary.
local tap = require("tap")
local test = tap.test

local bin = os.getenv("LUV_BIN")

test("luv -i exits with status 0 at the end of its input", function()
  assert(bin, "set LUV_BIN to the path of the luv binary")
  for _, input in ipairs({ "", "print(1 + 1)\n" }) do
    local out, code = tap.run("printf '%s' " .. tap.shell_quote(input) .. " | " ..
                              tap.shell_quote(bin) .. " -i")
    assert(code == 0, "exit status " .. tostring(code) .. ": " .. out)
    assert(not out:find("PANIC", 1, true), out)
  end
end)

tap.done()
