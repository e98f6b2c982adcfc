#include "uv/stream.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include <sys/un.h>

#include "core/scheduler.hpp"
#include "luv/error.hpp"

namespace luv::detail {
namespace {

// One read buffer per thread, not per stream: libuv calls alloc then read for each
// buffer in turn, and what arrives is appended to the stream's inbox at once. An idle
// connection thus holds no buffer at all.
constexpr std::size_t read_buffer_size = 64 * 1024;
thread_local std::unique_ptr<char[]> read_buffer;

stream_handle& self(uv_handle_t* h) { return *static_cast<stream_handle*>(h->data); }

// A request whose waiter may give up (timeout, cancel) before libuv is done with it: it
// then forgets the waiter and frees itself in its callback.
template <class Req>
struct request {
    Req req{};
    waiter* w = nullptr;
    std::string data;  // bytes of a write that the kernel did not take at once

    static void abandon(waiter&, void* self) { static_cast<request*>(self)->w = nullptr; }
    static void done(Req* r, int status) {
        auto* self = static_cast<request*>(r->data);
        if (self->w != nullptr) {
            self->w->value = status;
            self->w->notify();
        }
        delete self;
    }
    static request* start(waiter& w) {
        auto* r = new request();
        r->req.data = r;
        r->w = &w;
        w.on_abandon(&request::abandon, r);
        return r;
    }
};

using write_request = request<uv_write_t>;
using connect_request = request<uv_connect_t>;
using shutdown_request = request<uv_shutdown_t>;

}  // namespace

stream_handle* stream_handle::create_tcp(scheduler& sched) {
    auto* s = new stream_handle();
    const int rc = uv_tcp_init(sched.loop(), &s->h_.tcp);
    if (rc < 0) {
        delete s;
        throw system_error(rc, "uv_tcp_init");
    }
    s->h_.tcp.data = s;
    s->type_ = type::tcp;
    return s;
}

stream_handle* stream_handle::create_pipe(scheduler& sched, bool ipc) {
    auto* s = new stream_handle();
    const int rc = uv_pipe_init(sched.loop(), &s->h_.pipe, ipc ? 1 : 0);
    if (rc < 0) {
        delete s;
        throw system_error(rc, "uv_pipe_init");
    }
    s->h_.pipe.data = s;
    s->type_ = type::pipe;
    return s;
}

// ---- reading ----------------------------------------------------------------------

std::string stream_handle::take(std::size_t max) {
    const std::size_t n = std::min(max, buffered());
    std::string out(inbox_ + inbox_head_, n);
    inbox_head_ += static_cast<std::uint32_t>(n);
    if (inbox_head_ == inbox_size_) {
        std::free(std::exchange(inbox_, nullptr));  // an idle connection keeps no buffer
        inbox_size_ = inbox_head_ = 0;
    }
    return out;
}

int stream_handle::wait_readable(waiter& w) noexcept {
    if (reader_ != nullptr && reader_ != &w) {
        return UV_EBUSY;
    }
    reader_ = &w;
    w.on_abandon(&on_reader_gone, this);
    if (!reading_) {
        const int rc = uv_read_start(stream(), &on_alloc, &on_read);
        if (rc < 0) {
            reader_ = nullptr;
            return rc;
        }
        reading_ = true;
    }
    return 0;
}

void stream_handle::on_reader_gone(waiter& w, void* self) {
    // The reader stopped waiting (timeout, cancel): forget it, the next one may come.
    auto* s = static_cast<stream_handle*>(self);
    if (s->reader_ == &w) {
        s->reader_ = nullptr;
    }
}

static_assert(sizeof(stream_handle) <= 312, "stream_handle grew: see stream.hpp");

bool stream_handle::append_to_inbox(const char* data, std::size_t len) noexcept {
    // Reading stops at inbox_limit unread bytes, so the inbox never nears 4 GiB.
    auto* grown = static_cast<char*>(std::realloc(inbox_, inbox_size_ + len));
    if (grown == nullptr) {
        return false;
    }
    inbox_ = grown;
    std::memcpy(inbox_ + inbox_size_, data, len);
    inbox_size_ += static_cast<std::uint32_t>(len);
    return true;
}

void stream_handle::on_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) {
    if (!read_buffer) {
        read_buffer = std::make_unique<char[]>(read_buffer_size);
    }
    *buf = uv_buf_init(read_buffer.get(), read_buffer_size);
}

void stream_handle::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    stream_handle& s = self(reinterpret_cast<uv_handle_t*>(stream));
    if (nread > 0 && !s.append_to_inbox(buf->base, static_cast<std::size_t>(nread))) {
        nread = UV_ENOMEM;  // the reader gets the error; what was buffered stays readable
    }
    if (nread < 0) {
        s.read_end_ = static_cast<int>(nread);
        s.stop_reading();
    }
    if (s.reader_ != nullptr && (s.buffered() > 0 || s.read_end_ != 0)) {
        std::exchange(s.reader_, nullptr)->notify();
    }
    if (s.reader_ == nullptr && s.buffered() >= inbox_limit) {
        s.stop_reading();  // nobody reads: let the peer feel it
    }
}

void stream_handle::stop_reading() noexcept {
    if (reading_) {
        uv_read_stop(stream());
        reading_ = false;
    }
}

// ---- writing ----------------------------------------------------------------------

int stream_handle::try_write(const char* data, std::size_t len) noexcept {
    if (len == 0) {
        return 0;
    }
    uv_buf_t whole = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
    const int n = uv_try_write(stream(), &whole, 1);
    return n == UV_EAGAIN || n == UV_ENOSYS ? 0 : n;
}

int stream_handle::queue_write(waiter* w, const char* data, std::size_t len) noexcept {
    write_request* r = nullptr;
    try {
        r = new write_request();
        r->req.data = r;
        r->data.assign(data, len);
    } catch (...) {
        delete r;
        return UV_ENOMEM;
    }
    uv_buf_t rest = uv_buf_init(r->data.data(), static_cast<unsigned>(r->data.size()));
    const int rc = uv_write(&r->req, stream(), &rest, 1, [](uv_write_t* req, int status) {
        write_request::done(req, status);
    });
    if (rc < 0) {
        delete r;
        return rc;
    }
    if (w != nullptr) {
        r->w = w;
        w->on_abandon(&write_request::abandon, r);
    }
    return 0;
}

// ---- accepting, connecting, shutting down -----------------------------------------

int stream_handle::listen(int backlog) noexcept {
    const bool fresh = !listener_;
    if (fresh) {
        listener_ = std::make_unique<listener>();
    }
    const int rc = uv_listen(stream(), backlog, &on_connection);
    if (rc < 0 && fresh) {
        listener_.reset();
    }
    return rc;
}

void stream_handle::on_connection(uv_stream_t* server, int status) {
    stream_handle& s = self(reinterpret_cast<uv_handle_t*>(server));
    if (status < 0) {
        s.listener_->error = status;
    } else {
        ++s.listener_->pending_connections;
    }
    s.listener_->acceptors.notify_one();
}

int stream_handle::accept(stream_handle& client) noexcept {
    if (!listener_) {
        return UV_EINVAL;  // as accept(2) on a socket that does not listen
    }
    if (listener_->pending_connections == 0) {
        return listener_->error != 0 ? std::exchange(listener_->error, 0) : UV_EAGAIN;
    }
    --listener_->pending_connections;
    return uv_accept(stream(), client.stream());
}

void stream_handle::wait_connection(waiter& w) noexcept {
    if (listener_) {
        listener_->acceptors.push(w);
    } else {
        w.complete(wait_status::cancelled);  // accept() said EINVAL before anyone waits
    }
}

int stream_handle::connect(waiter& w, const sockaddr* addr) noexcept {
    auto* r = connect_request::start(w);
    const int rc = uv_tcp_connect(&r->req, tcp(), addr, [](uv_connect_t* req, int status) {
        connect_request::done(req, status);
    });
    if (rc < 0) {
        w.on_abandon(nullptr, nullptr);
        delete r;
    }
    return rc;
}

bool unix_path_fits(const char* path) noexcept {
    // libuv 1.44 cuts a longer path short without saying so (later versions refuse it).
    return std::strlen(path) < sizeof(sockaddr_un{}.sun_path);
}

int stream_handle::connect_pipe(waiter& w, const char* path) noexcept {
    if (!unix_path_fits(path)) {
        return UV_ENAMETOOLONG;
    }
    auto* r = connect_request::start(w);
    uv_pipe_connect(&r->req, pipe(), path, [](uv_connect_t* req, int status) {
        connect_request::done(req, status);
    });
    return 0;
}

int stream_handle::shutdown(waiter& w) noexcept {
    auto* r = shutdown_request::start(w);
    const int rc = uv_shutdown(&r->req, stream(), [](uv_shutdown_t* req, int status) {
        shutdown_request::done(req, status);
    });
    if (rc < 0) {
        w.on_abandon(nullptr, nullptr);
        delete r;
    }
    return rc;
}

void stream_handle::close() noexcept {
    if (closing_) {
        return;
    }
    closing_ = true;
    if (waiter* r = std::exchange(reader_, nullptr); r != nullptr) {
        r->complete(wait_status::cancelled);
    }
    if (listener_) {
        listener_->acceptors.notify_all(wait_status::cancelled);
    }
    closers_.notify_all(wait_status::cancelled);
    // Writes, connects and shutdowns in flight get UV_ECANCELED from libuv now.
    uv_close(reinterpret_cast<uv_handle_t*>(stream()),
             [](uv_handle_t* h) { delete static_cast<stream_handle*>(h->data); });
}

}  // namespace luv::detail
