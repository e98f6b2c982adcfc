-- host_script.lua - the script examples/cpp/lua_host.cpp runs as a fiber.
--
-- `host` is the table of C++ functions the host put in the globals. host.lookup
-- suspends only the fiber that calls it, so the three lookups below overlap.
local luv = require "luv"

local items = { "apple", "bread", "cheese" }

local started = luv.hrtime()
local fibers = {}
for i, name in ipairs(items) do
  fibers[i] = luv.fiber.create(function()
    return name, host.lookup(name)
  end):ready()
end

local total = 0
for _, f in ipairs(fibers) do
  local name, price = f:join()
  print(string.format("  %-7s %5.2f", name, price))
  total = total + price
end
-- A ratio, not milliseconds: one lookup takes 30 ms in the host.
print(string.format("3 lookups took %.1fx the time of one", (luv.hrtime() - started) / 30e6))

-- A C++ exception inside host.lookup reaches Lua as an ordinary error.
local ok, err = pcall(host.lookup, "caviar")
print("  caviar: " .. (ok and "found" or err))

return total, #items
