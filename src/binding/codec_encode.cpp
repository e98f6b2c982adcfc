// The luv.codec encoder: walks Lua values and appends their encoding (docs/codec.md) to a
// buffer. A Lua error may be raised anywhere in the walk (a value that cannot be encoded,
// an error in a __codec metamethod, memory running out), and with Debian's C-built liblua
// that is a longjmp. So nothing here has a destructor: the buffer's memory belongs to a
// userdata whose __gc frees it, and the bookkeeping tables live on the Lua stack. The
// error messages are in codec_encode_errors.cpp.
#include <cstring>

#include "binding/codec.hpp"
#include "binding/codec_encoder.hpp"
#include "binding/codec_format.hpp"
#include "binding/codec_library.hpp"

namespace luv::lua {
namespace {

using namespace codec_format;
using namespace codec_encoder;

// ---- the output buffer ----------------------------------------------------------------

// The bytes start in an array on the C stack, which a small tuple never outgrows. A larger
// encoding moves to memory from the state's allocator, owned by a userdata (heap_bytes)
// in a stack slot whose __gc frees it: that memory is not counted as garbage-collected,
// so a megabyte of output does not set the collector walking the heap. Either way a Lua
// error needs nothing freed here: the array goes with the C frame, the memory with the
// userdata.
const char heap_bytes_metatable_key = 0;

void free_heap_bytes(lua_State* L, heap_bytes* h) {
    if (h->data != nullptr) {
        void* ud = nullptr;
        lua_Alloc alloc = lua_getallocf(L, &ud);
        alloc(ud, h->data, h->capacity, 0);
        h->data = nullptr;
        h->capacity = 0;
    }
}

int heap_bytes_gc(lua_State* L) {
    free_heap_bytes(L, static_cast<heap_bytes*>(lua_touserdata(L, 1)));
    return 0;
}

heap_bytes* push_heap_bytes(lua_State* L) {
    auto* h = static_cast<heap_bytes*>(lua_newuserdatauv(L, sizeof(heap_bytes), 0));
    h->data = nullptr;
    h->capacity = 0;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &heap_bytes_metatable_key) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, &heap_bytes_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &heap_bytes_metatable_key);
    }
    lua_setmetatable(L, -2);
    return h;
}

// Makes room for `more` bytes beyond the size.
void reserve(encoder& e, std::size_t more) {
    out_buffer& b = e.out;
    if (b.capacity - b.size >= more) {
        return;
    }
    std::size_t wanted = b.size + more;
    std::size_t capacity = b.capacity;
    while (capacity < wanted || wanted < more) {
        if (wanted < more || capacity > static_cast<std::size_t>(-1) / 2) {
            lua_pushfstring(e.L, "%s: the encoding is too large", e.who);
            raise(e);
        }
        capacity *= 2;
    }
    if (b.heap == nullptr) {
        b.heap = push_heap_bytes(e.L);
        lua_replace(e.L, b.slot);
    }
    void* ud = nullptr;
    lua_Alloc alloc = lua_getallocf(e.L, &ud);
    bool was_inline = b.heap->data == nullptr;
    void* grown = alloc(ud, b.heap->data, b.heap->capacity, capacity);
    if (grown == nullptr) {
        lua_pushfstring(e.L, "%s: not enough memory", e.who);
        raise(e);
    }
    b.heap->data = static_cast<char*>(grown);
    b.heap->capacity = capacity;
    if (was_inline) {
        std::memcpy(grown, b.data, b.size);
    }
    b.data = b.heap->data;
    b.capacity = capacity;
}

void put_raw(encoder& e, const void* p, std::size_t n) {
    reserve(e, n);
    std::memcpy(e.out.data + e.out.size, p, n);
    e.out.size += n;
}

void put_byte(encoder& e, unsigned char c) {
    if (e.out.size < e.out.capacity) {
        e.out.data[e.out.size++] = static_cast<char>(c);
    } else {
        put_raw(e, &c, 1);
    }
}

int varint_bytes(std::uint64_t v, unsigned char* bytes) {
    int n = 0;
    while (v >= 0x80) {
        bytes[n++] = static_cast<unsigned char>(v | 0x80);
        v >>= 7;
    }
    bytes[n++] = static_cast<unsigned char>(v);
    return n;
}

void put_varint(encoder& e, std::uint64_t v) {
    reserve(e, max_varint_bytes);
    auto n = varint_bytes(v, reinterpret_cast<unsigned char*>(e.out.data + e.out.size));
    e.out.size += static_cast<std::size_t>(n);
}

// lua_dump's writer. Growing the buffer may raise a memory error out of lua_dump, as the
// writer of string.dump does.
int write_chunk(lua_State*, const void* p, std::size_t n, void* ud) {
    put_raw(*static_cast<encoder*>(ud), p, n);
    return 0;
}

void enter(encoder& e, step kind, int slot, lua_Integer number) {
    if (e.depth > max_depth) {  // path[0] is the argument, at level 0
        fail_depth(e);
    }
    e.path[e.depth++] = frame{kind, slot, number};
}

void leave(encoder& e) { --e.depth; }

// ---- values -----------------------------------------------------------------------------

void encode_value(encoder& e, int idx);

void prepare_objects(encoder& e) {
    lua_State* L = e.L;
    lua_newtable(L);
    lua_replace(L, e.seen);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_replace(L, e.globals);
    e.objects_ready = true;
}

lua_Integer take_ref(encoder& e, int idx, bool pending) {
    lua_Integer ref = e.next_ref++;
    lua_pushvalue(e.L, idx);
    lua_pushinteger(e.L, pending ? -ref - 1 : ref);
    lua_rawset(e.L, e.seen);
    return ref;
}

// Writes the value by name when it belongs to luv or to the standard library. A miss on
// a value that could not go any other way refreshes the index first, in case the library
// was loaded after the index was built.
bool put_library_name(encoder& e, int idx, bool refresh) {
    lua_State* L = e.L;
    if (!e.library_ready || refresh) {
        codec_library::push_index(L, refresh);
        lua_replace(L, e.library);
        e.library_ready = true;
    }
    lua_pushvalue(L, idx);
    if (lua_rawget(L, e.library) != LUA_TSTRING) {
        lua_pop(L, 1);
        return false;
    }
    std::size_t n = 0;
    const char* bytes = lua_tolstring(L, -1, &n);
    put_raw(e, bytes, n);
    lua_pop(L, 1);
    return true;
}

void encode_table(encoder& e, int idx) {
    lua_State* L = e.L;
    take_ref(e, idx, false);
    put_byte(e, tag_table);
    // The sequence 1..n goes without its keys; n is a border, so holes inside it are
    // written as nil and skipped by the decoder.
    auto n = static_cast<lua_Integer>(lua_rawlen(L, idx));
    put_varint(e, static_cast<std::uint64_t>(n));
    for (lua_Integer i = 1; i <= n; ++i) {
        enter(e, step::index, 0, i);
        lua_rawgeti(L, idx, i);
        encode_value(e, lua_gettop(L));
        lua_pop(L, 1);
        leave(e);
    }
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int key = lua_gettop(L) - 1;
        if (lua_isinteger(L, key)) {
            lua_Integer k = lua_tointeger(L, key);
            if (k >= 1 && k <= n) {
                lua_pop(L, 1);
                continue;
            }
        }
        enter(e, step::key, 0, 0);
        encode_value(e, key);
        leave(e);
        enter(e, step::field, key, 0);
        encode_value(e, key + 1);
        leave(e);
        lua_pop(L, 1);
    }
    put_byte(e, tag_nil);
}

// A lua_Debug is large: it stays in this frame, not in one per level of a nesting.
[[gnu::noinline]] int upvalue_count(lua_State* L, int idx) {
    lua_Debug ar;
    lua_pushvalue(L, idx);
    lua_getinfo(L, ">u", &ar);
    return ar.nups;
}

// Kept out of line, like encode_hooked and the failures: the lua_Debug and the arrays
// here would otherwise widen the frame of every level of a nested table.
[[gnu::noinline]] void encode_function(encoder& e, int idx) {
    lua_State* L = e.L;
    lua_Integer ref = take_ref(e, idx, false);
    put_byte(e, tag_function);
    // The length goes before the bytecode but is known only after lua_dump: dump first,
    // then move the bytes up to make room for it.
    std::size_t at = e.out.size;
    lua_pushvalue(L, idx);
    lua_dump(L, &write_chunk, &e, 0);
    lua_pop(L, 1);
    std::size_t length = e.out.size - at;
    unsigned char prefix[max_varint_bytes];
    auto prefix_size = static_cast<std::size_t>(varint_bytes(length, prefix));
    put_raw(e, prefix, prefix_size);  // grows the buffer; these bytes are overwritten
    std::memmove(e.out.data + at + prefix_size, e.out.data + at, length);
    std::memcpy(e.out.data + at, prefix, prefix_size);

    int nups = upvalue_count(L, idx);
    put_varint(e, static_cast<std::uint64_t>(nups));
    if (!e.upvalues_ready) {
        lua_newtable(L);
        lua_replace(L, e.upvalues);
        e.upvalues_ready = true;
    }
    for (int i = 1; i <= nups; ++i) {
        // An upvalue shared with a closure met earlier (two closures over one local) is
        // written as a reference to that closure's upvalue, so that the decoder joins
        // them again with lua_upvaluejoin.
        lua_pushlightuserdata(L, lua_upvalueid(L, idx, i));
        if (lua_rawget(L, e.upvalues) == LUA_TNUMBER) {
            lua_Integer where = lua_tointeger(L, -1);
            lua_pop(L, 1);
            put_byte(e, tag_upvalue);
            put_varint(e, static_cast<std::uint64_t>(where >> 8));
            put_varint(e, static_cast<std::uint64_t>(where & 0xff));
            continue;
        }
        lua_pop(L, 1);
        lua_pushlightuserdata(L, lua_upvalueid(L, idx, i));
        lua_pushinteger(L, ref * 256 + i);
        lua_rawset(L, e.upvalues);
        lua_getupvalue(L, idx, i);
        enter(e, step::upvalue, idx, i);
        encode_value(e, lua_gettop(L));
        leave(e);
        lua_pop(L, 1);
    }
}

// The __codec metamethod is on top of the stack. It returns a function (or the name of
// one) and a value; the decoder calls that function with that value to rebuild the object.
[[gnu::noinline]] void encode_hooked(encoder& e, int idx) {
    lua_State* L = e.L;
    if (lua_type(L, -1) != LUA_TFUNCTION) {
        fail(e, lua_pushfstring(L, "a %s whose __codec is a %s, not a function",
                                luaL_typename(L, idx), luaL_typename(L, -1)));
    }
    // The object takes its reference number now, as the decoder's slot does when it
    // meets the tag; it is marked pending so that a way back to it from its own __codec
    // value is caught here rather than by the decoder.
    lua_Integer ref = take_ref(e, idx, true);
    put_byte(e, tag_hooked);
    lua_pushvalue(L, idx);
    lua_call(L, 1, 2);
    int hook = lua_gettop(L) - 1;
    if (lua_type(L, hook) != LUA_TFUNCTION && lua_type(L, hook) != LUA_TSTRING) {
        fail(e, lua_pushfstring(L, "a %s: its __codec returned a %s, not a function or a name",
                                luaL_typename(L, idx), luaL_typename(L, hook)));
    }
    enter(e, step::hook_function, 0, 0);
    encode_value(e, hook);
    leave(e);
    enter(e, step::hook_value, 0, 0);
    encode_value(e, hook + 1);
    leave(e);
    lua_pop(L, 2);
    lua_pushvalue(L, idx);
    lua_pushinteger(L, ref);
    lua_rawset(L, e.seen);
}

void encode_object(encoder& e, int idx, int type) {
    lua_State* L = e.L;
    if (!lua_checkstack(L, 8)) {
        // No path: formatting it needs the stack space there is not. The check one level
        // up left the few slots this message takes.
        lua_pushfstring(L, "%s: the Lua stack is full", e.who);
        raise(e);
    }
    if (!e.objects_ready) {
        prepare_objects(e);
    }
    if (lua_rawequal(L, idx, e.globals)) {
        put_byte(e, tag_globals);
        return;
    }
    lua_pushvalue(L, idx);
    if (lua_rawget(L, e.seen) == LUA_TNUMBER) {
        lua_Integer ref = lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (ref < 0) {
            fail(e, lua_pushfstring(L, "a %s that its own __codec value refers back to",
                                    luaL_typename(L, idx)));
        }
        put_byte(e, tag_ref);
        put_varint(e, static_cast<std::uint64_t>(ref));
        return;
    }
    lua_pop(L, 1);
    if (put_library_name(e, idx, false)) {
        return;
    }
    if (type != LUA_TFUNCTION && luaL_getmetafield(L, idx, "__codec") != LUA_TNIL) {
        encode_hooked(e, idx);
        return;
    }
    if (type == LUA_TTABLE) {
        encode_table(e, idx);
    } else if (type == LUA_TFUNCTION && !lua_iscfunction(L, idx)) {
        encode_function(e, idx);
    } else if (put_library_name(e, idx, true)) {
        return;
    } else if (type == LUA_TFUNCTION) {
        fail(e, "a C function");
    } else {
        fail_userdata(e, idx);
    }
}

void encode_value(encoder& e, int idx) {
    lua_State* L = e.L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        put_byte(e, tag_nil);
        break;
    case LUA_TBOOLEAN:
        put_byte(e, lua_toboolean(L, idx) ? tag_true : tag_false);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            put_byte(e, tag_integer);
            put_varint(e, zigzag(lua_tointeger(L, idx)));
        } else {
            double d = lua_tonumber(L, idx);
            std::uint64_t bits = 0;
            std::memcpy(&bits, &d, sizeof bits);
            unsigned char bytes[9] = {tag_float};
            for (int i = 0; i < 8; ++i) {
                bytes[1 + i] = static_cast<unsigned char>(bits >> (8 * i));
            }
            put_raw(e, bytes, sizeof bytes);
        }
        break;
    case LUA_TSTRING: {
        std::size_t n = 0;
        const char* s = lua_tolstring(L, idx, &n);
        put_byte(e, tag_string);
        put_varint(e, n);
        put_raw(e, s, n);
        break;
    }
    case LUA_TTABLE:
    case LUA_TFUNCTION:
    case LUA_TUSERDATA:
        encode_object(e, idx, lua_type(L, idx));
        break;
    case LUA_TLIGHTUSERDATA:
        fail(e, "a light userdata");
    case LUA_TTHREAD:
        fail(e, "a coroutine");
    default:
        fail(e, luaL_typename(L, idx));
    }
}

}  // namespace

void push_encoded(lua_State* L, int first, int last, const char* who) {
    first = lua_absindex(L, first);
    last = last < first ? first - 1 : lua_absindex(L, last);
    luaL_checkstack(L, 16, "luv.codec");
    // Only the scalars are initialised: the path array is written as the walk goes down.
    encoder e;
    e.L = L;
    e.who = who;
    int base = lua_gettop(L) + 1;
    lua_settop(L, base + 4);
    e.out = out_buffer{e.inline_bytes, 0, inline_capacity, base, nullptr};
    e.seen = base + 1;
    e.upvalues = base + 2;
    e.library = base + 3;
    e.globals = base + 4;
    e.objects_ready = e.upvalues_ready = e.library_ready = false;
    e.next_ref = 0;
    e.depth = 0;

    put_raw(e, magic, sizeof magic);
    put_byte(e, version);
    put_varint(e, static_cast<std::uint64_t>(last - first + 1));
    for (int i = first; i <= last; ++i) {
        enter(e, step::arg, 0, i - first + 1);
        encode_value(e, i);
        leave(e);
    }
    lua_pushlstring(L, e.out.data, e.out.size);
    if (e.out.heap != nullptr) {
        free_heap_bytes(L, e.out.heap);  // now rather than at the next collection
    }
    lua_replace(L, base);
    lua_settop(L, base);
}

std::string encode_values(lua_State* L, int first, int last) {
    push_encoded(L, first, last);
    // The string is built only once no Lua error can come any more.
    std::size_t n = 0;
    const char* s = lua_tolstring(L, -1, &n);
    std::string bytes(s, n);
    lua_pop(L, 1);
    return bytes;
}

}  // namespace luv::lua
