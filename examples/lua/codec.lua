-- luv.codec: a tuple of Lua values to a string and back, keeping number subtypes, shared
-- tables, cycles, and a class's own way to travel (__codec). docs/lua-api/codec.md quotes it.
local luv = require "luv"

-- Types and identity.
local shared = { "shared" }
local data = { n = 1, x = 1.0, list = { shared, shared } }
data.self = data

local bytes = luv.codec.encode(data, "and more", 42)
local copy, s, n = luv.codec.decode(bytes)
print(math.type(copy.n), math.type(copy.x))             --> integer  float
print(copy.self == copy, copy.list[1] == copy.list[2])  --> true  true
print(s, n)                                             --> and more  42

-- A class that says how its objects travel: the original luv's Point example.
local Point = {}
Point.__index = Point
package.loaded["my.module"] = { Point = Point }

function Point.new() return setmetatable({}, Point) end
function Point:move(x, y) self.x, self.y = x, y end
function Point:__codec()
  return function(spec)
    local Point = require("my.module").Point
    return setmetatable(spec, Point)
  end, { x = self.x, y = self.y }
end

local obj = Point.new()
obj:move(1, 2)
local dec = luv.codec.decode(luv.codec.encode(obj))
print(dec.x, dec.y, getmetatable(dec) == Point)         --> 1  2  true

-- A function travels with its upvalues; the library ones go by name.
local insert, prefix = table.insert, "item "
local function add(list, v)
  insert(list, prefix .. v)
  return list
end
local add_copy = luv.codec.decode(luv.codec.encode(add))
print(table.concat(add_copy({}, 1), ","))               --> item 1

-- What cannot travel says where it is.
local _, err = pcall(luv.codec.encode, { conn = { co = coroutine.create(print) } })
print(err)  --> luv.codec.encode: cannot encode a coroutine at arg 1.conn.co

-- Untrusted bytes: safe mode loads no code.
print(pcall(luv.codec.decode, luv.codec.encode(add), { functions = false }))
