#!/usr/bin/env bash
# Installs what luv needs from Debian 12 packages (when missing) and builds it.
#   scripts/setup.sh [build-dir] [meson options...]
# Run as root, or as a user with sudo, on Debian 12 (bookworm).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:-build}
shift || true

# Build: compilers, meson, and the libraries the runtime links.
packages=(g++ meson ninja-build pkg-config
          libuv1-dev liblua5.4-dev lua5.4 libboost-context-dev libzmq3-dev catch2)
# Tests and benchmarks: python3 for the runners, procps, the peers the benchmarks compare
# with (luvit's luv, cqueues) and LuaSocket for their clock. The sanitizer runtimes come
# with g++ (libasan, libubsan).
packages+=(python3 procps lua-socket lua-luv lua-cqueues lua-yaml)
# The LuaSocket drop-in's real clients and servers (tests/lua/socket_clients): redis-lua
# against redis-server, NATS against nats-server, and lua-nats's JSON module.
packages+=(redis-server lua-redis nats-server lua-cjson)
# The codec fuzzer (tests/fuzz, skipped without them): clang and its libFuzzer runtime,
# which --no-install-recommends leaves out. lua-cjson: the codec benchmark's peer.
packages+=(clang libclang-rt-dev lua-cjson)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -f "$build_dir/build.ninja" ]; then
  meson setup "$build_dir" "$@"
elif [ $# -gt 0 ]; then
  meson configure "$build_dir" "$@"
fi
ninja -C "$build_dir"
