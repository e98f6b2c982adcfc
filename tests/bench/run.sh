#!/usr/bin/env bash
# Runs every benchmark of tests/bench in one go, side by side with the peers, and prints
# one table (README.md says what each benchmark measures).
#
#   tests/bench/run.sh [BUILD_DIR]     BUILD_DIR defaults to ./build
#
# Environment:
#   REPEAT=3          runs of each benchmark, interleaved; speed rows keep the best run,
#                     size rows the median one
#   COPAS_LUA_PATH=   Lua path entries to a Copas >= 3 (its copas.lua, binaryheap.lua,
#                     timerwheel/, coxpcall.lua), e.g. "/opt/copas/?.lua;/opt/copas/?/init.lua".
#                     Debian's lua-copas (Copas 1.1.7) has no sleep/pause: without this
#                     the copas column stays empty.
#   QUICK=1           a smoke run: one repeat, a tenth of the work for the speed shapes
#   ECHO_SECONDS=2    the timed window of each TCP echo rate (after 0.5 s of warm-up)
#   ONLY=regex        run only the programs whose file name matches, e.g. ONLY=echo_
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=$(cd "${1:-./build}" 2>/dev/null && pwd) || {
    echo "run.sh: no build directory ${1:-./build}" >&2
    exit 2
}
LUA=${LUA:-lua5.4}
REPEAT=${REPEAT:-3}
ECHO_SECONDS=${ECHO_SECONDS:-2}
div=1
if [ "${QUICK:-0}" = 1 ]; then
    REPEAT=1
    div=10
    ECHO_SECONDS=0.5
fi
# The 10k-connections shape needs 10,000 descriptors in the server and in the client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null

work=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
results=$work/results.txt
: >"$results"

note() { echo "run.sh: $*" >&2; }

# ---- what runs: our module, the C programs, the peers ---------------------------------

stale=
if ! ninja -C "$BUILD" luv.so src/cli/luv >"$work/ninja.log" 2>&1; then
    tail -n 20 "$work/ninja.log" >&2
    note "building luv.so failed: measuring the luv.so already in $BUILD"
    stale=" (STALE luv.so: its build failed)"
fi

# Each Lua run gets a clean environment: LUA_PATH to bench.lua (and copas), and
# LUA_CPATH to our luv.so only for luv's own runs, so that require "luv" elsewhere is
# luvit's (Debian's lua-luv).
clean=(env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_INIT -u LUA_INIT_5_4 -u LUA_CPATH
       "LUA_PATH=$HERE/?.lua;${COPAS_LUA_PATH:+$COPAS_LUA_PATH;};")
ours=("${clean[@]}" "LUA_CPATH=$BUILD/?.so;;")

c_programs=(switch_capi sleepers_libuv timers_libuv echo_libuv echo_load zmq_c zmq_lua_floor
            delay_relay)
bin=$work
targets=$(ninja -C "$BUILD" -t targets all 2>/dev/null)
if grep -q '^tests/bench/switch_capi:' <<<"$targets"; then
    # tests/bench/meson.build is part of the build (subdir('tests/bench')).
    if ninja -C "$BUILD" "${c_programs[@]/#/tests/bench/}" >/dev/null; then
        bin=$BUILD/tests/bench
    else
        note "building the C benchmarks with ninja failed"
    fi
else
    for p in sleepers_libuv timers_libuv echo_libuv echo_load; do
        # shellcheck disable=SC2046
        cc -O2 -o "$work/$p" "$HERE/$p.c" $(pkg-config --cflags --libs libuv) ||
            note "cannot compile $p.c"
    done
    # shellcheck disable=SC2046
    cc -O2 -o "$work/switch_capi" "$HERE/switch_capi.c" $(pkg-config --cflags --libs lua5.4) ||
        note "cannot compile switch_capi.c"
    # shellcheck disable=SC2046
    cc -O2 -o "$work/zmq_c" "$HERE/zmq_c.c" $(pkg-config --cflags --libs libzmq) -lpthread ||
        note "cannot compile zmq_c.c"
    # shellcheck disable=SC2046
    cc -O2 -o "$work/zmq_lua_floor" "$HERE/zmq_lua_floor.c" \
        $(pkg-config --cflags --libs lua5.4 libzmq) -lpthread ||
        note "cannot compile zmq_lua_floor.c"
    cc -O2 -o "$work/delay_relay" "$HERE/delay_relay.c" || note "cannot compile delay_relay.c"
fi

# redis_dropin.lua runs its LAN-like variant (redis-server behind this relay) only when
# DELAY_RELAY names the relay.
if [ -x "$bin/delay_relay" ]; then
    export DELAY_RELAY="$bin/delay_relay"
else
    note "no delay_relay: redis_dropin.lua skips its +0.5 ms round-trip variant"
fi

declare -A have=([luv]=1 [lua]=1 [capi]=1 [libuv]=1 [libzmq]=1 [luafloor]=1)
"${ours[@]}" "$LUA" -e 'assert(require("luv").fiber)' 2>/dev/null ||
    { note "$BUILD/luv.so does not load"; exit 2; }
if "${clean[@]}" "$LUA" -e 'assert(require("luv").new_timer)' 2>/dev/null; then
    have[luvit]=1
else
    note "luvit's luv (Debian lua-luv) not found: its column stays empty"
fi
if "${clean[@]}" "$LUA" -e 'require("cqueues")' 2>/dev/null; then
    have[cqueues]=1
else
    note "cqueues (Debian lua-cqueues) not found: its column stays empty"
fi
if "${clean[@]}" "$LUA" -e 'local c = require("copas"); assert(c.pause and c.addthread and c.loop)' \
    2>/dev/null; then
    have[copas]=1
else
    note "no Copas >= 3 on the Lua path (set COPAS_LUA_PATH): the copas column stays empty"
fi
if command -v xargs >/dev/null; then
    have[xargs]=1
else
    note "xargs not found: its column stays empty"
fi
"${clean[@]}" "$LUA" -e 'require("socket")' 2>/dev/null ||
    note "LuaSocket missing: the Lua benchmarks time with os.clock() (CPU time)"

versions=$("${clean[@]}" "$LUA" -e '
    local v = { _VERSION }
    local ok, uv = pcall(require, "luv")
    if ok and uv.version_string then v[#v + 1] = "luvit luv " .. uv.version_string() end
    local ok2, cq = pcall(require, "cqueues")
    if ok2 then v[#v + 1] = "cqueues " .. tostring(cq.VERSION) end
    local ok3, copas = pcall(require, "copas")
    if ok3 then v[#v + 1] = tostring(copas._VERSION) end
    print(table.concat(v, ", "))' 2>/dev/null)

# ---- the benchmarks ---------------------------------------------------------------------
# impl  how  program  N  [thp]   (how: luv = lua5.4 with our module, cmd = the luv command,
# which puts malloc on huge pages by itself where the kernel allows, lua = lua5.4, bin = C,
# sh = a shell script of this folder;
# thp: again with glibc's malloc on transparent huge pages, GLIBC_TUNABLES=glibc.malloc.hugetlb=1,
# whose results get the suffix _thp: the 100k-sleepers shape is mostly first-touch page faults;
# warmup: a throwaway run that takes ~100 MB on huge pages first, whichever way the round
# runs: the first process that wants that many huge pages after small ones pays for the
# kernel's compaction, 0.15 s -> 0.5 s here; echo: a TCP echo server driven by echo_load,
# N is the mode, see run_echo; luv's and C libuv's rtt jobs run back to back, whichever
# way the round runs, because the machine's speed for this shape drifts between rounds)
jobs=(
    "luv     luv switch_luv.lua       $((5000000 / div))"
    "luv     luv pingpong_luv.lua     $((8000000 / div))"
    "lua     lua switch_lua.lua       $((4000000 / div))"
    "capi    bin switch_capi          $((6000000 / div))"
    "luvit   lua switch_luvit.lua     $((300000 / div))"
    "cqueues lua switch_cqueues.lua   $((300000 / div))"
    "copas   lua switch_copas.lua     $((200000 / div))"
    "luv     luv sleepers_luv.lua     10000"
    "lua     lua sleepers_lua.lua     10000"
    "luvit   lua sleepers_luvit.lua   10000"
    "cqueues lua sleepers_cqueues.lua 10000"
    "copas   lua sleepers_copas.lua   10000"
    "libuv   bin sleepers_libuv       10000"
    "luv     luv timers_luv.lua       $((100000 / div))"
    "luvit   lua timers_luvit.lua     $((100000 / div))"
    "cqueues lua timers_cqueues.lua   $((100000 / div))"
    "copas   lua timers_copas.lua     $((100000 / div))"
    "libuv   bin timers_libuv         $((100000 / div))"
    "lua     lua sleepers_lua.lua     $((100000 / div)) warmup"
    "luv     cmd timers_luv.lua       $((100000 / div))"
    "luv     luv timers_luv.lua       $((100000 / div)) thp"
    "luvit   lua timers_luvit.lua     $((100000 / div)) thp"
    "cqueues lua timers_cqueues.lua   $((100000 / div)) thp"
    "copas   lua timers_copas.lua     $((100000 / div)) thp"
    "libuv   bin timers_libuv         $((100000 / div)) thp"
    "lua     lua sleepers_lua.lua     $((100000 / div)) warmup"
    "luv     luv spawn_luv.lua        $((1000000 / div))"
    "lua     lua spawn_lua.lua        $((1000000 / div))"
    "cqueues lua spawn_cqueues.lua    $((1000000 / div))"
    "copas   lua spawn_copas.lua      $((500000 / div))"
    "luv     luv procs_luv.lua        $((1000 / div))"
    "luvit   lua procs_luvit.lua      $((1000 / div))"
    "xargs   sh  procs_xargs.sh       $((1000 / div))"
    "luv     luv redis_dropin.lua     $((200 / div))"
    "luv     luv zmq_luv.lua          $((1000000 / div))"
    "libzmq  bin zmq_c                $((1000000 / div))"
    "luafloor bin zmq_lua_floor       $((1000000 / div))"
    "luv     luv thread_luv.lua       $((2000 / div))"
    "luvit   lua thread_luvit.lua     $((2000 / div))"
    "luv     luv echo_luv.lua         rtt   echo"
    "libuv   bin echo_libuv           rtt   echo"
    "luvit   lua echo_luvit.lua       rtt   echo"
    "cqueues lua echo_cqueues.lua     rtt   echo"
    "copas   lua echo_copas.lua       rtt   echo"
    "luv     luv echo_luv.lua         idle  echo"
    "luvit   lua echo_luvit.lua       idle  echo"
    "cqueues lua echo_cqueues.lua     idle  echo"
    "copas   lua echo_copas.lua       idle  echo"
    "libuv   bin echo_libuv           idle  echo"
    "luv     luv echo_luv.lua         hold  echo"
    "luvit   lua echo_luvit.lua       hold  echo"
    "cqueues lua echo_cqueues.lua     hold  echo"
    "libuv   bin echo_libuv           hold  echo"
)

# A TCP echo job: starts the server (it prints "PORT <port>"), runs echo_load against it,
# kills it. mode: rtt = 10 then 100 connections in ping-pong, idle = 1,000 idle
# connections, hold = 10,000 connections at once (copas waits in select(), limited to
# ~1,000 descriptors: no hold job). echo_load bounds every run in time and exits non-zero
# if the server misbehaves.
alive() {  # a process that has not exited (a zombie has)
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$state" ] && [ "$state" != Z ]
}

run_echo() {
    local impl=$1 how=$2 prog=$3 mode=$4 port='' out='' status=0 i n
    if [ "$mode" = hold ] && [ "$(ulimit -n)" -lt 10100 ]; then
        note "ulimit -n is $(ulimit -n): the 10k-connections shape needs 10,100"
        return
    fi
    : >"$work/port"
    case $how in
        luv) (cd "$HERE" && exec "${ours[@]}" "$LUA" "$prog" 0 >"$work/port" 2>>"$work/stderr") & ;;
        lua) (cd "$HERE" && exec "${clean[@]}" "$LUA" "$prog" 0 >"$work/port" 2>>"$work/stderr") & ;;
        bin) (exec "$bin/$prog" 0 >"$work/port" 2>>"$work/stderr") & ;;
    esac
    server_pid=$!
    for i in $(seq 1 100); do
        port=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$work/port")
        [ -n "$port" ] && break
        alive "$server_pid" || break
        sleep 0.05
    done
    if [ -z "$port" ]; then
        note "$prog did not start listening"
        tail -n 5 "$work/stderr" >&2
    else
        case $mode in
            rtt) for n in 10 100; do
                     out+=$(timeout 60 "$bin/echo_load" "$port" "$server_pid" rtt "$n" \
                            "$ECHO_SECONDS" 2>>"$work/stderr")$'\n' || { status=$?; break; }
                 done ;;
            idle) out=$(timeout 60 "$bin/echo_load" "$port" "$server_pid" idle 1000 2>>"$work/stderr") ||
                      status=$? ;;
            hold) out=$(timeout 90 "$bin/echo_load" "$port" "$server_pid" hold 10000 2>>"$work/stderr") ||
                      status=$? ;;
        esac
        if [ $status -ne 0 ] || ! grep -q '^RESULT ' <<<"$out"; then
            note "echo_load $mode against $prog failed (status $status):"
            tail -n 5 "$work/stderr" >&2
        fi
        grep '^RESULT ' <<<"$out" | sed "s/^/$impl /" >>"$results"
    fi
    kill "$server_pid" 2>/dev/null
    for i in $(seq 1 40); do
        alive "$server_pid" || break
        sleep 0.05
    done
    kill -9 "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
}

run_one() {
    local impl=$1 how=$2 prog=$3 n=$4 variant=${5:-} out status suffix=
    if [ "$variant" = echo ]; then
        [ -x "$bin/echo_load" ] && run_echo "$impl" "$how" "$prog" "$n"
        return
    fi
    local tunables=${GLIBC_TUNABLES:-}
    if [ "$variant" = thp ] || [ "$variant" = warmup ]; then
        tunables=glibc.malloc.hugetlb=1
        suffix=_thp
    fi
    if [ "$how" = cmd ]; then
        suffix=_cmd
    fi
    case $how in
        cmd) out=$(cd "$HERE" && timeout 120 "${clean[@]}" "$BUILD/src/cli/luv" "$prog" "$n" 2>>"$work/stderr") ;;
        luv) out=$(cd "$HERE" && GLIBC_TUNABLES=$tunables timeout 120 "${ours[@]}" "$LUA" "$prog" "$n" 2>>"$work/stderr") ;;
        lua) out=$(cd "$HERE" && GLIBC_TUNABLES=$tunables timeout 120 "${clean[@]}" "$LUA" "$prog" "$n" 2>>"$work/stderr") ;;
        bin) out=$(GLIBC_TUNABLES=$tunables timeout 120 "$bin/$prog" "$n" 2>>"$work/stderr") ;;
        sh) out=$(cd "$HERE" && timeout 120 "${clean[@]}" sh "$prog" "$n" 2>>"$work/stderr") ;;
    esac
    status=$?
    if [ $status -ne 0 ] || ! grep -q '^RESULT ' <<<"$out"; then
        note "$prog $n failed (status $status):"
        tail -n 5 "$work/stderr" >&2
        return
    fi
    if [ "$variant" = warmup ]; then
        return
    fi
    grep '^RESULT ' <<<"$out" | sed -E "s/^RESULT ([^ ]+)/$impl RESULT \1$suffix/" >>"$results"
}

# The commit the build dir was configured from, "+changes" if src/ or include/ differ from it.
describe_source() {
    local src rev
    src=$(sed -n 's/.*"source": *"\([^"]*\)".*/\1/p' "$BUILD/meson-info/meson-info.json" 2>/dev/null)
    rev=$(git -C "${src:-$HERE/../..}" rev-parse --short HEAD 2>/dev/null) || { echo '?'; return; }
    git -C "${src:-$HERE/../..}" diff --quiet HEAD -- src include 2>/dev/null || rev="$rev+changes"
    echo "$rev"
}

start=$(date +%s)
load0=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)
for round in $(seq 1 "$REPEAT"); do
    note "round $round of $REPEAT"
    # Every other round runs the list backwards, so that no implementation always runs
    # right after the same other one (page cache, huge pages, CPU frequency).
    order=("${jobs[@]}")
    if [ $((round % 2)) = 0 ]; then
        order=()
        for ((i = ${#jobs[@]} - 1; i >= 0; i--)); do
            order+=("${jobs[$i]}")
        done
    fi
    for job in "${order[@]}"; do
        read -r impl how prog n variant <<<"$job"
        [ -n "${have[$impl]:-}" ] || continue
        [[ $prog =~ ${ONLY:-.} ]] || continue
        if [ "$how" = bin ] && [ ! -x "$bin/$prog" ]; then
            continue
        fi
        run_one "$impl" "$how" "$prog" "$n" "$variant"
    done
done

echo "luv benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m)," \
     "luv $(describe_source)$stale," \
     "libuv $(pkg-config --modversion libuv 2>/dev/null || echo '?'), $versions;" \
     "best of $REPEAT (speed) / median of $REPEAT (size), $(( $(date +%s) - start )) s," \
     "load average $load0 before, $(cut -d' ' -f1 /proc/loadavg 2>/dev/null) after"
if [ "$div" != 1 ]; then
    echo "QUICK run: one repeat, a tenth of N for the speed shapes (the labels say the full N)."
fi
echo
"$LUA" "$HERE/report.lua" "$results"
if [ -n "${BENCH_RAW:-}" ]; then
    cp "$results" "$BENCH_RAW"
fi
