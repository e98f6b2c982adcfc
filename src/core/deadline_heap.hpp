// Binary min-heap of waiters by deadline. One per scheduler, driven by a single
// uv_timer_t, so that 100,000 sleeping fibers cost a pointer each instead of a libuv
// handle each, and every kind of wait gets a timeout for free.
#pragma once

#include <cstdint>
#include <vector>

#include "core/waiter.hpp"

namespace luv::detail {

class deadline_heap {
public:
    bool empty() const noexcept { return heap_.empty(); }
    std::size_t size() const noexcept { return heap_.size(); }
    waiter* top() const noexcept { return heap_.front(); }
    std::uint64_t earliest() const noexcept { return heap_.front()->deadline_; }

    void push(waiter& w) {
        // Fewer than 2^32 waiters can exist: each lives in a fiber or a frame.
        w.heap_index_ = static_cast<std::uint32_t>(heap_.size());
        heap_.push_back(&w);
        sift_up(w.heap_index_);
    }

    void remove(waiter& w) noexcept {
        const std::size_t i = w.heap_index_;
        if (i == waiter::no_heap_index) {
            return;
        }
        w.heap_index_ = waiter::no_heap_index;
        waiter* last = heap_.back();
        heap_.pop_back();
        if (last == &w) {
            return;
        }
        heap_[i] = last;
        last->heap_index_ = static_cast<std::uint32_t>(i);
        sift_down(i);
        sift_up(last->heap_index_);
    }

private:
    bool less(std::size_t a, std::size_t b) const noexcept {
        return heap_[a]->deadline_ < heap_[b]->deadline_;
    }
    void swap(std::size_t a, std::size_t b) noexcept {
        std::swap(heap_[a], heap_[b]);
        heap_[a]->heap_index_ = static_cast<std::uint32_t>(a);
        heap_[b]->heap_index_ = static_cast<std::uint32_t>(b);
    }
    void sift_up(std::size_t i) noexcept {
        while (i > 0) {
            const std::size_t parent = (i - 1) / 2;
            if (!less(i, parent)) {
                break;
            }
            swap(i, parent);
            i = parent;
        }
    }
    void sift_down(std::size_t i) noexcept {
        for (;;) {
            const std::size_t left = 2 * i + 1;
            if (left >= heap_.size()) {
                break;
            }
            std::size_t child = left;
            if (left + 1 < heap_.size() && less(left + 1, left)) {
                child = left + 1;
            }
            if (!less(child, i)) {
                break;
            }
            swap(i, child);
            i = child;
        }
    }

    std::vector<waiter*> heap_;
};

}  // namespace luv::detail
