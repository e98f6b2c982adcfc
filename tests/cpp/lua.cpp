// Embedding Lua in a C++ host (luv/lua.hpp): a host lua_State on the thread's runtime,
// Lua fibers spawned and joined from C++, C++ and Lua fibers sharing one scheduler,
// closing the lua_State before the runtime, and C++ exceptions thrown inside
// lua_CFunctions turned into Lua errors by the trampoline (binding/trampoline.hpp).
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <lua.hpp>

#include "binding/trampoline.hpp"
#include "luv/fiber.hpp"
#include "luv/lua.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using luv::test::ms_since;

namespace {

// A host's lua_State: standard libraries, and luv opened on the thread's runtime.
class lua_host {
public:
    lua_host() : L(luaL_newstate()) {
        luaL_openlibs(L);
        luv::lua::open(L);
        lua_pop(L, 1);
    }
    ~lua_host() { close(); }
    lua_host(const lua_host&) = delete;
    lua_host& operator=(const lua_host&) = delete;

    void close() {
        if (L != nullptr) {
            lua_close(L);
            L = nullptr;
        }
    }
    /// Runs a chunk on the thread's own stack; returns its first result as a string
    /// (tostring), or "error: <message>".
    std::string run(const char* code) {
        const int top = lua_gettop(L);
        std::string out;
        if (luaL_dostring(L, code) != LUA_OK) {
            out = std::string("error: ") + lua_tostring(L, -1);
        } else if (lua_gettop(L) > top) {
            out = luaL_tolstring(L, top + 1, nullptr);
        }
        lua_settop(L, top);
        return out;
    }

    lua_State* L;
};

// Counts destructions of C++ objects living in lua_CFunction frames.
int destroyed = 0;
struct counted {
    counted() = default;
    counted(const counted&) = delete;
    counted& operator=(const counted&) = delete;
    ~counted() { ++destroyed; }
};

int throws_runtime_error(lua_State*) {
    counted guard;
    throw std::runtime_error("thrown in C++");
}

// cpp_sleep(ms): a C++ blocking call made from Lua; it parks the calling fiber.
int cpp_sleep(lua_State* L) {
    const lua_Integer ms = luaL_checkinteger(L, 1);
    counted guard;
    luv::this_fiber::sleep_for(std::chrono::milliseconds(ms));
    lua_pushboolean(L, 1);
    return 1;
}

// host_log(s): appends to the std::vector<std::string> in upvalue 1.
int host_log(lua_State* L) {
    const char* s = luaL_checkstring(L, 1);
    static_cast<std::vector<std::string>*>(lua_touserdata(L, lua_upvalueindex(1)))
        ->emplace_back(s);
    return 0;
}

}  // namespace

TEST_CASE("open uses the host's runtime and leaves it to the host", "[lua]") {
    luv::runtime rt;
    {
        lua_host lua;
        CHECK(lua.run("return type(require('luv').sleep)") == "function");
        CHECK(lua.run("return require('luv') == package.loaded.luv") == "true");
        CHECK(luv::runtime::current() == &rt);
    }
    CHECK(luv::runtime::current() == &rt);  // closing the state did not take it
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("without a host runtime, the lua_State owns the one luaopen_luv makes", "[lua]") {
    REQUIRE(luv::runtime::current() == nullptr);
    {
        lua_host lua;
        CHECK(luv::runtime::current() != nullptr);
        CHECK(lua.run("local luv = require 'luv'; luv.sleep(0.001); return 'slept'") == "slept");
    }
    CHECK(luv::runtime::current() == nullptr);
}

TEST_CASE("a Lua chunk spawns fibers that sleep", "[lua]") {
    luv::runtime rt;
    lua_host lua;
    CHECK(lua.run(R"(
        local luv = require "luv"
        order = {}
        local function worker(name, seconds)
          luv.sleep(seconds)
          order[#order + 1] = name
        end
        luv.fiber.create(worker, "slow", 0.03):ready()
        luv.fiber.create(worker, "fast", 0.01):ready()
        order[#order + 1] = "main"
    )") == "");
    rt.run();  // the host runs the loop; the chunk returned long ago
    CHECK(lua.run("return table.concat(order, ',')") == "main,fast,slow");

    // The chunk may also wait itself, on the thread's stack: fibers run meanwhile.
    CHECK(lua.run(R"(
        local luv = require "luv"
        order = {}
        luv.fiber.create(function() order[#order + 1] = "fiber" end):ready()
        luv.sleep(0.005)
        order[#order + 1] = "main"
        return table.concat(order, ',')
    )") == "fiber,main");
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("lua::spawn and lua::join return a fiber's results", "[lua]") {
    luv::runtime rt;
    lua_host lua;
    lua_State* L = lua.L;
    REQUIRE(luaL_loadstring(L, R"(
        local a, b = ...
        require("luv").sleep(0.002)
        return a + b, "done"
    )") == LUA_OK);
    lua_pushinteger(L, 2);
    lua_pushinteger(L, 3);
    luv::lua::spawn(L, 2);
    REQUIRE(lua_gettop(L) == 1);
    CHECK(luaL_checkudata(L, 1, "luv.fiber") != nullptr);

    REQUIRE(luv::lua::join(L, 1) == LUA_OK);
    REQUIRE(lua_gettop(L) == 3);
    CHECK(lua_tointeger(L, 2) == 5);
    CHECK(std::string(lua_tostring(L, 3)) == "done");
    lua_settop(L, 0);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("lua::join reports a fiber's error with its traceback", "[lua]") {
    luv::runtime rt;
    lua_host lua;
    lua_State* L = lua.L;
    REQUIRE(luaL_loadstring(L, R"(
        local function inner() error("lua failure") end
        local function outer() require("luv").sleep(0.001); inner() end
        outer()
    )") == LUA_OK);
    luv::lua::spawn(L, 0);

    REQUIRE(luv::lua::join(L, -1) == LUA_ERRRUN);
    const std::string msg = lua_tostring(L, -1);
    CHECK_THAT(msg, Contains("lua failure"));
    CHECK_THAT(msg, Contains("stack traceback:"));
    CHECK_THAT(msg, Contains("inner"));
    lua_settop(L, 0);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("C++ and Lua fibers interleave on one scheduler", "[lua]") {
    luv::runtime rt;
    lua_host lua;
    lua_State* L = lua.L;
    std::vector<std::string> log;
    lua_pushlightuserdata(L, &log);
    lua_pushcclosure(L, LUV_FN(host_log), 1);
    lua_setglobal(L, "host_log");

    // Wake-ups at 0, 20 and 60 ms for C++; 0, 40 and 80 ms for Lua.
    auto cpp = luv::spawn([&] {
        log.emplace_back("c1");
        luv::this_fiber::sleep_for(20ms);
        log.emplace_back("c2");
        luv::this_fiber::sleep_for(40ms);
        log.emplace_back("c3");
    });
    REQUIRE(luaL_loadstring(L, R"(
        local luv = require "luv"
        host_log("l1"); luv.sleep(0.04)
        host_log("l2"); luv.sleep(0.04)
        host_log("l3")
    )") == LUA_OK);
    luv::lua::spawn(L, 0);

    CHECK(luv::lua::join(L, -1) == LUA_OK);
    cpp.join();
    CHECK(log == std::vector<std::string>{"c1", "l1", "c2", "l2", "c3", "l3"});
    lua_settop(L, 0);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("closing the lua_State before the runtime drops its waiting fibers", "[lua]") {
    luv::runtime rt;
    auto& stacks = luv::test::sched().stacks();
    lua_host lua;
    CHECK(lua.run(R"(
        local luv = require "luv"
        started = 0
        luv.fiber.create(function() started = started + 1; luv.sleep(10) end):ready()
        -- Inside table.sort's comparator a fiber cannot yield: it parks on a native
        -- stack of its own instead.
        luv.fiber.create(function()
          table.sort({3, 1, 2}, function(a, b)
            started = started + 1
            luv.sleep(10)
            return a < b
          end)
        end):ready()
    )") == "");
    luv::this_fiber::sleep_for(10ms);  // both fibers are waiting now
    CHECK(lua.run("return started") == "2");
    CHECK(stacks.in_use() == 2);  // the parked sorter and the loop's carrier
    // One more, queued but never run.
    CHECK(lua.run("require('luv').fiber.create(function() ran = true end):ready()") == "");

    lua.close();
    CHECK(stacks.in_use() == 1);  // the sorter's stack went back to the pool

    const auto t0 = luv::hrtime();
    rt.run();  // no deadline of the dropped fibers is left to wait for
    CHECK(ms_since(t0) < 1000);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a C++ exception in a lua_CFunction becomes a Lua error", "[lua]") {
    luv::runtime rt;
    lua_host lua;
    lua_State* L = lua.L;
    lua_pushcfunction(L, LUV_FN(throws_runtime_error));
    lua_setglobal(L, "throws");
    destroyed = 0;

    // Caught by pcall like any Lua error; the C++ frame was unwound first.
    CHECK(lua.run("local ok, err = pcall(throws); return tostring(ok) .. ' ' .. err") ==
          "false thrown in C++");
    CHECK(destroyed == 1);

    // Unprotected inside a Lua fiber: the fiber fails and join reports it.
    REQUIRE(luaL_loadstring(L, "throws()") == LUA_OK);
    luv::lua::spawn(L, 0);
    REQUIRE(luv::lua::join(L, -1) == LUA_ERRRUN);
    CHECK_THAT(std::string(lua_tostring(L, -1)), Contains("thrown in C++"));
    CHECK(destroyed == 2);
    lua_settop(L, 0);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("a C++ blocking call inside a Lua fiber can be cancelled from Lua", "[lua]") {
    luv::runtime rt;
    lua_host lua;
    lua_pushcfunction(lua.L, LUV_FN(cpp_sleep));
    lua_setglobal(lua.L, "cpp_sleep");
    destroyed = 0;

    CHECK(lua.run(R"(
        local luv = require "luv"
        local order = {}
        local sleeper = luv.fiber.create(function()
          local ok = cpp_sleep(20)
          order[#order + 1] = "c++ slept"
          return ok
        end):ready()
        luv.fiber.create(function() order[#order + 1] = "lua ran" end):ready()
        assert(sleeper:join() == true)
        return table.concat(order, ",")
    )") == "lua ran,c++ slept");
    CHECK(destroyed == 1);

    const auto t0 = luv::hrtime();
    CHECK(lua.run(R"(
        local luv = require "luv"
        local f = luv.fiber.create(function() return pcall(cpp_sleep, 10000) end):ready()
        luv.sleep(0.005)
        f:cancel()
        local ok, err = f:join()
        return tostring(ok) .. " " .. err
    )") == "false sleep_for: ECANCELED: operation canceled");
    CHECK(ms_since(t0) < 1000);
    CHECK(destroyed == 2);
    REQUIRE_LOOP_CLEAN(rt);
}

TEST_CASE("an error in a Lua fiber nobody joins is reported on stderr", "[lua]") {
    luv::runtime rt;
    lua_host lua;
    CHECK(lua.run(R"(
        local luv = require "luv"
        luv.fiber.create(function() error("nobody joins me") end):ready()
        done = false
        luv.fiber.create(function() luv.sleep(0.002); done = true end):ready()
    )") == "");
    luv::test::stderr_capture err;
    rt.run();
    const std::string text = err.text();
    CHECK_THAT(text, Contains("luv: error in fiber:"));
    CHECK_THAT(text, Contains("nobody joins me"));
    CHECK(lua.run("return done") == "true");
    REQUIRE_LOOP_CLEAN(rt);
}
