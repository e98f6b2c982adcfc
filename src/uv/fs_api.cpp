// The C++ API luv::fs (include/luv/fs.hpp), on the libuv side in fs.cpp.
#include "uv/fs.hpp"

#include <sys/stat.h>

#include <algorithm>
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

// ---- the C++ API -----------------------------------------------------------------------

namespace luv::fs {
namespace {

using detail::fs_args;
using detail::fs_op;
using detail::fs_request;

const char* verb(fs_op op) noexcept {
    constexpr const char* names[] = {
        "open", "unlink", "mkdir", "rmdir", "scandir", "stat", "lstat", "rename", "chmod",
        "chown", "utime", "link", "symlink", "readlink", "realpath", "mkdtemp", "copyfile",
        "access", "read", "write", "fstat", "fsync", "fdatasync", "ftruncate", "futime",
        "fchmod", "fchown", "sendfile",
    };
    static_assert(std::size(names) == static_cast<std::size_t>(fs_op::sendfile) + 1);
    return names[static_cast<std::size_t>(op)];
}

// "open /nowhere/x", "rename /a -> /b": what() then reads
// "open /nowhere/x: ENOENT: no such file or directory".
std::string context(fs_op op, const fs_args& a) {
    std::string s = verb(op);
    s += ' ';
    if (op == fs_op::sendfile) {
        s += a.in->path() + " -> " + a.file->path();
    } else {
        s += a.path.empty() && a.file != nullptr ? std::string_view(a.file->path()) : a.path;
        if (!a.path2.empty()) {
            s += " -> ";
            s += a.path2;
        }
    }
    return s;
}

// A request whose wait was notified; freed with the scope.
class done_request {
public:
    explicit done_request(fs_request* r) noexcept : r_(r) {}
    done_request(done_request&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    done_request& operator=(done_request&&) = delete;
    ~done_request() {
        if (r_ != nullptr) {
            r_->finish();
        }
    }
    fs_request* operator->() const noexcept { return r_; }

private:
    fs_request* r_;
};

// Runs `op` as the calling fiber's wait and returns the request, which succeeded.
done_request run(fs_op op, const fs_args& a) {
    detail::scheduler& sched = runtime::get().scheduler();
    detail::waiter w;
    fs_request* r = nullptr;
    if (sched.begin_wait(w)) {
        int status = 0;
        r = fs_request::start(sched, w, op, a, status);
        if (r == nullptr) {
            sched.end_wait(w);
            throw system_error(status, context(op, a));
        }
        // Any way out but a notify (a cancel, forced_unwind) leaves the request to free
        // itself once libuv is done with it.
        detail::suspend_checked(sched, w);
    }
    if (w.status() != detail::wait_status::notified) {
        throw system_error(UV_ECANCELED, context(op, a));
    }
    done_request d(r);
    if (r->result() < 0) {
        throw system_error(static_cast<int>(r->result()), context(op, a));
    }
    return d;
}

}  // namespace

file::file(std::string_view path, std::string_view mode, int perm) {
    const int flags = detail::open_flags(mode);
    if (flags < 0) {
        throw std::invalid_argument("luv::fs::file: invalid mode '" + std::string(mode) + "'");
    }
    done_request d = run(fs_op::open, {.path = path, .flags = flags, .mode = perm});
    f_ = detail::fs_file::adopt(static_cast<int>(d->result()), path);
    d->take_fd();
}

file::~file() {
    if (f_ != nullptr) {
        std::exchange(f_, nullptr)->close();
    }
}

file::file(file&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}

file& file::operator=(file&& o) noexcept {
    if (this != &o) {
        if (f_ != nullptr) {
            f_->close();
        }
        f_ = std::exchange(o.f_, nullptr);
    }
    return *this;
}

detail::fs_file& file::open_file() const {
    if (f_ == nullptr) {
        throw system_error(UV_EBADF, "luv::fs::file is closed");
    }
    return *f_;
}

std::string file::read(std::size_t len, std::int64_t offset) {
    const auto n = static_cast<std::int64_t>(std::min<std::size_t>(len, INT64_MAX));
    return std::move(run(fs_op::read, {.file = &open_file(), .offset = offset, .length = n})
                         ->text());
}

std::size_t file::write(std::string_view data, std::int64_t offset) {
    return static_cast<std::size_t>(
        run(fs_op::write, {.data = data, .file = &open_file(), .offset = offset})->result());
}

stat_info file::stat() { return run(fs_op::fstat, {.file = &open_file()})->stat(); }

void file::sync() { run(fs_op::fsync, {.file = &open_file()}); }

void file::datasync() { run(fs_op::fdatasync, {.file = &open_file()}); }

void file::truncate(std::int64_t len) {
    run(fs_op::ftruncate, {.file = &open_file(), .offset = len});
}

void file::utime(double atime, double mtime) {
    run(fs_op::futime, {.file = &open_file(), .atime = atime, .mtime = mtime});
}

void file::chmod(int mode) { run(fs_op::fchmod, {.file = &open_file(), .mode = mode}); }

void file::chown(long long uid, long long gid) {
    run(fs_op::fchown, {.file = &open_file(), .uid = uid, .gid = gid});
}

void file::close() {
    if (f_ != nullptr) {
        if (const int rc = std::exchange(f_, nullptr)->close(); rc < 0) {
            throw system_error(rc, "close");
        }
    }
}

int file::fd() const noexcept { return f_ != nullptr ? f_->fd() : -1; }

stat_info stat(std::string_view path) { return run(fs_op::stat, {.path = path})->stat(); }

stat_info lstat(std::string_view path) { return run(fs_op::lstat, {.path = path})->stat(); }

void unlink(std::string_view path) { run(fs_op::unlink, {.path = path}); }

void mkdir(std::string_view path, int mode) { run(fs_op::mkdir, {.path = path, .mode = mode}); }

void rmdir(std::string_view path) { run(fs_op::rmdir, {.path = path}); }

std::vector<std::string> readdir(std::string_view path) {
    std::vector<std::string> names;
    for (dir_entry& e : scandir(path)) {
        names.push_back(std::move(e.name));
    }
    return names;
}

std::vector<dir_entry> scandir(std::string_view path) {
    return std::move(run(fs_op::scandir, {.path = path})->entries());
}

void rename(std::string_view from, std::string_view to) {
    run(fs_op::rename, {.path = from, .path2 = to});
}

std::uint64_t sendfile(file& out, file& in, std::int64_t offset, std::int64_t length) {
    const fs_args a{.file = &out.open_file(), .in = &in.open_file(),
                    .offset = offset < 0 ? 0 : offset, .length = length};
    return static_cast<std::uint64_t>(run(fs_op::sendfile, a)->result());
}

void chmod(std::string_view path, int mode) { run(fs_op::chmod, {.path = path, .mode = mode}); }

void chown(std::string_view path, long long uid, long long gid) {
    run(fs_op::chown, {.path = path, .uid = uid, .gid = gid});
}

void utime(std::string_view path, double atime, double mtime) {
    run(fs_op::utime, {.path = path, .atime = atime, .mtime = mtime});
}

void link(std::string_view target, std::string_view path) {
    run(fs_op::link, {.path = target, .path2 = path});
}

void symlink(std::string_view target, std::string_view path) {
    run(fs_op::symlink, {.path = target, .path2 = path});
}

std::string readlink(std::string_view path) {
    return std::move(run(fs_op::readlink, {.path = path})->text());
}

std::string realpath(std::string_view path) {
    return std::move(run(fs_op::realpath, {.path = path})->text());
}

std::string mkdtemp(std::string_view tmpl) {
    return std::move(run(fs_op::mkdtemp, {.path = tmpl})->text());
}

void copyfile(std::string_view from, std::string_view to, int flags) {
    run(fs_op::copyfile, {.path = from, .path2 = to, .flags = flags});
}

bool access(std::string_view path, int mode) {
    try {
        run(fs_op::access, {.path = path, .mode = mode});
    } catch (const system_error& e) {
        if (e.status() == UV_ECANCELED || e.status() == UV_ENOMEM) {
            throw;
        }
        return false;
    }
    return true;
}

std::string cwd() {
    std::string out;
    if (const int rc = detail::fs_cwd(out); rc < 0) {
        throw system_error(rc, "cwd");
    }
    return out;
}

void chdir(std::string_view path) {
    const std::string p(path);
    if (const int rc = detail::fs_chdir(p.c_str()); rc < 0) {
        throw system_error(rc, "chdir " + p);
    }
}

std::string exepath() {
    std::string out;
    if (const int rc = detail::fs_exepath(out); rc < 0) {
        throw system_error(rc, "exepath");
    }
    return out;
}

}  // namespace luv::fs
