#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Whole-program instruction counts (callgrind) of a few bench cases, one
# column per allocator library (LD_PRELOAD; "" = the C library):
#
#   tools/bench/cg_whole.sh ./libhakmem.so /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
#
# Deterministic where wall-clock time on a shared machine is not: the
# same program and arguments for every library, so the counts compare
# the allocators' instructions (plus the program's own, the same for
# all). Short runs: about a minute per library under valgrind.
set -eu
B=$(cd "$(dirname "$0")" && pwd)
cases=(
"fixed_size/32|$B/bench_fixed_size 32 500000"
"fixed_size/1024|$B/bench_fixed_size 1024 500000"
"random_mixed/16-1024|$B/bench_random_mixed 16 1024 500000"
"random_mixed/1024-8192|$B/bench_random_mixed 1024 8192 300000"
"random_mixed/8192-32768|$B/bench_random_mixed 8192 32768 200000"
"random_mixed/32768-262144|$B/bench_random_mixed 32768 262144 50000"
"churn/untouched-1t|$B/bench_churn 1 1024 4 32768 1 300000 0"
"churn/bigws|$B/bench_churn 1 262144 16 512 0 600000 1"
"batch/64-fifo|$B/bench_batch 64 25 1600 0 500000"
"larson/1t|$B/bench_larson 1 50 20000"
)
printf '%-28s' case
for lib in "$@"; do printf ' %14s' "$(basename "${lib:-glibc}")"; done
echo
for c in "${cases[@]}"; do
	name=${c%%|*}
	cmd=${c#*|}
	printf '%-28s' "$name"
	for lib in "$@"; do
		# shellcheck disable=SC2086
		ir=$(LD_PRELOAD=$lib valgrind --tool=callgrind --callgrind-out-file=/dev/null \
			$cmd 2>&1 | awk '/Collected/ { print $4 }')
		printf ' %14s' "$ir"
	done
	echo
done
