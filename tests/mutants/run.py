#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""make check-mutants: break the allocator on purpose, check that the tests notice.

    tests/mutants/run.py [--ci] [--workdir DIR] [--keep] [--no-baseline] [NAME...]
    tests/mutants/run.py --fresh     (no build: every replacement still applies)

Every tests/mutants/*.mut file is one deliberate defect (a mutant) and the
suites that must catch it:

    # one line that says what is broken
    config: dfcheck_on_defconfig        configs/<name> (default: defconfig)
    set: CONFIG_FOO=y                   extra options (any number; =n: off)
    suites: unit badinput               tests/Makefile suites that must fail
    ci: yes                             part of the bounded CI subset
    file: mm/heap/heap.c                a replacement in this file:
    <<<<
    exact text of the tree, found exactly once
    ====
    the text it is replaced with
    >>>>

(any number of file/<<<</====/>>>> blocks). For each mutant the source tree
is copied to WORKDIR/<name>/src, the replacements are applied (a text that is
not found exactly once makes the mutant STALE: the code moved on and the
mutant must be refreshed), the copy is configured and built in
WORKDIR/<name>/obj and `make check SUITES="..."` runs there. The mutant is
killed if the check fails, and survives if it passes. Before the mutants,
the unmodified tree is built and checked once per configuration with the
same suites (the baseline): a baseline that fails makes every kill
meaningless, so the run stops there.

Prints one line per mutant and then "check-mutants: N killed, M survived"
(plus stale and broken ones); the exit status is 1 if any mutant survived,
was stale or did not build, or a baseline failed.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

SRCTREE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MUTDIR = os.path.join(SRCTREE, "tests", "mutants")
JOBS = os.environ.get("JOBS", "2")


class Mutant:
    def __init__(self, name):
        self.name = name
        self.desc = ""
        self.config = "defconfig"
        self.sets = []
        self.suites = []
        self.ci = False
        self.edits = []         # (file, old, new)

    def key(self):
        return (self.config, tuple(self.sets))


def parse(path):
    m = Mutant(os.path.basename(path)[:-4])
    lines = open(path).read().split("\n")
    i = 0
    cur_file = None
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("#"):
            if not m.desc:
                m.desc = line.lstrip("# ").strip()
            continue
        if not line.strip():
            continue
        if line == "<<<<":
            if cur_file is None:
                raise SystemExit(f"{path}: '<<<<' before any 'file:'")
            old, new, part = [], [], "old"
            while i < len(lines) and lines[i] != ">>>>":
                if lines[i] == "====" and part == "old":
                    part = "new"
                elif part == "old":
                    old.append(lines[i])
                else:
                    new.append(lines[i])
                i += 1
            if i >= len(lines) or part != "new":
                raise SystemExit(f"{path}: unterminated replacement for {cur_file}")
            i += 1
            m.edits.append((cur_file, "\n".join(old), "\n".join(new)))
            continue
        key, _, val = line.partition(":")
        val = val.strip()
        if key == "config":
            m.config = val
        elif key == "set":
            m.sets.append(val)
        elif key == "suites":
            m.suites = val.split()
        elif key == "ci":
            m.ci = val in ("yes", "y", "1", "true")
        elif key == "file":
            cur_file = val
        else:
            raise SystemExit(f"{path}: unknown line: {line}")
    if not m.edits or not m.suites:
        raise SystemExit(f"{path}: needs at least one replacement and a suites: line")
    return m


def tracked_files():
    """The files of the source tree: git's list if it is a checkout."""
    try:
        out = subprocess.run(["git", "-C", SRCTREE, "ls-files", "-z", "--cached",
                              "--others", "--exclude-standard"],
                             check=True, capture_output=True).stdout
        return [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for root, dirs, names in os.walk(SRCTREE):
            rel = os.path.relpath(root, SRCTREE)
            dirs[:] = [d for d in dirs if not (rel == "." and d in (".git", "build", "bench", "ab"))
                       and not (rel == "tests" and d == "out")]
            files += [os.path.normpath(os.path.join(rel, n)) for n in names]
        return files


def copy_tree(dst):
    if os.path.exists(dst):
        shutil.rmtree(dst)
    for f in tracked_files():
        src = os.path.join(SRCTREE, f)
        if not os.path.isfile(src):
            continue
        d = os.path.join(dst, f)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copy2(src, d)


def apply_edits(m, src):
    """None if every replacement applied, else why the mutant is stale."""
    for f, old, new in m.edits:
        path = os.path.join(src, f)
        if not os.path.isfile(path):
            return f"{f} does not exist"
        text = open(path).read()
        n = text.count(old)
        if n != 1:
            first = old.strip().split("\n")[0].strip()
            return f"{f}: the text to replace occurs {n} times (expected once): '{first}'"
        open(path, "w").write(text.replace(old, new))
    return None


def check_fresh(mutants):
    """Every mutant's replacements found exactly once in this tree (no build)."""
    stale = 0
    for m in mutants:
        texts = {}
        why = None
        for f, old, new in m.edits:
            path = os.path.join(SRCTREE, f)
            if f not in texts:
                if not os.path.isfile(path):
                    why = f"{f} does not exist"
                    break
                texts[f] = open(path).read()
            n = texts[f].count(old)
            if n != 1:
                first = old.strip().split("\n")[0].strip()
                why = f"{f}: the text to replace occurs {n} times (expected once): '{first}'"
                break
            texts[f] = texts[f].replace(old, new)
        if why:
            print(f"STALE    {m.name}: {why}")
            stale += 1
    print(f"mutants-fresh: {len(mutants) - stale} passed, {stale} failed")
    return 1 if stale else 0


def clean_env(env=None):
    """The environment for the builds: nothing of an outer make's command line."""
    env = dict(env if env is not None else os.environ)
    for v in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "O", "KBUILD_OUTPUT",
              "SUITES", "objtree", "srctree"):
        env.pop(v, None)
    return env


def sh(cmd, log, env=None, cwd=None):
    env = clean_env(env)
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=cwd).returncode


def config_line(s):
    """CONFIG_FOO=n is written, and kept, as "# CONFIG_FOO is not set"."""
    sym, _, val = s.partition("=")
    return f"# {sym} is not set" if val == "n" else s


def build(src, obj, config, sets, log):
    """Configure and build; True on success."""
    mk = ["make", "-C", src, "O=" + obj]
    if sh(mk + [config], log):
        return False
    if sets:
        cfg = os.path.join(obj, ".config")
        text = open(cfg).read()
        for s in sets:
            sym = s.split("=")[0]
            text = re.sub(rf"^(# )?{sym}[= ].*\n", "", text, flags=re.M)
            text += config_line(s) + "\n"
        open(cfg, "w").write(text)
        if sh(mk + ["olddefconfig"], log):
            return False
        have = open(cfg).read()
        for s in sets:
            if not re.search(rf"^{re.escape(config_line(s))}$", have, flags=re.M):
                with open(log, "a") as f:
                    f.write(f"set: {s} did not stick (dependencies?)\n")
                return False
    return sh(mk + ["-j" + JOBS], log) == 0


def check(src, obj, suites, log):
    env = dict(os.environ)
    # The suites' own knobs, kept short: a mutant is caught or not.
    env.setdefault("STRESS_TIME", "3")
    return sh(["make", "-C", src, "O=" + obj, "check", "SUITES=" + " ".join(suites)],
              log, env=env) == 0


def main():
    ap = argparse.ArgumentParser(description="make check-mutants")
    ap.add_argument("--ci", action="store_true", help="only the mutants marked ci: yes")
    ap.add_argument("--workdir", default=os.path.join(SRCTREE, "build", "mutants"))
    ap.add_argument("--keep", action="store_true", help="keep the copies of killed mutants")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--fresh", action="store_true",
                    help="only check that every replacement still applies to this tree")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()

    files = sorted(f for f in os.listdir(MUTDIR) if f.endswith(".mut"))
    mutants = [parse(os.path.join(MUTDIR, f)) for f in files]
    if args.names:
        unknown = set(args.names) - {m.name for m in mutants}
        if unknown:
            raise SystemExit("check-mutants: no such mutant: " + " ".join(sorted(unknown)))
        mutants = [m for m in mutants if m.name in args.names]
    elif args.ci:
        mutants = [m for m in mutants if m.ci]
    if args.list:
        for m in mutants:
            print(f"{m.name:32} {m.config:24} {' '.join(m.suites):20} {m.desc}")
        return 0
    if args.fresh:
        return check_fresh(mutants)

    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    print(f"check-mutants: {len(mutants)} mutants, work directory {work}", flush=True)

    # Baselines: the unmodified tree, once per configuration, with every
    # suite that any of its mutants relies on.
    if not args.no_baseline:
        by_key = {}
        for m in mutants:
            by_key.setdefault(m.key(), set()).update(m.suites)
        bsrc = os.path.join(work, "baseline-src")
        copy_tree(bsrc)
        for n, (key, suites) in enumerate(sorted(by_key.items())):
            config, sets = key
            obj = os.path.join(work, f"baseline-{n}")
            log = obj + ".log"
            if os.path.exists(log):
                os.remove(log)
            t0 = time.time()
            label = config + "".join(" " + s for s in sets)
            if not build(bsrc, obj, config, list(sets), log):
                print(f"BASELINE BROKEN {label}: the unmodified tree does not build (log {log})")
                return 1
            if not check(bsrc, obj, sorted(suites), log):
                print(f"BASELINE FAILED {label}: {' '.join(sorted(suites))} fail on the "
                      f"unmodified tree (log {log})")
                return 1
            print(f"baseline ok     {label}: {' '.join(sorted(suites))} "
                  f"[{time.time() - t0:.0f}s]", flush=True)
        shutil.rmtree(bsrc)

    killed, survived, stale, broken = [], [], [], []
    for m in mutants:
        d = os.path.join(work, m.name)
        src, obj, log = os.path.join(d, "src"), os.path.join(d, "obj"), os.path.join(d, "log")
        t0 = time.time()
        copy_tree(src)
        if os.path.exists(obj):
            shutil.rmtree(obj)
        why = apply_edits(m, src)
        if why:
            print(f"STALE    {m.name}: {why}", flush=True)
            stale.append(m.name)
            continue
        if not build(src, obj, m.config, m.sets, log):
            print(f"BROKEN   {m.name}: does not build (log {log})", flush=True)
            broken.append(m.name)
            continue
        ok = check(src, obj, m.suites, log)
        dt = time.time() - t0
        if ok:
            print(f"SURVIVED {m.name}: {' '.join(m.suites)} passed with: {m.desc} "
                  f"(log {log}) [{dt:.0f}s]", flush=True)
            survived.append(m.name)
        else:
            print(f"killed   {m.name}: {' '.join(m.suites)} [{dt:.0f}s]", flush=True)
            killed.append(m.name)
            if not args.keep:
                shutil.rmtree(src)
                shutil.rmtree(obj)

    extra = ""
    if stale:
        extra += f", {len(stale)} stale ({' '.join(stale)})"
    if broken:
        extra += f", {len(broken)} broken ({' '.join(broken)})"
    if survived:
        extra += f"; survivors: {' '.join(survived)}"
    print(f"check-mutants: {len(killed)} killed, {len(survived)} survived{extra}")
    return 1 if survived or stale or broken else 0


if __name__ == "__main__":
    sys.exit(main())
