// The last line of defence behind the guard pages: Lua's own limit (200 nested C calls)
// turns runaway recursion through Lua into a Lua error long before a 1 MiB stack runs
// out, but C code of a host or a C module can still recurse past it. Then the guard page
// faults, and instead of a bare "Segmentation fault" the process says why it dies.
#pragma once

namespace luv::detail {

/// Installs, once per process, a SIGSEGV handler that recognises a fault next to the
/// stack pointer as a stack overflow, prints a clear message to stderr, and lets the
/// process die of the signal as it would have. Nothing is installed if the process
/// already handles SIGSEGV (AddressSanitizer does). Gives the calling thread an
/// alternate signal stack, which the handler needs to run at all. Never suspends.
void install_overflow_guard() noexcept;

/// Drops the calling thread's alternate signal stack if install_overflow_guard() made
/// one. Never suspends.
void remove_overflow_guard() noexcept;

}  // namespace luv::detail
