-- A tiny TAP-like harness for the luv test files (after luvit/luv lib/tap.lua).
--
--   local tap = require("tap")
--   local luv, test, expect = tap.luv, tap.test, tap.expect
--   test("sleep returns true", function()
--     assert(luv.sleep(0.001) == true)
--   end)
--   tap.done()
--
-- test(name, fn) runs fn in a fiber of its own and joins it, so fn may block. The same
-- file runs under the stock lua5.4 (where the main chunk is outside any fiber) and under
-- the `luv` command (where the main chunk is itself a fiber); tap.plain tells them apart.
local luv = require("luv")
-- Debian's lua-luv installs luvit's luv.so in the system cpath: make sure it is ours.
assert(type(luv) == "table" and luv.fiber, "loaded the wrong luv (check LUA_CPATH)")

local tap = { luv = luv }

-- True under the stock interpreter: the main chunk runs on the thread's own stack, and
-- luv.self() there is the "luv.main" object.
tap.plain = getmetatable(luv.self()).__name ~= "luv.fiber"
tap.interp = tap.plain and "lua5.4" or "luv"

local count, failed = 0, 0
local expectations = {}

local function report(name, ok, err)
  count = count + 1
  if ok then
    print(("ok %d - %s"):format(count, name))
  else
    failed = failed + 1
    -- The first line of the error on the result line, the traceback as TAP comments.
    local text = tostring(err)
    local first, rest = text:match("^([^\n]*)\n?(.*)$")
    print(("not ok %d - %s: %s"):format(count, name, first))
    for line in rest:gmatch("[^\n]+") do
      print("#   " .. line)
    end
  end
  io.stdout:flush()
end

local function check_expectations()
  local pending = expectations
  expectations = {}
  for _, e in ipairs(pending) do
    if e.calls ~= e.wanted then
      return false, ("expected %d call(s) of %s, got %d"):format(e.wanted, e.where, e.calls)
    end
  end
  return true
end

local function traceback(err)
  if type(err) == "string" and not err:find("stack traceback:", 1, true) then
    return debug.traceback(err, 2)
  end
  return err
end

--- Runs fn(...) in a fiber, joins it, and reports the outcome.
function tap.test(name, fn, ...)
  local args = table.pack(...)
  local f = luv.fiber.create(function()
    return xpcall(fn, traceback, table.unpack(args, 1, args.n))
  end)
  local ok, fn_ok, err = pcall(f.join, f)
  if ok then
    ok, err = fn_ok, err
  else
    err = fn_ok
  end
  local expected_ok, expected_err = check_expectations()
  if ok and not expected_ok then
    ok, err = false, expected_err
  end
  report(name, ok, err)
  collectgarbage()
  collectgarbage()
end

--- Runs fn(...) directly in the main chunk (not in a fiber of its own): under lua5.4
--- that is outside any fiber, under `luv` it is the main chunk's fiber.
function tap.test_main(name, fn, ...)
  local ok, err = xpcall(fn, traceback, ...)
  local expected_ok, expected_err = check_expectations()
  if ok and not expected_ok then
    ok, err = false, expected_err
  end
  report(name, ok, err)
  collectgarbage()
  collectgarbage()
end

--- Structural equality that also checks the shape of sharing: each table of `a` maps to
--- one table of `b`, always the same, so cycles and shared subtables must match. Numbers
--- compare with their subtype and every bit (NaN payloads, -0.0).
function tap.same(a, b, map)
  map = map or {}
  if rawequal(a, b) then
    return true
  end
  if type(a) ~= type(b) then
    return false
  end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) then return false end
    return string.pack("<d", a) == string.pack("<d", b) or a == b and math.type(a) == "integer"
  end
  if type(a) ~= "table" then
    return false
  end
  if map[a] ~= nil then
    return map[a] == b
  end
  map[a] = b
  local count = 0
  for k, v in pairs(a) do
    count = count + 1
    if type(k) == "table" then return false end  -- table keys: not needed by the tests
    if not tap.same(v, rawget(b, k), map) then return false end
  end
  for _ in pairs(b) do
    count = count - 1
  end
  return count == 0
end

--- Reports a skipped test.
function tap.skip(name, reason)
  count = count + 1
  print(("ok %d - %s # SKIP %s"):format(count, name, reason))
end

--- Wraps fn so that the current test fails unless the wrapper is called exactly
--- `wanted` times (default 1) by the time the test ends.
function tap.expect(fn, wanted)
  local info = debug.getinfo(2, "Sl")
  local e = { calls = 0, wanted = wanted or 1, where = info.short_src .. ":" .. info.currentline }
  expectations[#expectations + 1] = e
  return function(...)
    e.calls = e.calls + 1
    if fn then
      return fn(...)
    end
  end
end

--- Prints the summary; exits with status 1 if anything failed.
function tap.done()
  print(("1..%d"):format(count))
  print(("# %s: %d passed, %d failed"):format(tap.interp, count - failed, failed))
  io.stdout:flush()
  if failed > 0 then
    os.exit(1)
  end
end

-- ---- helpers for the tests ----------------------------------------------------------

--- Asserts that f(...) raises an error whose message contains `needle` (plain text).
function tap.raises(needle, f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error containing '" .. needle .. "', got success")
  assert(tostring(err):find(needle, 1, true),
         "expected an error containing '" .. needle .. "', got: " .. tostring(err))
  return err
end

--- Asserts the `nil, "NAME: message", "NAME"` failure convention.
function tap.fails(name, ...)
  local v, msg, code = ...
  assert(v == nil, "expected nil, got " .. tostring(v))
  assert(code == name, "expected " .. name .. ", got " .. tostring(code) .. " " .. tostring(msg))
  assert(type(msg) == "string" and msg:sub(1, #name + 2) == name .. ": ",
         "bad message: " .. tostring(msg))
end

--- The command that runs the current interpreter (lua5.4 or luv).
function tap.self_command()
  local i = 0
  while arg and arg[i - 1] do
    i = i - 1
  end
  return arg and arg[i] or "lua5.4"
end

--- Quotes a string for /bin/sh.
function tap.shell_quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

--- Writes `source` to a fresh temporary file and returns its name.
function tap.write_temp(source, suffix)
  local name = os.tmpname()
  if suffix then
    os.remove(name)
    name = name .. suffix
  end
  local f = assert(io.open(name, "w"))
  f:write(source)
  f:close()
  return name
end

--- Runs a shell command with stderr merged into stdout. Blocks the whole process (that is
--- fine in a test). Returns the output and the exit status.
function tap.run(command)
  local p = assert(io.popen(command .. " 2>&1", "r"))
  local out = p:read("a")
  local _, how, code = p:close()
  if how == "signal" then
    code = 128 + code
  end
  return out, code
end

--- Runs a Lua source text in a child process of `command` (default: the current
--- interpreter) and returns its output and exit status.
function tap.run_lua(source, command, args)
  local file = tap.write_temp(source)
  local out, code = tap.run(("%s %s %s"):format(command or tap.self_command(),
                                                tap.shell_quote(file), args or ""))
  os.remove(file)
  return out, code
end

--- Seconds since an arbitrary point, from luv.hrtime().
function tap.now()
  return luv.hrtime() / 1e9
end

return tap
