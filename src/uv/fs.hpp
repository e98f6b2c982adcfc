// The libuv side of the filesystem: one fs_request per call, run on the threadpool with
// a callback, and the descriptor of an open file shared by its owner and the requests in
// flight on it. Used by the C++ API (luv::fs) and by the Lua binding alike.
//
// One exception to the threadpool: a read of a regular file first tries
// preadv2(RWF_NOWAIT) on the loop's thread, which returns what the page cache holds and
// never blocks; only what it cannot deliver goes to the threadpool (fs_request::read_now).
//
// A request outlives an abandoned wait. When the fiber stops waiting (cancel, close of
// the file, the fiber collected), the waiter's on_abandon hook detaches the request and
// tries uv_cancel; whether or not that succeeds, libuv still calls the request's callback,
// which then frees it. Every buffer the system call uses (read buffer, bytes to write)
// belongs to the request, never to the caller.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <uv.h>

#include "core/waiter.hpp"
#include "luv/fs.hpp"

namespace luv::detail {

class scheduler;

/// An open descriptor. Its owner (a luv.file userdata, a luv::fs::file) holds one
/// reference and every request in flight on it another, so that close(2) waits until
/// the last request is done: an abandoned read that still runs on the threadpool never
/// finds its descriptor number reused by another file.
class fs_file {
public:
    /// Takes over `fd`, opened on `path` (kept for error messages).
    static fs_file* adopt(int fd, std::string_view path);
    /// Uses `fd` without owning it: closing the object never closes the descriptor (the
    /// process's standard input, output and error).
    static fs_file* borrow(int fd, std::string_view name);

    int fd() const noexcept { return fd_; }
    const std::string& path() const noexcept { return path_; }

    /// The owner lets go. Wakes the fibers waiting on the file's requests with
    /// `cancelled`; closes the descriptor now and returns close(2)'s status, or returns 0
    /// and leaves the close to the last request in flight. Never suspends (close(2) runs
    /// on the calling thread: it is quick on local filesystems, and __gc cannot wait).
    int close() noexcept;

    void retain() noexcept { ++refs_; }
    void release() noexcept;

    /// Whether a read may try preadv2(RWF_NOWAIT) on the loop's thread: only a regular
    /// file (learnt once, at the first read) on a filesystem that supports it (until
    /// preadv2 says otherwise). A terminal or a pipe is never read on the loop's thread.
    /// Never suspends, never blocks.
    bool may_read_now() noexcept;
    /// preadv2 refused RWF_NOWAIT on this file: never try again. Never suspends.
    void cannot_read_now() noexcept { read_now_ = tri::no; }

    /// The fibers waiting for a request on this file, woken by close().
    wait_queue waiters;
    /// Requests on the threadpool that use and move the file position (read and write
    /// without an offset, sendfile's output). A read without an offset skips the fast
    /// path while there are any: its steps (and an undo) must not interleave with theirs.
    unsigned position_users = 0;

private:
    enum class tri : std::uint8_t { unknown, yes, no };
    fs_file(int fd, std::string_view path) : fd_(fd), path_(path) {}
    ~fs_file() = default;
    int destroy() noexcept;

    int fd_;
    std::string path_;
    unsigned refs_ = 1;
    bool borrowed_ = false;
    tri read_now_ = tri::unknown;
};

enum class fs_op : std::uint8_t {
    // On a path.
    open, unlink, mkdir, rmdir, scandir, stat, lstat, rename, chmod, chown, utime, link,
    symlink, readlink, realpath, mkdtemp, copyfile, access,
    // On an fs_file.
    read, write, fstat, fsync, fdatasync, ftruncate, futime, fchmod, fchown, sendfile,
};

/// The arguments of a request: views, copied by start().
struct fs_args {
    std::string_view path{};  // what the call acts on; also named in error messages
    std::string_view path2{}; // rename, link, symlink, copyfile: the second path
    std::string_view data{};  // write: the bytes
    fs_file* file = nullptr;  // read, write, f*: the file; sendfile: the output
    fs_file* in = nullptr;    // sendfile: the input
    int flags = 0;            // open, copyfile
    int mode = 0;             // open, mkdir, chmod, fchmod, access
    std::int64_t offset = -1; // read, write: -1 = the file position; sendfile: input
                              // offset; ftruncate: the length
    std::int64_t length = 0;  // read: bytes wanted; sendfile: bytes, -1 = to the end
    double atime = 0, mtime = 0;
    long long uid = -1, gid = -1;
};

class fs_request {
public:
    /// Starts `op` and hooks `w` (begun with scheduler::begin_wait, still waiting) to it.
    /// Returns nullptr and sets `status` if libuv refuses it at once. May throw
    /// std::bad_alloc before anything started. Never suspends.
    ///
    /// A read that the page cache satisfies completes here, on the calling thread: `w`
    /// then ends as notified (scheduler::end_wait) and the caller, which finds it no
    /// longer waiting, reads the results at once, as after a wake-up. Unless the loop
    /// polled within scheduler::inline_ns, the read takes the threadpool regardless, so
    /// that a fiber reading a cached file in a loop still lets timers and I/O run.
    static fs_request* start(scheduler& sched, waiter& w, fs_op op, const fs_args& args,
                             int& status);

    // Once `w` was notified the caller owns the request: it reads these, then finish().

    /// Negative: the libuv status. Otherwise open: the descriptor; read, write, sendfile:
    /// the bytes; the others: 0.
    std::int64_t result() const noexcept { return result_; }
    /// read: the bytes read; readlink, realpath, mkdtemp: the path.
    std::string& text() noexcept { return text_; }
    const luv::fs::stat_info& stat() const noexcept { return stat_; }
    /// scandir: the entries, sorted by name.
    std::vector<luv::fs::dir_entry>& entries() noexcept { return entries_; }
    /// The path the request acts on (for a file: the path it was opened with).
    const std::string& path() const noexcept { return path_; }
    /// What failed, for messages: "path", or "path -> path2" for two paths. Never
    /// longer than `size` - 1.
    const char* what(char* buf, std::size_t size) const noexcept;
    /// An open request that succeeded gives its descriptor to the caller here (so
    /// finish() does not close it). Never suspends.
    int take_fd() noexcept;

    /// Frees a request whose wait was notified. Never suspends.
    void finish() noexcept;

private:
    fs_request() = default;
    ~fs_request() = default;
    struct deleter {
        void operator()(fs_request* r) const noexcept { delete r; }
    };
    bool read_now() noexcept;
    int submit() noexcept;
    bool step_done() noexcept;
    void release_files() noexcept;
    static void on_done(uv_fs_t* req);
    static void abandon(waiter& w, void* self);

    uv_fs_t req_{};
    uv_loop_t* loop_ = nullptr;
    waiter* waiter_ = nullptr;  // nullptr once the wait was abandoned
    fs_op op_ = fs_op::stat;
    bool sizing_ = false;       // sendfile: the fstat that finds the length runs
    bool owns_fd_ = false;      // open: succeeded, and nobody took the descriptor yet
    bool uses_position_ = false; // counted in a_.file->position_users while in flight
    fs_args a_;                 // without its views: path_, path2_, data_ hold those
    std::string path_, path2_, data_;
    std::int64_t done_ = 0;     // write, sendfile: bytes moved so far; read: bytes the
                                // fast path read before the threadpool takes the rest
    std::int64_t result_ = 0;
    std::string text_;
    luv::fs::stat_info stat_;
    std::vector<luv::fs::dir_entry> entries_;
};

/// The open(2) flags for an fopen-style mode ("r", "w+", "ax", ...; a "b" anywhere is
/// ignored), or -1 if the mode is not one of them. Never suspends.
int open_flags(std::string_view mode) noexcept;

/// The lower-case name of a file type: "file", "directory", "link", "fifo", "socket",
/// "char", "block", "unknown".
const char* type_name(luv::fs::file_type t) noexcept;

/// uv_cwd, uv_chdir, uv_exepath: synchronous, quick. Return a libuv status.
int fs_cwd(std::string& out);
int fs_chdir(const char* path) noexcept;
int fs_exepath(std::string& out);

}  // namespace luv::detail
