#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/valgrind/run.sh DIR SUPP [NAME] - run the static test programs of DIR
# (vg_bugs, vg_clean, linked with -static against a CONFIG_VALGRIND
# libhakmem.a) under memcheck and check its report: each bug of vg_bugs
# is reported as memcheck reports it for a dynamically linked program on
# glibc's malloc, and vg_clean, which exercises every path of the
# allocator, gets no error at all. SUPP: tools/valgrind/static-glibc.supp.
# Ends with "NAME: N passed, M failed" (NAME: valgrind).

dir=$1
supp=$2
name=${3:-valgrind}
pass=0
fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

VG="valgrind --leak-check=full --redzone-size=0 --num-callers=20 --error-exitcode=99 --suppressions=$supp"

# expect NAME PROGRAM-ARGS -- PATTERN... : every (extended regex) pattern
# must be in the report.
expect() {
	local name=$1 args=() p ok=1
	shift
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	# In a subshell: the shell's "Aborted" notice goes to the report.
	($VG "${args[@]}"; true) > "$out" 2>&1
	for p in "$@"; do
		if ! grep -Eq -- "$p" "$out"; then
			echo "FAIL $name: no line matching: $p"
			ok=0
		fi
	done
	if [ $ok = 1 ]; then
		echo "PASS $name"
		pass=$((pass + 1))
	else
		sed 's/^/    /' "$out"
		fail=$((fail + 1))
	fi
}

# The program may not exit with status 99 (memcheck found errors) here.
expect clean "$dir/vg_clean" -- \
	'ERROR SUMMARY: 0 errors from 0 contexts' 'definitely lost: 0 bytes in 0 blocks'
if grep -q 'lost their contents' "$out"; then
	echo "FAIL clean: the program saw wrong contents"; fail=$((fail + 1))
fi

expect leak "$dir/vg_bugs" leak -- \
	'definitely lost: 100,100 bytes in 2 blocks' \
	'== 100 bytes in 1 blocks are definitely lost' \
	'== 100,000 bytes in 1 blocks are definitely lost' \
	'by 0x[0-9A-F]+: leak \(vg_bugs.c:'

# Without a slab box (HK_SLABS, set by tests/Makefile, empty then; unset:
# there is one) the 48 and 40-byte blocks are Large ones: the read after
# free is 32 bytes in, past the Large cache's link (vg_bugs.c, UAF_OFF),
# and as every block up to some 40 KiB is of the first Large class, the
# block may be a cached one reused at once, whose bytes memcheck describes
# by the block that held them before ("32 bytes inside a block of size
# 10,032 free'd" under the profiler, "0 bytes after a recently
# re-allocated block"; randconfig KCONFIG_SEED=0x50f6daa3).
if [ "${HK_SLABS-y}" = y ]; then
	uaf_at="8 bytes inside a block of size 48 free'd"
	overflow_at="0 bytes after a block of size 40 alloc'd"
else
	uaf_at="32 bytes inside a block of size [0-9,]+ free'd"
	overflow_at="0 bytes after a (recently re-allocated )?block of size 40 alloc'd"
fi
expect use-after-free "$dir/vg_bugs" uaf -- \
	'Invalid read of size 1' \
	"Address 0x[0-9a-f]+ is $uaf_at" \
	'Block was alloc.d at'

expect large-use-after-free "$dir/vg_bugs" large-uaf -- \
	'Invalid read of size 1' \
	"Address 0x[0-9a-f]+ is 64 bytes inside a block of size 200,000 free'd"

expect invalid-free "$dir/vg_bugs" invalid-free -- \
	'Invalid free\(\) / delete / delete\[\] / realloc\(\)' \
	'by 0x[0-9A-F]+: invalid_free \(vg_bugs.c:' \
	'ERROR SUMMARY: 1 errors from 1 contexts'

# hakmem's own report needs CONFIG_DOUBLE_FREE_CHECK (HK_DOUBLE_FREE_CHECK,
# set by tests/Makefile, empty when it is off; unset: required). Without
# it only memcheck's is there (randconfig KCONFIG_SEED=0x07df554f).
dfcheck=()
[ "${HK_DOUBLE_FREE_CHECK-y}" = y ] && dfcheck=('hakmem: double free or corruption detected')
expect double-free "$dir/vg_bugs" double-free -- \
	'Invalid free\(\) / delete / delete\[\] / realloc\(\)' \
	'by 0x[0-9A-F]+: double_free \(vg_bugs.c:' \
	"${dfcheck[@]}"

expect uninitialised "$dir/vg_bugs" uninit -- \
	'Conditional jump or move depends on uninitialised value' \
	'by 0x[0-9A-F]+: main \(vg_bugs.c:|at 0x[0-9A-F]+: uninit \(vg_bugs.c:'

expect overflow "$dir/vg_bugs" overflow -- \
	'Invalid write of size 1' \
	"Address 0x[0-9a-f]+ is $overflow_at"

# The same past a Large block: its bytes past the size asked are no-access
# (mm/large/large.c, large_hand_out(); before, a fresh mapping's were
# addressable and the write went unseen).
expect large-overflow "$dir/vg_bugs" large-overflow -- \
	'Invalid write of size 1' \
	"Address 0x[0-9a-f]+ is 0 bytes after a block of size 1,100,000 alloc'd"

# C++ (CONFIG_CXX_NEW builds it): operator new[] and delete[] are hakmem's.
# The allocation's stack names operator new, or, under
# CONFIG_CC_OPTIMIZE_FOR_SIZE, hakmem's cxx_new, to which operator new[]
# jumps (a tail call leaves no frame of its own: randconfig
# KCONFIG_SEED=0x4578e21c, "by 0x...: cxx_new (new.c:76)" then main).
# With only the Large box its first frame may be operator new itself
# ("at 0x...: operator new[](unsigned long) (new.c:114)": 0x50f6daa3
# with CONFIG_CXX_NEW).
if [ -x "$dir/vg_cxx" ]; then
	expect c++ "$dir/vg_cxx" -- \
		'definitely lost: 100 bytes in 1 blocks' \
		'(at|by) 0x[0-9A-F]+: (operator new|cxx_new \(new\.c:)' \
		"Address 0x[0-9a-f]+ is $uaf_at" \
		'ERROR SUMMARY: 2 errors from 2 contexts'
fi

echo "$name: $pass passed, $fail failed"
[ $fail = 0 ]
