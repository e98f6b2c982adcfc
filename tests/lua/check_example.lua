-- Runs an example and checks what it prints: the smoke test of examples/lua/*.lua.
--
--   lua5.4 check_example.lua <interpreter> <examples/lua/name.lua>
--
-- The interpreter is lua5.4 or the luv command; stderr is merged into the output, and
-- the example must exit with status 0. A client example (echo_client) runs against its
-- server example (echo_server), which this script starts first and stops afterwards.
local interpreter, script = arg[1], arg[2]
assert(interpreter and script, "usage: check_example.lua <interpreter> <example.lua>")

local function quote(s)
  return "'" .. s:gsub("'", [['\'']]) .. "'"
end

local function lines_of(text)
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do
    lines[#lines + 1] = line
  end
  return lines
end

-- Asserts that the lines matching `pattern` are exactly `expected` (a list), in order.
local function matching(lines, pattern, expected)
  local got = {}
  for _, line in ipairs(lines) do
    if line:find(pattern) then got[#got + 1] = line end
  end
  local want = table.concat(expected, "\n")
  assert(table.concat(got, "\n") == want,
         ("lines matching %q:\n%s\nexpected:\n%s"):format(pattern, table.concat(got, "\n"), want))
end

local function repeated(line, n)
  local t = {}
  for i = 1, n do t[i] = line end
  return t
end

local checks = {}

function checks.fiber(lines)
  matching(lines, ".", { "inside fiber, mesg: \tHello World!", "in child", "answer\t42" })
end

function checks.timer(lines)
  matching(lines, ".", repeated("tick", 10))
end

function checks.idle(lines)
  matching(lines, "^TIMER NEXT:", repeated("TIMER NEXT:\ttrue", 10))
  assert(#lines == 11, "expected 11 lines, got " .. #lines)
  local count = tonumber(lines[11]:match("^IDLE COUNT:\t(%d+)$"))
  assert(count and count > 0, "bad last line: " .. lines[11])
end

function checks.sleepers(lines)
  local delays = { 80, 20, 140, 60, 0, 100, 40, 120 }
  local order = {}
  for i, ms in ipairs(delays) do order[i] = { i = i, ms = ms } end
  table.sort(order, function(a, b) return a.ms < b.ms end)
  local want = {}
  for k, s in ipairs(order) do
    want[k] = ("sleeper %d woke after %d ms"):format(s.i, s.ms)
  end
  matching(lines, "^sleeper ", want)
  matching(lines, "^sorted: ", { "sorted: 1 2 3 5 8 9" })
  matching(lines, "^wake%-up order: ", { "wake-up order: 0 20 40 60 80 100 120 140" })
end

function checks.copy(lines)
  -- Run without arguments, copy.lua copies a 200,000-byte file of its own in 64 KiB reads.
  matching(lines, ".", { "copied 200000 bytes in 4 reads", "identical:\ttrue" })
end

function checks.http_fibers(lines)
  local want = {}
  for i = 1, 10 do want[i] = ("fiber %2d: 200 response %d"):format(i, i) end
  matching(lines, "^fiber", want)
  -- How long it took is the benchmarks' business; the concurrency itself is asserted by
  -- tests/lua/test_socket.lua and socket_clients/http.lua.
  assert(lines[#lines]:find("^10 requests of 0%.3 s each took "), lines[#lines])
end

function checks.cat(lines)
  -- Fed the three lines below on stdin; the byte count goes to stderr (merged here).
  matching(lines, ".", { "one", "two", "three", "cat: 14 bytes" })
end

function checks.codec(lines)
  matching(lines, ".", {
    "integer\tfloat", "true\ttrue", "and more\t42", "1\t2\ttrue", "item 1",
    "luv.codec.encode: cannot encode a coroutine at arg 1.conn.co",
    "false\tluv.codec.decode: the data holds a function, and functions are refused"
      .. " (functions = false) at byte 6",
  })
end

function checks.thread(lines)
  -- The two threads print at the same time into one stdout, so their lines may be cut
  -- into each other's; print's pieces ("tick: ") stay whole. The JOIN line comes after
  -- both threads have ended.
  local text = table.concat(lines, "\n")
  local _, ticks = text:gsub("tick: ", "")
  assert(ticks == 200, "expected 200 ticks, got " .. ticks)
  local _, objects = text:gsub("luv%.thread: 0x%x+", "")
  assert(text:find("threads:", 1, true) and objects == 2, "no threads: line")
  assert(lines[#lines] == "JOIN:\ttrue\ttrue\t42", "last line: " .. tostring(lines[#lines]))
end

function checks.zmq(lines)
  local ticks = {}
  for i = 1, 10 do ticks[i] = "tick: " .. i end
  matching(lines, ".", {
    "consumer: " .. table.concat(ticks, ", "),
    "producer: sent 10 ticks and STOP, got OK",
  })
end

function checks.zmq_pull(lines)
  -- zmq_push.lua runs in a child process; what it sent arrives in order.
  local want = {}
  for i = 1, 10 do want[i] = "GOT: tick: " .. i end
  want[11] = "pusher exited with status 0"
  matching(lines, ".", want)
end

function checks.zmq_pool(lines)
  local fib = { [0] = 0, 1 }
  for n = 2, 31 do fib[n] = fib[n - 1] + fib[n - 2] end
  local want = {}
  for _, kind in ipairs({ "threads", "processes" }) do
    want[#want + 1] = "4 " .. kind .. ", 12 jobs:"
    for n = 20, 31 do want[#want + 1] = ("  fib(%d) = %d"):format(n, fib[n]) end
  end
  matching(lines, ".", want)
end

-- Examples that read standard input get this text piped in.
local inputs = { cat = "one\ntwo\nthree\n" }

function checks.echo_client(lines)
  matching(lines, ".", { "you said: hello", "you said: fibers", "you said: goodbye" })
end

-- Examples that are clients of another example: the server is started first, with the
-- same interpreter, in the background, on a free port that both are given as arg[1]; it
-- is stopped once the client is done.
local servers = { echo_client = "echo_server.lua" }

local name = script:match("([^/]+)%.lua$")
local check = assert(checks[name], "no check for the example " .. tostring(name))

local server = {}

local function start_server(file)
  local luv = require("luv")
  local probe = luv.net.tcp()
  assert(probe:bind("127.0.0.1", 0))
  server.port = probe:getsockname().port
  probe:close()
  server.log = os.tmpname()
  local command = ("timeout 60 %s %s %d >%s 2>&1 & echo $!"):format(
    quote(interpreter), quote(file), server.port, quote(server.log))
  local p = assert(io.popen(command))
  server.pid = tonumber(p:read("l"))
  p:close()
  assert(server.pid, "could not start " .. file)
  -- Wait until it accepts connections: at most 5 seconds.
  for _ = 1, 100 do
    local c = luv.net.tcp()
    local connected = c:connect("127.0.0.1", server.port, 1)
    c:close()
    if connected then return end
    luv.sleep(0.05)
  end
  error(("%s does not accept connections on port %d"):format(file, server.port))
end

local function stop_server()
  if server.pid then
    os.execute(("kill %d 2>/dev/null"):format(server.pid))
    server.pid = nil
  end
  if server.log then
    local f = io.open(server.log)
    local text = f and f:read("a") or ""
    if f then f:close() end
    os.remove(server.log)
    server.log = nil
    return text
  end
  return ""
end

local started, start_err = true, nil
if servers[name] then
  local file = script:gsub("[^/]+%.lua$", servers[name])
  started, start_err = pcall(start_server, file)
end

local output, how, code = "", "exit", 0
if started then
  local command = quote(interpreter) .. " " .. quote(script)
  if server.port then command = command .. " " .. server.port end
  if inputs[name] then command = "printf " .. quote(inputs[name]) .. " | " .. command end
  local pipe = assert(io.popen(command .. " 2>&1"))
  output = pipe:read("a")
  how, code = select(2, pipe:close())
end
local server_output = stop_server()
io.write(output)

local ok, err = pcall(function()
  assert(started, start_err)
  assert(how == "exit" and code == 0, ("the example ended with %s %s"):format(how, code))
  -- a server prints nothing, unless it fails
  assert(server_output == "", "the server printed:\n" .. server_output)
  check(lines_of(output))
end)
if not ok then
  io.stderr:write("FAIL ", name, ": ", tostring(err), "\n")
  os.exit(1)
end
print("PASS " .. name)
