// The libuv side of a UDP socket: the handle, the datagrams received while no fiber was
// reading, the one fiber allowed to wait for the next datagram, and send requests.
// Heap allocated and freed only in the close callback; its owners (luv::udp, the Lua
// userdata) hold a pointer and call close(), which wakes every waiter with `cancelled`.
//
// The handle keeps the loop alive only while a fiber waits for a datagram (a pending
// send is a request and keeps it alive by itself), so that a socket nobody reads from
// does not stop luv.run() or the `luv` command from returning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <uv.h>

#include "uv/handle.hpp"

namespace luv::detail {

class scheduler;

struct udp_handle : waitable_handle<udp_handle, uv_udp_t> {
    /// Datagrams kept while no fiber waits; beyond, new ones are dropped and counted.
    static constexpr std::size_t max_queued = 1024;
    /// The receive buffer: the largest UDP payload over IPv4 or IPv6 without jumbograms.
    static constexpr std::size_t buffer_size = 65536;

    struct datagram {
        int status = 0;  // a receive error (negative) instead of a datagram
        std::string data;
        sockaddr_storage from{};
    };

    /// A socket with no family yet: bind, or the first send, creates it. Throws
    /// luv::system_error. Never suspends.
    static udp_handle* create(scheduler& sched);

    /// UV_UDP_REUSEADDR and UV_UDP_IPV6ONLY are the flags. Never suspends.
    int bind(const sockaddr* addr, unsigned flags) noexcept;
    int sockname(sockaddr_storage& out) const noexcept;
    /// AF_INET or AF_INET6 once bound (explicitly or by a send), AF_UNSPEC before.
    int family() const noexcept;

    /// Sends at once if the socket can take the datagram now: returns its size, UV_EAGAIN
    /// when it must be queued (udp_send_request), or an error. Never suspends.
    int try_send(const char* data, std::size_t len, const sockaddr* to) noexcept;

    /// Starts receiving into the queue, if not yet. Never suspends.
    int start_receiving() noexcept;
    /// A fiber waits for a datagram now. Never suspends.
    bool reading() const noexcept { return reader_ != nullptr; }
    bool has_datagram() const noexcept { return !queue_.empty(); }
    datagram pop();
    /// The oldest queued datagram (has_datagram() must be true), and dropping it.
    const datagram& front() const noexcept { return queue_.front(); }
    void pop_front() noexcept { queue_.pop_front(); }
    /// Makes `w` (begun) the reader: it is notified when a datagram is queued. Requires
    /// !reading() and start_receiving() done. Never suspends.
    void add_reader(waiter& w) noexcept;
    std::uint64_t dropped() const noexcept { return dropped_; }
    std::size_t queued() const noexcept { return queue_.size(); }

    int set_broadcast(bool on) noexcept;
    int set_ttl(int ttl) noexcept;
    int set_multicast_ttl(int ttl) noexcept;
    int set_multicast_loop(bool on) noexcept;
    /// `iface` may be nullptr: the system chooses. Never suspends.
    int set_membership(const char* group, const char* iface, bool join) noexcept;
    int set_multicast_interface(const char* iface) noexcept;

private:
    static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
    static void on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                        unsigned flags);
    static void reader_gone(waiter& w, void* self);
    void release_reader() noexcept;

    std::deque<datagram> queue_;
    std::unique_ptr<char[]> buffer_;
    waiter* reader_ = nullptr;
    std::uint64_t dropped_ = 0;
    bool receiving_ = false;
};

/// A datagram the socket could not take at once. It owns a copy of the data until
/// libuv's callback, which frees it, even when the fiber stopped waiting.
class udp_send_request {
public:
    /// Queues the datagram, detached. Returns nullptr and sets `status` if libuv
    /// refuses. Never suspends.
    static udp_send_request* start(udp_handle& h, const char* data, std::size_t len,
                                   const sockaddr* to, int& status);
    /// Notifies `w` (begun) when sent, with w.value = the status; closing the socket
    /// wakes `w` with `cancelled`. Never suspends.
    void attach(waiter& w) noexcept;
    /// Stops notifying anyone; the callback still frees the request. Never suspends.
    void detach() noexcept { waiter_ = nullptr; }

private:
    udp_send_request() = default;
    static void done(uv_udp_send_t* req, int status);
    static void abandon(waiter& w, void* self);

    uv_udp_send_t req_{};
    udp_handle* handle_ = nullptr;
    std::string data_;
    waiter* waiter_ = nullptr;
};

}  // namespace luv::detail
