// The `luv` command: a Lua 5.4 interpreter whose main chunk runs as a fiber.
//
// It takes the options of the stock `lua` (-e, -l, -i, -v, -E, -W, --, -) and builds the
// same `arg` table; every chunk it runs (each -e, each -l, the script, each line typed
// at the prompt) runs in a fiber of its own that the command joins, so top-level code and
// required modules may block. When the script is done, the loop keeps running until no
// fiber or handle is left.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include <lua.hpp>
#include <uv.h>

#include "cli/readline.hpp"
#include "luv/lua.hpp"

namespace {

const char* progname = "luv";

void print_usage(const char* badoption) {
    std::fprintf(stderr, "%s: ", progname);
    if (badoption[1] == 'e' || badoption[1] == 'l') {
        std::fprintf(stderr, "'%s' needs argument\n", badoption);
    } else {
        std::fprintf(stderr, "unrecognized option '%s'\n", badoption);
    }
    std::fprintf(stderr,
                 "usage: %s [options] [script [args]]\n"
                 "Available options are:\n"
                 "  -e stat   execute string 'stat'\n"
                 "  -i        enter interactive mode after executing 'script'\n"
                 "  -l mod    require library 'mod' into global 'mod'\n"
                 "  -l g=mod  require library 'mod' into global 'g'\n"
                 "  -v        show version information\n"
                 "  -E        ignore environment variables\n"
                 "  -W        turn warnings on\n"
                 "  --        stop handling options\n"
                 "  -         stop handling options and execute stdin\n",
                 progname);
}

void print_version() {
    std::printf("%s (luv 0.1.0, fibers on libuv %s)\n", LUA_COPYRIGHT, uv_version_string());
    std::fflush(stdout);
}

// Reports a failed chunk like lua.c does; returns the status unchanged.
int report(lua_State* L, int status) {
    if (status != LUA_OK) {
        const char* msg = lua_tostring(L, -1);
        if (msg == nullptr) {
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, -1));
        }
        std::fprintf(stderr, "%s: %s\n", progname, msg);
        std::fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}

// Runs the function on top (below it: nothing of ours) with `nargs` arguments in a
// fiber, waits for it, and leaves its results on the stack (or the error).
// Exit status: 1 if a chunk failed, or if a fiber failed with nobody joining it.
int run_in_fiber(lua_State* L, int nargs, int nresults = 0) {
    const int base = lua_gettop(L) - nargs - 1;
    luv::lua::spawn(L, nargs);
    const int status = luv::lua::join(L, -1);
    if (status != LUA_OK) {
        lua_remove(L, base + 1);  // the fiber object
        return status;
    }
    lua_remove(L, base + 1);
    if (nresults != LUA_MULTRET) {
        lua_settop(L, base + nresults);
    }
    return status;
}

int do_chunk(lua_State* L, int status) {
    if (status == LUA_OK) {
        status = run_in_fiber(L, 0);
    }
    return report(L, status);
}

int do_string(lua_State* L, const char* s, const char* name) {
    return do_chunk(L, luaL_loadbuffer(L, s, std::strlen(s), name));
}

int do_library(lua_State* L, const char* spec) {
    std::string global = spec;
    std::string module = spec;
    if (auto eq = global.find('='); eq != std::string::npos) {
        module = global.substr(eq + 1);
        global.resize(eq);
    }
    lua_getglobal(L, "require");
    lua_pushstring(L, module.c_str());
    const int status = run_in_fiber(L, 1, 1);
    if (status == LUA_OK) {
        lua_setglobal(L, global.c_str());
    }
    return report(L, status);
}

// arg[0] is the script, arg[1..] its arguments, negative indices the interpreter and
// its options, exactly as in lua.c.
void create_arg_table(lua_State* L, char** argv, int argc, int script) {
    if (script == argc) {
        script = 0;
    }
    lua_createtable(L, argc - (script + 1), script + 1);
    for (int i = 0; i < argc; ++i) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

int push_script_args(lua_State* L) {
    if (lua_getglobal(L, "arg") != LUA_TTABLE) {
        luaL_error(L, "'arg' is not a table");
    }
    const int n = static_cast<int>(luaL_len(L, -1));
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (int i = 1; i <= n; ++i) {
        lua_rawgeti(L, -i, i);
    }
    lua_remove(L, -n - 1);
    return n;
}

int handle_script(lua_State* L, char** argv) {
    const char* fname = argv[0];
    if (std::strcmp(fname, "-") == 0 && std::strcmp(argv[-1], "--") != 0) {
        fname = nullptr;  // stdin
    }
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        const int n = push_script_args(L);
        status = run_in_fiber(L, n);
    }
    return report(L, status);
}

// The interactive prompt, in Lua: each line runs as a fiber of its own while the
// fibers it started keep running in the background.
const char* repl_source = R"lua(
local readline, luv = ...
local function incomplete(err)
  return err and err:sub(-5) == "<eof>"
end
while true do
  local line = readline("> ")
  if line == nil then io.write("\n") break end
  local chunk, err = load("return " .. line, "=stdin")
  if not chunk then
    chunk, err = load(line, "=stdin")
    while not chunk and incomplete(err) do
      local more = readline(">> ")
      if more == nil then break end
      line = line .. "\n" .. more
      chunk, err = load(line, "=stdin")
    end
  end
  if not chunk then
    io.stderr:write(err, "\n")
  else
    local f = luv.fiber.create(chunk)
    local results = table.pack(pcall(f.join, f))
    if not results[1] then
      io.stderr:write(tostring(results[2]), "\n")
    elseif results.n > 1 then
      local out = {}
      for i = 2, results.n do out[#out + 1] = tostring(results[i]) end
      print(table.concat(out, "\t"))
    end
  end
end
)lua";

int do_repl(lua_State* L) {
    if (luaL_loadbuffer(L, repl_source, std::strlen(repl_source), "=repl") != LUA_OK) {
        return report(L, LUA_ERRSYNTAX);
    }
    lua_pushcfunction(L, &luv::cli::readline);
    lua_getglobal(L, "luv");
    return report(L, run_in_fiber(L, 2));
}

struct options {
    bool interactive = false;
    bool version = false;
    bool exec = false;
    bool ignore_env = false;
    int script = 0;  // index in argv of the script, or argc if none
    bool bad = false;
};

options collect_args(int argc, char** argv) {
    options o;
    int i = 1;
    for (; i < argc; ++i) {
        const char* a = argv[i];
        if (a[0] != '-') {
            break;
        }
        if (std::strcmp(a, "--") == 0) {
            ++i;
            break;
        }
        if (std::strcmp(a, "-") == 0) {
            break;
        }
        switch (a[1]) {
        case 'i':
            o.interactive = o.version = true;
            break;
        case 'v':
            o.version = true;
            break;
        case 'E':
            o.ignore_env = true;
            break;
        case 'W':
            break;
        case 'e':
        case 'l':
            o.exec = true;
            if (a[2] == '\0') {
                if (++i >= argc || argv[i][0] == '-') {
                    print_usage(a);
                    o.bad = true;
                    return o;
                }
            }
            break;
        default:
            print_usage(a);
            o.bad = true;
            return o;
        }
        if ((a[1] == 'i' || a[1] == 'v' || a[1] == 'E' || a[1] == 'W') && a[2] != '\0') {
            print_usage(a);
            o.bad = true;
            return o;
        }
    }
    o.script = i;
    return o;
}

int run_options(lua_State* L, char** argv, int script) {
    for (int i = 1; i < script; ++i) {
        const char* a = argv[i];
        if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l' && a[1] != 'W')) {
            continue;
        }
        if (a[1] == 'W') {
            lua_warning(L, "@on", 0);
            continue;
        }
        const char* extra = a[2] != '\0' ? a + 2 : argv[++i];
        const int status = a[1] == 'e' ? do_string(L, extra, "=(command line)")
                                       : do_library(L, extra);
        if (status != LUA_OK) {
            return status;
        }
    }
    return LUA_OK;
}

int handle_init(lua_State* L) {
    const char* name = "=LUA_INIT_5_4";
    const char* init = std::getenv("LUA_INIT_5_4");
    if (init == nullptr) {
        name = "=LUA_INIT";
        init = std::getenv("LUA_INIT");
    }
    if (init == nullptr) {
        return LUA_OK;
    }
    if (init[0] == '@') {
        return do_chunk(L, luaL_loadfile(L, init + 1));
    }
    return do_string(L, init, name);
}

int main_body(lua_State* L, int argc, char** argv) {
    options o = collect_args(argc, argv);
    if (o.bad) {
        return EXIT_FAILURE;
    }
    if (o.ignore_env) {
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    luaL_openlibs(L);
    luv::lua::open(L);
    lua_setglobal(L, "luv");
    // Legacy LuaSocket libraries run on the drop-in: their calls suspend only their fiber.
    luv::lua::install_socket(L);
    create_arg_table(L, argv, argc, o.script);
    lua_gc(L, LUA_GCGEN, 0, 0);
    if (o.version) {
        print_version();
    }
    if (!o.ignore_env && handle_init(L) != LUA_OK) {
        return EXIT_FAILURE;
    }
    if (run_options(L, argv, o.script) != LUA_OK) {
        return EXIT_FAILURE;
    }
    if (o.script < argc && handle_script(L, argv + o.script) != LUA_OK) {
        return EXIT_FAILURE;
    }
    if (o.interactive) {
        do_repl(L);
    } else if (o.script == argc && !o.exec && !o.version) {
        if (isatty(STDIN_FILENO)) {
            print_version();
            do_repl(L);
        } else if (do_chunk(L, luaL_loadfile(L, nullptr)) != LUA_OK) {
            return EXIT_FAILURE;  // no script and stdin is not a terminal: run stdin
        }
    }
    // The script is done; the fibers and handles it left behind run to their end.
    lua_getglobal(L, "luv");
    lua_getfield(L, -1, "run");
    lua_remove(L, -2);
    if (report(L, lua_pcall(L, 0, 0, 0)) != LUA_OK) {
        return EXIT_FAILURE;
    }
    // A fiber that failed with nobody joining it was reported on stderr; the command
    // still says, by its status, that something went wrong.
    lua_getglobal(L, "luv");
    lua_getfield(L, -1, "stats");
    lua_call(L, 0, 1);
    lua_getfield(L, -1, "unjoined_errors");
    const bool clean = lua_tointeger(L, -1) == 0;
    lua_pop(L, 3);
    return clean ? EXIT_SUCCESS : EXIT_FAILURE;
}

// Fibers are many small allocations, each first touched once; on a VM every first touch
// of a 4 KiB page is a costly fault (100,000 sleeping fibers: 0.74 s, against 0.14-0.48 s
// with huge pages). glibc (>= 2.35) can back malloc with transparent huge pages, but reads
// that setting only from the environment at start-up; so the command re-executes itself
// once with it, when the kernel gives huge pages only on request (THP "madvise") and the
// user has not set GLIBC_TUNABLES or LUV_NO_HUGEPAGES. Child processes do not inherit it.
void reexec_with_huge_pages(char** argv) {
    if (std::getenv("LUV_REEXECUTED") != nullptr) {
        unsetenv("LUV_REEXECUTED");
        unsetenv("GLIBC_TUNABLES");
        return;
    }
    if (std::getenv("GLIBC_TUNABLES") != nullptr || std::getenv("LUV_NO_HUGEPAGES") != nullptr) {
        return;
    }
    char mode[128] = {};
    if (FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r")) {
        const std::size_t n = std::fread(mode, 1, sizeof mode - 1, f);
        mode[n] = '\0';
        std::fclose(f);
    }
    if (std::strstr(mode, "[madvise]") == nullptr) {
        return;  // "always" needs nothing; "never" (or no THP) cannot be helped
    }
    setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
    setenv("LUV_REEXECUTED", "1", 1);
    execv("/proc/self/exe", argv);
    unsetenv("GLIBC_TUNABLES");  // exec failed: go on as we are
    unsetenv("LUV_REEXECUTED");
}

// Everything runs inside a protected call, as in lua.c, so that no Lua error can reach
// the panic function.
int pmain(lua_State* L) {
    const int argc = static_cast<int>(lua_tointeger(L, 1));
    auto** argv = static_cast<char**>(lua_touserdata(L, 2));
    lua_pushboolean(L, main_body(L, argc, argv) == EXIT_SUCCESS);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    reexec_with_huge_pages(argv);
    if (argv[0] != nullptr && argv[0][0] != '\0') {
        progname = argv[0];
    }
    lua_State* L = luaL_newstate();
    if (L == nullptr) {
        std::fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
        return EXIT_FAILURE;
    }
    lua_pushcfunction(L, &pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    const int status = lua_pcall(L, 2, 1, 0);
    const bool ok = status == LUA_OK && lua_toboolean(L, -1) != 0;
    if (status != LUA_OK) {
        report(L, status);
    }
    lua_close(L);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
