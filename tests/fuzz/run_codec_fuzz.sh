#!/usr/bin/env bash
# Builds the luv.codec fuzz target (codec_fuzz.cpp) with clang's libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs it for a bounded time on the seeds in
# tests/fuzz/corpus/codec/.
#
#   tests/fuzz/run_codec_fuzz.sh [SECONDS] [WORK_DIR]      # defaults: 25, ./build-fuzz
#
# The meson test fuzz/codec runs it. It exits 77 (meson's "skipped") when clang++ or its
# libFuzzer runtime is missing (Debian: packages clang and libclang-rt-dev). An input
# that crashes the decoder is left in WORK_DIR/artifacts/; once the bug is fixed, copy it
# into tests/fuzz/corpus/codec/ as crash-<what>, where test_codec.lua replays it on every
# run. The corpus also holds the seeds: golden-* (the golden vectors of docs/codec.md) and
# seed-* (hand-made edge cases). New inputs the fuzzer finds stay in WORK_DIR/new-corpus.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-25}
work=${2:-$src/build-fuzz}
cxx=${FUZZ_CXX:-clang++}

if ! command -v "$cxx" >/dev/null 2>&1; then
    echo "SKIP: $cxx not found"
    exit 77
fi
mkdir -p "$work/new-corpus" "$work/artifacts"

# libFuzzer comes in a package of its own: probe for it with an empty target.
probe=$work/probe
printf '#include <cstddef>\n#include <cstdint>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' >"$probe.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe.cpp" -o "$probe" >"$probe.log" 2>&1; then
    echo "SKIP: $cxx cannot build a libFuzzer target:"
    cat "$probe.log"
    exit 77
fi

lua_flags=$(pkg-config --cflags --libs lua5.4 2>/dev/null || echo "-I/usr/include/lua5.4 -llua5.4")
sources=("$src/tests/fuzz/codec_fuzz.cpp" "$src/src/binding/codec_encode.cpp"
         "$src/src/binding/codec_encode_errors.cpp" "$src/src/binding/codec_decode.cpp"
         "$src/src/binding/codec_library.cpp")
bin=$work/codec_fuzz
stale=0
for f in "${sources[@]}" "$src"/src/binding/codec*.hpp; do
    [ "$bin" -nt "$f" ] || stale=1
done
if [ "$stale" = 1 ]; then
    echo "building $bin"
    # shellcheck disable=SC2086 # lua_flags is a list of flags
    "$cxx" -std=c++20 -O1 -g -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$src/src" "${sources[@]}" $lua_flags -o "$bin"
fi

echo "fuzzing luv.codec.decode (safe mode) for $seconds s"
# A smaller quarantine and no fill of fresh blocks: most of the time otherwise goes to
# page faults on new memory.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=32:max_malloc_fill_size=0}
status=0
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -dict="$src/tests/fuzz/codec.dict" -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" \
    "$work/new-corpus" "$src/tests/fuzz/corpus/codec" 2>&1 | tail -n 40 || status=$?
if [ "$status" != 0 ]; then
    echo "FAIL: the fuzzer found a crashing input; see $work/artifacts/"
    ls -l "$work/artifacts/"
    exit 1
fi
