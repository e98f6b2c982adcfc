#include "cli/readline.hpp"

#include <cstdio>
#include <memory>
#include <string>

#include "binding/await.hpp"
#include "binding/trampoline.hpp"
#include "uv/work.hpp"

namespace luv::cli {
namespace {

// Filled on the threadpool; read back by the continuation once the wait is notified.
struct line_result {
    std::string line;
    bool eof = true;
};

void read_line(line_result& r) {
    char buf[4096];
    while (std::fgets(buf, sizeof buf, stdin) != nullptr) {
        r.eof = false;
        r.line += buf;
        if (r.line.back() == '\n') {
            r.line.pop_back();
            break;
        }
    }
}

struct pending {
    detail::work_request* request;
    std::shared_ptr<line_result> result;
};

int readline_k(lua_State* L, int, lua_KContext ctx) {
    std::unique_ptr<pending> p(reinterpret_cast<pending*>(ctx));
    detail::waiter& w = lua::current_wait(L);
    if (w.status() != detail::wait_status::notified) {
        return lua::push_wait_failure(L, w.status());  // the request frees itself
    }
    p->request->finish();
    if (p->result->eof) {
        lua_pushnil(L);
    } else {
        lua_pushlstring(L, p->result->line.data(), p->result->line.size());
    }
    return 1;
}

int readline_(lua_State* L) {
    const char* prompt = luaL_optstring(L, 1, "> ");
    std::fputs(prompt, stdout);
    std::fflush(stdout);
    detail::waiter& w = lua::begin_wait(L, 0);
    pending* p = nullptr;
    if (w.waiting()) {
        // The result outlives an abandoned wait: the job may still be in fgets.
        auto result = std::make_shared<line_result>();
        int status = 0;
        auto* request = detail::work_request::start(
            lua::sched(L), w, [result] { read_line(*result); }, status);
        if (request == nullptr) {
            lua::sched(L).end_wait(w);
            return lua::push_fail(L, status);
        }
        p = new pending{request, std::move(result)};
    }
    return lua::finish_wait(L, w, &lua::ktrampoline<readline_k>,
                            reinterpret_cast<lua_KContext>(p));
}

}  // namespace

int readline(lua_State* L) { return lua::trampoline<readline_>(L); }

}  // namespace luv::cli
