#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Real programs on hakmem: each runs once on glibc's malloc and once with
# LD_PRELOAD=libhakmem.so, and the outputs must match (stdout, and stderr
# where the program writes one: python, gcc). A run on hakmem must prove
# that hakmem served it: the dynamic loader's log of its symbol bindings
# (LD_DEBUG=bindings, written to files) must show malloc bound to
# libhakmem.so in every process and never to the C library; a library
# that fails to preload (the loader then runs the program on glibc) is a
# failure, not a pass.
#
#   HK_OBJ=<build dir> HK_T=<build dir>/tests tests/programs/run.sh [name...]
#
# Programs: python3 (threaded workload.py), sqlite3, git, gcc, sort, redis.
# A program that is not installed prints "SKIP name: ..." and does not
# count (with CI=true it is a failure). Each prints PASS or FAIL; the last
# line is "programs: N passed, M failed"; no program passed is a failure. PROGRAMS_LONG=1 makes the workloads
# bigger (make check-long).
#
# Needs a build with CONFIG_EXPORT_MALLOC=y and CONFIG_THREADS=y (python,
# git, sort and redis are multi-threaded).

set -u

: "${HK_OBJ:?HK_OBJ: the build directory}"
HK_T=${HK_T:-$HK_OBJ/tests}
HK_SRC=${HK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
LIB=$HK_OBJ/libhakmem.so
LONG=${PROGRAMS_LONG:-0}
SCALE=$([ "$LONG" = 1 ] && echo 4 || echo 1)
W=$HK_T/programs
TIMEOUT=${PROGRAMS_TIMEOUT:-300}

passed=0
failed=0

rm -rf "$W"
mkdir -p "$W"

if [ ! -f "$LIB" ]; then
	echo "FAIL setup: $LIB does not exist"
	echo "programs: 0 passed, 1 failed"
	exit 1
fi

pass() { echo "PASS $1${2:+: $2}"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
skip() {
	if [ "${CI:-}" = true ]; then
		fail "$1" "$2 (CI=true: a skipped program is a failure)"
	else
		echo "SKIP $1: $2"
	fi
}

# The program being run: names the loader logs ($W/ld/<cur>.<pid>).
cur=none
LDLOG=$W/ld
mkdir -p "$LDLOG"

# on_hakmem CMD...: run with hakmem as the process malloc; the dynamic
# loader logs the symbol bindings of every process to $LDLOG/$cur.<pid>.
on_hakmem() {
	LD_DEBUG=bindings LD_DEBUG_OUTPUT=$LDLOG/$cur LD_PRELOAD=$LIB timeout "$TIMEOUT" "$@"
}
on_glibc() {
	timeout "$TIMEOUT" "$@"
}

# served NAME: prints why not and fails unless the loader logs of NAME's
# runs on hakmem bind malloc to libhakmem.so, and never to the C library.
served() {
	local logs=("$LDLOG/$1".*) n bad
	if [ ! -e "${logs[0]}" ]; then
		echo "no loader log ($LDLOG/$1.*)"
		return 1
	fi
	n=$(grep -l -F "libhakmem.so [0]: normal symbol \`malloc'" "${logs[@]}" | wc -l)
	bad=$(grep -l -E "libc\.so\.6 \[0\]: normal symbol \`malloc'" "${logs[@]}" | head -n 3)
	if [ "$n" = 0 ]; then
		echo "malloc was never bound to libhakmem.so (not preloaded?)"
		return 1
	fi
	if [ -n "$bad" ]; then
		echo "malloc bound to the C library in $(echo $bad)"
		return 1
	fi
	echo "$n processes on hakmem"
}

# compare NAME FILE_GLIBC FILE_HAKMEM [NOTE]: outputs equal, and hakmem
# served the hakmem run.
compare() {
	local why
	if ! why=$(served "$1"); then
		fail "$1" "$why"
	elif cmp -s "$2" "$3"; then
		pass "$1" "$4${4:+, }$why"
	else
		fail "$1" "outputs differ (glibc: $2, hakmem: $3)"
		diff "$2" "$3" | head -n 20
	fi
}

want() {
	[ ${#selected[@]} -eq 0 ] && return 0
	local n
	for n in "${selected[@]}"; do [ "$n" = "$1" ] && return 0; done
	return 1
}
selected=("$@")

# ---------------------------------------------------------------------------

prog_python() {
	local py=/usr/bin/python3 d=$W/python
	cur=python
	[ -x $py ] || { skip python "$py not installed"; return; }
	mkdir -p "$d"
	on_glibc $py "$HK_SRC/tests/programs/workload.py" $SCALE > "$d/glibc.out" 2> "$d/glibc.err" ||
		{ fail python "failed on glibc: $(tail -n 3 "$d/glibc.err")"; return; }
	on_hakmem $py "$HK_SRC/tests/programs/workload.py" $SCALE > "$d/hakmem.out" 2> "$d/hakmem.err" ||
		{ fail python "exit status $? on hakmem: $(tail -n 3 "$d/hakmem.err")"; return; }
	cat "$d/glibc.err" >> "$d/glibc.out"
	cat "$d/hakmem.err" >> "$d/hakmem.out"
	compare python "$d/glibc.out" "$d/hakmem.out" "8 threads x 3 generations, stdout and stderr"
}

prog_sqlite() {
	cur=sqlite3
	command -v sqlite3 >/dev/null || { skip sqlite3 "not installed"; return; }
	local d=$W/sqlite rows=$((200000 * SCALE))
	mkdir -p "$d"
	cat > "$d/script.sql" <<EOF
PRAGMA journal_mode=WAL;
PRAGMA cache_size=-20000;
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO t SELECT i, (i * 7919) % 1000, printf('row-%08d-%s', i, hex(i * 31)), i / 3.0 FROM n;
CREATE INDEX t_a ON t(a);
CREATE INDEX t_b ON t(b);
SELECT count(*), sum(a), min(b), max(b) FROM t;
SELECT a, count(*), sum(c) FROM t GROUP BY a ORDER BY a LIMIT 20;
SELECT b FROM t WHERE a = 123 ORDER BY b DESC LIMIT 5;
UPDATE t SET b = b || '-updated' WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), length(group_concat(b)) FROM t;
SELECT group_concat(x, ',') FROM (SELECT DISTINCT substr(b, 1, 6) AS x FROM t ORDER BY x);
VACUUM;
PRAGMA integrity_check;
EOF
	rm -f "$d"/g.db* "$d"/h.db*
	on_glibc sqlite3 "$d/g.db" < "$d/script.sql" > "$d/glibc.out" 2>&1 ||
		{ fail sqlite3 "failed on glibc: $(tail -n 3 "$d/glibc.out")"; return; }
	on_hakmem sqlite3 "$d/h.db" < "$d/script.sql" > "$d/hakmem.out" 2>&1 ||
		{ fail sqlite3 "exit status $? on hakmem: $(tail -n 3 "$d/hakmem.out")"; return; }
	compare sqlite3 "$d/glibc.out" "$d/hakmem.out" "$rows rows"
}

prog_git() {
	cur=git
	command -v git >/dev/null || { skip git "not installed"; return; }
	local d=$W/git
	mkdir -p "$d"
	# One repository per allocator, built the same way at fixed dates.
	git_run() {
		local repo=$1 i f
		shift
		export HOME=$d GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
		       GIT_AUTHOR_NAME=hakmem GIT_AUTHOR_EMAIL=test@hakmem \
		       GIT_COMMITTER_NAME=hakmem GIT_COMMITTER_EMAIL=test@hakmem \
		       GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
		"$@" git init -q -b main "$repo" || return 1
		for i in $(seq 1 $((10 * SCALE))); do
			for f in $(seq 1 40); do
				printf 'file %d commit %d\n%s\n' "$f" "$i" "$(seq $((f * i)) $((f * i + f)))" \
					> "$repo/f$f.txt"
			done
			mkdir -p "$repo/dir$((i % 4))"
			seq 1 $((i * 500)) > "$repo/dir$((i % 4))/data$i.txt"
			"$@" git -C "$repo" add -A || return 1
			"$@" git -C "$repo" commit -q -m "commit $i" || return 1
		done
		"$@" git -C "$repo" log --stat || return 1
		"$@" git -C "$repo" gc -q --aggressive || return 1
		"$@" git -C "$repo" fsck --full --strict 2>&1 || return 1
		"$@" git -C "$repo" rev-parse HEAD HEAD~3^{tree} || return 1
		"$@" git -C "$repo" count-objects -v | grep -v -e size -e garbage || return 1
	}
	( git_run "$d/g" on_glibc ) > "$d/glibc.out" 2>&1 ||
		{ fail git "failed on glibc: $(tail -n 3 "$d/glibc.out")"; return; }
	( git_run "$d/h" on_hakmem ) > "$d/hakmem.out" 2>&1 ||
		{ fail git "failed on hakmem: $(tail -n 3 "$d/hakmem.out")"; return; }
	compare git "$d/glibc.out" "$d/hakmem.out" "init, $((10 * SCALE)) commits, log --stat, gc, fsck"
}

prog_gcc() {
	cur=gcc
	command -v gcc >/dev/null || { skip gcc "not installed"; return; }
	local d=$W/gcc n=$((600 * SCALE))
	mkdir -p "$d"
	# A large generated program: many functions, a big switch, big tables.
	/usr/bin/python3 - "$n" > "$d/big.c" <<'EOF'
import sys
n = int(sys.argv[1])
print("#include <stdio.h>\n#include <string.h>")
print("static const unsigned tab[] = {%s};" % ",".join(str(i * 2654435761 % 4294967291) for i in range(20000)))
for i in range(n):
    print(f"""static unsigned long f{i}(unsigned long x) {{
    unsigned long a[8]; int k;
    for (k = 0; k < 8; k++) a[k] = x * {i + 3}u + tab[(x + k + {i}) % 20000];
    switch (x % 5) {{ case 0: x ^= a[1] << 3; break; case 1: x += a[2] * {i}; break;
    case 2: x -= a[3] >> 2; break; case 3: x *= a[4] | 1; break; default: x = a[5] + a[6] + a[7]; }}
    return x + (a[0] & 0xff);
}}""")
print("int main(void) { unsigned long x = 1;")
for i in range(n):
    print(f"  x = f{i}(x);")
print('  printf("%lu\\n", x); return 0; }')
EOF
	on_glibc gcc -O2 -g -c -o "$d/glibc.o" "$d/big.c" 2> "$d/glibc.err" ||
		{ fail gcc "failed on glibc: $(tail -n 3 "$d/glibc.err")"; return; }
	on_hakmem gcc -O2 -g -c -o "$d/hakmem.o" "$d/big.c" 2> "$d/hakmem.err" ||
		{ fail gcc "exit status $? on hakmem: $(tail -n 3 "$d/hakmem.err")"; return; }
	if ! cmp -s "$d/glibc.o" "$d/hakmem.o"; then
		fail gcc "object files differ ($d/glibc.o, $d/hakmem.o)"
		return
	fi
	if ! cmp -s "$d/glibc.err" "$d/hakmem.err"; then
		fail gcc "stderr differs ($d/glibc.err, $d/hakmem.err)"
		diff "$d/glibc.err" "$d/hakmem.err" | head -n 20
		return
	fi
	on_hakmem gcc -o "$d/big" "$d/hakmem.o" || { fail gcc "link on hakmem failed"; return; }
	"$d/big" > "$d/big.out" && on_hakmem "$d/big" > "$d/big.hakmem.out" ||
		{ fail gcc "the compiled program failed"; return; }
	compare gcc "$d/big.out" "$d/big.hakmem.out" "$n functions, identical objects"
}

prog_sort() {
	cur=sort
	command -v sort >/dev/null || { skip sort "not installed"; return; }
	local d=$W/sort lines=$((1000000 * SCALE))
	mkdir -p "$d"
	/usr/bin/python3 -c "
import random, sys
r = random.Random(42)
w = sys.stdout.write
for i in range($lines):
    w('%08x %d %s\n' % (r.getrandbits(32), r.randrange(10**9), 'x' * r.randrange(40)))
" > "$d/in.txt"
	for how in glibc hakmem; do
		{
			on_$how sort -S 64M --parallel=4 "$d/in.txt" | sha256sum &&
			on_$how sort -S 16M --parallel=2 -n -k2 -T "$d" "$d/in.txt" | sha256sum &&
			on_$how sort -u -k1,1 "$d/in.txt" | wc -l
		} > "$d/$how.out" 2>&1 || { fail sort "failed on $how: $(tail -n 3 "$d/$how.out")"; return; }
	done
	compare sort "$d/glibc.out" "$d/hakmem.out" "$lines lines, parallel and external"
}

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

prog_redis() {
	cur=redis
	command -v redis-server >/dev/null || { skip redis "redis-server not installed"; return; }
	command -v redis-cli >/dev/null || { skip redis "redis-cli not installed"; return; }
	local d=$W/redis port pid i n=$((20000 * SCALE)) note=
	mkdir -p "$d"
	port=$(free_port)
	# Debian's redis-server links jemalloc: LD_PRELOAD replaces malloc,
	# calloc, realloc, free and malloc_usable_size; jemalloc's own entry
	# points (mallctl, nallocx, malloc_stats_print) stay jemalloc's.
	if ldd "$(command -v redis-server)" | grep -q jemalloc; then
		note=" (redis links jemalloc: only the libc malloc entry points are hakmem's)"
	fi
	LD_DEBUG=bindings LD_DEBUG_OUTPUT=$LDLOG/$cur LD_PRELOAD=$LIB redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$d" --daemonize no --logfile "$d/server.log" &
	pid=$!
	for i in $(seq 1 100); do
		[ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ] && break
		sleep 0.1
	done
	if [ "$(redis-cli -p "$port" PING 2>/dev/null)" != PONG ]; then
		kill $pid 2>/dev/null
		fail redis "server did not answer PING (log: $d/server.log)"
		return
	fi
	if ! grep -q libhakmem "/proc/$pid/maps" 2>/dev/null; then
		kill $pid 2>/dev/null
		fail redis "libhakmem.so is not mapped in redis-server"
		return
	fi
	local ok=1 v
	timeout "$TIMEOUT" redis-benchmark -q -p "$port" -n "$n" -c 20 -P 4 > "$d/bench.out" 2>&1 || ok=0
	redis-cli -p "$port" SET hakmem:key "$(seq 1 2000 | tr '\n' ,)" > /dev/null || ok=0
	v=$(redis-cli -p "$port" GET hakmem:key)
	[ "$v" = "$(seq 1 2000 | tr '\n' ,)" ] || ok=0
	redis-cli -p "$port" RPUSH hakmem:list $(seq 1 1000) > /dev/null || ok=0
	[ "$(redis-cli -p "$port" LLEN hakmem:list)" = 1000 ] || ok=0
	[ "$(redis-cli -p "$port" PING)" = PONG ] || ok=0
	redis-cli -p "$port" SHUTDOWN NOSAVE > /dev/null 2>&1
	wait $pid
	local rc=$?
	local why
	if ! why=$(served redis); then
		fail redis "$why"
	elif [ $ok = 1 ] && [ $rc = 0 ]; then
		pass redis "benchmark $n requests, PING/SET/GET/RPUSH correct, $why$note"
		tr '\r' '\n' < "$d/bench.out" | grep -E '^(SET|GET|LPUSH|MSET):.*requests per second' | sed 's/^/    /'
	else
		fail redis "ok=$ok, server exit status $rc (logs in $d)"
		tail -n 5 "$d/bench.out" "$d/server.log"
	fi
}

for p in python sqlite3 git gcc sort redis; do
	want "$p" || continue
	case $p in
	python) prog_python ;;
	sqlite3) prog_sqlite ;;
	git) prog_git ;;
	gcc) prog_gcc ;;
	sort) prog_sort ;;
	redis) prog_redis ;;
	esac
done

if [ $passed = 0 ] && [ $failed = 0 ]; then
	fail programs "no program ran"
fi
echo "programs: $passed passed, $failed failed"
[ $failed = 0 ] && [ $passed -gt 0 ]
