// The luv.codec decoder: reads the format of docs/codec.md and pushes the values. It is
// written for hostile input: every read is checked against the end of the data, every
// count is checked against the bytes left before anything is allocated for it, nesting is
// bounded, and each failure raises "luv.codec.decode: ..." naming the byte offset. With
// `functions` off no bytecode reaches lua_load, whose undump trusts its input.
//
// Like the encoder it holds nothing with a destructor (errors are longjmps), and keeps its
// reference table on the Lua stack.
#include <cmath>
#include <cstring>

#include "binding/codec.hpp"
#include "binding/codec_format.hpp"
#include "binding/codec_library.hpp"

namespace luv::lua {
namespace {

using namespace codec_format;

// Marks the reference slot of an object whose __codec hook has not returned yet: the
// object does not exist, so nothing may refer to it.
const char pending_key = 0;

struct decoder {
    lua_State* L;
    const decode_options* options;
    const unsigned char* begin;
    const unsigned char* p;
    const unsigned char* end;
    int refs;  // stack slot of the reference table, made on the first object
    bool refs_ready;
    lua_Integer ref_count;
    // Array entries that tables may still be created with room for. Each table's own count
    // is at most the bytes left, but nested tables all count the same bytes: without a
    // budget for the whole input, 1000 nested tables could each claim it all.
    std::size_t presize_budget;
};

lua_Integer offset(const decoder& d) { return static_cast<lua_Integer>(d.p - d.begin); }

[[noreturn, gnu::noinline, gnu::cold]] void fail(decoder& d, const char* what) {
    lua_pushfstring(d.L, "%s: %s at byte %I", d.options->who, what,
                    static_cast<LUAI_UACINT>(offset(d)));
    lua_error(d.L);
    __builtin_unreachable();  // lua_error does not return, but is not declared so
}

std::size_t left(const decoder& d) { return static_cast<std::size_t>(d.end - d.p); }

unsigned char read_byte(decoder& d) {
    if (d.p == d.end) {
        fail(d, "truncated data");
    }
    return *d.p++;
}

unsigned char peek_byte(decoder& d) {
    if (d.p == d.end) {
        fail(d, "truncated data");
    }
    return *d.p;
}

// A little-endian base-128 varint of at most 64 bits, in its shortest form: the format
// has one encoding per value, so anything else is malformed.
std::uint64_t read_varint(decoder& d) {
    std::uint64_t v = 0;
    for (int i = 0; i < max_varint_bytes; ++i) {
        unsigned char c = read_byte(d);
        if (i == max_varint_bytes - 1 && c > 1) {
            fail(d, "varint out of range");
        }
        v |= static_cast<std::uint64_t>(c & 0x7f) << (7 * i);
        if ((c & 0x80) == 0) {
            if (c == 0 && i > 0) {
                fail(d, "varint not in its shortest form");
            }
            return v;
        }
    }
    fail(d, "varint out of range");
}

// A count or a length: never more than the bytes left, since each element or byte takes
// at least one; this is what keeps a forged length from allocating anything.
std::size_t read_count(decoder& d, const char* what) {
    std::uint64_t n = read_varint(d);
    if (n > left(d)) {
        fail(d, lua_pushfstring(d.L, "truncated data (%s of %I, %I bytes left)", what,
                                static_cast<LUAI_UACINT>(n),
                                static_cast<LUAI_UACINT>(left(d))));
    }
    return static_cast<std::size_t>(n);
}

void decode_value(decoder& d, int level);

void check_level(decoder& d, int level) {
    if (level > max_depth) {
        fail(d, lua_pushfstring(d.L, "nesting deeper than %d levels", max_depth));
    }
    if (!lua_checkstack(d.L, 8)) {
        fail(d, "the Lua stack is full");
    }
}

// Gives the next reference number to the value on top (or to the pending marker).
lua_Integer add_ref(decoder& d) {
    lua_State* L = d.L;
    if (!d.refs_ready) {
        lua_newtable(L);
        lua_replace(L, d.refs);
        d.refs_ready = true;
    }
    lua_pushvalue(L, -1);
    lua_rawseti(L, d.refs, ++d.ref_count);
    return d.ref_count;
}

void push_ref(decoder& d, std::uint64_t ref) {
    lua_State* L = d.L;
    if (ref >= static_cast<std::uint64_t>(d.ref_count)) {
        fail(d, "reference to an object not decoded yet");
    }
    lua_rawgeti(L, d.refs, static_cast<lua_Integer>(ref) + 1);
    if (lua_touserdata(L, -1) == &pending_key) {
        fail(d, "reference to an object whose __codec hook has not returned yet");
    }
}

void decode_table(decoder& d, int level) {
    lua_State* L = d.L;
    std::size_t n = read_count(d, "an array");
    // Room for n entries, within what the input as a whole can fill: at worst about 16
    // bytes of array per input byte. A longer array grows as Lua tables do.
    std::size_t room = n < d.presize_budget ? n : d.presize_budget;
    d.presize_budget -= room;
    lua_createtable(L, room > 0x7fffffff ? 0x7fffffff : static_cast<int>(room), 0);
    add_ref(d);
    int table = lua_gettop(L);
    for (std::size_t i = 1; i <= n; ++i) {
        if (peek_byte(d) == tag_nil) {
            check_level(d, level + 1);
            ++d.p;  // a hole in the sequence
            continue;
        }
        decode_value(d, level + 1);
        lua_rawseti(L, table, static_cast<lua_Integer>(i));
    }
    while (peek_byte(d) != tag_nil) {
        decode_value(d, level + 1);
        if (lua_isnil(L, -1)) {
            fail(d, "table key is nil");
        }
        if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1) &&
            std::isnan(lua_tonumber(L, -1))) {
            fail(d, "table key is NaN");
        }
        decode_value(d, level + 1);
        lua_rawset(L, table);
    }
    ++d.p;
}

// A lua_Debug is large: it stays in this frame, not in one per level of a nesting.
[[gnu::noinline]] int upvalue_count(lua_State* L, int idx) {
    lua_Debug ar;
    lua_pushvalue(L, idx);
    lua_getinfo(L, ">u", &ar);
    return ar.nups;
}

struct chunk_reader {
    const char* data;
    std::size_t size;
};

const char* read_chunk(lua_State*, void* ud, std::size_t* size) {
    auto* r = static_cast<chunk_reader*>(ud);
    *size = r->size;
    r->size = 0;
    return *size > 0 ? r->data : nullptr;
}

// The upvalue entry of a function decoded earlier: joins the two closures' upvalue.
void join_upvalue(decoder& d, int function, int n) {
    lua_State* L = d.L;
    std::uint64_t ref = read_varint(d);
    std::uint64_t other_n = read_varint(d);
    push_ref(d, ref);
    if (lua_type(L, -1) != LUA_TFUNCTION || lua_iscfunction(L, -1)) {
        fail(d, "shared upvalue of something that is not a Lua function");
    }
    if (other_n < 1 || other_n > static_cast<std::uint64_t>(upvalue_count(L, -1))) {
        fail(d, "shared upvalue number out of range");
    }
    lua_upvaluejoin(L, function, n, lua_gettop(L), static_cast<int>(other_n));
    lua_pop(L, 1);
}

// Out of line, like decode_hooked: its lua_Debug would otherwise widen the frame of every
// level of a nested table.
[[gnu::noinline]] void decode_function(decoder& d, int level) {
    lua_State* L = d.L;
    if (!d.options->functions) {
        fail(d, "the data holds a function, and functions are refused (functions = false)");
    }
    std::size_t n = read_count(d, "a function");
    chunk_reader reader{reinterpret_cast<const char*>(d.p), n};
    if (lua_load(L, &read_chunk, &reader, "=(luv.codec)", "b") != LUA_OK) {
        fail(d, lua_pushfstring(L, "cannot load a function (%s)", lua_tostring(L, -1)));
    }
    d.p += n;
    add_ref(d);
    int function = lua_gettop(L);
    int nups = upvalue_count(L, function);
    if (read_varint(d) != static_cast<std::uint64_t>(nups)) {
        fail(d, "upvalue count does not match the function");
    }
    for (int i = 1; i <= nups; ++i) {
        if (peek_byte(d) == tag_upvalue) {
            ++d.p;
            join_upvalue(d, function, i);
            continue;
        }
        decode_value(d, level + 1);
        lua_setupvalue(L, function, i);
    }
}

// A value by name. The name is looked up as a whole, tag and lengths included, among the
// names this state's index has (codec_library.hpp): the data cannot lead the decoder down
// any other path.
void decode_library(decoder& d) {
    lua_State* L = d.L;
    const char* encoding = reinterpret_cast<const char*>(d.p - 1);
    std::size_t module_len = read_count(d, "a library name");
    const char* module = reinterpret_cast<const char*>(d.p);
    d.p += module_len;
    std::size_t path_len = read_count(d, "a library path");
    const char* path = reinterpret_cast<const char*>(d.p);
    d.p += path_len;
    auto encoding_len = static_cast<std::size_t>(reinterpret_cast<const char*>(d.p) - encoding);
    if (!codec_library::push_value(L, encoding, encoding_len, module, module_len)) {
        lua_pushlstring(L, module, module_len);
        lua_pushlstring(L, path, path_len);
        fail(d, lua_pushfstring(L, "library value '%s%s%s' is not available here",
                                lua_tostring(L, -2), path_len > 0 ? "." : "",
                                lua_tostring(L, -1)));
    }
}

// An object rebuilt by its __codec hook: hook(value) is the object.
[[gnu::noinline]] void decode_hooked(decoder& d, int level) {
    lua_State* L = d.L;
    if (!d.options->hooks) {
        fail(d, "the data holds a __codec hook, and hooks are refused (hooks = false)");
    }
    lua_pushlightuserdata(L, const_cast<char*>(&pending_key));
    lua_Integer slot = add_ref(d);
    lua_pop(L, 1);
    decode_value(d, level + 1);
    int hook = lua_gettop(L);
    if (lua_type(L, hook) == LUA_TSTRING) {
        // A name: the registry first, then the globals, as in the original luv.
        lua_pushvalue(L, hook);
        if (lua_rawget(L, LUA_REGISTRYINDEX) != LUA_TFUNCTION) {
            lua_pop(L, 1);
            lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
            lua_pushvalue(L, hook);
            lua_rawget(L, -2);
            lua_remove(L, -2);
        }
        if (lua_type(L, -1) != LUA_TFUNCTION) {
            fail(d, lua_pushfstring(L, "no function named '%s' for a __codec hook",
                                    lua_tostring(L, hook)));
        }
        lua_replace(L, hook);
    } else if (lua_type(L, hook) != LUA_TFUNCTION) {
        fail(d, lua_pushfstring(L, "a __codec hook is a %s, not a function or a name",
                                luaL_typename(L, hook)));
    }
    decode_value(d, level + 1);
    lua_call(L, 1, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, d.refs, slot);
}

void decode_value(decoder& d, int level) {
    lua_State* L = d.L;
    check_level(d, level);
    unsigned char tag = read_byte(d);
    switch (tag) {
    case tag_nil:
        lua_pushnil(L);
        break;
    case tag_false:
    case tag_true:
        lua_pushboolean(L, tag == tag_true);
        break;
    case tag_integer:
        lua_pushinteger(L, unzigzag(read_varint(d)));
        break;
    case tag_float: {
        if (left(d) < 8) {
            fail(d, "truncated data (a float)");
        }
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) {
            bits |= static_cast<std::uint64_t>(d.p[i]) << (8 * i);
        }
        d.p += 8;
        double v = 0;
        std::memcpy(&v, &bits, sizeof v);
        lua_pushnumber(L, v);
        break;
    }
    case tag_string: {
        std::size_t n = read_count(d, "a string");
        lua_pushlstring(L, reinterpret_cast<const char*>(d.p), n);
        d.p += n;
        break;
    }
    case tag_table:
        decode_table(d, level);
        break;
    case tag_ref:
        push_ref(d, read_varint(d));
        break;
    case tag_function:
        decode_function(d, level);
        break;
    case tag_globals:
        lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        break;
    case tag_library:
        decode_library(d);
        break;
    case tag_hooked:
        decode_hooked(d, level);
        break;
    default:
        --d.p;
        fail(d, lua_pushfstring(L, "unknown tag %d", static_cast<int>(tag)));
    }
}

}  // namespace

int decode_values(lua_State* L, const char* data, std::size_t len,
                  const decode_options& options) {
    luaL_checkstack(L, 8, "luv.codec");
    decoder d;
    d.L = L;
    d.options = &options;
    d.begin = d.p = reinterpret_cast<const unsigned char*>(data);
    d.end = d.begin + len;
    d.refs_ready = false;
    d.ref_count = 0;
    d.presize_budget = len;
    if (len < header_size || std::memcmp(data, magic, sizeof magic) != 0) {
        fail(d, "not luv.codec data (no header)");
    }
    if (static_cast<unsigned char>(data[3]) != version) {
        fail(d, lua_pushfstring(L, "format version %d, this build reads version %d",
                                static_cast<int>(static_cast<unsigned char>(data[3])),
                                static_cast<int>(version)));
    }
    d.p += header_size;
    std::size_t count = read_count(d, "a value count");
    // One slot below the values for the reference table; the values go above it.
    lua_pushnil(L);
    d.refs = lua_gettop(L);
    if (count > 0x7fffffff || !lua_checkstack(L, static_cast<int>(count) + 8)) {
        fail(d, "too many values for the Lua stack");
    }
    for (std::size_t i = 0; i < count; ++i) {
        decode_value(d, 0);
    }
    if (d.p != d.end) {
        fail(d, "trailing bytes after the last value");
    }
    lua_remove(L, d.refs);
    return static_cast<int>(count);
}

int decode_values(lua_State* L, const char* data, std::size_t len, bool allow_functions) {
    decode_options options;
    options.functions = allow_functions;
    options.hooks = allow_functions;
    return decode_values(L, data, len, options);
}

}  // namespace luv::lua
