#include "cli/readline.hpp"

#include <cstdio>
#include <cstring>
#include <string>

#include <uv.h>

#include "binding/await.hpp"
#include "binding/trampoline.hpp"

namespace luv::cli {
namespace {

struct line_request {
    uv_work_t req;
    detail::waiter* waiter;  // nullptr once the wait was abandoned
    std::string line;
    bool eof = false;
};

void read_line(uv_work_t* req) {
    auto* r = static_cast<line_request*>(req->data);
    char buf[4096];
    r->eof = true;
    while (std::fgets(buf, sizeof buf, stdin) != nullptr) {
        r->eof = false;
        r->line += buf;
        if (!r->line.empty() && r->line.back() == '\n') {
            r->line.pop_back();
            break;
        }
    }
    if (!r->line.empty()) {
        r->eof = false;
    }
}

void line_done(uv_work_t* req, int status) {
    auto* r = static_cast<line_request*>(req->data);
    if (r->waiter == nullptr) {
        delete r;
        return;
    }
    r->waiter->value = status;
    r->waiter->notify();
}

void abandon(detail::waiter&, void* ctx) {
    auto* r = static_cast<line_request*>(ctx);
    r->waiter = nullptr;
    // A read already in fgets cannot be stopped; it frees itself when it returns.
    if (uv_cancel(reinterpret_cast<uv_req_t*>(&r->req)) == 0) {
        // Cancelled before it started: line_done still runs, with UV_ECANCELED.
    }
}

int readline_k(lua_State* L, int, lua_KContext ctx) {
    auto* r = reinterpret_cast<line_request*>(ctx);
    detail::waiter& w = lua::current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        // An abandoned request frees itself when its fgets returns.
        return lua::push_wait_failure(L, w.status());
    }
    if (r->eof) {
        lua_pushnil(L);
    } else {
        lua_pushlstring(L, r->line.data(), r->line.size());
    }
    delete r;
    return 1;
}

int readline_(lua_State* L) {
    const char* prompt = luaL_optstring(L, 1, "> ");
    std::fputs(prompt, stdout);
    std::fflush(stdout);
    detail::scheduler& s = lua::sched(L);
    detail::waiter& w = lua::begin_wait(L, 0);
    line_request* r = nullptr;
    if (w.waiting()) {
        r = new line_request();
        r->waiter = &w;
        r->req.data = r;
        w.on_abandon(&abandon, r);
        const int rc = uv_queue_work(s.loop(), &r->req, &read_line, &line_done);
        if (rc < 0) {
            r->waiter = nullptr;
            w.complete(detail::wait_status::cancelled);
            delete r;
            return lua::push_fail(L, rc);
        }
    }
    return lua::finish_wait(L, w, &lua::ktrampoline<readline_k>,
                            reinterpret_cast<lua_KContext>(r));
}

}  // namespace

int readline(lua_State* L) { return lua::trampoline<readline_>(L); }

}  // namespace luv::cli
