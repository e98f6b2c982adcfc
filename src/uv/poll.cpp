#include "uv/poll.hpp"

#include <new>
#include <unordered_map>

#include "core/scheduler.hpp"

namespace luv::detail {
namespace {

// The open polls of this thread by descriptor: a select on a socket and the socket's own
// receive must share one libuv watcher.
thread_local std::unordered_map<int, fd_poll*> open_polls;

std::unordered_map<int, fd_poll*>& registry() { return open_polls; }

}  // namespace

fd_poll* fd_poll::acquire(scheduler& sched, int fd, int& status) noexcept {
    auto& polls = registry();
    if (auto it = polls.find(fd); it != polls.end()) {
        ++it->second->holders_;
        return it->second;
    }
    auto* p = new (std::nothrow) fd_poll();
    if (p == nullptr) {
        status = UV_ENOMEM;
        return nullptr;
    }
    if (const int rc = uv_poll_init(sched.loop(), &p->uv_, fd); rc < 0) {
        delete p;
        status = rc;
        return nullptr;
    }
    p->uv_.data = p;
    p->fd_ = fd;
    p->holders_ = 1;
    uv_unref(reinterpret_cast<uv_handle_t*>(&p->uv_));
    try {
        polls.emplace(fd, p);
    } catch (...) {
        p->holders_ = 0;
        p->close();
        status = UV_ENOMEM;
        return nullptr;
    }
    return p;
}

void fd_poll::release() noexcept {
    if (--holders_ > 0) {
        return;
    }
    if (!closed_) {
        close();
    } else {
        maybe_free();
    }
}

void fd_poll::close() noexcept {
    if (closed_) {
        return;
    }
    closed_ = true;
    if (auto it = open_polls.find(fd_); it != open_polls.end() && it->second == this) {
        open_polls.erase(it);
    }
    readers_.notify_all(wait_status::cancelled);
    writers_.notify_all(wait_status::cancelled);
    for (interest* i = interests_; i != nullptr; i = i->next) {
        i->w->complete(wait_status::cancelled);
    }
    // A watcher's owner closes the poll itself; forget them rather than call them.
    while (watchers_ != nullptr) {
        unwatch(*watchers_);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&uv_), &on_close);
}

void fd_poll::on_close(uv_handle_t* h) {
    auto* p = static_cast<fd_poll*>(h->data);
    p->close_done_ = true;
    p->maybe_free();
}

void fd_poll::maybe_free() noexcept {
    if (close_done_ && holders_ == 0) {
        delete this;
    }
}

int fd_poll::arm(int events) noexcept {
    if (events == armed_ || closed_) {
        return 0;
    }
    const int rc = events == 0 ? uv_poll_stop(&uv_) : uv_poll_start(&uv_, events, &on_event);
    if (rc == 0) {
        armed_ = events;
    }
    return rc;
}

bool fd_poll::anyone_waits() const noexcept {
    if (!readers_.empty() || !writers_.empty() || watchers_ != nullptr) {
        return true;
    }
    for (const interest* i = interests_; i != nullptr; i = i->next) {
        if (i->w->waiting()) {
            return true;
        }
    }
    return false;
}

void fd_poll::update_ref() noexcept {
    if (closed_) {
        return;
    }
    auto* h = reinterpret_cast<uv_handle_t*>(&uv_);
    if (anyone_waits()) {
        uv_ref(h);
    } else {
        uv_unref(h);
    }
}

int fd_poll::wait(waiter& w, int event) noexcept {
    if (closed_) {
        return UV_EBADF;
    }
    if (const int rc = arm(armed_ | event); rc < 0) {
        return rc;
    }
    (event == UV_READABLE ? readers_ : writers_).push(w);
    uv_ref(reinterpret_cast<uv_handle_t*>(&uv_));
    return 0;
}

int fd_poll::add(interest& i) noexcept {
    if (closed_) {
        return UV_EBADF;
    }
    if (const int rc = arm(armed_ | i.events); rc < 0) {
        return rc;
    }
    i.poll = this;
    i.revents = 0;
    i.prev = nullptr;
    i.next = interests_;
    if (interests_ != nullptr) {
        interests_->prev = &i;
    }
    interests_ = &i;
    uv_ref(reinterpret_cast<uv_handle_t*>(&uv_));
    return 0;
}

void fd_poll::remove(interest& i) noexcept {
    if (i.poll != this) {
        return;
    }
    if (i.prev != nullptr) {
        i.prev->next = i.next;
    } else {
        interests_ = i.next;
    }
    if (i.next != nullptr) {
        i.next->prev = i.prev;
    }
    i.poll = nullptr;
    i.prev = i.next = nullptr;
    update_ref();
}

int fd_poll::watch(watcher& w) noexcept {
    if (w.poll == this) {
        return 0;
    }
    if (closed_) {
        return UV_EBADF;
    }
    if (const int rc = arm(armed_ | w.events); rc < 0) {
        return rc;
    }
    w.poll = this;
    w.prev = nullptr;
    w.next = watchers_;
    if (watchers_ != nullptr) {
        watchers_->prev = &w;
    }
    watchers_ = &w;
    uv_ref(reinterpret_cast<uv_handle_t*>(&uv_));
    return 0;
}

void fd_poll::unwatch(watcher& w) noexcept {
    if (w.poll != this) {
        return;
    }
    if (w.prev != nullptr) {
        w.prev->next = w.next;
    } else {
        watchers_ = w.next;
    }
    if (w.next != nullptr) {
        w.next->prev = w.prev;
    }
    w.poll = nullptr;
    w.prev = w.next = nullptr;
    update_ref();
}

void fd_poll::waited() noexcept { update_ref(); }

void fd_poll::on_event(uv_poll_t* h, int status, int events) {
    auto* p = static_cast<fd_poll*>(h->data);
    if (status < 0) {
        // libuv stopped the handle (POLLERR): wake everyone; the system call they retry
        // reports the error itself.
        p->armed_ = 0;
        events = UV_READABLE | UV_WRITABLE;
    }
    int unwanted = 0;
    for (const int ev : {UV_READABLE, UV_WRITABLE}) {
        if ((events & ev) == 0) {
            continue;
        }
        wait_queue& q = ev == UV_READABLE ? p->readers_ : p->writers_;
        bool woke = !q.empty();
        q.notify_all();
        for (interest* i = p->interests_; i != nullptr; i = i->next) {
            if ((i->events & ev) != 0 && i->w->waiting()) {
                i->revents |= ev;
                i->w->notify();
                woke = true;
            }
        }
        // A watcher may unwatch itself from its callback: step before calling it.
        for (watcher* w = p->watchers_; w != nullptr;) {
            watcher* next = w->next;
            if ((w->events & ev) != 0) {
                w->on_event(*w, ev);
                woke = true;
            }
            w = next;
        }
        if (!woke) {
            unwanted |= ev;
        }
    }
    if (unwanted != 0) {
        p->arm(p->armed_ & ~unwanted);
    }
    p->update_ref();
}

}  // namespace luv::detail
