-- Shared harness of the real-client tests (tests/lua/socket_clients/*.lua).
--
-- These tests run unmodified LuaSocket clients (Debian's socket.http, socket.smtp, ltn12,
-- lua-redis, and lua-nats when a copy is given) against real servers started by the test
-- (redis-server, nats-server, and the small fixture servers of this directory), with the
-- clients inside luv fibers. They check the results byte for byte, and, with the drop-in,
-- that a fiber blocked in a client call lets the others run.
--
--   lua5.4 tests/lua/socket_clients/redis.lua                    -- drop-in: require "luv.socket"
--   SOCKET_IMPL=stock lua5.4 tests/lua/socket_clients/redis.lua  -- stock LuaSocket, to check the tests
--
-- (with LUA_CPATH pointing at the build's luv.so and LUA_PATH at lua/ and tests/lua/, as
-- meson's lua_test_env does.) The default is the drop-in: the first thing this harness
-- does is `require "luv.socket"`, and if that fails the file ends with one "not ok" line.
-- With SOCKET_IMPL=stock the drop-in is not loaded: stock LuaSocket blocks the whole
-- thread, so the fibers run one after the other, and the cases that need one fiber to run
-- while another waits are reported as skipped (C.dropin_test).
--
-- Each file loads this one with dofile (not require: the test files are named after the
-- libraries they test, redis.lua, nats.lua, so this directory must not be on package.path):
--
--   local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
--   local C = dofile(HERE .. "/clients.lua")
--
-- Output is TAP from tests/lua/tap.lua: each case runs in a fiber of its own.
-- Servers are started with luv.process (C.spawn): C.finish() stops them, pass or fail; a
-- watching shell stops each one within a second once this process is gone, and
-- `timeout` bounds its life whatever happens.

-- This file's directory, and the repository's Lua dirs (for tap.lua, and lua/luv/ in
-- case the drop-in has Lua parts there), after whatever LUA_PATH says.
local HERE = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = package.path .. ";" .. HERE .. "/../?.lua;" .. HERE .. "/../../../lua/?.lua;"
  .. HERE .. "/../../../lua/?/init.lua"

local IMPL = os.getenv("SOCKET_IMPL") or "luv"
local NAME = "socket_clients/" .. ((arg and arg[0] or "?"):match("([^/]*)$"))

if IMPL == "luv" then
  local ok, err = pcall(require, "luv.socket")
  if not ok then
    print("not ok 1 - " .. NAME .. ": require \"luv.socket\" failed, the LuaSocket drop-in is"
      .. " missing (" .. tostring(err):match("^[^\n]*") .. "); SOCKET_IMPL=stock runs these"
      .. " tests on stock LuaSocket")
    print("1..1")
    os.exit(1)
  end
elseif IMPL ~= "stock" then
  print("not ok 1 - " .. NAME .. ": unknown SOCKET_IMPL=" .. IMPL .. " (expected 'luv' or 'stock')")
  print("1..1")
  os.exit(1)
end

local tap = require("tap")
local luv = tap.luv
local socket = require("socket")

local C = { tap = tap, luv = luv, socket = socket, IMPL = IMPL, HERE = HERE,
            dropin = IMPL == "luv" }

print(("# %s: SOCKET_IMPL=%s, socket.core from %s, %s"):format(NAME, IMPL,
  package.preload["socket.core"] and "package.preload"
    or package.searchpath("socket.core", package.cpath) or "?", tostring(socket._VERSION)))

C.test = tap.test

--- A case that needs the drop-in: one fiber must run while another waits in a client call.
--- Under stock LuaSocket it is reported as skipped.
function C.dropin_test(name, fn, ...)
  if C.dropin then
    return tap.test(name, fn, ...)
  end
  tap.skip(name, "needs the drop-in: stock LuaSocket blocks the whole thread")
end

function C.skip(name, reason) tap.skip(name, reason) end

function C.now() return luv.hrtime() / 1e9 end

--- Seconds fn(...) took, then its results.
function C.timed(fn, ...)
  local t0 = C.now()
  local r = table.pack(fn(...))
  return C.now() - t0, table.unpack(r, 1, r.n)
end

--- Short printable form of a value for assertion messages.
function C.show(v)
  if type(v) == "string" then
    if #v > 60 then return ("%q...(%d bytes)"):format(v:sub(1, 60), #v) end
    return ("%q"):format(v)
  end
  return tostring(v)
end

function C.eq(what, expected, actual)
  if expected ~= actual then
    error(("%s: expected %s, got %s"):format(what, C.show(expected), C.show(actual)), 2)
  end
  return actual
end

function C.between(what, v, lo, hi)
  if type(v) ~= "number" or v < lo or v > hi then
    error(("%s: expected between %s and %s, got %s"):format(what, lo, hi, C.show(v)), 2)
  end
end

--- Every byte value 0..255, twice, with \r\n and \0 runs around it.
function C.binary()
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  local all = table.concat(t)
  return "\r\n\0" .. all .. "\0\0\r\n\r\n" .. all:reverse() .. "\n\r\0"
end

--- n bytes of a deterministic, non-repeating-looking pattern (every byte value occurs).
function C.blob(n, seed)
  seed = seed or 1
  local parts, chunk = {}, {}
  for i = 1, 4096 do chunk[i] = string.char((i * 7 + seed * 13 + (i // 256) * 3) % 256) end
  local block = table.concat(chunk)
  local full = n // #block
  for i = 1, full do parts[i] = block end
  parts[#parts + 1] = block:sub(1, n - full * #block)
  return table.concat(parts)
end

--- Runs fn(i, ...) in n fibers at once, joins them all (each within `limit` seconds),
--- and returns their first results in a table. The first error is raised after every
--- fiber has ended or been cancelled.
function C.fibers(n, limit, fn, ...)
  local fibers, results, first_err = {}, {}, nil
  for i = 1, n do
    fibers[i] = luv.fiber.create(fn, i, ...)
    fibers[i]:ready()
  end
  local deadline = C.now() + limit
  for i = 1, n do
    local ok, r = pcall(fibers[i].join, fibers[i], math.max(0.01, deadline - C.now()))
    if ok then
      results[i] = r
    else
      first_err = first_err or ("fiber " .. i .. ": " .. tostring(r))
      if fibers[i]:status() ~= "dead" then
        fibers[i]:cancel()
        pcall(fibers[i].join, fibers[i], 5)
      end
    end
  end
  if first_err then error(first_err, 0) end
  return results
end

--- Starts fn(...) in a fiber now; returns the fiber (join it later).
function C.go(fn, ...)
  return luv.fiber.create(fn, ...):ready()
end

----------------------------------------------------------------------------------------
-- Temp dir, ports, servers
----------------------------------------------------------------------------------------

local function shquote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
C.shquote = shquote

local tmpdir
function C.tmpdir()
  if not tmpdir then
    tmpdir = assert(luv.fs.mkdtemp("/tmp/luv-clients-XXXXXX"))
  end
  return tmpdir
end

--- A TCP port on 127.0.0.1 that nobody listens on (bound, then released).
function C.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return assert(tonumber(port))
end

function C.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- This process's id (for the fixture servers, which exit once it is gone).
function C.mypid()
  local f = assert(io.open("/proc/self/stat", "r"))
  local pid = f:read("l"):match("^(%d+)")
  f:close()
  return pid
end

local procs = {}
local LIFETIME = tonumber(os.getenv("CLIENTS_SERVER_LIFETIME")) or 300

-- The shell that runs each server: the server in the background (its output to the
-- log), then a watch that stops it once this process is gone (killed, crashed: a zombie
-- counts as gone), and a TERM trap that stops it when C.stop() asks. `timeout
-- --foreground` bounds its life whatever happens, and stays in this process group,
-- which meson kills on a timeout.
local WATCH = [[
log=$1; parent=$2; shift 2
exec 2>>"$log"
alive() { s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1); [ -n "$s" ] && [ "$s" != Z ]; }
"$@" </dev/null >>"$log" 2>&1 &
child=$!
trap 'kill $child 2>/dev/null; wait $child; exit 0' TERM INT
while alive "$parent" && alive "$child"; do
  sleep 0.5 & wait $!
done
kill "$child" 2>/dev/null
wait "$child"
]]

--- Starts argv (a list) as a server, its stdout and stderr to <tmpdir>/<name>.log.
--- Returns a server object {proc, log, name}.
function C.spawn(name, argv)
  local log = C.tmpdir() .. "/" .. name .. ".log"
  local opts = { "-c", WATCH, "sh", log, C.mypid(), "timeout", "--foreground", "-k", "2",
                 tostring(LIFETIME) }
  for _, a in ipairs(argv) do opts[#opts + 1] = a end
  opts.stdin = "ignore"
  local proc = assert(luv.process.spawn("/bin/sh", opts))
  local srv = { proc = proc, log = log, name = name }
  procs[#procs + 1] = srv
  return srv
end

--- True while the server's process runs.
function C.running(srv)
  local status = srv.proc:wait(0)
  return status == nil
end

function C.log_tail(srv, n)
  local text = C.read_file(srv.log) or ""
  local lines = {}
  for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
  return table.concat(lines, "\n", math.max(1, #lines - (n or 8) + 1))
end

--- Waits until probe() returns true (at most `seconds`), while the server runs.
--- Returns true, or false and why.
function C.wait_ready(srv, probe, seconds)
  local deadline = C.now() + (seconds or 15)
  while C.now() < deadline do
    if probe() then return true end
    local status, sig = srv.proc:wait(0.05)
    if status then
      return false, ("%s exited (status %s, signal %s): %s"):format(srv.name, status,
        tostring(sig), C.log_tail(srv))
    end
  end
  return false, srv.name .. " did not get ready within " .. (seconds or 15) .. " s: "
    .. C.log_tail(srv)
end

--- A probe: something accepts TCP connections on 127.0.0.1:port.
function C.tcp_probe(port)
  return function()
    local s = socket.tcp()
    s:settimeout(0.5)
    local ok = s:connect("127.0.0.1", port)
    s:close()
    return ok and true or false
  end
end

--- A probe: something accepts on the unix socket at path.
function C.unix_probe(path)
  return function()
    local s = require("socket.unix")()
    s:settimeout(0.5)
    local ok = s:connect(path)
    s:close()
    return ok and true or false
  end
end

--- Starts a fixture server that writes its TCP port to a file: argv gets the file's
--- name and this process's id appended. Returns the server object and the port.
function C.start_fixture(name, argv, seconds)
  local port_file = C.tmpdir() .. "/" .. name .. ".port"
  os.remove(port_file)
  local full = { table.unpack(argv) }
  full[#full + 1] = port_file
  full[#full + 1] = C.mypid()
  local srv = C.spawn(name, full)
  local port
  local ok, why = C.wait_ready(srv, function()
    port = port or tonumber((C.read_file(port_file) or ""):match("^(%d+)\n"))
    return port ~= nil and C.tcp_probe(port)()
  end, seconds or 20)
  if not ok then error("could not start " .. name .. ": " .. why, 0) end
  srv.port = port
  return srv, port
end

--- Stops a server: TERM, then KILL after 3 s.
function C.stop(srv)
  if srv.stopped then return end
  srv.stopped = true
  if C.running(srv) then
    srv.proc:kill("TERM")
    if not srv.proc:wait(3) then
      srv.proc:kill("KILL")
      srv.proc:wait(3)
    end
  end
  srv.proc:close()
end

--- Stops every server and removes the temp dir, then prints the TAP summary and exits.
function C.finish()
  for i = #procs, 1, -1 do pcall(C.stop, procs[i]) end
  if tmpdir and os.getenv("CLIENTS_KEEP_TMP") ~= "1" then
    os.execute("rm -rf " .. shquote(tmpdir))
  end
  tap.done()
  os.exit(0)
end

--- Runs main() (which registers the cases); an error out of it becomes a failed case.
--- Servers are stopped whatever happens.
function C.main(main)
  local ok, err = xpcall(main, debug.traceback)
  if not ok then
    tap.test("harness", function() error(err, 0) end)
  end
  C.finish()
end

return C
