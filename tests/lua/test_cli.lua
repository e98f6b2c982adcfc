-- The `luv` command. Runs under the stock lua5.4 and spawns the binary named by LUV_BIN.
local tap = require("tap")
local test, q = tap.test, tap.shell_quote

local bin = os.getenv("LUV_BIN")
assert(bin and bin ~= "", "set LUV_BIN to the path of the luv binary")
local luv_cmd = q(bin)

-- Runs `luv <args>`, with stderr merged into stdout; returns output and exit status.
local function luv(args, stdin)
  local command = luv_cmd .. " " .. args
  if stdin then
    command = "printf '%s' " .. q(stdin) .. " | " .. command
  end
  return tap.run(command)
end

local function has(out, text)
  return out:find(text, 1, true) ~= nil
end

-- A temporary directory for scripts and modules, removed at the end.
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir " .. q(dir)))
local function write(name, source)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(source)
  f:close()
  return path
end

test("-v prints the version", function()
  local out, code = luv("-v")
  assert(code == 0, out)
  assert(has(out, "Lua 5.4") and has(out, "luv"), out)
end)

test("-e runs each chunk in order, and a chunk may block", function()
  local out, code = luv([[-e "luv.sleep(0.01) print('first')" -e "print('second', luv.self())"]])
  assert(code == 0, out)
  assert(out:match("^first\nsecond\tluv%.fiber: "), out)
end)

test("-l requires a module that blocks at its top level", function()
  write("blockmod.lua", "luv.sleep(0.01)\nreturn { v = 42 }\n")
  local path = q(dir .. "/?.lua;;")
  local out, code = tap.run("LUA_PATH=" .. path .. " " .. luv_cmd ..
                            [[ -l blockmod -l other=blockmod -e "print(blockmod.v, other.v)"]])
  assert(code == 0, out)
  assert(has(out, "42\t42"), out)
end)

test("- runs stdin with the arguments that follow", function()
  local out, code = luv("- a b", "print('from stdin', ...)\n")
  assert(code == 0, out)
  assert(has(out, "from stdin\ta\tb"), out)
end)

test("without a script and with stdin not a tty, runs stdin", function()
  local out, code = luv("", "luv.sleep(0.01) print('piped')\n")
  assert(code == 0, out)
  assert(has(out, "piped"), out)
end)

test("the arg table", function()
  local script = write("args.lua", [[
    print("arg", arg[-3] == os.getenv("LUV_BIN"), arg[-2], arg[-1], arg[0], arg[1], arg[2], #arg)
    print("dots", ...)
  ]])
  local out, code = tap.run("LUV_BIN=" .. luv_cmd .. " " .. luv_cmd ..
                            " -e x=1 " .. q(script) .. " p q")
  assert(code == 0, out)
  assert(has(out, "arg\ttrue\t-e\tx=1\t" .. script .. "\tp\tq\t2"), out)
  assert(has(out, "dots\tp\tq"), out)
end)

test("an error exits with status 1 and a message", function()
  local out, code = luv([[-e "luv.sleep(0.01) error('bad thing')"]])
  assert(code == 1 and has(out, "bad thing"), code .. ": " .. out)
  local script = write("syntax.lua", "this is not lua\n")
  out, code = luv(q(script))
  assert(code == 1 and has(out, "syntax.lua:1:"), code .. ": " .. out)
  out, code = luv(q(dir .. "/missing.lua"))
  assert(code == 1 and has(out, "cannot open"), code .. ": " .. out)
  out, code = luv("-z")
  assert(code == 1 and has(out, "unrecognized option '-z'"), code .. ": " .. out)
  out, code = luv([[-e "os.exit(3)"]])
  assert(code == 3, code .. ": " .. out)
end)

test("a script whose main chunk blocks", function()
  local script = write("blocks.lua", [[
    local t = luv.timer.create()
    t:start(5, 5)
    for i = 1, 3 do t:wait() print("tick " .. i) end
    t:close()
    local sorted = { 3, 1, 2 }
    table.sort(sorted, function(a, b) luv.sleep(0.001) return a < b end)
    print(table.concat(sorted, ","))
  ]])
  local out, code = luv(q(script))
  assert(code == 0, out)
  assert(out == "tick 1\ntick 2\ntick 3\n1,2,3\n", out)
end)

test("fibers left running after the script ends run to completion", function()
  local script = write("leftover.lua", [[
    for i = 1, 3 do
      luv.fiber.create(function() luv.sleep(i / 100) print("late " .. i) end):ready()
    end
    print("end of script")
  ]])
  local out, code = luv(q(script))
  assert(code == 0, out)
  assert(out == "end of script\nlate 1\nlate 2\nlate 3\n", out)
end)

test("an unjoined fiber's error is printed, the script goes on, the status is 1", function()
  local out, code = luv([[-e "luv.fiber.create(error, 'oops', 0):ready() luv.sleep(0.01) print('still here')"]])
  assert(code == 1, code .. ": " .. out)
  assert(has(out, "luv: error in fiber: oops") and has(out, "still here"), out)
end)

test("LUA_INIT runs in a fiber; -E ignores it; -W turns warnings on", function()
  local out, code = tap.run([[LUA_INIT="luv.sleep(0.01) print('init ran')" ]] .. luv_cmd ..
                            [[ -e "print('main')"]])
  assert(code == 0 and out == "init ran\nmain\n", out)
  out, code = tap.run([[LUA_INIT="print('init ran')" ]] .. luv_cmd .. [[ -E -e "print('main')"]])
  assert(code == 0 and out == "main\n", out)
  out, code = luv([[-W -e "warn('careful')"]])
  assert(code == 0 and has(out, "Lua warning: careful"), out)
end)

test("-i with piped input runs each line", function()
  local out = luv("-i", "x = 1\nluv.sleep(0.01)\nprint(x + 1)\n")
  assert(out:match("\n2\n") or out:match("> 2\n"), out)
end)

test("-i: a background fiber keeps running while the prompt waits", function()
  -- Fails now and then as long as regress/002-wakeup-before-poll-stall.lua fails.
  local first = "n = 0 luv.fiber.create(function() for i = 1, 300 do luv.sleep(0.001) n = n + 1 end end):ready()"
  local out = tap.run("(printf '%s\\n' " .. q(first) .. "; sleep 0.3; printf 'print(\"n=\" .. n)\\n') | " ..
                      luv_cmd .. " -i")
  local n = tonumber(out:match("n=(%d+)"))
  assert(n and n >= 5, "the background fiber did not run while the prompt waited: " .. out)
end)

test("-i exits with status 0 at the end of its input", function()
  -- See regress/002-repl-eof-abort.lua.
  local out, code = luv("-i", "print('hi')\n")
  assert(code == 0, "exit status " .. tostring(code) .. ": " .. out)
  assert(not has(out, "PANIC"), out)
end)

os.execute("rm -rf " .. q(dir))
tap.done()
