-- Shared harness of the LuaSocket conformance suite (tests/lua/socket_conformance/*.lua).
--
-- The suite pins down what stock LuaSocket 3.1.0 (Debian's lua-socket, Lua 5.4) does, so
-- that the same files can be run against luv's drop-in `socket.core` and every difference
-- shows up as a failing case. Each case file runs on its own:
--
--   lua5.4 tests/lua/socket_conformance/tcp.lua                   -- stock LuaSocket
--   SOCKET_IMPL=luv lua5.4 tests/lua/socket_conformance/tcp.lua   -- drop-in (require "luv.socket")
--   build/src/cli/luv tests/lua/socket_conformance/tcp.lua        -- drop-in installed by the CLI
--
-- The files: tcp.lua (TCP client I/O), server.lua (TCP classes, servers, IPv6),
-- udp_unix.lua (UDP, unix sockets), misc.lua (module, select, time, DNS, try, ltn12).
-- Each one starts with
--
--   local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
--   package.path = dir .. "/?.lua;" .. package.path
--   local H = require("harness")
--
-- so the harness is found next to the file whatever the working directory and LUA_PATH.
-- Requiring it handles SOCKET_IMPL (loading the drop-in, or failing with one "not ok"
-- line), loads socket and ltn12 and prints a "#" line saying where socket.core came from.
--
-- Output: "ok N - name" / "not ok N - name: first line" (+ "#   " detail lines), numbered
-- per file, and a last line "# N passed, M failed" (H.done()); the exit status is 0 only
-- if nothing failed.
--
-- Since stock LuaSocket blocks, the far end of most TCP connections is a separate process,
-- peer.lua in this directory, always run with `lua5.4` and stock LuaSocket; H.start_peer()
-- starts it and H.done() stops it. Each connection to it starts with a one-line script
-- (see the peer's header for the steps). UDP, unix sockets and a few TCP cases talk to
-- themselves in-process (the kernel completes a connect to a listening socket before
-- accept, and small sends never block).
--
-- All traffic stays on 127.0.0.1, ::1 (skipped if unavailable) and unix sockets in the
-- temp directory. Every wait is bounded; each file takes a few seconds.
--
-- Conventions in the checks: `expect(what, {n = k, ...}, f())` compares the whole result
-- list, its length included (stock returns e.g. `data, nil, nil` from receive); numbers
-- compare with their subtype (LuaSocket pushes most counts with lua_pushnumber, so they
-- are floats in 5.4: `5.0`, not `5`); error messages compare exactly, after stripping the
-- "file:line: " position prefix.

local H = {}

-- This file's directory (require passes the file name as the second argument), else the
-- running script's.
local HERE = (select(2, ...) or (arg and arg[0]) or ""):match("^(.*)/[^/]*$") or "."
local NAME = "socket_conformance/" .. ((arg and arg[0] or "?"):match("([^/]*)$"))

local IMPL = os.getenv("SOCKET_IMPL") or "stock"

if IMPL == "luv" then
  -- The drop-in installs itself through package.preload["socket.core"] (and friends).
  local ok, err = pcall(require, "luv.socket")
  if not ok then
    print("not ok 1 - SOCKET_IMPL=luv: require \"luv.socket\" failed: "
      .. tostring(err):match("^[^\n]*"))
    print("# 0 passed, 1 failed")
    os.exit(1)
  end
elseif IMPL ~= "stock" then
  print("not ok 1 - unknown SOCKET_IMPL=" .. IMPL .. " (expected 'luv' or unset)")
  print("# 0 passed, 1 failed")
  os.exit(1)
end

local socket = require("socket")
H.socket = socket
H.ltn12 = require("ltn12")
H.IMPL = IMPL

print(("# %s: SOCKET_IMPL=%s, socket.core from %s, _VERSION %s"):format(NAME, IMPL,
  package.preload["socket.core"] and "package.preload"
    or package.searchpath("socket.core", package.cpath) or "?", tostring(socket._VERSION)))

----------------------------------------------------------------------------------------
-- Cases and reporting
----------------------------------------------------------------------------------------

local count, passed, failed = 0, 0, 0
local tracked, tmpfiles = {}, {}

-- Sockets made by a case are closed after it, pass or fail, so that the peer sees EOF.
function H.track(s)
  if s then tracked[#tracked + 1] = s end
  return s
end

-- A fresh temp path, removed after the case.
function H.tmppath()
  local p = os.tmpname()
  os.remove(p) -- os.tmpname creates the file; sockets need the name free
  tmpfiles[#tmpfiles + 1] = p
  return p
end

local function cleanup()
  for _, s in ipairs(tracked) do pcall(function() s:close() end) end
  tracked = {}
  for _, p in ipairs(tmpfiles) do os.remove(p) end
  tmpfiles = {}
end

local SKIP = {}
function H.skip(reason) error(setmetatable({ reason = reason }, SKIP), 0) end

function H.case(name, fn)
  count = count + 1
  local ok, err = xpcall(fn, function(e)
    if getmetatable(e) == SKIP then return e end
    return debug.traceback(tostring(e), 2)
  end)
  cleanup()
  if ok then
    passed = passed + 1
    print(("ok %d - %s"):format(count, name))
  elseif getmetatable(err) == SKIP then
    passed = passed + 1
    print(("ok %d - %s # SKIP %s"):format(count, name, err.reason))
  else
    failed = failed + 1
    local text = tostring(err)
    local first, rest = text:match("^([^\n]*)\n?(.*)$")
    print(("not ok %d - %s: %s"):format(count, name, first))
    for line in rest:gmatch("[^\n]+") do print("#   " .. line) end
  end
  io.stdout:flush()
end

----------------------------------------------------------------------------------------
-- Checks
----------------------------------------------------------------------------------------

local function show(v)
  if type(v) == "string" then
    if #v > 60 then return ("%q...(%d bytes)"):format(v:sub(1, 60), #v) end
    return ("%q"):format(v)
  elseif math.type(v) == "float" then
    return ("%s (float)"):format(tostring(v))
  elseif math.type(v) == "integer" then
    return ("%s (integer)"):format(tostring(v))
  end
  return tostring(v)
end

local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then return math.type(a) == math.type(b) and a == b end
  return a == b
end

function H.check(what, expected, actual)
  if not same(expected, actual) then
    error(("%s: expected %s, got %s"):format(what, show(expected), show(actual)), 2)
  end
end

function H.truthy(what, v)
  if not v then error(what, 2) end
  return v
end

local function showlist(t)
  local parts = {}
  for i = 1, t.n do parts[i] = show(t[i]) end
  return "(" .. table.concat(parts, ", ") .. ")"
end

-- Compares a whole result list: expect("what", {n = 3, "abc", nil, nil}, s:receive(3)).
function H.expect(what, exp, ...)
  local got = table.pack(...)
  local n = exp.n or #exp
  local ok = got.n == n
  for i = 1, math.max(n, got.n) do
    if not same(exp[i], got[i]) then ok = false end
  end
  if not ok then
    error(("%s: expected %s, got %s"):format(what, showlist({ n = n, table.unpack(exp, 1, n) }),
      showlist(got)), 2)
  end
  return ...
end

local function strip(msg)
  return (tostring(msg):gsub("^[^\n]-:%d+: ", "", 1))
end

-- fn must raise exactly `message` (position prefix stripped).
function H.raises(what, message, fn)
  local ok, err = pcall(fn)
  if ok then error(what .. ": expected an error " .. show(message) .. ", got none", 2) end
  if strip(err) ~= message then
    error(("%s: expected error %s, got %s"):format(what, show(message), show(strip(err))), 2)
  end
end

-- fn must raise a message ending with `suffix`.
function H.raises_suffix(what, suffix, fn)
  local ok, err = pcall(fn)
  if ok then error(what .. ": expected an error ending " .. show(suffix) .. ", got none", 2) end
  local msg = strip(err)
  if msg:sub(-#suffix) ~= suffix then
    error(("%s: expected error ending %s, got %s"):format(what, show(suffix), show(msg)), 2)
  end
end

function H.between(what, v, lo, hi)
  if type(v) ~= "number" or v < lo or v > hi then
    error(("%s: expected between %s and %s, got %s"):format(what, lo, hi, show(v)), 2)
  end
end

-- Seconds fn(...) took, then its results.
function H.timed(fn, ...)
  local t0 = socket.gettime()
  local r = table.pack(fn(...))
  return socket.gettime() - t0, table.unpack(r, 1, r.n)
end

function H.check_class(what, obj, class)
  local s = tostring(obj)
  if not s:match("^" .. class:gsub("%p", "%%%0") .. ": 0x%x+$") then
    error(("%s: expected tostring %q, got %s"):format(what, class .. ": 0x...", show(s)), 2)
  end
  if obj.class ~= class then
    error(("%s: expected .class %q, got %s"):format(what, class, show(obj.class)), 2)
  end
end

-- The peer's pattern: "abc...z" repeated, cut to n bytes.
function H.pattern(n)
  local alpha = "abcdefghijklmnopqrstuvwxyz"
  return alpha:rep(n // 26) .. alpha:sub(1, n % 26)
end

----------------------------------------------------------------------------------------
-- The peer process
----------------------------------------------------------------------------------------

local PEER_SCRIPT = HERE .. "/peer.lua"
local peer_proc, PORT

local function shquote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function mypid()
  local f = io.open("/proc/self/stat", "r")
  if not f then return "" end
  local pid = f:read("l"):match("^(%d+)")
  f:close()
  return pid or ""
end

-- Starts the peer (once) and returns its port; if it cannot start, the file ends here
-- with one "not ok" line.
function H.start_peer()
  if PORT then return PORT end
  peer_proc = io.popen("exec lua5.4 " .. shquote(PEER_SCRIPT) .. " " .. mypid(), "r")
  local peer_line = peer_proc and peer_proc:read("l")
  PORT = tonumber(peer_line and peer_line:match("^PORT (%d+)$"))
  if not PORT then
    print("not ok 1 - could not start " .. PEER_SCRIPT .. ": " .. tostring(peer_line))
    print("# 0 passed, 1 failed")
    if peer_proc then peer_proc:close() end
    os.exit(1)
  end
  H.PORT = PORT
  return PORT
end

-- A connection to the peer, already given its script. Timeout 5 s unless changed.
function H.peer(script)
  assert(PORT, "H.start_peer() was not called")
  local c = H.track(socket.tcp())
  c:settimeout(5)
  local ok, err = c:connect("127.0.0.1", PORT)
  H.truthy("connect to the peer: " .. tostring(err), ok)
  H.truthy("send the script", c:send(script .. "\n"))
  return c
end

-- A port nobody listens on (bound then released at once).
function H.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

-- An in-process connected pair over 127.0.0.1: client, accepted, server.
function H.pair()
  local srv = H.track(assert(socket.bind("127.0.0.1", 0)))
  local _, port = srv:getsockname()
  local c = H.track(socket.tcp())
  c:settimeout(5)
  H.truthy("pair connect", c:connect("127.0.0.1", port))
  srv:settimeout(5)
  local a = H.track(srv:accept())
  H.truthy("pair accept", a)
  a:settimeout(5)
  return c, a, srv
end

----------------------------------------------------------------------------------------
-- Done
----------------------------------------------------------------------------------------

-- Stops the peer (if started), prints the summary and exits: 0 only if nothing failed.
function H.done()
  if peer_proc then
    local q = socket.tcp()
    q:settimeout(2)
    if q:connect("127.0.0.1", PORT) then q:send("quit\n") end
    q:close()
    -- Closing the pipe also makes the peer exit (its heartbeat write fails).
    peer_proc:close()
  end
  print(("# %d passed, %d failed"):format(passed, failed))
  os.exit(failed == 0 and 0 or 1)
end

return H
