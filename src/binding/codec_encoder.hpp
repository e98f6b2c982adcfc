// The encoder's state, shared by the walk (codec_encode.cpp) and its error messages
// (codec_encode_errors.cpp). Private to the codec.
#pragma once

#include <cstddef>

#include <lua.hpp>

#include "binding/codec_format.hpp"

namespace luv::lua::codec_encoder {

/// The bytes start in an array on the C stack, which a small tuple never outgrows.
inline constexpr std::size_t inline_capacity = 512;

/// Memory from the state's allocator, owned by a userdata whose __gc frees it.
struct heap_bytes {
    char* data;
    std::size_t capacity;
};

struct out_buffer {
    char* data;
    std::size_t size;
    std::size_t capacity;
    int slot;          // the stack slot for the heap_bytes userdata
    heap_bytes* heap;  // null while the bytes are in the inline array
};

// One step of the path from an argument to the value being encoded, kept so that an error
// can say where the value is ("arg 1.key.sub[3]").
enum class step : unsigned char { arg, index, field, key, upvalue, hook_function, hook_value };

struct frame {
    step kind;
    int slot;           // field: stack index of the key; upvalue: of the function
    lua_Integer number; // arg and index: the number; upvalue: the upvalue's number
};

struct encoder {
    lua_State* L;
    const char* who;
    out_buffer out;
    // Stack slots, filled lazily: a tuple of scalars never creates a table.
    int seen;      // object -> its reference number (negative while its __codec runs)
    int upvalues;  // lightuserdata upvalue id -> function ref * 256 + upvalue number
    int library;   // the library index (codec_library.hpp)
    int globals;   // the global table
    bool objects_ready;
    bool upvalues_ready;
    bool library_ready;
    lua_Integer next_ref;
    int depth;  // frames in use; path[0] is the argument
    frame path[codec_format::max_depth + 2];
    char inline_bytes[inline_capacity];
};

/// Raises the error message on top of the stack.
[[noreturn]] void raise(encoder& e);

/// Raises "<who>: cannot encode <what> at <path>".
[[noreturn]] void fail(encoder& e, const char* what);

/// fail() for a userdata without __codec, named by its __name when it has one.
[[noreturn]] void fail_userdata(encoder& e, int idx);

/// Raises "<who>: nesting deeper than N levels at <path>".
[[noreturn]] void fail_depth(encoder& e);

}  // namespace luv::lua::codec_encoder
