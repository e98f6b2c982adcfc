-- luv.fs and file objects. Everything happens in a directory made by mkdtemp and removed
-- at the end.
local tap = require("tap")
local luv, test, raises, fails = tap.luv, tap.test, tap.raises, tap.fails
local fs = luv.fs

local root = assert(fs.mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/luv-test-fs-XXXXXX"))
local n = 0

-- A fresh path in the test directory.
local function path(name)
  n = n + 1
  return ("%s/%d-%s"):format(root, n, name or "f")
end

local function write_file(p, data)
  local f <close> = assert(fs.open(p, "w"))
  assert(f:write(data) == #data)
end

local function read_file(p)
  local f <close> = assert(fs.open(p, "r"))
  local parts = {}
  while true do
    local len, data = assert(f:read(7))  -- small reads: several per file
    if len == 0 then break end
    parts[#parts + 1] = data
  end
  return table.concat(parts)
end

local function mkfifo(p)
  assert(os.execute("mkfifo " .. tap.shell_quote(p)), "mkfifo failed")
end

-- The file an open descriptor of this process refers to, or nil if it is not open.
local function fd_target(fd)
  return (fs.readlink("/proc/self/fd/" .. fd))
end

-- Waits (sleeping, so other fibers run) until pred() is true; fails after 5 s.
local function eventually(pred, what)
  for _ = 1, 500 do
    if pred() then return end
    luv.sleep(0.01)
  end
  error("timed out waiting for " .. what)
end

-- How many threads of this process sit in a system call on `fd` (Linux's
-- /proc/<pid>/task/<tid>/syscall: the call's number, then its arguments in hex), or nil
-- if the kernel does not say. Plain io only: the threadpool may be all busy.
local function threads_in_syscall_on(fd)
  local stat = io.open("/proc/self/stat")
  if not stat then return nil end
  local pid = stat:read("n")
  stat:close()
  local ls = assert(io.popen("ls /proc/" .. pid .. "/task"))
  local count = 0
  for tid in ls:lines() do
    local f = io.open("/proc/" .. pid .. "/task/" .. tid .. "/syscall")
    if not f then ls:close() return nil end
    local first = f:read("l") or ""
    f:close()
    local arg1 = first:match("^%d+ 0x(%x+) ")
    if arg1 and tonumber(arg1, 16) == fd then count = count + 1 end
  end
  ls:close()
  return count
end

-- Waits until `n` threadpool threads are blocked in a read of `fd`: then a cancel finds
-- the requests running, not queued.
local function wait_blocked_reads(fd, n)
  if threads_in_syscall_on(fd) == nil then
    luv.sleep(0.1)  -- no /proc/.../syscall here: give the threads time
    return
  end
  eventually(function() return threads_in_syscall_on(fd) >= n end, "reads to block")
end

-- ---- files --------------------------------------------------------------------------

test("open, write, read back, close", function()
  local p = path()
  local f = assert(fs.open(p, "w"))
  assert(getmetatable(f).__name == "luv.file")
  assert(math.type(f:fd()) == "integer" and f:fd() > 2)
  assert(f:write("hello ") == 6)
  assert(f:write("world\n") == 6)  -- at the position, not at 0 as the original did
  assert(f:close() == true)
  assert(f:close() == true)        -- idempotent
  assert(tostring(f):find("^luv%.file: 0x%x+ %(closed%)$"))

  f = assert(fs.open(p))           -- mode defaults to "r"
  assert(tostring(f):find("^luv%.file: 0x%x+$"))
  local len, data = f:read()
  assert(len == 12 and data == "hello world\n", data)
  len, data = f:read()
  assert(len == 0 and data == "", "0, \"\" at the end")
  assert(f:close())
end)

test("read and write at an offset leave the position alone", function()
  local p = path()
  local f <close> = assert(fs.open(p, "w+"))
  assert(f:write("0123456789") == 10)
  assert(f:write("AB", 2) == 2)
  assert(select(2, f:read(4, 1)) == "1AB4")
  assert(f:write("!") == 1)        -- still at 10: appended
  assert(f:read(100, 0) == 11)
  assert(select(2, f:read(100, 0)) == "01AB456789!")
  assert(f:read(5, 100) == 0)      -- past the end
  assert(select(2, f:read(0)) == "")
end)

test("a large write is written whole and read back in pieces", function()
  local p = path()
  local big = ("0123456789abcdef"):rep(64 * 1024 + 3)  -- 1 MiB + 48 bytes
  do
    local f <close> = assert(fs.open(p, "w"))
    assert(f:write(big) == #big)
  end
  local f <close> = assert(fs.open(p))
  local parts, total = {}, 0
  repeat
    local len, data = assert(f:read())
    assert(len <= 65536, "default length is 64 KiB")
    total = total + len
    parts[#parts + 1] = data
  until len == 0
  assert(total == #big and table.concat(parts) == big)
end)

test("open modes", function()
  local p = path()
  fails("ENOENT", fs.open(p, "r"))
  local _, msg = fs.open(p, "r")
  assert(msg == "ENOENT: no such file or directory: " .. p, msg)
  fails("ENOENT", fs.open(p, "r+"))

  write_file(p, "abc")
  write_file(p, "xy")                       -- "w" truncates
  assert(read_file(p) == "xy")
  do
    local f <close> = assert(fs.open(p, "a"))
    assert(f:write("z") == 1)               -- "a" appends
  end
  assert(read_file(p) == "xyz")
  do
    local f <close> = assert(fs.open(p, "r+")) -- no truncation, writes from the start
    assert(f:write("Q") == 1)
    assert(select(2, f:read()) == "yz")
  end
  assert(read_file(p) == "Qyz")
  do
    local f <close> = assert(fs.open(p, "a+"))
    assert(f:write("!") == 1)
    assert(select(2, f:read(10, 0)) == "Qyz!")
    fails("EBADF", fs.open(p, "r"):write("x"))  -- read-only
  end
  do
    local f <close> = assert(fs.open(p, "w+"))
    assert(f:read() == 0)
  end
  fails("EEXIST", fs.open(p, "wx"))
  fails("EEXIST", fs.open(p, "ax+"))
  local q = path()
  local f = assert(fs.open(q, "wx"))
  f:close()
  assert(fs.open(q, "rb")):close()          -- "b" is accepted and ignored
  for _, bad in ipairs({ "", "q", "rw", "r++", "rx", "wxx", "+r" }) do
    raises("bad argument #2 to 'open' (invalid mode '" .. bad .. "')",
           function() return fs.open(q, bad) end)
  end
  fails("EISDIR", fs.open(root, "w"))
  raises("bad argument #1 to 'open' (path contains a zero byte)",
         function() return fs.open(q .. "\0x", "r") end)
  raises("bad argument #1 to 'open' (string expected, got no value)",
         function() return fs.open() end)
end)

test("permissions: octal strings or integers", function()
  local p = path()
  assert(fs.open(p, "w", "600")):close()
  assert(fs.stat(p).perm == 384)           -- 0600 survives any common umask
  assert(fs.chmod(p, "640") == true)
  assert(fs.stat(p).perm == 416 and fs.stat(p).mode & 511 == 416)
  assert(fs.chmod(p, 420) == true)          -- 0644 in C
  assert(fs.stat(p).perm == 420)
  for _, bad in ipairs({ "9", "abc", "", "-1", "77777" }) do
    raises("bad argument #2 to 'chmod' (invalid permissions",
           function() return fs.chmod(p, bad) end)
  end
  raises("bad argument #2 to 'chmod' (invalid permissions)", function() return fs.chmod(p, -1) end)
  raises("bad argument #2 to 'chmod'", function() return fs.chmod(p) end)
  raises("bad argument #3 to 'open' (invalid permissions",
         function() return fs.open(p, "r", "8") end)
  fails("ENOENT", fs.chmod(path(), 420))
end)

test("file methods: stat, sync, datasync, truncate, utime, chmod, chown", function()
  local p = path()
  local f <close> = assert(fs.open(p, "w+"))
  assert(f:write("0123456789") == 10)
  local st = assert(f:stat())
  assert(st.size == 10 and st.type == "file" and st.is_file)
  assert(f:sync() == true)
  assert(f:datasync() == true)
  assert(f:truncate(4) == true)
  assert(f:stat().size == 4)
  assert(f:truncate() == true)
  assert(f:stat().size == 0)
  raises("length must be >= 0", function() return f:truncate(-1) end)
  assert(f:utime(1000000000.25, 1500000000.5) == true)
  st = f:stat()
  assert(math.abs(st.atime - 1000000000.25) < 1e-3 and math.abs(st.mtime - 1500000000.5) < 1e-3)
  local before = os.time()
  assert(f:utime() == true)                 -- now
  assert(f:stat().mtime >= before - 1)
  assert(f:chmod("600") == true and f:stat().perm == 384)
  assert(f:chown(st.uid, st.gid) == true)   -- to the owner it has: allowed for anyone
  assert(f:chown(-1, -1) == true)
  -- Lua counts a method's arguments after self.
  raises("bad argument #1 to 'read' (length must be >= 0)", function() return f:read(-1) end)
  raises("bad argument #2 to 'read' (offset must be >= 0)", function() return f:read(1, -5) end)
  raises("bad argument #1 to 'write'", function() return f:write() end)
end)

test("a closed file raises on every method but close", function()
  local f = assert(fs.open(path(), "w"))
  f:close()
  for _, m in ipairs({ "read", "write", "stat", "sync", "datasync", "truncate", "utime",
                       "chmod", "chown", "fd" }) do
    raises("attempt to use a closed luv.file", function() return f[m](f, "x", 1) end)
  end
  raises("attempt to use a closed luv.file", function() return fs.sendfile(f, f) end)
  assert(f:close() == true)
  raises("luv.file expected", function() return fs.open(path(), "w").read({}) end)
end)

test("<close> and the garbage collector close the descriptor", function()
  local p = path()
  local fd
  do
    local f <close> = assert(fs.open(p, "w"))
    fd = f:fd()
    assert(fd_target(fd) == p)
  end
  assert(fd_target(fd) ~= p)
  fd = assert(fs.open(p)):fd()  -- dropped at once
  collectgarbage()
  collectgarbage()
  assert(fd_target(fd) ~= p, "__gc closed the descriptor")
end)

-- ---- paths ---------------------------------------------------------------------------

test("stat and lstat", function()
  local p, l = path(), path("link")
  write_file(p, "12345")
  local st = assert(fs.stat(p))
  assert(st.size == 5 and st.type == "file" and st.is_file and not st.is_directory)
  assert(st.nlink == 1 and st.ino > 0 and st.blksize > 0 and st.blocks >= 0)
  assert(math.type(st.dev) == "integer" and math.type(st.uid) == "integer")
  assert(math.type(st.gid) == "integer" and math.type(st.rdev) == "integer")
  assert(math.type(st.mtime) == "float" and math.type(st.atime) == "float")
  assert(math.type(st.ctime) == "float" and math.type(st.birthtime) == "float")
  assert(math.abs(st.mtime - os.time()) < 60)
  for _, k in ipairs({ "is_symbolic_link", "is_fifo", "is_socket", "is_character_device",
                       "is_block_device" }) do
    assert(st[k] == false, k)
  end
  st = assert(fs.stat(root))
  assert(st.type == "directory" and st.is_directory)
  assert(fs.stat("/dev/null").type == "char" and fs.stat("/dev/null").is_character_device)

  assert(fs.symlink(p, l) == true)
  assert(fs.lstat(l).type == "link" and fs.lstat(l).is_symbolic_link)
  assert(fs.stat(l).type == "file" and fs.stat(l).ino == fs.stat(p).ino)
  fails("ENOENT", fs.stat(path()))
  fails("ENOENT", fs.lstat(path()))
  fails("ENOTDIR", fs.stat(p .. "/x"))
end)

test("unlink, mkdir, rmdir", function()
  local p, d = path(), path("dir")
  write_file(p, "")
  assert(fs.unlink(p) == true)
  fails("ENOENT", fs.unlink(p))
  assert(fs.mkdir(d) == true)
  fails("EEXIST", fs.mkdir(d))
  local _, msg = fs.mkdir(d)
  assert(msg == "EEXIST: file already exists: " .. d, msg)
  write_file(d .. "/x", "")
  fails("ENOTEMPTY", fs.rmdir(d))
  fails("EISDIR", fs.unlink(d))
  assert(fs.unlink(d .. "/x") and fs.rmdir(d) == true)
  fails("ENOENT", fs.rmdir(d))
  assert(fs.mkdir(d, "700") == true and fs.stat(d).perm == 448)
  assert(fs.rmdir(d))
  fails("ENOENT", fs.mkdir(path() .. "/a/b"))
end)

test("readdir and scandir", function()
  local d = path("dir")
  assert(fs.mkdir(d))
  assert(#assert(fs.readdir(d)) == 0)
  for _, name in ipairs({ "b", "a", "C", "10", "2" }) do write_file(d .. "/" .. name, "") end
  assert(fs.mkdir(d .. "/sub"))
  assert(fs.symlink("a", d .. "/ln"))
  mkfifo(d .. "/pipe")
  assert(table.concat(fs.readdir(d), " ") == "10 2 C a b ln pipe sub")  -- bytewise
  local types = {}
  for i, e in ipairs(assert(fs.scandir(d))) do
    types[i] = e.name .. "=" .. e.type
  end
  assert(table.concat(types, " ") ==
         "10=file 2=file C=file a=file b=file ln=link pipe=fifo sub=directory",
         table.concat(types, " "))
  fails("ENOENT", fs.readdir(path()))
  fails("ENOTDIR", fs.scandir(d .. "/a"))
end)

test("rename", function()
  local a, b = path(), path()
  write_file(a, "data")
  assert(fs.rename(a, b) == true)
  assert(read_file(b) == "data")
  fails("ENOENT", fs.stat(a))
  local _, msg = fs.rename(a, b)
  assert(msg == ("ENOENT: no such file or directory: %s -> %s"):format(a, b), msg)
end)

test("link, symlink, readlink, realpath", function()
  local p, h, s = path(), path("hard"), path("soft")
  write_file(p, "x")
  assert(fs.link(p, h) == true)
  assert(fs.stat(p).nlink == 2 and fs.stat(h).ino == fs.stat(p).ino)
  fails("EEXIST", fs.link(p, h))
  fails("ENOENT", fs.link(path(), path()))
  assert(fs.symlink(p, s) == true)
  fails("EEXIST", fs.symlink(p, s))
  assert(fs.readlink(s) == p)
  fails("EINVAL", fs.readlink(p))
  fails("ENOENT", fs.readlink(path()))
  local real = assert(fs.realpath(root))
  assert(fs.realpath(s) == real .. p:sub(#root + 1))
  assert(fs.realpath(root .. "/../" .. root:match("[^/]+$")) == real)
  fails("ENOENT", fs.realpath(path()))
  local dangling = path("dangling")
  assert(fs.symlink(path("missing"), dangling))  -- a link may point nowhere
  fails("ENOENT", fs.stat(dangling))
  assert(fs.lstat(dangling).is_symbolic_link)
end)

test("chown and utime on paths", function()
  local p = path()
  write_file(p, "")
  local st = fs.stat(p)
  assert(fs.chown(p, st.uid, st.gid) == true)
  fails("ENOENT", fs.chown(path(), st.uid, st.gid))
  raises("bad argument #3 to 'chown'", function() return fs.chown(p, 0) end)
  assert(fs.utime(p, 2000000000, 1234567890.75) == true)
  st = fs.stat(p)
  assert(st.atime == 2000000000 and math.abs(st.mtime - 1234567890.75) < 1e-3)
  assert(fs.utime(p, 100) == true)          -- mtime defaults to atime
  assert(fs.stat(p).mtime == 100)
  assert(fs.utime(p) == true)               -- both now
  assert(math.abs(fs.stat(p).mtime - os.time()) < 60)
  fails("ENOENT", fs.utime(path(), 1, 1))
end)

test("sendfile", function()
  local src, dst = path(), path()
  write_file(src, "0123456789")
  local out <close> = assert(fs.open(dst, "w+"))
  local inp <close> = assert(fs.open(src))
  assert(fs.sendfile(out, inp) == 10)             -- the whole file
  assert(fs.sendfile(out, inp, 7) == 3)           -- the rest from 7
  assert(fs.sendfile(out, inp, 2, 3) == 3)        -- 3 bytes from 2
  assert(fs.sendfile(out, inp, 50) == 0)          -- past the end
  assert(select(2, out:read(100, 0)) == "0123456789789234")
  assert(select(2, inp:read()) == "0123456789", "the input's position did not move")
  raises("bad argument #3 to 'sendfile' (offset must be >= 0)",
         function() return fs.sendfile(out, inp, -2) end)
  raises("luv.file expected", function() return fs.sendfile(out, "x") end)
  local ro <close> = assert(fs.open(src))
  fails("EBADF", fs.sendfile(ro, inp))            -- the output is read-only
end)

test("copyfile", function()
  local a, b = path(), path()
  write_file(a, "copy me")
  assert(fs.copyfile(a, b) == true)
  assert(read_file(b) == "copy me")
  assert(fs.copyfile(a, b) == true)               -- overwrites
  fails("EEXIST", fs.copyfile(a, b, { excl = true }))
  fails("EEXIST", fs.copyfile(a, b, 1))
  assert(fs.copyfile(a, path(), { ficlone = true }))  -- falls back to a copy
  fails("ENOENT", fs.copyfile(path(), path()))
  raises("bad argument #3 to 'copyfile' (invalid flags)",
         function() return fs.copyfile(a, b, 99) end)
end)

test("access", function()
  local p = path()
  write_file(p, "")
  assert(fs.chmod(p, "600"))
  assert(fs.access(p) == true)
  assert(fs.access(p, "r") == true and fs.access(p, "rw") == true and fs.access(p, 6) == true)
  fails("EACCES", fs.access(p, "x"))              -- no x bit: refused even to root
  assert(fs.access(root, "rwx") == true)
  fails("ENOENT", fs.access(path()))
  fails("ENOENT", fs.access(path(), "r"))
  raises("bad argument #2 to 'access' (invalid mode 'q')", function() return fs.access(p, "q") end)
end)

test("mkdtemp", function()
  local d = assert(fs.mkdtemp(root .. "/tmp-XXXXXX"))
  assert(d:match("^" .. root:gsub("%p", "%%%0") .. "/tmp%-......$"), d)
  assert(fs.stat(d).is_directory and fs.stat(d).perm == 448)
  assert(fs.mkdtemp(root .. "/tmp-XXXXXX") ~= d)
  assert(fs.rmdir(d))
  fails("EINVAL", fs.mkdtemp(root .. "/no-template"))
  fails("ENOENT", fs.mkdtemp(root .. "/missing/tmp-XXXXXX"))
end)

test("cwd, chdir, exepath", function()
  local here = assert(fs.cwd())
  assert(here:sub(1, 1) == "/")
  assert(fs.chdir(root) == true)
  assert(fs.cwd() == fs.realpath(root))
  write_file("relative", "r")                     -- relative paths follow the cwd
  assert(read_file(root .. "/relative") == "r")
  assert(fs.unlink("relative"))
  assert(fs.chdir(here) == true and fs.cwd() == here)
  local missing = path()
  fails("ENOENT", fs.chdir(missing))
  assert(select(2, fs.chdir(missing)) == "ENOENT: no such file or directory: " .. missing)
  local exe = assert(fs.exepath())
  assert(exe:sub(1, 1) == "/" and fs.stat(exe).is_file, exe)
end)

-- ---- suspending ------------------------------------------------------------------------

tap.test_main("fs calls from the main chunk", function()
  local p = path()
  write_file(p, "main")
  assert(read_file(p) == "main")
  assert(fs.stat(p).size == 4)
  fails("ENOENT", fs.stat(path()))
end)

test("fs calls park inside a table.sort comparator", function()
  local names = {}
  for i = 1, 5 do
    names[i] = path()
    write_file(names[i], ("x"):rep(6 - i))
  end
  table.sort(names, function(a, b) return fs.stat(a).size < fs.stat(b).size end)
  assert(fs.stat(names[1]).size == 1 and fs.stat(names[5]).size == 5)
end)

test("a fiber blocked in fs keeps nobody else waiting", function()
  local fifo = path("fifo")
  mkfifo(fifo)
  assert(fs.stat(fifo).type == "fifo")
  local f <close> = assert(fs.open(fifo, "r+"))    -- O_RDWR: the open does not block
  local reader = luv.fiber.create(function() return f:read(5) end):ready()
  local ticks = 0
  local ticker = luv.fiber.create(function()
    local t <close> = luv.timer.create()
    t:start(1, 1)
    for _ = 1, 5 do
      t:wait()
      ticks = ticks + 1
    end
  end):ready()
  ticker:join()
  assert(ticks == 5 and reader:status() == "suspended")
  local w <close> = assert(fs.open(fifo, "w"))
  assert(w:write("hello") == 5)
  local len, data = reader:join()
  assert(len == 5 and data == "hello")
end)

test("cancel a fiber blocked in a read: ECANCELED, and the request is freed later", function()
  local fifo = path("fifo")
  mkfifo(fifo)
  local f = assert(fs.open(fifo, "r+"))
  local fd = f:fd()
  local reader = luv.fiber.create(function() return f:read(100) end):ready()
  wait_blocked_reads(fd, 1)
  assert(reader:status() == "suspended")
  assert(reader:cancel() == true)
  fails("ECANCELED", reader:join())
  -- The read still runs on the threadpool. Meanwhile the process goes on.
  local p = path()
  write_file(p, "still fine")
  assert(read_file(p) == "still fine")
  assert(f:close() == true)
  assert(fd_target(fd) == fifo, "the close waits for the read in flight")
  -- Data ends the stale read; its callback frees the request and closes the descriptor.
  local w <close> = assert(fs.open(fifo, "w"))
  assert(w:write("x") == 1)
  eventually(function() return fd_target(fd) ~= fifo end, "the deferred close")
end)

test("closing a file wakes a fiber blocked on it with ECANCELED", function()
  local fifo = path("fifo")
  mkfifo(fifo)
  local f = assert(fs.open(fifo, "r+"))
  local fd = f:fd()
  local reader = luv.fiber.create(function() return f:read(100) end):ready()
  wait_blocked_reads(fd, 1)
  assert(f:close() == true)
  fails("ECANCELED", reader:join())
  local w <close> = assert(fs.open(fifo, "w"))
  assert(w:write("x") == 1)
  eventually(function() return fd_target(fd) ~= fifo end, "the deferred close")
end)

test("cancel a request still queued behind a busy threadpool", function()
  local threads = tonumber(os.getenv("UV_THREADPOOL_SIZE")) or 4
  local fifo = path("fifo")
  mkfifo(fifo)
  local f <close> = assert(fs.open(fifo, "r+"))
  local readers = {}
  for i = 1, threads do  -- one blocked read per thread of the pool
    readers[i] = luv.fiber.create(function() return f:read(1) end):ready()
  end
  wait_blocked_reads(f:fd(), threads)
  local p = path()
  local queued = luv.fiber.create(function() return fs.open(p, "w") end):ready()
  luv.sleep(0.01)  -- it waits in the pool's queue
  assert(queued:cancel())
  fails("ECANCELED", queued:join())
  -- Every pool thread is in a read: the writer is opened by plain io, which does not
  -- block since the FIFO has a reader (our "r+" descriptor).
  local w = assert(io.open(fifo, "w"))
  w:write(("y"):rep(threads))
  w:close()
  for i = 1, threads do
    assert(readers[i]:join() == 1)
  end
  fails("ENOENT", fs.stat(p))  -- the cancelled open never ran
end)

-- ---- cleanup -------------------------------------------------------------------------

local function remove_tree(d)
  for _, e in ipairs(assert(fs.scandir(d))) do
    local p = d .. "/" .. e.name
    if e.type == "directory" then
      remove_tree(p)
    else
      assert(fs.unlink(p))
    end
  end
  assert(fs.rmdir(d))
end

test("the test directory is removed", function()
  remove_tree(root)
  fails("ENOENT", fs.stat(root))
end)

tap.done()
