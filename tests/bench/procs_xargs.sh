#!/bin/sh
# xargs: N children (/bin/true), at most P running at once (xargs -P), each waited for.
# Children per second, timed around the pipeline (seq's and xargs's own start-up, ~1 ms,
# included).
#   sh procs_xargs.sh [N [P]]        N = 1000, P = 16
set -eu
N=${1:-1000}
P=${2:-16}
t0=$(date +%s%N)
seq "$N" | xargs -P "$P" -n 1 /bin/true
t1=$(date +%s%N)
awk -v n="$N" -v ns=$((t1 - t0)) 'BEGIN { printf "RESULT procs_rate %.6g children/s\n", n / (ns / 1e9) }'
