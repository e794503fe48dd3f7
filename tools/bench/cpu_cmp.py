#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# cpu_cmp.py ROUNDS "name=lib.so[:VAR=val...],name=,..." prog args...
#
# Runs a bench program under each library (LD_PRELOAD; an empty path is
# the C library) in interleaved rounds and prints, per library, the median
# CPU time (user + system of the child, getrusage) per operation, with its
# range, and the median wall-clock rate with the paired ratio of the
# wall-clock times (as the CPU one below). On a machine shared with other
# jobs the CPU time of a run moves less with the load than its wall-clock
# rate does; the first library is the base of the ratio. "paired" is the
# median of the per-round ratios to the first library, with the quartiles
# of those ratios: two runs next to each other see about the same load, so
# on a busy machine the paired ratio spreads less than the medians do.
# A multi-threaded program's par= and runq= (bench_common.h: CPU time
# over wall time of the timed part; share of the workers' runnable time
# spent waiting for a CPU) are printed as medians when its RESULT line
# has them. When the RESULT line has cpu= (the CPU time of the timed part
# only, bench_common.h), "tcpu" adds its paired ratio to the first
# library's with the quartiles: without the start-up and exit that the
# child's CPU time includes (several ms with tcmalloc or jemalloc, much
# of a short multi-threaded run's CPU time).
#
# With the pingpong probe next to the program (tools/bench/pingpong.c,
# built with the benchmarks), a first line gives the cross-CPU round trip
# of a cache line before the first round and after the last: on a
# virtual machine the host's placement of the CPUs, which moves every
# case of threads passing blocks 2-4x.
# A library may be followed by environment variables of its own, each as
# :VAR=val, set for its runs only (on top of the environment this script
# was started with): the same library with and without a run-time option,
# e.g. "off=build/pon/libhakmem.so,on=build/pon/libhakmem.so:HAKMEM_PROF=1:
# HAKMEM_PROF_AT_EXIT=0:HAKMEM_PROF_PEAK=0" (as one word). A value cannot
# hold ':' or ','.
import os
import re
import resource
import statistics
import subprocess
import sys


def parse_lib(spec):
    """"name=lib.so:VAR=val:..." -> (name, lib.so, {VAR: val, ...})."""
    name, rest = spec.split('=', 1)
    parts = rest.split(':')
    env = {}
    for kv in parts[1:]:
        if '=' not in kv:
            sys.exit("%s: %r: an environment variable is VAR=val" %
                     (os.path.basename(sys.argv[0]), kv))
        k, v = kv.split('=', 1)
        env[k] = v
    return name, parts[0], env


def lib_env(so, extra=None):
    """The environment of a run under library so (empty: the C library),
    with the variables of extra set."""
    env = dict(os.environ)
    env.pop('LD_PRELOAD', None)
    if so:
        env['LD_PRELOAD'] = so
    env.update(extra or {})
    return env


def run_once(cmd, so, extra=None):
    """One run of cmd under library so (empty: the C library), with the
    variables of extra set: CPU ns per operation (user + system), system
    ns per operation, wall Mops, and the RESULT line's fields."""
    env = lib_env(so, extra)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env).stdout
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = re.search(r'ops=(\d+).*mops=([0-9.]+)', out)
    if not m:
        sys.exit("%s: no RESULT line from %s with %s" %
                 (os.path.basename(sys.argv[0]), cmd[0], so or "the C library"))
    ops = int(m.group(1))
    user = r1.ru_utime - r0.ru_utime
    syst = r1.ru_stime - r0.ru_stime
    kv = dict(x.split('=', 1) for x in out[out.rindex('RESULT'):].split('\n')[0].split()
              if '=' in x)
    return (user + syst) * 1e9 / ops, syst * 1e9 / ops, float(m.group(2)), kv


def host_probe(cmd):
    """The cross-CPU round trip of a cache line, ns, by the pingpong probe
    next to the program (run.py's host_probe()), or None without it."""
    import run
    return run.host_probe(os.path.dirname(os.path.abspath(cmd[0])))[0]


def main():
    rounds = int(sys.argv[1])
    libs = [parse_lib(x) for x in sys.argv[2].split(',')]
    cmd = sys.argv[3:]
    probes = [host_probe(cmd)]
    cpu = {n: [] for n, _, _ in libs}
    sysns = {n: [] for n, _, _ in libs}
    mops = {n: [] for n, _, _ in libs}
    sched = {n: {'par': [], 'runq': []} for n, _, _ in libs}
    tcpu = {n: [] for n, _, _ in libs}
    for _ in range(rounds):
        for n, so, extra in libs:
            c, s, w, kv = run_once(cmd, so, extra)
            cpu[n].append(c)
            sysns[n].append(s)
            mops[n].append(w)
            for k in sched[n]:
                if k in kv:
                    sched[n][k].append(float(kv[k]))
            if 'cpu' in kv:
                tcpu[n].append(float(kv['cpu']) / float(kv['ops']))
    probes.append(host_probe(cmd))
    if None not in probes:
        print("host: cross-CPU round trip %.0f ns before, %.0f ns after (pingpong)" % tuple(probes))
    base = statistics.median(cpu[libs[0][0]])
    for n, _, _ in libs:
        paired = sorted(x / y for x, y in zip(cpu[n], cpu[libs[0][0]]))
        # The wall-clock time of a run over the first library's in the
        # same round (its rate over this one's): > 1 is slower, as above.
        wpaired = sorted(y / x for x, y in zip(mops[n], mops[libs[0][0]]))
        print("%-8s cpu %6.1f ns/op [%6.1f..%6.1f] (sys %5.1f) ratio %.2f   "
              "paired %.3f [%.3f..%.3f]   wall %6.2f Mops paired %.3f [%.3f..%.3f]" %
              (n, statistics.median(cpu[n]), min(cpu[n]), max(cpu[n]),
               statistics.median(sysns[n]), statistics.median(cpu[n]) / base,
               statistics.median(paired), paired[len(paired) // 4],
               paired[(3 * len(paired)) // 4], statistics.median(mops[n]),
               statistics.median(wpaired), wpaired[len(wpaired) // 4],
               wpaired[(3 * len(wpaired)) // 4]) +
              ''.join("   %s %.2f" % (k, statistics.median(v))
                      for k, v in sched[n].items() if v) + tcpu_str(tcpu, n, libs[0][0]))


def tcpu_str(tcpu, n, first):
    """The paired ratio of the timed part's CPU time (cpu= of the RESULT
    line) to the first library's, with its quartiles; '' without it."""
    if len(tcpu[n]) != len(tcpu[first]) or not tcpu[n]:
        return ''
    r = sorted(x / y for x, y in zip(tcpu[n], tcpu[first]) if y > 0)
    if not r:
        return ''
    return "   tcpu %.1f ns/op paired %.3f [%.3f..%.3f]" % (
        statistics.median(tcpu[n]) * 1e9, statistics.median(r), r[len(r) // 4],
        r[(3 * len(r)) // 4])


if __name__ == '__main__':
    main()
