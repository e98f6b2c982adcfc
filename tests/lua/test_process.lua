-- luv.process and luv.signal: real child processes (/bin/sh, cat, sleep, true) and real
-- signals sent to this process. Every wait that might hang has a timeout.
local tap = require("tap")
local luv, test, raises, fails = tap.luv, tap.test, tap.raises, tap.fails

local LONG = 20  -- seconds: the timeout of waits that must not time out

local function read_all(stream)
  local parts = {}
  while true do
    local n, data, code = stream:read(nil, LONG)
    if not n then
      assert(code == "EOF", "read: " .. tostring(data))
      break
    end
    parts[#parts + 1] = data
  end
  return table.concat(parts)
end

local function my_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  return pid
end

-- The children of this process that are zombies (exited, never reaped).
local function zombies()
  local me, found = my_pid(), {}
  for _, entry in ipairs(assert(luv.fs.readdir("/proc"))) do  -- not io.popen: its shell is a child
    if entry:match("^%d+$") then
      local f = io.open("/proc/" .. entry .. "/stat")
      if f then
        local stat = f:read("a") or ""
        f:close()
        local state, ppid = stat:match("%) (%a) (%d+)")
        if state == "Z" and tonumber(ppid) == me then
          found[#found + 1] = entry
        end
      end
    end
  end
  return found
end

local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then
    return false
  end
  local state = f:read("a"):match("%) (%a)")
  f:close()
  return state ~= "Z"
end

-- Waits until `pid` has exited, then checks that libuv reaped it (and every other child).
local function assert_reaped(pid)
  local deadline = tap.now() + LONG
  while alive(pid) and tap.now() < deadline do
    luv.sleep(0.02)
  end
  luv.sleep(0.05)  -- the loop runs: libuv handles SIGCHLD
  local left = zombies()
  assert(#left == 0, "zombies: " .. table.concat(left, " "))
end

test("spawn returns at once with the pid; wait gives the exit status", function()
  local proc = assert(luv.process.spawn("/bin/sh", { "-c", "exit 3" }))
  assert(math.type(proc.pid) == "integer" and proc.pid > 0)
  assert(tostring(proc):find("^luv.process: .*pid " .. proc.pid))
  local status, signal = proc:wait(LONG)
  assert(status == 3 and signal == 0, tostring(status) .. " " .. tostring(signal))
  -- waiting again after the exit returns at once, as often as asked
  assert(select("#", proc:wait()) == 2 and proc:wait() == 3)
  proc:close()
end)

test("the original form: arguments in the array part, with options beside", function()
  local proc = assert(luv.process.spawn("echo", { "a", 42, "b c", stdout = "pipe" }))
  assert(read_all(proc.stdout) == "a 42 b c\n")
  assert(proc:wait(LONG) == 0)
  assert(proc.stdin == nil and proc.stderr == nil)
end)

test("args = {...} works too, and not together with the array form", function()
  local proc = assert(luv.process.spawn("echo", { args = { "x" }, stdout = "pipe" }))
  assert(read_all(proc.stdout) == "x\n")
  assert(proc:wait(LONG) == 0)
  raises("either in opts.args or in opts", luv.process.spawn, "echo", { "a", args = { "b" } })
end)

test("a missing program is ENOENT, with its name", function()
  local p, msg = luv.process.spawn("/nonexistent/program", { stdout = "pipe" })
  fails("ENOENT", p, msg, select(3, luv.process.spawn("/nonexistent/program", {})))
  assert(msg:find("/nonexistent/program", 1, true), msg)
  fails("ENOENT", luv.process.spawn("no-such-program-anywhere"))
end)

test("bad arguments raise, naming them", function()
  raises("bad argument #1", luv.process.spawn, nil)
  raises("bad argument #2", luv.process.spawn, "true", 5)
  raises("argument 2 is a table", luv.process.spawn, "true", { "a", {} })
  raises("env.X is a table", luv.process.spawn, "true", { env = { X = {} } })
  raises("cwd must be a string", luv.process.spawn, "true", { cwd = 5 })
  raises("stdout must be \"inherit\", \"ignore\" or \"pipe\"", luv.process.spawn, "true",
         { stdout = "pipes" })
  raises("stdin must be a string, a luv stream", luv.process.spawn, "true", { stdin = {} })
  raises("unknown signal 'NOPE'", luv.process.spawn("true").kill, luv.process.spawn("true"), "NOPE")
end)

test("env replaces the environment; cwd sets the directory", function()
  local dir = assert(luv.fs.mkdtemp("/tmp/luv-process-XXXXXX"))
  local proc = assert(luv.process.spawn("/bin/sh", {
    "-c", 'echo "$GREETING $N $B"; pwd; echo "${HOME-unset}"',
    env = { GREETING = "hello", N = 7, B = true }, cwd = dir, stdout = "pipe",
  }))
  local out = read_all(proc.stdout)
  assert(proc:wait(LONG) == 0)
  assert(out == "hello 7 true\n" .. luv.fs.realpath(dir) .. "\nunset\n", out)
  assert(luv.fs.rmdir(dir))
end)

test("stdin written then closed; stdout and stderr apart", function()
  local proc = assert(luv.process.spawn("/bin/sh", {
    "-c", "cat; echo done >&2", stdin = "pipe", stdout = "pipe", stderr = "pipe",
  }))
  assert(proc.stdin:write("line 1\nline 2\n"))
  assert(proc.stdin:close())
  local err
  local reader = luv.fiber.create(function() err = read_all(proc.stderr) end)
  reader:ready()
  assert(read_all(proc.stdout) == "line 1\nline 2\n")
  reader:join(LONG)
  assert(err == "done\n", err)
  assert(proc:wait(LONG) == 0)
end)

test("10 MB through a pipe each way, nothing lost", function()
  local size = 10 * 1024 * 1024
  local chunk = string.rep("0123456789abcdef", 4096)  -- 64 KiB
  local proc = assert(luv.process.spawn("cat", { stdin = "pipe", stdout = "pipe" }))
  local writer = luv.fiber.create(function()
    for _ = 1, size // #chunk do
      assert(proc.stdin:write(chunk))
    end
    proc.stdin:close()
  end)
  writer:ready()
  local got, bad = 0, false
  while true do
    local n, data = proc.stdout:read(nil, LONG)
    if not n then
      break
    end
    -- every byte is where it should be: the pattern repeats every 16 bytes
    local offset = got % 16
    if data ~= string.rep("0123456789abcdef", (#data + offset) // 16 + 2):sub(offset + 1, offset + #data) then
      bad = true
    end
    got = got + n
  end
  writer:join(LONG)
  assert(not bad, "corrupted bytes")
  assert(got == size, got)
  assert(proc:wait(LONG) == 0)
end)

test("the child's output can go to a luv.file or another stream", function()
  local dir = assert(luv.fs.mkdtemp("/tmp/luv-process-XXXXXX"))
  local file = assert(luv.fs.open(dir .. "/out", "w"))
  local proc = assert(luv.process.spawn("echo", { "into a file", stdout = file }))
  assert(proc:wait(LONG) == 0)
  file:close()
  local f = assert(luv.fs.open(dir .. "/out", "r"))
  local _, data = f:read()
  f:close()
  assert(data == "into a file\n", data)
  -- a pipe given as stdout: the child writes into it, we read the other end
  local first = assert(luv.process.spawn("echo", { "piped", stdout = "pipe" }))
  local second = assert(luv.process.spawn("cat", { stdin = first.stdout, stdout = "pipe" }))
  assert(read_all(second.stdout) == "piped\n")
  assert(first:wait(LONG) == 0 and second:wait(LONG) == 0)
  assert(luv.fs.unlink(dir .. "/out") and luv.fs.rmdir(dir))
end)

test("stdout = 'ignore' sends it to /dev/null", function()
  local proc = assert(luv.process.spawn("echo", { "lost", stdout = "ignore" }))
  assert(proc:wait(LONG) == 0)
end)

test("kill with TERM and with KILL, by name and by number", function()
  local a = assert(luv.process.spawn("sleep", { "30" }))
  assert(a:kill("TERM") == true)
  local status, signal = a:wait(LONG)
  assert(status == 0 and signal == 15, tostring(status) .. " " .. tostring(signal))
  local b = assert(luv.process.spawn("sleep", { "30" }))
  assert(b:kill(9) == true)
  assert(select(2, b:wait(LONG)) == 9)
  local c = assert(luv.process.spawn("sleep", { "30" }))
  assert(c:kill() == true)  -- SIGTERM by default
  assert(select(2, c:wait(LONG)) == 15)
  fails("ESRCH", c:kill("KILL"))  -- it has exited
end)

test("wait with a timeout leaves the child running", function()
  local proc = assert(luv.process.spawn("sleep", { "30" }))
  local t0 = tap.now()
  fails("ETIMEDOUT", proc:wait(0.05))
  assert(tap.now() - t0 < 5)
  assert(alive(proc.pid))
  proc:kill("KILL")
  assert(select(2, proc:wait(LONG)) == 9)
end)

test("several fibers wait for one child; cancel interrupts one of them", function()
  local proc = assert(luv.process.spawn("sleep", { "0.2" }))
  local waiters = {}
  for i = 1, 5 do
    waiters[i] = luv.fiber.create(function() return proc:wait(LONG) end)
    waiters[i]:ready()
  end
  local cancelled = luv.fiber.create(function() return proc:wait(LONG) end)
  cancelled:ready()
  luv.sleep(0.01)
  cancelled:cancel()
  fails("ECANCELED", cancelled:join(LONG))
  for i = 1, 5 do
    assert(waiters[i]:join(LONG) == 0)
  end
end)

test("close wakes the waiters with ECANCELED; the child is still reaped", function()
  local proc = assert(luv.process.spawn("sleep", { "0.2" }))
  local pid = proc.pid
  local waiter = luv.fiber.create(function() return proc:wait(LONG) end)
  waiter:ready()
  luv.sleep(0.01)
  assert(proc:close() == true and proc:close() == true)
  fails("ECANCELED", waiter:join(LONG))
  raises("attempt to use a closed luv.process", proc.wait, proc)
  -- the handle lives on until the exit: no zombie afterwards
  assert_reaped(pid)
end)

test("wait on an object closed after its child exited still gives the status", function()
  local proc = assert(luv.process.spawn("/bin/sh", { "-c", "exit 3" }))
  assert(proc:wait(LONG) == 3)
  assert(proc:close() == true)
  local status, signal = proc:wait()
  assert(status == 3 and signal == 0, tostring(status))
  raises("attempt to use a closed luv.process", proc.kill, proc)
end)

test("a process object collected while its child runs leaves no zombie", function()
  local pid
  do
    pid = assert(luv.process.spawn("sleep", { "0.1" })).pid
  end
  collectgarbage()
  collectgarbage()
  assert_reaped(pid)
end)

test("200 children at once, all waited for, no zombie left", function()
  local fibers = {}
  for i = 1, 200 do
    fibers[i] = luv.fiber.create(function()
      local proc = assert(luv.process.spawn("/bin/sh", { "-c", "exit " .. (i % 7) }))
      local status = proc:wait(LONG)
      proc:close()
      return status
    end)
    fibers[i]:ready()
  end
  for i = 1, 200 do
    assert(fibers[i]:join(LONG) == i % 7)
  end
  local left = zombies()
  assert(#left == 0, "zombies: " .. table.concat(left, " "))
end)

test("a detached child can be waited for (the wait holds the loop)", function()
  local proc = assert(luv.process.spawn("sleep", { "0.1", detached = true }))
  assert(proc:wait(LONG) == 0)
end)

test("luv.process.kill signals a whole process group; luv.environ extends env", function()
  -- sh forks sleep: TERM to the shell alone would leave sleep holding the pipe open
  local proc = assert(luv.process.spawn("/bin/sh", { "-c", "sleep 30; true", detached = true,
                                                      stdout = "pipe" }))
  luv.sleep(0.05)
  assert(luv.process.kill(-proc.pid, "TERM") == true)
  assert(select(2, proc:wait(LONG)) == 15)
  fails("EOF", proc.stdout:read(nil, LONG))  -- the grandchild is gone too
  fails("ESRCH", luv.process.kill(proc.pid, 0))  -- signal 0: does it exist? (reaped: no)
  raises("pid must be a non-zero integer", luv.process.kill, 0)
  local env = luv.environ()
  assert(type(env.PATH) == "string" and env.PATH == os.getenv("PATH"))
  env.EXTRA = "added"
  local status, out = luv.process.run("/bin/sh", { "-c", 'echo "$EXTRA $PATH"' }, { env = env })
  assert(status == 0 and out == "added " .. os.getenv("PATH") .. "\n", out)
end)

test("run captures output and feeds input", function()
  local status, out, err, signal = luv.process.run("/bin/sh", { "-c", "cat; echo E >&2; exit 2" },
                                                   { input = "in\n" })
  assert(status == 2 and out == "in\n" and err == "E\n" and signal == 0)
  -- a child writing much to both pipes never blocks: both are drained at once
  local big = "head -c 1000000 /dev/zero; head -c 1000000 /dev/zero >&2"
  local s2, o2, e2 = luv.process.run("/bin/sh", { "-c", big })
  assert(s2 == 0 and #o2 == 1000000 and #e2 == 1000000)
  -- output not piped comes back as nil
  local s3, o3 = luv.process.run("true", nil, { stdout = "ignore" })
  assert(s3 == 0 and o3 == nil)
  fails("ENOENT", luv.process.run("/nonexistent/program"))
  raises("bad argument #2 to 'run'", luv.process.run, "true", "x")
  raises("input must be a string", luv.process.run, "true", nil, { input = 5 })
end)

test("run's timeout kills the child, even one whose grandchild holds the pipe", function()
  local t0 = tap.now()
  fails("ETIMEDOUT", luv.process.run("/bin/sh", { "-c", "sleep 30; true" }, { timeout = 0.1 }))
  assert(tap.now() - t0 < 5, "took " .. (tap.now() - t0))
end)

test("a signal sent to this process wakes the fiber waiting for it", function()
  local sig = luv.signal.create("usr1")
  assert(sig:name() == "SIGUSR1")
  assert(tostring(sig):find("^luv.signal: "))
  local waiter = luv.fiber.create(function() return sig:wait(LONG) end)
  waiter:ready()
  luv.sleep(0.01)
  assert(luv.process.run("kill", { "-USR1", tostring(my_pid()) }) == 0)
  assert(waiter:join(LONG) == "SIGUSR1")
  -- a delivery while nobody waits is kept for the next wait
  assert(luv.process.run("kill", { "-USR1", tostring(my_pid()) }) == 0)
  local deadline = tap.now() + LONG
  local got
  repeat
    got = sig:wait(0.01)
  until got or tap.now() > deadline
  assert(got == "SIGUSR1")
  fails("ETIMEDOUT", sig:wait(0.02))
  assert(sig:close() == true and sig:close() == true)
  raises("attempt to use a closed luv.signal", sig.wait, sig)
end)

test("signal watchers: names, numbers and errors", function()
  local a = luv.signal.create("SIGHUP")
  local b = luv.signal.create("hup")
  local c = luv.signal.create(1)
  assert(a:name() == "SIGHUP" and b:name() == "SIGHUP" and c:name() == "SIGHUP")
  a:close(); b:close(); c:close()
  raises("unknown signal 'SIGNOPE'", luv.signal.create, "SIGNOPE")
  raises("signal number out of range", luv.signal.create, 0)
  raises("bad argument #1", luv.signal.create, {})
  -- closing a watcher wakes its waiters with ECANCELED
  local sig = luv.signal.create("SIGUSR2")
  local waiter = luv.fiber.create(function() return sig:wait(LONG) end)
  waiter:ready()
  luv.sleep(0.01)
  sig:close()
  fails("ECANCELED", waiter:join(LONG))
end)

test("an idle watcher does not keep the program alive", function()
  local out = tap.run_lua([[
    local luv = require "luv"
    local sig = luv.signal.create("SIGTERM")
    print("made")
  ]])
  assert(out:find("made"), out)
end)

tap.done()
