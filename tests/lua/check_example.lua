-- Runs an example and checks what it prints: the smoke test of examples/lua/*.lua.
--
--   lua5.4 check_example.lua <interpreter> <examples/lua/name.lua>
--
-- The interpreter is lua5.4 or the luv command; stderr is merged into the output, and
-- the example must exit with status 0.
local interpreter, script = arg[1], arg[2]
assert(interpreter and script, "usage: check_example.lua <interpreter> <example.lua>")

local function quote(s)
  return "'" .. s:gsub("'", [['\'']]) .. "'"
end

local function lines_of(text)
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do
    lines[#lines + 1] = line
  end
  return lines
end

-- Asserts that the lines matching `pattern` are exactly `expected` (a list), in order.
local function matching(lines, pattern, expected)
  local got = {}
  for _, line in ipairs(lines) do
    if line:find(pattern) then got[#got + 1] = line end
  end
  local want = table.concat(expected, "\n")
  assert(table.concat(got, "\n") == want,
         ("lines matching %q:\n%s\nexpected:\n%s"):format(pattern, table.concat(got, "\n"), want))
end

local function repeated(line, n)
  local t = {}
  for i = 1, n do t[i] = line end
  return t
end

local checks = {}

function checks.fiber(lines)
  matching(lines, ".", { "inside fiber, mesg: \tHello World!", "in child", "answer\t42" })
end

function checks.timer(lines)
  matching(lines, ".", repeated("tick", 10))
end

function checks.idle(lines)
  matching(lines, "^TIMER NEXT:", repeated("TIMER NEXT:\ttrue", 10))
  assert(#lines == 11, "expected 11 lines, got " .. #lines)
  local count = tonumber(lines[11]:match("^IDLE COUNT:\t(%d+)$"))
  assert(count and count > 0, "bad last line: " .. lines[11])
end

function checks.sleepers(lines)
  local delays = { 80, 20, 140, 60, 0, 100, 40, 120 }
  local order = {}
  for i, ms in ipairs(delays) do order[i] = { i = i, ms = ms } end
  table.sort(order, function(a, b) return a.ms < b.ms end)
  local want = {}
  for k, s in ipairs(order) do
    want[k] = ("sleeper %d woke after %d ms"):format(s.i, s.ms)
  end
  matching(lines, "^sleeper ", want)
  matching(lines, "^sorted: ", { "sorted: 1 2 3 5 8 9" })
  matching(lines, "^wake%-up order: ", { "wake-up order: 0 20 40 60 80 100 120 140" })
end

local name = script:match("([^/]+)%.lua$")
local check = assert(checks[name], "no check for the example " .. tostring(name))

local pipe = assert(io.popen(quote(interpreter) .. " " .. quote(script) .. " 2>&1"))
local output = pipe:read("a")
local _, how, code = pipe:close()
io.write(output)

local ok, err = pcall(function()
  assert(how == "exit" and code == 0, ("the example ended with %s %s"):format(how, code))
  check(lines_of(output))
end)
if not ok then
  io.stderr:write("FAIL ", name, ": ", tostring(err), "\n")
  os.exit(1)
end
print("PASS " .. name)
