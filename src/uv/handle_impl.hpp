// The out-of-line part of waitable_handle, for the .cpp files of the handle types.
#pragma once

#include "luv/error.hpp"
#include "uv/handle.hpp"

namespace luv::detail {

template <class Derived, class Uv>
template <class Init>
Derived* waitable_handle<Derived, Uv>::make(uv_loop_t* loop, Init init, const char* what) {
    auto* h = new Derived();
    const int rc = init(loop, &h->uv);
    if (rc < 0) {
        delete h;
        throw system_error(rc, what);
    }
    h->uv.data = h;
    return h;
}

}  // namespace luv::detail
