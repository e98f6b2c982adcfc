// The values luv.codec sends by name instead of by value: the luv module and everything in
// its tables (sub-modules, functions, luv.stdout...), the standard library tables with
// their C functions and userdata (io.stdout), and the base library's C functions (print,
// pairs...). The receiving state looks the name up in its own index, so `luv.fiber`
// arrives as the receiver's own luv.fiber and `local insert = table.insert` as its
// table.insert.
#pragma once

#include <cstddef>

#include <lua.hpp>

namespace luv::lua::codec_library {

/// True for a Lua identifier, the only field names the index uses (so that the dots of a
/// path are separators) and the fields an error path shows as `.name`.
inline bool is_name(const char* s, std::size_t n) {
    if (n == 0 || (s[0] >= '0' && s[0] <= '9')) {
        return false;
    }
    for (std::size_t i = 0; i < n; ++i) {
        char c = s[i];
        bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9');
        if (!ok) {
            return false;
        }
    }
    return true;
}

/// Pushes the encoder's index of this state: a table mapping each library value to its
/// encoding (the library tag, the module name, the field path). A value with several
/// names gets one canonical name (the standard library's before luv's, then the shortest,
/// then the first in byte order), so that the bytes do not depend on table order. The
/// index is built once per state and kept in the registry; `rebuild` builds it again
/// (for a library loaded since).
void push_index(lua_State* L, bool rebuild);

/// Pushes the value whose library encoding is `encoding` (every name of it is accepted,
/// not only the canonical one) and returns true; returns false and pushes nothing for a
/// name this state does not have. On a miss of a "luv" or "luv.*" name it requires the
/// module if it is not loaded yet and rebuilds the index before it gives up.
bool push_value(lua_State* L, const char* encoding, std::size_t encoding_len,
                const char* module, std::size_t module_len);

}  // namespace luv::lua::codec_library
