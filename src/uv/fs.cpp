// The libuv side of the filesystem (see fs.hpp); the C++ API luv::fs on top of it is in
// fs_api.cpp.
#include "uv/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>

#include "core/native_fiber.hpp"
#include "core/scheduler.hpp"
#include "luv/error.hpp"
#include "luv/runtime.hpp"

// preadv2 with RWF_NOWAIT (Linux >= 4.14) and statx (Linux >= 4.11; glibc >= 2.28), for
// the fast path of reads; elsewhere every read takes the threadpool.
#if defined(__linux__) && defined(RWF_NOWAIT) && defined(STATX_TYPE)
#define LUV_READ_NOWAIT 1
#else
#define LUV_READ_NOWAIT 0
#endif

namespace luv::detail {
namespace {

static_assert(luv::fs::copy_exclusive == UV_FS_COPYFILE_EXCL &&
              luv::fs::copy_ficlone == UV_FS_COPYFILE_FICLONE &&
              luv::fs::copy_ficlone_force == UV_FS_COPYFILE_FICLONE_FORCE);

// One system call moves at most this much (Linux's own limit for read and write), and a
// uv_buf_t length is an unsigned int.
constexpr std::int64_t max_io = 0x7ffff000;

// close(2) on the calling thread: uv_fs_close without a callback runs synchronously and
// never touches the loop.
int close_now(int fd) noexcept {
    uv_fs_t req;
    const int rc = uv_fs_close(nullptr, &req, fd, nullptr);
    uv_fs_req_cleanup(&req);
    return rc;
}

double seconds(const uv_timespec_t& t) noexcept {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

luv::fs::file_type type_of_mode(std::uint64_t mode) noexcept {
    using luv::fs::file_type;
    switch (mode & S_IFMT) {
    case S_IFREG: return file_type::file;
    case S_IFDIR: return file_type::directory;
    case S_IFLNK: return file_type::symlink;
    case S_IFIFO: return file_type::fifo;
    case S_IFSOCK: return file_type::socket;
    case S_IFCHR: return file_type::character_device;
    case S_IFBLK: return file_type::block_device;
    default: return file_type::unknown;
    }
}

// libuv lists the dirent types in the order of luv::fs::file_type.
static_assert(UV_DIRENT_UNKNOWN == 0 && UV_DIRENT_FILE == 1 && UV_DIRENT_DIR == 2 &&
              UV_DIRENT_LINK == 3 && UV_DIRENT_FIFO == 4 && UV_DIRENT_SOCKET == 5 &&
              UV_DIRENT_CHAR == 6 && UV_DIRENT_BLOCK == 7);

luv::fs::stat_info convert(const uv_stat_t& s) noexcept {
    return {.dev = s.st_dev, .ino = s.st_ino, .mode = s.st_mode, .nlink = s.st_nlink,
            .uid = s.st_uid, .gid = s.st_gid, .rdev = s.st_rdev, .size = s.st_size,
            .blksize = s.st_blksize, .blocks = s.st_blocks, .atime = seconds(s.st_atim),
            .mtime = seconds(s.st_mtim), .ctime = seconds(s.st_ctim),
            .birthtime = seconds(s.st_birthtim), .type = type_of_mode(s.st_mode)};
}

}  // namespace

// ---- fs_file ---------------------------------------------------------------------------

fs_file* fs_file::adopt(int fd, std::string_view path) { return new fs_file(fd, path); }

fs_file* fs_file::borrow(int fd, std::string_view name) {
    auto* f = new fs_file(fd, name);
    f->borrowed_ = true;
    return f;
}

int fs_file::close() noexcept {
    // Wakes the fibers whose requests run on this file; each request lets go of the file
    // when libuv is done with it, and the last one closes the descriptor.
    waiters.notify_all(wait_status::cancelled);
    if (--refs_ == 0) {
        return destroy();
    }
    return 0;
}

void fs_file::release() noexcept {
    if (--refs_ == 0) {
        destroy();
    }
}

bool fs_file::may_read_now() noexcept {
#if LUV_READ_NOWAIT
    if (read_now_ == tri::unknown) {
        // Regular files only: RWF_NOWAIT would not block on a pipe or a terminal either,
        // but their data is no page cache, and a descriptor that the kernel does not treat
        // as it should must never stall the loop. statx asks for the type alone and
        // takes what the kernel has cached (AT_STATX_DONT_SYNC): unlike fstat it never
        // waits for a network filesystem's server, and an inode's type never changes.
        struct statx st {};
        const bool regular =
            ::statx(fd_, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &st) == 0 &&
            (st.stx_mask & STATX_TYPE) != 0 && S_ISREG(st.stx_mode);
        read_now_ = regular ? tri::yes : tri::no;
    }
    return read_now_ == tri::yes;
#else
    return false;
#endif
}

int fs_file::destroy() noexcept {
    const int rc = borrowed_ ? 0 : close_now(fd_);
    delete this;
    return rc;
}

// ---- fs_request ------------------------------------------------------------------------

fs_request* fs_request::start(scheduler& sched, waiter& w, fs_op op, const fs_args& a,
                              int& status) {
    // Asked first: the bound on the loop's wait is then the budget plus this one read,
    // however long its buffer takes to allocate.
    const bool may_read_now = op == fs_op::read && sched.may_complete_inline();
    std::unique_ptr<fs_request, deleter> r(new fs_request());
    r->loop_ = sched.loop();
    r->op_ = op;
    r->a_ = a;
    r->a_.path = r->a_.path2 = r->a_.data = {};  // copied to path_, path2_, data_
    r->a_.file = r->a_.in = nullptr;             // pinned below, once nothing can throw
    // Messages name the file a request acts on; sendfile's read "input -> output".
    r->path_ = op == fs_op::sendfile        ? std::string_view(a.in->path())
               : a.path.empty() && a.file ? std::string_view(a.file->path())
                                          : a.path;
    r->path2_ = op == fs_op::sendfile ? std::string_view(a.file->path()) : a.path2;
    r->data_ = a.data;
    if (op == fs_op::read) {
        r->text_.resize(static_cast<std::size_t>(std::clamp<std::int64_t>(a.length, 0, max_io)));
    }
    r->sizing_ = op == fs_op::sendfile && a.length < 0;
    r->req_.data = r.get();
    if ((r->a_.file = a.file) != nullptr) {
        a.file->retain();
    }
    if ((r->a_.in = a.in) != nullptr) {
        a.in->retain();
    }
    r->waiter_ = &w;
    if (may_read_now && r->read_now()) {
        // Done without suspending: nothing to hook; the caller finds `w` notified.
        r->waiter_ = nullptr;
        sched.end_wait(w, wait_status::notified);
        return r.release();
    }
    status = r->submit();
    if (status < 0) {
        r->waiter_ = nullptr;
        r.release()->finish();
        return nullptr;
    }
    r->uses_position_ = op == fs_op::sendfile ||
                        ((op == fs_op::read || op == fs_op::write) && a.offset < 0);
    if (r->uses_position_) {
        ++a.file->position_users;
    }
    w.on_abandon(&fs_request::abandon, r.get());
    if (a.file != nullptr) {
        a.file->waiters.push(w);  // closing the file wakes the fiber
    }
    return r.release();
}

// The fast path of a read: preadv2(RWF_NOWAIT) on the loop's thread, straight into the
// request's buffer. It returns what the page cache holds without ever blocking, and fails
// with EAGAIN when the first byte is not cached. Returns true when the read is complete
// (result_ and text_ set); false leaves the read to the threadpool, done as it always was.
//
// A blocking read of a regular file returns fewer bytes than asked only at the end of the
// file, and callers may rely on it; RWF_NOWAIT also stops short where the cached part
// ends. So a short result is followed by another call: 0 there confirms the end, more
// bytes are appended, and EAGAIN means the rest is not cached. Then the threadpool reads
// the rest at offset + done_ when the read has an offset. Without one, the file position
// has moved by what was read: it is moved back and the threadpool reads the whole, as one
// read(2), exactly the old operation; so no other read of the file can slip in between
// two halves (only the file's own requests could move the position meanwhile, and while
// any is in flight the fast path is skipped: fs_file::position_users).
bool fs_request::read_now() noexcept {
#if LUV_READ_NOWAIT
    fs_file& f = *a_.file;
    const bool at_position = a_.offset < 0;
    // A read of 0 bytes keeps its old path: read(2) of nothing still reports EBADF or
    // EISDIR, where RWF_NOWAIT might answer otherwise.
    if (text_.empty() || (at_position && f.position_users > 0) || !f.may_read_now()) {
        return false;
    }
    std::size_t got = 0;
    for (;;) {
        iovec iov{text_.data() + got, text_.size() - got};
        const off_t at =
            at_position ? -1 : static_cast<off_t>(a_.offset) + static_cast<off_t>(got);
        const ssize_t n = ::preadv2(f.fd(), &iov, 1, at, RWF_NOWAIT);
        if (n > 0) {
            got += static_cast<std::size_t>(n);
            if (got < text_.size()) {
                continue;  // the end of the file, or of the cached part: the next call says
            }
            break;
        }
        if (n == 0) {
            break;  // the end of the file
        }
        const int err = errno;
        if (err == EOPNOTSUPP || err == EINVAL || err == ENOSYS) {
            f.cannot_read_now();  // the filesystem (or the kernel) does not support it
        }
        // EAGAIN: not cached. Any other error: the threadpool's read reports it, as before.
        if (got > 0) {
            if (!at_position) {
                done_ = static_cast<std::int64_t>(got);
            } else if (::lseek(f.fd(), -static_cast<off_t>(got), SEEK_CUR) < 0) {
                // Cannot happen to a regular file; should it, the rest follows at the
                // position, which is where it must come from.
                done_ = static_cast<std::int64_t>(got);
            }
        }
        return false;
    }
    text_.resize(got);
    result_ = static_cast<std::int64_t>(got);
    return true;
#else
    return false;
#endif
}

int fs_request::submit() noexcept {
    uv_fs_t* q = &req_;
    const char* p = path_.c_str();
    const char* p2 = path2_.c_str();
    const auto cb = &fs_request::on_done;
    const auto uid = static_cast<uv_uid_t>(a_.uid);
    const auto gid = static_cast<uv_gid_t>(a_.gid);
    const int fd = a_.file != nullptr ? a_.file->fd() : -1;
    switch (op_) {
    case fs_op::open: return uv_fs_open(loop_, q, p, a_.flags, a_.mode, cb);
    case fs_op::unlink: return uv_fs_unlink(loop_, q, p, cb);
    case fs_op::mkdir: return uv_fs_mkdir(loop_, q, p, a_.mode, cb);
    case fs_op::rmdir: return uv_fs_rmdir(loop_, q, p, cb);
    case fs_op::scandir: return uv_fs_scandir(loop_, q, p, 0, cb);
    case fs_op::stat: return uv_fs_stat(loop_, q, p, cb);
    case fs_op::lstat: return uv_fs_lstat(loop_, q, p, cb);
    case fs_op::rename: return uv_fs_rename(loop_, q, p, p2, cb);
    case fs_op::chmod: return uv_fs_chmod(loop_, q, p, a_.mode, cb);
    case fs_op::chown: return uv_fs_chown(loop_, q, p, uid, gid, cb);
    case fs_op::utime: return uv_fs_utime(loop_, q, p, a_.atime, a_.mtime, cb);
    case fs_op::link: return uv_fs_link(loop_, q, p, p2, cb);
    case fs_op::symlink: return uv_fs_symlink(loop_, q, p, p2, 0, cb);
    case fs_op::readlink: return uv_fs_readlink(loop_, q, p, cb);
    case fs_op::realpath: return uv_fs_realpath(loop_, q, p, cb);
    case fs_op::mkdtemp: return uv_fs_mkdtemp(loop_, q, p, cb);
    case fs_op::copyfile: return uv_fs_copyfile(loop_, q, p, p2, a_.flags, cb);
    case fs_op::access: return uv_fs_access(loop_, q, p, a_.mode, cb);
    case fs_op::read: {
        // done_ > 0: the fast path read that much at an explicit offset (or, if it could
        // not move the position back, at the position, which has moved on by as much).
        const uv_buf_t b = uv_buf_init(text_.data() + done_,
                                       static_cast<unsigned>(text_.size() - done_));
        return uv_fs_read(loop_, q, fd, &b, 1, a_.offset < 0 ? -1 : a_.offset + done_, cb);
    }
    case fs_op::write: {
        const auto left = static_cast<std::int64_t>(data_.size()) - done_;
        const uv_buf_t b = uv_buf_init(data_.data() + done_,
                                       static_cast<unsigned>(std::min(left, max_io)));
        return uv_fs_write(loop_, q, fd, &b, 1, a_.offset, cb);
    }
    case fs_op::fstat: return uv_fs_fstat(loop_, q, fd, cb);
    case fs_op::fsync: return uv_fs_fsync(loop_, q, fd, cb);
    case fs_op::fdatasync: return uv_fs_fdatasync(loop_, q, fd, cb);
    case fs_op::ftruncate: return uv_fs_ftruncate(loop_, q, fd, a_.offset, cb);
    case fs_op::futime: return uv_fs_futime(loop_, q, fd, a_.atime, a_.mtime, cb);
    case fs_op::fchmod: return uv_fs_fchmod(loop_, q, fd, a_.mode, cb);
    case fs_op::fchown: return uv_fs_fchown(loop_, q, fd, uid, gid, cb);
    case fs_op::sendfile:
        if (sizing_) {
            return uv_fs_fstat(loop_, q, a_.in->fd(), cb);
        }
        return uv_fs_sendfile(loop_, q, fd, a_.in->fd(), a_.offset,
                              static_cast<std::size_t>(std::min(a_.length, max_io)), cb);
    }
    return UV_EINVAL;
}

// Takes the outcome of the step that just ended, releases libuv's memory for it, and
// starts the next step if there is one (the rest of a short write or sendfile, or the
// sendfile after the fstat that found its length). Returns true if a step was started.
// Further steps start only while someone waits.
bool fs_request::step_done() noexcept {
    std::int64_t res = req_.result;
    bool more = false;
    switch (op_) {
    case fs_op::stat:
    case fs_op::lstat:
    case fs_op::fstat:
        if (res >= 0) {
            stat_ = convert(req_.statbuf);
        }
        break;
    case fs_op::scandir:
        if (res >= 0) {
            try {
                uv_dirent_t ent;
                while (uv_fs_scandir_next(&req_, &ent) == 0) {
                    entries_.push_back({ent.name, static_cast<luv::fs::file_type>(ent.type)});
                }
                std::sort(entries_.begin(), entries_.end(),
                          [](const auto& a, const auto& b) { return a.name < b.name; });
            } catch (const std::bad_alloc&) {
                res = UV_ENOMEM;
            }
        }
        break;
    case fs_op::readlink:
    case fs_op::realpath:
    case fs_op::mkdtemp:
        if (res >= 0) {
            try {
                text_ = op_ == fs_op::mkdtemp ? req_.path : static_cast<const char*>(req_.ptr);
            } catch (const std::bad_alloc&) {
                res = UV_ENOMEM;
            }
        }
        break;
    case fs_op::read:
        // After the fast path's first done_ bytes the result is both parts; an error of
        // the rest is then left for the next call, as a write reports the bytes it moved.
        if (done_ > 0) {
            res = done_ + std::max<std::int64_t>(res, 0);
        }
        text_.resize(res >= 0 ? static_cast<std::size_t>(res) : 0);
        break;
    case fs_op::write:
        if (res > 0) {
            done_ += res;
            a_.offset += a_.offset >= 0 ? res : 0;
            more = done_ < static_cast<std::int64_t>(data_.size());
        }
        break;
    case fs_op::sendfile:
        if (sizing_) {
            sizing_ = false;
            if (res >= 0) {
                const auto size = static_cast<std::int64_t>(req_.statbuf.st_size);
                a_.length = size > a_.offset ? size - a_.offset : 0;
                more = a_.length > 0;
                res = 0;
            }
        } else if (res > 0) {
            done_ += res;
            a_.offset += res;
            a_.length -= res;
            more = a_.length > 0;
        }
        break;
    case fs_op::open:
        owns_fd_ = res >= 0;
        break;
    default:
        break;
    }
    uv_fs_req_cleanup(&req_);
    if (more && waiter_ != nullptr) {
        const int rc = submit();
        if (rc == 0) {
            return true;
        }
        res = rc;
    }
    if (op_ == fs_op::write || op_ == fs_op::sendfile) {
        // Bytes already moved are reported; the error that stopped them comes next time.
        result_ = res < 0 && done_ == 0 ? res : done_;
    } else {
        result_ = res;
    }
    return false;
}

void fs_request::on_done(uv_fs_t* req) {
    auto* r = static_cast<fs_request*>(req->data);
    if (r->step_done()) {
        return;
    }
    if (r->waiter_ == nullptr) {
        r->finish();  // nobody waits any more
        return;
    }
    // Notify first: it takes the waiter out of the file's queue, which the release below
    // may free along with the file (a close deferred until now happens here, not when
    // the fiber resumes).
    std::exchange(r->waiter_, nullptr)->notify();
    r->release_files();
}

void fs_request::abandon(waiter&, void* self) {
    auto* r = static_cast<fs_request*>(self);
    r->waiter_ = nullptr;
    // Succeeds only if the request has not started; either way on_done still runs.
    uv_cancel(reinterpret_cast<uv_req_t*>(&r->req_));
}

int fs_request::take_fd() noexcept {
    owns_fd_ = false;
    return static_cast<int>(result_);
}

void fs_request::finish() noexcept {
    if (owns_fd_) {
        close_now(static_cast<int>(result_));  // opened for a fiber that stopped waiting
    }
    release_files();
    delete this;
}

void fs_request::release_files() noexcept {
    if (auto* f = std::exchange(a_.file, nullptr); f != nullptr) {
        if (uses_position_) {
            --f->position_users;  // libuv is done: the system call has returned
        }
        f->release();
    }
    if (auto* f = std::exchange(a_.in, nullptr); f != nullptr) {
        f->release();
    }
}

const char* fs_request::what(char* buf, std::size_t size) const noexcept {
    if (path2_.empty()) {
        std::snprintf(buf, size, "%s", path_.c_str());
    } else {
        std::snprintf(buf, size, "%s -> %s", path_.c_str(), path2_.c_str());
    }
    return buf;
}

// ---- odds and ends ---------------------------------------------------------------------

int open_flags(std::string_view mode) noexcept {
    int flags = 0;
    bool plus = false, excl = false;
    char kind = 0;
    for (const char c : mode) {
        if (c == 'b') {
            continue;
        }
        if (kind == 0 && (c == 'r' || c == 'w' || c == 'a')) {
            kind = c;
        } else if (kind != 0 && c == '+' && !plus) {
            plus = true;
        } else if (kind != 0 && kind != 'r' && c == 'x' && !excl) {
            excl = true;
        } else {
            return -1;
        }
    }
    const int rw = plus ? UV_FS_O_RDWR : UV_FS_O_WRONLY;
    switch (kind) {
    case 'r': flags = plus ? UV_FS_O_RDWR : UV_FS_O_RDONLY; break;
    case 'w': flags = rw | UV_FS_O_CREAT | UV_FS_O_TRUNC; break;
    case 'a': flags = rw | UV_FS_O_CREAT | UV_FS_O_APPEND; break;
    default: return -1;
    }
    return excl ? flags | UV_FS_O_EXCL : flags;
}

const char* type_name(luv::fs::file_type t) noexcept {
    constexpr const char* names[] = {"unknown", "file", "directory", "link",
                                     "fifo",    "socket", "char",    "block"};
    const auto i = static_cast<std::size_t>(t);
    return i < std::size(names) ? names[i] : "unknown";
}

namespace {

template <class F>
int grow_into(std::string& out, F call) {
    std::size_t size = 4096;
    for (;;) {
        out.resize(size);
        std::size_t n = size;
        const int rc = call(out.data(), &n);
        if (rc == UV_ENOBUFS && n > size) {
            size = n;  // uv_cwd says how much it needs
            continue;
        }
        if (rc == UV_ENOBUFS && size < (1u << 20)) {
            size *= 4;
            continue;
        }
        out.resize(rc == 0 ? n : 0);
        return rc;
    }
}

}  // namespace

int fs_cwd(std::string& out) { return grow_into(out, &uv_cwd); }

int fs_chdir(const char* path) noexcept { return uv_chdir(path); }

int fs_exepath(std::string& out) {
    // uv_exepath truncates instead of failing when the buffer is short.
    return grow_into(out, [](char* buf, std::size_t* n) {
        const std::size_t size = *n;
        const int rc = uv_exepath(buf, n);
        return rc == 0 && *n + 1 >= size ? UV_ENOBUFS : rc;
    });
}

}  // namespace luv::detail
