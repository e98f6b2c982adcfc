-- luv.codec throughput: encode and decode of a ~1 MB nested table, and of 100,000 small
-- tuples (encode(i, "x", true)). With lua-cjson installed, cjson.encode/decode of the same
-- table is timed too, as a ratio (cjson's time / luv's: above 1 means luv is faster).
-- JSON keeps less: no integer/float distinction, no cycles, no shared tables, no binary
-- strings, no functions; so the comparison flatters cjson.
--
--   LUA_PATH="tests/bench/?.lua;;" LUA_CPATH="build/?.so;;" lua5.4 tests/bench/codec_luv.lua [records] [tuples]
local luv = require "luv"
local bench = require "bench"

local records = bench.arg(1, 8000)
local tuples = bench.arg(2, 100000)
local encode, decode = luv.codec.encode, luv.codec.decode

-- Records of the kind a program sends around: strings, integers, floats, booleans, a
-- small array and a nested table each.
local function make_table(n)
    local list = {}
    for i = 1, n do
        list[i] = {
            id = i,
            name = "user-" .. i,
            email = "user" .. i .. "@example.org",
            score = i * 1.25,
            active = i % 2 == 0,
            tags = { "alpha", "beta", "gamma" },
            position = { x = i, y = -i, label = "p" .. i },
        }
    end
    return { version = 3, records = list }
end

-- The best of `rounds` timings of fn(), in seconds, after two rounds of warm-up. No full
-- collection in between: it hands memory back to the kernel, and the page faults of taking
-- it again cost more than the work measured on the VMs here (for cjson as for luv).
local function best_time(rounds, fn)
    fn()
    fn()
    local best = math.huge
    for _ = 1, rounds do
        local t0 = bench.now()
        fn()
        local dt = bench.now() - t0
        if dt < best then best = dt end
    end
    return best
end

local data = make_table(records)
local encoded = encode(data)
local mb = #encoded / 1e6
local rounds = 5

local t_encode = best_time(rounds, function() encode(data) end)
local t_decode = best_time(rounds, function() decode(encoded) end)
assert(decode(encoded).records[records].position.label == "p" .. records)

print(("nested table: %d records, %.2f MB encoded"):format(records, mb))
bench.result("codec_encode_nested", mb / t_encode, "MB/s")
bench.result("codec_decode_nested", mb / t_decode, "MB/s")

local ok, cjson = pcall(require, "cjson")
if ok then
    local json = cjson.encode(data)
    local t_json_encode = best_time(rounds, function() cjson.encode(data) end)
    local t_json_decode = best_time(rounds, function() cjson.decode(json) end)
    print(("cjson: %.2f MB of JSON for the same table"):format(#json / 1e6))
    bench.result("cjson_encode_nested", #json / 1e6 / t_json_encode, "MB/s")
    bench.result("cjson_decode_nested", #json / 1e6 / t_json_decode, "MB/s")
    bench.result("codec_vs_cjson_encode", t_json_encode / t_encode, "x")
    bench.result("codec_vs_cjson_decode", t_json_decode / t_decode, "x")
else
    print("lua-cjson not installed: no comparison")
end

-- Small tuples: the per-call cost dominates.
local sample = encode(1, "x", true)
local t_tuple_encode = best_time(3, function()
    for i = 1, tuples do encode(i, "x", true) end
end)
local t_tuple_decode = best_time(3, function()
    for _ = 1, tuples do decode(sample) end
end)
print(("small tuples: %d x encode(i, \"x\", true), %d bytes each"):format(tuples, #sample))
bench.result("codec_encode_tuple", tuples / t_tuple_encode, "tuples/s")
bench.result("codec_decode_tuple", tuples / t_tuple_decode, "tuples/s")
bench.result("codec_encode_tuple_mb", tuples * #sample / 1e6 / t_tuple_encode, "MB/s")
bench.result("codec_decode_tuple_mb", tuples * #sample / 1e6 / t_tuple_decode, "MB/s")
if ok then
    local t_json_tuple = best_time(3, function()
        for i = 1, tuples do cjson.encode({ i, "x", true }) end
    end)
    bench.result("cjson_encode_tuple", tuples / t_json_tuple, "tuples/s")
end
