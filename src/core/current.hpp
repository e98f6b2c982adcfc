// The calling thread's scheduler, for the library's own hot paths. runtime::current() is
// exported, so a call from the Lua module goes through the PLT and a general-dynamic TLS
// lookup (~30 instructions, 9% of a fiber switch); this variable is hidden and
// initial-exec, so a read is a single load. It uses a few bytes of static TLS, which
// glibc reserves for modules loaded with dlopen.
#pragma once

namespace luv::detail {

class scheduler;

extern constinit thread_local scheduler* current_scheduler
    __attribute__((tls_model("initial-exec"), visibility("hidden")));

}  // namespace luv::detail
