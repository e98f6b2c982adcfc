// The one translation unit with Catch2's main(); every other file only adds test cases.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
