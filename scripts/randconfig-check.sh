#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build and test N random configurations: make randconfig-check N=20.
#
#   randconfig-check.sh N
#
# Each configuration gets its own build directory, $RANDCONFIG_DIR/<seed>:
# make randconfig (with that seed), make, then make check with the unit and
# stress suites (SUITES=, STRESS_TIME=). The seeds come from one random
# generator seeded with KCONFIG_SEED (a fresh one if unset, printed), so
#
#   make randconfig-check N=20 KCONFIG_SEED=0x1234
#
# repeats a whole run, and a failing configuration is made again with
#
#   make O=dir randconfig KCONFIG_SEED=<its seed>
#
# Directories of configurations that passed are removed (RANDCONFIG_KEEP=1
# keeps them); those of failures are kept, with the logs. Exits 1 if any
# configuration failed to configure, build or pass its tests, after
# listing them with their seeds.
#
# A configuration that matches a line of RANDCONFIG_KNOWN_BUGS (default
# scripts/randconfig-known-bugs: a bug already reported) is not tested;
# another one is drawn in its place (at most 10 N draws in all), and the
# skipped seeds are listed at the end.
#
# Environment (set by the Makefile): srctree, MAKE, RANDCONFIG_DIR, JOBS,
# SUITES, STRESS_TIME, KCONFIG_SEED, RANDCONFIG_KEEP, RANDCONFIG_KNOWN_BUGS,
# and MAKEARGS (ARCH=, CROSS_COMPILE=, ... passed to every make).

set -u

n=${1:?usage: randconfig-check.sh N}
: "${srctree:?}" "${RANDCONFIG_DIR:?}"
MAKE=${MAKE:-make}
JOBS=${JOBS:-2}
SUITES=${SUITES:-unit stress}
STRESS_TIME=${STRESS_TIME:-5}
RANDCONFIG_KEEP=${RANDCONFIG_KEEP:-0}
RANDCONFIG_KNOWN_BUGS=${RANDCONFIG_KNOWN_BUGS-$srctree/scripts/randconfig-known-bugs}
read -r -a makeargs <<<"${MAKEARGS:-}"
# Each configuration's makes start afresh: nothing of the calling make's
# command line (O=, N=, KCONFIG_SEED=, its jobserver) leaks into them.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

case $n in
'' | *[!0-9]*) echo "*** randconfig-check: N=$n is not a number" >&2; exit 2 ;;
esac

if [ -n "${KCONFIG_SEED:-}" ]; then
	base=$((KCONFIG_SEED))
else
	base=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
fi
printf 'randconfig-check: %d configurations, KCONFIG_SEED=0x%08x (repeat the run with it)\n' "$n" "$base"

# The seed of configuration i: a 32-bit mix of the base seed and i
# (splitmix-like), so that neighbouring base seeds share no configuration.
seed_of() {
	local x=$(((base * 2654435761 + ($1 + 1) * 40503) & 0xffffffff))
	x=$(((x ^ (x >> 16)) * 73244475 & 0xffffffff))
	printf '0x%08x' $(((x ^ (x >> 16)) & 0xffffffff))
}

# known_bug CONFIG: the description of the first known bug CONFIG matches.
known_bug() {
	[ -n "$RANDCONFIG_KNOWN_BUGS" ] && [ -f "$RANDCONFIG_KNOWN_BUGS" ] || return 1
	awk -v config="$1" '
	BEGIN {
		while ((getline line < config) > 0) {
			if (line ~ /^CONFIG_[A-Za-z0-9_]+=/) {
				eq = index(line, "=")
				val[substr(line, 1, eq - 1)] = substr(line, eq + 1)
			}
		}
	}
	/^[ \t]*(#|$)/ { next }
	{
		bar = index($0, "|")
		conds = bar ? substr($0, 1, bar - 1) : $0
		desc = bar ? substr($0, bar + 1) : $0
		k = split(conds, c, " ")
		ok = k > 0
		for (j = 1; j <= k; j++) {
			if (match(c[j], /[=<>]/) == 0) {
				ok = 0
				continue
			}
			op = substr(c[j], RSTART, 1)
			name = substr(c[j], 1, RSTART - 1)
			want = substr(c[j], RSTART + 1)
			have = (name in val) ? val[name] : "n"
			if (op == "=" && have != want)
				ok = 0
			if (op == ">" && !(have != "n" && have + 0 > want + 0))
				ok = 0
			if (op == "<" && !(have != "n" && have + 0 < want + 0))
				ok = 0
		}
		if (ok) {
			sub(/^[ \t]+/, "", desc)
			print desc
			found = 1
			exit
		}
	}
	END { exit !found }
	' "$RANDCONFIG_KNOWN_BUGS"
}

mkdir -p "$RANDCONFIG_DIR"
failures=()
skipped=()
npass=0
draw=0
[ -n "$RANDCONFIG_KNOWN_BUGS" ] && echo "randconfig-check: configurations matching $RANDCONFIG_KNOWN_BUGS are skipped"
for ((i = 0; i < n; i++)); do
	seed=$(seed_of "$draw")
	draw=$((draw + 1))
	dir=$RANDCONFIG_DIR/$seed
	log=$dir.log
	rm -rf "$dir"
	if ! $MAKE -C "$srctree" O="$dir" "${makeargs[@]}" -s randconfig KCONFIG_SEED="$seed" >"$log" 2>&1; then
		printf '\n=== randconfig %d/%d: KCONFIG_SEED=%s\n' $((i + 1)) "$n" "$seed"
		sed 's/^/  | /' "$log"
		echo "  FAIL (configure) KCONFIG_SEED=$seed, log $log"
		failures+=("KCONFIG_SEED=$seed: configure failed (log $log)")
		continue
	fi
	if bug=$(known_bug "$dir/.config"); then
		skipped+=("KCONFIG_SEED=$seed: $bug")
		rm -rf "$dir" "$log"
		i=$((i - 1))
		if [ "$draw" -ge $((10 * n)) ]; then
			echo "*** randconfig-check: $draw draws, most of them known bugs; stopping" >&2
			break
		fi
		continue
	fi
	printf '\n=== randconfig %d/%d: KCONFIG_SEED=%s (O=%s)\n' $((i + 1)) "$n" "$seed" "$dir"
	stage=
	{
		if [ -z "$stage" ]; then
			grep '^CONFIG_\|^# CONFIG_' "$dir/.config" | grep -v '^# CONFIG_ARCH_'
			$MAKE -C "$srctree" O="$dir" "${makeargs[@]}" -j"$JOBS" || stage=build
		fi
		if [ -z "$stage" ]; then
			$MAKE -C "$srctree" O="$dir" "${makeargs[@]}" check \
				SUITES="$SUITES" STRESS_TIME="$STRESS_TIME" || stage=check
		fi
		echo "stage=${stage:-passed}"
	} >"$log" 2>&1
	stage=$(sed -n 's/^stage=//p' "$log" | tail -n 1)
	if [ "$stage" = passed ]; then
		npass=$((npass + 1))
		grep -E '^(  *)?(check|[0-9]+%|stress)[: ]' "$log" | tail -n 4 | sed 's/^/  /'
		echo "  PASS"
		[ "$RANDCONFIG_KEEP" = 1 ] || rm -rf "$dir" "$log"
	else
		tail -n 30 "$log" | sed 's/^/  | /'
		echo "  FAIL ($stage) KCONFIG_SEED=$seed, log $log"
		failures+=("KCONFIG_SEED=$seed: $stage failed (log $log)")
	fi
done

echo
if [ ${#skipped[@]} -gt 0 ]; then
	echo "randconfig-check: ${#skipped[@]} configurations skipped (known bugs, $RANDCONFIG_KNOWN_BUGS):"
	printf '  %s\n' "${skipped[@]}"
fi
echo "randconfig-check: $npass passed, ${#failures[@]} failed, ${#skipped[@]} skipped as known bugs (KCONFIG_SEED=$(printf '0x%08x' "$base"))"
if [ ${#failures[@]} -gt 0 ]; then
	printf '  %s\n' "${failures[@]}"
	echo "  reproduce: make O=<dir> randconfig KCONFIG_SEED=<seed> && make O=<dir> && make O=<dir> check"
	exit 1
fi
