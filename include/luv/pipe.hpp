// luv/pipe.hpp - unix-domain stream sockets (and descriptors opened as pipes) that
// fibers wait on. Reading and writing are luv::stream's.
//
//   luv::pipe server;
//   server.bind("/run/app.sock");                 // close() removes the file
//   server.listen();
//   luv::pipe conn = server.accept();             // suspends this fiber only
//
//   luv::pipe client;
//   client.connect("/run/app.sock");
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "luv/error.hpp"
#include "luv/stream.hpp"

namespace luv {

/// A unix-domain stream socket on the calling thread's runtime, or any stream
/// descriptor given to open(). A path must fit sun_path (107 bytes). Binding does not
/// remove an existing file (UV_EADDRINUSE); closing a bound pipe removes its file.
/// Move-only.
class pipe : public stream {
public:
    /// Throws luv::system_error, or std::logic_error without a runtime. Never suspends.
    pipe();
    pipe(pipe&&) noexcept = default;
    pipe& operator=(pipe&&) noexcept = default;

    /// Binds to `path`. Throws luv::system_error whose what() names the path
    /// (UV_EADDRINUSE if the file exists, UV_ENAMETOOLONG). Never suspends.
    void bind(const std::string& path);

    /// Waits for the next connection and returns it; as tcp::accept(). Suspends the
    /// calling fiber (not when a connection is pending).
    pipe accept();
    /// Like accept(), but returns std::nullopt if `timeout` passes first. Suspends the
    /// calling fiber.
    std::optional<pipe> accept_for(std::chrono::milliseconds timeout);

    /// Connects to the socket at `path`. Throws luv::system_error whose what() names the
    /// path (UV_ENOENT, UV_ECONNREFUSED, UV_ENAMETOOLONG), UV_ECANCELED if the fiber is
    /// cancelled or the pipe closed meanwhile. Suspends the calling fiber.
    void connect(const std::string& path);

    /// Adopts `fd`, an open stream descriptor (one end of a socketpair(), a pipe(2)
    /// end, an inherited socket), made non-blocking; closing the pipe closes it. Throws
    /// luv::system_error. Never suspends.
    void open(int fd);

private:
    // luv::process wraps the parent's ends of a child's stdio pipes.
    friend class process;

    explicit pipe(detail::stream_handle* h) noexcept : stream(h, "pipe") {}
};

}  // namespace luv
