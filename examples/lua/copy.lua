-- Copies a file in 64 KiB reads and writes with luv.fs, then prints the bytes copied:
--
--   lua5.4 copy.lua <source> <destination>
--
-- Every read and write runs on libuv's threadpool; the calling fiber (here the main
-- chunk) waits while other fibers and the loop go on. Without arguments the example
-- copies a file of its own making in a temporary directory, so it also runs as a test.
local luv = require "luv"
local fs = luv.fs

local chunk = 64 * 1024

local function copy(from, to)
  local src <close> = assert(fs.open(from, "r"))
  local dst <close> = assert(fs.open(to, "w", src:stat().perm))
  local total, reads = 0, 0
  while true do
    local n, data = assert(src:read(chunk))
    if n == 0 then break end                -- 0, "" at the end of the file
    assert(dst:write(data))                 -- at dst's position: the data appends
    total, reads = total + n, reads + 1
  end
  return total, reads
end

if arg[1] then
  assert(arg[2], "usage: copy.lua <source> <destination>")
  print(("copied %d bytes"):format(copy(arg[1], arg[2])))
  return
end

-- No arguments: copy 200,000 bytes between two files of a temporary directory.
local dir = assert(fs.mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/luv-copy-XXXXXX"))
local from, to = dir .. "/source", dir .. "/copy"
do
  local f <close> = assert(fs.open(from, "w", "644"))
  local line = ("0123456789"):rep(9) .. "abcdefghi\n"  -- 100 bytes
  assert(f:write(line:rep(2000)) == 200000)
end

local total, reads = copy(from, to)
print(("copied %d bytes in %d reads"):format(total, reads))

local a <close> = assert(fs.open(from))
local b <close> = assert(fs.open(to))
print("identical:", select(2, a:read(total)) == select(2, b:read(total)))

assert(fs.unlink(from))
assert(fs.unlink(to))
assert(fs.rmdir(dir))
