-- luv.hrtime, luv.mem_total, luv.mem_free, luv.cpu_info, luv.interface_addresses,
-- luv.version, luv.stats.
local tap = require("tap")
local luv, test = tap.luv, tap.test

local function is_count(v)
  return math.type(v) == "integer" and v >= 0
end

test("hrtime is an increasing integer of nanoseconds", function()
  local a = luv.hrtime()
  luv.sleep(0.002)
  local b = luv.hrtime()
  assert(math.type(a) == "integer" and math.type(b) == "integer")
  assert(b - a >= 1000000, "2 ms sleep measured as " .. (b - a) .. " ns")
end)

test("mem_total and mem_free", function()
  local total, free = luv.mem_total(), luv.mem_free()
  assert(math.type(total) == "integer" and total > 0)
  assert(math.type(free) == "integer" and free > 0 and free <= total)
end)

test("cpu_info", function()
  local cpus = luv.cpu_info()
  assert(type(cpus) == "table" and #cpus >= 1)
  for _, cpu in ipairs(cpus) do
    assert(type(cpu.model) == "string")
    assert(is_count(cpu.speed))
    assert(type(cpu.times) == "table")
    for _, k in ipairs({ "user", "nice", "sys", "idle", "irq" }) do
      assert(is_count(cpu.times[k]), "times." .. k)
    end
  end
end)

test("interface_addresses", function()
  local addrs = luv.interface_addresses()
  assert(type(addrs) == "table" and #addrs >= 1)
  local loopback
  for _, a in ipairs(addrs) do
    assert(type(a.name) == "string" and a.name ~= "")
    assert(a.family == "inet" or a.family == "inet6", tostring(a.family))
    assert(type(a.address) == "string" and type(a.netmask) == "string")
    assert(type(a.mac) == "string" and type(a.is_internal) == "boolean")
    if a.family == "inet" then
      assert(a.address:match("^%d+%.%d+%.%d+%.%d+$"), a.address)
      assert(a.netmask:match("^%d+%.%d+%.%d+%.%d+$"), a.netmask)
    end
    if a.address == "127.0.0.1" then
      loopback = a
    end
  end
  assert(loopback, "127.0.0.1 is missing")
  assert(loopback.is_internal == true and loopback.family == "inet")
  assert(loopback.netmask == "255.0.0.0", loopback.netmask)
end)

test("version", function()
  assert(type(luv.version) == "string" and luv.version:match("^luv %d+%.%d+%.%d+"), luv.version)
end)

test("stats", function()
  local s = luv.stats()
  for _, k in ipairs({ "stacks_in_use", "stacks_cached", "stack_size", "switches" }) do
    assert(is_count(s[k]), k)
  end
  assert(s.stack_size >= 64 * 1024)
  local before = s.switches
  luv.fiber.yield()
  assert(luv.stats().switches > before)
end)

test("the utilities never suspend", function()
  local other_ran = false
  local f = luv.fiber.create(function() other_ran = true end):ready()
  luv.hrtime(); luv.mem_total(); luv.mem_free(); luv.cpu_info()
  luv.interface_addresses(); luv.stats()
  assert(not other_ran)
  f:join()
end)

tap.done()
