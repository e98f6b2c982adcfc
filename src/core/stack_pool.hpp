// Native stacks for fibers: reserved generously, committed lazily, guarded, pooled.
//
// A fiber only holds a stack while it is parked inside C frames (see scheduler.hpp), so
// the number of stacks alive is small in practice; the pool keeps a few free ones so
// that parking and resuming do not mmap/munmap every time. When a pool goes away (its
// runtime, its thread ended), up to 16 of its free stacks are kept process-wide for the
// next pool that needs one, so short-lived threads (luv.thread) do not map their own.
#pragma once

#include <cstddef>

namespace luv::detail {

struct stack {
    char* mapping;        // the whole mmap, guard page first (lowest address)
    std::size_t mapping_size;
    stack* next_free;     // pool free list
    char* top() const noexcept { return mapping + mapping_size; }
    std::size_t usable() const noexcept;
    char* bottom() const noexcept;  // lowest usable address, just above the guard
};

class stack_pool {
public:
    /// Usable size of each stack. Lua allows 200 nested C calls (LUAI_MAXCCALLS); the
    /// heaviest ones (string.gsub callbacks) take ~2.5 KiB each, so 1 MiB leaves room
    /// for C libraries called from Lua. Pages are only committed when touched.
    static constexpr std::size_t default_stack_size = 1024 * 1024;
    /// Each stack costs two kernel mappings (stack + guard). The default
    /// vm.max_map_count is 65530 and a process that hits it aborts in odd places, so
    /// the pool refuses to hold more than this many stacks at once.
    static constexpr std::size_t max_stacks = 16384;
    /// Free stacks kept for reuse. Each keeps the few pages it touched; each one not
    /// kept costs a munmap (tens of microseconds on a VM) when many fibers unpark.
    static constexpr std::size_t max_cached = 256;

    explicit stack_pool(std::size_t stack_size = default_stack_size) noexcept;
    ~stack_pool();
    stack_pool(const stack_pool&) = delete;
    stack_pool& operator=(const stack_pool&) = delete;

    /// Returns a stack, or nullptr when the limit is reached or the kernel refuses
    /// (errno tells which). Never suspends.
    stack* acquire() noexcept;
    void release(stack* s) noexcept;

    std::size_t in_use() const noexcept { return in_use_; }
    std::size_t cached() const noexcept { return cached_; }
    std::size_t stack_size() const noexcept { return stack_size_; }

private:
    static void unmap(stack* s) noexcept;

    std::size_t stack_size_;
    stack* free_ = nullptr;
    std::size_t cached_ = 0;
    std::size_t in_use_ = 0;
};

}  // namespace luv::detail
