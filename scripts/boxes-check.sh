#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build hakmem with each box configured off, one at a time, and check that
# the box left nothing behind and that the allocator still works:
#
#   * its object files are absent from the build tree,
#   * `nm libhakmem.a` shows none of its symbols,
#   * the test suites pass (default: unit and stress).
#
# The reference is "all boxes on" (defconfig plus every box that defaults
# to off); it is built and checked first, so that a pattern that matches
# nothing even when the box is on is caught as an error of this script.
# Then one build per box symbol, and one with no slab box at all (only
# Large: every request is served by the Large box).
#
#   scripts/boxes-check.sh [SYMBOL...]      (default: every box)
#
# Environment:
#   srctree   source tree (default: this script's parent directory)
#   BOXES_OUT build directories (default: $srctree/build/boxes)
#   SUITES    suites to run on each build (default: "unit stress";
#             "" builds and checks objects and symbols only)
#   STRESS_TIME  seconds per stress run (default 3)
#   MAKE      make command (default: make); JOBS (default 2)
#
# Called by `make boxes-check` and, bounded, by .ci/run.

set -eu

srctree=${srctree:-$(cd "$(dirname "$0")/.." && pwd)}
out=${BOXES_OUT:-$srctree/build/boxes}
suites=${SUITES-unit stress}
stress_time=${STRESS_TIME:-3}
make=${MAKE:-make}
jobs=${JOBS:-2}
nm=${NM:-nm}

# symbol | objects that must be absent | nm pattern (ERE, over "addr type name"
# lines) | also off (dependents)
boxes='
TINY|mm/tiny/tiny.o mm/tiny/ultrahot.o|_hk_box_tiny$| tiny_classes_init| tiny_check|ultrahot|SMALLMID TINY_ULTRAHOT
SMALLMID|mm/smallmid/smallmid.o|smallmid|
MID|mm/mid/mid.o|_hk_box_mid$| mid_classes_init| mid_check|
TINY_ULTRAHOT|mm/tiny/ultrahot.o|ultrahot|
LARGE_CACHE|| large_cache($|[._])| large_bin_|
EXTERNAL_GUARD_STATS|mm/guard/guard_stats.o| guard_count| guard_report| guard_stats| guard_module_of|
STATS|mm/stats/stats.o|hk_stats_global| stats_init| stats_exit| stats_print| heap_stats_sum|
DOUBLE_FREE_CHECK|mm/guard/double_free.o|hk_dfkey| double_free_init|_hk_box_double_free$|
'

# Every box on: the reference.
all_on='CONFIG_TINY=y
CONFIG_SMALLMID=y
CONFIG_MID=y
CONFIG_TINY_ULTRAHOT=y
CONFIG_LARGE_CACHE=y
CONFIG_EXTERNAL_GUARD_STATS=y
CONFIG_STATS=y
CONFIG_DOUBLE_FREE_CHECK=y'

fail=0
failed=

say() {
	printf 'boxes-check: %s\n' "$*"
}

# config NAME OFF...: write $out/NAME/boxes.config (all on, OFF off) and configure.
configure() {
	name=$1
	shift
	dir=$out/$name
	mkdir -p "$dir"
	printf '%s\n' "$all_on" > "$dir/boxes.config.in"
	for s in "$@"; do
		grep -v "^CONFIG_$s=" "$dir/boxes.config.in" > "$dir/boxes.config.tmp" || true
		printf '# CONFIG_%s is not set\n' "$s" >> "$dir/boxes.config.tmp"
		mv "$dir/boxes.config.tmp" "$dir/boxes.config.in"
	done
	mv "$dir/boxes.config.in" "$dir/boxes.config"
	# kconfig.sh defconfig is strict: every line must stick.
	srctree=$srctree objtree=$dir ARCH=${ARCH:-$(uname -m)} PYTHON=${PYTHON:-/usr/bin/python3} \
		SILENT=1 sh "$srctree/scripts/kconfig.sh" defconfig "$dir/boxes.config"
}

build() {
	$make -s -C "$srctree" O="$1" -j"$jobs" >"$1/build.log" 2>&1 || {
		cat "$1/build.log" >&2
		return 1
	}
}

run_suites() {
	[ -n "$suites" ] || return 0
	$make -s -C "$srctree" O="$1" check SUITES="$suites" STRESS_TIME="$stress_time" \
		>"$1/check.log" 2>&1 || {
		tail -n 30 "$1/check.log" >&2
		return 1
	}
	grep '^ PASS\|^ FAIL' "$1/check.log" | sed 's/^/boxes-check:   /'
}

bad() {
	say "FAIL $1: $2"
	fail=1
	failed="$failed $1"
}

# The reference build: every pattern and object must be there.
say "all boxes on"
configure all-on
build "$out/all-on" || { say "FAIL all-on: build"; exit 1; }
syms=$($nm "$out/all-on/libhakmem.a")
printf '%s\n' "$boxes" | while IFS='|' read -r sym objs rest; do
	[ -n "$sym" ] || continue
	pat=$(printf '%s' "$rest" | sed 's/|[A-Z_ ]*$//')
	for o in $objs; do
		[ -f "$out/all-on/$o" ] || { say "FAIL all-on: $o missing (check the table)"; exit 1; }
	done
	printf '%s\n' "$syms" | grep -Eq "$pat" ||
		{ say "FAIL all-on: no symbol matches /$pat/ for $sym (check the table)"; exit 1; }
done || exit 1
run_suites "$out/all-on" || bad all-on "test suites"

want="$*"
[ -n "$want" ] || want="$(printf '%s\n' "$boxes" | cut -d'|' -f1 | tr '\n' ' ') large-only"

for w in $want; do
	if [ "$w" = large-only ]; then
		say "no slab box (TINY, SMALLMID, MID off): Large serves every request"
		configure large-only TINY SMALLMID TINY_ULTRAHOT MID || { bad large-only configure; continue; }
		build "$out/large-only" || { bad large-only build; continue; }
		for o in mm/tiny/tiny.o mm/smallmid/smallmid.o mm/mid/mid.o; do
			[ ! -f "$out/large-only/$o" ] || bad large-only "$o built"
		done
		run_suites "$out/large-only" || bad large-only "test suites"
		continue
	fi
	line=$(printf '%s\n' "$boxes" | grep "^$w|" || true)
	[ -n "$line" ] || { say "unknown box symbol $w"; exit 2; }
	objs=$(printf '%s' "$line" | cut -d'|' -f2)
	deps=$(printf '%s' "$line" | sed 's/.*|//')
	pat=$(printf '%s' "$line" | cut -d'|' -f3- | sed 's/|[A-Z_ ]*$//')
	say "CONFIG_$w off${deps:+ (with $deps)}"
	configure "$w" "$w" $deps || { bad "$w" configure; continue; }
	build "$out/$w" || { bad "$w" build; continue; }
	for o in $objs; do
		[ ! -f "$out/$w/$o" ] || bad "$w" "$o built"
	done
	left=$($nm "$out/$w/libhakmem.a" | grep -E "$pat" || true)
	[ -z "$left" ] || bad "$w" "symbols left: $(printf '%s' "$left" | awk '{print $NF}' | tr '\n' ' ')"
	run_suites "$out/$w" || bad "$w" "test suites"
done

if [ $fail = 0 ]; then
	say "all passed"
else
	say "failed:$failed"
fi
exit $fail
