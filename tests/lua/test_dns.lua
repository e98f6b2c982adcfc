-- luv.net.getaddrinfo and luv.net.getnameinfo. Only names the hosts file answers
-- ("localhost" as IPv4) and numeric hosts are resolved: nothing here leaves the machine.
-- An IPv6 "localhost" or an unknown name would ask the DNS server, so the error path
-- uses numerichost, or a malformed name, which glibc refuses without asking anyone.
local tap = require("tap")
local luv, test, raises, fails = tap.luv, tap.test, tap.raises, tap.fails
local net = luv.net

local function find(list, pred)
  for _, a in ipairs(list) do
    if pred(a) then return a end
  end
end

test("getaddrinfo of localhost gives 127.0.0.1, once per socket type", function()
  local list = assert(net.getaddrinfo("localhost"))
  assert(#list >= 2, "expected several entries, got " .. #list)
  for _, a in ipairs(list) do
    assert(a.family == "inet" and a.address == "127.0.0.1" and a.port == 0, a.address)
    assert(a.canonname == nil)
  end
  assert(find(list, function(a) return a.socktype == "stream" and a.protocol == "tcp" end))
  assert(find(list, function(a) return a.socktype == "dgram" and a.protocol == "udp" end))
end)

test("numeric hosts need no lookup: IPv4 and IPv6", function()
  local list = assert(net.getaddrinfo("::1", nil, { socktype = "dgram" }))
  assert(#list == 1)
  local a = list[1]
  assert(a.family == "inet6" and a.address == "::1" and a.port == 0)
  assert(a.socktype == "dgram" and a.protocol == "udp")
  list = assert(net.getaddrinfo("127.0.0.1", 8080, { socktype = "stream" }))
  assert(#list == 1 and list[1].port == 8080 and list[1].protocol == "tcp")
end)

test("service names: http is 80, with family and socktype hints", function()
  -- /etc/services names http for TCP only, and domain (53) for both.
  local services = { stream = { "http", 80 }, dgram = { "domain", 53 } }
  for _, family in ipairs({ "inet", "inet6" }) do
    local host = family == "inet" and "localhost" or "::1"
    for _, socktype in ipairs({ "stream", "dgram" }) do
      local service, port = table.unpack(services[socktype])
      local list = assert(net.getaddrinfo(host, service, { family = family, socktype = socktype }))
      assert(#list == 1, family .. " " .. socktype .. ": " .. #list .. " entries")
      local a = list[1]
      assert(a.family == family and a.port == port and a.socktype == socktype)
      assert(a.protocol == (socktype == "stream" and "tcp" or "udp"))
    end
  end
  fails("EAI_SERVICE", net.getaddrinfo("localhost", "http", { socktype = "dgram" }))
end)

test("the protocol hint selects the socket type", function()
  local list = assert(net.getaddrinfo("127.0.0.1", "domain", { protocol = "udp" }))
  assert(#list == 1 and list[1].socktype == "dgram" and list[1].port == 53)
end)

test("canonname, passive, and a service without a host", function()
  local list = assert(net.getaddrinfo("localhost", nil, { family = "inet", socktype = "stream",
                                                          canonname = true }))
  assert(list[1].canonname == "localhost")
  list = assert(net.getaddrinfo(nil, "http", { socktype = "stream", passive = true }))
  assert(find(list, function(a) return a.address == "0.0.0.0" and a.port == 80 end))
  list = assert(net.getaddrinfo(nil, "http", { family = "inet", socktype = "stream" }))
  assert(#list == 1 and list[1].address == "127.0.0.1")
end)

test("resolution failures return EAI_* names", function()
  local v, msg, name = net.getaddrinfo("nonexistent.invalid", nil, { numerichost = true })
  assert(v == nil)
  assert(msg == "EAI_NONAME: unknown node or service: nonexistent.invalid", msg)
  assert(name == "EAI_NONAME")
  fails("EAI_NONAME", net.getaddrinfo("bad name!"))
  fails("EAI_SERVICE", net.getaddrinfo("127.0.0.1", "no-such-service-here"))
  local _, err = net.getaddrinfo("127.0.0.1", "no-such-service-here")
  assert(err:find("127.0.0.1 (service no-such-service-here)", 1, true), err)
  fails("EAI_ADDRFAMILY", net.getaddrinfo("::1", nil, { family = "inet" }))
  fails("EAI_NONAME", net.getaddrinfo("localhost", "http", { numericserv = true }))
end)

test("getaddrinfo misuse raises", function()
  raises("a host or a service expected", net.getaddrinfo)
  raises("unknown family \"ipx\"", net.getaddrinfo, "localhost", nil, { family = "ipx" })
  raises("unknown socktype \"packet\"", net.getaddrinfo, "localhost", nil, { socktype = "packet" })
  raises("unknown protocol \"sctp\"", net.getaddrinfo, "localhost", nil, { protocol = "sctp" })
  raises("field 'family' must be a string", net.getaddrinfo, "localhost", nil, { family = 4 })
  raises("table expected", net.getaddrinfo, "localhost", nil, "inet")
  raises("timeout must be a number >= 0", net.getaddrinfo, "localhost", nil, { timeout = -1 })
end)

test("getnameinfo of 127.0.0.1:80 is localhost, http", function()
  local host, service = net.getnameinfo("127.0.0.1", 80)
  assert(host == "localhost" and service == "http", tostring(host) .. " " .. tostring(service))
  host, service = net.getnameinfo({ family = "inet", address = "127.0.0.1", port = 53 },
                                  { dgram = true })
  assert(host == "localhost" and service == "domain")
  host, service = net.getnameinfo("127.0.0.1", 80, { numerichost = true, numericserv = true })
  assert(host == "127.0.0.1" and service == "80")
  host, service = net.getnameinfo("::1", 80, { numerichost = true })
  assert(host == "::1" and service == "http")
end)

test("getnameinfo accepts what getaddrinfo returns", function()
  local a = assert(net.getaddrinfo("127.0.0.1", "http", { socktype = "stream" }))[1]
  local host, service = net.getnameinfo(a)
  assert(host == "localhost" and service == "http")
end)

test("getnameinfo failures", function()
  fails("EINVAL", net.getnameinfo("localhost", 80))  -- the host must be numeric
  fails("EINVAL", net.getnameinfo({ family = "inet6", address = "127.0.0.1", port = 80 }))
  raises("port must be in 0..65535", net.getnameinfo, "127.0.0.1", 70000)
  raises("field 'address' must be a string", net.getnameinfo, { port = 80 })
end)

test("a timeout gives ETIMEDOUT; the abandoned request frees itself", function()
  -- A timeout of 0 expires in the loop's timer phase, before the threadpool's answer
  -- is delivered: the wait ends first, every time.
  for _ = 1, 20 do
    fails("ETIMEDOUT", net.getaddrinfo("localhost", nil, { timeout = 0 }))
    fails("ETIMEDOUT", net.getnameinfo("127.0.0.1", 80, { timeout = 0 }))
  end
  assert(net.getaddrinfo("localhost", nil, { timeout = 5 }))
  assert(net.getnameinfo("127.0.0.1", 80, { timeout = 5 }))
  luv.sleep(0.05)  -- the abandoned requests come back and are freed meanwhile
end)

test("fiber:cancel() interrupts getaddrinfo and getnameinfo", function()
  for _, call in ipairs({
    function() return net.getaddrinfo("localhost") end,
    function() return net.getnameinfo("127.0.0.1", 80) end,
  }) do
    -- The canceller runs right after the resolver's fiber suspends, before the loop
    -- polls; should a poll fall in between and the answer win, try again.
    local cancelled = 0
    for _ = 1, 10 do
      local f = luv.fiber.create(call):ready()
      luv.fiber.yield()
      assert(f:status() == "suspended")
      f:cancel()
      local ok, err, name = f:join()
      if ok == nil then
        fails("ECANCELED", ok, err, name)
        cancelled = cancelled + 1
      end
    end
    assert(cancelled > 0)
  end
end)

test("a ticker keeps running while fibers resolve", function()
  local ticks, done = 0, false
  local ticker = luv.fiber.create(function()
    while not done do
      ticks = ticks + 1
      luv.fiber.yield()
    end
  end):ready()
  local fibers = {}
  for i = 1, 20 do
    fibers[i] = luv.fiber.create(function()
      return assert(net.getaddrinfo("127.0.0.1", 1000 + i, { socktype = "dgram" }))[1].port
    end):ready()
  end
  for i = 1, 20 do
    assert(fibers[i]:join() == 1000 + i)
  end
  done = true
  ticker:join()
  assert(ticks >= 1, "the ticker never ran while the resolver worked")
end)

test("resolving inside a table.sort comparator (the fiber parks)", function()
  local t = { 3, 1, 2 }
  table.sort(t, function(a, b)
    assert(net.getaddrinfo("127.0.0.1"))
    return a < b
  end)
  assert(t[1] == 1 and t[3] == 3)
end)

tap.test_main("resolving from the main chunk", function()
  local hints = { family = "inet", socktype = "stream" }
  local list = assert(net.getaddrinfo("localhost", "http", hints))
  assert(list[1].port == 80)
  assert(net.getnameinfo("127.0.0.1", 80) == "localhost")
end)

tap.done()
