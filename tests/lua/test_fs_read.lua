-- file:read of regular files, which first tries the page cache on the loop's thread
-- (preadv2 RWF_NOWAIT, src/uv/fs.cpp) and takes the threadpool only for what is not
-- cached: the bytes, the file position, the end of the file and short reads must be
-- exactly those of a plain read(2); pipes must still wait; timers must keep firing while
-- a fiber reads a cached file in a loop. (test_fs.lua has the rest of luv.fs; this file
-- keeps both under 600 lines.)
local tap = require("tap")
local luv, test = tap.luv, tap.test
local fs = luv.fs
local q = tap.shell_quote

local root = assert(fs.mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/luv-test-fs-read-XXXXXX"))
local n = 0

local function path(name)
  n = n + 1
  return ("%s/%d-%s"):format(root, n, name or "f")
end

-- `size` bytes in which every offset is told apart: numbered lines of 9 bytes, so a read
-- from the wrong place, or bytes dropped or repeated, never compare equal.
local function content(size)
  local lines = {}
  for i = 1, size // 9 + 1 do
    lines[i] = ("%08d\n"):format(i)
  end
  return table.concat(lines):sub(1, size)
end

local function write_file(p, data)
  local f <close> = assert(fs.open(p, "w"))
  assert(f:write(data) == #data)
end

-- Reads `f` to its end in reads of `len` (at the position, or at offsets from `from`
-- when given), checking that every read but the last is whole: a read of a regular file
-- comes back short only at the end.
local function read_all(f, len, from)
  local parts, off = {}, from
  while true do
    local got, data = assert(f:read(len, off))
    assert(got == #data)
    if got == 0 then break end
    assert(#parts == 0 or #parts[#parts] == len, "a short read before the end")
    parts[#parts + 1] = data
    off = off and off + got
  end
  return table.concat(parts)
end

-- Drops the page cache of `p` from byte `from` (a multiple of 512) to its end, so that
-- reads there must go to the disk (GNU dd: "iflag=nocache count=0"). Best effort: where
-- it does not work the reads are served from the cache and must be equal all the same.
local function uncache(p, from)
  os.execute(("dd if=%s iflag=nocache skip=%d count=0 status=none 2>/dev/null")
             :format(q(p), from // 512))
  luv.sleep(0)  -- the loop polls: the next read may try the cache (the fairness budget)
end

test("reads without an offset return the file's bytes, whole until the end", function()
  local p = path()
  local data = content((1 << 20) + 123)
  write_file(p, data)
  for _, len in ipairs({ 65536, 7, 100000, (1 << 20) + 200 }) do
    local f <close> = assert(fs.open(p))
    assert(read_all(f, len) == data, "length " .. len)
    local got, rest = f:read(len)
    assert(got == 0 and rest == "", "still at the end")
  end
end)

test("reads at offsets return the file's bytes and leave the position alone", function()
  local p = path()
  local data = content(300007)
  write_file(p, data)
  local f <close> = assert(fs.open(p))
  assert(select(2, f:read(10)) == data:sub(1, 10))
  assert(read_all(f, 65536, 0) == data)
  assert(read_all(f, 4093, 17) == data:sub(18))
  assert(select(2, f:read(10)) == data:sub(11, 20), "the position is still 10")
  assert(select(2, f:read(5, 299990)) == data:sub(299991, 299995))
  assert(read_all(f, 65536) == data:sub(21))
end)

test("a read at or past the end, and one that spans it", function()
  local p = path()
  local data = content(100000)
  write_file(p, data)
  local f <close> = assert(fs.open(p))
  for _, off in ipairs({ 100000, 100001, 1 << 40 }) do
    local got, rest = f:read(100, off)
    assert(got == 0 and rest == "", off)
  end
  local got, tail = f:read(65536, 99990)
  assert(got == 10 and tail == data:sub(99991))
  assert(f:read(99950) == 99950)
  got, tail = f:read(100)                 -- spans the end: short
  assert(got == 50 and tail == data:sub(99951), got)
  assert(f:read(100) == 0 and f:read(100) == 0)
  assert(select(2, f:read(0)) == "")
end)

test("reads of a file whose end is not cached", function()
  local p = path()
  local data = content(4 << 20)
  do
    local f <close> = assert(fs.open(p, "w"))
    assert(f:write(data) == #data)
    assert(f:sync())                      -- written back: only clean pages can be dropped
  end
  local f <close> = assert(fs.open(p))
  uncache(p, 2 << 20)                      -- the second half
  assert(read_all(f, 100000) == data, "at the position")
  uncache(p, 2 << 20)
  assert(read_all(f, 100000, 0) == data, "at offsets")
  uncache(p, 2 << 20)
  local got, all = f:read(#data + 10, 0)  -- cached head, uncached tail: one whole read
  assert(got == #data and all == data, got)
  local g <close> = assert(fs.open(p))
  assert(g:read(1000) == 1000)
  uncache(p, 2 << 20)
  got, all = g:read(#data)                -- at the position, across the uncached part
  assert(got == #data - 1000 and all == data:sub(1001), got)
  assert(g:read(10) == 0, "the position moved by what was read, once")
end)

test("a reader keeps up with a fiber that appends", function()
  local p = path()
  local data = content(3 << 20)
  write_file(p, "")
  local writer = luv.fiber.create(function()
    local w <close> = assert(fs.open(p, "a"))
    for i = 1, #data, 50000 do
      assert(w:write(data:sub(i, i + 49999)) > 0)
      if i % 3 == 0 then luv.sleep(0.001) end
    end
  end):ready()
  local f <close> = assert(fs.open(p))
  local parts, total = {}, 0
  local deadline = tap.now() + 20
  while total < #data do
    local got, chunk = assert(f:read(65536))
    if got == 0 then
      assert(tap.now() < deadline, "the reader fell behind for good")
      luv.sleep(0.001)                    -- at the end for now: the writer goes on
    else
      parts[#parts + 1] = chunk
      total = total + got
    end
  end
  writer:join()
  assert(total == #data and table.concat(parts) == data)
  assert(f:read(10) == 0)
end)

-- A pipe is no page cache: its reads go to the threadpool and wait there, whatever
-- RWF_NOWAIT would say (EAGAIN on an empty pipe).
test("a FIFO read waits for a writer process that starts later, never EAGAIN", function()
  local fifo = path("fifo")
  assert(os.execute("mkfifo " .. q(fifo)), "mkfifo failed")
  do
    local f <close> = assert(fs.open(fifo, "r+"))  -- O_RDWR: the open does not wait
    local reader = luv.fiber.create(function() return f:read(100) end):ready()
    luv.sleep(0.05)
    assert(reader:status() == "suspended")
    assert(os.execute(("(sleep 0.1; printf hello > %s) &"):format(q(fifo))))
    local got, data = reader:join()
    assert(got == 5 and data == "hello", tostring(data))
  end
  -- Read-only: the open itself waits for the writer; then the bytes, then the end.
  assert(os.execute(("(sleep 0.2; printf abc > %s) &"):format(q(fifo))))
  local f <close> = assert(fs.open(fifo, "r"))
  local parts = {}
  while true do
    local got, data = assert(f:read(100))
    if got == 0 then break end
    parts[#parts + 1] = data
  end
  assert(table.concat(parts) == "abc")
end)

test("stdin redirected from a file: its bytes, and the position it shares", function()
  local p = path()
  local data = content(200000)
  write_file(p, data)
  local script = tap.write_temp([[
    local luv = require "luv"
    local limit = tonumber(arg[1])
    local parts, total = {}, 0
    while total < limit do
      local got, chunk = assert(luv.stdin:read(math.min(4099, limit - total)))
      if got == 0 then break end
      parts[#parts + 1] = chunk
      total = total + got
    end
    io.write(table.concat(parts))
  ]])
  local run = ("%s %s"):format(tap.self_command(), q(script))
  local out, code = tap.run(("%s 1000000 < %s"):format(run, q(p)))
  assert(code == 0 and out == data, "the whole file: " .. #out .. " bytes")
  -- The child reads 10000 bytes and leaves; cat goes on where the shared position is.
  out, code = tap.run(("(%s 10000; cat) < %s"):format(run, q(p)))
  os.remove(script)
  assert(code == 0 and out == data, "the child and cat: " .. #out .. " bytes")
end)

-- Only where the filesystem is known to support RWF_NOWAIT (tmpfs does not, on 6.18).
local fstype = io.popen("stat -f -c %T " .. q(root) .. " 2>/dev/null"):read("l")
local nowait_fs = ({ ["ext2/ext3"] = true, xfs = true, btrfs = true })[fstype]
;(nowait_fs and test or tap.skip)("a read from the page cache returns without suspending",
                                  nowait_fs and function()
  local p = path()
  write_file(p, content(100000))
  local f <close> = assert(fs.open(p))
  assert(f:read(10) == 10)
  -- The read completes at once only if the loop polled less than 1 ms ago (the fairness
  -- budget), which a loaded machine may miss once or twice.
  for _ = 1, 50 do
    luv.sleep(0)
    local ran = false
    luv.fiber.create(function() ran = true end):ready()
    assert(f:read(1000, 0) == 1000)
    if not ran then return end
  end
  error("every read suspended")
end or "RWF_NOWAIT may be unsupported on " .. tostring(fstype))

test("timers keep firing while a fiber reads a cached file in a loop", function()
  local p = path()
  local size = 8 << 20
  write_file(p, content(1 << 20):rep(8))
  local reading, worst, ticks = true, 0, 0
  local ticker = luv.fiber.create(function()
    while reading do
      local t0 = luv.hrtime()
      assert(luv.sleep(0.01))
      worst = math.max(worst, (luv.hrtime() - t0) / 1e6 - 10)
      ticks = ticks + 1
    end
  end):ready()
  -- At offsets, round and round: nothing else (an open at the end) ever suspends.
  local f <close> = assert(fs.open(p))
  local t0, bytes, off = luv.hrtime(), 0, 0
  while luv.hrtime() - t0 < 0.6e9 do
    local got = assert(f:read(65536, off))
    off = (off + got) % size
    bytes = bytes + got
  end
  reading = false
  ticker:join()
  assert(bytes > 8 << 20, "read " .. bytes .. " bytes")
  assert(ticks >= 15 and worst < 200, ("%d ticks, %.1f ms late at worst"):format(ticks, worst))
end)

test("the test directory is removed", function()
  for _, name in ipairs(assert(fs.readdir(root))) do
    assert(fs.unlink(root .. "/" .. name))
  end
  assert(fs.rmdir(root))
end)

tap.done()
