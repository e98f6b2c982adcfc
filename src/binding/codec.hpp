// luv.codec: Lua values to bytes and back (docs/codec.md gives the format). The functions
// here are the codec's core, for the Lua binding (src/binding/codec.cpp) and for C++ code
// that moves values between lua_States, such as a thread's entry function and arguments.
//
// All of them raise Lua errors (a longjmp with Debian's C-built liblua): call them from a
// lua_CFunction or under lua_pcall, with no live C++ object in the frames between that
// needs its destructor run.
#pragma once

#include <cstddef>
#include <string>

#include <lua.hpp>

namespace luv::lua {

/// Encodes the values at stack indices first..last (none when last < first) and pushes
/// the encoding as a Lua string. On a value that cannot be encoded it raises
/// "<who>: cannot encode a userdata at arg 1.key[3]", the path counted from `first`.
/// Never suspends, unless a `__codec` metamethod it calls does.
void push_encoded(lua_State* L, int first, int last, const char* who = "luv.codec.encode");

/// The same, returned as a std::string; the stack is left as it was.
/// Never suspends, unless a `__codec` metamethod it calls does.
std::string encode_values(lua_State* L, int first, int last);

struct decode_options {
    /// Load the functions the data holds (binary chunks: trusted data only).
    bool functions = true;
    /// Call `__codec` hooks, which run a function the data names or holds.
    bool hooks = true;
    /// The prefix of error messages.
    const char* who = "luv.codec.decode";
};

/// Decodes `len` bytes and pushes the values they hold; returns how many. Malformed data
/// of any kind raises "<who>: ..." (it never reads past `len`, and its memory stays
/// proportional to `len`). With `functions` false no bytecode is ever loaded.
/// Never suspends, unless a `__codec` hook it calls does.
int decode_values(lua_State* L, const char* data, std::size_t len, const decode_options& options);

/// decode_values with `functions` and `hooks` both set to allow_functions.
/// Never suspends, unless a `__codec` hook it calls does.
int decode_values(lua_State* L, const char* data, std::size_t len, bool allow_functions);

}  // namespace luv::lua
