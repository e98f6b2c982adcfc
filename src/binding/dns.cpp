// luv.net.getaddrinfo / getnameinfo (issue 3: being written).
#include "binding/module.hpp"

namespace luv::lua {

void open_dns(lua_State*) {}

}  // namespace luv::lua
