-- The smoke test of examples/lua/chef.lua (the job runner): runs it as a child process
-- and checks what it prints, its exit status, and that it leaves no process behind.
--
--   LUA_CPATH="build/?.so;;" lua5.4 tests/lua/check_chef.lua [CHEF.lua [JOBS.yaml]]
--
-- chef runs under $LUV_BIN (the luv command, or lua5.4: then it needs the LUA_CPATH above,
-- which it inherits); without LUV_BIN under lua5.4. The defaults are examples/lua/chef.lua
-- and examples/lua/chef.yaml next to this file. Takes ~5 s; exits with 77 (skipped) when
-- lua-yaml is not installed.
local here = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/"
package.path = here .. "?.lua;" .. package.path
local tap = require("tap")
local luv, test = tap.luv, tap.test

if not pcall(require, "lyaml") then  -- chef reads its job files with Debian's lua-yaml
  print("1..0 # SKIP lua-yaml (module lyaml) is not installed")
  os.exit(77)  -- meson's "skipped"
end

local interp = os.getenv("LUV_BIN")
if not interp or interp == "" then interp = "lua5.4" end
local chef = arg[1] or here .. "../../examples/lua/chef.lua"
local menu = arg[2] or here .. "../../examples/lua/chef.yaml"

local function has(text, needle)
  return text:find(needle, 1, true) ~= nil
end

local function expect_lines(out, needles)
  for _, needle in ipairs(needles) do
    assert(has(out, needle), ("missing %q in the output:\n%s"):format(needle, out))
  end
end

-- Runs chef on a job file; returns its exit status, stdout and stderr.
local function run_chef(jobfile)
  local status, out, err = luv.process.run(interp, { chef, jobfile }, { timeout = 15 })
  assert(status, ("%s %s: %s"):format(interp, chef, tostring(out)))
  return status, out, err
end

local dir = assert(luv.fs.mkdtemp("/tmp/check_chef-XXXXXX"))
local function job_file(name, text)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

test("the demo menu: output relayed, every outcome reported", function()
  local t0 = tap.now()
  local status, out, err = run_chef(menu)
  local seconds = tap.now() - t0
  assert(status == 1, ("exit status %d, expected 1:\n%s%s"):format(status, out, err))
  assert(err == "", "stderr: " .. err)
  assert(seconds < 10, ("took %.1f s"):format(seconds))
  expect_lines(out, {
    "[prep] chopping onions\n", "[prep] onions ready\n",  -- stdout, line by line
    "[sauce!] sauce split\n",                             -- stderr, marked
    "[stock] stock ready\n",                              -- a last line without "\n"
    "[roast] roasting at 220C\n",                         -- env, on top of chef's own
    "[serve] serving in /tmp\n",                          -- cwd
    "-- sauce failed: exit 3 after ",
    "-- plating skipped: needs sauce, which failed\n",
    "-- souffle timed out after 1s: SIGTERM\n",
    "-- souffle still running 0.5s after SIGTERM: SIGKILL\n",
    "-- souffle timed out: killed by SIGKILL after ",
    "-- serve ok: exit 0 after ",
  })
  assert(not has(out, "[plating]"), "the skipped job ran:\n" .. out)
  -- The chain prep -> roast -> serve runs in order.
  local function at(needle) return assert(out:find(needle, 1, true), needle) end
  assert(at("-- prep ok") < at("-- roast started"), out)
  assert(at("-- roast ok") < at("-- serve started"), out)
  -- The summary table: one row per job.
  for _, row in ipairs({ "prep%s+ok%s+[%d.]+s%s+exit 0", "sauce%s+failed%s+[%d.]+s%s+exit 3",
                         "plating%s+skipped%s+%-%s+needs sauce, which failed",
                         "souffle%s+timed out%s+[%d.]+s%s+killed by SIGKILL",
                         "serve%s+ok%s+[%d.]+s%s+exit 0" }) do
    assert(out:find("\n" .. row .. "\n"), ("no summary row %q:\n%s"):format(row, out))
  end
end)

test("a wrong job file: a clear error, exit status 2", function()
  local cases = {
    { "jobs:\n  - {name: a, command: 'true', needs: [b]}\n"
      .. "  - {name: b, command: 'true', needs: [a]}\n", "dependency cycle: a -> b -> a" },
    { "jobs:\n  - {name: a, command: 'true', needs: [nope]}\n",
      "job 'a' needs 'nope', which is not defined" },
    { "jobs:\n  - {name: a, cwd: /tmp}\n", "job 'a': missing command" },
  }
  for i, case in ipairs(cases) do
    local status, out, err = run_chef(job_file("bad" .. i .. ".yaml", case[1]))
    assert(status == 2, ("case %d: exit status %d:\n%s%s"):format(i, status, out, err))
    assert(has(err, case[2]), ("case %d: expected %q on stderr, got:\n%s"):format(i, case[2], err))
    assert(out == "", ("case %d: ran something:\n%s"):format(i, out))
  end
end)

-- /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
local function proc_stat(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return nil end
  local text = f:read("a") or ""
  f:close()
  local comm, state, ppid = text:match("^%d+ %((.*)%) (%S) (%d+)")
  return comm and { comm = comm, state = state, ppid = tonumber(ppid) }
end

-- Every live process below `root` (children, grandchildren, ...): pid -> comm.
local function descendants(root)
  local parent, comm = {}, {}
  for _, name in ipairs(assert(luv.fs.readdir("/proc"))) do
    local pid = tonumber(name)
    local st = pid and proc_stat(pid)
    if st and st.state ~= "Z" then parent[pid], comm[pid] = st.ppid, st.comm end
  end
  local found = {}
  for pid in pairs(parent) do
    local p = parent[pid]
    for _ = 1, 64 do  -- a bounded walk up the tree
      if p == root then found[pid] = comm[pid] break end
      p = parent[p]
      if not p then break end
    end
  end
  return found
end

local function alive(pid)
  local st = proc_stat(pid)
  return st ~= nil and st.state ~= "Z"
end

-- Two long jobs, one of which ignores SIGTERM (so chef must KILL it after the grace), and
-- one that waits for the first: chef is signalled once both have started.
local long_jobs = job_file("long.yaml", [[
grace: 0.5
jobs:
  - name: long
    command: echo "long started"; sleep 30
  - name: stubborn
    command: trap '' TERM; echo "stubborn started"; sleep 30
  - name: later
    needs: [long]
    command: echo "never printed"
]])

for _, signal in ipairs({ "SIGINT", "SIGTERM" }) do
  test(signal .. " mid-run: every child stopped, the rest skipped, exit 1", function()
    local proc = assert(luv.process.spawn(interp, { chef, long_jobs, stdout = "pipe" }))
    local out = {}
    local reader = luv.fiber.create(function()
      while true do
        local n, data = proc.stdout:read()
        if not n then break end
        out[#out + 1] = data
      end
    end):ready()
    local before = {}  -- every process below chef once the jobs have started
    local ok, err = pcall(function()
      -- Wait (at most 10 s) for both jobs to say they have started.
      for _ = 1, 200 do
        local text = table.concat(out)
        if has(text, "[long] long started\n") and has(text, "[stubborn] stubborn started\n") then
          break
        end
        assert(proc:wait(0.05) == nil, "chef ended early:\n" .. text)
      end
      local text = table.concat(out)
      assert(has(text, "[stubborn] stubborn started\n"), "the jobs did not start:\n" .. text)

      before = descendants(proc.pid)
      local sleeps = 0
      for _, comm in pairs(before) do
        if comm == "sleep" then sleeps = sleeps + 1 end
      end
      assert(sleeps == 2, ("expected 2 sleep processes below chef, found %d"):format(sleeps))

      local t0 = tap.now()
      assert(proc:kill(signal))
      local status = proc:wait(10)
      local seconds = tap.now() - t0
      assert(status, "chef did not exit within 10 s of " .. signal)
      reader:join(5)
      text = table.concat(out)
      assert(status == 1, ("exit status %d:\n%s"):format(status, text))
      assert(seconds < 4, ("chef took %.1f s to stop"):format(seconds))
      expect_lines(text, {
        "-- " .. signal .. " received: stopping every running job\n",
        "-- long stopped: killed by SIGTERM after ",
        "-- stubborn still running 0.5s after SIGTERM: SIGKILL\n",
        "-- stubborn stopped: killed by SIGKILL after ",
        "-- later skipped: needs long, which stopped\n",
      })
      assert(not has(text, "never printed"), text)
      for pid, comm in pairs(before) do
        assert(not alive(pid), ("%s (pid %d) outlived chef"):format(comm, pid))
      end
    end)
    if not ok then  -- leave nothing running behind a failed test
      for pid in pairs(descendants(proc.pid)) do before[pid] = true end
      for pid in pairs(before) do
        if alive(pid) then luv.process.run("kill", { "-9", tostring(pid) }) end
      end
      proc:kill("SIGKILL")
      proc:wait(5)
      error(err, 0)
    end
    proc:close()
  end)
end

luv.process.run("rm", { "-rf", dir })
tap.done()
