#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# cpu_suite.py ROUNDS "name=lib.so[:VAR=val...],..." BINDIR [case ...]
#
# cpu_cmp.py over the cases of `make bench` (run.py's all_cases(), the
# same arguments; or only the cases or benchmarks named): for each case,
# ROUNDS interleaved rounds of every library (the order rotates from round
# to round), CPU time per operation (user + system of the child, as
# cpu_cmp.py, which for real/* includes the script's shell; for real/redis
# the server's own CPU time from its RESULT line, which leaves out the load
# generator, in clock ticks), then per case the median of each
# library and the median [quartiles] of its per-round ratios to the
# first library and to the second, and at the end the geomean of the
# per-case paired medians. Raw figures go to cpu_suite.json in the
# current directory (one entry per case, rewritten after every case).
import json
import os
import re
import resource
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_cmp import lib_env, parse_lib  # noqa: E402
import run as benchrun  # noqa: E402


def run_once(cmd, so, extra, real):
    env = lib_env(so, extra)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = re.search(r'ops=(\d+).*seconds=([0-9.]+)', p.stdout)
    if p.returncode or not m:
        # Reported, and the round left out of the ratios: a failure is
        # a finding, not a reason to lose the other cases.
        sys.stderr.write("cpu_suite.py: %s with %s%s: exit status %d, %s; stderr: %s\n" %
                         (' '.join(cmd), so or "the C library",
                          "".join(" %s=%s" % kv for kv in sorted((extra or {}).items())),
                          p.returncode, "RESULT" if m else "no RESULT line",
                          p.stderr.strip()[-500:]))
        return None
    ops = int(m.group(1))
    if real:
        return float(m.group(2)) * 1e9 / ops
    return (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1e9 / ops


def quart(xs):
    xs = sorted(xs)
    return statistics.median(xs), xs[len(xs) // 4], xs[(3 * len(xs)) // 4]


def geomean(xs):
    import math
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: cpu_suite.py ROUNDS name=so,... BINDIR [case|bench ...]")
    rounds = int(sys.argv[1])
    libs = [parse_lib(x) for x in sys.argv[2].split(',')]
    bindir = sys.argv[3]
    want = sys.argv[4:]
    cases = [c for c in benchrun.all_cases()
             if not want or c['case'] in want or c['bench'] in want]
    names = [n for n, _, _ in libs]
    raw = {}
    summ = {n: [] for n in names[1:]}
    summ2 = {n: [] for n in names[2:]}
    for c in cases:
        cmd = benchrun.case_argv(c, bindir, 1.0)
        real = c['case'] == 'real/redis'
        res = {n: [] for n in names}
        for r in range(rounds):
            k = r % len(libs)
            for n, so, extra in libs[k:] + libs[:k]:
                res[n].append(run_once(cmd, so, extra, real))
        raw[c['case']] = res
        # Rounds in which every library ran.
        ok = [r for r in range(rounds) if all(res[n][r] is not None for n in names)]
        res = {n: [res[n][r] for r in ok] for n in names}
        with open('cpu_suite.json', 'w') as f:
            json.dump(raw, f)
        line = "%-22s" % c['case']
        for n in names:
            line += " %s %8.1f" % (n, statistics.median(res[n]))
        for n in names[1:]:
            m, lo, hi = quart([x / y for x, y in zip(res[n], res[names[0]])])
            summ[n].append(m)
            line += "  %s/%s %.3f [%.3f..%.3f]" % (n, names[0], m, lo, hi)
        for n in names[2:]:
            m, lo, hi = quart([x / y for x, y in zip(res[n], res[names[1]])])
            summ2[n].append(m)
            line += "  %s/%s %.3f [%.3f..%.3f]" % (n, names[1], m, lo, hi)
        print(line, flush=True)
    line = "%-22s" % "geomean"
    for n in names[1:]:
        line += "  %s/%s %.3f" % (n, names[0], geomean(summ[n]))
    for n in names[2:]:
        line += "  %s/%s %.3f" % (n, names[1], geomean(summ2[n]))
    print(line, flush=True)


if __name__ == '__main__':
    main()
