// The libuv side of a stream (TCP socket, unix-domain pipe): what fibers wait for when
// they read, write, accept, connect or shut down. Freed only in libuv's close callback.
//
// Reading: libuv reads straight into `inbox`; a reader takes what is there or waits for
// more. One reader at a time (a second gets EBUSY at once). Reading stops while nobody
// reads and `inbox_limit` bytes are buffered, so a slow consumer pushes back on the peer.
// Writing: uv_try_write first (small writes never wait); what the kernel did not take is
// copied into a request queued at once, so concurrent writers' bytes stay whole and in
// order, and the writer waits until the kernel has them all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <cstdlib>
#include <string>

#include <uv.h>

#include "core/waiter.hpp"

namespace luv::detail {

class scheduler;

/// Whether `path` fits a unix-domain socket address (sun_path). Never suspends.
bool unix_path_fits(const char* path) noexcept;

class stream_handle {
public:
    enum class type : std::uint8_t { tcp, pipe };
    static constexpr std::size_t inbox_limit = 64 * 1024;

    /// Throws luv::system_error. Never suspends.
    static stream_handle* create_tcp(scheduler& sched);
    static stream_handle* create_pipe(scheduler& sched, bool ipc);

    uv_stream_t* stream() noexcept { return reinterpret_cast<uv_stream_t*>(&h_); }
    uv_tcp_t* tcp() noexcept { return &h_.tcp; }
    uv_pipe_t* pipe() noexcept { return &h_.pipe; }
    type kind() const noexcept { return type_; }
    bool closing() const noexcept { return closing_; }

    // ---- reading -----------------------------------------------------------------
    /// Bytes buffered and not yet read.
    std::size_t buffered() const noexcept { return inbox_size_ - inbox_head_; }
    /// Takes up to `max` buffered bytes.
    std::string take(std::size_t max);
    /// The sticky end of the stream once seen: UV_EOF or an error; 0 before.
    int read_end() const noexcept { return read_end_; }
    /// Registers `w` (begun) as the reader and makes sure libuv reads. Returns UV_EBUSY
    /// if another fiber is reading, or a libuv error. Never suspends.
    int wait_readable(waiter& w) noexcept;

    // ---- writing -----------------------------------------------------------------
    /// Writes what the kernel takes now, unless writes are queued already (they go first).
    /// Returns the bytes written (0 to len) or a negative libuv error. Never suspends.
    int try_write(const char* data, std::size_t len) noexcept;
    /// Queues a copy of `data` behind the writes already queued; `w` (begun, or nullptr
    /// when nobody waits) is notified with w.value = status once the kernel has it all.
    /// Returns 0 or a negative libuv error. Never suspends.
    int queue_write(waiter* w, const char* data, std::size_t len) noexcept;

    // ---- accepting, connecting, shutting down --------------------------------------
    int listen(int backlog) noexcept;
    /// Accepts a pending connection into `client`: 0, UV_EAGAIN if none is pending (then
    /// wait_connection), or a libuv error. Never suspends.
    int accept(stream_handle& client) noexcept;
    /// Registers `w` (begun) to be woken by the next incoming connection or listen error.
    void wait_connection(waiter& w) noexcept;
    /// Ties a wait that is not the stream's own (a name resolution before a connect) to
    /// the stream: closing the stream ends it with `cancelled`. Never suspends.
    void end_on_close(waiter& w) noexcept { closers_.push(w); }
    /// Starts a TCP connect to `addr`; `w` (begun) is notified with w.value = status.
    int connect(waiter& w, const sockaddr* addr) noexcept;
    /// Starts a unix-domain connect to `path`; `w` is notified with w.value = status.
    /// Returns UV_ENAMETOOLONG (w untouched) for a path sun_path cannot hold.
    int connect_pipe(waiter& w, const char* path) noexcept;
    /// Shuts the write side down once queued writes are done; `w` notified with status.
    int shutdown(waiter& w) noexcept;

    /// Wakes every waiter with `cancelled` (requests in flight finish on their own) and
    /// frees the handle once libuv is done. Never suspends.
    void close() noexcept;

private:
    stream_handle() = default;
    ~stream_handle() { std::free(inbox_); }
    static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
    static void on_connection(uv_stream_t* server, int status);
    static void on_reader_gone(waiter& w, void* self);
    void stop_reading() noexcept;

    // What only a listening stream needs, made by listen().
    struct listener {
        wait_queue acceptors;
        int pending_connections = 0;
        int error = 0;  // a failure reported by libuv for the next accept
    };

    bool append_to_inbox(const char* data, std::size_t len) noexcept;

    // Every connection has one of these: its layout keeps it at 312 bytes (a 320-byte
    // malloc chunk), see the idle-connection benchmark.
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h_{};
    char* inbox_ = nullptr;           // malloc'd; freed once drained
    std::uint32_t inbox_size_ = 0;    // bytes in inbox_ (at most inbox_limit + one read)
    std::uint32_t inbox_head_ = 0;    // first unread byte
    waiter* reader_ = nullptr;
    std::unique_ptr<listener> listener_;
    wait_queue closers_;
    int read_end_ = 0;
    type type_ = type::tcp;
    bool reading_ = false;
    bool closing_ = false;
};

}  // namespace luv::detail
