// luv.zmq: the module table, contexts, and how a context crosses to another thread.
//
// A libzmq context is thread-safe, and threads share one to talk over inproc://. Each Lua
// state that has it holds a context_handle (a userdata of its own) on one shared_context,
// which counts its owners in every thread: every handle, every socket (zmq_ctx_term waits
// for the sockets of its context, so a socket must keep its context alive), and every
// encoding (luv.codec, luv.thread.spawn) not yet decoded. The last owner to go terminates
// the context.
#include "binding/zmq.hpp"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <dlfcn.h>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>

#include <zmq.h>

#include "binding/await.hpp"
#include "binding/handle.hpp"
#include "binding/module.hpp"
#include "binding/trampoline.hpp"
#include "luv/error.hpp"
#include "uv/work.hpp"

namespace luv::lua::zmq {

struct shared_context {
    void* ctx = nullptr;
    long refs = 0;       // owners, in every thread (under live_mutex)
    long in_flight = 0;  // of which: encodings not yet decoded
};

namespace {

// The name of the __codec hook's decoder, a function in every state's registry.
constexpr const char* decoder_name = "luv.zmq:context";

// Every context alive in the process, by its libzmq pointer. A decoded integer is looked
// up here before it is used: data can be decoded twice, or after its context is gone, or
// come from another process.
std::mutex live_mutex;
std::unordered_map<void*, shared_context*>& live() {
    // Never destroyed: a thread may drop the last owner while the process exits.
    static auto* map = new std::unordered_map<void*, shared_context*>();
    return *map;
}

// libzmq's I/O threads run until their context is terminated, and a context may be
// terminated on a thread of ours after the lua_State that loaded luv.so has closed and
// unloaded it (Lua 5.4 dlcloses C modules), taking libzmq with it. So the first context
// makes the module resident for the life of the process.
void pin_module() noexcept {
    static std::atomic<bool> pinned{false};
    if (pinned.exchange(true)) {
        return;
    }
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&pin_module), &info) != 0 && info.dli_fname != nullptr) {
        // RTLD_NOLOAD: only marks the object already loaded; the reference is kept.
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    }
}

void terminate(void* ctx) noexcept {
    while (zmq_ctx_term(ctx) != 0 && errno == EINTR) {
    }
}

// zmq_ctx_term waits until the closed sockets have sent what they still hold, up to
// their LINGER, which is "for ever" by default: never on the loop's thread.
void terminate_detached(void* ctx) noexcept {
    try {
        std::thread(&terminate, ctx).detach();
    } catch (...) {
        // No thread to wait on: the context is left to the end of the process rather
        // than block the loop.
    }
}

// Drops an owner; returns the libzmq context if that was the last one.
void* drop(shared_context* c) noexcept {
    std::lock_guard<std::mutex> lock(live_mutex);
    if (--c->refs > 0) {
        return nullptr;
    }
    void* ctx = c->ctx;
    live().erase(ctx);
    delete c;
    return ctx;
}

context_handle& check_context(lua_State* L, int idx) {
    return check_open<context_handle>(L, idx, context_type);
}

// Forgets the sockets made through `h` without closing them: they keep their own hold
// on the context.
void disown_sockets(context_handle& h) noexcept {
    while (socket_object* s = h.sockets) {
        h.sockets = s->next;
        s->maker = nullptr;
        s->prev = s->next = nullptr;
    }
}

// luv.zmq.create([io_threads]) -> context | fail. Never suspends.
int zmq_create(lua_State* L) {
    const lua_Integer n = luaL_optinteger(L, 1, 1);
    luaL_argcheck(L, n >= 0 && n <= 1024, 1, "io_threads must be between 0 and 1024");
    // The userdata first: if Lua runs out of memory, nothing of libzmq is held yet.
    auto** slot = push_handle<context_handle>(L, context_type, nullptr);
    void* ctx = zmq_ctx_new();
    if (ctx == nullptr) {
        return push_error(L, errno);
    }
    if (zmq_ctx_set(ctx, ZMQ_IO_THREADS, static_cast<int>(n)) != 0) {
        const int err = errno;
        terminate(ctx);
        return push_error(L, err);
    }
    auto* c = new (std::nothrow) shared_context{ctx, 1, 0};
    auto* h = c != nullptr ? new (std::nothrow) context_handle{c, nullptr} : nullptr;
    bool listed = false;
    if (h != nullptr) {
        try {
            std::lock_guard<std::mutex> lock(live_mutex);
            live().emplace(ctx, c);
            listed = true;
        } catch (...) {
        }
    }
    if (!listed) {
        delete h;
        delete c;
        terminate(ctx);
        return push_error(L, ENOMEM);
    }
    *slot = h;
    pin_module();
    return 1;
}

// luv.zmq.version() -> major, minor, patch. Never suspends.
int zmq_version_fn(lua_State* L) {
    int major = 0;
    int minor = 0;
    int patch = 0;
    ::zmq_version(&major, &minor, &patch);
    lua_pushinteger(L, major);
    lua_pushinteger(L, minor);
    lua_pushinteger(L, patch);
    return 3;
}

int context_socket(lua_State* L) {
    context_handle& h = check_context(L, 1);
    return new_socket(L, h, check_socket_type(L, 2));
}

int close_k(lua_State* L, int, lua_KContext k) {
    auto* req = reinterpret_cast<detail::work_request*>(k);
    const detail::waiter& w = current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        // The request finishes on its own and the termination goes on without us (unless
        // the cancel came before the threadpool started it: then the context is left to
        // the end of the process).
        return push_wait_failure(L, w.status());
    }
    const bool ran = w.value == 0;
    req->finish();
    if (!ran) {
        terminate_detached(lua_touserdata(L, -1));
    }
    lua_pushboolean(L, 1);
    return 1;
}

// ctx:close() -> true. Closes this handle's open sockets (LINGER 0), then drops the
// handle's hold. The last owner's close waits, on the threadpool, for zmq_ctx_term.
// Suspends the calling fiber when it is the last owner.
int context_close(lua_State* L) {
    auto** slot = static_cast<context_handle**>(luaL_checkudata(L, 1, context_type));
    if (*slot == nullptr) {
        lua_pushboolean(L, 1);
        return 1;
    }
    // Begin the wait before anything changes: begin_wait raises where the caller may not
    // suspend, and must not leave a context half closed.
    detail::waiter& w = begin_wait(L, 0);
    context_handle* h = *slot;
    *slot = nullptr;
    while (h->sockets != nullptr) {
        close_socket(*h->sockets, true);  // unlinks it
    }
    shared_context* c = h->shared;
    delete h;
    void* ctx = drop(c);
    if (ctx == nullptr || !w.waiting()) {
        sched(L).end_wait(w);
        if (ctx != nullptr) {
            terminate_detached(ctx);
        }
        lua_pushboolean(L, 1);
        return 1;
    }
    int status = 0;
    detail::work_request* req = nullptr;
    try {
        req = detail::work_request::start(sched(L), w, [ctx] { terminate(ctx); }, status);
    } catch (...) {
        req = nullptr;
    }
    if (req == nullptr) {
        sched(L).end_wait(w);
        terminate_detached(ctx);
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_settop(L, 1);
    lua_pushlightuserdata(L, ctx);
    return finish_wait(L, w, &ktrampoline<close_k>, reinterpret_cast<lua_KContext>(req));
}

// __gc: a finalizer cannot wait, and sockets still in use must not be closed under their
// users: drop the hold only (the last owner terminates the context on a thread).
int context_gc(lua_State* L) {
    auto** slot = static_cast<context_handle**>(luaL_checkudata(L, 1, context_type));
    if (context_handle* h = *slot) {
        *slot = nullptr;
        disown_sockets(*h);
        release(h->shared);
        delete h;
    }
    return 0;
}

int context_tostring(lua_State* L) {
    return handle_tostring<context_handle>(L, context_type);
}

// __codec: the context travels as its libzmq pointer, with one more owner taken now, so
// that it outlives its sender until the receiver has decoded it.
int context_codec(lua_State* L) {
    context_handle& h = check_context(L, 1);
    {
        std::lock_guard<std::mutex> lock(live_mutex);
        ++h.shared->refs;
        ++h.shared->in_flight;
    }
    lua_pushstring(L, decoder_name);
    lua_pushinteger(L, static_cast<lua_Integer>(reinterpret_cast<std::uintptr_t>(raw(h.shared))));
    return 2;
}

// The decoder, registry["luv.zmq:context"](pointer): a new handle on a context of this
// process, which takes over the owner its encoding took (or a new one if the data is
// decoded more than once).
int context_decode(lua_State* L) {
    const lua_Integer v = luaL_checkinteger(L, 1);
    auto** slot = push_handle<context_handle>(L, context_type, nullptr);
    shared_context* c = nullptr;
    {
        std::lock_guard<std::mutex> lock(live_mutex);
        if (auto it = live().find(reinterpret_cast<void*>(static_cast<std::uintptr_t>(v)));
            it != live().end()) {
            c = it->second;
            if (c->in_flight > 0) {
                --c->in_flight;
            } else {
                ++c->refs;
            }
        }
    }
    if (c == nullptr) {
        return luaL_error(L, "luv.zmq: no context %p in this process (terminated, or the "
                             "data comes from another process)",
                          reinterpret_cast<void*>(static_cast<std::uintptr_t>(v)));
    }
    auto* h = new (std::nothrow) context_handle{c, nullptr};
    if (h == nullptr) {
        release(c);
        throw std::bad_alloc();
    }
    *slot = h;
    return 1;
}

const luaL_Reg functions[] = {
    {"create", LUV_FN(zmq_create)},
    {"version", LUV_FN(zmq_version_fn)},
    {nullptr, nullptr},
};

const luaL_Reg context_methods[] = {
    {"socket", LUV_FN(context_socket)},
    {"close", LUV_FN(context_close)},
    {nullptr, nullptr},
};

const luaL_Reg context_metamethods[] = {
    {"__gc", LUV_FN(context_gc)},
    {"__close", LUV_FN(context_close)},
    {"__tostring", LUV_FN(context_tostring)},
    {"__codec", LUV_FN(context_codec)},
    {nullptr, nullptr},
};

const char* zmq_error_name(int err) noexcept {
    switch (err) {
    case ETERM:
        return "ETERM";
    case EFSM:
        return "EFSM";
    case ENOCOMPATPROTO:
        return "ENOCOMPATPROTO";
    case EMTHREAD:
        return "EMTHREAD";
    default:
        return nullptr;
    }
}

}  // namespace

void* raw(shared_context* c) noexcept { return c->ctx; }

void retain(shared_context* c) noexcept {
    std::lock_guard<std::mutex> lock(live_mutex);
    ++c->refs;
}

void release(shared_context* c) noexcept {
    if (void* ctx = drop(c)) {
        terminate_detached(ctx);
    }
}

int push_error(lua_State* L, int err) {
    // The name is copied out of its std::string before any Lua call that may raise.
    char name[48];
    if (const char* z = zmq_error_name(err)) {
        std::snprintf(name, sizeof name, "%s", z);
    } else {
        try {
            std::snprintf(name, sizeof name, "%s", luv::error_name(-err).c_str());
        } catch (...) {
            std::snprintf(name, sizeof name, "E%d", err);
        }
    }
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", name, zmq_strerror(err));
    lua_pushstring(L, name);
    return 3;
}

}  // namespace luv::lua::zmq

namespace luv::lua {

void open_zmq(lua_State* L) {
    new_class(L, zmq::context_type, zmq::context_methods, zmq::context_metamethods);
    zmq::open_socket(L);
    lua_pushcfunction(L, LUV_FN(zmq::context_decode));
    lua_setfield(L, LUA_REGISTRYINDEX, zmq::decoder_name);
    lua_createtable(L, 0, 40);
    luaL_setfuncs(L, zmq::functions, 0);
    zmq::set_constants(L);
    lua_setfield(L, -2, "zmq");
}

}  // namespace luv::lua
