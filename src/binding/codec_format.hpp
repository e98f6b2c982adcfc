// The constants of the luv.codec byte format, shared by the encoder and the decoder.
// docs/codec.md specifies the format byte by byte; this header must agree with it.
#pragma once

#include <cstdint>
#include <type_traits>

#include <lua.hpp>

namespace luv::lua::codec_format {

// The format writes integers as 64-bit and floats as IEEE 754 binary64; a Lua built with
// other number types would need a format of its own.
static_assert(sizeof(lua_Integer) == 8, "luv.codec needs 64-bit Lua integers");
static_assert(std::is_same_v<lua_Number, double>, "luv.codec needs double Lua floats");

/// Every encoding starts with these three bytes, then the version byte. The ESC byte keeps
/// the data from ever being mistaken for text (the trick of Lua's own "\x1bLua").
inline constexpr unsigned char magic[3] = {0x1b, 'L', 'V'};
inline constexpr unsigned char version = 1;
inline constexpr std::size_t header_size = 4;

/// The tag byte that starts each value.
enum tag : unsigned char {
    tag_nil = 0x00,       // also ends the key/value pairs of a table
    tag_false = 0x01,
    tag_true = 0x02,
    tag_integer = 0x03,   // zigzag varint
    tag_float = 0x04,     // 8 bytes, little-endian binary64
    tag_string = 0x05,    // varint length, bytes
    tag_table = 0x06,     // [ref] varint n, n array values, (key value)*, tag_nil
    tag_ref = 0x07,       // varint: index of an object met earlier
    tag_function = 0x08,  // [ref] varint length, lua_dump bytes, varint nups, upvalues
    tag_globals = 0x09,   // the receiving state's global table
    tag_library = 0x0a,   // varint length + module name, varint length + field path
    tag_hooked = 0x0b,    // [ref] hook value, argument value (the __codec metamethod)
    tag_upvalue = 0x0c,   // only as an upvalue: varint function ref, varint upvalue number
};

/// How deep tables, function upvalues and __codec values may nest, on both sides. The
/// encoder and the decoder recurse once per level, so this bounds their native stack use
/// (a fiber's stack is 1 MiB); cjson's default limit is the same.
inline constexpr int max_depth = 1000;

/// The longest varint: 64 bits in 7-bit groups.
inline constexpr int max_varint_bytes = 10;

inline std::uint64_t zigzag(lua_Integer v) {
    auto u = static_cast<std::uint64_t>(v);
    return (u << 1) ^ static_cast<std::uint64_t>(v >> 63);
}

inline lua_Integer unzigzag(std::uint64_t u) {
    return static_cast<lua_Integer>((u >> 1) ^ (~(u & 1) + 1));
}

}  // namespace luv::lua::codec_format
