#include "core/stack_pool.hpp"

#include <cerrno>
#include <mutex>
#include <new>

#include <sys/mman.h>
#include <unistd.h>

namespace luv::detail {
namespace {

std::size_t page_size() noexcept {
    static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return size;
}

// Free stacks of runtimes that have ended, for the next runtime of any thread: a thread
// that runs a Lua state for a moment (luv.thread) would otherwise map, touch and unmap a
// stack of its own, and every munmap in a process with several threads costs a TLB
// shootdown on each CPU. A few are kept; beyond that, they are unmapped.
constexpr std::size_t max_spare = 16;
std::mutex spare_lock;
stack* spare_head = nullptr;
std::size_t spare_count = 0;

stack* take_spare(std::size_t mapping_size) noexcept {
    std::lock_guard<std::mutex> guard(spare_lock);
    stack** link = &spare_head;
    for (stack* s = spare_head; s != nullptr; link = &s->next_free, s = s->next_free) {
        if (s->mapping_size == mapping_size) {
            *link = s->next_free;
            --spare_count;
            return s;
        }
    }
    return nullptr;
}

bool give_spare(stack* s) noexcept {
    std::lock_guard<std::mutex> guard(spare_lock);
    if (spare_count >= max_spare) {
        return false;
    }
    s->next_free = spare_head;
    spare_head = s;
    ++spare_count;
    return true;
}

}  // namespace

std::size_t stack::usable() const noexcept { return mapping_size - page_size(); }
char* stack::bottom() const noexcept { return mapping + page_size(); }

stack_pool::stack_pool(std::size_t stack_size) noexcept
    : stack_size_((stack_size + page_size() - 1) / page_size() * page_size()) {}

stack_pool::~stack_pool() {
    while (free_ != nullptr) {
        stack* s = free_;
        free_ = s->next_free;
        if (!give_spare(s)) {
            unmap(s);
        }
    }
}

stack* stack_pool::acquire() noexcept {
    if (free_ != nullptr) {
        stack* s = free_;
        free_ = s->next_free;
        --cached_;
        ++in_use_;
        return s;
    }
    if (in_use_ >= max_stacks) {
        errno = EAGAIN;
        return nullptr;
    }
    const std::size_t size = stack_size_ + page_size();
    if (stack* s = take_spare(size)) {
        ++in_use_;
        return s;
    }
    // MAP_NORESERVE: the reservation is address space only; pages are committed as the
    // fiber touches them, so an idle 1 MiB stack costs a few KiB of RSS.
    void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) {
        return nullptr;
    }
    if (mprotect(map, page_size(), PROT_NONE) != 0) {
        const int saved = errno;
        munmap(map, size);
        errno = saved;
        return nullptr;
    }
    auto* s = new (std::nothrow) stack{static_cast<char*>(map), size, nullptr};
    if (s == nullptr) {
        munmap(map, size);
        errno = ENOMEM;
        return nullptr;
    }
    ++in_use_;
    return s;
}

void stack_pool::release(stack* s) noexcept {
    --in_use_;
    if (cached_ >= max_cached) {
        unmap(s);
        return;
    }
    s->next_free = free_;
    free_ = s;
    ++cached_;
}

void stack_pool::unmap(stack* s) noexcept {
    munmap(s->mapping, s->mapping_size);
    delete s;
}

}  // namespace luv::detail
