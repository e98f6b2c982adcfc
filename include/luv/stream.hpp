// luv/stream.hpp - what TCP sockets (luv/tcp.hpp) and unix-domain pipes (luv/pipe.hpp)
// have in common: reading, writing, listening, shutting down and closing.
//
//   void echo(luv::stream& conn) {
//       while (auto data = conn.read())            // std::nullopt at the end of the stream
//           conn.write(*data);                     // suspends this fiber only
//       conn.shutdown();
//   }
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "luv/error.hpp"

namespace luv {

namespace detail {
class stream_handle;
}

/// A byte stream on the calling thread's runtime: the base of luv::tcp and luv::pipe,
/// which create it. What arrives while no fiber reads is buffered, up to 64 KiB; then the
/// stream stops reading, so a slow reader pushes back on the peer. One fiber at a time
/// may wait in read(); any number may write, and each write reaches the peer whole and
/// in the order the writes began. Closing the stream wakes every fiber waiting on it
/// with UV_ECANCELED. Move-only; the destructor closes it; a moved-from stream is closed.
/// The object must outlive the calls waiting on it (close() wakes them first).
class stream {
public:
    static constexpr std::size_t default_read_size = 64 * 1024;

    /// Returns between 1 and `max` bytes, waiting for some if none are buffered, or
    /// std::nullopt at the end of the stream (the peer shut down or closed its side;
    /// every later read returns std::nullopt too). Throws luv::system_error: the stream's
    /// error (UV_ECONNRESET, ...) once the bytes before it were read, UV_EBUSY if another
    /// fiber is waiting in read(), UV_ECANCELED if the fiber is cancelled or the stream
    /// closed, UV_EBADF if it is closed; std::invalid_argument if `max` is 0. Suspends
    /// the calling fiber (not when bytes or the end are there already).
    std::optional<std::string> read(std::size_t max = default_read_size);
    /// Like read(), but returns std::nullopt if `timeout` passes first; otherwise what
    /// read() returns (itself std::nullopt at the end of the stream). Suspends the
    /// calling fiber.
    std::optional<std::optional<std::string>> read_for(std::chrono::milliseconds timeout,
                                                       std::size_t max = default_read_size);

    /// Writes all of `data`: returns once the kernel has every byte. What the kernel
    /// takes at once is written at once; the rest is copied and queued behind the writes
    /// already queued. A writer that is cancelled (UV_ECANCELED) stops waiting, but its
    /// bytes still go out whole. Throws luv::system_error (UV_EPIPE, UV_ECONNRESET,
    /// UV_ECANCELED, UV_EBADF), std::invalid_argument for 4 GiB or more. Suspends the
    /// calling fiber only while the kernel cannot take the bytes.
    void write(std::string_view data);

    /// Starts accepting connections, `backlog` of them pending in the kernel; the
    /// stream must be bound first (tcp::bind, pipe::bind). Take them with accept().
    /// Throws luv::system_error. Never suspends.
    void listen(int backlog = 128);

    /// Shuts the writing side down once the queued writes are done: the peer reads the
    /// end of the stream; reading goes on. Throws luv::system_error (UV_ECANCELED if the
    /// fiber is cancelled or the stream closed). Suspends the calling fiber.
    void shutdown();

    /// Closes the stream and wakes every fiber waiting on it with UV_ECANCELED; a name
    /// resolution or a connect in progress is cancelled. Idempotent. Never suspends.
    void close() noexcept;
    bool closed() const noexcept { return h_ == nullptr; }

protected:
    // luv::process hands the descriptor of a stream to a child (process::stdio::of).
    friend class process;

    stream(detail::stream_handle* h, const char* kind) noexcept : h_(h), kind_(kind) {}
    ~stream();
    stream(stream&& o) noexcept;
    stream& operator=(stream&& o) noexcept;
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;

    /// The handle, or luv::system_error(UV_EBADF) naming "<kind>::<op>" when closed.
    detail::stream_handle& open_handle(const char* op) const;
    /// "tcp::read", for the context of an error.
    std::string what(const char* op) const;
    /// A loop deadline `timeout` from now, for the *_for calls.
    static std::uint64_t deadline_after(std::chrono::milliseconds timeout);
    /// The next connection as a new handle of the same kind, or nullptr if the deadline
    /// (0: none) passes first. Suspends the calling fiber.
    detail::stream_handle* accept_until(std::uint64_t deadline);

    detail::stream_handle* h_;
    const char* kind_;  // "tcp" or "pipe"

private:
    std::optional<std::optional<std::string>> read_until(std::uint64_t deadline,
                                                         std::size_t max);
};

}  // namespace luv
