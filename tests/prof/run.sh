#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The heap profiler suite (CONFIG_HEAP_PROFILE), run by tests/run.sh:
#
#   tests/prof/run.sh LIBDIR TESTDIR
#
# LIBDIR holds a libhakmem.so built with CONFIG_HEAP_PROFILE=y; TESTDIR
# the test programs (prof: linked with that library's libhakmem.a,
# prof-static: the same with -static, prof-libc: plain, for LD_PRELOAD). Both run tests/prof/prof.c, which
# allocates known amounts from known functions and dumps; google-pprof
# must attribute them within 15% (the sampling error at the mean of 16 KiB
# used here is about 1-4%). Then python3 and sqlite3 run under LD_PRELOAD
# with profiling on, at a high sampling rate: they must finish (no
# deadlock, no recursion) and leave a profile pprof reads.
#
# Without google-pprof (package google-perftools) the suite is skipped,
# unless CI is set: then it fails.

set -u

lib=${1:?usage: run.sh LIBDIR TESTDIR}
tdir=${2:?usage: run.sh LIBDIR TESTDIR}
PYTHON=${PYTHON:-/usr/bin/python3}
passed=0
failed=0
work=$tdir/work

if ! command -v google-pprof >/dev/null 2>&1; then
	if [ -n "${CI:-}" ]; then
		echo "prof: google-pprof is missing (apt-get install google-perftools), and CI is set"
		echo "prof: 0 passed, 1 failed"
		exit 1
	fi
	echo "SKIP prof: google-pprof is not installed (apt-get install google-perftools)"
	exit 0
fi

ok() {
	echo "ok   $*"
	passed=$((passed + 1))
}

bad() {
	echo "FAIL $*"
	failed=$((failed + 1))
}

# mb PROG PROFILE FUNCTION [PPROF OPTIONS]: pprof's MB for FUNCTION
# (cumulative column), 0 if it is not listed.
mb() {
	local prog=$1 prof=$2 fn=$3
	shift 3
	google-pprof --text "$@" "$prog" "$prof" 2>/dev/null |
		awk -v fn="$fn" '$NF == fn { v = $4 } END { print v == "" ? 0 : v }'
}

# near WHAT VALUE EXPECTED: VALUE within 15% of EXPECTED (MB), or below
# 0.5 MB if EXPECTED is 0.
near() {
	local what=$1 v=$2 want=$3
	if awk -v v="$v" -v w="$want" 'BEGIN {
		if (w == 0) exit !(v < 0.5 && v > -0.5);
		d = (v - w) / w; exit !(d <= 0.15 && d >= -0.15) }'; then
		ok "$what: $v MB (expected $want)"
	else
		bad "$what: $v MB, expected $want MB +-15%"
	fi
}

# check_known PROG DIR: the dumps of one run of tests/prof/prof.c.
check_known() {
	local prog=$1 d=$2 f n
	local live=$d/live.heap after=$d/after.heap peak=$d/peak.heap
	local tag=${prog##*/}

	if ! head -n 1 "$live" 2>/dev/null | grep -Eq '^heap profile: +[0-9]+: +[0-9]+ \[ *[0-9]+: +[0-9]+\] @ heapprofile$'; then
		bad "$tag: live.heap has no gperftools heap profile header"
		return
	fi
	grep -q '^MAPPED_LIBRARIES:$' "$live" && ok "$tag: header and MAPPED_LIBRARIES" ||
		bad "$tag: no MAPPED_LIBRARIES section"

	near "$tag live alloc_a" "$(mb "$prog" "$live" alloc_a)" 64
	near "$tag live alloc_b" "$(mb "$prog" "$live" alloc_b)" 16
	near "$tag live alloc_c (freed)" "$(mb "$prog" "$live" alloc_c)" 0
	near "$tag live alloc_d (realloc)" "$(mb "$prog" "$live" alloc_d)" 8
	near "$tag live alloc_e (1024 stacks)" "$(mb "$prog" "$live" alloc_e)" 16
	n=$(grep -c ' @ 0x' "$live")
	if [ "$n" -gt 512 ]; then
		ok "$tag: $n stacks in live.heap (the stack table grew)"
	else
		bad "$tag: only $n stacks in live.heap, expected more than 512"
	fi
	near "$tag alloc_space alloc_c" "$(mb "$prog" "$live" alloc_c --alloc_space)" 16
	near "$tag after free alloc_a" "$(mb "$prog" "$after" alloc_a)" 0
	near "$tag after free alloc_b" "$(mb "$prog" "$after" alloc_b)" 16
	near "$tag growth --base alloc_a" "$(mb "$prog" "$after" alloc_a --base="$live")" -64
	near "$tag peak alloc_a" "$(mb "$prog" "$peak" alloc_a)" 64
	near "$tag peak alloc_c" "$(mb "$prog" "$peak" alloc_c)" 16
	near "$tag peak alloc_e" "$(mb "$prog" "$peak" alloc_e)" 16
	near "$tag peak alloc_d" "$(mb "$prog" "$peak" alloc_d)" 0

	# The exit dumps, and the one SIGUSR2 asked for.
	f=$(ls "$d"/x.*.exit.heap 2>/dev/null | head -n 1)
	if [ -n "$f" ]; then
		near "$tag exit alloc_a" "$(mb "$prog" "$f" alloc_a)" 0
		near "$tag exit alloc_d" "$(mb "$prog" "$f" alloc_d)" 8
	else
		bad "$tag: no exit dump (HAKMEM_PROF_AT_EXIT)"
	fi
	f=$(ls "$d"/x.*.peak.heap 2>/dev/null | head -n 1)
	if [ -n "$f" ]; then
		near "$tag exit peak alloc_c" "$(mb "$prog" "$f" alloc_c)" 16
	else
		bad "$tag: no peak dump at exit (HAKMEM_PROF_PEAK)"
	fi
	f=$(ls "$d"/x.*.0.heap 2>/dev/null | head -n 1)
	if [ -n "$f" ]; then
		near "$tag signal dump alloc_a" "$(mb "$prog" "$f" alloc_a)" 64
	else
		bad "$tag: no dump after SIGUSR2 (HAKMEM_PROF_SIGNAL=12)"
	fi

	# Flame graph input and a call graph.
	if google-pprof --collapsed "$prog" "$live" 2>/dev/null | grep -Eq ';alloc_a(<[0-9a-f]+>)? [0-9]+$'; then
		ok "$tag: --collapsed has main;...;alloc_a"
	else
		bad "$tag: --collapsed lacks alloc_a"
	fi
	if command -v dot >/dev/null 2>&1; then
		if google-pprof --svg "$prog" "$live" 2>/dev/null | grep -q 'alloc_a'; then
			ok "$tag: --svg call graph"
		else
			bad "$tag: --svg gave no call graph"
		fi
	elif [ -n "${CI:-}" ]; then
		bad "$tag: dot (graphviz) is missing and CI is set"
	else
		echo "skip $tag: --svg needs dot (graphviz)"
	fi
}

# run_known NAME PROG [ENV...]
run_known() {
	local name=$1 prog=$2 d=$work/$1
	shift 2
	rm -rf "$d"
	mkdir -p "$d"
	# timeout runs without the library: the dumps are the program's.
	if timeout 120 env HAKMEM_PROF=1 HAKMEM_PROF_SAMPLE=16384 HAKMEM_PROF_SIGNAL=12 \
		HAKMEM_PROF_PREFIX="$d/x" "$@" "$prog" "$d" > "$d/out" 2>&1 &&
	   grep -q '^prof: done$' "$d/out"; then
		ok "$name: ran"
		check_known "$prog" "$d"
	else
		cat "$d/out"
		bad "$name: the program failed"
	fi
}

echo "--- tests/prof/prof.c linked with libhakmem.a"
run_known static "$tdir/prof"
echo "--- the same, linked with -static"
run_known static-link "$tdir/prof-static"
echo "--- tests/prof/prof.c (plain malloc) under LD_PRELOAD"
run_known preload "$tdir/prof-libc" LD_PRELOAD="$lib/libhakmem.so"

# The default mean (HAKMEM_PROF_SAMPLE unset), 2 MiB: 4 GiB allocated and
# freed at once, half in 4 KiB and half in 256-byte blocks, hold 2048
# sample points (+-45, Poisson): the count must be within 5 standard
# errors of it (at a mean of 512 KiB it would be 8192), and pprof's
# --alloc_space must give each half within 15% (1024 samples each: 4.8
# standard errors).
run_rate() {
	local name=$1 prog=$2 d=$work/rate-$1 n
	shift 2
	rm -rf "$d"
	mkdir -p "$d"
	if ! timeout 300 env -u HAKMEM_PROF_SAMPLE HAKMEM_PROF=1 HAKMEM_PROF_AT_EXIT=0 \
		HAKMEM_PROF_PEAK=0 "$@" "$prog" rate "$d" > "$d/out" 2>&1 ||
	   ! grep -q '^prof: done$' "$d/out"; then
		cat "$d/out"
		bad "$name rate: the program failed"
		return
	fi
	n=$(awk '/^rate: samples / { print $3 }' "$d/out")
	if [ "$n" = -1 ]; then
		echo "skip $name rate: no stat.prof_samples (CONFIG_OPTIONS)"
	elif [ "$n" -ge 1822 ] && [ "$n" -le 2274 ]; then
		ok "$name rate: $n samples in 4 GiB at the default mean (expected 2048 +-226)"
	else
		bad "$name rate: $n samples in 4 GiB at the default mean, expected 2048 +-226 (a mean of 2 MiB)"
	fi
	near "$name rate alloc_space churn_a" "$(mb "$prog" "$d/rate.heap" churn_a --alloc_space)" 2048
	near "$name rate alloc_space churn_b" "$(mb "$prog" "$d/rate.heap" churn_b --alloc_space)" 2048
}

echo "--- the default mean: tests/prof/prof.c rate, linked and under LD_PRELOAD"
run_rate static "$tdir/prof"
run_rate preload "$tdir/prof-libc" LD_PRELOAD="$lib/libhakmem.so"

# A sampled block comes from the box of an unsampled one (the same usable
# size, no Large block), and every free takes it out of the profile: by
# its thread, by another thread, in a child of fork, by realloc. Every
# allocation is sampled (HAKMEM_PROF_SAMPLE=1), with a weight of 1: the
# program compares the dumps' live bytes with what it holds.
echo "--- tests/prof/slab.c: sampled blocks in their box, their frees"
d=$work/slab
rm -rf "$d"
mkdir -p "$d"
if ! timeout 120 "$tdir/slab" box > "$d/box.want" 2>&1; then
	cat "$d/box.want"
	bad "slab: the program failed with the profiler off"
elif ! timeout 120 env HAKMEM_PROF=1 HAKMEM_PROF_SAMPLE=1 HAKMEM_PROF_AT_EXIT=0 \
	HAKMEM_PROF_PEAK=0 "$tdir/slab" "$d" > "$d/out" 2>&1 || ! grep -q '^slab: done$' "$d/out"; then
	cat "$d/out"
	bad "slab: the program failed (sampled blocks, frees)"
else
	ok "slab: exact live bytes after local, remote, child and realloc frees"
	grep '^box ' "$d/out" > "$d/box.got"
	if [ -s "$d/box.want" ] && cmp -s "$d/box.want" "$d/box.got"; then
		ok "slab: sampled blocks come from their box ($(wc -l < "$d/box.got") sizes)"
	else
		diff "$d/box.want" "$d/box.got"
		bad "slab: sampled blocks do not come from the box of unsampled ones"
	fi
fi

# slab_case MODE OK BAD: "slab MODE DIR" at a mean of 4 KiB (some blocks
# sampled, some not) must print "slab: done"; skipped, with the reason the
# program gives, without stat.prof_samples (CONFIG_OPTIONS), which tells
# sampled blocks apart, or without a slab box (only Large: no slab sample).
slab_case() {
	local mode=$1 out=$d/$1.out
	if ! timeout 120 env HAKMEM_PROF=1 HAKMEM_PROF_SAMPLE=4096 HAKMEM_PROF_AT_EXIT=0 \
		HAKMEM_PROF_PEAK=0 "$tdir/slab" "$mode" "$d" > "$out" 2>&1 ||
	   ! grep -q '^slab: done' "$out"; then
		cat "$out"
		bad "slab: $3"
	elif grep -q '^slab: done (.*skipped)$' "$out"; then
		echo "skip slab $mode: $(sed -n 's/^slab: done (\(.*\): skipped)$/\1/p' "$out")"
	else
		ok "slab: $2"
	fi
}

# A sampled realloc that its class could do in place must move the block
# inside a block (its free must reach the profiler): the dump after its
# free is the one before (a mean of 4 KiB, so that the block resized is
# an unsampled one).
slab_case realloc "a block resized by a sampled realloc leaves the profile at its free" \
	"a block resized by a sampled realloc stays in the profile after its free"

# A sampled realloc of a block start that its block holds with 16 bytes
# to spare: the block stays, its bytes 16 up (no other block, no copy to
# it), and its free takes the sample out of the profile.
slab_case shift "a sampled realloc that its block holds with 16 bytes more stays in the block" \
	"a sampled realloc that its block holds with 16 bytes more"

# A sampled realloc of a slab sample that its block holds: in place (no
# copy), a live sample, and its free takes it out of the profile.
slab_case restay "a sampled realloc of a sample that its block holds stays in place" \
	"a sampled realloc of a sample that its block holds"

# A sampled realloc that moves a block growing by a little gets the room
# an unsampled one gets (a quarter more), so that the next small growth
# stays in place.
slab_case grow "a sampled realloc that moves a block leaves it the room of an unsampled one" \
	"a sampled realloc that moves a block leaves it less room than an unsampled one"

# An unsampled realloc of a sampled slab block that its block holds: in
# place (no copy), out of the profile, and its free still works.
slab_case resize "an unsampled realloc of a sample that its block holds stays in place" \
	"an unsampled realloc of a sample that its block holds"

# Bad pointers behind a copy of a live sample's 16-byte header (the
# profiler finds a slab sample from them), and an unaligned one: reported,
# nothing freed, the profile unchanged (a mean of 4 KiB, so that some
# blocks are sampled and some not).
slab_case bad "bad pointers behind a copied sample header are not taken for samples" \
	"a bad pointer behind a copied sample header"

# A sampled block freed twice: reported as a double free (SIGABRT), as
# the double-free check does for any block (its second free is not a
# block start: it looks like a bad pointer, which is only reported).
if grep -q '^CONFIG_DOUBLE_FREE_CHECK=y' "$lib/.config" 2>/dev/null; then
	HAKMEM_PROF=1 HAKMEM_PROF_SAMPLE=1 HAKMEM_PROF_AT_EXIT=0 HAKMEM_PROF_PEAK=0 \
		timeout 60 "$tdir/slab" twice > "$d/twice.out" 2>&1
	st=$?
	if [ $st = 134 ] && grep -q 'double free' "$d/twice.out"; then
		ok "slab: a sampled block freed twice aborts as a double free"
	else
		cat "$d/twice.out"
		bad "slab: a sampled block freed twice: status $st, expected 134 (SIGABRT) and a double-free report"
	fi
else
	echo "skip slab twice: CONFIG_DOUBLE_FREE_CHECK is off"
fi

# The profiler's unwinder (mm/prof/unwind.c) against libgcc's: every
# allocation sampled (HAKMEM_PROF_SAMPLE=1), so both runs sample the same
# blocks; pprof must read the same stacks from both exit dumps. On x86-64
# the profiler's own unwinder must have done nearly all of them (libgcc
# only the signal frames), and libgcc every one with HAKMEM_PROF_UNWIND.
unwind_run() {
	local mode=$1 d=$work/unwind-$1
	rm -rf "$d"
	mkdir -p "$d"
	if ! timeout 120 env HAKMEM_PROF=1 HAKMEM_PROF_SAMPLE=1 HAKMEM_PROF_PEAK=0 \
		HAKMEM_PROF_UNWIND="$mode" HAKMEM_PROF_PREFIX="$d/u" "$tdir/unwind" stats \
		> "$d/out" 2>&1 || ! grep -q '^unwind: done$' "$d/out"; then
		cat "$d/out"
		bad "unwind ($mode): the program failed"
		return 1
	fi
	google-pprof --collapsed "$tdir/unwind" "$d"/u.*.exit.heap 2>/dev/null | sort > "$d/stacks"
	sed -e 's/<[0-9a-f]*>//g' "$d/stacks" > "$d/names"
}

echo "--- tests/prof/unwind.c: the profiler's unwinder against libgcc's"
if unwind_run own && unwind_run libgcc; then
	own=$work/unwind-own libgcc=$work/unwind-libgcc
	if [ -s "$own/stacks" ] && cmp -s "$own/stacks" "$libgcc/stacks"; then
		ok "unwind: the same $(wc -l < "$own/stacks") stacks as libgcc's unwinder"
	else
		diff "$own/stacks" "$libgcc/stacks" | head -n 20
		bad "unwind: the stacks differ from libgcc's (or there are none)"
	fi
	for want in ';main;deep;deep;deep;take' ';main;with_fp[.a-z0-9]*;take' ';main;with_vla;take' \
		';in_qsort;.*;cmp_int;take' '^clone3;start_thread;thread_main;deep;deep;deep;take' ';on_signal;take' \
		';main;in_turn;site_a;take' ';main;in_turn;site_b;take' ';main;in_turn;site_c;site_c;site_c;take'; do
		grep -Eq "$want [0-9]+\$" "$own/names" && ok "unwind: a stack ...$want" ||
			bad "unwind: no stack ...$want"
	done
	read -r _ _ s_own _ g_own < <(grep '^unwind: samples' "$own/out")
	read -r _ _ s_gcc _ g_gcc < <(grep '^unwind: samples' "$libgcc/out")
	if grep -q '^unwind: no stats' "$own/out"; then
		echo "skip unwind counts: CONFIG_OPTIONS is off"
	elif [ "$s_own" != "$s_gcc" ] || [ "$g_gcc" != "$s_gcc" ]; then
		bad "unwind: samples $s_own / $s_gcc, libgcc unwinds with HAKMEM_PROF_UNWIND=libgcc $g_gcc"
	elif [ "$(uname -m)" = x86_64 ] && [ $((g_own * 10)) -gt "$s_own" ]; then
		bad "unwind: libgcc unwound $g_own of $s_own samples (the profiler's unwinder: under 10%)"
	else
		ok "unwind: $s_own samples, libgcc unwound $g_own (signal frames)"
	fi
fi

# Real programs under LD_PRELOAD, one sample every 4 KiB (many unwinds,
# threads, fork): they must finish and leave profiles pprof reads.
# prog_run NAME BINARY EXPECTED_OUTPUT ARGS...
prog_run() {
	local name=$1 bin=$2 want=$3 d=$work/$1 out f total
	shift 3
	if ! command -v "$bin" >/dev/null 2>&1; then
		[ -n "${CI:-}" ] && bad "$name: $bin is missing and CI is set" ||
			echo "skip $name: $bin is not installed"
		return
	fi
	rm -rf "$d"
	mkdir -p "$d"
	out=$(timeout 300 env HAKMEM_PROF=1 HAKMEM_PROF_SAMPLE=4096 HAKMEM_PROF_PREFIX="$d/p" \
		LD_PRELOAD="$lib/libhakmem.so" "$bin" "$@" 2>&1)
	if [ "$out" != "$want" ]; then
		bad "$name: output '$out', expected '$want' (timeout: status 124)"
		return
	fi
	f=$(ls -S "$d"/p.*.peak.heap 2>/dev/null | head -n 1)
	total=$(google-pprof --text "$(command -v "$bin")" "$f" 2>/dev/null |
		awk '/^Total:/ { print $2 }')
	if [ -n "$f" ] && awk -v t="${total:-0}" 'BEGIN { exit !(t > 0) }'; then
		ok "$name: ran, peak profile of $total MB"
	else
		bad "$name: no readable peak profile in $d"
	fi
}

prog_run python3 "$PYTHON" 20000 -c '
import json, os, threading
d = [json.dumps({"k": i, "v": "x" * (i % 3000)}) for i in range(20000)]
def work():
    l = [bytes(1000 + i) for i in range(3000)]
ts = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
pid = os.fork()
if pid == 0:
    x = [b"y" * 3000 for _ in range(1000)]
    os._exit(0)
os.waitpid(pid, 0)
print(len(d))'

prog_run sqlite3 sqlite3 100000 :memory: \
	'create table t(a, b); with recursive c(x) as (select 1 union all select x + 1 from c where x < 100000) insert into t select x, hex(randomblob(40)) from c; create index i on t(b); select count(*) from t;'

echo "prof: $passed passed, $failed failed"
[ $failed = 0 ]
