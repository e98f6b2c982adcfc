-- Helpers shared by the benchmark scripts (loaded with LUA_PATH=tests/bench/?.lua).
-- Every implementation uses the same wall clock (LuaSocket's gettime, microseconds) and
-- reads its memory from /proc/self/status, so that the figures compare.
local bench = {}

local ok, socket = pcall(require, "socket")
if ok and socket.gettime then
    bench.now = socket.gettime
else
    -- Without LuaSocket: CPU time, which is wall time only for the CPU-bound shapes.
    io.stderr:write("bench.lua: LuaSocket missing, timing with os.clock()\n")
    bench.now = os.clock
end

--- A field of /proc/self/status in KiB (VmRSS: resident now, VmHWM: peak resident).
function bench.status_kb(field)
    local f = assert(io.open("/proc/self/status"))
    local text = f:read("a")
    f:close()
    return assert(tonumber(text:match(field .. ":%s*(%d+) kB")), field)
end

--- Full collections (until the heap stops shrinking, at most 5), then the resident
--- size in KiB and the Lua heap in KiB.
function bench.settled_rss()
    for _ = 1, 5 do
        local before = collectgarbage("count")
        collectgarbage("collect")
        if collectgarbage("count") >= before then
            break
        end
    end
    return bench.status_kb("VmRSS"), collectgarbage("count")
end

--- The one line the runner reads: RESULT <name> <value> <unit>.
function bench.result(name, value, unit)
    print(string.format("RESULT %s %.6g %s", name, value, unit))
    io.stdout:flush()
end

--- A positive integer argument (arg[i]) or the default.
function bench.arg(i, default)
    local n = tonumber(arg and arg[i])
    return n and math.floor(n) or default
end

return bench
