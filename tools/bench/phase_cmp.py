#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# phase_cmp.py ROUNDS "name=lib.so[:VAR=val...],name=,..." prog args...
#
# The CPU time of each phase of a bench program that prints them in its
# RESULT line (bench_list: build_cpu=, walk_cpu=, free_cpu=, and the
# whole cpu=), under each library (LD_PRELOAD; an empty path is the C
# library; :VAR=val sets a variable for that library's runs, as in
# cpu_cmp.py, whose parsing this uses) in interleaved rounds, the order
# reversed every other round.
# Prints per phase the first library's median (seconds) and, for each
# other library, the paired ratio to it: the median of the per-round
# ratios with their quartiles [q1..q3] (as tools/bench/cpu_cmp.py does for
# the whole run). A phase of a few tens of milliseconds spreads far more
# than the whole run on a shared machine: use 21 rounds or more.
import re
import statistics
import subprocess
import sys

from cpu_cmp import lib_env, parse_lib

PHASE_RE = re.compile(r'\b(\w+_cpu|cpu)=([0-9.]+)')


def run_once(cmd, so, extra):
    out = subprocess.run(cmd, env=lib_env(so, extra), capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        if line.startswith('RESULT'):
            return {k: float(v) for k, v in PHASE_RE.findall(line)}
    sys.exit("phase_cmp.py: no RESULT line from %s" % ' '.join(cmd))


def quartiles(v):
    v = sorted(v)
    return statistics.median(v), v[len(v) // 4], v[(3 * len(v)) // 4]


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: phase_cmp.py ROUNDS name=lib.so,... prog args...")
    rounds = int(sys.argv[1])
    libs = [parse_lib(spec) for spec in sys.argv[2].split(',')]
    cmd = sys.argv[3:]
    res = {name: [] for name, _, _ in libs}
    for r in range(rounds):
        for name, so, extra in (libs if r % 2 == 0 else libs[::-1]):
            res[name].append(run_once(cmd, so, extra))
    base = libs[0][0]
    keys = [k for k in res[base][0] if k.endswith('cpu')]
    for k in keys:
        line = "%-10s %s %.4f s" % (k, base, statistics.median(x[k] for x in res[base]))
        for name, _, _ in libs[1:]:
            m, lo, hi = quartiles([a[k] / b[k] for a, b in zip(res[name], res[base]) if b[k] > 0])
            line += "  %s %.3f [%.3f..%.3f]" % (name, m, lo, hi)
        print(line)


if __name__ == '__main__':
    main()
