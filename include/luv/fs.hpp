// luv/fs.hpp - the filesystem for fibers: every call runs on libuv's threadpool, so a
// slow disk stalls only the fiber that asked, never the loop. The one exception: a read
// of a regular file that the page cache holds is copied at once on the calling thread
// (preadv2 with RWF_NOWAIT, which never blocks), without suspending.
//
//   luv::fs::file out("/tmp/x", "w");
//   out.write("hello\n");
//   auto st = luv::fs::stat("/tmp/x");   // st.size == 6
//
// Every call that suspends throws luv::system_error on failure; what() names the path,
// e.g. "open /nowhere/x: ENOENT: no such file or directory". A fiber cancelled while it
// waits gets luv::system_error(UV_ECANCELED) at once; the system call itself may still
// complete on the threadpool, and its request frees itself when it does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "luv/error.hpp"

namespace luv {

namespace detail {
class fs_file;
}

namespace fs {

enum class file_type : std::uint8_t {
    unknown, file, directory, symlink, fifo, socket, character_device, block_device,
};

/// What stat(2) says about a file. Times are seconds since the epoch, with fractions.
struct stat_info {
    std::uint64_t dev = 0, ino = 0, mode = 0, nlink = 0, uid = 0, gid = 0, rdev = 0;
    std::uint64_t size = 0, blksize = 0, blocks = 0;
    double atime = 0, mtime = 0, ctime = 0, birthtime = 0;
    file_type type = file_type::unknown;
};

/// One entry of a directory listing.
struct dir_entry {
    std::string name;
    file_type type = file_type::unknown;
};

/// Bits of access(): exists = 0 (F_OK), or any of readable | writable | executable.
inline constexpr int exists = 0, executable = 1, writable = 2, readable = 4;
/// Flags of copyfile(), libuv's UV_FS_COPYFILE_*.
inline constexpr int copy_exclusive = 1, copy_ficlone = 2, copy_ficlone_force = 4;

/// An open file. Construct it closed, or open one with the mode strings of fopen: "r",
/// "r+", "w", "w+", "a", "a+", and "wx", "wx+", "ax", "ax+" (fail if the file exists).
/// Reads and writes without an offset use and move the file position. Closing waits for
/// nothing: if a cancelled request still runs on the threadpool, the descriptor is closed
/// when it ends, so its number is never reused under it.
class file {
public:
    /// A closed file. Never suspends.
    file() noexcept = default;
    /// Opens `path`; `perm` applies when the file is created (less the umask). Throws
    /// std::invalid_argument for an unknown mode, luv::system_error otherwise. Suspends
    /// the calling fiber.
    explicit file(std::string_view path, std::string_view mode = "r", int perm = 0666);
    /// Closes the file, as close() does but without throwing. Never suspends.
    ~file();
    file(file&& o) noexcept;
    file& operator=(file&& o) noexcept;
    file(const file&) = delete;
    file& operator=(const file&) = delete;

    /// Reads up to `len` bytes at `offset`, or at the file position when it is negative;
    /// returns "" at the end of the file. A regular file's read comes back short only at
    /// its end. Suspends the calling fiber, except for a read of a regular file that the
    /// page cache satisfies, which returns without suspending (unless the loop has not
    /// polled for a millisecond: then it suspends once, so other fibers and timers run).
    std::string read(std::size_t len = 65536, std::int64_t offset = -1);
    /// Writes all of `data` (copied, so it may go away meanwhile) at `offset`, or at the
    /// file position when it is negative. Returns the bytes written, fewer only if an
    /// error stopped it after some were. Suspends the calling fiber.
    std::size_t write(std::string_view data, std::int64_t offset = -1);
    /// Suspends the calling fiber.
    stat_info stat();
    /// fsync(2): the data and the metadata reach the disk. Suspends the calling fiber.
    void sync();
    /// fdatasync(2): the data and the size reach the disk. Suspends the calling fiber.
    void datasync();
    /// Sets the file's size to `len` bytes. Suspends the calling fiber.
    void truncate(std::int64_t len = 0);
    /// Sets the access and modification times (seconds). Suspends the calling fiber.
    void utime(double atime, double mtime);
    /// Suspends the calling fiber.
    void chmod(int mode);
    /// -1 leaves the owner or the group as it is. Suspends the calling fiber.
    void chown(long long uid, long long gid);

    /// Closes the descriptor; idempotent. Throws luv::system_error if close(2) reports an
    /// error (the descriptor is released anyway). Never suspends.
    void close();
    bool is_open() const noexcept { return f_ != nullptr; }
    /// The descriptor, or -1 once closed. Never suspends.
    int fd() const noexcept;

private:
    friend std::uint64_t sendfile(file& out, file& in, std::int64_t offset,
                                  std::int64_t length);
    detail::fs_file& open_file() const;
    detail::fs_file* f_ = nullptr;
};

/// Suspends the calling fiber.
stat_info stat(std::string_view path);
/// Like stat(), but a symbolic link is described itself, not the file it points to.
/// Suspends the calling fiber.
stat_info lstat(std::string_view path);
/// Suspends the calling fiber.
void unlink(std::string_view path);
/// Suspends the calling fiber.
void mkdir(std::string_view path, int mode = 0777);
/// Suspends the calling fiber.
void rmdir(std::string_view path);
/// The names in a directory, without "." and "..", sorted bytewise. Suspends the calling
/// fiber.
std::vector<std::string> readdir(std::string_view path);
/// The same with the type of each entry. Suspends the calling fiber.
std::vector<dir_entry> scandir(std::string_view path);
/// Suspends the calling fiber.
void rename(std::string_view from, std::string_view to);
/// Copies `length` bytes of `in` from `offset` to `out`'s position (length < 0: to the end
/// of `in`), in the kernel. Returns the bytes copied. Suspends the calling fiber.
std::uint64_t sendfile(file& out, file& in, std::int64_t offset = 0, std::int64_t length = -1);
/// Suspends the calling fiber.
void chmod(std::string_view path, int mode);
/// -1 leaves the owner or the group as it is. Suspends the calling fiber.
void chown(std::string_view path, long long uid, long long gid);
/// Suspends the calling fiber.
void utime(std::string_view path, double atime, double mtime);
/// Makes `path` a new name (a hard link) of `target`. Suspends the calling fiber.
void link(std::string_view target, std::string_view path);
/// Makes `path` a symbolic link to `target`. Suspends the calling fiber.
void symlink(std::string_view target, std::string_view path);
/// Suspends the calling fiber.
std::string readlink(std::string_view path);
/// The absolute path with every link resolved. Suspends the calling fiber.
std::string realpath(std::string_view path);
/// Creates a directory from `tmpl`, whose last six characters must be "XXXXXX", and
/// returns its name. Suspends the calling fiber.
std::string mkdtemp(std::string_view tmpl);
/// `flags`: copy_exclusive, copy_ficlone, copy_ficlone_force. Suspends the calling fiber.
void copyfile(std::string_view from, std::string_view to, int flags = 0);
/// True if the file exists and the calling process may access it as `mode` says
/// (exists, or readable | writable | executable). Suspends the calling fiber.
bool access(std::string_view path, int mode = exists);

/// The working directory of the process. Never suspends.
std::string cwd();
/// Changes the working directory of the process (of every thread). Never suspends.
void chdir(std::string_view path);
/// The path of the running executable. Never suspends.
std::string exepath();

}  // namespace fs
}  // namespace luv
