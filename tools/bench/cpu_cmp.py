#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# cpu_cmp.py ROUNDS "name=lib.so,name=,..." prog args...
#
# Runs a bench program under each library (LD_PRELOAD; an empty path is
# the C library) in interleaved rounds and prints, per library, the median
# CPU time (user + system of the child, getrusage) per operation, with its
# range, and the median wall-clock rate. On a machine shared with other
# jobs the CPU time of a run moves less with the load than its wall-clock
# rate does; the first library is the base of the ratio.
import os
import re
import resource
import statistics
import subprocess
import sys


def main():
    rounds = int(sys.argv[1])
    libs = [x.split('=', 1) for x in sys.argv[2].split(',')]
    cmd = sys.argv[3:]
    cpu = {n: [] for n, _ in libs}
    sysns = {n: [] for n, _ in libs}
    mops = {n: [] for n, _ in libs}
    for _ in range(rounds):
        for n, so in libs:
            env = dict(os.environ)
            env.pop('LD_PRELOAD', None)
            if so:
                env['LD_PRELOAD'] = so
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run(cmd, capture_output=True, text=True, env=env).stdout
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            m = re.search(r'ops=(\d+).*mops=([0-9.]+)', out)
            if not m:
                sys.exit("cpu_cmp.py: no RESULT line from %s with %s" % (cmd[0], n))
            ops = int(m.group(1))
            user = r1.ru_utime - r0.ru_utime
            syst = r1.ru_stime - r0.ru_stime
            cpu[n].append((user + syst) * 1e9 / ops)
            sysns[n].append(syst * 1e9 / ops)
            mops[n].append(float(m.group(2)))
    base = statistics.median(cpu[libs[0][0]])
    for n, _ in libs:
        print("%-8s cpu %6.1f ns/op [%6.1f..%6.1f] (sys %5.1f) ratio %.2f   wall %6.2f Mops" %
              (n, statistics.median(cpu[n]), min(cpu[n]), max(cpu[n]),
               statistics.median(sysns[n]), statistics.median(cpu[n]) / base,
               statistics.median(mops[n])))


if __name__ == '__main__':
    main()
