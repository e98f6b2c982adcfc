#include "uv/work.hpp"

#include <new>

#include "core/scheduler.hpp"

namespace luv::detail {

work_request* work_request::start(scheduler& sched, waiter& w, std::function<void()> job,
                                  int& status) {
    auto* r = new work_request();
    r->req_.data = r;
    r->job_ = std::move(job);
    r->waiter_ = &w;
    status = uv_queue_work(sched.loop(), &r->req_, &work_request::run, &work_request::done);
    if (status < 0) {
        delete r;
        return nullptr;
    }
    w.on_abandon(&work_request::abandon, r);
    return r;
}

void work_request::run(uv_work_t* req) { static_cast<work_request*>(req->data)->job_(); }

void work_request::done(uv_work_t* req, int status) {
    auto* r = static_cast<work_request*>(req->data);
    if (r->waiter_ == nullptr) {
        delete r;  // nobody waits any more
        return;
    }
    r->waiter_->value = status;
    r->waiter_->notify();
}

void work_request::abandon(waiter&, void* self) {
    auto* r = static_cast<work_request*>(self);
    r->waiter_ = nullptr;
    // Succeeds only if the job has not started; either way done() still runs and frees.
    uv_cancel(reinterpret_cast<uv_req_t*>(&r->req_));
}

}  // namespace luv::detail
