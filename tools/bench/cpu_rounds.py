#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# cpu_rounds.py ROUNDS "name=lib.so[:VAR=val...],name=,..." prog args...
#
# Like cpu_cmp.py (LD_PRELOAD each library, an empty path is the C
# library, :VAR=val sets a variable for that library's runs only; CPU
# time = user + system of the child, per operation), but
# prints every round, rotates which library runs first in each round, and
# ends with, per library: median, min and max, the ratio of its median
# and of its minimum to the first library's, and in how many rounds it
# was faster than the first library in the same round. On a shared
# machine the per-round ordering and the minima show what the medians
# hide (Documentation/benchmarks.md, "where a single-size loop's time
# goes").
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_cmp import parse_lib, run_once  # noqa: E402


def run(cmd, so, extra):
    return run_once(cmd, so, extra)[0]


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: cpu_rounds.py ROUNDS name=so,... prog args...")
    rounds = int(sys.argv[1])
    libs = [parse_lib(x) for x in sys.argv[2].split(',')]
    cmd = sys.argv[3:]
    res = {n: [] for n, _, _ in libs}
    for r in range(rounds):
        k = r % len(libs)
        row = {}
        for n, so, extra in libs[k:] + libs[:k]:
            row[n] = run(cmd, so, extra)
            res[n].append(row[n])
        print("round %d: %s" % (r, " ".join("%s=%.2f" % (n, row[n]) for n, _, _ in libs)), flush=True)
    base = libs[0][0]
    bmed = statistics.median(res[base])
    bmin = min(res[base])
    for n, _, _ in libs:
        v = res[n]
        wins = sum(1 for i in range(rounds) if v[i] < res[base][i])
        print("%-8s median %.2f min %.2f max %.2f ns/op  ratio(median) %.3f  ratio(min) %.3f"
              "  faster than %s in %d/%d rounds" %
              (n, statistics.median(v), min(v), max(v), statistics.median(v) / bmed,
               min(v) / bmin, base, wins, rounds))


if __name__ == '__main__':
    main()
