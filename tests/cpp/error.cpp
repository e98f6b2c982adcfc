// luv/error.hpp: libuv statuses as std::error_code in the "uv" category, and
// luv::system_error whose what() reads "ENAME: message".
#include <string>
#include <system_error>

#include <catch2/catch.hpp>
#include <uv.h>

#include "luv/error.hpp"

TEST_CASE("uv_category names itself and uses uv_strerror", "[error]") {
    const std::error_category& cat = luv::uv_category();
    CHECK(std::string(cat.name()) == "uv");
    CHECK(cat.message(UV_ENOENT) == uv_strerror(UV_ENOENT));
    CHECK(cat.message(UV_ECANCELED) == "operation canceled");
    CHECK(&cat == &luv::uv_category());  // one instance
}

TEST_CASE("make_uv_error keeps libuv's own negative value", "[error]") {
    const std::error_code ec = luv::make_uv_error(UV_ETIMEDOUT);
    CHECK(ec.value() == UV_ETIMEDOUT);
    CHECK(ec.category() == luv::uv_category());
    CHECK(ec.message() == uv_strerror(UV_ETIMEDOUT));
    CHECK(ec != luv::make_uv_error(UV_ECANCELED));
}

TEST_CASE("error_name gives the short libuv name", "[error]") {
    CHECK(luv::error_name(UV_ENOENT) == "ENOENT");
    CHECK(luv::error_name(UV_ECANCELED) == "ECANCELED");
    CHECK(luv::error_name(UV_EOF) == "EOF");
    CHECK(luv::error_name(UV_ETIMEDOUT) == "ETIMEDOUT");
}

TEST_CASE("system_error reads \"ENAME: message\"", "[error]") {
    const luv::system_error plain(UV_ECANCELED);
    CHECK(std::string(plain.what()) == "ECANCELED: operation canceled");
    CHECK(plain.status() == UV_ECANCELED);
    CHECK(plain.code() == luv::make_uv_error(UV_ECANCELED));

    const luv::system_error with_context(UV_ENOENT, "open /nowhere");
    CHECK(std::string(with_context.what()) == "open /nowhere: ENOENT: no such file or directory");
    CHECK(with_context.status() == UV_ENOENT);

    // It is a std::system_error, so generic handlers catch it.
    CHECK_THROWS_AS(throw luv::system_error(UV_EPIPE), std::system_error);
}

TEST_CASE("check passes statuses through and throws on errors", "[error]") {
    CHECK(luv::check(0) == 0);
    CHECK(luv::check(7) == 7);
    int status = 0;
    try {
        luv::check(UV_EINVAL);
    } catch (const luv::system_error& e) {
        status = e.status();
    }
    CHECK(status == UV_EINVAL);
}
