// luv.fs and file objects ("luv.file"): the filesystem on libuv's threadpool. Every
// call that touches the disk starts an fs_request (src/uv/fs.cpp) as the calling fiber's
// wait, from a fiber or from the main chunk alike; a continuation pushes the results.
// A read that the page cache satisfies completes inside fs_request::start and ends the
// wait as notified: finish_wait then runs the continuation at once, without suspending.
//
// Argument checks come first and may raise; nothing with a destructor is alive until
// begin_wait has returned, and fs_args holds only views into the Lua strings on the stack,
// which the request copies.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <utility>

#include <unistd.h>

#include "binding/await.hpp"
#include "binding/fs.hpp"
#include "binding/handle.hpp"
#include "binding/module.hpp"
#include "binding/trampoline.hpp"
#include "uv/fs.hpp"

namespace luv::lua {
namespace {

constexpr const char* file_class = "luv.file";
constexpr lua_Integer default_read = 65536;

using detail::fs_args;
using detail::fs_file;
using detail::fs_op;
using detail::fs_request;

// ---- waiting for a request -------------------------------------------------------------

using push_fn = int (*)(lua_State*, fs_request&);

// The continuation: pushes what P makes of the request, or a fail triple naming the
// path, or the wait's own failure (ECANCELED) if the request did not end it.
template <push_fn P>
int fs_k(lua_State* L, int, lua_KContext ctx) {
    detail::waiter& w = current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        return push_wait_failure(L, w.status());  // the request frees itself
    }
    auto* r = reinterpret_cast<fs_request*>(ctx);
    int n;
    if (r->result() < 0) {
        char what[8200];
        n = push_fail(L, static_cast<int>(r->result()), r->what(what, sizeof what));
    } else {
        n = P(L, *r);
    }
    r->finish();
    return n;
}

// Starts `op` as the calling fiber's wait and suspends until it is done.
template <push_fn P>
int await_fs(lua_State* L, fs_op op, const fs_args& a) {
    detail::waiter& w = begin_wait(L, 0);
    fs_request* r = nullptr;
    if (w.waiting()) {
        int status = 0;
        try {
            r = fs_request::start(sched(L), w, op, a, status);
        } catch (const std::bad_alloc&) {
            status = UV_ENOMEM;
        }
        if (r == nullptr) {
            sched(L).end_wait(w);
            return push_fail(L, status, a.file != nullptr ? a.file->path().c_str() : a.path.data());
        }
    }
    return finish_wait(L, w, &ktrampoline<fs_k<P>>, reinterpret_cast<lua_KContext>(r));
}

// ---- what the continuations push -------------------------------------------------------

int push_true(lua_State* L, fs_request&) {
    lua_pushboolean(L, 1);
    return 1;
}

int push_count(lua_State* L, fs_request& r) {
    lua_pushinteger(L, static_cast<lua_Integer>(r.result()));
    return 1;
}

int push_text(lua_State* L, fs_request& r) {
    lua_pushlstring(L, r.text().data(), r.text().size());
    return 1;
}

int push_read(lua_State* L, fs_request& r) {
    lua_pushinteger(L, static_cast<lua_Integer>(r.text().size()));
    lua_pushlstring(L, r.text().data(), r.text().size());
    return 2;
}

void set_int(lua_State* L, const char* key, std::uint64_t v) {
    lua_pushinteger(L, static_cast<lua_Integer>(v));
    lua_setfield(L, -2, key);
}

void set_num(lua_State* L, const char* key, double v) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, key);
}

void set_bool(lua_State* L, const char* key, bool v) {
    lua_pushboolean(L, v ? 1 : 0);
    lua_setfield(L, -2, key);
}

int push_stat(lua_State* L, fs_request& r) {
    using luv::fs::file_type;
    const luv::fs::stat_info& s = r.stat();
    lua_createtable(L, 0, 24);
    set_int(L, "dev", s.dev);
    set_int(L, "ino", s.ino);
    set_int(L, "mode", s.mode);
    set_int(L, "perm", s.mode & 07777);
    set_int(L, "nlink", s.nlink);
    set_int(L, "uid", s.uid);
    set_int(L, "gid", s.gid);
    set_int(L, "rdev", s.rdev);
    set_int(L, "size", s.size);
    set_int(L, "blksize", s.blksize);
    set_int(L, "blocks", s.blocks);
    set_num(L, "atime", s.atime);
    set_num(L, "mtime", s.mtime);
    set_num(L, "ctime", s.ctime);
    set_num(L, "birthtime", s.birthtime);
    lua_pushstring(L, detail::type_name(s.type));
    lua_setfield(L, -2, "type");
    set_bool(L, "is_file", s.type == file_type::file);
    set_bool(L, "is_directory", s.type == file_type::directory);
    set_bool(L, "is_symbolic_link", s.type == file_type::symlink);
    set_bool(L, "is_fifo", s.type == file_type::fifo);
    set_bool(L, "is_socket", s.type == file_type::socket);
    set_bool(L, "is_character_device", s.type == file_type::character_device);
    set_bool(L, "is_block_device", s.type == file_type::block_device);
    return 1;
}

int push_names(lua_State* L, fs_request& r) {
    lua_createtable(L, static_cast<int>(r.entries().size()), 0);
    lua_Integer i = 0;
    for (const luv::fs::dir_entry& e : r.entries()) {
        lua_pushlstring(L, e.name.data(), e.name.size());
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

int push_entries(lua_State* L, fs_request& r) {
    lua_createtable(L, static_cast<int>(r.entries().size()), 0);
    lua_Integer i = 0;
    for (const luv::fs::dir_entry& e : r.entries()) {
        lua_createtable(L, 0, 2);
        lua_pushlstring(L, e.name.data(), e.name.size());
        lua_setfield(L, -2, "name");
        lua_pushstring(L, detail::type_name(e.type));
        lua_setfield(L, -2, "type");
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

// open's userdata was pushed before the wait, so that nothing can fail between the open
// succeeding and the descriptor having an owner that closes it.
int push_file(lua_State* L, fs_request& r) {
    auto** slot = static_cast<fs_file**>(lua_touserdata(L, -1));
    *slot = fs_file::adopt(static_cast<int>(r.result()), r.path());
    r.take_fd();
    return 1;
}

// ---- arguments -------------------------------------------------------------------------

std::string_view check_bytes(lua_State* L, int arg) {
    std::size_t len = 0;
    const char* s = luaL_checklstring(L, arg, &len);
    return {s, len};
}

// A path goes to the system as a C string: a zero byte would silently cut it short.
std::string_view check_path(lua_State* L, int arg) {
    const std::string_view p = check_bytes(L, arg);
    luaL_argcheck(L, p.find('\0') == std::string_view::npos, arg, "path contains a zero byte");
    return p;
}

// Permission bits: an octal string ("644", the original luv's form) or an integer
// (0644 in C is 420 in Lua).
int opt_perm(lua_State* L, int arg, int def) {
    if (lua_isnoneornil(L, arg)) {
        return def;
    }
    if (lua_type(L, arg) == LUA_TSTRING) {
        const char* s = lua_tostring(L, arg);
        char* end = nullptr;
        const long v = std::strtol(s, &end, 8);
        luaL_argcheck(L, *s >= '0' && *s <= '7' && *end == '\0' && v <= 07777, arg,
                      "invalid permissions (an octal string such as \"644\")");
        return static_cast<int>(v);
    }
    const lua_Integer v = luaL_checkinteger(L, arg);
    luaL_argcheck(L, v >= 0 && v <= 07777, arg, "invalid permissions");
    return static_cast<int>(v);
}

int check_perm(lua_State* L, int arg) {
    luaL_checkany(L, arg);
    return opt_perm(L, arg, 0);
}

// access() modes: a string of 'r', 'w', 'x' (empty or absent: the file exists), or the
// integer bits R_OK = 4, W_OK = 2, X_OK = 1.
int opt_access(lua_State* L, int arg) {
    if (lua_isnoneornil(L, arg)) {
        return luv::fs::exists;
    }
    if (lua_type(L, arg) == LUA_TSTRING) {
        int mode = 0;
        for (const char* s = lua_tostring(L, arg); *s != '\0'; ++s) {
            switch (*s) {
            case 'r': mode |= luv::fs::readable; break;
            case 'w': mode |= luv::fs::writable; break;
            case 'x': mode |= luv::fs::executable; break;
            default: luaL_argerror(L, arg, lua_pushfstring(L, "invalid mode '%s'",
                                                           lua_tostring(L, arg)));
            }
        }
        return mode;
    }
    const lua_Integer v = luaL_checkinteger(L, arg);
    luaL_argcheck(L, v >= 0 && v <= 7, arg, "invalid mode");
    return static_cast<int>(v);
}

// copyfile() flags: a table {excl = true, ficlone = true, ficlone_force = true}, or the
// integer UV_FS_COPYFILE_* bits.
int opt_copy_flags(lua_State* L, int arg) {
    if (lua_isnoneornil(L, arg)) {
        return 0;
    }
    if (lua_istable(L, arg)) {
        int flags = 0;
        const std::pair<const char*, int> names[] = {
            {"excl", luv::fs::copy_exclusive},
            {"ficlone", luv::fs::copy_ficlone},
            {"ficlone_force", luv::fs::copy_ficlone_force},
        };
        for (const auto& [name, bit] : names) {
            lua_getfield(L, arg, name);
            flags |= lua_toboolean(L, -1) != 0 ? bit : 0;
            lua_pop(L, 1);
        }
        return flags;
    }
    const lua_Integer v = luaL_checkinteger(L, arg);
    luaL_argcheck(L, v >= 0 && v <= 7, arg, "invalid flags");
    return static_cast<int>(v);
}

double now_seconds() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

// utime's times: atime defaults to now, mtime to atime.
void opt_times(lua_State* L, int arg, fs_args& a) {
    a.atime = lua_isnoneornil(L, arg) ? now_seconds() : luaL_checknumber(L, arg);
    a.mtime = luaL_optnumber(L, arg + 1, a.atime);
}

lua_Integer opt_offset(lua_State* L, int arg, lua_Integer def) {
    const lua_Integer v = luaL_optinteger(L, arg, def);
    luaL_argcheck(L, v >= 0 || v == def, arg, "offset must be >= 0");
    return v;
}

fs_file& check_file(lua_State* L, int arg) { return check_open<fs_file>(L, arg, file_class); }

fs_args on_path(lua_State* L) {
    fs_args a;
    a.path = check_path(L, 1);
    return a;
}

fs_args on_paths(lua_State* L) {
    fs_args a;
    a.path = check_path(L, 1);
    a.path2 = check_path(L, 2);
    return a;
}

fs_args on_file(lua_State* L) {
    fs_args a;
    a.file = &check_file(L, 1);
    return a;
}

// ---- luv.fs ----------------------------------------------------------------------------

int fs_open(lua_State* L) {
    fs_args a = on_path(L);
    const char* mode = luaL_optstring(L, 2, "r");
    a.flags = detail::open_flags(mode);
    if (a.flags < 0) {
        return luaL_argerror(L, 2, lua_pushfstring(L, "invalid mode '%s'", mode));
    }
    a.mode = opt_perm(L, 3, 0666);
    lua_settop(L, 3);
    push_handle<fs_file>(L, file_class, nullptr);  // filled in by push_file
    return await_fs<push_file>(L, fs_op::open, a);
}

int fs_unlink(lua_State* L) { return await_fs<push_true>(L, fs_op::unlink, on_path(L)); }

int fs_mkdir(lua_State* L) {
    fs_args a = on_path(L);
    a.mode = opt_perm(L, 2, 0777);
    return await_fs<push_true>(L, fs_op::mkdir, a);
}

int fs_rmdir(lua_State* L) { return await_fs<push_true>(L, fs_op::rmdir, on_path(L)); }

int fs_readdir(lua_State* L) { return await_fs<push_names>(L, fs_op::scandir, on_path(L)); }

int fs_scandir(lua_State* L) { return await_fs<push_entries>(L, fs_op::scandir, on_path(L)); }

int fs_stat(lua_State* L) { return await_fs<push_stat>(L, fs_op::stat, on_path(L)); }

int fs_lstat(lua_State* L) { return await_fs<push_stat>(L, fs_op::lstat, on_path(L)); }

int fs_rename(lua_State* L) { return await_fs<push_true>(L, fs_op::rename, on_paths(L)); }

int fs_sendfile(lua_State* L) {
    fs_args a;
    a.file = &check_file(L, 1);
    a.in = &check_file(L, 2);
    a.offset = opt_offset(L, 3, 0);
    a.length = opt_offset(L, 4, -1);
    return await_fs<push_count>(L, fs_op::sendfile, a);
}

int fs_chmod(lua_State* L) {
    fs_args a = on_path(L);
    a.mode = check_perm(L, 2);
    return await_fs<push_true>(L, fs_op::chmod, a);
}

int fs_chown(lua_State* L) {
    fs_args a = on_path(L);
    a.uid = luaL_checkinteger(L, 2);
    a.gid = luaL_checkinteger(L, 3);
    return await_fs<push_true>(L, fs_op::chown, a);
}

int fs_utime(lua_State* L) {
    fs_args a = on_path(L);
    opt_times(L, 2, a);
    return await_fs<push_true>(L, fs_op::utime, a);
}

int fs_link(lua_State* L) { return await_fs<push_true>(L, fs_op::link, on_paths(L)); }

int fs_symlink(lua_State* L) { return await_fs<push_true>(L, fs_op::symlink, on_paths(L)); }

int fs_readlink(lua_State* L) { return await_fs<push_text>(L, fs_op::readlink, on_path(L)); }

int fs_realpath(lua_State* L) { return await_fs<push_text>(L, fs_op::realpath, on_path(L)); }

int fs_mkdtemp(lua_State* L) { return await_fs<push_text>(L, fs_op::mkdtemp, on_path(L)); }

int fs_copyfile(lua_State* L) {
    fs_args a = on_paths(L);
    a.flags = opt_copy_flags(L, 3);
    return await_fs<push_true>(L, fs_op::copyfile, a);
}

int fs_access(lua_State* L) {
    fs_args a = on_path(L);
    a.mode = opt_access(L, 2);
    return await_fs<push_true>(L, fs_op::access, a);
}

// cwd, chdir and exepath are quick system calls made on the loop's thread.
int fs_cwd(lua_State* L) {
    std::string dir;
    const int rc = detail::fs_cwd(dir);
    if (rc < 0) {
        return push_fail(L, rc);
    }
    lua_pushlstring(L, dir.data(), dir.size());
    return 1;
}

int fs_chdir(lua_State* L) {
    const char* path = check_path(L, 1).data();  // Lua strings end in a zero byte
    const int rc = detail::fs_chdir(path);
    if (rc < 0) {
        return push_fail(L, rc, path);
    }
    lua_pushboolean(L, 1);
    return 1;
}

int fs_exepath(lua_State* L) {
    std::string path;
    const int rc = detail::fs_exepath(path);
    if (rc < 0) {
        return push_fail(L, rc);
    }
    lua_pushlstring(L, path.data(), path.size());
    return 1;
}

// ---- file objects ----------------------------------------------------------------------

int file_read(lua_State* L) {
    fs_args a = on_file(L);
    a.length = luaL_optinteger(L, 2, default_read);
    luaL_argcheck(L, a.length >= 0, 2, "length must be >= 0");
    a.offset = opt_offset(L, 3, -1);
    return await_fs<push_read>(L, fs_op::read, a);
}

int file_write(lua_State* L) {
    fs_args a = on_file(L);
    // What print() and io.write left in C's buffers goes out first, so that output
    // through luv.stdout and through Lua's own functions keeps its order.
    if (const int fd = check_file(L, 1).fd(); fd == STDOUT_FILENO) {
        std::fflush(stdout);
    } else if (fd == STDERR_FILENO) {
        std::fflush(stderr);
    }
    a.data = check_bytes(L, 2);
    a.offset = opt_offset(L, 3, -1);
    return await_fs<push_count>(L, fs_op::write, a);
}

int file_stat(lua_State* L) { return await_fs<push_stat>(L, fs_op::fstat, on_file(L)); }

int file_sync(lua_State* L) { return await_fs<push_true>(L, fs_op::fsync, on_file(L)); }

int file_datasync(lua_State* L) { return await_fs<push_true>(L, fs_op::fdatasync, on_file(L)); }

int file_truncate(lua_State* L) {
    fs_args a = on_file(L);
    a.offset = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, a.offset >= 0, 2, "length must be >= 0");
    return await_fs<push_true>(L, fs_op::ftruncate, a);
}

int file_utime(lua_State* L) {
    fs_args a = on_file(L);
    opt_times(L, 2, a);
    return await_fs<push_true>(L, fs_op::futime, a);
}

int file_chmod(lua_State* L) {
    fs_args a = on_file(L);
    a.mode = check_perm(L, 2);
    return await_fs<push_true>(L, fs_op::fchmod, a);
}

int file_chown(lua_State* L) {
    fs_args a = on_file(L);
    a.uid = luaL_checkinteger(L, 2);
    a.gid = luaL_checkinteger(L, 3);
    return await_fs<push_true>(L, fs_op::fchown, a);
}

int file_fd(lua_State* L) {
    lua_pushinteger(L, check_file(L, 1).fd());
    return 1;
}

// close(), __close and __gc: idempotent; close(2) runs at once, or after the last request
// still in flight on the descriptor (one a cancelled fiber left behind).
int file_close(lua_State* L) {
    auto** slot = static_cast<fs_file**>(luaL_checkudata(L, 1, file_class));
    if (*slot == nullptr) {
        lua_pushboolean(L, 1);
        return 1;
    }
    char path[4200];
    std::snprintf(path, sizeof path, "%s", (*slot)->path().c_str());
    const int rc = std::exchange(*slot, nullptr)->close();
    if (rc < 0) {
        return push_fail(L, rc, path);
    }
    lua_pushboolean(L, 1);
    return 1;
}

int file_tostring(lua_State* L) { return handle_tostring<fs_file>(L, file_class); }

const luaL_Reg file_methods[] = {
    {"read", LUV_FN(file_read)},         {"write", LUV_FN(file_write)},
    {"close", LUV_FN(file_close)},       {"stat", LUV_FN(file_stat)},
    {"sync", LUV_FN(file_sync)},         {"datasync", LUV_FN(file_datasync)},
    {"truncate", LUV_FN(file_truncate)}, {"utime", LUV_FN(file_utime)},
    {"chmod", LUV_FN(file_chmod)},       {"chown", LUV_FN(file_chown)},
    {"fd", LUV_FN(file_fd)},             {nullptr, nullptr},
};

const luaL_Reg file_metamethods[] = {
    {"__gc", LUV_FN(file_close)},
    {"__close", LUV_FN(file_close)},
    {"__tostring", LUV_FN(file_tostring)},
    {nullptr, nullptr},
};

const luaL_Reg module[] = {
    {"open", LUV_FN(fs_open)},         {"unlink", LUV_FN(fs_unlink)},
    {"mkdir", LUV_FN(fs_mkdir)},       {"rmdir", LUV_FN(fs_rmdir)},
    {"readdir", LUV_FN(fs_readdir)},   {"scandir", LUV_FN(fs_scandir)},
    {"stat", LUV_FN(fs_stat)},         {"lstat", LUV_FN(fs_lstat)},
    {"rename", LUV_FN(fs_rename)},     {"sendfile", LUV_FN(fs_sendfile)},
    {"chmod", LUV_FN(fs_chmod)},       {"chown", LUV_FN(fs_chown)},
    {"utime", LUV_FN(fs_utime)},       {"link", LUV_FN(fs_link)},
    {"symlink", LUV_FN(fs_symlink)},   {"readlink", LUV_FN(fs_readlink)},
    {"realpath", LUV_FN(fs_realpath)}, {"mkdtemp", LUV_FN(fs_mkdtemp)},
    {"copyfile", LUV_FN(fs_copyfile)}, {"access", LUV_FN(fs_access)},
    {"cwd", LUV_FN(fs_cwd)},           {"chdir", LUV_FN(fs_chdir)},
    {"exepath", LUV_FN(fs_exepath)},   {nullptr, nullptr},
};

}  // namespace

int test_file_fd(lua_State* L, int idx) {
    auto** slot = static_cast<fs_file**>(luaL_testudata(L, idx, file_class));
    if (slot == nullptr) {
        return -2;
    }
    return *slot != nullptr ? (*slot)->fd() : -1;
}

void open_fs(lua_State* L) {
    new_class(L, file_class, file_methods, file_metamethods);
    luaL_newlib(L, module);
    lua_setfield(L, -2, "fs");
    // luv.stdin, luv.stdout, luv.stderr: file objects on fds 0, 1, 2 that do not own them.
    // Their reads and writes run on the threadpool like any file's (a regular file's reads
    // from the page cache excepted, as for any file; a terminal's or a pipe's never run on
    // the loop), so they work the same whether the descriptor is a terminal, a pipe or a
    // file, never change its flags
    // (libuv's streams would make it non-blocking under print()), and closing them (or
    // the Lua state) leaves the descriptors open: no output is lost at exit.
    const struct {
        const char* name;
        int fd;
    } stdio[] = {{"stdin", STDIN_FILENO}, {"stdout", STDOUT_FILENO}, {"stderr", STDERR_FILENO}};
    for (const auto& s : stdio) {
        push_handle<fs_file>(L, file_class, fs_file::borrow(s.fd, s.name));
        lua_setfield(L, -2, s.name);
    }
}

}  // namespace luv::lua
