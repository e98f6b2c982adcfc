#!/usr/bin/env bash
# Sets everything up and runs a real example with the `luv` command.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
echo "--- luv examples/lua/sleepers.lua"
build/src/cli/luv examples/lua/sleepers.lua
echo "--- lua5.4 examples/lua/fiber.lua (the original README's fiber example)"
LUA_CPATH="$PWD/build/?.so;;" lua5.4 examples/lua/fiber.lua
echo "--- luv examples/lua/http_fibers.lua (unmodified socket.http on the LuaSocket drop-in)"
build/src/cli/luv examples/lua/http_fibers.lua
