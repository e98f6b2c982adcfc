// C++ fibers: a callable run on a native stack of its own, parked at every wait.
#pragma once

#include <exception>
#include <memory>

#include "core/fiber.hpp"
#include "luv/fiber.hpp"

namespace luv::detail {

class native_fiber final : public fiber_base {
public:
    explicit native_fiber(std::unique_ptr<task> body);

    void retain() noexcept { ++refs_; }
    void release() noexcept;
    std::exception_ptr error() const noexcept { return error_; }
    bool started() const noexcept { return started_; }
    /// Makes every wait of the fiber throw forced_unwind from now on, and ends its
    /// current one. Never suspends.
    void start_unwinding() noexcept;

    native_fiber* next_live = nullptr;
    native_fiber* prev_live = nullptr;

protected:
    slice run_slice() override;
    void on_finished(bool joined) noexcept override;

private:
    ~native_fiber() override;

    std::unique_ptr<task> body_;
    std::exception_ptr error_;
    unsigned refs_ = 2;  // the spawner's handle, and the fiber's own until it ends
    bool started_ = false;
};

/// Parks the current fiber until `w` (already begun) ends; throws forced_unwind when a
/// C++ fiber is being unwound. Suspends the calling fiber.
wait_status suspend_checked(scheduler& sched, waiter& w);

/// Makes every live C++ fiber of `sched` unwind, and runs them until they have.
void unwind_native_fibers(scheduler& sched);

}  // namespace luv::detail
