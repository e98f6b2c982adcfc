-- docscov.lua - checks that the Lua API is documented, like luvit/luv's .ci/docscov.sh.
--
--   LUA_CPATH="build/?.so;;" lua5.4 scripts/docscov.lua [docs/lua-api]
--
-- It loads the module the interpreter finds, walks it, and requires a heading in
-- docs/lua-api/*.md for every name a user can reach:
--
--   - every function and value of the module and its sub-modules:  ### `luv.sleep(seconds)`
--   - every method of every object type "luv.<type>" in the registry: ### `timer:start(...)`
--     (the receiver is the last part of the type name: luv.timer -> timer)
--
-- It also rejects headings that name something the module does not have, so that the
-- docs cannot go on describing a function after it is renamed or removed. Names that
-- start with "__" (metamethods, __name) are not part of the API and are skipped.
--
-- Prints what is missing or stale and exits 1 if anything is, 0 otherwise.

local luv = require "luv"

local docs_dir = arg[1]
if docs_dir == nil then
  local here = (arg[0] or ""):match("^(.*)[/\\][^/\\]*$") or "."
  docs_dir = here .. "/../docs/lua-api"
end

-- The object types the module had when this script was written. They are looked for
-- anyway, so that a type that disappears is reported instead of silently skipped.
local expected_types = { ["luv.fiber"] = true, ["luv.timer"] = true, ["luv.idle"] = true,
                         ["luv.main"] = true, ["luv.tcp"] = true, ["luv.pipe"] = true,
                         ["luv.udp"] = true, ["luv.process"] = true,
                         ["luv.signal"] = true, ["luv.thread"] = true }

---------------------------------------------------------------------------------------
-- What the module offers.

local required = {}   -- name -> what it is; each needs a heading
local known = { luv = true }  -- every name that exists (also the sub-module tables)
local receivers = {}  -- "timer" -> "luv.timer"

local function walk(prefix, t, seen)
  seen[t] = true
  for k, v in pairs(t) do
    if type(k) == "string" and not k:match("^__") then
      local name = prefix .. "." .. k
      known[name] = true
      if type(v) == "table" then
        if not seen[v] then
          walk(name, v, seen)
        end
      else
        required[name] = type(v)
      end
    end
  end
end
walk("luv", luv, {})

local problems = 0
local registry = debug.getregistry()

for type_name, must_exist in pairs(expected_types) do
  if must_exist and type(registry[type_name]) ~= "table" then
    io.stderr:write(("docscov: the metatable %q is not in the registry\n"):format(type_name))
    problems = problems + 1
  end
end

for key, mt in pairs(registry) do
  if type(key) == "string" and key:match("^luv%.[%w_.]+$") and type(mt) == "table"
      and rawget(mt, "__name") == key then
    local receiver = key:match("([%w_]+)$")
    receivers[receiver] = key
    local index = rawget(mt, "__index")
    if type(index) == "table" then
      for k, v in pairs(index) do
        if type(k) == "string" and not k:match("^__") and type(v) == "function" then
          local name = receiver .. ":" .. k
          required[name] = "method of " .. key
          known[name] = true
        end
      end
    end
  end
end

---------------------------------------------------------------------------------------
-- What the docs document: the backquoted names in headings, outside code blocks.

local function list_markdown(dir)
  local quoted = "'" .. dir:gsub("'", "'\\''") .. "'"
  local pipe = assert(io.popen("ls -1 " .. quoted .. " 2>/dev/null"))
  local files = {}
  for line in pipe:lines() do
    if line:match("%.md$") then
      files[#files + 1] = dir .. "/" .. line
    end
  end
  pipe:close()
  table.sort(files)
  return files
end

local documented = {}  -- name -> "file:line"
local files = list_markdown(docs_dir)
if #files == 0 then
  io.stderr:write(("docscov: no .md files in %s\n"):format(docs_dir))
  os.exit(1)
end

for _, path in ipairs(files) do
  local in_code = false
  local n = 0
  for line in io.lines(path) do
    n = n + 1
    if line:match("^%s*```") then
      in_code = not in_code
    elseif not in_code and line:match("^#+%s") then
      for span in line:gmatch("`([^`]+)`") do
        local name = span:match("^([%w_.:]+)")
        if name then
          documented[name] = documented[name] or (path .. ":" .. n)
        end
      end
    end
  end
end

---------------------------------------------------------------------------------------
-- Compare.

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

local missing = {}
for _, name in ipairs(sorted_keys(required)) do
  if not documented[name] then
    missing[#missing + 1] = name
  end
end

-- A heading name is checked only if it is in the module's namespace: "luv..." or a
-- method of a known receiver. Other backquoted words in headings are left alone.
local function in_namespace(name)
  if name == "luv" or name:match("^luv%.") then
    return true
  end
  local receiver = name:match("^([%w_]+):")
  return receiver ~= nil and receivers[receiver] ~= nil
end

local stale = {}
for _, name in ipairs(sorted_keys(documented)) do
  if in_namespace(name) and not known[name] then
    stale[#stale + 1] = name
  end
end

for _, name in ipairs(missing) do
  print(("missing: %-32s (%s) has no heading in %s/*.md"):format(name, required[name], docs_dir))
end
for _, name in ipairs(stale) do
  print(("stale:   %-32s documented at %s, but the module has no such name"):format(
    name, documented[name]))
end

local total = #sorted_keys(required)
print(("docscov: %d of %d names documented, %d missing, %d stale"):format(
  total - #missing, total, #missing, #stale))

problems = problems + #missing + #stale
os.exit(problems == 0 and 0 or 1)
