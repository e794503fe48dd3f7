#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
cg_entry.py CALLGRIND_OUT...

Per entry point of the malloc family: the calls a program made into it
from outside the allocator's object, and their inclusive instructions
(callgrind's call cost: the entry point and everything it called,
memcpy and the kernel entry included), read from callgrind output files
(valgrind --tool=callgrind, the allocator under LD_PRELOAD). One column
block per file:

    entry             calls      Ir/call      Ir (M)
    malloc          1234567         23.1        28.5
    ...
    total program Ir: 1234.5 M

A call counts when its caller's object is not the callee's (a realloc
that calls the allocator's own malloc is realloc's cost only), so each
program-level call is counted once, whatever the allocator's names
(hak_malloc, tc_malloc, mi_malloc, ... are folded into malloc).
Entry points that callgrind names by no exported symbol are not found:
tcmalloc's malloc and free in Debian's build (the minimal library's
symbols are internal names), so its columns can come out nearly empty.
"""
import re
import sys

ENTRIES = ["malloc", "free", "realloc", "calloc", "malloc_usable_size",
           "posix_memalign", "aligned_alloc", "memalign", "valloc",
           "reallocarray", "operator new", "operator delete"]
PREFIX = re.compile(r"^(hak_|tc_|mi_|je_|__libc_)")


def entry_of(name):
    if name.startswith("operator new") or name.startswith("_Znwm") or name.startswith("_Znam"):
        return "operator new"
    if name.startswith("operator delete") or name.startswith("_ZdlPv") or name.startswith("_ZdaPv"):
        return "operator delete"
    base = PREFIX.sub("", name.split("'")[0])
    # mimalloc's malloc_usable_size is an alias of its malloc_size.
    if base in ("malloc_size", "usable_size"):
        return "malloc_usable_size"
    return base if base in ENTRIES else None


def parse(path):
    names = {"fn": {}, "ob": {}}
    cur_ob = cur_fn = None
    cob = cfn = None
    pending = None
    total = 0
    stats = {}

    def name_of(kind, val):
        m = re.match(r"\((\d+)\)(?: (.*))?$", val)
        if not m:
            return val
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
        return names[kind].get(m.group(1), val)

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if pending is not None:
                parts = line.split()
                ir = int(parts[1]) if len(parts) > 1 else 0
                calls, callee, callee_ob = pending
                pending = None
                e = entry_of(callee)
                if e and callee_ob != cur_ob:
                    s = stats.setdefault(e, [0, 0])
                    s[0] += calls
                    s[1] += ir
                continue
            if line.startswith("ob="):
                cur_ob = name_of("ob", line[3:])
            elif line.startswith("fn="):
                cur_fn = name_of("fn", line[3:])
                cob = None
            elif line.startswith("cob="):
                cob = name_of("ob", line[4:])
            elif line.startswith("cfn="):
                cfn = name_of("fn", line[4:])
            elif line.startswith("calls="):
                pending = (int(line[6:].split()[0]), cfn, cob if cob is not None else cur_ob)
                cob = None
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
    return stats, total


def main():
    for path in sys.argv[1:]:
        stats, total = parse(path)
        print("%s" % path)
        print("  %-20s %12s %10s %10s" % ("entry", "calls", "Ir/call", "Ir (M)"))
        alloc = 0
        for e in ENTRIES:
            if e in stats:
                c, ir = stats[e]
                alloc += ir
                print("  %-20s %12d %10.1f %10.2f" % (e, c, ir / c if c else 0, ir / 1e6))
        print("  allocator Ir (inclusive): %.2f M of %.2f M program Ir" % (alloc / 1e6, total / 1e6))


if __name__ == "__main__":
    main()
