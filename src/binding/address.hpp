// Socket addresses in the Lua API: ports checked the same way everywhere, and addresses
// handed back as {family = "inet"|"inet6", address = "127.0.0.1", port = 80}.
#pragma once

#include <lua.hpp>

#include <uv.h>

namespace luv::lua {

/// The port at `arg`, 0..65535; raises naming the argument otherwise.
int check_port(lua_State* L, int arg);

/// Pushes {family, address, port} for an IPv4 or IPv6 socket address. Never suspends.
void push_address(lua_State* L, const sockaddr* sa);

}  // namespace luv::lua
