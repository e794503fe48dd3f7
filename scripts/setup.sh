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
#
# Fails, naming them, if packages that make check needs cannot be
# installed (the benchmark's too unless --no-bench; with CI=true also the
# arm64 libraries of the aarch64 unit tests): a test suite must not be
# skipped for want of a tool.

set -euo pipefail

# Without these nothing builds.
ESSENTIAL=(make gcc python3-kconfiglib)
# make check: Check, the sanitizer and fuzzing suites (clang and its
# runtime), the programs suite, the aarch64 cross build under qemu, sparse
# (CI), valgrind (make callgrind), setarch (util-linux) for TSan.
TEST_PACKAGES=(
	g++ python3 sparse check pkg-config git coreutils util-linux
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
	valgrind clang libclang-rt-14-dev
	sqlite3 redis-server redis-tools google-perftools graphviz
)
# make bench: the other allocators, the charts, /usr/bin/time for the
# real programs' peak RSS and the real programs that make check does not
# need (tools/bench/bench_real.sh).
BENCH_PACKAGES=(
	libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4 gnuplot-nox tmux time
	z3 lua5.4 ghostscript
)
PACKAGES=("${ESSENTIAL[@]}" "${TEST_PACKAGES[@]}" "${BENCH_PACKAGES[@]}")

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
		[ "${CI:-}" = true ] && exit 1
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
	check_required
}

# The clang runtime package is versioned (libclang-rt-NN-dev): any version
# will do if clang links a sanitized fuzzer with it.
clang_rt_works() {
	command -v clang >/dev/null 2>&1 &&
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }' |
		clang -x c - -fsanitize=fuzzer,address,undefined -o /dev/null 2>/dev/null
}

# Fail, naming them, if packages the chosen steps need are missing.
check_required() {
	local need=("${ESSENTIAL[@]}" "${TEST_PACKAGES[@]}") missing=() m
	[ $bench = 1 ] && need+=("${BENCH_PACKAGES[@]}")
	for m in $(installed "${need[@]}"); do
		case $m in
		libclang-rt-*) clang_rt_works && continue ;;
		esac
		missing+=("$m")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "setup.sh: error: missing packages: ${missing[*]}" >&2
		echo "setup.sh: make check needs them${bench:+ (and make bench)}; install them and run setup.sh again" >&2
		exit 1
	fi
	mapfile -t missing < <(installed "${BENCH_PACKAGES[@]}")
	if [ ${#missing[@]} -gt 0 ]; then
		echo "setup.sh: warning: missing (make bench only): ${missing[*]}" >&2
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
		arm64_missing
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
		echo "setup.sh: warning: could not install ${missing[*]}" >&2
	arm64_missing
}

# The aarch64 unit tests cannot run without the arm64 libraries: a warning,
# and with CI=true (which fails a skipped suite anyway) an error now.
arm64_missing() {
	local missing=() p
	for p in "${ARM64_PACKAGES[@]}"; do
		[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "${CI:-}" = true ]; then
		echo "setup.sh: error: missing ${missing[*]}: the aarch64 unit tests need them (CI=true)" >&2
		exit 1
	fi
	echo "setup.sh: warning: missing ${missing[*]}: the aarch64 unit tests will be skipped" >&2
}

install_packages
check_required
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
