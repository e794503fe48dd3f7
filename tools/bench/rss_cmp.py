#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# rss_cmp.py ROUNDS "name=lib.so[:VAR=val...],name=,..." prog args...
#
# Runs a bench program under each library (LD_PRELOAD; an empty path is
# the C library) in interleaved rounds and prints, per library, the
# median [range] of two peaks, in kB:
#
#   anon  the most anonymous memory the process had resident (RssAnon of
#         /proc/PID/status, read every 2 ms from outside: a peak shorter
#         than that can be missed, a program's steady peak is not);
#   hwm   its VmHWM as the program printed it (peak_rss_kb= of its RESULT
#         line), what `make bench` compares.
#
# VmHWM also counts the file pages a run faults in (the C library's, the
# allocator's own), which move it by up to +-100 kB from run to run
# (Documentation/benchmarks.md, "thirteenth session: peak RSS"); RssAnon
# is what the allocator's heap makes resident and repeats to the page.
# Variables after a library, as in cpu_cmp.py (:VAR=val, one word), are
# set for its runs only, e.g. "a=x.so,b=x.so:HAKMEM_OPTIONS=dirty_slots=0".

import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_cmp import parse_lib  # noqa: E402  "name=lib.so:VAR=val:..."


def run_once(cmd, so, extra):
    """One run of cmd under library so: (anonymous peak, VmHWM), kB."""
    env = dict(os.environ)
    env.pop('LD_PRELOAD', None)
    if so:
        env['LD_PRELOAD'] = so
    env.update(extra)
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    status = "/proc/%d/status" % p.pid
    anon = 0
    while p.poll() is None:
        try:
            with open(status) as f:
                m = re.search(r'RssAnon:\s+(\d+)', f.read())
            if m:
                anon = max(anon, int(m.group(1)))
        except OSError:
            pass
        time.sleep(0.002)
    m = re.search(r'peak_rss_kb=(\d+)', p.stdout.read())
    if p.returncode or not m:
        sys.exit("%s: %s under %s: exit %d, no peak_rss_kb" %
                 (os.path.basename(sys.argv[0]), cmd[0], so or "the C library",
                  p.returncode))
    return anon, int(m.group(1))


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: %s ROUNDS name=lib.so,... prog args..." %
                 os.path.basename(sys.argv[0]))
    rounds = int(sys.argv[1])
    libs = [parse_lib(x) for x in sys.argv[2].split(',')]
    cmd = sys.argv[3:]
    anon = {n: [] for n, _, _ in libs}
    hwm = {n: [] for n, _, _ in libs}
    for _ in range(rounds):
        for n, so, extra in libs:
            a, h = run_once(cmd, so, extra)
            anon[n].append(a)
            hwm[n].append(h)
    for n, _, _ in libs:
        print("%-8s anon %7d [%d..%d]   hwm %7d [%d..%d]" %
              (n, statistics.median(anon[n]), min(anon[n]), max(anon[n]),
               statistics.median(hwm[n]), min(hwm[n]), max(hwm[n])))


if __name__ == '__main__':
    main()
