-- Debian's socket.smtp, socket.tp, mime and ltn12 (unmodified) on the LuaSocket drop-in,
-- against smtp_sink.py of this directory (a thread per connection, which records each
-- message's envelope and data to files the test reads back). Every case runs in a fiber.
--
--   lua5.4 tests/lua/socket_clients/smtp.lua                    -- drop-in (require "luv.socket")
--   SOCKET_IMPL=stock lua5.4 tests/lua/socket_clients/smtp.lua  -- stock LuaSocket
--
-- What socket.smtp asks of LuaSocket (through socket.tp): socket.tcp() (or mailt.create),
-- settimeout(60), connect(host, port), receive('*l') for replies (multi-line 250-...),
-- send() of commands and of the data (socket.sink "keep-open", through mime.stuff),
-- close(); socket.protect, socket.newtry, socket.skip. smtp.message builds the message in
-- a coroutine.create of its own and calls a part's ltn12 source from inside it.
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local C = dofile(HERE .. "/clients.lua")
local luv, test, dropin_test = C.luv, C.test, C.dropin_test
local eq, between = C.eq, C.between

local smtp = require("socket.smtp")
local mime = require("mime")
local ltn12 = require("ltn12")

local PORT, OUT

-- The recorded messages: { [n] = { env = {helo, from, rcpt...}, data = "..." } } for every
-- msg-N.data in OUT.
local function recorded()
  local found = {}
  for _, name in ipairs(assert(luv.fs.readdir(OUT))) do
    local n = name:match("^msg%-(%d+)%.data$")
    if n then
      local env = {}
      for line in (C.read_file(OUT .. "/msg-" .. n .. ".env") or ""):gmatch("([^\n]*)\n") do
        env[#env + 1] = line
      end
      found[tonumber(n)] = { env = env, data = C.read_file(OUT .. "/" .. name) }
    end
  end
  return found
end

-- The one recorded message whose data contains `needle`.
local function find_message(needle)
  local hit
  for _, m in pairs(recorded()) do
    if m.data:find(needle, 1, true) then
      assert(not hit, "two messages contain " .. needle)
      hit = m
    end
  end
  return hit
end

-- Headers (lower-case names) and body of a message's data. smtp.send ends the data with
-- "\r\n.\r\n" whatever the body: its "\r\n" stays in the data (RFC 5321: it ends the
-- last line), so the recorded body is the one sent plus "\r\n".
local function parse(data)
  local head, body = data:match("^(.-)\r\n\r\n(.*)$")
  local headers = {}
  for line in (head .. "\r\n"):gmatch("([^\r\n]*)\r\n") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then headers[k:lower()] = v end
  end
  return headers, body
end

local function send(t)
  t.server, t.port = "127.0.0.1", PORT
  return smtp.send(t)
end

local function cases()
  test("send a plain message: envelope, headers, body with dot-stuffing undone", function()
    local body = "Hello,\r\n.a line starting with a dot\r\n..two dots\r\n.\r\nend\r\n"
    local r, err = send({
      from = "<alice@example.org>", rcpt = "<bob@example.org>",
      source = smtp.message({
        headers = { to = "Bob <bob@example.org>", subject = "plain-1" },
        body = body,
      }),
    })
    eq("send: " .. tostring(err), 1, r)
    local m = assert(find_message("plain-1"), "message not recorded")
    eq("helo", "localhost", m.env[1])
    eq("mail from", "FROM:<alice@example.org>", m.env[2])
    eq("rcpt", "TO:<bob@example.org>", m.env[3])
    local headers, got = parse(m.data)
    eq("subject", "plain-1", headers.subject)
    eq("to", "Bob <bob@example.org>", headers.to)
    eq("mime-version", "1.0", headers["mime-version"])
    eq("body", body .. "\r\n", got)
  end)

  test("send a multipart message (smtp.message, base64 part, a source that waits)", function()
    local bin = C.binary() .. C.blob(70000, 8)
    local waits = 0
    local slow_lines = { "first line\r\n", "second line\r\n", "third line\r\n" }
    local i = 0
    local r, err = send({
      from = "<alice@example.org>",
      rcpt = { "<bob@example.org>", "<carol@example.org>", "<dave@example.org>" },
      source = smtp.message({
        headers = { subject = "multi-1", to = "several" },
        body = {
          preamble = "This is a multipart message.",
          [1] = { body = "the text part\r\n" },
          [2] = {
            headers = { ["content-type"] = "application/octet-stream",
                        ["content-transfer-encoding"] = "BASE64",
                        ["content-disposition"] = 'attachment; filename="x.bin"' },
            body = ltn12.source.chain(ltn12.source.string(bin),
              ltn12.filter.chain(mime.encode("base64"), mime.wrap())),
          },
          [3] = {
            -- called from inside smtp.message's coroutine; it suspends the fiber there
            body = function()
              i = i + 1
              if slow_lines[i] then
                luv.sleep(0.01)
                waits = waits + 1
              end
              return slow_lines[i]
            end,
          },
          epilogue = "the epilogue",
        },
      }),
    })
    eq("send: " .. tostring(err), 1, r)
    eq("waits in the source", 3, waits)
    local m = assert(find_message("multi-1"), "message not recorded")
    eq("rcpt count", 5, #m.env)
    eq("rcpt 3", "TO:<dave@example.org>", m.env[5])
    local headers, body = parse(m.data)
    local boundary = headers["content-type"]:match('^multipart/mixed; boundary="([^"]+)"$')
    assert(boundary, "content-type: " .. tostring(headers["content-type"]))
    -- split by the boundary
    local sep = "\r\n--" .. boundary
    local pieces, pos = {}, 1
    while true do
      local a, b = body:find(sep, pos, true)
      if not a then break end
      pieces[#pieces + 1] = body:sub(pos, a - 1)
      pos = b + 1
    end
    pieces[#pieces + 1] = body:sub(pos)
    eq("pieces (preamble, 3 parts, end)", 5, #pieces)
    eq("preamble", "This is a multipart message.\r\n", pieces[1])
    local h1, b1 = parse(pieces[2]:sub(3))
    eq("part 1 type", 'text/plain; charset="iso-8859-1"', h1["content-type"])
    eq("part 1", "the text part\r\n", b1)
    local h2, b2 = parse(pieces[3]:sub(3))
    eq("part 2 encoding", "BASE64", h2["content-transfer-encoding"])
    local decoded = mime.unb64((b2:gsub("\r\n", "")))
    eq("part 2 length", #bin, #decoded)
    eq("part 2 bytes", true, decoded == bin)
    local _, b3 = parse(pieces[4]:sub(3))
    eq("part 3", table.concat(slow_lines), b3)
    eq("end", "--\r\n\r\nthe epilogue\r\n\r\n", pieces[5])
  end)

  test("send a 1 MB message", function()
    local lines = {}
    for n = 1, 16384 do lines[n] = ("line %05d %s"):format(n, ("x"):rep(52)) end
    local body = table.concat(lines, "\r\n") .. "\r\n"
    local r, err = send({
      from = "<big@example.org>", rcpt = "<bob@example.org>",
      source = smtp.message({ headers = { subject = "big-1" }, body = body }),
    })
    eq("send: " .. tostring(err), 1, r)
    local m = assert(find_message("big-1"), "message not recorded")
    local _, got = parse(m.data)
    eq("length", #body + 2, #got)
    eq("body", true, got == body .. "\r\n")
  end)

  test("errors: a rejected recipient, connection refused", function()
    local r, err = send({
      from = "<alice@example.org>", rcpt = { "<bob@example.org>", "<reject@example.org>" },
      source = smtp.message({ headers = { subject = "rejected-1" }, body = "x" }),
    })
    eq("rejected", nil, r)
    eq("reply", "550 5.1.1 no such user", err)
    eq("nothing recorded", nil, find_message("rejected-1"))
    local port = C.free_port()
    r, err = smtp.send({ server = "127.0.0.1", port = port, from = "<a@x>", rcpt = "<b@x>",
                         source = smtp.message({ body = "x" }) })
    eq("refused", nil, r)
    eq("refused message", "connection refused", err)
  end)

  test("10 fibers at once, 3 messages each, all recorded", function()
    C.fibers(10, 90, function(i)
      for j = 1, 3 do
        local tag = ("many-%d-%d"):format(i, j)
        local r, err = send({
          from = ("<f%d@example.org>"):format(i), rcpt = ("<r%d.%d@example.org>"):format(i, j),
          source = smtp.message({ headers = { subject = tag },
                                  body = tag .. "\r\n" .. C.blob(5000 * j, i):gsub("[\r\n.]", "x") }),
        })
        eq("send " .. tag .. ": " .. tostring(err), 1, r)
      end
    end)
    for i = 1, 10 do
      for j = 1, 3 do
        local tag = ("many-%d-%d"):format(i, j)
        local m = assert(find_message("Subject: " .. tag .. "\r\n"), tag .. " not recorded")
        eq(tag .. " from", ("FROM:<f%d@example.org>"):format(i), m.env[2])
        eq(tag .. " rcpt", ("TO:<r%d.%d@example.org>"):format(i, j), m.env[3])
        local _, body = parse(m.data)
        eq(tag .. " body", tag .. "\r\n" .. C.blob(5000 * j, i):gsub("[\r\n.]", "x") .. "\r\n", body)
      end
    end
  end)

  dropin_test("10 fibers sending to a slow recipient (0.5 s each) finish together", function()
    local dt = C.timed(C.fibers, 10, 30, function(i)
      local r, err = send({
        from = "<a@example.org>", rcpt = "<slow@example.org>",
        source = smtp.message({ headers = { subject = "slow-" .. i }, body = "slow" }),
      })
      eq("send: " .. tostring(err), 1, r)
    end)
    between("seconds for all 10 (5 s one after the other)", dt, 0.45, 3)
    for i = 1, 10 do assert(find_message("slow-" .. i .. "\r\n"), "slow-" .. i .. " not recorded") end
  end)
end

C.main(function()
  if not os.execute("command -v python3 >/dev/null 2>&1") then
    C.skip("socket.smtp against a local sink", "python3 not installed")
    return
  end
  OUT = C.tmpdir() .. "/mail"
  assert(luv.fs.mkdir(OUT))
  local _
  _, PORT = C.start_fixture("smtp_sink", { "python3", HERE .. "/smtp_sink.py", OUT })
  print("# smtp_sink.py on 127.0.0.1:" .. PORT .. ", messages in " .. OUT)
  cases()
end)
