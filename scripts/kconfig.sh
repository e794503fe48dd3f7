#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Run a kconfiglib tool for the top-level Makefile.
#
#   kconfig.sh <tool> [argument]
#
# Environment (set by the Makefile):
#   srctree  source tree (holds Kconfig); kconfiglib resolves 'source' there
#   objtree  build tree (holds .config)
#   ARCH     normalised architecture, read by arch/Kconfig as $(ARCH)
#   PYTHON   interpreter that has kconfiglib (Debian: /usr/bin/python3)
#   V        1 = show the commands
#   SILENT   1 = make -s: print only errors
#
# Tools:
#   defconfig FILE [FRAGMENT]
#                    .config from a minimal config; strict (see below). With
#                    FRAGMENT, FILE with FRAGMENT merged onto it: FRAGMENT's
#                    lines replace FILE's lines for the same symbols (the idea
#                    of Linux's scripts/kconfig/merge_config.sh)
#   mergeconfig FRAGMENT   merge FRAGMENT onto the existing .config, strictly
#   menuconfig guiconfig oldconfig olddefconfig alldefconfig listnewconfig
#   allnoconfig allyesconfig   kconfiglib's: every option n (y) that can be
#   randconfig       scripts/randconfig.py: random values, KCONFIG_SEED=
#   savedefconfig    writes $objtree/defconfig
#   syncconfig       olddefconfig, then include/generated/autoconf.h and
#                    include/config/ (auto.conf + per-symbol files)
#
# kconfiglib only warns about a defconfig line that names an unknown
# symbol, or sets a value that does not stick (a symbol whose dependencies
# are not met, an out-of-range int, ...). 'defconfig' turns both into
# errors: kconfiglib runs with KCONFIG_WARN_UNDEF_ASSIGN=y, any warning
# fails, and every assignment in FILE is compared with the .config that
# kconfiglib wrote.

set -eu

: "${srctree:?srctree not set}"
: "${objtree:?objtree not set}"
: "${PYTHON:=/usr/bin/python3}"
: "${V:=0}"
: "${SILENT:=0}"

export srctree ARCH
KCONFIG_CONFIG="$objtree/.config"
export KCONFIG_CONFIG
# The first line of .config, defconfig and autoconf.h.
KCONFIG_CONFIG_HEADER="# hakmem configuration
"
KCONFIG_AUTOHEADER_HEADER="/* Generated from .config by make: do not edit. */
"
export KCONFIG_CONFIG_HEADER KCONFIG_AUTOHEADER_HEADER

kconfig="$srctree/Kconfig"
tool=${1:?usage: kconfig.sh <tool> [file]}
shift

die() {
	printf '%s\n' "*** $*" >&2
	exit 1
}

if ! "$PYTHON" -c 'import kconfiglib' 2>/dev/null; then
	die "$PYTHON cannot import kconfiglib. Install it: apt-get install python3-kconfiglib (or run ./scripts/setup.sh)"
fi

run() {
	[ "$V" = 1 ] && printf '%s\n' "$*" >&2
	"$@"
}

mkdir -p "$objtree"
cd "$objtree"

# check_values DEFCONFIG: every assignment in DEFCONFIG must be in .config.
check_values() {
	awk -v defconfig="$1" '
	function parse(line) {
		name = ""; value = ""
		if (line ~ /^CONFIG_[A-Za-z0-9_]+=/) {
			eq = index(line, "=")
			name = substr(line, 1, eq - 1)
			value = substr(line, eq + 1)
			sub(/[ \t\r]+$/, "", value)
		} else if (line ~ /^# CONFIG_[A-Za-z0-9_]+ is not set/) {
			split(line, w, " ")
			name = w[2]; value = "n"
		}
	}
	FNR == NR {	# .config
		parse($0)
		if (name != "")
			have[name] = value
		next
	}
	{
		parse($0)
		if (name == "")
			next
		got = (name in have) ? have[name] : "n"
		shown = (name in have) ? have[name] : "(not set: dependencies not met or unknown symbol)"
		if (got != value) {
			printf("%s:%d: %s=%s does not stick: the configuration has %s\n",
			       defconfig, FNR, name, value,
			       (name in have) ? name "=" shown : shown) > "/dev/stderr"
			bad = 1
		}
	}
	END { exit bad }
	' "$KCONFIG_CONFIG" "$1"
}

# merge BASE FRAGMENT: BASE without the symbols FRAGMENT sets, then FRAGMENT.
merge() {
	printf '# %s + %s\n' "${1#"$srctree"/}" "${2#"$srctree"/}"
	awk '
	function sym(line) {
		if (line ~ /^CONFIG_[A-Za-z0-9_]+=/)
			return substr(line, 1, index(line, "=") - 1)
		if (line ~ /^# CONFIG_[A-Za-z0-9_]+ is not set/) {
			split(line, w, " ")
			return w[2]
		}
		return ""
	}
	FNR == NR { if ((s = sym($0)) != "") set[s] = 1; next }
	{ s = sym($0); if (s == "" || !(s in set)) print }
	' "$2" "$1"
	cat "$2"
}

case $tool in
defconfig)
	file=${1:?defconfig needs a file}
	[ -f "$file" ] || die "$file: no such defconfig. Available: $(cd "$srctree/configs" 2>/dev/null && ls | sed 's/\.config$/_defconfig/' | tr '\n' ' ')"
	log=$(mktemp)
	trap 'rm -f "$log"' EXIT
	if [ $# -ge 2 ]; then
		[ -f "$2" ] || die "$2: no such configuration fragment"
		merged="$objtree/.defconfig.merged"
		merge "$file" "$2" >"$merged"
		file=$merged
	fi
	status=0
	KCONFIG_WARN_UNDEF_ASSIGN=y run "$PYTHON" -m defconfig --kconfig "$kconfig" "$file" >"$log" 2>&1 || status=$?
	if [ "$SILENT" != 1 ] || [ $status -ne 0 ] || grep -q 'warning:' "$log"; then
		cat "$log"
	fi
	[ $status -eq 0 ] || die "defconfig failed (status $status)"
	if grep -q 'warning:' "$log"; then
		die "$file: kconfiglib warnings are errors for defconfig files (fix the lines above)"
	fi
	check_values "$file" || die "$file: some values do not stick (see above); .config was written anyway"
	;;
mergeconfig)
	frag=${1:?mergeconfig needs a fragment}
	[ -f "$frag" ] || die "$frag: no such configuration fragment. Available: $(cd "$srctree/configs" 2>/dev/null && ls ./*.config 2>/dev/null | sed 's|^\./||' | tr '\n' ' ')"
	cp "$KCONFIG_CONFIG" "$objtree/.config.old"
	run "$PYTHON" - "$kconfig" "$frag" <<'PY' || die "mergeconfig failed"
import sys
import kconfiglib
kconf = kconfiglib.Kconfig(sys.argv[1])
kconf.warn_assign_undef = True
kconf.warn_assign_override = False
kconf.load_config()
print(kconf.load_config(sys.argv[2], replace=False))
print(kconf.write_config())
PY
	check_values "$frag" || die "$frag: some values do not stick (see above)"
	;;
menuconfig|guiconfig|oldconfig)
	run "$PYTHON" -m "$tool" "$kconfig"
	;;
olddefconfig|alldefconfig|allnoconfig|allyesconfig)
	if [ "$SILENT" = 1 ]; then
		run "$PYTHON" -m "$tool" "$kconfig" >/dev/null
	else
		run "$PYTHON" -m "$tool" "$kconfig"
	fi
	;;
randconfig)
	# The seed line is printed even with make -s: it is what reproduces
	# the configuration.
	out=$(run "$PYTHON" "$srctree/scripts/randconfig.py" "$kconfig") || {
		printf '%s\n' "$out" >&2
		die "randconfig failed"
	}
	if [ "$SILENT" = 1 ]; then
		printf '%s\n' "$out" | head -n 1
	else
		printf '%s\n' "$out"
	fi
	;;
listnewconfig)
	run "$PYTHON" -m listnewconfig "$kconfig"
	;;
savedefconfig)
	if [ "$SILENT" = 1 ]; then
		run "$PYTHON" -m savedefconfig --kconfig "$kconfig" --out "$objtree/defconfig" >/dev/null
	else
		run "$PYTHON" -m savedefconfig --kconfig "$kconfig" --out "$objtree/defconfig"
	fi
	;;
syncconfig)
	# Take in new Kconfig symbols (at their defaults), quietly unless the
	# configuration changes.
	out=$(run "$PYTHON" -m olddefconfig "$kconfig" 2>&1) || {
		printf '%s\n' "$out" >&2
		die "olddefconfig failed"
	}
	case $out in
	*"No change"*) [ "$V" = 1 ] && printf '%s\n' "$out" ;;
	*) printf '%s\n' "$out" ;;
	esac
	mkdir -p "$objtree/include/generated" "$objtree/include/config"
	run "$PYTHON" -m genconfig \
		--header-path "$objtree/include/generated/autoconf.h" \
		--sync-deps "$objtree/include/config" \
		"$kconfig"
	# genconfig leaves unchanged files alone; make needs them newer
	# than .config.
	touch "$objtree/include/generated/autoconf.h" "$objtree/include/config/auto.conf"
	;;
*)
	die "kconfig.sh: unknown tool '$tool'"
	;;
esac
