// luv.process: child processes that fibers wait on, with their stdio as luv streams.
// The handle lives in src/uv/process.cpp; luv.process.run is written in Lua
// (process_run.cpp) on top of spawn.
//
// spawn checks every option first, with Lua errors, keeping every string it converts
// anchored in a table on the stack; only then does it start the child (arrays in GC-owned
// userdata), so that no error can jump over C++ state.
#include <csignal>
#include <cstdint>
#include <cstring>

#include "binding/await.hpp"
#include "binding/fs.hpp"
#include "binding/handle.hpp"
#include "binding/module.hpp"
#include "binding/signal.hpp"
#include "binding/stream.hpp"
#include "binding/trampoline.hpp"
#include "core/scheduler.hpp"
#include "uv/process.hpp"
#include "uv/signal.hpp"

namespace luv::lua {
namespace {

constexpr const char* process_type = "luv.process";
using detail::process_handle;

// Stack slots of spawn's work, above its two arguments.
constexpr int file_arg = 1;
constexpr int opts_arg = 2;
constexpr int anchor_slot = 3;  // strings made here (env entries), kept alive
constexpr int fields_slot = 4;  // the object's fields: pid, stdin, stdout, stderr
constexpr int argv_slot = 5;    // char*[] userdata
constexpr int envp_slot = 6;    // char*[] userdata, or nil

constexpr const char* stdio_names[] = {"stdin", "stdout", "stderr"};

process_handle& check_process(lua_State* L) {
    return check_open<process_handle>(L, 1, process_type);
}

// opts[key] if it is of `type` (or absent: returns false); raises naming the option.
bool opt_field(lua_State* L, const char* key, int type) {
    if (lua_isnoneornil(L, opts_arg)) {
        return false;
    }
    const int t = lua_getfield(L, opts_arg, key);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return false;
    }
    if (t != type) {
        luaL_argerror(L, opts_arg, lua_pushfstring(L, "%s must be a %s, got %s", key,
                                                   lua_typename(L, type), luaL_typename(L, -1)));
    }
    return true;
}

// The argument list: opts.args, or the array part of opts (the original luv's form).
// Builds argv at argv_slot.
void build_argv(lua_State* L) {
    int list = 0;
    if (opt_field(L, "args", LUA_TTABLE)) {
        list = lua_gettop(L);
        if (lua_rawgeti(L, opts_arg, 1) != LUA_TNIL) {
            luaL_argerror(L, opts_arg, "give the arguments either in opts.args or in opts");
        }
        lua_pop(L, 1);
    } else if (!lua_isnoneornil(L, opts_arg)) {
        list = opts_arg;
    }
    const lua_Integer n = list != 0 ? static_cast<lua_Integer>(lua_rawlen(L, list)) : 0;
    auto** argv = static_cast<char**>(
        lua_newuserdatauv(L, sizeof(char*) * static_cast<std::size_t>(n + 2), 0));
    argv[0] = const_cast<char*>(lua_tostring(L, file_arg));
    for (lua_Integer i = 1; i <= n; ++i) {
        const int t = lua_rawgeti(L, list, i);
        if (t != LUA_TSTRING && t != LUA_TNUMBER) {
            luaL_argerror(L, opts_arg, lua_pushfstring(L, "argument %I is a %s, not a string",
                                                       i, luaL_typename(L, -1)));
        }
        lua_tostring(L, -1);  // a number becomes its text
        argv[i] = const_cast<char*>(lua_tostring(L, -1));
        lua_rawseti(L, anchor_slot, static_cast<lua_Integer>(lua_rawlen(L, anchor_slot)) + 1);
    }
    argv[n + 1] = nullptr;
    if (list != 0 && list != opts_arg) {
        lua_remove(L, list);
    }
}

// opts.env: { NAME = "value", ... } (numbers and booleans as their text), and/or
// "NAME=value" strings in its array part. It replaces the environment. envp_slot gets
// the array, or nil without opts.env.
void build_envp(lua_State* L) {
    if (!opt_field(L, "env", LUA_TTABLE)) {
        lua_pushnil(L);
        return;
    }
    const int env = lua_gettop(L);
    std::size_t count = 0;
    for (lua_pushnil(L); lua_next(L, env) != 0; lua_pop(L, 1)) {
        ++count;
    }
    auto** envp = static_cast<char**>(lua_newuserdatauv(L, sizeof(char*) * (count + 1), 0));
    std::size_t i = 0;
    for (lua_pushnil(L); lua_next(L, env) != 0; lua_pop(L, 1)) {
        const int vt = lua_type(L, -1);
        if (lua_type(L, -2) == LUA_TSTRING) {
            if (vt != LUA_TSTRING && vt != LUA_TNUMBER && vt != LUA_TBOOLEAN) {
                luaL_argerror(L, opts_arg, lua_pushfstring(L, "env.%s is a %s, not a string",
                                                           lua_tostring(L, -2),
                                                           luaL_typename(L, -1)));
            }
            if (std::strchr(lua_tostring(L, -2), '=') != nullptr) {
                luaL_argerror(L, opts_arg, "an env name cannot hold '='");
            }
            luaL_tolstring(L, -1, nullptr);  // the value's text
            lua_pushfstring(L, "%s=%s", lua_tostring(L, -3), lua_tostring(L, -1));
            lua_remove(L, -2);
        } else if (lua_isinteger(L, -2) && vt == LUA_TSTRING &&
                   std::strchr(lua_tostring(L, -1), '=') != nullptr) {
            lua_pushvalue(L, -1);
        } else {
            luaL_argerror(L, opts_arg, "env must map names to values (or hold \"NAME=value\")");
        }
        envp[i++] = const_cast<char*>(lua_tostring(L, -1));
        lua_rawseti(L, anchor_slot, static_cast<lua_Integer>(lua_rawlen(L, anchor_slot)) + 1);
    }
    envp[i] = nullptr;
    lua_remove(L, env);
}

// opts.stdin/stdout/stderr: "inherit" (the default), "ignore", "pipe" (a new luv.pipe in
// the object's field of that name), a luv stream or luv.file to hand over, or a
// descriptor number. Pipes made here are closed again if the spawn fails.
void build_stdio(lua_State* L, detail::spawn_options& options) {
    using how = detail::spawn_options::stdio;
    for (int fd = 0; fd < 3; ++fd) {
        const char* name = stdio_names[fd];
        detail::spawn_options::stdio_spec& c = options.stdio_of[fd];
        c.how = how::inherit;
        c.fd = fd;
        if (lua_isnoneornil(L, opts_arg) || lua_getfield(L, opts_arg, name) == LUA_TNIL) {
            if (!lua_isnoneornil(L, opts_arg)) {
                lua_pop(L, 1);
            }
            continue;
        }
        const int v = lua_gettop(L);
        int file_fd = 0;
        if (lua_type(L, v) == LUA_TSTRING) {
            const char* how_text = lua_tostring(L, v);
            if (std::strcmp(how_text, "inherit") == 0) {
                // as set above
            } else if (std::strcmp(how_text, "ignore") == 0) {
                c.how = how::ignore;
            } else if (std::strcmp(how_text, "pipe") == 0) {
                detail::stream_handle* h = detail::stream_handle::create_pipe(sched(L), false);
                push_stream(L, pipe_type, h);
                lua_setfield(L, fields_slot, name);
                c.how = how::pipe;
                c.stream = h;
            } else {
                luaL_argerror(L, opts_arg,
                              lua_pushfstring(L, "%s must be \"inherit\", \"ignore\" or \"pipe\", "
                                                 "not \"%s\"", name, how_text));
            }
        } else if (lua_isinteger(L, v) && lua_tointeger(L, v) >= 0 &&
                   lua_tointeger(L, v) <= INT32_MAX) {
            c.fd = static_cast<int>(lua_tointeger(L, v));
        } else if (stream_object* s = test_stream(L, v)) {
            c.how = how::stream;
            c.stream = &open_stream(L, v, *s);
        } else if ((file_fd = test_file_fd(L, v)) != -2) {
            if (file_fd < 0) {
                luaL_argerror(L, opts_arg, lua_pushfstring(L, "%s is a closed luv.file", name));
            }
            c.fd = file_fd;
        } else {
            luaL_argerror(L, opts_arg,
                          lua_pushfstring(L, "%s must be a string, a luv stream, a luv.file or "
                                             "a descriptor, got %s", name, luaL_typename(L, v)));
        }
        lua_pop(L, 1);
    }
}

void close_created_pipes(lua_State* L) {
    for (const char* name : stdio_names) {
        if (lua_getfield(L, fields_slot, name) != LUA_TNIL) {
            stream_object& s = check_stream(L, -1);
            if (s.h != nullptr) {
                std::exchange(s.h, nullptr)->close();
            }
        }
        lua_pop(L, 1);
    }
}

// spawn(file, opts) -> process | nil, "ENOENT: no such file or directory: file", "ENOENT".
// Never suspends: the child starts and spawn returns at once.
int process_spawn(lua_State* L) {
    luaL_checkstring(L, file_arg);
    if (!lua_isnoneornil(L, opts_arg)) {
        luaL_checktype(L, opts_arg, LUA_TTABLE);
    }
    lua_settop(L, opts_arg);
    lua_newtable(L);  // anchor_slot
    lua_newtable(L);  // fields_slot
    build_argv(L);    // argv_slot
    build_envp(L);    // envp_slot

    detail::spawn_options options;
    options.file = lua_tostring(L, file_arg);
    options.args = static_cast<char**>(lua_touserdata(L, argv_slot));
    options.env = static_cast<char**>(lua_touserdata(L, envp_slot));
    if (opt_field(L, "cwd", LUA_TSTRING)) {
        options.cwd = lua_tostring(L, -1);
        lua_rawseti(L, anchor_slot, static_cast<lua_Integer>(lua_rawlen(L, anchor_slot)) + 1);
    }
    if (opt_field(L, "detached", LUA_TBOOLEAN)) {
        options.detached = lua_toboolean(L, -1) != 0;
        lua_pop(L, 1);
    }
    if (opt_field(L, "uid", LUA_TNUMBER)) {
        luaL_argcheck(L, lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0, opts_arg,
                      "uid must be an integer >= 0");
        options.uid = static_cast<unsigned>(lua_tointeger(L, -1));
        options.set_uid = true;
        lua_pop(L, 1);
    }
    if (opt_field(L, "gid", LUA_TNUMBER)) {
        luaL_argcheck(L, lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0, opts_arg,
                      "gid must be an integer >= 0");
        options.gid = static_cast<unsigned>(lua_tointeger(L, -1));
        options.set_gid = true;
        lua_pop(L, 1);
    }
    build_stdio(L, options);

    int status = 0;
    process_handle* h = process_handle::spawn(sched(L), options, status);
    if (h == nullptr) {
        close_created_pipes(L);
        return push_fail(L, status, options.file);
    }
    auto** slot = static_cast<process_handle**>(lua_newuserdatauv(L, sizeof h, 1));
    *slot = h;
    luaL_setmetatable(L, process_type);
    lua_pushinteger(L, h->pid());
    lua_setfield(L, fields_slot, "pid");
    lua_pushvalue(L, fields_slot);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

// exit_status, term_signal (0 when none).
int push_exit(lua_State* L, const process_handle& h) {
    lua_pushinteger(L, h.exit_status());
    lua_pushinteger(L, h.term_signal());
    return 2;
}

int wait_k(lua_State* L, int, lua_KContext) {
    const detail::waiter& w = current_wait(L);
    auto* h = *static_cast<process_handle**>(lua_touserdata(L, 1));
    if (h != nullptr) {
        h->waited();
    }
    if (w.status() != detail::wait_status::notified) {
        return push_wait_failure(L, w.status());
    }
    if (h == nullptr) {
        return push_fail(L, UV_ECANCELED);  // woken, then closed by another fiber
    }
    return push_exit(L, *h);
}

// wait([timeout]) -> exit_status, term_signal | fail. Suspends until the child exits;
// returns at once if it has.
int process_wait(lua_State* L) {
    // A child that had exited when its object was closed keeps its answer.
    auto** slot = static_cast<process_handle**>(luaL_checkudata(L, 1, process_type));
    if (*slot == nullptr && lua_getiuservalue(L, 1, 1) == LUA_TTABLE &&
        lua_getfield(L, -1, "exit_status") == LUA_TNUMBER) {
        lua_getfield(L, -2, "term_signal");
        return 2;
    }
    process_handle& h = check_process(L);
    if (h.exited()) {
        return push_exit(L, h);
    }
    detail::waiter& w = begin_wait(L, opt_deadline(L, 2));
    if (w.waiting()) {
        h.wait(w);
    }
    return finish_wait(L, w, &ktrampoline<wait_k>);
}

// kill([signal = "SIGTERM"]) -> true | fail ("ESRCH" once the child has exited).
// Never suspends.
int process_kill(lua_State* L) {
    process_handle& h = check_process(L);
    return push_status(L, h.kill(check_signal_arg(L, 2, SIGTERM)));
}

// luv.process.kill(pid[, signal]) -> true | fail. Any process; a negative pid is a process
// group (a detached child leads its own). Never suspends.
int process_kill_pid(lua_State* L) {
    const lua_Integer pid = luaL_checkinteger(L, 1);
    luaL_argcheck(L, pid != 0 && pid >= INT32_MIN && pid <= INT32_MAX, 1,
                  "pid must be a non-zero integer");
    return push_status(L, detail::kill_pid(static_cast<int>(pid), check_signal_arg(L, 2, SIGTERM)));
}

int process_close(lua_State* L) {
    auto** slot = static_cast<process_handle**>(luaL_checkudata(L, 1, process_type));
    if (*slot != nullptr) {
        if ((*slot)->exited() && lua_getiuservalue(L, 1, 1) == LUA_TTABLE) {
            push_exit(L, **slot);
            lua_setfield(L, -3, "term_signal");
            lua_setfield(L, -2, "exit_status");
        }
        std::exchange(*slot, nullptr)->release();
    }
    lua_pushboolean(L, 1);
    return 1;
}

// Methods first, then the fields (pid, stdin, stdout, stderr).
int process_index(lua_State* L) {
    lua_settop(L, 2);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TNIL && lua_getiuservalue(L, 1, 1) == LUA_TTABLE) {
        lua_pushvalue(L, 2);
        lua_rawget(L, -2);
    }
    return 1;
}

int process_tostring(lua_State* L) {
    luaL_checkudata(L, 1, process_type);
    lua_getiuservalue(L, 1, 1);
    lua_getfield(L, -1, "pid");
    lua_pushfstring(L, "%s: %p (pid %d)", process_type, lua_touserdata(L, 1),
                    static_cast<int>(lua_tointeger(L, -1)));
    return 1;
}

const luaL_Reg methods[] = {
    {"wait", LUV_FN(process_wait)},
    {"kill", LUV_FN(process_kill)},
    {"close", LUV_FN(process_close)},
    {nullptr, nullptr},
};

const luaL_Reg metamethods[] = {
    {"__gc", LUV_FN(process_close)},
    {"__close", LUV_FN(process_close)},
    {"__tostring", LUV_FN(process_tostring)},
    {nullptr, nullptr},
};

}  // namespace

void open_process(lua_State* L) {
    luaL_newmetatable(L, process_type);
    luaL_setfuncs(L, metamethods, 0);
    luaL_newlib(L, methods);
    lua_pushcclosure(L, LUV_FN(process_index), 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    lua_createtable(L, 0, 3);
    lua_pushcfunction(L, LUV_FN(process_spawn));
    lua_setfield(L, -2, "spawn");
    lua_pushcfunction(L, LUV_FN(process_kill_pid));
    lua_setfield(L, -2, "kill");
    push_process_run(L);  // run, written in Lua over spawn (above, on the stack's table)
    lua_setfield(L, -2, "run");
    lua_setfield(L, -2, "process");
}

}  // namespace luv::lua
