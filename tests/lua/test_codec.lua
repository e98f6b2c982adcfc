-- luv.codec: encode/decode of every type, identity, functions and upvalues, __codec,
-- library values by name, error paths, safe mode, malformed input, the golden vectors of
-- docs/codec.md and the fuzz corpus.
local tap = require("tap")
local luv, test, raises = tap.luv, tap.test, tap.raises
local codec = luv.codec
local encode, decode = codec.encode, codec.decode

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local root = here .. "/../.."

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function unhex(h)
  return (h:gsub("%s", ""):gsub("..", function(b) return string.char(tonumber(b, 16)) end))
end

local function roundtrip(...)
  return decode(encode(...))
end

local function bits(x)
  return string.pack("<d", x)
end

local same = tap.same

---------------------------------------------------------------------------------------
-- Scalars

test("nil, booleans, and the count of values", function()
  assert(select("#", roundtrip()) == 0)
  local n = select("#", roundtrip(nil, nil, nil))
  assert(n == 3, n)
  local a, b, c = roundtrip(true, false, nil)
  assert(a == true and b == false and c == nil)
end)

test("integers stay integers, floats stay floats", function()
  local values = { 0, 1, -1, 63, -64, 64, 127, 128, 300, -300, 2^31, -2^31,
                   math.maxinteger, math.mininteger, math.maxinteger - 1 }
  for _, v in ipairs(values) do
    local i = math.tointeger(v) or v
    local d = roundtrip(i)
    assert(math.type(d) == "integer" and d == i, tostring(i))
  end
  for _, v in ipairs({ 0.0, 1.0, 2^53, 2^63, -2^63, 1.5, 1e300, 5e-324, math.pi }) do
    local d = roundtrip(v)
    assert(math.type(d) == "float" and bits(d) == bits(v), tostring(v))
  end
  assert(math.type(roundtrip(1)) == "integer" and math.type(roundtrip(1.0)) == "float")
end)

test("NaN with its payload, infinities, and -0.0", function()
  local nan = 0 / 0
  local d = roundtrip(nan)
  assert(d ~= d and bits(d) == bits(nan))
  local payload = string.unpack("<d", "\1\2\3\4\5\6\xf8\x7f")  -- a quiet NaN with payload
  assert(bits(roundtrip(payload)) == bits(payload))
  assert(roundtrip(math.huge) == math.huge and roundtrip(-math.huge) == -math.huge)
  local z = roundtrip(-0.0)
  assert(z == 0 and 1 / z == -math.huge, "lost the sign of -0.0")
  assert(1 / roundtrip(0.0) == math.huge)
end)

test("strings are binary-safe", function()
  local all = {}
  for i = 0, 255 do all[#all + 1] = string.char(i) end
  all = table.concat(all)
  assert(roundtrip(all) == all)
  assert(roundtrip("") == "")
  assert(roundtrip("a\0b") == "a\0b")
end)

test("a 1 MB string", function()
  local s = string.rep("0123456789abcdef", 65536)
  local e = encode(s)
  assert(#e < #s + 16, #e)
  assert(decode(e) == s)
end)

---------------------------------------------------------------------------------------
-- Tables and identity

test("nested tables with every kind of key", function()
  local t = { 1, 2, 3, "four", { 5 }, x = { y = { z = "deep" } },
              [1.5] = "float key", [true] = "bool key", [-7] = "negative", [100] = "far",
              ["with space"] = 1, [""] = "empty" }
  assert(same(roundtrip(t), t))
end)

test("holes in a sequence", function()
  local t = { 1, nil, 3, nil, 5 }
  local d = roundtrip(t)
  assert(d[1] == 1 and d[2] == nil and d[3] == 3 and d[4] == nil and d[5] == 5)
  local sparse = {}
  sparse[1], sparse[1000000] = "a", "b"
  d = roundtrip(sparse)
  assert(d[1] == "a" and d[1000000] == "b")
end)

test("cycles and shared subtables keep their identity", function()
  local shared = { "shared" }
  local t = { a = shared, b = shared, list = { shared, shared } }
  t.self = t
  t.list.parent = t
  local d = roundtrip(t)
  assert(d.self == d and d.list.parent == d)
  assert(d.a == d.b and d.a == d.list[1] and d.list[1] == d.list[2] and d.a[1] == "shared")
  assert(same(d, t))
  -- identity across the values of one tuple, and a table as a key
  local k = {}
  local x, y, z = roundtrip(k, { [k] = k }, k)
  assert(x == z and y[x] == x)
end)

test("metatables without __codec are not kept", function()
  local d = roundtrip(setmetatable({ 1 }, { __index = function() return "meta" end }))
  assert(getmetatable(d) == nil and d[1] == 1 and d[2] == nil)
end)

---------------------------------------------------------------------------------------
-- Functions

test("a function with upvalues", function()
  local count, step = 10, 5
  local function counter()
    count = count + step
    return count
  end
  local f = roundtrip(counter)
  assert(f ~= counter)
  assert(f() == 15 and f() == 20)
  assert(count == 10, "the copy shares nothing with the original")
  assert(roundtrip(function(a, b) return a * b end)(6, 7) == 42)
end)

test("closures sharing an upvalue still share it", function()
  local value = 1
  local function get() return value end
  local function set(v) value = v end
  local g, s = roundtrip(get, set)
  assert(debug.upvalueid(g, 1) == debug.upvalueid(s, 1))
  s(42)
  assert(g() == 42 and value == 1)
  -- the same through a table, and with the setter first
  local t = roundtrip({ set = set, get = get })
  t.set("x")
  assert(t.get() == "x")
end)

test("a recursive local function, and a function in a cycle", function()
  local function fact(n) return n <= 1 and 1 or n * fact(n - 1) end
  assert(roundtrip(fact)(10) == 3628800)
  local obj = { n = 0 }
  function obj.bump() obj.n = obj.n + 1; return obj end
  local d = roundtrip(obj)
  assert(d.bump() == d and d.n == 1 and obj.n == 0)
end)

test("_ENV binds to the receiving state's globals", function()
  local function uses_globals() return string.format("%d", 42), _G end
  local f = roundtrip(uses_globals)
  local name, env = debug.getupvalue(f, 1)
  assert(name == "_ENV" and env == _G)
  local s, g = f()
  assert(s == "42" and g == _G)
  -- the global table anywhere is the receiver's, not a copy
  assert(roundtrip({ g = _G }).g == _G)
  -- an _ENV that is not the global table travels by value
  local sandboxed = load("x = x + 1; return x", "=sandbox", "t", { x = 41 })
  local copy = roundtrip(sandboxed)
  assert(copy() == 42 and copy() == 43 and sandboxed() == 42)
end)

test("library functions as upvalues go by name", function()
  local insert, concat, fmt = table.insert, table.concat, string.format
  local sleep, fiber = luv.sleep, luv.fiber
  local function f(t)
    insert(t, fmt("%s", "x"))
    return concat(t, ","), sleep, fiber
  end
  local g = roundtrip(f)
  local s, sl, fb = g({ "a" })
  assert(s == "a,x" and sl == luv.sleep and fb == luv.fiber)
  assert(debug.upvalueid(g, 1) ~= debug.upvalueid(f, 1))
  assert(select(2, debug.getupvalue(g, 1)) == table.insert)
end)

test("the luv module and its parts travel by name", function()
  local e = encode(luv, luv.fiber, luv.sleep, luv.net.tcp, luv.stdout, luv.codec.decode)
  assert(e:find("luv", 1, true) and #e < 120, hex(e))
  local a, b, c, d, s, dec = decode(e)
  assert(a == luv and b == luv.fiber and c == luv.sleep and d == luv.net.tcp)
  assert(s == luv.stdout and dec == luv.codec.decode)
  assert(roundtrip(print) == print and roundtrip(io.stdout) == io.stdout)
  assert(roundtrip(coroutine.yield) == coroutine.yield)
  -- a library name the receiver does not have
  local bad = unhex("1b4c5601010a036c757607") .. "nothere"
  raises("library value 'luv.nothere' is not available", decode, bad)
  bad = unhex("1b4c5601010a") .. "\6nomod2\0"
  raises("library value 'nomod2' is not available", decode, bad)
end)

test("a fresh state decodes names before it ever encodes", function()
  local bytes = encode(print, luv.fiber, table.insert)
  local out, code = tap.run_lua(([[
    local luv = require "luv"
    local p, f, i = luv.codec.decode(%q)
    print(p == print, f == luv.fiber, i == table.insert)
  ]]):format(bytes))
  assert(code == 0 and out:find("true\ttrue\ttrue"), out)
end)

---------------------------------------------------------------------------------------
-- __codec

test("the README's Point example", function()
  -- The original README used module(), gone since Lua 5.2; package.loaded does its job.
  local M = {}
  package.loaded["my.module"] = M
  local Point = { }
  Point.__index = Point
  Point.new = function()
     return setmetatable({ }, Point)
  end
  Point.move = function(self, x, y)
     self.x = x
     self.y = y
  end
  Point.__codec = function(self)
     return function(spec)
        local Point = require('my.module').Point
        return setmetatable(spec, Point)
     end, { x = self.x, y = self.y }
  end
  M.Point = Point

  local obj = Point.new()
  obj:move(1, 2)

  local str = luv.codec.encode(obj)
  local dec = luv.codec.decode(str)

  assert(dec.x == 1 and dec.y == 2)
  assert(type(dec.move) == 'function')
  assert(getmetatable(dec) == Point and dec ~= obj)
  package.loaded["my.module"] = nil
end)

test("a hooked object met twice is one object", function()
  local calls = 0
  local mt = { __codec = function(self) return function(v) calls = calls + 1; return { v = v } end, self.v end }
  local p = setmetatable({ v = 7 }, mt)
  local a, b, t = roundtrip(p, p, { p, p })
  assert(a == b and t[1] == a and t[2] == a and a.v == 7)
end)

test("a hook given by name: registry first, then globals", function()
  local reg = debug.getregistry()
  reg["test.codec.make"] = function(v) return "registry " .. v end
  rawset(_G, "test_codec_make", function(v) return "global " .. v end)
  local mt = { __codec = function(self) return self.hook, self.v end }
  local d1 = roundtrip(setmetatable({ hook = "test.codec.make", v = "a" }, mt))
  local d2 = roundtrip(setmetatable({ hook = "test_codec_make", v = "b" }, mt))
  assert(d1 == "registry a" and d2 == "global b", tostring(d1) .. " " .. tostring(d2))
  raises("no function named 'nothing_here' for a __codec hook",
         roundtrip, setmetatable({ hook = "nothing_here" }, mt))
  reg["test.codec.make"] = nil
  rawset(_G, "test_codec_make", nil)
end)

test("__codec on a userdata", function()
  local mt = debug.getmetatable(io.stdout)
  mt.__codec = function(f) return "tostring", "a FILE" end
  local ok, d = pcall(roundtrip, { f = io.tmpfile() })
  mt.__codec = nil
  assert(ok, d)
  assert(d.f == "a FILE")
end)

test("bad hooks are reported", function()
  raises("its __codec returned a number, not a function or a name",
         encode, setmetatable({}, { __codec = function() return 1, 2 end }))
  raises("whose __codec is a string, not a function",
         encode, setmetatable({}, { __codec = "nope" }))
  raises("hook failed", encode, setmetatable({}, { __codec = function() error("hook failed") end }))
  local p = setmetatable({}, {})
  getmetatable(p).__codec = function(self) return "tostring", { back = self } end
  raises("cannot encode a table that its own __codec value refers back to at arg 1<__codec value>.back",
         encode, p)
end)

---------------------------------------------------------------------------------------
-- What cannot be encoded, and where it was

test("errors name the value and its path", function()
  local co = coroutine.create(print)
  raises("luv.codec.encode: cannot encode a coroutine at arg 1", encode, co)
  raises("cannot encode a coroutine at arg 3.key.sub[3]", encode, 1, 2, { key = { sub = { 1, 2, co } } })
  raises("cannot encode a C function at arg 1.f", encode, { f = coroutine.wrap(print) })
  local timer = luv.timer.create()
  raises("cannot encode a userdata (luv.timer) at arg 1[\"a key\"][7]", encode, { ["a key"] = { [7] = timer } })
  timer:close()
  raises("cannot encode a coroutine at arg 1[2.5]", encode, { [2.5] = co })
  raises("cannot encode a coroutine at arg 1[true]", encode, { [true] = co })
  raises("cannot encode a coroutine at arg 1<key>", encode, { [co] = 1 })
  local up = co
  raises("cannot encode a coroutine at arg 1<upvalue up>", encode, function() return up end)
  local box = { t = co }
  raises("cannot encode a coroutine at arg 1.f<upvalue box>.t",
         encode, { f = function() return box end })
  raises("cannot encode a coroutine at arg 1<__codec value>.x",
         encode, setmetatable({}, { __codec = function() return "tostring", { x = co } end }))
end)

test("the depth limit, on both sides", function()
  local function nest(n)
    local t = {}
    for _ = 1, n do t = { t } end
    return t
  end
  assert(type(roundtrip(nest(1000))) == "table")
  local err = raises("luv.codec.encode: nesting deeper than 1000 levels at arg 1[1][1]", encode, nest(1001))
  assert(#err < 400, "the path of a deep value is shortened")
  -- a hand-made deep encoding: 5000 tables, each the first element of the one above
  raises("luv.codec.decode: nesting deeper than 1000 levels at byte",
         decode, unhex("1b4c560101") .. string.rep("\6\1", 5000))
  raises("nesting deeper", decode, unhex("1b4c560101") .. string.rep("\6\1", 5000),
         { functions = false })
end)

---------------------------------------------------------------------------------------
-- Safe mode and malformed input

local function a_function_encoding()
  local x = 1
  return encode({ f = function() return x end, 1, 2 })
end

test("safe mode refuses bytecode and hooks", function()
  local e = a_function_encoding()
  raises("luv.codec.decode: the data holds a function, and functions are refused (functions = false) at byte",
         decode, e, { functions = false })
  assert(decode(e).f() == 1)
  local hooked = encode(setmetatable({}, { __codec = function() return "tostring", 1 end }))
  raises("hooks are refused", decode, hooked, { functions = false })
  assert(decode(hooked, { functions = false, hooks = true }) == "1")
  raises("hooks are refused", decode, hooked, { hooks = false })
  -- library values and the globals are lookups, allowed in safe mode
  local a, g = decode(encode(luv.fiber, _G), { functions = false })
  assert(a == luv.fiber and g == _G)
  raises("'functions' must be a boolean", decode, hooked, { functions = 0 })
  raises("table expected", decode, hooked, 1)
end)

local function rich_encoding()
  local shared = { 1.5, -0.0, "s" }
  local t = { shared, shared, x = { y = "deep", [2^40] = true }, big = math.mininteger,
              lib = luv.fiber, g = _G, s = string.rep("z", 300) }
  t.self = t
  return encode(t, "tail", 12345, nil, false)
end

test("every truncation fails cleanly", function()
  for _, e in ipairs({ rich_encoding(), a_function_encoding() }) do
    assert(decode(e))
    for len = 0, #e - 1 do
      local ok, err = pcall(decode, e:sub(1, len))
      assert(not ok and err:find("^luv%.codec%.decode: "), len .. ": " .. tostring(err))
      ok, err = pcall(decode, e:sub(1, len), { functions = false })
      assert(not ok and err:find("^luv%.codec%.decode: "), len .. ": " .. tostring(err))
    end
  end
end)

test("every single-byte corruption fails cleanly or decodes", function()
  local e = rich_encoding()
  for i = 1, #e do
    for _, b in ipairs({ 0x00, 0x01, 0x07, 0x0c, 0x7f, 0x80, 0xff, e:byte(i) ~ 0x55 }) do
      local bad = e:sub(1, i - 1) .. string.char(b) .. e:sub(i + 1)
      local ok, err = pcall(decode, bad, { functions = false })
      assert(ok or err:find("^luv%.codec%.decode: "), i .. ": " .. tostring(err))
    end
  end
end)

test("malformed headers, tags, lengths and varints", function()
  local h = "1b4c5601"
  local cases = {
    { "", "not luv.codec data (no header) at byte 0" },
    { "1b4c56", "not luv.codec data" },
    { "7b22783a", "not luv.codec data" },
    { "1b4c5602 00", "format version 2, this build reads version 1" },
    { h .. "01 ff", "unknown tag 255 at byte 5" },
    { h .. "01 0c 00 01", "unknown tag 12" },
    { h .. "01 00 00", "trailing bytes after the last value at byte 6" },
    { h .. "02 00", "truncated data (a value count of 2, 1 bytes left) at byte 5" },
    { h .. "02 06 00", "truncated data at byte 7" },
    { h .. "ffffffffffffffff7f", "truncated data (a value count" },
    { h .. "01 05 ffffffffffffffff7f", "truncated data (a string of" },
    { h .. "01 05 05 6869", "truncated data (a string of 5, 2 bytes left)" },
    { h .. "01 06 ffffff7f", "truncated data (an array of" },
    { h .. "01 06 00", "truncated data at byte 7" },
    { h .. "01 03 ffffffffffffffffff7f", "varint out of range" },
    { h .. "01 03 ffffffffffffffffff02", "varint out of range" },
    { h .. "01 03 8000", "varint not in its shortest form" },
    { h .. "01 04 00000000", "truncated data (a float)" },
    { h .. "01 07 00", "reference to an object not decoded yet" },
    { h .. "01 06 01 07 05 00", "reference to an object not decoded yet" },
    { h .. "01 06 00 0b 05046e657874 060000 02 00", "table key is nil" },  -- next({}) is nil
    { h .. "01 06 00 04 000000000000f87f 02 00", "table key is NaN" },
    { h .. "01 0b 07 00 00", "reference to an object whose __codec hook has not returned yet" },
    { h .. "01 0b 03 02 00", "a __codec hook is a number, not a function or a name" },
    { h .. "01 0a 05 6c7576", "truncated data" },
    { h .. "01 08 00", "the data holds a function" },
  }
  for _, c in ipairs(cases) do
    local bytes = unhex(c[1])
    local ok, err = pcall(decode, bytes, { functions = false, hooks = true })
    assert(not ok, c[1] .. " decoded")
    assert(err:find("luv.codec.decode: ", 1, true) == 1 and err:find(c[2], 1, true),
           c[1] .. ": " .. err)
  end
end)

test("forged bytecode and upvalue entries fail cleanly", function()
  raises("cannot load a function", decode, unhex("1b4c5601010803") .. "abc" .. "\0")
  local text = "return 1"
  raises("cannot load a function", decode, unhex("1b4c56010108") .. string.char(#text) .. text .. "\0")
  -- a function whose upvalue count is wrong, or whose shared upvalue points nowhere
  local e = encode(function() return 1 end)  -- no upvalues
  raises("upvalue count does not match", decode, e:sub(1, -2) .. "\1\0")
  local x = 1
  e = encode(function() return x end)
  raises("reference to an object not decoded yet", decode, e:sub(1, -3) .. "\12\5\1")
  raises("shared upvalue number out of range", decode, e:sub(1, -3) .. "\12\0\9")
  e = encode({}, function() return x end)
  raises("shared upvalue of something that is not a Lua function", decode, e:sub(1, -3) .. "\12\0\1")
end)

---------------------------------------------------------------------------------------
-- Golden vectors (docs/codec.md) and the fuzz corpus

test("the golden vectors of docs/codec.md, both ways", function()
  local doc = assert(io.open(root .. "/docs/codec.md"))
  local text = doc:read("a")
  doc:close()
  local section = assert(text:match("\n## Golden vectors\n(.*)$"), "no golden vectors section")
  local env = setmetatable({ luv = luv }, { __index = _G })
  local count = 0
  for line in section:gmatch("[^\n]+") do
    local source, bytes, result = line:match("^| `(.-)`[^|]* | `(%x+)` |(.-)|$")
    if source then
      result = result:match("^%s*(.-)%s*$")
      count = count + 1
      local chunk = source:match("^local") and source or "return " .. source
      local values = table.pack(assert(load(chunk, "=golden", "t", env))())
      local encoded = encode(table.unpack(values, 1, values.n))
      assert(hex(encoded) == bytes, ("%s encodes as %s, expected %s"):format(source, hex(encoded), bytes))
      if result ~= "" then
        values = table.pack(assert(load("return " .. result:match("^`(.*)`$"), "=golden", "t", env))())
      end
      local decoded = table.pack(decode(unhex(bytes)))
      assert(decoded.n == values.n, source .. ": count")
      assert(same(decoded, values), source .. ": decodes to something else")
    end
  end
  assert(count >= 30, "found only " .. count .. " golden vectors")
end)

test("the fuzz corpus decodes or fails cleanly", function()
  local dir = root .. "/tests/fuzz/corpus/codec"
  local p = assert(io.popen("ls -1 '" .. dir .. "' 2>/dev/null"))
  local files = 0
  for name in p:lines() do
    local f = assert(io.open(dir .. "/" .. name, "rb"))
    local bytes = f:read("a")
    f:close()
    files = files + 1
    local ok, err = pcall(decode, bytes, { functions = false })
    assert(ok or err:find("^luv%.codec%.decode: "), name .. ": " .. tostring(err))
    if ok then
      -- what decodes also encodes and decodes again
      local values = table.pack(decode(bytes, { functions = false }))
      decode(encode(table.unpack(values, 1, values.n)), { functions = false })
    end
  end
  p:close()
  assert(files > 0, "no corpus in " .. dir)
end)

test("encode and decode never suspend", function()
  local other_ran = false
  local f = luv.fiber.create(function() other_ran = true end):ready()
  decode(encode({ 1, 2, { 3 } }, "x"))
  assert(not other_ran)
  f:join()
end)

tap.done()
