-- Debian's socket.http and ltn12 (LuaSocket's own pure-Lua layers, unmodified) on the
-- LuaSocket drop-in, against http_server.py of this directory (python3's
-- ThreadingHTTPServer, a thread per connection) on 127.0.0.1. Every case runs in a
-- fiber of its own.
--
--   lua5.4 tests/lua/socket_clients/http.lua                    -- drop-in (require "luv.socket")
--   SOCKET_IMPL=stock lua5.4 tests/lua/socket_clients/http.lua  -- stock LuaSocket
--
-- What socket.http asks of LuaSocket: socket.tcp() (or reqt.create), settimeout(60)
-- before connect, connect(host, port), send(line/headers/chunks), receive(5) then
-- receive('*l', prefix) for the status line, receive('*l') for headers and chunk sizes,
-- receive(n) for bodies (socket.BLOCKSIZE = 2048 at a time), receive(2048) until
-- "closed" with the partial result for close-delimited bodies, close(); socket.protect,
-- socket.newtry, socket.try, socket.skip, socket.sink/socket.source (socket.lua's, which
-- also wrap getfd/dirty).
local HERE = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local C = dofile(HERE .. "/clients.lua")
local luv, test, dropin_test = C.luv, C.test, C.dropin_test
local eq, between = C.eq, C.between

local http = require("socket.http")
local ltn12 = require("ltn12")

local URL

-- GET/POST into a table sink; returns body, code, headers, status (or nil, err).
local function fetch(reqt)
  local t = {}
  reqt.sink = ltn12.sink.table(t)
  local r, code, headers, status = http.request(reqt)
  if not r then return nil, code end
  return table.concat(t), code, headers, status
end

-- A source that gives `s` in pieces of `size` bytes (no length known in advance).
local function pieces(s, size)
  local i = 1
  return function()
    if i > #s then return nil end
    local piece = s:sub(i, i + size - 1)
    i = i + size
    return piece
  end
end

local function cases()
  local MB = 1024 * 1024

  test("GET, simple form: body, code, headers, status line", function()
    local body, code, headers, status = http.request(URL .. "/hello")
    eq("body", "hello world\n", body)
    eq("code", 200, code)
    eq("content-length", "12", headers["content-length"])
    eq("content-type", "text/plain", headers["content-type"])
    eq("status", "HTTP/1.1 200 OK", status)
  end)

  test("GET, generic form: ltn12 table sink, request headers sent", function()
    local body, code = fetch({ url = URL .. "/headers", headers = { ["x-test"] = "a b\tc" } })
    eq("code", 200, code)
    eq("x-test header", true, body:find("x-test: a b\tc\n", 1, true) ~= nil or body)
    eq("host header", true, body:find("host: 127.0.0.1:", 1, true) ~= nil or body)
  end)

  test("GET a 1 MB response (Content-Length)", function()
    local body, code, headers = fetch({ url = URL .. "/bytes?n=" .. MB .. "&seed=5" })
    eq("code", 200, code)
    eq("content-length", tostring(MB), headers["content-length"])
    eq("length", MB, #body)
    eq("bytes", true, body == C.blob(MB, 5))
  end)

  test("GET a chunked response (many chunks, an extension, a trailer)", function()
    local n = 100000
    local body, code, headers = fetch({ url = URL .. "/chunked?n=" .. n .. "&size=7000&seed=2" })
    eq("code", 200, code)
    eq("transfer-encoding", "chunked", headers["transfer-encoding"])
    eq("no content-length", nil, headers["content-length"])
    eq("length", n, #body)
    eq("bytes", true, body == C.blob(n, 2))
    -- and chunks smaller than LuaSocket's 2048-byte block, a 1 MB one in 1 KB chunks
    body = fetch({ url = URL .. "/chunked?n=" .. MB .. "&size=1000&seed=6" })
    eq("1 MB in 1049 chunks", true, body == C.blob(MB, 6))
  end)

  test("GET a body delimited by the close (no length)", function()
    local n = 300001
    local body, code, headers = fetch({ url = URL .. "/close?n=" .. n .. "&seed=4" })
    eq("code", 200, code)
    eq("no length", nil, headers["content-length"])
    eq("bytes", true, body == C.blob(n, 4))
  end)

  test("POST, simple form (urlencoded body)", function()
    local body, code, headers = http.request(URL .. "/echo", "a=1&b=%20x")
    eq("code", 200, code)
    eq("echo", "a=1&b=%20x", body)
    eq("not chunked", "no", headers["x-chunked"])
  end)

  test("POST a 1 MB request body, 1 MB echoed back", function()
    local data = C.blob(MB, 9)
    local body, code, headers = fetch({
      url = URL .. "/echo", method = "POST",
      source = ltn12.source.string(data),
      headers = { ["content-length"] = #data, ["content-type"] = "application/octet-stream" },
    })
    eq("code", 200, code)
    eq("x-length", tostring(MB), headers["x-length"])
    eq("echo", true, body == data)
  end)

  test("POST a chunked request body (ltn12 source of unknown length)", function()
    local data = C.blob(200000, 7) .. C.binary()
    local body, code, headers = fetch({
      url = URL .. "/echo", method = "POST",
      source = ltn12.source.chain(pieces(data, 3001), function(chunk) return chunk end),
    })
    eq("code", 200, code)
    eq("sent chunked", "yes", headers["x-chunked"])
    eq("x-length", tostring(#data), headers["x-length"])
    eq("echo", true, body == data)
  end)

  test("a 404, a 500, a redirect followed, HEAD", function()
    local body, code, _, status = http.request(URL .. "/status/404")
    eq("404 code", 404, code)
    eq("404 body", "status 404", body)
    eq("404 status", "HTTP/1.1 404 Not Found", status)
    body, code = http.request(URL .. "/nosuch/page")
    eq("unknown page", 404, code)
    body, code = http.request(URL .. "/status/500")
    eq("500", 500, code)
    eq("500 body", "status 500", body)
    local headers
    body, code, headers = http.request(URL .. "/redirect")
    eq("redirected", 200, code)
    eq("redirected body", "hello world\n", body)
    eq("location hint", "/hello", headers.location)
    local r
    r, code, headers = http.request({ url = URL .. "/hello", method = "HEAD" })
    eq("head", 1, r)
    eq("head code", 200, code)
    eq("head length", "12", headers["content-length"])
  end)

  test("errors: connection refused, a timeout (http.TIMEOUT)", function()
    local port = C.free_port()
    local r, err = http.request("http://127.0.0.1:" .. port .. "/")
    eq("refused", nil, r)
    eq("refused message", "connection refused", err)
    local saved = http.TIMEOUT
    http.TIMEOUT = 0.5
    local dt
    dt, r, err = C.timed(http.request, URL .. "/slow?ms=2000")
    http.TIMEOUT = saved
    eq("timeout", nil, r)
    eq("timeout message", "timeout", err)
    between("seconds", dt, 0.4, 1.9)
    -- the server is still fine
    eq("after", "hello world\n", (http.request(URL .. "/hello")))
  end)

  test("20 fibers at once, 5 requests each (GET, chunked GET, POST), all checked", function()
    local results = C.fibers(20, 90, function(i)
      for j = 1, 5 do
        local n = 1000 * i + 37 * j
        local body, code = fetch({ url = ("%s/bytes?n=%d&seed=%d"):format(URL, n, i + j) })
        eq("get code", 200, code)
        eq(("get %d/%d"):format(i, j), true, body == C.blob(n, i + j))
        body = fetch({ url = ("%s/chunked?n=%d&size=999&seed=%d"):format(URL, n, j) })
        eq(("chunked %d/%d"):format(i, j), true, body == C.blob(n, j))
        local data = ("%d:%d:"):format(i, j) .. C.blob(n, 3)
        body, code = fetch({
          url = URL .. "/echo", method = "POST", source = ltn12.source.string(data),
          headers = { ["content-length"] = #data },
        })
        eq("post code", 200, code)
        eq(("post %d/%d"):format(i, j), true, body == data)
      end
      return i
    end)
    for i = 1, 20 do eq("fiber", i, results[i]) end
  end)

  dropin_test("20 fibers each wait 0.5 s for a slow response, together", function()
    local dt = C.timed(C.fibers, 20, 30, function()
      local body, code = http.request(URL .. "/slow?ms=500")
      eq("code", 200, code)
      eq("body", "slow", body)
    end)
    -- one after the other this takes 10 s
    between("seconds for all 20", dt, 0.45, 3)
  end)

  dropin_test("a fiber waiting for a slow response does not stop another's requests", function()
    local slow_end
    local slow = C.go(function()
      local body = http.request(URL .. "/slow?ms=1500")
      slow_end = C.now()
      return body
    end)
    local fast = C.go(function()
      luv.sleep(0.05)
      for _ = 1, 20 do
        eq("fast", "hello world\n", (http.request(URL .. "/hello")))
      end
      return C.now()
    end)
    local fast_end = fast:join(20)
    eq("slow body", "slow", slow:join(20))
    assert(fast_end < slow_end, "the 20 quick requests finished after the slow one")
  end)
end

C.main(function()
  if not os.execute("command -v python3 >/dev/null 2>&1") then
    C.skip("socket.http against a local server", "python3 not installed")
    return
  end
  local _, port = C.start_fixture("http_server", { "python3", HERE .. "/http_server.py" })
  URL = "http://127.0.0.1:" .. port
  print("# http_server.py on " .. URL)
  cases()
end)
