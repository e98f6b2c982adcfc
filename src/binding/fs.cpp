// luv.fs: the filesystem on the threadpool (issue 3: being written).
#include "binding/module.hpp"

namespace luv::lua {

void open_fs(lua_State*) {}

}  // namespace luv::lua
