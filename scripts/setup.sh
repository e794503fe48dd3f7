#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# One command from a fresh Debian/Ubuntu checkout to a built, benchmarked
# hakmem:
#
#   ./scripts/setup.sh             install missing packages, configure
#                                  (make defconfig, unless .config exists),
#                                  build, then run the benchmark (make bench)
#   ./scripts/setup.sh --no-bench  the same without the benchmark (CI)
#   ./scripts/setup.sh --deps-only only install the packages
#
# Options after the first non-option word, or after --, go to every make
# command, e.g.  ./scripts/setup.sh --no-bench O=build/x
#
# Idempotent: packages that are installed are not touched (one dpkg-query),
# an existing .config is kept, make rebuilds only what changed.
# Needs root or sudo only when a package is missing.

set -euo pipefail

PACKAGES=(
	make gcc python3 python3-kconfiglib sparse check pkg-config git
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
	libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4
	gnuplot-nox valgrind clang libclang-rt-14-dev
	sqlite3 redis-server redis-tools tmux
	google-perftools graphviz
)
# Without these nothing builds; the others only matter for tests,
# benchmarks and cross builds.
ESSENTIAL=(make gcc python3-kconfiglib)

bench=1
build=1
make_args=()

usage() {
	sed -n '4,17p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--no-bench) bench=0 ;;
	--deps-only) build=0; bench=0 ;;
	-h|--help) usage 0 ;;
	--) shift; make_args+=("$@"); break ;;
	-*) echo "setup.sh: unknown option $1" >&2; usage 2 >&2 ;;
	*) make_args+=("$1") ;;
	esac
	shift
done

cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" = 0 ]; then
	SUDO=()
elif command -v sudo >/dev/null 2>&1; then
	SUDO=(sudo)
else
	SUDO=(__no_sudo__)
fi

installed() {
	# Prints the packages of "$@" that are not installed.
	local status
	status=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null || true)
	for p in "$@"; do
		if ! grep -q "^$p install ok installed$" <<<"$status"; then
			echo "$p"
		fi
	done
}

install_packages() {
	if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
		echo "setup.sh: not a Debian/Ubuntu system; install by hand: ${PACKAGES[*]}" >&2
		return 0
	fi
	local missing
	mapfile -t missing < <(installed "${PACKAGES[@]}")
	if [ ${#missing[@]} -eq 0 ]; then
		say "All ${#PACKAGES[@]} packages are installed"
		return 0
	fi
	if [ "${SUDO[*]}" = __no_sudo__ ]; then
		echo "setup.sh: need root or sudo to install: ${missing[*]}" >&2
		exit 1
	fi
	say "Installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
	if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}"; then
		# Some release may lack a package (e.g. another libclang-rt
		# version): install what exists, one by one.
		echo "setup.sh: installing the packages one by one" >&2
		for p in "${missing[@]}"; do
			"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
				apt-get install -y --no-install-recommends "$p" ||
				echo "setup.sh: warning: could not install $p" >&2
		done
	fi
	mapfile -t missing < <(installed "${PACKAGES[@]}")
	if [ ${#missing[@]} -gt 0 ]; then
		echo "setup.sh: warning: still missing: ${missing[*]}" >&2
		for p in "${ESSENTIAL[@]}"; do
			for m in "${missing[@]}"; do
				if [ "$p" = "$m" ]; then
					echo "setup.sh: $p is required" >&2
					exit 1
				fi
			done
		done
	fi
}

# The aarch64 unit tests link Check built for arm64 and run under qemu with
# the arm64 C library: Debian's multiarch packages. Best effort: without
# them the cross-built unit tests are skipped (and say so).
ARM64_PACKAGES=(libc6:arm64 check:arm64 libsubunit-dev:arm64)

install_arm64_packages() {
	command -v dpkg >/dev/null 2>&1 || return 0
	[ "$(dpkg --print-architecture)" = arm64 ] && return 0
	local missing=() p
	for p in "${ARM64_PACKAGES[@]}"; do
		[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "${SUDO[*]}" = __no_sudo__ ]; then
		echo "setup.sh: warning: need root or sudo to install ${missing[*]}" >&2
		return 0
	fi
	say "Installing the arm64 test libraries: ${missing[*]}"
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		"${SUDO[@]}" dpkg --add-architecture arm64
	fi
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update ||
		true
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}" ||
		echo "setup.sh: warning: could not install ${missing[*]}; aarch64 unit tests will be skipped" >&2
}

install_packages
install_arm64_packages
[ $build = 1 ] || exit 0

jobs=$(nproc 2>/dev/null || echo 2)

# Where the build goes: O= from the arguments, else the source tree.
objtree=.
for a in "${make_args[@]+"${make_args[@]}"}"; do
	case $a in O=*) objtree=${a#O=} ;; esac
done

if [ -f "$objtree/.config" ]; then
	say "Keeping the existing $objtree/.config (make olddefconfig)"
	make "${make_args[@]+"${make_args[@]}"}" olddefconfig
else
	say "make defconfig"
	make "${make_args[@]+"${make_args[@]}"}" defconfig
fi

say "make -j$jobs"
make "${make_args[@]+"${make_args[@]}"}" -j"$jobs"

if [ $bench = 1 ]; then
	say "make bench (hakmem against the system malloc, mimalloc, jemalloc, tcmalloc)"
	make "${make_args[@]+"${make_args[@]}"}" bench
fi

say "Done. Next: make check"
