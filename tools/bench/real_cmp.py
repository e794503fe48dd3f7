#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# real_cmp.py ROUNDS "name=lib.so,name=lib.so,..." WORKLOAD N
#
# bench_real.sh WORKLOAD N under each library (LD_PRELOAD; an empty path
# is the C library) in interleaved rounds, the order of the libraries
# rotated every round. Reads the program's own CPU time (seconds= of the
# RESULT line: the program's user + system, for redis the server's alone,
# not the load generator's, which cpu_cmp.py's getrusage of the children
# would add) and its peak RSS. Prints per library the median seconds with
# the range, the median peak RSS, and the paired ratio to the first
# library (median of the per-round ratios, with the quartiles).
import os
import re
import statistics
import subprocess
import sys


def quartiles(xs):
    xs = sorted(xs)
    if len(xs) < 4:
        return xs[0], xs[-1]
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: real_cmp.py ROUNDS name=lib.so,... sqlite|python|redis N")
    rounds = int(sys.argv[1])
    libs = [s.split('=', 1) for s in sys.argv[2].split(',')]
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_real.sh")
    secs = {n: [] for n, _ in libs}
    rss = {n: [] for n, _ in libs}
    for r in range(rounds):
        order = libs[r % len(libs):] + libs[:r % len(libs)]
        for name, so in order:
            env = dict(os.environ)
            env.pop('LD_PRELOAD', None)
            if so:
                env['LD_PRELOAD'] = so
            out = subprocess.run([script, sys.argv[3], sys.argv[4]], capture_output=True,
                                 text=True, env=env).stdout
            m = re.search(r'seconds=([0-9.]+).*peak_rss_kb=(\d+)', out)
            if not m:
                sys.exit("real_cmp.py: no RESULT line under %s" % (so or "the C library"))
            secs[name].append(float(m.group(1)))
            rss[name].append(int(m.group(2)))
    base = libs[0][0]
    print("%-10s %8s %17s %9s %8s %15s" % ("lib", "cpu s", "range", "rss MB", "paired", "quartiles"))
    for name, _ in libs:
        s = secs[name]
        ratios = [a / b for a, b in zip(s, secs[base])]
        q1, q3 = quartiles(ratios)
        print("%-10s %8.3f %8.3f..%-7.3f %9.1f %8.3f %7.3f..%-7.3f" %
              (name, statistics.median(s), min(s), max(s), statistics.median(rss[name]) / 1024,
               statistics.median(ratios), q1, q3))


if __name__ == "__main__":
    main()
