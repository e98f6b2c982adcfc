// luv/fiber.hpp - C++ fibers on the same scheduler as Lua fibers.
//
//   luv::runtime rt;
//   auto f = luv::spawn([] { luv::this_fiber::sleep_for(10ms); return 42; });
//   int v = f.join();   // from the thread: runs the loop until f is done
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "luv/error.hpp"
#include "luv/runtime.hpp"

namespace luv {

enum class fiber_status { ready, running, suspended, dead };

/// Thrown out of a wait when the fiber's runtime is being destroyed, to unwind the
/// fiber's stack. Not a std::exception: a `catch (...)` must rethrow it.
struct forced_unwind {};

namespace detail {

class native_fiber;

struct task {
    virtual ~task() = default;
    virtual void run() = 0;
};

template <class F>
struct task_of final : task {
    explicit task_of(F&& f) : fn(std::move(f)) {}
    void run() override { fn(); }
    F fn;
};

native_fiber* spawn_native(runtime& rt, std::unique_ptr<task> body);
void retain(native_fiber* f) noexcept;
void release(native_fiber* f) noexcept;
void join_native(native_fiber* f);
bool cancel_native(native_fiber* f) noexcept;
fiber_status status_native(const native_fiber* f) noexcept;

}  // namespace detail

/// A handle to a C++ fiber. Copies refer to the same fiber; the fiber runs to its end
/// whether or not a handle is kept.
class basic_fiber {
public:
    basic_fiber() noexcept = default;
    basic_fiber(const basic_fiber& o) noexcept : f_(o.f_) { detail::retain(f_); }
    basic_fiber(basic_fiber&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
    basic_fiber& operator=(basic_fiber o) noexcept {
        std::swap(f_, o.f_);
        return *this;
    }
    ~basic_fiber() { detail::release(f_); }

    explicit operator bool() const noexcept { return f_ != nullptr; }
    /// Never suspends.
    fiber_status status() const noexcept { return detail::status_native(f_); }
    /// Wakes the fiber's current wait with luv::system_error(UV_ECANCELED), or makes
    /// its next wait fail that way. Returns false if it already ended. Never suspends.
    bool cancel() noexcept { return detail::cancel_native(f_); }

protected:
    explicit basic_fiber(detail::native_fiber* f) noexcept : f_(f) {}
    /// Suspends the calling fiber (or runs the loop from the thread) until the fiber
    /// ends, then rethrows its exception if it threw.
    void wait_end() const { detail::join_native(f_); }

    detail::native_fiber* f_ = nullptr;
};

template <class T>
class fiber : public basic_fiber {
public:
    fiber() noexcept = default;
    /// Suspends the calling fiber until this one ends; returns its result or rethrows
    /// its exception. May be called more than once, from any fiber or the thread; a
    /// result that cannot be copied (a std::unique_ptr) is moved out by the first join.
    T join() const {
        wait_end();
        if constexpr (std::is_copy_constructible_v<T>) {
            return **result_;
        } else {
            return std::move(**result_);
        }
    }

private:
    template <class F, class... Args>
    friend auto spawn(F&& f, Args&&... args);
    fiber(detail::native_fiber* f, std::shared_ptr<std::optional<T>> r) noexcept
        : basic_fiber(f), result_(std::move(r)) {}
    std::shared_ptr<std::optional<T>> result_;
};

template <>
class fiber<void> : public basic_fiber {
public:
    fiber() noexcept = default;
    /// Suspends the calling fiber until this one ends; rethrows its exception.
    void join() const { wait_end(); }

private:
    template <class F, class... Args>
    friend auto spawn(F&& f, Args&&... args);
    explicit fiber(detail::native_fiber* f) noexcept : basic_fiber(f) {}
};

/// Starts `f(args...)` as a fiber on the calling thread's runtime and queues it; it
/// runs when the caller suspends. An exception it throws is kept for join(), or printed
/// to stderr if nobody is joining when it ends. Never suspends.
template <class F, class... Args>
auto spawn(F&& f, Args&&... args) {
    using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;
    auto call = [fn = std::forward<F>(f),
                 tup = std::make_tuple(std::forward<Args>(args)...)]() mutable -> R {
        return std::apply(fn, std::move(tup));
    };
    if constexpr (std::is_void_v<R>) {
        using T = detail::task_of<decltype(call)>;
        return fiber<void>(detail::spawn_native(runtime::get(), std::make_unique<T>(std::move(call))));
    } else {
        auto slot = std::make_shared<std::optional<R>>();
        auto body = [call = std::move(call), slot]() mutable { slot->emplace(call()); };
        using T = detail::task_of<decltype(body)>;
        auto* nf = detail::spawn_native(runtime::get(), std::make_unique<T>(std::move(body)));
        return fiber<R>(nf, std::move(slot));
    }
}

namespace this_fiber {

/// Puts the caller at the tail of the ready queue and runs the others. From the thread
/// itself, runs the fibers that are ready. Suspends the calling fiber.
void yield();

/// Sleeps for at least `d` (millisecond resolution). Throws luv::system_error
/// (UV_ECANCELED) if the fiber is cancelled. Suspends the calling fiber.
void sleep_for(std::chrono::milliseconds d);

template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
    sleep_for(std::chrono::ceil<std::chrono::milliseconds>(d));
}

/// True inside a fiber (C++ or Lua), false on the thread's own stack. Never suspends.
bool in_fiber() noexcept;

}  // namespace this_fiber

}  // namespace luv
