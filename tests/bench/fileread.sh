#!/usr/bin/env bash
# The file-reading benchmark of issue 3, in one run: a 1 GiB file (made once, in the page
# cache after a first read) read by `cat` and by one luv fiber in 64 KiB reads while 100
# fibers keep 10 ms timers going. Prints throughputs, their ratio, and the timers' worst
# lateness.   tests/bench/fileread.sh [BUILD_DIR] [SIZE_MIB]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
size_mib=${2:-1024}
file=$(mktemp "${TMPDIR:-/tmp}/luv-fileread.XXXXXX")
trap 'rm -f "$file"' EXIT
dd if=/dev/urandom of="$file" bs=1M count="$size_mib" status=none
cat "$file" >/dev/null  # into the page cache, for both readers alike

start=$(date +%s.%N)
cat "$file" >/dev/null
end=$(date +%s.%N)
cat_mbs=$(awk -v b=$((size_mib * 1048576)) -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", b / (e - s) / 1e6 }')

out=$(cd "$here" && LUA_PATH="$here/?.lua;;" LUA_CPATH="$build/?.so;;" lua5.4 fileread_luv.lua "$file")
luv_mbs=$(awk '$2 == "fileread_mbs" { printf "%.0f", $3 }' <<<"$out")
late=$(awk '$2 == "fileread_late_ms" { printf "%.1f", $3 }' <<<"$out")
wakeups=$(awk '$2 == "fileread_wakeups" { print $3 }' <<<"$out")
echo "read ${size_mib} MiB: cat ${cat_mbs} MB/s, luv ${luv_mbs} MB/s" \
     "($(awk -v a="$luv_mbs" -v b="$cat_mbs" 'BEGIN { printf "%.2f", a / b }')x cat);" \
     "100 timers meanwhile: worst lateness ${late} ms over ${wakeups} wake-ups"
