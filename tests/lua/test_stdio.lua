-- luv.stdin, luv.stdout, luv.stderr: file objects on fds 0, 1, 2 that suspend only the
-- calling fiber, whatever the descriptor is (a pipe, a file, /dev/null), and never lose
-- output. Each test runs a child process of the current interpreter with its stdio
-- redirected, since this process's own descriptors belong to the test runner.
local tap = require("tap")
local luv, test = tap.luv, tap.test
local q = tap.shell_quote

test("the three objects are files on fds 0, 1 and 2", function()
  assert(tostring(luv.stdin):find("^luv%.file: "))
  assert(luv.stdin:fd() == 0 and luv.stdout:fd() == 1 and luv.stderr:fd() == 2)
end)

test("writes reach a pipe in order with print and io.write", function()
  local out, code = tap.run_lua([[
    local luv = require "luv"
    io.write("A ")
    luv.stdout:write("B ")
    print("C")
    luv.stdout:write("D\n")
  ]], nil, "| cat")
  assert(code == 0, out)
  assert(out == "A B C\nD\n", ("got %q"):format(out))
end)

test("stdin from a pipe is read to its end, 0 bytes at the end", function()
  local script = tap.write_temp([[
    local luv = require "luv"
    local parts = {}
    while true do
      local n, data = luv.stdin:read(3)
      assert(n, data)
      if n == 0 then break end
      parts[#parts + 1] = data
    end
    io.write(table.concat(parts, "|"))
  ]])
  local out, code = tap.run(("printf 'abcdefg' | %s %s"):format(tap.self_command(), q(script)))
  os.remove(script)
  assert(code == 0, out)
  assert(out == "abc|def|g", ("got %q"):format(out))
end)

test("4 MB written to a file through luv.stdout, nothing lost at exit", function()
  local path = os.tmpname()
  local script = tap.write_temp([[
    local luv = require "luv"
    local block = string.rep("x", 65535) .. "\n"
    for _ = 1, 64 do
      luv.fiber.create(function() assert(luv.stdout:write(block)) end):ready()
    end
  ]])
  local out, code = tap.run(("%s %s > %s"):format(tap.self_command(), q(script), q(path)))
  os.remove(script)
  if tap.plain then
    -- Under lua5.4 the fibers only run if something runs the loop: the main chunk ends
    -- first, so run it again with an explicit luv.run().
    script = tap.write_temp([[
      local luv = require "luv"
      local block = string.rep("x", 65535) .. "\n"
      for _ = 1, 64 do
        luv.fiber.create(function() assert(luv.stdout:write(block)) end):ready()
      end
      luv.run()
    ]])
    out, code = tap.run(("%s %s > %s"):format(tap.self_command(), q(script), q(path)))
    os.remove(script)
  end
  assert(code == 0, out)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  os.remove(path)
  assert(#data == 64 * 65536, "got " .. #data .. " bytes")
  assert(not data:find("[^x\n]"), "unexpected bytes")
end)

test("closing them, or collecting them, leaves the descriptors open", function()
  local out, code = tap.run_lua([[
    local luv = require "luv"
    assert(luv.stdout:close() == true)
    luv.stdout = nil
    collectgarbage() collectgarbage()
    io.write("still open\n")
  ]], nil, "| cat")
  assert(code == 0, out)
  assert(out == "still open\n", ("got %q"):format(out))
end)

test("stderr works, and /dev/null as stdin reads as an empty input", function()
  local script = tap.write_temp([[
    local luv = require "luv"
    local n, data = luv.stdin:read()
    assert(n == 0 and data == "")
    assert(luv.stderr:write("to stderr\n"))
  ]])
  local out, code = tap.run(("%s %s < /dev/null"):format(tap.self_command(), q(script)))
  os.remove(script)
  assert(code == 0, out)
  assert(out == "to stderr\n", ("got %q"):format(out))
end)

test("a fiber waiting on stdin lets the others run", function()
  local script = tap.write_temp([[
    local luv = require "luv"
    local ticks = 0
    local ticker = luv.fiber.create(function()
      while luv.sleep(0.005) do ticks = ticks + 1 end
    end)
    ticker:ready()
    local reader = luv.fiber.create(function() return luv.stdin:read() end)
    local n, data = reader:join()
    ticker:cancel()
    io.write(("%d %s %s\n"):format(n, data, ticks >= 5 and "ticked" or "stalled " .. ticks))
  ]])
  local out, code = tap.run(("(sleep 0.2; printf 'late') | %s %s"):format(tap.self_command(), q(script)))
  os.remove(script)
  assert(code == 0, out)
  assert(out == "4 late ticked\n", ("got %q"):format(out))
end)

tap.done()
