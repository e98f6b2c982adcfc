-- chef: a small job runner, and a tour of luv's child processes and signals.
--
--   luv examples/lua/chef.lua examples/lua/chef.yaml
--   LUA_CPATH="build/?.so;;" lua5.4 examples/lua/chef.lua examples/lua/chef.yaml
--
-- It reads a job file (YAML, through Debian's lua-yaml), checks it, and runs each job in
-- a fiber of its own: a job starts once every job it needs has succeeded, so independent
-- jobs run side by side. What it shows:
--   - luv.process.spawn with piped stdout and stderr, relayed line by line as they come;
--   - proc:wait(timeout), then TERM and, after a grace period, KILL for a job that overruns;
--   - several fibers waiting for the same child (the job's own and the one stopping it);
--   - luv.signal: Ctrl-C or SIGTERM stops every running job cleanly and skips the rest.
-- It exits with 0 if every job succeeded, 1 if any failed, timed out or was skipped, and
-- 2 if the job file is wrong.
--
-- The job file:
--   grace: 2                # optional: seconds from TERM to KILL, for every job (default 2)
--   jobs:
--     - name: build
--       command: make all   # a string runs through /bin/sh -c; a list is the argv itself
--       cwd: src            # optional
--       env: {CFLAGS: -O2}  # optional: added to the environment chef inherited
--       timeout: 60         # optional: seconds
--       grace: 5            # optional: this job's own grace
--       needs: [configure]  # optional: the jobs that must succeed first
local luv = require("luv")
local lyaml = require("lyaml")

local function die(fmt, ...)
  io.stderr:write("chef: ", fmt:format(...), "\n")
  os.exit(2)
end

-- Every line chef prints goes through here. io.write never suspends, so no other fiber
-- can cut into a line; the flush shows it at once when stdout is a pipe.
local function say(fmt, ...)
  io.stdout:write(fmt:format(...), "\n")
  io.stdout:flush()
end

---------------------------------------------------------------------- the job file

local KEYS = { name = 1, command = 1, cwd = 1, env = 1, timeout = 1, grace = 1, needs = 1 }

local function load_jobs(path)
  local file, err = io.open(path)
  if not file then die("%s", err) end
  local ok, doc = pcall(lyaml.load, file:read("a"))
  file:close()
  if not ok then die("%s: not valid YAML: %s", path, doc) end
  if type(doc) ~= "table" or type(doc.jobs) ~= "table" or #doc.jobs == 0 then
    die("%s: expected a list of jobs under 'jobs:'", path)
  end
  local default_grace = doc.grace or 2
  if type(default_grace) ~= "number" or default_grace < 0 then
    die("%s: grace must be a number of seconds", path)
  end

  local jobs, by_name = {}, {}
  for i, spec in ipairs(doc.jobs) do
    local where = ("%s: job #%d"):format(path, i)
    local function check(cond, what) if not cond then die("%s: %s", where, what) end end
    check(type(spec) == "table", "not a mapping")
    check(type(spec.name) == "string" and spec.name ~= "", "no name")
    where = ("%s: job '%s'"):format(path, spec.name)
    for key in pairs(spec) do check(KEYS[key], ("unknown key '%s'"):format(key)) end
    check(not by_name[spec.name], "defined twice")

    local argv, shown = nil, spec.command
    if type(spec.command) == "string" then
      argv = { "/bin/sh", "-c", spec.command }
    else
      check(type(spec.command) == "table" and #spec.command > 0,
            "missing command (a string or a list)")
      argv = {}
      for j, a in ipairs(spec.command) do argv[j] = tostring(a) end
      shown = table.concat(argv, " ")
    end
    -- spawn's env replaces the whole environment, and Lua cannot list its own: env(1)
    -- adds the job's variables to what the child inherits.
    if spec.env ~= nil then
      check(type(spec.env) == "table", "env must be a mapping")
      local prefix = { "env" }
      for name, value in pairs(spec.env) do
        check(type(name) == "string" and name:match("^[%a_][%w_]*$"),
              ("bad env name '%s'"):format(tostring(name)))
        check(type(value) ~= "table", ("env %s must be a plain value"):format(name))
        prefix[#prefix + 1] = name .. "=" .. tostring(value)
      end
      argv = table.move(argv, 1, #argv, #prefix + 1, prefix)
    end
    check(spec.cwd == nil or type(spec.cwd) == "string", "cwd must be a string")
    check(spec.timeout == nil or type(spec.timeout) == "number" and spec.timeout > 0,
          "timeout must be a number of seconds")
    check(spec.grace == nil or type(spec.grace) == "number" and spec.grace >= 0,
          "grace must be a number of seconds")
    local needs = type(spec.needs) == "string" and { spec.needs } or spec.needs or {}
    check(type(needs) == "table", "needs must be a list of job names")

    local job = { name = spec.name, argv = argv, shown = shown, cwd = spec.cwd,
                  timeout = spec.timeout, grace = spec.grace or default_grace, needs = needs }
    jobs[#jobs + 1], by_name[job.name] = job, job
  end

  for _, job in ipairs(jobs) do
    for _, need in ipairs(job.needs) do
      if not by_name[need] then
        die("%s: job '%s' needs '%s', which is not defined", path, job.name, tostring(need))
      end
    end
  end
  -- A cycle would leave its jobs waiting for each other forever: depth first, keeping the
  -- path so far to name the whole cycle.
  local state, stack = {}, {}
  local function visit(job)
    if state[job] == "done" then return end
    if state[job] == "open" then
      local from = 1
      while stack[from] ~= job.name do from = from + 1 end
      local cycle = table.concat(stack, " -> ", from) .. " -> " .. job.name
      die("%s: dependency cycle: %s", path, cycle)
    end
    state[job], stack[#stack + 1] = "open", job.name
    for _, need in ipairs(job.needs) do visit(by_name[need]) end
    state[job], stack[#stack] = "done", nil
  end
  for _, job in ipairs(jobs) do visit(job) end
  return jobs, by_name
end

---------------------------------------------------------------------- running jobs

local signals_seen = 0  -- SIGINT or SIGTERM: no job starts any more

local SIGNALS = { [1] = "SIGHUP", [2] = "SIGINT", [9] = "SIGKILL", [15] = "SIGTERM" }

-- Relays one of a child's pipes, a line at a time under the job's prefix. Reads come in
-- chunks of any size, so a line may span several; a last line without "\n" is shown at EOF.
local function relay(stream, prefix)
  local pending = ""
  while true do
    local n, data = stream:read()
    if not n then break end  -- EOF, or the pipe broke: either way there is no more
    pending = pending .. data
    local rest = 1
    for line, after in pending:gmatch("([^\n]*)\n()") do
      say("%s %s", prefix, line)
      rest = after
    end
    pending = pending:sub(rest)
  end
  if pending ~= "" then say("%s %s", prefix, pending) end
  stream:close()
end

-- Jobs run in a process group of their own (detached: a new session), so that a signal
-- reaches everything a shell command started: a grandchild left behind would outlive
-- chef and hold the job's pipes open. proc:kill signals one process, hence kill(1) with
-- the group's id (the negative pid); proc:kill is the fallback if there is no kill(1).
local function signal_job(job, sig)
  if not luv.process.run("kill", { "-s", sig, "--", "-" .. job.proc.pid }) then
    job.proc:kill(sig)
  end
end

-- TERM, then KILL if the child is still there after the grace. Called by the job's fiber
-- on a timeout, or in a fiber of its own on Ctrl-C: it then waits for the child alongside
-- the job's fiber, which any number of fibers may do.
local function terminate(job)
  if job.terminating then return end
  job.terminating = true
  signal_job(job, "TERM")
  if not job.proc:wait(job.grace) then
    say("-- %s still running %gs after SIGTERM: SIGKILL", job.name, job.grace)
    signal_job(job, "KILL")
  end
end

local function finish(job, outcome, detail)
  job.outcome, job.detail = outcome, detail
  if job.started then
    job.seconds = (luv.hrtime() - job.started) / 1e9
    say("-- %s %s: %s after %.2fs", job.name, outcome, detail, job.seconds)
  else
    say("-- %s %s: %s", job.name, outcome, detail)
  end
end

-- A job's fiber: waits for what it needs, runs the command, reports.
local function run_job(job, by_name)
  for _, need in ipairs(job.needs) do
    local dep = by_name[need]
    dep.fiber:join()  -- its fiber ends once that job is over, whatever the outcome
    if dep.outcome ~= "ok" then
      return finish(job, "skipped", ("needs %s, which %s"):format(need, dep.outcome))
    end
  end
  if signals_seen > 0 then return finish(job, "skipped", "chef was stopped") end

  local proc, err = luv.process.spawn(job.argv[1], {
    args = table.move(job.argv, 2, #job.argv, 1, {}), cwd = job.cwd, detached = true,
    stdin = "ignore", stdout = "pipe", stderr = "pipe" })
  if not proc then return finish(job, "failed", err) end
  job.proc, job.started = proc, luv.hrtime()
  say("-- %s started (pid %d): %s", job.name, proc.pid, job.shown)
  local relays = { luv.fiber.create(relay, proc.stdout, "[" .. job.name .. "]"):ready(),
                   luv.fiber.create(relay, proc.stderr, "[" .. job.name .. "!]"):ready() }

  local status, signal = proc:wait(job.timeout)
  if not status then  -- ETIMEDOUT
    if not job.terminating then  -- (unless a signal is stopping it already)
      job.timed_out = true
      say("-- %s timed out after %gs: SIGTERM", job.name, job.timeout)
      terminate(job)
    end
    status, signal = proc:wait()
  end
  for _, r in ipairs(relays) do r:join() end  -- the last lines come before the verdict
  if job.stopper then job.stopper:join() end  -- it may still use proc
  proc:close()

  local detail = signal ~= 0 and "killed by " .. (SIGNALS[signal] or "signal " .. signal)
    or "exit " .. status
  if job.timed_out then
    finish(job, "timed out", detail)
  elseif job.terminating then
    finish(job, "stopped", detail)
  else
    finish(job, (status == 0 and signal == 0) and "ok" or "failed", detail)
  end
end

-- Ctrl-C or SIGTERM: no new job starts, and every running job is stopped, each by a fiber
-- of its own so that their graces run side by side. A second signal kills at once.
local function watch(watcher, jobs)
  while watcher:wait() do  -- fails once chef closes the watcher at the end
    signals_seen = signals_seen + 1
    say("-- %s received: stopping every running job", watcher:name())
    for _, job in ipairs(jobs) do
      if job.proc and not job.outcome then  -- (a job sets its outcome once it is over)
        if signals_seen == 1 then
          job.stopper = luv.fiber.create(terminate, job):ready()
        else
          signal_job(job, "KILL")
        end
      end
    end
  end
end

local function summary(jobs)
  local width = 3
  for _, job in ipairs(jobs) do width = math.max(width, #job.name) end
  local row = "%-" .. width .. "s  %-9s  %8s  %s"
  say("")
  say(row, "job", "result", "time", "detail")
  for _, job in ipairs(jobs) do
    say(row, job.name, job.outcome, job.seconds and ("%.2fs"):format(job.seconds) or "-",
        job.detail)
  end
end

local path = arg[1] or die("usage: chef.lua JOBFILE.yaml")
local jobs, by_name = load_jobs(path)
local watchers = { luv.signal.create("SIGINT"), luv.signal.create("SIGTERM") }
for _, w in ipairs(watchers) do luv.fiber.create(watch, w, jobs):ready() end
-- Every fiber exists before any runs (ready() only queues it), so a job can join the
-- fibers of the jobs it needs.
for _, job in ipairs(jobs) do job.fiber = luv.fiber.create(run_job, job, by_name) end
for _, job in ipairs(jobs) do job.fiber:ready() end
local all_ok = true
for _, job in ipairs(jobs) do
  job.fiber:join()
  all_ok = all_ok and job.outcome == "ok"
end
for _, w in ipairs(watchers) do w:close() end  -- wakes the watching fibers: they end
summary(jobs)
os.exit(all_ok and 0 or 1)
