// luv.process.run: spawn a child, feed it input, capture its output, wait for it. Written
// in Lua over spawn, since it is fibers and streams all the way down: one fiber drains
// stdout, one stderr, one writes stdin, while the caller waits for the exit.
#include "binding/module.hpp"

namespace luv::lua {
namespace {

constexpr char run_source[] = R"lua(
local spawn, fiber = ...

local function drain(stream, parts)
    while true do
        local n, data = stream:read()
        if not n then
            break
        end
        parts[#parts + 1] = data
    end
    stream:close()
end

local function feed(stream, input)
    if #input > 0 then
        stream:write(input)
    end
    stream:close()
end

local function check(cond, n, msg)
    if not cond then
        error(("bad argument #%d to 'run' (%s)"):format(n, msg), 3)
    end
end

-- run(file[, args[, opts]]) -> exit_status, stdout, stderr, term_signal | fail
-- Suspends until the child has exited and its output is read. opts: those of spawn,
-- plus input (a string for its stdin) and timeout (seconds; the child is then killed).
return function(file, args, opts)
    check(type(file) == "string", 1, "string expected, got " .. type(file))
    check(args == nil or type(args) == "table", 2, "table expected, got " .. type(args))
    check(opts == nil or type(opts) == "table", 3, "table expected, got " .. type(opts))
    local o = {}
    for k, v in pairs(opts or {}) do
        o[k] = v
    end
    if args then
        check(o.args == nil and o[1] == nil, 3, "arguments given twice: in args and in opts")
        o.args = args
    end
    local input, timeout = o.input, o.timeout
    o.input, o.timeout = nil, nil
    check(input == nil or type(input) == "string", 3, "input must be a string")
    check(timeout == nil or type(timeout) == "number" and timeout >= 0, 3,
          "timeout must be a number >= 0")
    if input ~= nil then
        check(o.stdin == nil, 3, "input and stdin given together")
        o.stdin = "pipe"
    end
    if o.stdout == nil then
        o.stdout = "pipe"
    end
    if o.stderr == nil then
        o.stderr = "pipe"
    end
    local proc, err, code = spawn(file, o)
    if not proc then
        return nil, err, code
    end
    local out, errs, helpers = {}, {}, {}
    if proc.stdout and o.stdout == "pipe" then
        helpers[#helpers + 1] = fiber.create(drain, proc.stdout, out)
    end
    if proc.stderr and o.stderr == "pipe" then
        helpers[#helpers + 1] = fiber.create(drain, proc.stderr, errs)
    end
    if input ~= nil then
        helpers[#helpers + 1] = fiber.create(feed, proc.stdin, input)
    end
    for _, f in ipairs(helpers) do
        f:ready()
    end
    local status, signal, ename = proc:wait(timeout)
    if not status then
        -- Timed out (or cancelled): kill it, and close the pipes, which a grandchild
        -- may hold open, so that the helpers end.
        proc:kill("SIGKILL")
        for _, name in ipairs({ "stdin", "stdout", "stderr" }) do
            if proc[name] then
                proc[name]:close()
            end
        end
    end
    for _, f in ipairs(helpers) do
        f:join()
    end
    proc:close()
    if not status then
        return nil, signal, ename
    end
    return status, o.stdout == "pipe" and table.concat(out) or nil,
        o.stderr == "pipe" and table.concat(errs) or nil, signal
end
)lua";

}  // namespace

void push_process_run(lua_State* L) {
    if (luaL_loadbufferx(L, run_source, sizeof run_source - 1, "=luv.process.run", "t") !=
        LUA_OK) {
        lua_error(L);  // a bug in the source above
    }
    lua_getfield(L, -2, "spawn");
    lua_getfield(L, -4, "fiber");
    lua_call(L, 2, 1);
}

}  // namespace luv::lua
