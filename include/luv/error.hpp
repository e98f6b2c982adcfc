// luv/error.hpp - errors of the runtime as std::system_error in the libuv category.
#pragma once

#include <string>
#include <system_error>

namespace luv {

/// The error category of libuv's negative error codes (UV_ENOENT, UV_ECANCELED, ...).
/// `name()` is "uv"; `message(code)` is uv_strerror(code).
const std::error_category& uv_category() noexcept;

/// Makes an error_code from a libuv status (a negative UV_E* value).
inline std::error_code make_uv_error(int status) noexcept { return {status, uv_category()}; }

/// The short name of a libuv error, e.g. "ENOENT" (uv_err_name). Never suspends.
std::string error_name(int status);
/// The message of a libuv error, e.g. "no such file or directory" (uv_strerror). Never
/// suspends.
std::string error_message(int status);

/// The exception thrown by every blocking C++ call of the runtime. `code()` holds the
/// libuv status in uv_category(); `what()` reads "ENAME: message".
class system_error : public std::system_error {
public:
    explicit system_error(int status);
    system_error(int status, const std::string& context);
    /// For errors libuv has no code for (a deadlock is std::errc::resource_deadlock_would_occur).
    system_error(std::error_code code, const std::string& context);
    /// The libuv status, e.g. UV_ECANCELED.
    int status() const noexcept { return code().value(); }
};

/// Throws luv::system_error if `status` is negative; returns it otherwise. Never suspends.
inline int check(int status) {
    if (status < 0) {
        throw system_error(status);
    }
    return status;
}

}  // namespace luv
