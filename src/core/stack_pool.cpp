#include "core/stack_pool.hpp"

#include <cerrno>
#include <new>

#include <sys/mman.h>
#include <unistd.h>

namespace luv::detail {
namespace {

std::size_t page_size() noexcept {
    static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return size;
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
        unmap(s);
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
