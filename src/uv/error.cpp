// The libuv error category: codes are libuv's own negative values, so nothing is lost
// when a status travels from a callback to a C++ exception or a Lua fail triple.
#include "luv/error.hpp"

#include <uv.h>

namespace luv {
namespace {

class uv_error_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "uv"; }
    std::string message(int code) const override { return uv_strerror(code); }
    // On Unix, libuv's codes are negated errno values (UV_ENOENT == -ENOENT), so they
    // compare equal to std::errc; libuv's own codes (UV_EOF, UV_EAI_*) lie far beyond.
    std::error_condition default_error_condition(int code) const noexcept override {
        if (code < 0 && code > -1000) {
            return {-code, std::generic_category()};
        }
        return {code, *this};
    }
};

}  // namespace

const std::error_category& uv_category() noexcept {
    static const uv_error_category category;
    return category;
}

std::string error_name(int status) { return uv_err_name(status); }

std::string error_message(int status) { return uv_strerror(status); }

system_error::system_error(int status)
    : std::system_error(make_uv_error(status), error_name(status)) {}

system_error::system_error(std::error_code code, const std::string& context)
    : std::system_error(code, context) {}

system_error::system_error(int status, const std::string& context)
    : std::system_error(make_uv_error(status), context + ": " + error_name(status)) {}

}  // namespace luv
