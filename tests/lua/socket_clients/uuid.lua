-- A stand-in for the `uuid` rock that lua-nats requires (nats.lua calls uuid() for
-- subscription ids and inbox names, and uuid.seed() once per client): a callable module
-- that returns a version-4-shaped id, unique within the process (a counter is part of it,
-- so fibers that create ids at once never collide). Only for the tests of nats.lua.
local uuid = {}

local counter = 0

function uuid.seed(n)
  math.randomseed(n or os.time(), counter)
end

function uuid.new()
  counter = counter + 1
  return ("%08x-%04x-4%03x-%04x-%012x"):format(math.random(0, 0x7fffffff),
    math.random(0, 0xffff), math.random(0, 0xfff), 0x8000 + math.random(0, 0x3fff), counter)
end

return setmetatable(uuid, { __call = function() return uuid.new() end })
