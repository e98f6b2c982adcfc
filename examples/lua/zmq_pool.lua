-- A pool of workers fed over PUSH/PULL, their results coming back over PULL: first as
-- luv.threads on inproc:// endpoints of one context, then the same worker code as child
-- processes on tcp://127.0.0.1 (ports the system picks).
--
--   lua5.4 zmq_pool.lua [workers [jobs]]             both pools, one after the other
--   lua5.4 zmq_pool.lua worker <jobs> <results> <id> a worker process (the pool starts them)
local luv = require("luv")

-- The work: slow enough that the workers share it.
local function fib(n)
   if n < 2 then return n end
   return fib(n - 1) + fib(n - 2)
end

-- A worker: takes jobs until "STOP", sends each result back as a multipart message
-- { job, result, worker }, and "bye" when it stops. The same code runs in a thread (with
-- the pool's context, which crosses to the thread as an argument) and in a process (with
-- a context of its own).
local function worker(ctx, jobs_endpoint, results_endpoint, id)
   local jobs = assert(ctx:socket("PULL"))
   local results = assert(ctx:socket("PUSH"))
   assert(jobs:connect(jobs_endpoint))
   assert(results:connect(results_endpoint))
   while true do
      local job = assert(jobs:recv())
      if job == "STOP" then
         break
      end
      local n = tonumber(job)
      assert(results:send({ job, tostring(fib(n)), id }))
   end
   assert(results:send({ "bye", "", id }))
   jobs:close()
   results:close()
end

if arg[1] == "worker" then
   local ctx = assert(luv.zmq.create())
   worker(ctx, arg[2], arg[3], arg[4])
   ctx:close()  -- waits until the results are out
   return
end

local nworkers = tonumber(arg[1]) or 4
local njobs = tonumber(arg[2]) or 12

-- The interpreter running this script (lua5.4 or the luv command), to start workers.
local interpreter = arg[0]
do
   local i = 0
   while arg[i - 1] do i = i - 1 end
   interpreter = arg[i]
end

local function run_pool(kind)
   local ctx = assert(luv.zmq.create())
   local jobs = assert(ctx:socket("PUSH"))
   local results = assert(ctx:socket("PULL"))
   local where = kind == "threads" and { "inproc://jobs", "inproc://results" }
                                    or { "tcp://127.0.0.1:*", "tcp://127.0.0.1:*" }
   local jobs_endpoint = assert(jobs:bind(where[1]))
   local results_endpoint = assert(results:bind(where[2]))

   local members = {}
   for id = 1, nworkers do
      if kind == "threads" then
         members[id] = luv.thread.spawn(worker, ctx, jobs_endpoint, results_endpoint,
                                        tostring(id))
      else
         members[id] = assert(luv.process.spawn(interpreter, {
            arg[0], "worker", jobs_endpoint, results_endpoint, tostring(id) }))
      end
   end

   -- PUSH hands the jobs out round-robin to the workers connected so far: every job
   -- is done exactly once, whoever does it.
   for n = 20, 20 + njobs - 1 do
      assert(jobs:send(tostring(n)))
   end
   local answers = {}
   for _ = 1, njobs do
      local r = assert(results:recv_multipart())  -- { job, result, worker id }
      answers[tonumber(r[1])] = r[2]
   end

   -- Stop them: a STOP may go to a worker that has just stopped (PUSH learns that its
   -- peer is gone a moment later), so send one more every 100 ms until all said bye.
   assert(results:setsockopt("RCVTIMEO", 100))
   local byes = 0
   while byes < nworkers do
      assert(jobs:send("STOP"))
      local r = results:recv_multipart()
      if r then
         assert(r[1] == "bye")
         byes = byes + 1
      end
   end
   for id = 1, nworkers do
      if kind == "threads" then
         assert(members[id]:join())
      else
         assert(members[id]:wait() == 0)
      end
   end

   print(("%d %s, %d jobs:"):format(nworkers, kind, njobs))
   for n = 20, 20 + njobs - 1 do
      print(("  fib(%d) = %s"):format(n, answers[n]))
   end
   ctx:close()  -- the STOPs nobody took are dropped (LINGER 0 for open sockets)
end

run_pool("threads")
run_pool("processes")
