#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# cg_cmp.py "name=lib.so,name=,..." prog args...
#
# Runs a bench program once under each library (LD_PRELOAD; an empty
# path is the C library) with valgrind's cachegrind (--cache-sim=yes
# --branch-sim=yes) and prints, per library, the simulated counts per
# operation (the ops= of the program's RESULT line): instructions, data
# reads and writes, D1 read and write misses, last-level read and write
# misses, and mispredicted branches (conditional plus indirect). The
# whole program is counted, the program's own work included (the same
# for every library), so the differences between the rows are the
# allocators'. Deterministic where CPU time on a shared machine is not;
# what it cannot show is what the simulation leaves out (the order
# loads and stores wait for each other, store forwarding, micro-op
# counts): two rows with the same counts can still run at different
# speeds (Documentation/benchmarks.md, "the three cases behind the best
# other allocator").
#
# The simulated caches default to one core of the reference Xeon
# (48 KiB 12-way L1d, 2 MiB 16-way L2 as the last level); CG_D1 and
# CG_LL override them in valgrind's size,assoc,line form, e.g.
# CG_D1=32768,8,64. Keep the operation count small (a few million):
# valgrind runs the program about 50 times slower.
import os
import re
import subprocess
import sys
import tempfile

FIELDS = ("Ir", "Dr", "Dw", "D1mr", "D1mw", "DLmr", "DLmw", "Bcm", "Bim")


def parse_lib(spec):
    """"name=lib.so" -> (name, lib.so)."""
    if '=' not in spec:
        sys.exit("%s: %r: a library is name=path (empty path: the C library)" %
                 (os.path.basename(sys.argv[0]), spec))
    name, so = spec.split('=', 1)
    return name, so


def totals(path):
    """The summary line of a cachegrind output file, by event name."""
    events, summary = None, None
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("summary:"):
                summary = [int(x) for x in line.split()[1:]]
    if not events or not summary:
        sys.exit("%s: no summary in %s" % (os.path.basename(sys.argv[0]), path))
    return dict(zip(events, summary))


def run_once(cmd, so, out):
    env = dict(os.environ)
    env.pop('LD_PRELOAD', None)
    if so:
        env['LD_PRELOAD'] = so
    d1 = os.environ.get("CG_D1", "49152,12,64")
    ll = os.environ.get("CG_LL", "2097152,16,64")
    vg = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--branch-sim=yes",
          "--D1=" + d1, "--LL=" + ll, "--cachegrind-out-file=" + out]
    r = subprocess.run(vg + cmd, capture_output=True, text=True, env=env)
    m = re.search(r'ops=(\d+)', r.stdout)
    if r.returncode != 0 or not m:
        sys.exit("%s: %s under %s failed: %s" %
                 (os.path.basename(sys.argv[0]), cmd[0], so or "the C library",
                  (r.stderr.strip().splitlines() or ["?"])[-1]))
    return int(m.group(1)), totals(out)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: cg_cmp.py \"name=lib.so,name=,...\" prog args...")
    libs = [parse_lib(x) for x in sys.argv[1].split(',')]
    cmd = sys.argv[2:]
    print("per op       %8s %7s %7s %7s %7s %7s %7s %8s" %
          ("Ir", "Dr", "Dw", "D1mr", "D1mw", "LLmr", "LLmw", "mispred"))
    with tempfile.TemporaryDirectory() as tmp:
        for n, so in libs:
            ops, t = run_once(cmd, so, os.path.join(tmp, "cg.out"))
            v = {k: t.get(k, 0) / ops for k in FIELDS}
            print("%-12s %8.2f %7.2f %7.2f %7.4f %7.4f %7.4f %7.4f %8.4f" %
                  (n, v["Ir"], v["Dr"], v["Dw"], v["D1mr"], v["D1mw"],
                   v["DLmr"], v["DLmw"], v["Bcm"] + v["Bim"]))


if __name__ == "__main__":
    main()
