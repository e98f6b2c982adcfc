// luv.net.udp (issue 3: being written).
#include "binding/module.hpp"

namespace luv::lua {

void open_udp(lua_State*) {}

}  // namespace luv::lua
