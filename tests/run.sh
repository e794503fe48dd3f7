#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Run hakmem's test suites one after the other and summarise.
#
#   tests/run.sh check|check-long|fuzz SUITE...
#
# Called by tests/Makefile, which builds the binaries, picks the suites
# that apply to the configuration and passes (in the environment):
#   HK_SRC HK_OBJ HK_T     source tree, build tree, $(objtree)/tests
#   HK_ARCH HK_NATIVE      SRCARCH, "y" if the tests run natively
#   HK_RUN                 prefix for running a test binary (qemu), or empty
#   HK_MAKE                make command for the sanitizer and fuzz builds
#   HK_HAVE_CHECK HK_THREADS HK_MMAP HK_ARENA HK_ARENA_KB HK_EXPORT
#   HK_DOUBLE_FREE_CHECK HK_SLABS   configuration ("y" or empty; HK_SLABS:
#                          a slab box, Tiny, Small-Mid or Mid, is there)
#   HK_PROF_LIB            a build directory with CONFIG_HEAP_PROFILE=y (prof)
#   STRESS_TIME STRESS_THREADS FUZZ_TIME RSS_FRACTION   knobs (may be empty)
#   DFUZZ_SEED DFUZZ_CASES DFUZZ_DECAY_CASES   the dfuzz suite's first seed
#                          and case counts (1, 1400, 300; .ci/run gives the
#                          A/B halves a window of 200 and 50 of their own)
#
# Each suite prints its own summary line ("100%: Checks: N, Failures: 0,
# Errors: 0" for Check, "name: N passed, M failed" for the others); the
# script repeats them at the end, then "check: N passed, M failed" over the
# suites, and exits 1 if any suite failed. Logs: $HK_T/logs/<suite>.log.

set -u

mode=${1:?usage: run.sh check|check-long|fuzz SUITE...}
shift

: "${HK_T:?}" "${HK_OBJ:?}" "${HK_SRC:?}"
HK_RUN=${HK_RUN:-}
PYTHON=${PYTHON:-/usr/bin/python3}
LOGDIR=$HK_T/logs
mkdir -p "$LOGDIR"

long=0
[ "$mode" = check-long ] && long=1

if [ $long = 1 ]; then
	STRESS_TIME=${STRESS_TIME:-120}
else
	STRESS_TIME=${STRESS_TIME:-10}
fi
STRESS_THREADS=${STRESS_THREADS:-8}
FUZZ_TIME=${FUZZ_TIME:-60}
RSS_FRACTION=${RSS_FRACTION:-50}
ASLIMIT_FRACTION=${ASLIMIT_FRACTION:-93}

# Under qemu: Check's timeouts x10, fewer loop iterations in the unit tests.
if [ "${HK_NATIVE:-}" != y ]; then
	export CK_TIMEOUT_MULTIPLIER=10
	export HK_TEST_SCALE=${HK_TEST_SCALE:-10}
	# /proc/self/statm is qemu's own RSS, code cache included.
	export HK_RSS_SLACK_MB=${HK_RSS_SLACK_MB:-32}
fi
# No core dumps from the children that abort on purpose.
ulimit -c 0 2>/dev/null || true

names=()
status=()
summaries=()
npass=0
nfail=0
nskip=0

# The summary line of a suite's log: the last "x: N passed, M failed" or
# Check "NN%: Checks: ..." line.
summary_of() {
	grep -E '^[0-9]+%: Checks: [0-9]+|^[A-Za-z0-9_.+-]+: [0-9]+ passed, [0-9]+ failed|^check-mutants: [0-9]+ killed' "$1" | tail -n 1
}

# ---------------------------------------------------------------------------
# The watchdog

# The CPU time (user + system, in clock ticks) that process $1 and its
# descendants have used: each live process's own time and that of the
# children it has waited for (/proc/PID/stat fields 14-17; a process's
# time moves into its parent's when the parent reaps it, so nothing is
# counted twice). 0 if /proc cannot be read.
tree_cpu_ticks() {
	local root=$1

	# One cat: a process that ends meanwhile is only an error message.
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$root" '
	{
		pid = $1
		s = $0
		sub(/^.*\) /, "", s)	# after the command name, which may hold ") "
		n = split(s, f, " ")
		if (n < 15)
			next
		ppid[pid] = f[2]
		t[pid] = f[12] + f[13] + f[14] + f[15]
	}
	END {
		if (!(root in t)) {
			print 0
			exit
		}
		in_tree[root] = 1
		do {
			more = 0
			for (p in ppid)
				if (!(p in in_tree) && (ppid[p] in in_tree)) {
					in_tree[p] = 1
					more = 1
				}
		} while (more)
		for (p in in_tree)
			sum += t[p]
		print sum
	}'
}

# watchdog NAME LIMIT PID: end the suite run by PID (the leader of its
# process group) once it has run LIMIT seconds and one of these holds:
#   - it has used LIMIT seconds of CPU time (a loop: on an idle machine
#     that is the old limit in wall-clock time);
#   - it used less than WATCHDOG_IDLE_CPU seconds of CPU time over the
#     last WATCHDOG_IDLE seconds (blocked: a deadlock, a wait that never
#     ends);
#   - it has run LIMIT * WATCHDOG_STRETCH seconds (a ceiling, whatever it
#     is doing).
# On a machine shared with other jobs a suite gets a share of a CPU: its
# wall-clock time grows with the load, its CPU time does not, so the
# limit stretches with the load (up to the ceiling) instead of killing a
# suite that is only slow (dfuzz at 600 s with CI and a helper on 2
# cores, 180 s alone). A hang still fails: a loop at the CPU limit, a
# blocked suite WATCHDOG_IDLE seconds after LIMIT. The checks start at
# LIMIT, so that a suite is never ended earlier than by the old
# wall-clock limit alone.
watchdog() {
	local name=$1 limit=$2 pid=$3 hz t0=$SECONDS why=
	local stretch=${WATCHDOG_STRETCH:-4} idle=${WATCHDOG_IDLE:-120}
	local idle_cpu=${WATCHDOG_IDLE_CPU:-1}
	local cpu now hist=()

	hz=$(getconf CLK_TCK 2>/dev/null) || hz=100
	sleep "$limit"
	# hist: the CPU time at each check of the last $idle seconds (every 10 s).
	while :; do
		cpu=$(tree_cpu_ticks "$pid")
		now=$((SECONDS - t0))
		hist+=("$cpu")
		if [ $((cpu / hz)) -ge "$limit" ]; then
			why="used $((cpu / hz))s of CPU time"
		elif [ $((${#hist[@]} * 10)) -gt "$idle" ] &&
		     [ $(((cpu - hist[0]) / hz)) -lt "$idle_cpu" ]; then
			why="$(((cpu - hist[0]) * 1000 / hz)) ms of CPU time in the last ${idle}s"
		elif [ "$now" -ge $((limit * stretch)) ]; then
			why="at the ceiling (${stretch} x ${limit}s)"
		fi
		[ -n "$why" ] && break
		[ $((${#hist[@]} * 10)) -gt "$idle" ] && hist=("${hist[@]:1}")
		sleep 10
	done
	printf 'run.sh: %s: killed after %ss: %s; %d.%02d s of CPU time in all (limit %ss)\n' \
		"$name" "$now" "$why" $((cpu / hz)) $((cpu * 100 / hz % 100)) "$limit" >&2
	kill -TERM -- -"$pid" 2>/dev/null
	sleep 10
	kill -KILL -- -"$pid" 2>/dev/null
}

# run_suite NAME TIMEOUT FUNCTION [ARGS...]: run the function with its
# output on the terminal and in the log; record the outcome. TIMEOUT:
# the watchdog's limit (watchdog(): seconds of wall-clock time, stretched
# while the suite waits for a CPU).
run_suite() {
	local name=$1 limit=$2 log="$LOGDIR/$1.log" rc t0=$SECONDS
	shift 2
	printf '\n==== %s\n' "$name"
	# The suite runs in a process group of its own (set -m), so that the
	# watchdog can kill all of it.
	set -m
	( "$@" 2>&1 | tee "$log"; exit "${PIPESTATUS[0]}" ) &
	current=$!
	watchdog "$name" "$limit" "$current" &
	local watchdog=$!
	set +m
	wait $current
	rc=$?
	kill -- -$watchdog 2>/dev/null
	wait $watchdog 2>/dev/null
	current=
	local sum
	sum=$(summary_of "$log")
	names+=("$name")
	if [ "${CI:-}" = true ] && grep -q '^SKIP' "$log"; then
		# CI cannot pass by skipping.
		status+=(FAIL)
		nfail=$((nfail + 1))
		summaries+=("CI=true, skipped: $(grep '^SKIP' "$log" | tail -n 1)")
		return
	fi
	if grep -q '^SKIP' "$log" && [ $rc = 0 ] && [ -z "$sum" ]; then
		status+=(SKIP)
		summaries+=("$(grep '^SKIP' "$log" | tail -n 1)")
		nskip=$((nskip + 1))
		return
	fi
	if [ $rc = 0 ]; then
		status+=(PASS)
		npass=$((npass + 1))
	else
		status+=(FAIL)
		nfail=$((nfail + 1))
		[ $rc -gt 128 ] && sum="${sum:+$sum; }killed by signal $((rc - 128))"
	fi
	summaries+=("${sum:-(no summary line, exit status $rc)} [$((SECONDS - t0))s]")
}

current=
trap '[ -n "$current" ] && kill -TERM -- -$current 2>/dev/null; exit 130' INT TERM

# skip SUITE REASON: the suite cannot run here. Not counted, except with
# CI=true, where it is a failure (returns 1).
skip() {
	echo "SKIP $1: $2"
	if [ "${CI:-}" = true ]; then
		echo "$1: CI=true: a suite that cannot run is a failure"
		return 1
	fi
	return 0
}

# A test binary, through qemu when cross-built.
run() {
	$HK_RUN "$@"
}

# ---------------------------------------------------------------------------
# The suites

suite_unit() {
	if [ "${HK_HAVE_CHECK:-}" != y ]; then
		[ "${HK_NATIVE:-}" = y ] || echo "(install check:arm64 libsubunit-dev:arm64, see Documentation/testing.md)"
		skip unit "the Check library for $HK_ARCH was not found by pkg-config"
		return
	fi
	run "$HK_T/unit/run_unit" || return 1
	if [ "${HK_NATIVE:-}" != y ] && [ "$HK_ARCH" = aarch64 ]; then
		# 64 KiB pages (arm64 kernels with CONFIG_ARM64_64K_PAGES):
		# qemu-user -p makes the guest see (sysconf, AT_PAGESZ) and get
		# mmap granularity of 64 KiB. Check that it does, then run again.
		local pg qemu=${HK_RUN%% *} rest=${HK_RUN#* }
		# shellcheck disable=SC2086
		pg=$($qemu -p 65536 $rest "$HK_T/unit/run_unit" -P 2>/dev/null || true)
		if [ "$pg" = 65536 ]; then
			echo "--- again with 64 KiB pages ($qemu -p 65536)"
			# shellcheck disable=SC2086
			$qemu -p 65536 $rest "$HK_T/unit/run_unit" || return 1
		else
			echo "note: $qemu -p 65536 does not give the guest 64 KiB pages (page size '${pg:-?}'); not tested"
			if [ "${CI:-}" = true ]; then
				echo "unit: CI=true: the 64 KiB-page run is required"
				return 1
			fi
		fi
	fi
}

stress_args() {
	local args=(-d "$1")
	if [ "${HK_ARENA:-}" = y ]; then
		# The whole arena: small blocks, failures allowed. One worker:
		# the arena is the process malloc here, too small for the
		# harness of more.
		# Without a built-in array (CONFIG_ARENA_SIZE_KB=0) the
		# program hands it one of 64 KiB first (-a).
		local kb=${HK_ARENA_KB:-0}
		if [ "$kb" -le 0 ]; then
			kb=64
			args+=(-a "$kb")
		fi
		args+=(-t 0 -e -m $((kb * 1024 / 32)) -b 0)
	elif [ "${HK_THREADS:-}" != y ]; then
		args+=(-t 0)
	else
		args+=(-t "$STRESS_THREADS")
	fi
	echo "${args[@]}"
}

suite_stress() {
	local t=$STRESS_TIME
	# shellcheck disable=SC2046
	run "$HK_T/stress/stress" $(stress_args "$t") || return 1
	if [ $long = 1 ] && [ "${HK_THREADS:-}" = y ] && [ "${HK_ARENA:-}" != y ]; then
		echo "--- 32 threads"
		run "$HK_T/stress/stress" -t 32 -d "$t" || return 1
		echo "--- 2 threads, sizes up to 64 KiB"
		run "$HK_T/stress/stress" -t 2 -m 65536 -d "$t" || return 1
	fi
}

suite_stress_preload() {
	local t=$(( (STRESS_TIME + 1) / 2 ))
	HK_EXPECT_MALLOC_FROM=libhakmem LD_PRELOAD=$HK_OBJ/libhakmem.so \
		run "$HK_T/stress/stress-libc" -t "$STRESS_THREADS" -d "$t"
}

# Forks while worker threads allocate, free remotely and free foreign
# pointers: each child must allocate, free and exit (a deadlocked child is
# killed by its own alarm and counts as failed).
suite_fork() {
	local n=$(( long ? 3000 : 300 )) t=4
	# The arena has one spinlock that never yields: two workers hold it
	# at most forks already, more would only spin.
	[ "${HK_ARENA:-}" = y ] && t=2
	run "$HK_T/fork/fork" -t "$t" -n "$n" || return 1
	if [ -x "$HK_T/fork/fork-libc" ]; then
		echo "--- the same on malloc/free, LD_PRELOAD=libhakmem.so"
		LD_PRELOAD=$HK_OBJ/libhakmem.so run "$HK_T/fork/fork-libc" -n $((n / 2)) || return 1
	fi
}

suite_badinput() {
	run "$HK_T/badinput/badinput"
}

suite_badinput_preload() {
	HK_EXPECT_MALLOC_FROM=libhakmem LD_PRELOAD=$HK_OBJ/libhakmem.so \
		run "$HK_T/badinput/badinput-libc"
}

# The double-free search (tests/dfuzz/dfuzz.c): random sequences, one
# double free injected in each. -K: not the case documented as not
# detected. Fixed seeds 1-1400 (reproducible; Documentation/testing.md
# "Double-free search"); a search with fresh seeds is
# `dfuzz -K -n 100000 -t 600` by hand. Then seeds 3901-4200 with a
# decay epoch of 1/8 ms, so that the purge of free big blocks
# (CONFIG_HEAP_PURGE) walks the slabs' lists at almost every tick: it
# followed a link that a double free had rewritten (SIGSEGV on seeds
# 4091 and 4109 before slab_purge_old() checked each block it skips).
# Its limit is 600 s: at a load of 8 (the sixteenth session's helpers,
# four jobs) seed 1 alone took 6-7 minutes, and a 300 s limit killed it
# with every case passed. Past it the watchdog waits while the suite
# still gets CPU time (watchdog(): a fresh clone's check beside CI and a
# helper on 2 cores was killed at 600 s, 180 s alone); a hung case is
# the case's failure at its 60 s alarm (tests/child.h).
# DFUZZ_SEED, DFUZZ_CASES and DFUZZ_DECAY_CASES move and shrink the two
# windows (the decay window starts 3900 seeds above the first).
suite_dfuzz() {
	local s=${DFUZZ_SEED:-1}
	run "$HK_T/dfuzz/dfuzz" -K -s "$s" -n "${DFUZZ_CASES:-1400}" &&
	HAKMEM_OPTIONS=dirty_decay_ms=1 run "$HK_T/dfuzz/dfuzz" -K \
		-s $((s + 3900)) -n "${DFUZZ_DECAY_CASES:-300}"
}

suite_info() {
	run "$HK_T/info/info"
}

suite_info_preload() {
	LD_PRELOAD=$HK_OBJ/libhakmem.so run "$HK_T/info/info-libc"
}

suite_cxx() {
	run "$HK_T/cxx/cxx"
}

suite_cxx_preload() {
	LD_PRELOAD=$HK_OBJ/libhakmem.so run "$HK_T/cxx/cxx-libc"
}

suite_options() {
	run "$HK_T/options/options"
}

suite_rss() {
	run "$HK_T/rss/rss" -f "$RSS_FRACTION"
}

# Address-space limit: RLIMIT_AS = VmSize at start + 256 MiB; every round
# must serve ASLIMIT_FRACTION% of that room, counted as the address space
# the configuration's geometry gives the blocks (usable sizes, and the big
# Mid classes' share of their slabs: tests/aslimit/aslimit.c), whatever
# the size classes; the large-only round after the small-only one 3%
# less (what the small round leaves: its SuperSlabs' header pages, the
# heap's slabs of its classes; superslab.md). glibc's figure first, for
# reference (not checked). Eight rounds: VmSize at their starts must
# settle (aslimit.c; one more chunk each round with the Large reserve of
# randconfig KCONFIG_SEED=0x449dfeb9 before its fix).
suite_aslimit() {
	echo "--- glibc (reference)"
	run "$HK_T/aslimit/aslimit-libc" -r 1 || true
	echo "--- hakmem (hak_* API, linked statically)"
	run "$HK_T/aslimit/aslimit" -r 8 -f "$ASLIMIT_FRACTION" || return 1
	echo "--- small blocks only, then large blocks only: SuperSlab slots give way"
	run "$HK_T/aslimit/aslimit" -m sl -f "$((ASLIMIT_FRACTION - 3))" -S "$ASLIMIT_FRACTION"
}

# The same under LD_PRELOAD, and what the library adds to the virtual
# size of a process before main (at most 16 MiB more than glibc).
suite_aslimit_preload() {
	local base pre
	base=$(run "$HK_T/aslimit/aslimit-libc" -V)
	pre=$(LD_PRELOAD=$HK_OBJ/libhakmem.so run "$HK_T/aslimit/aslimit-libc" -V)
	echo "VmSize at start: glibc ${base} KiB, LD_PRELOAD=libhakmem.so ${pre} KiB"
	if [ -z "$base" ] || [ -z "$pre" ] || [ $((pre - base)) -gt 16384 ]; then
		echo "FAIL: hakmem adds $((pre - base)) KiB of address space at start (limit 16384)"
		echo "aslimit-preload: 0 passed, 1 failed"
		return 1
	fi
	LD_PRELOAD=$HK_OBJ/libhakmem.so run "$HK_T/aslimit/aslimit-libc" -r 4 -f "$ASLIMIT_FRACTION"
}

# have_clang SUITE FLAGS: 0 if clang links with FLAGS, else 1 with the
# reason in $why.
why=
have_clang() {
	if ! command -v "${HK_CLANG:-clang}" >/dev/null 2>&1; then
		why="${HK_CLANG:-clang} is not installed"
		return 1
	fi
	local src='int main(void){return 0;}'
	case $2 in
	*fuzzer*) src='#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n){return 0;}' ;;
	esac
	if ! echo "$src" | "${HK_CLANG:-clang}" -x c - $2 -o "$HK_T/.clang-probe" 2>/dev/null; then
		why="${HK_CLANG:-clang} $2 does not link (libclang-rt-*-dev missing?)"
		return 1
	fi
	rm -f "$HK_T/.clang-probe"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:halt_on_error=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

suite_asan_unit() {
	have_clang asan-unit "-fsanitize=address,undefined" || { skip asan-unit "$why"; return; }
	$HK_MAKE asan-build || return 1
	if [ "${HK_HAVE_CHECK:-}" != y ]; then
		skip asan-unit "no Check library"
		return
	fi
	HK_TEST_SCALE=${HK_TEST_SCALE:-25} "$HK_T/asan/unit/run_unit"
}

suite_asan_stress() {
	have_clang asan-stress "-fsanitize=address,undefined" || { skip asan-stress "$why"; return; }
	$HK_MAKE asan-build || return 1
	local t=$(( long ? 60 : 5 ))
	# shellcheck disable=SC2046
	"$HK_T/asan/stress/stress" $(stress_args "$t" | sed "s/-t $STRESS_THREADS/-t 4/")
}

# TSan needs its shadow layout; kernels with 32 bits of mmap randomness
# break older runtimes ("unexpected memory mapping"): retry without ASLR.
tsan_run() {
	local out="$HK_T/tsan/last.log" rc
	"$@" > "$out" 2>&1
	rc=$?
	if [ $rc != 0 ] && grep -q 'unexpected memory mapping\|FATAL: ThreadSanitizer' "$out"; then
		cat "$out"
		echo "--- TSan runtime failed to start: again with ASLR off (setarch -R)"
		setarch "$(uname -m)" -R "$@" > "$out" 2>&1
		rc=$?
	fi
	cat "$out"
	return $rc
}

suite_tsan_stress() {
	have_clang tsan-stress "-fsanitize=thread" || { skip tsan-stress "$why"; return; }
	$HK_MAKE tsan-build || return 1
	local t=$(( long ? 60 : 5 ))
	if [ "${HK_ARENA:-}" = y ]; then
		# The arena's sizes; 4 threads on its lock (the sanitizer
		# build does not export malloc: the harness has libc's).
		# shellcheck disable=SC2046
		tsan_run "$HK_T/tsan/stress/stress" $(stress_args "$t" | sed 's/-t 0/-t 4/')
	else
		tsan_run "$HK_T/tsan/stress/stress" -t 4 -d "$t" -b 32
	fi
}

# Memcheck on static programs linked against the CONFIG_VALGRIND build
# of the library (tests/valgrind/run.sh). Skipped without valgrind, but
# not in CI, where it must be installed.
suite_valgrind() {
	if ! command -v valgrind >/dev/null 2>&1; then
		if [ -n "${CI:-}" ]; then
			echo "valgrind: valgrind is not installed (CI is set)"
			return 1
		fi
		echo "SKIP valgrind: valgrind is not installed"
		return 0
	fi
	if [ ! -e /usr/include/valgrind/memcheck.h ]; then
		echo "valgrind: no <valgrind/memcheck.h> (Debian package valgrind)"
		return 1
	fi
	$HK_MAKE vg-build || return 1
	bash "$HK_SRC/tests/valgrind/run.sh" "$HK_T/valgrind" \
		"$HK_SRC/tools/valgrind/static-glibc.supp" || return 1
	# With the heap profiler too, sampling often (a sample every 4 KiB
	# on average: most of vg_clean's blocks of 4 KiB and more, some of
	# the small ones), the same report; the dumps go to a directory
	# of their own.
	if ! grep -q '^CONFIG_HEAP_PROFILE=y' "$HK_T/vgprof/.config"; then
		echo "valgrind+prof: CONFIG_HEAP_PROFILE is not available in this configuration"
		return 1
	fi
	mkdir -p "$HK_T/valgrind-prof/out"
	HAKMEM_PROF=1 HAKMEM_PROF_SAMPLE=4096 \
	HAKMEM_PROF_PREFIX="$HK_T/valgrind-prof/out/vg" \
		bash "$HK_SRC/tests/valgrind/run.sh" "$HK_T/valgrind-prof" \
		"$HK_SRC/tools/valgrind/static-glibc.supp" valgrind+prof
}

# The library again with configs/debug_defconfig (CONFIG_DEBUG_ASSERT: the
# engine checks its list links, slot states, counts and block ownership
# and aborts on the first violation), under the stress and fork programs:
# threads, remote frees, thread exit and adoption, fork.
suite_debug_stress() {
	$HK_MAKE debug-build || return 1
	local d=$HK_T/debug t=$(( long ? 60 : 5 )) n=$(( long ? 1000 : 100 ))
	echo "--- stress (hak_* API, debug_defconfig)"
	"$d/stress/stress" -t "$STRESS_THREADS" -d "$t" || return 1
	echo "--- 2 threads, sizes up to 64 KiB"
	"$d/stress/stress" -t 2 -m 65536 -d "$t" || return 1
	if [ $long = 1 ]; then
		echo "--- 32 threads"
		"$d/stress/stress" -t 32 -d "$t" || return 1
	fi
	echo "--- stress on malloc/free, LD_PRELOAD=libhakmem.so (debug_defconfig)"
	HK_EXPECT_MALLOC_FROM=libhakmem LD_PRELOAD=$d/libhakmem.so \
		"$d/stress/stress-libc" -t "$STRESS_THREADS" -d "$(( (t + 1) / 2 ))" || return 1
	echo "--- fork (debug_defconfig)"
	"$d/fork/fork" -t 4 -n "$n" || return 1
	echo "--- fork on malloc/free, LD_PRELOAD=libhakmem.so (debug_defconfig)"
	LD_PRELOAD=$d/libhakmem.so "$d/fork/fork-libc" -n "$((n / 2))"
}

suite_fuzz() {
	if [ "$HK_ARCH" != x86_64 ] || [ "${HK_NATIVE:-}" != y ]; then
		skip fuzz "x86_64 native only"
		return
	fi
	have_clang fuzz "-fsanitize=fuzzer,address" || { skip fuzz "$why"; return; }
	$HK_MAKE fuzz-build || return 1
	local f="$HK_T/fuzz/fuzz_alloc" work="$HK_T/fuzz/corpus" seeds="$HK_SRC/tests/fuzz/corpus"
	local t=${1:-20} passed=0 failed=0
	mkdir -p "$work" "$HK_T/fuzz/crashes"
	echo "--- seed corpus ($seeds)"
	# Its crash files go with the others, not to the current directory
	# (the source tree, when make check runs there with O=).
	if "$f" -runs=0 -artifact_prefix="$HK_T/fuzz/crashes/" "$seeds"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	echo "--- fuzzing for ${t}s (corpus $work, crashes in $HK_T/fuzz/crashes)"
	if "$f" -max_total_time="$t" -timeout=20 -rss_limit_mb=4096 -max_len=4096 \
		-print_final_stats=1 -artifact_prefix="$HK_T/fuzz/crashes/" "$work" "$seeds"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	echo "fuzz: $passed passed, $failed failed"
	[ $failed = 0 ]
}

# Every mutant of tests/mutants (check-long): each built in its own copy.
suite_mutants() {
	"$PYTHON" "$HK_SRC/tests/mutants/run.py" --workdir "$HK_T/mutants"
}

# Every mutant's replacements still found in this tree (no build, a
# second): a change that moves the code a mutant breaks makes it stale.
suite_mutants_fresh() {
	"$PYTHON" "$HK_SRC/tests/mutants/run.py" --fresh
}

# The heap profiler: its library and programs are built here (a build
# failure is this suite's failure), then tests/prof/run.sh.
suite_prof() {
	$HK_MAKE prof-build || return 1
	bash "$HK_SRC/tests/prof/run.sh" "$HK_PROF_LIB" "$HK_T/prof"
}

suite_programs() {
	PROGRAMS_LONG=$long bash "$HK_SRC/tests/programs/run.sh"
}

# ---------------------------------------------------------------------------

if [ "$mode" = fuzz ]; then
	run_suite fuzz $((FUZZ_TIME + 600)) suite_fuzz "$FUZZ_TIME"
else
	for s in "$@"; do
		case $s in
		unit)		run_suite unit $((long ? 3600 : 900)) suite_unit ;;
		stress)		run_suite stress $((STRESS_TIME * 4 + 120)) suite_stress ;;
		stress-preload)	run_suite stress-preload $((STRESS_TIME + 120)) suite_stress_preload ;;
		fork)		run_suite fork $((long ? 1800 : 600)) suite_fork ;;
		badinput)	run_suite badinput 300 suite_badinput ;;
		badinput-preload) run_suite badinput-preload 300 suite_badinput_preload ;;
		dfuzz)		run_suite dfuzz $((long ? 900 : 600)) suite_dfuzz ;;
		rss)		run_suite rss 300 suite_rss ;;
		aslimit)	run_suite aslimit 300 suite_aslimit ;;
		aslimit-preload) run_suite aslimit-preload 300 suite_aslimit_preload ;;
		info)		run_suite info 300 suite_info ;;
		info-preload)	run_suite info-preload 300 suite_info_preload ;;
		cxx)		run_suite cxx 300 suite_cxx ;;
		options)	run_suite options 300 suite_options ;;
		cxx-preload)	run_suite cxx-preload 300 suite_cxx_preload ;;
		asan-unit)	run_suite asan-unit 1200 suite_asan_unit ;;
		asan-stress)	run_suite asan-stress 600 suite_asan_stress ;;
		tsan-stress)	run_suite tsan-stress 600 suite_tsan_stress ;;
		debug-stress)	run_suite debug-stress $((long ? 1800 : 600)) suite_debug_stress ;;
		fuzz)		run_suite fuzz 600 suite_fuzz $((long ? 300 : 20)) ;;
		programs)	run_suite programs $((long ? 1800 : 600)) suite_programs ;;
		mutants)	run_suite mutants 7200 suite_mutants ;;
		mutants-fresh)	run_suite mutants-fresh 60 suite_mutants_fresh ;;
		prof)		run_suite prof 900 suite_prof ;;
		valgrind)	run_suite valgrind 600 suite_valgrind ;;
		*)		echo "run.sh: unknown suite '$s'" >&2; exit 2 ;;
		esac
	done
fi

echo
echo "======================================================================"
echo " hakmem $mode summary ($HK_ARCH, $HK_OBJ)"
echo "======================================================================"
for i in "${!names[@]}"; do
	printf ' %-4s %-17s %s\n' "${status[$i]}" "${names[$i]}" "${summaries[$i]}"
done
echo "----------------------------------------------------------------------"
[ $nskip -gt 0 ] && echo " ($nskip skipped)"
echo "check: $npass passed, $nfail failed"
[ $nfail = 0 ]
