#include "core/overflow_guard.hpp"

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

namespace luv::detail {
namespace {

constexpr std::size_t altstack_size = 64 * 1024;
// A fault this close to the stack pointer is the stack running into its guard page.
constexpr std::uintptr_t near_sp = 64 * 1024;

std::atomic<bool> handler_installed{false};
struct sigaction previous_action;
thread_local void* own_altstack = nullptr;

std::uintptr_t stack_pointer(const void* context) {
    const auto* uc = static_cast<const ucontext_t*>(context);
#if defined(__x86_64__)
    return static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
    return static_cast<std::uintptr_t>(uc->uc_mcontext.sp);
#else
    (void)uc;
    return 0;
#endif
}

void on_segv(int, siginfo_t* info, void* context) {
    const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
    const std::uintptr_t sp = stack_pointer(context);
    if (sp != 0 && addr + near_sp >= sp && addr <= sp + near_sp) {
        static const char message[] =
            "luv: fatal: native stack overflow (a fiber's 1 MiB stack or the thread's own "
            "stack is exhausted: runaway recursion in C code)\n";
        (void)!write(STDERR_FILENO, message, sizeof message - 1);
    }
    // Let the fault happen again with the previous disposition: the process dies of
    // SIGSEGV (and dumps core) exactly as it would have without us.
    sigaction(SIGSEGV, &previous_action, nullptr);
}

}  // namespace

void install_overflow_guard() noexcept {
    stack_t current{};
    if (sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) != 0) {
        void* mem = std::malloc(altstack_size);
        if (mem != nullptr) {
            stack_t ss{};
            ss.ss_sp = mem;
            ss.ss_size = altstack_size;
            if (sigaltstack(&ss, nullptr) == 0) {
                own_altstack = mem;
            } else {
                std::free(mem);
            }
        }
    }
    if (handler_installed.exchange(true)) {
        return;
    }
    struct sigaction existing{};
    if (sigaction(SIGSEGV, nullptr, &existing) != 0 || (existing.sa_flags & SA_SIGINFO) != 0 ||
        existing.sa_handler != SIG_DFL) {
        return;  // someone else handles SIGSEGV: leave it to them
    }
    struct sigaction action{};
    action.sa_sigaction = &on_segv;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_action);
}

void remove_overflow_guard() noexcept {
    if (own_altstack == nullptr) {
        return;
    }
    stack_t disable{};
    disable.ss_flags = SS_DISABLE;
    sigaltstack(&disable, nullptr);
    std::free(own_altstack);
    own_altstack = nullptr;
}

}  // namespace luv::detail
