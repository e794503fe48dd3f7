#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""hakmem benchmark runner (standard library only; run with /usr/bin/python3).

  run.py bench     --bindir D --outdir O --hakmem SO [--rounds N] [--quick] ...
  run.py ab        --bindir D --outdir O --a-so SO --b-so SO [--a-name X --b-name Y] [--source V]
                   [--a-env "VAR=val ..." --b-env "VAR=val ..."] ...
  run.py callgrind --bindir D --outdir O --hakmem SO [--pairs N] [--size S]

Every benchmark binary calls the C library malloc family and prints one line
  RESULT name=<bench> ops=<n> seconds=<s> mops=<Mops/s> peak_rss_kb=<kb> ...
The allocator is chosen with LD_PRELOAD on the same binary.  Every run is
measured in wall clock (mops) and in CPU time (cpu= of the RESULT line:
operations per CPU-second); `bench` prints a table of each and judges
single-threaded cases by CPU time, multi-threaded ones by wall clock.  See
Documentation/benchmarks.md.
"""

import argparse
import csv
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

# --------------------------------------------------------------------------
# The suite.  (case name, program, argv, index of the iteration-count argument
# in argv, threads when the program runs more than one).  Iteration counts are
# tuned so that one run takes about 0.3 s or more with the fastest allocator
# (shorter runs measure start-up, first-touch page faults and timer noise more
# than the steady state) and at most a few seconds with the slowest, in the
# wall clock of a `make bench` on the 2-core Xeon guest at load 5-6
# (large_cache: 0.16-0.24 s, its slowest take 25-50 times as long);
# Documentation/benchmarks.md.  QUICK=1 scales them by QUICK_SCALE and
# --scale by any factor.

FIXED_SIZES = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
MIXED_BANDS = [(16, 1024, 30000000), (256, 4096, 18000000), (1024, 8192, 22500000),
               (8192, 32768, 24000000), (32768, 262144, 7200000)]
BATCH_ITERS = {64: 30000000, 1024: 20000000, 16384: 4000000}
BATCH_MAXCPU = 10
QUICK_SCALE = 0.25


def all_cases():
    cases = []
    for s in FIXED_SIZES:
        cases.append(dict(case="fixed_size/%d" % s, bench="fixed_size", prog="bench_fixed_size",
                          args=[s, 30000000], it=1, size=s))
    for lo, hi, n in MIXED_BANDS:
        cases.append(dict(case="random_mixed/%d-%d" % (lo, hi), bench="random_mixed",
                          prog="bench_random_mixed", args=[lo, hi, n], it=2, band=(lo, hi)))
    # The big band with every byte of each block written (WRITE=1): the
    # pages kept behind freed blocks count in the peak RSS, which the
    # two-byte stamp above hides (benchmarks.md, "written blocks' peak RSS").
    cases.append(dict(case="random_mixed/32768-262144-written", bench="random_mixed",
                      prog="bench_random_mixed", args=[32768, 262144, 200000, 128, 1], it=2,
                      band=(32768, 262144)))
    for t, n in ((1, 18000000), (2, 12000000)):
        cases.append(dict(case="mid_large_mt/%dt" % t, bench="mid_large_mt", prog="bench_mid_large_mt",
                          args=[t, n], it=1, threads=t))
    # Producer and consumer pinned to two CPUs (the 5th argument, 1, the
    # default): unpinned, a loaded machine often keeps both on one CPU
    # taking turns, and the run measures that instead (bench_xthread.c).
    cases.append(dict(case="xthread", bench="xthread", prog="bench_xthread",
                      args=[1, 3000000, 16, 1024, 1], it=1, threads=2))
    cases.append(dict(case="larson", bench="larson", prog="bench_larson",
                      args=[2, 200, 50000], it=2, threads=2))
    cases.append(dict(case="realloc", bench="realloc", prog="bench_realloc",
                      args=[1400000], it=0))
    cases.append(dict(case="thread_churn", bench="thread_churn", prog="bench_thread_churn",
                      args=[3000], it=0, threads=2))
    # Working-set churn; blocks are never touched before free (see
    # bench_churn.c): the cost of reading a cold block in free shows here.
    for name, args in (("churn/untouched-2t", [2, 1024, 4, 32768, 1, 18000000, 0]),
                       ("churn/untouched-1t", [1, 1024, 4, 32768, 1, 20000000, 0]),
                       # The same sizes read from a table drawn ahead (DIST
                       # 2), as glibc's bench-malloc-thread reads them: each
                       # malloc knows its size at once, where DIST 1
                       # computes it right before the call
                       ("churn/table-2t", [2, 1024, 4, 32768, 2, 18000000, 0]),
                       ("churn/table-1t", [1, 1024, 4, 32768, 2, 20000000, 0]),
                       ("churn/mid", [1, 1024, 8192, 32768, 0, 18000000, 1]),
                       ("churn/bigws", [1, 262144, 16, 512, 0, 10000000, 1]),
                       # untouched-1t's sizes and blocks never touched, with
                       # 256 times its working set (about 12 MB): past the L2
                       ("churn/untouched-bigws", [1, 262144, 4, 32768, 1, 10000000, 0]),
                       # One array of slots for both threads (SHARED 1): a
                       # free is of a block allocated by the other thread
                       # half of the time, untouched since its first byte;
                       # untouched-2t's sizes, and bigws's (remote frees of
                       # cold blocks)
                       ("churn/shared-2t", [2, 1024, 4, 32768, 1, 18000000, 1, 1]),
                       ("churn/shared-bigws", [2, 262144, 16, 512, 0, 5000000, 1, 1]),
                       # Every block from posix_memalign(64, size) (ALIGN,
                       # the 9th argument): C++17's aligned new, vector
                       # code; sizes 16-1024 B uniform, first byte written
                       ("churn/aligned-64", [1, 1024, 16, 1024, 0, 20000000, 1, 0, 64])):
        cases.append(dict(case=name, bench="churn", prog="bench_churn", args=args, it=5,
                          threads=args[0]))
    # Batches of same-size blocks, filled, freed FIFO / LIFO. A run stops
    # after 10 s of CPU time (the 6th argument): glibc and jemalloc took
    # 36-57 s a run of batch/16384-*, the others 3-4 s (bench_batch.c).
    for size in (64, 1024, 16384):
        for order, oname in ((0, "fifo"), (1, "lifo")):
            cases.append(dict(case="batch/%d-%s" % (size, oname), bench="batch", prog="bench_batch",
                              args=[size, 25, 1600, order, BATCH_ITERS[size], BATCH_MAXCPU],
                              it=4, size=size))
    cases.append(dict(case="large_reuse", bench="large_reuse", prog="bench_large_reuse",
                      args=[200, 20, 5 << 20, 25 << 20], it=0))
    for n, rounds in ((1000, 2400), (4000, 600)):
        cases.append(dict(case="large_cache/%d" % n, bench="large_cache", prog="bench_large_cache",
                          args=[rounds, n, 40000], it=0))
    # Patterns of the classic allocator suites (Documentation/benchmarks.md).
    for mode, mname in ((0, "active"), (1, "passive")):
        cases.append(dict(case="false_share/%s" % mname, bench="false_share",
                          prog="bench_false_share", args=[mode, 2, 8, 1000, 40000], it=4,
                          threads=2))
    cases.append(dict(case="pool", bench="pool", prog="bench_pool",
                      args=[2, 4096, 16, 8192, 50, 4500000], it=5, threads=2))
    # One producer hands random small blocks in batches of 64 through a
    # bounded queue to one consumer that frees them (bench_xmalloc.c; its
    # PRODUCERS and CONSUMERS take more threads).
    cases.append(dict(case="xmalloc", bench="xmalloc", prog="bench_xmalloc",
                      args=[1, 1, 4000000, 16, 512], it=2, threads=2))
    cases.append(dict(case="objects", bench="objects", prog="bench_objects",
                      args=[30000, 16384, 4, 2500000], it=3))
    cases.append(dict(case="strbuild", bench="strbuild", prog="bench_strbuild",
                      args=[32, 65536, 7500000], it=2))
    cases.append(dict(case="request", bench="request", prog="bench_request",
                      args=[2, 100, 16384, 150000], it=3, threads=2))
    # Threads that come and go (4 a round, 200 rounds), freeing each other's
    # blocks and those of threads that exited, now and then a big buffer
    # filled (bench_stress.c, as mstress and the like).
    cases.append(dict(case="stress", bench="stress", prog="bench_stress",
                      args=[4, 200], it=1, threads=4))
    # Four workers build 25 MB each and exit; the main thread frees it all
    # and builds as much itself, twice (bench_rebuild.c): the peak RSS says
    # whether the exited threads' memory is reused.
    cases.append(dict(case="rebuild", bench="rebuild", prog="bench_rebuild",
                      args=[4, 25, 16, 1024, 2], it=4, threads=4))
    # A tree of 300 000 keys built and freed whole, three rounds (bench_tree.c).
    cases.append(dict(case="tree", bench="tree", prog="bench_tree",
                      args=[300000, 3], it=1))
    # A list far larger than L2 built, walked in allocation order and freed
    # (bench_list.c): 16 B nodes (96 MB), and 64 B nodes (128 MB).
    for size, nodes in ((16, 6000000), (64, 2000000)):
        cases.append(dict(case="list/%d" % size, bench="list", prog="bench_list",
                          args=[nodes, 15, size], it=1, size=size))
    # Debian programs (bench_real.sh, a script in this directory).
    # z3 16: the two largest primes below 2^16 factored (about 1 s; the
    # search's length jumps with N, 18: 6-7 s); lua 40000 records, three
    # rounds; gs six pages of 3000 shapes (fifty-first session).
    for w, n in (("sqlite", 40000), ("python", 30000), ("redis", 30000),
                 ("z3", 16), ("lua", 40000), ("gs", 3000)):
        cases.append(dict(case="real/%s" % w, bench="real", prog="bench_real.sh",
                          args=[w, n], it=1))
    return cases


BENCH_NAMES = ["fixed_size", "random_mixed", "mid_large_mt", "xthread", "larson",
               "realloc", "thread_churn", "churn", "batch", "large_reuse", "large_cache",
               "false_share", "pool", "xmalloc", "objects", "strbuild", "request", "stress", "rebuild",
               "tree", "list", "real"]


def select_cases(benches, sizes):
    cases = all_cases()
    if benches:
        want = benches.replace(",", " ").split()
        unknown = [w for w in want
                   if w.split("/")[0] not in BENCH_NAMES]
        if unknown:
            die("unknown benchmark(s) %s; known: %s" % (" ".join(unknown), " ".join(BENCH_NAMES)))
        cases = [c for c in cases if c["bench"] in want or c["case"] in want]
    if sizes:
        nums, bands = [], []
        for tok in sizes.replace(",", " ").split():
            m = re.fullmatch(r"(\d+)-(\d+)", tok)
            if m:
                bands.append((int(m.group(1)), int(m.group(2))))
            elif tok.isdigit():
                nums.append(int(tok))
            else:
                die("bad SIZES token %r (use numbers or MIN-MAX bands)" % tok)

        def keep(c):
            if "size" in c:
                return c["size"] in nums
            if "band" in c:
                lo, hi = c["band"]
                return c["band"] in bands or any(lo <= n <= hi for n in nums)
            return True  # SIZES does not filter the other benchmarks
        cases = [c for c in cases if keep(c)]
    if not cases:
        die("BENCHES/SIZES selected no benchmark")
    return cases


# --------------------------------------------------------------------------
# helpers

def die(msg):
    sys.stderr.write("\nrun.py: error: %s\n" % msg)
    sys.exit(1)


def warn(msg):
    sys.stderr.write("\r\033[K" if sys.stderr.isatty() else "")
    sys.stderr.write("run.py: warning: %s\n" % msg)


def progress(msg):
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + msg)
    else:
        sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def progress_done():
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def fmt_dur(s):
    s = int(s + 0.5)
    return "%dm%02ds" % (s // 60, s % 60) if s >= 60 else "%ds" % s


def multiarch():
    for cc in (os.environ.get("CC", ""), "gcc", "cc"):
        if not cc:
            continue
        try:
            out = subprocess.run([cc, "-print-multiarch"], capture_output=True, text=True,
                                 timeout=20).stdout.strip()
            if out:
                return out
        except (OSError, subprocess.SubprocessError):
            pass
    return "x86_64-linux-gnu"


def ldconfig_map():
    libs = {}
    for ld in ("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"):
        try:
            out = subprocess.run([ld, "-p"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        for line in out.splitlines():
            m = re.match(r"\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)", line)
            if not m:
                continue
            if os.uname().machine == "x86_64" and "x86-64" not in m.group(2):
                continue  # skip i386/x32 copies
            libs.setdefault(m.group(1), m.group(3))
        break
    return libs


OTHER_ALLOCATORS = [
    ("mimalloc", ["libmimalloc.so.2", "libmimalloc.so"]),
    ("jemalloc", ["libjemalloc.so.2", "libjemalloc.so"]),
    ("tcmalloc", ["libtcmalloc_minimal.so.4", "libtcmalloc.so.4", "libtcmalloc_minimal.so"]),
]


def find_lib(sonames, ldmap, triplet):
    dirs = ["/usr/lib/" + triplet, "/lib/" + triplet, "/usr/local/lib", "/usr/lib64", "/usr/lib"]
    for so in sonames:
        if so in ldmap and os.path.exists(ldmap[so]):
            return ldmap[so]
        for d in dirs:
            p = os.path.join(d, so)
            if os.path.exists(p):
                return p
    return None


def preload_ok(so):
    """Check that ld.so really preloads SO (it only warns and goes on when it can't)."""
    env = dict(os.environ, LD_PRELOAD=so)
    try:
        r = subprocess.run(["/bin/cat", "/proc/self/maps"], env=env, capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return "cannot run a preloaded process: %s" % e
    if "cannot be preloaded" in r.stderr or r.returncode != 0:
        return (r.stderr.strip() or "exit status %d" % r.returncode)
    real = os.path.realpath(so)
    if real not in r.stdout and so not in r.stdout:
        return "library does not appear in /proc/self/maps of a preloaded process"
    return None


def run_env(so, extra=None):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if so:
        env["LD_PRELOAD"] = so
    env.update(extra or {})
    return env


def parse_env(words, what):
    """"VAR=val VAR2=val2" -> {VAR: val, ...} (ab's --a-env, --b-env)."""
    env = {}
    for kv in words.split():
        if "=" not in kv or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", kv.split("=", 1)[0]):
            die("%s: %r is not VAR=val" % (what, kv))
        k, v = kv.split("=", 1)
        env[k] = v
    return env


RESULT_RE = re.compile(r"^RESULT\s+(.*)$", re.M)


def parse_result(stdout):
    m = None
    for m in RESULT_RE.finditer(stdout):
        pass
    if not m:
        return None
    kv = dict(x.split("=", 1) for x in m.group(1).split() if "=" in x)
    try:
        res = dict(name=kv["name"], ops=int(kv["ops"]), seconds=float(kv["seconds"]),
                   mops=float(kv["mops"]), peak_rss_kb=int(kv["peak_rss_kb"]))
        # cpu=: the CPU time of what seconds= times, the timed part
        # (bench_common.h: bench_now()); bench_real.sh: of the program
        # under test (for real/redis the server's, not the load generator's).
        if "cpu" in kv:
            res["prog_cpu_s"] = float(kv["cpu"])
        # A multi-threaded program's placement and CPU share (bench_common.h:
        # bench_pin_setup()): kept as printed, for results.csv.
        for k in ("pin", "par", "runq"):
            if k in kv:
                res[k] = kv[k]
        # tools/bench/pingpong.c, host_probe().
        if "round_trip_ns" in kv:
            res["round_trip_ns"] = float(kv["round_trip_ns"])
        return res
    except (KeyError, ValueError):
        return None


def case_argv(c, bindir, scale):
    args = list(c["args"])
    args[c["it"]] = max(1, int(round(args[c["it"]] * scale)))
    # Scripts are not built: they run from the source directory.
    d = os.path.dirname(os.path.abspath(__file__)) if c["prog"].endswith(".sh") else bindir
    return [os.path.join(d, c["prog"])] + [str(a) for a in args]


def run_one(argv, so, timeout, extra=None):
    """One run: (RESULT fields or None, error or None, wall seconds,
    (user, system) CPU seconds of the whole child and of the descendants
    it waited for, start-up and exit included).  Runs are one at a time,
    so the change of RUSAGE_CHILDREN across the run is this child's own."""
    t0 = time.monotonic()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)

    def cpu():
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru1.ru_utime - ru0.ru_utime, ru1.ru_stime - ru0.ru_stime
    try:
        r = subprocess.run(argv, env=run_env(so, extra), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timeout after %ds" % timeout, time.monotonic() - t0, cpu()
    except OSError as e:
        return None, str(e), time.monotonic() - t0, cpu()
    wall = time.monotonic() - t0
    usage = cpu()
    res = parse_result(r.stdout)
    if r.returncode != 0 or res is None:
        err = (r.stderr.strip().splitlines() or ["no RESULT line"])[-1]
        if r.returncode < 0:
            err = "killed by signal %d; %s" % (-r.returncode, err)
        elif r.returncode:
            err = "exit %d: %s" % (r.returncode, err)
        return None, err[:300], wall, usage
    if "cannot be preloaded" in r.stderr:
        return None, "LD_PRELOAD failed: " + r.stderr.strip()[:200], wall, usage
    return res, None, wall, usage


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def quartiles(xs):
    xs = sorted(xs)
    if len(xs) < 2:
        return (xs[0], xs[0]) if xs else (float("nan"), float("nan"))
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def geomean(xs):
    xs = [x for x in xs if x and x > 0 and not math.isnan(x)]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def fnum(x, width=0):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        s = "-"
    elif x >= 100:
        s = "%.0f" % x
    elif x >= 10:
        s = "%.1f" % x
    else:
        s = "%.2f" % x
    return s.rjust(width) if width else s


def fmem(kb):
    if kb is None or (isinstance(kb, float) and math.isnan(kb)):
        return "-"
    mb = kb / 1024.0
    return "%.1fM" % mb if mb < 100 else "%.0fM" % mb


def stats_of(rows, key="mops"):
    """Median, min, max, spread and IQR of rows' KEY (mops: wall-clock
    rate; cpu_mops: operations per CPU-second) over the runs that did not
    fail, with the median peak RSS."""
    ok = [r for r in rows if r["status"] == "ok" and not math.isnan(r[key])]
    m = [r[key] for r in ok]
    rss = [r["peak_rss_kb"] for r in ok]
    s = dict(runs=len(rows), failed=len(rows) - len(ok))
    if not m:
        s.update(median=float("nan"), min=float("nan"), max=float("nan"), spread=float("nan"),
                 iqr=float("nan"), rss=float("nan"))
        return s
    med = median(m)
    q1, q3 = quartiles(m)
    s.update(median=med, min=min(m), max=max(m),
             spread=100.0 * (max(m) - min(m)) / med if med else float("nan"),
             iqr=100.0 * (q3 - q1) / med if med else float("nan"),
             rss=median(rss))
    return s


def paired_ratios(rows, case, num, den, key="mops"):
    """Per round: NUM's KEY over DEN's KEY in the same round of CASE (the
    two ran back to back), for the rounds where both succeeded."""
    by = {}
    for r in rows:
        if r["case"] == case and r["status"] == "ok" and r["allocator"] in (num, den):
            by.setdefault(r["round"], {})[r["allocator"]] = r[key]
    return [v[num] / v[den] for v in by.values()
            if num in v and den in v and v[den] > 0 and not math.isnan(v[num] / v[den])]


def cell(s):
    if s["failed"] == s["runs"]:
        return "FAIL"
    txt = "%s %3.0f%%" % (fnum(s["median"]), s["spread"])
    return txt + ("*" if s["failed"] else "")


RAW_FIELDS = ["round", "case", "bench", "allocator", "library", "ops", "seconds", "mops",
              "peak_rss_kb", "wall_s", "user_s", "sys_s", "cpu_s", "cpu_mops", "status", "error",
              "argv", "pin", "par", "runq"]


# --------------------------------------------------------------------------
# running the matrix

def host_probe(bindir):
    """The cross-CPU round trip of a cache line (tools/bench/pingpong.c,
    no LD_PRELOAD), ns, and pin= of its RESULT line; (None, None) if the
    probe is missing or fails.  On a virtual machine it moves with the
    host's placement of the guest's CPUs, and with it every case of
    threads passing blocks, whatever the allocator (benchmarks.md,
    "thirty-first session")."""
    prog = os.path.join(bindir, "pingpong")
    if not os.access(prog, os.X_OK):
        return None, None
    res, _, _, _ = run_one([prog], None, 60)
    if not res or "round_trip_ns" not in res:
        return None, None
    return res["round_trip_ns"], res.get("pin", "")


def probe_line(probes):
    """The table's line of host_probe()'s figures, or None without any."""
    ns = [p for p, _ in probes if p is not None]
    if not ns:
        return None
    pins = sorted(set(str(q) for p, q in probes if p is not None))
    return ("Host: cross-CPU round trip of a cache line (tools/bench/pingpong, before each round and "
            "after the last; pin=%s): %s ns, median %.0f" % (
                ",".join(pins), " ".join("%.0f" % p for p in ns), median(ns)))


def write_probes(path, probes):
    """host.csv: host_probe()'s figures, one row per probe (before round
    1..N, then after the last); nothing without any."""
    if not any(p is not None for p, _ in probes):
        return
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["probe", "before_round", "round_trip_ns", "pin"])
        for i, (p, q) in enumerate(probes):
            w.writerow([i + 1, i + 1 if i + 1 < len(probes) else "end",
                        "" if p is None else "%.1f" % p, q or ""])


def run_matrix(cases, allocs, rounds, bindir, scale, timeout, label, probes=None):
    """Run every case with every allocator, ROUNDS times, interleaved.

    Within a round each case is run with all allocators back to back (so they
    see the same machine conditions); the allocator order rotates by one per
    round so that no allocator always runs first or last. An allocator is
    (name, library) or (name, library, {VAR: val}): variables set for its
    runs only.  With a list as probes, host_probe() runs before each round
    and after the last, its (ns, pin) appended there."""
    rows = []
    total = rounds * len(cases) * len(allocs)
    done = 0
    t_start = time.monotonic()
    for rnd in range(1, rounds + 1):
        if probes is not None:
            probes.append(host_probe(bindir))
        k = (rnd - 1) % len(allocs)
        order = allocs[k:] + allocs[:k]
        for c in cases:
            argv = case_argv(c, bindir, scale)
            for alloc in order:
                name, so = alloc[0], alloc[1]
                extra = alloc[2] if len(alloc) > 2 else None
                done += 1
                el = time.monotonic() - t_start
                eta = el / (done - 1) * (total - done + 1) if done > 1 else 0
                progress("[%s %3d/%d] round %d/%d  %-26s %-12s elapsed %s  eta %s" % (
                    label, done, total, rnd, rounds, c["case"], name, fmt_dur(el), fmt_dur(eta)))
                res, err, wall, (user, syst) = run_one(argv, so, timeout, extra)
                row = dict(round=rnd, case=c["case"], bench=c["bench"], allocator=name,
                           library=so or "", wall_s="%.3f" % wall, user_s="%.3f" % user,
                           sys_s="%.3f" % syst, argv=" ".join(argv[1:]))
                if res:
                    # CPU time of the timed part as the program reports
                    # it (all threads); without it (an older binary), the
                    # whole child's, start-up and set-up included.
                    cpu = res.get("prog_cpu_s", user + syst)
                    row.update(ops=res["ops"], seconds=res["seconds"], mops=res["mops"],
                               peak_rss_kb=res["peak_rss_kb"], cpu_s="%.4f" % cpu,
                               cpu_mops=round(res["ops"] / cpu / 1e6, 4) if cpu > 0 else float("nan"),
                               status="ok", error="", pin=res.get("pin", ""),
                               par=res.get("par", ""), runq=res.get("runq", ""))
                else:
                    warn("%s with %s (round %d) failed: %s" % (c["case"], name, rnd, err))
                    row.update(ops="", seconds="", mops="", peak_rss_kb="", cpu_s="", cpu_mops="",
                               status="fail", error=err)
                rows.append(row)
    if probes is not None:
        probes.append(host_probe(bindir))
    progress_done()
    sys.stderr.write("run.py: %d runs in %s\n" % (total, fmt_dur(time.monotonic() - t_start)))
    return rows


def write_csv(path, fields, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def gnuplot(script, png):
    if not shutil.which("gnuplot"):
        warn("gnuplot not found: no chart %s" % png)
        return False
    r = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
    if r.returncode != 0:
        warn("gnuplot failed for %s: %s" % (png, r.stderr.strip()[-500:]))
        return False
    return True


def gp_escape(s):
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("_", "\\\\_")


def terminal():
    r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True) \
        if shutil.which("gnuplot") else None
    if r and "pngcairo" in (r.stdout + r.stderr):
        return "pngcairo enhanced font 'sans,9'"
    return "png"


COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"]


def bar_chart(png, datfile, title, ylabel, cases, series, values, lows, highs, base, logscale):
    """Grouped bars drawn from `base` (1.0 for ratios) to the value, with
    min-max error bars.  values[s][i] for series s, case i."""
    n = len(series)
    width = 0.8 / n
    lines = []
    for i, c in enumerate(cases):
        cols = [str(i)]
        for s in range(n):
            v, lo, hi = values[s][i], lows[s][i], highs[s][i]
            ok = v is not None and not math.isnan(v) and v > 0
            cols += ["%.6g" % v if ok else "NaN",
                     "%.6g" % lo if ok and lo and not math.isnan(lo) else "NaN",
                     "%.6g" % hi if ok and hi and not math.isnan(hi) else "NaN"]
        lines.append(" ".join(cols))
    with open(datfile, "w") as f:
        f.write("# x " + " ".join("%s %s_min %s_max" % (s, s, s) for s in series) + "\n")
        f.write("\n".join(lines) + "\n")
    allv = [x for arr in (values, lows, highs) for row in arr for x in row
            if x is not None and not math.isnan(x) and x > 0]
    vmin, vmax = (min(allv), max(allv)) if allv else (0.5, 2)
    draw_base = base is not None
    if base is None:  # absolute values: bars from the bottom of the axis
        base = vmin / 2 if logscale else 0
    if logscale:
        ylo, yhi = min(vmin, base) / 1.3, max(vmax, base) * 1.3
    else:
        ylo, yhi = min(0, vmin), max(vmax, base) * 1.1
    xt = ", ".join('"%s" %d' % (gp_escape(c), i) for i, c in enumerate(cases))
    plots = []
    for s, name in enumerate(series):
        off = -0.4 + width * (s + 0.5)
        col = 2 + 3 * s
        plots.append("'%s' using ($1+%.4f):%d:($1+%.4f):($1+%.4f):(%g<$%d?%g:$%d):(%g<$%d?$%d:%g) "
                     "with boxxyerror fs solid 0.85 border lc rgb '#333333' fc rgb '%s' title '%s'"
                     % (datfile, off, col, off - width / 2, off + width / 2,
                        base, col, base, col, base, col, col, base, COLORS[s % len(COLORS)],
                        gp_escape(name)))
        plots.append("'%s' using ($1+%.4f):%d:(0):($%d-$%d) with vectors heads size screen 0.003,90 "
                     "lc rgb '#222222' lw 1 notitle" % (datfile, off, col + 1, col + 2, col + 1))
    script = """
set terminal %s size %d,620
set output '%s'
set title "%s"
set ylabel "%s"
set key outside top center horizontal reverse Left samplen 2
set grid ytics
set xtics (%s) rotate by -40 left nomirror
set xrange [-0.6:%g]
set yrange [%g:%g]
%s
%s
set bmargin 11
set rmargin 8
plot %s
""" % (terminal(), max(900, 70 * len(cases) + 200), png, gp_escape(title), gp_escape(ylabel), xt,
       len(cases) - 0.4, ylo, yhi,
       "set logscale y 2\nset format y '%g'" if logscale else "unset logscale y",
       ("set arrow from -0.6,%g to %g,%g nohead lc rgb '#000000' lw 1 front" % (base, len(cases) - 0.4, base))
       if draw_base else "",
       ", \\\n     ".join(plots))
    with open(png[:-4] + ".gp", "w") as f:
        f.write(script)
    return gnuplot(script, png)


# --------------------------------------------------------------------------
# bench: hakmem vs the others

def cmd_bench(a):
    cases = select_cases(a.benches, a.sizes)
    hak = os.path.abspath(a.hakmem)
    if not os.path.exists(hak):
        die("hakmem library not found: %s\n  build it first (`make`, or `make O=DIR` and run "
            "the bench with the same O=), or point HAKMEM_SO=/path/to/libhakmem.so at a build." % hak)
    err = preload_ok(hak)
    if err:
        die("%s cannot be LD_PRELOADed: %s" % (hak, err))
    triplet = multiarch()
    ldmap = ldconfig_map()
    allocs = [("system", None), ("hakmem", hak)]
    for name, sonames in OTHER_ALLOCATORS:
        so = find_lib(sonames, ldmap, triplet)
        if not so:
            warn("%s not found (looked for %s): skipped" % (name, ", ".join(sonames)))
            continue
        e = preload_ok(so)
        if e:
            warn("%s (%s) cannot be preloaded: %s: skipped" % (name, so, e))
            continue
        allocs.append((name, so))
    if a.allocators:
        want = a.allocators.replace(",", " ").split()
        allocs = [x for x in allocs if x[0] in want]
        if not allocs:
            die("ALLOCATORS=%s selected no available allocator" % a.allocators)
    names = [n for n, _ in allocs]
    sys.stderr.write("run.py: allocators: %s\n" % ", ".join(
        "%s=%s" % (n, so or "(no preload)") for n, so in allocs))
    sys.stderr.write("run.py: %d cases x %d allocators x %d rounds%s\n" % (
        len(cases), len(allocs), a.rounds, ", quick" if a.quick else ""))
    probes = []
    rows = run_matrix(cases, allocs, a.rounds, a.bindir, a.scale, a.timeout, "bench", probes)

    os.makedirs(a.outdir, exist_ok=True)
    write_csv(os.path.join(a.outdir, "results.csv"), RAW_FIELDS, rows)
    write_probes(os.path.join(a.outdir, "host.csv"), probes)

    def ratio(x, y):
        return x / y if x and y and not math.isnan(x) and not math.isnan(y) else float("nan")

    nan = float("nan")
    hak = "hakmem" in names
    others = [n for n in names if n != "hakmem"]
    # Every run is measured twice: "mops", the wall-clock rate of its timed
    # loop (the program's own figure), and "cpu_mops", its operations per
    # CPU-second of the process (run_matrix()).  The same statistics of both.
    st, per = {}, {}
    for key in ("mops", "cpu_mops"):
        for c in cases:
            cc = c["case"]
            for n in names:
                st[key, cc, n] = stats_of([r for r in rows if r["case"] == cc and r["allocator"] == n], key)
            sysm = st[key, cc, "system"]["median"] if "system" in names else nan
            best_name, best = None, nan
            for n in others:
                m = st[key, cc, n]["median"]
                if not math.isnan(m) and (best_name is None or m > best):
                    best_name, best = n, m
            d = dict(best=best_name, norm={n: ratio(st[key, cc, n]["median"], sysm) for n in names},
                     hs=nan, hb=nan, paired=nan, plo=nan, phi=nan)
            if hak:
                h = st[key, cc, "hakmem"]["median"]
                d.update(hs=ratio(h, sysm), hb=ratio(h, best))
                pr = paired_ratios(rows, cc, "hakmem", best_name, key) if best_name else []
                if pr:
                    d.update(paired=median(pr), plo=min(pr), phi=max(pr))
            per[key, cc] = d

    def judged(c):
        """The measure hakmem is judged by in case c: CPU time if the
        program runs one thread (it moves far less with the load of a
        shared machine than the wall clock does), the wall clock if it runs
        several (CPU time summed over threads running in parallel is not a
        rate)."""
        return "cpu_mops" if c.get("threads", 1) == 1 else "mops"

    def f4(x):
        return "" if math.isnan(x) else "%.4f" % x

    summary = []
    gm_lists = {k: [] for k in ("hb", "paired", "cpu_hb", "cpu_paired", "j_hb", "j_paired")}
    for c in cases:
        cc = c["case"]
        w, u, j = per["mops", cc], per["cpu_mops", cc], per[judged(c), cc]
        for n in names:
            s, sc = st["mops", cc, n], st["cpu_mops", cc, n]
            row = dict(case=cc, bench=c["bench"], allocator=n, threads=c.get("threads", 1),
                       judged_by="cpu" if judged(c) == "cpu_mops" else "wall",
                       runs=s["runs"], failed=s["failed"],
                       median_mops="%.4f" % s["median"], min_mops="%.4f" % s["min"],
                       max_mops="%.4f" % s["max"], spread_pct="%.1f" % s["spread"],
                       iqr_pct="%.1f" % s["iqr"], median_peak_rss_kb="%.0f" % s["rss"],
                       norm_to_system="%.4f" % w["norm"][n],
                       median_cpu_mops="%.4f" % sc["median"], min_cpu_mops="%.4f" % sc["min"],
                       max_cpu_mops="%.4f" % sc["max"], cpu_spread_pct="%.1f" % sc["spread"],
                       cpu_iqr_pct="%.1f" % sc["iqr"], cpu_norm_to_system="%.4f" % u["norm"][n])
            if n == "hakmem":
                row.update(hakmem_ratio_to_best_other=f4(w["hb"]), hakmem_paired_to_best_other=f4(w["paired"]),
                           best_other=w["best"] or "",
                           hakmem_cpu_ratio_to_best_other=f4(u["hb"]),
                           hakmem_cpu_paired_to_best_other=f4(u["paired"]), cpu_best_other=u["best"] or "",
                           hakmem_judged_ratio_to_best_other=f4(j["hb"]),
                           hakmem_judged_paired_to_best_other=f4(j["paired"]))
            summary.append(row)
        for k, d in (("", w), ("cpu_", u), ("j_", j)):
            gm_lists[k + "hb"].append(d["hb"])
            gm_lists[k + "paired"].append(d["paired"])
    for n in names:
        row = dict(case="geomean", bench="", allocator=n,
                   norm_to_system="%.4f" % geomean([per["mops", c["case"]]["norm"][n] for c in cases]),
                   cpu_norm_to_system="%.4f" % geomean([per["cpu_mops", c["case"]]["norm"][n] for c in cases]))
        if n == "hakmem":
            row.update(hakmem_ratio_to_best_other=f4(geomean(gm_lists["hb"])),
                       hakmem_paired_to_best_other=f4(geomean(gm_lists["paired"])),
                       hakmem_cpu_ratio_to_best_other=f4(geomean(gm_lists["cpu_hb"])),
                       hakmem_cpu_paired_to_best_other=f4(geomean(gm_lists["cpu_paired"])),
                       hakmem_judged_ratio_to_best_other=f4(geomean(gm_lists["j_hb"])),
                       hakmem_judged_paired_to_best_other=f4(geomean(gm_lists["j_paired"])))
        summary.append(row)
    sfields = ["case", "bench", "allocator", "threads", "judged_by", "runs", "failed",
               "median_mops", "min_mops", "max_mops", "spread_pct", "iqr_pct", "median_peak_rss_kb",
               "norm_to_system", "hakmem_ratio_to_best_other", "hakmem_paired_to_best_other", "best_other",
               "median_cpu_mops", "min_cpu_mops", "max_cpu_mops", "cpu_spread_pct", "cpu_iqr_pct",
               "cpu_norm_to_system", "hakmem_cpu_ratio_to_best_other", "hakmem_cpu_paired_to_best_other",
               "cpu_best_other", "hakmem_judged_ratio_to_best_other", "hakmem_judged_paired_to_best_other"]
    write_csv(os.path.join(a.outdir, "summary.csv"), sfields, summary)

    # ---- tables
    out = []
    w0 = max(22, max(len(c["case"]) for c in cases) + 1)
    cw = 14

    def gm(xs):
        valid = [x for x in xs if not math.isnan(x)]
        return ("%.2fx" % geomean(xs)) + ("" if len(valid) == len(xs) else "(%d/%d)" % (len(valid), len(xs)))

    def xr(x, fmt="%.2fx"):
        return "-" if math.isnan(x) else fmt % x

    def throughput_table(key, title):
        out.append("")
        out.extend(title)
        hdr = "case".ljust(w0) + "".join(n.rjust(cw) for n in names)
        if hak:
            hdr += "hak/sys".rjust(9) + "hak/best".rjust(10) + "paired [min..max]".rjust(23) + "  best other"
        out.append(hdr)
        out.append("-" * len(hdr))
        for c in cases:
            cc = c["case"]
            d = per[key, cc]
            line = cc.ljust(w0) + "".join(cell(st[key, cc, n]).rjust(cw) for n in names)
            if hak:
                line += xr(d["hs"]).rjust(9) + xr(d["hb"]).rjust(10)
                line += ("-" if math.isnan(d["paired"]) else "%.2f [%.2f..%.2f]" % (
                    d["paired"], d["plo"], d["phi"])).rjust(23)
                line += "  " + (d["best"] or "-")
                if judged(c) == key:
                    line += "  <"
            out.append(line)
        out.append("-" * len(hdr))
        line = "geomean vs system".ljust(w0) + "".join(
            gm([per[key, c["case"]]["norm"][n] for c in cases]).rjust(cw) for n in names)
        if hak:
            line += gm([per[key, c["case"]]["hs"] for c in cases]).rjust(9)
            line += gm([per[key, c["case"]]["hb"] for c in cases]).rjust(10)
            line += "      " + gm([per[key, c["case"]]["paired"] for c in cases])
        out.append(line)

    nmt = sum(1 for c in cases if judged(c) == "mops")
    throughput_table("mops", [
        "Throughput, wall clock: median Mops/s over %d rounds of each program's timed loop, followed by "
        "the spread (max-min)/median" % a.rounds + ("   [quick mode]" if a.quick else ""),
        "(moves with the load of the machine: on a shared VM a run waits for a CPU and the host "
        "steals time; the measure hakmem is judged by for the %d multi-threaded cases, marked <)" % nmt])
    if any(c["case"] == "mid_large_mt/1t" for c in cases) and any(c["case"] == "mid_large_mt/2t" for c in cases):
        out.append("mid_large_mt scaling 2t/1t (ideal 2.00x on 2 idle cores): " + "  ".join(
            "%s %s" % (n, ("%.2fx" % ratio(st["mops", "mid_large_mt/2t", n]["median"],
                                           st["mops", "mid_large_mt/1t", n]["median"])))
            for n in names))
    throughput_table("cpu_mops", [
        "Throughput, CPU time: million operations per CPU-second of the timed loop (user + system, all "
        "threads; real/*: the program's), median over %d rounds," % a.rounds,
        "followed by the spread (max-min)/median (moves far less with the load than the wall clock; the "
        "measure hakmem is judged by for the %d single-threaded cases, marked <)" % (len(cases) - nmt)])
    if any(st[k]["failed"] for k in st):
        out.append("FAIL = every run failed, * = some runs failed (see results.csv, status/error columns);"
                   " (k/n) = geomean over the k cases that did not fail")
    if hak:
        out.append("hak/best: hakmem's median over the best other median (system included); paired: "
                   "median over the rounds of hakmem's run divided by the best other's run of the same "
                   "round (back to back), [their min..max]")
        jl = [per[judged(c), c["case"]] for c in cases]
        jc = [(c["case"], d) for c, d in zip(cases, jl)]
        out.append("")
        out.append("hakmem against the best other allocator, each case by its measure (<: CPU time for "
                   "%d single-threaded cases, wall clock for %d multi-threaded):" % (len(cases) - nmt, nmt))
        out.append("  geomean hak/best %s, paired %s; at or above 1.0x on %d of %d cases (paired: %d)" % (
            gm([d["hb"] for d in jl]), gm([d["paired"] for d in jl]),
            sum(1 for d in jl if d["hb"] >= 1.0), len(jl), sum(1 for d in jl if d["paired"] >= 1.0)))
        below = ["%s %s (%s%s)" % (cc, xr(d["hb"]), d["best"] or "-",
                                   "" if judged(c) == "cpu_mops" else ", wall")
                 for (cc, d), c in zip(jc, cases) if d["hb"] < 1.0]
        if below:
            out.append("  below 1.0x: " + ", ".join(below))
    out.append("")
    out.append("Peak RSS: median over the rounds of VmHWM (peak resident set), MiB")
    hdr = "case".ljust(w0) + "".join(n.rjust(10) for n in names)
    out.append(hdr)
    out.append("-" * len(hdr))
    rss_norm = {n: [] for n in names}
    for c in cases:
        sysr = st["mops", c["case"], "system"]["rss"] if "system" in names else nan
        out.append(c["case"].ljust(w0) + "".join(fmem(st["mops", c["case"], n]["rss"]).rjust(10) for n in names))
        for n in names:
            rss_norm[n].append(ratio(st["mops", c["case"], n]["rss"], sysr))
    out.append("-" * len(hdr))
    out.append("geomean vs system".ljust(w0) + "".join(("%.2fx" % geomean(rss_norm[n])).rjust(10) for n in names))
    out.append("")
    pl = probe_line(probes)
    if pl:
        out.append(pl)
        out.append("")
    table = "\n".join(out)
    print(table)
    with open(os.path.join(a.outdir, "table.txt"), "w") as f:
        f.write(table + "\n")

    # ---- charts
    cl = [c["case"] for c in cases]
    if "system" in names:
        for key, png, what in (("mops", "bench", "Throughput (wall clock)"),
                               ("cpu_mops", "bench_cpu", "Operations per CPU-second")):
            vals, lows, highs = [], [], []
            for n in names:
                vals.append([ratio(st[key, c, n]["median"], st[key, c, "system"]["median"]) for c in cl])
                lows.append([ratio(st[key, c, n]["min"], st[key, c, "system"]["median"]) for c in cl])
                highs.append([ratio(st[key, c, n]["max"], st[key, c, "system"]["median"]) for c in cl])
            flat = [v for row in vals for v in row if not math.isnan(v) and v > 0]
            logscale = bool(flat) and max(flat) / min(flat) > 4
            bar_chart(os.path.join(a.outdir, png + ".png"), os.path.join(a.outdir, png + ".dat"),
                      "%s normalised to the system malloc (median of %d rounds; bars: min-max)" % (
                          what, a.rounds),
                      "throughput / system malloc" + (" (log scale)" if logscale else ""),
                      cl, names, vals, lows, highs, 1.0, logscale)
    rvals = [[st["mops", c, n]["rss"] / 1024.0 for c in cl] for n in names]
    bar_chart(os.path.join(a.outdir, "bench_rss.png"), os.path.join(a.outdir, "bench_rss.dat"),
              "Peak RSS (median of %d rounds)" % a.rounds, "peak RSS, MiB (log scale)",
              cl, names, rvals, rvals, rvals, None, True)
    sys.stderr.write("run.py: wrote %s/{results.csv,summary.csv,host.csv,table.txt,bench.png,bench_cpu.png,"
                     "bench_rss.png}\n" % a.outdir)
    return 0


# --------------------------------------------------------------------------
# ab: two hakmem builds

def cmd_ab(a):
    cases = select_cases(a.benches, a.sizes)
    libs = []
    for tag, so, name, env in (("A", a.a_so, a.a_name, a.a_env), ("B", a.b_so, a.b_name, a.b_env)):
        so = os.path.abspath(so)
        if not os.path.exists(so):
            die("%s library not found: %s (did the build of %s succeed?)" % (tag, so, name))
        e = preload_ok(so)
        if e:
            die("%s library %s cannot be LD_PRELOADed: %s" % (tag, so, e))
        libs.append((name or tag, so, parse_env(env, "--%s-env" % tag.lower())))
    if libs[0][0] == libs[1][0]:
        libs = [(libs[0][0] + " (A)",) + libs[0][1:], (libs[1][0] + " (B)",) + libs[1][1:]]
    an, bn = libs[0][0], libs[1][0]
    for tag, (n, so, env) in zip("AB", libs):
        sys.stderr.write("run.py: %s = %s (%s%s)\n" % (
            tag, n, so, "".join(" %s=%s" % kv for kv in sorted(env.items()))))
    probes = []
    rows = run_matrix(cases, libs, a.rounds, a.bindir, a.scale, a.timeout, "ab", probes)
    for r in rows:
        r["allocator"] = "A" if r["allocator"] == an else "B"
        r["config"] = an if r["allocator"] == "A" else bn
    os.makedirs(a.outdir, exist_ok=True)
    write_csv(os.path.join(a.outdir, "ab-results.csv"), RAW_FIELDS[:4] + ["config"] + RAW_FIELDS[4:], rows)
    write_probes(os.path.join(a.outdir, "ab-host.csv"), probes)

    out, summary, ratios, paired, cpaired = [], [], [], [], []
    cl, rv, rlo, rhi = [], [], [], []
    w0 = max(22, max(len(c["case"]) for c in cases) + 1)
    out.append("")
    out.append("A/B: A = %s, B = %s; %d rounds, runs alternate A,B / B,A%s" % (
        an, bn, a.rounds, "   [quick mode]" if a.quick else ""))
    for tag, arg in (("A", a.a_env), ("B", a.b_env)):
        if arg.strip():
            out.append("%s runs with %s" % (tag, " ".join(arg.split())))
    if a.source:
        out.append("source: %s" % a.source)
    out.append("Mops/s: median (spread = (max-min)/median); B/A: ratio of medians; paired: median of the "
               "per-round ratios (B of round r / A of round r) [their min..max]; RSS: median peak")
    out.append("All wall clock but \"CPU paired\": the paired ratio of operations per CPU-second of the timed "
               "loop (user + system, all threads): it moves far less with the machine's load; of a multi-threaded "
               "case it is the CPU cost of an operation, not a rate")
    hdr = ("case".ljust(w0) + "A Mops/s".rjust(14) + "B Mops/s".rjust(14) + "B/A".rjust(8)
           + "paired".rjust(8) + "per-round range".rjust(18) + "CPU paired".rjust(12)
           + "A RSS".rjust(9) + "B RSS".rjust(9) + "B/A RSS".rjust(9))
    out.append(hdr)
    out.append("-" * len(hdr))
    for c in cases:
        cc = c["case"]
        sa = stats_of([r for r in rows if r["case"] == cc and r["allocator"] == "A"])
        sb = stats_of([r for r in rows if r["case"] == cc and r["allocator"] == "B"])
        per = []
        for rnd in range(1, a.rounds + 1):
            ra = [r for r in rows if r["case"] == cc and r["round"] == rnd and r["allocator"] == "A"
                  and r["status"] == "ok"]
            rb = [r for r in rows if r["case"] == cc and r["round"] == rnd and r["allocator"] == "B"
                  and r["status"] == "ok"]
            if ra and rb:
                per.append(rb[0]["mops"] / ra[0]["mops"])
        cper = paired_ratios(rows, cc, "B", "A", "cpu_mops")
        cpmed = median(cper)
        if cper:
            cpaired.append(cpmed)
        ok = not (math.isnan(sa["median"]) or math.isnan(sb["median"]))
        ratio = sb["median"] / sa["median"] if ok else float("nan")
        lo, hi = (min(per), max(per)) if per else (float("nan"), float("nan"))
        q1, q3 = quartiles(per) if per else (float("nan"), float("nan"))
        pmed = median(per)
        rss_ratio = sb["rss"] / sa["rss"] if ok and sa["rss"] else float("nan")
        if ok:
            ratios.append(ratio)
        if per:
            paired.append(pmed)
        out.append(cc.ljust(w0) + cell(sa).rjust(14) + cell(sb).rjust(14)
                   + ("%.3f" % ratio if ok else "-").rjust(8)
                   + ("%.3f" % pmed if per else "-").rjust(8)
                   + ("[%.3f..%.3f]" % (lo, hi) if per else "-").rjust(18)
                   + ("%.3f" % cpmed if cper else "-").rjust(12)
                   + fmem(sa["rss"]).rjust(9) + fmem(sb["rss"]).rjust(9)
                   + ("%.2f" % rss_ratio if not math.isnan(rss_ratio) else "-").rjust(9))
        summary.append(dict(case=cc, bench=c["bench"], a_config=an, b_config=bn,
                            a_median_mops="%.4f" % sa["median"], b_median_mops="%.4f" % sb["median"],
                            a_spread_pct="%.1f" % sa["spread"], b_spread_pct="%.1f" % sb["spread"],
                            ratio_b_a="%.4f" % ratio, ratio_min="%.4f" % lo, ratio_max="%.4f" % hi,
                            ratio_paired="%.4f" % pmed, ratio_q1="%.4f" % q1, ratio_q3="%.4f" % q3,
                            cpu_ratio_paired="%.4f" % cpmed,
                            a_median_peak_rss_kb="%.0f" % sa["rss"], b_median_peak_rss_kb="%.0f" % sb["rss"],
                            rss_ratio_b_a="%.4f" % rss_ratio, a_failed=sa["failed"], b_failed=sb["failed"],
                            source=a.source))
        cl.append(cc)
        rv.append(ratio)
        rlo.append(lo)
        rhi.append(hi)
    out.append("-" * len(hdr))
    out.append("geomean B/A".ljust(w0) + " " * 28 + ("%.3f" % geomean(ratios)).rjust(8)
               + ("%.3f" % geomean(paired)).rjust(8) + " " * 18 + ("%.3f" % geomean(cpaired)).rjust(12))
    out.append("(B/A > 1: B is faster)")
    out.append("")
    pl = probe_line(probes)
    if pl:
        out.append(pl)
        out.append("")
    table = "\n".join(out)
    print(table)
    with open(os.path.join(a.outdir, "ab-table.txt"), "w") as f:
        f.write(table + "\n")
    summary.append(dict(case="geomean", ratio_b_a="%.4f" % geomean(ratios),
                        ratio_paired="%.4f" % geomean(paired), cpu_ratio_paired="%.4f" % geomean(cpaired)))
    write_csv(os.path.join(a.outdir, "ab-summary.csv"),
              ["case", "bench", "a_config", "b_config", "a_median_mops", "b_median_mops", "a_spread_pct",
               "b_spread_pct", "ratio_b_a", "ratio_paired", "ratio_min", "ratio_max", "ratio_q1", "ratio_q3",
               "cpu_ratio_paired", "a_median_peak_rss_kb",
               "b_median_peak_rss_kb", "rss_ratio_b_a", "a_failed", "b_failed", "source"], summary)
    flat = [v for v in rv + rlo + rhi if not math.isnan(v) and v > 0]
    logscale = bool(flat) and max(flat) / min(flat) > 4
    bar_chart(os.path.join(a.outdir, "ab.png"), os.path.join(a.outdir, "ab.dat"),
              "B/A throughput: B = %s vs A = %s (median ratio; bars: per-round min-max)" % (bn, an),
              "B / A", cl, ["B/A"], [rv], [rlo], [rhi], 1.0, logscale)
    sys.stderr.write("run.py: wrote %s/{ab-results.csv,ab-summary.csv,ab-host.csv,ab-table.txt,ab.png}\n" % a.outdir)
    return 0


# --------------------------------------------------------------------------
# callgrind: instructions per malloc+free pair

def callgrind_counts(outfile):
    """Total Ir and the self Ir of cg_loop (the loop overhead)."""
    total, loop_self = None, 0
    with open(outfile) as f:
        txt = f.read()
    m = re.search(r"^(?:summary|totals):\s+(\d+)", txt, re.M)
    if m:
        total = int(m.group(1))
    # the cost lines that follow "fn=(id) cg_loop" (or a later "fn=(id)") until the next fn=
    ids = {}
    cur = None
    for line in txt.splitlines():
        if line.startswith("fn="):
            mm = re.match(r"fn=\((\d+)\)(?:\s+(.*))?", line)
            if mm:
                if mm.group(2):
                    ids[mm.group(1)] = mm.group(2)
                cur = ids.get(mm.group(1))
            else:
                cur = line[3:].strip()
            skip_call = False
            continue
        if cur != "cg_loop":
            continue
        if line.startswith("calls="):
            skip_call = True  # the next cost line is the inclusive cost of a call
            continue
        if re.match(r"^[+\-*]?\d", line) or line.startswith("0x"):
            if skip_call:
                skip_call = False
                continue
            parts = line.split()
            if len(parts) >= 2:
                loop_self += int(parts[1])
    return total, loop_self


def cmd_callgrind(a):
    if not shutil.which("valgrind"):
        die("valgrind not found (apt-get install valgrind)")
    prog = os.path.join(a.bindir, "cg_tiny")
    triplet = multiarch()
    ldmap = ldconfig_map()
    allocs = [("system", None)]
    hak = os.path.abspath(a.hakmem)
    if os.path.exists(hak):
        allocs.append(("hakmem", hak))
    else:
        warn("hakmem library not found at %s: skipped (HAKMEM_SO=path to override)" % hak)
    for name, sonames in OTHER_ALLOCATORS:
        so = find_lib(sonames, ldmap, triplet)
        if so:
            allocs.append((name, so))
        else:
            warn("%s not found: skipped" % name)
    if a.allocators:
        want = a.allocators.replace(",", " ").split()
        allocs = [x for x in allocs if x[0] in want]
    os.makedirs(a.outdir, exist_ok=True)
    rows = []
    for name, so in allocs:
        progress("[callgrind] %s: %d x malloc(%d)+free ..." % (name, a.pairs, a.size))
        out = os.path.join(a.outdir, "callgrind.out.%s" % name)
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
               "--collect-atstart=no", "--toggle-collect=cg_loop", "--compress-strings=no",
               "--compress-pos=no", prog, str(a.pairs), str(a.size)]
        r = subprocess.run(cmd, env=run_env(so), capture_output=True, text=True, timeout=600)
        res = parse_result(r.stdout)
        if r.returncode != 0 or not res or not os.path.exists(out):
            warn("callgrind run with %s failed: %s" % (name, (r.stderr.strip().splitlines() or ["?"])[-1]))
            rows.append(dict(allocator=name, library=so or "", status="fail"))
            continue
        total, loop = callgrind_counts(out)
        if not total:
            warn("no instruction count in %s" % out)
            continue
        rows.append(dict(allocator=name, library=so or "", pairs=a.pairs, size=a.size, total_ir=total,
                         loop_ir=loop, ir_per_pair="%.1f" % (total / a.pairs),
                         alloc_ir_per_pair="%.1f" % ((total - loop) / a.pairs), status="ok"))
    progress_done()
    write_csv(os.path.join(a.outdir, "callgrind.csv"),
              ["allocator", "library", "pairs", "size", "total_ir", "loop_ir", "ir_per_pair",
               "alloc_ir_per_pair", "status"], rows)
    print("")
    print("Instructions per malloc(%d)+free pair (callgrind, %d pairs after a warm-up)" % (a.size, a.pairs))
    print("%-10s %12s %16s   %s" % ("allocator", "Ir/pair", "malloc+free Ir", "library"))
    for r in rows:
        if r["status"] != "ok":
            print("%-10s %12s %16s   %s" % (r["allocator"], "FAIL", "", r["library"] or "(glibc)"))
            continue
        print("%-10s %12s %16s   %s" % (r["allocator"], r["ir_per_pair"], r["alloc_ir_per_pair"],
                                         r["library"] or "(glibc)"))
    print("(Ir/pair includes the benchmark loop; malloc+free Ir excludes cg_loop's own instructions "
          "but includes PLT stubs)")
    bad = [r for r in rows if r["status"] == "ok" and float(r["alloc_ir_per_pair"]) > 1000]
    if bad:
        warn("suspicious counts (>1000 instructions per pair) for %s: is the allocator really on its "
             "fast path / really preloaded?" % ", ".join(r["allocator"] for r in bad))
    sys.stderr.write("run.py: wrote %s/callgrind.csv and callgrind.out.*\n" % a.outdir)
    return 0


# --------------------------------------------------------------------------

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["bench", "ab", "callgrind", "list"])
    p.add_argument("--bindir", required=False, default=".")
    p.add_argument("--outdir", default="bench")
    p.add_argument("--hakmem", default="libhakmem.so")
    p.add_argument("--a-so")
    p.add_argument("--b-so")
    p.add_argument("--a-name", default="A")
    p.add_argument("--b-name", default="B")
    p.add_argument("--a-env", default="", help="ab: VAR=val ... set for A's runs only")
    p.add_argument("--b-env", default="", help="ab: VAR=val ... set for B's runs only")
    p.add_argument("--source", default="", help="ab: the source version both builds come from")
    p.add_argument("--rounds", type=int)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--benches", default="")
    p.add_argument("--sizes", default="")
    p.add_argument("--allocators", default="")
    p.add_argument("--timeout", type=int, default=180)
    p.add_argument("--pairs", type=int, default=1000000)
    p.add_argument("--size", type=int, default=32)
    a = p.parse_args()
    if a.rounds is None:
        a.rounds = 3 if a.quick else 5
    if a.rounds < 1:
        die("ROUNDS must be >= 1")
    if a.quick:
        a.scale *= QUICK_SCALE
    if a.mode == "list":
        for c in select_cases(a.benches, a.sizes):
            print("%-26s %s" % (c["case"], " ".join(case_argv(c, a.bindir, a.scale))))
        return 0
    if a.mode == "ab" and (not a.a_so or not a.b_so):
        die("ab needs --a-so and --b-so")
    if a.mode in ("bench", "ab"):
        # (Scripts run from this directory: case_argv().)
        missing = [c["prog"] for c in all_cases() if not os.access(case_argv(c, a.bindir, 1.0)[0], os.X_OK)]
        if missing:
            die("benchmark binaries missing in %s: %s" % (a.bindir, " ".join(sorted(set(missing)))))
    return {"bench": cmd_bench, "ab": cmd_ab, "callgrind": cmd_callgrind}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
