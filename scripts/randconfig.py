#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
Write a random configuration: make randconfig.

  randconfig.py KCONFIG

Every visible bool gets y or n (each with probability 1/2), every visible
choice a random visible member (CHOICE_KEEP below can make one rarer), and
every visible int with a range one of
its lower bound, its upper bound, its default or a uniform draw from the
range (each with probability 1/4). Symbols are visited in menu order, so a
symbol that depends on an earlier one is drawn only when that dependency
holds, and the value drawn is always one kconfiglib can assign
(Symbol.assignable): the result satisfies every 'depends on' and 'select'.

Not drawn: the architecture choice (arch/Kconfig). It follows $(ARCH), as
for defconfig: a random x86_64/aarch64 pick would only give a .config that
the build refuses for this ARCH.

Environment:
  KCONFIG_CONFIG      output file (default .config), as for kconfiglib
  KCONFIG_SEED        the seed: decimal or 0x-hex. Unset: a fresh seed from
                      os.urandom. The seed is printed (first line) so that
                      the same configuration can be made again.
  KCONFIG_ALLCONFIG   a configuration fragment whose values are applied
                      after the draw (kconfiglib's load_allconfig, as in
                      Linux): pin some options, randomise the rest.
"""

import os
import random
import sys

import kconfiglib

# Choices whose members start with one of these prefixes are not drawn.
FIXED_CHOICE_PREFIXES = ("ARCH_",)

# A choice member drawn uniformly is kept with this probability, else one
# of the choice's other visible members is drawn instead. The arena
# backend (CONFIG_BACKEND_ARENA) has five bools and one int under it,
# against the mmap backend's whole allocator: drawn half the time, it took
# 41 of 100 seeds, 5 of them an earlier seed's options exactly
# (Documentation/build.md). Kept one time in four, it is about 1 draw in 8.
# The second draw comes from a generator of its own, seeded with a string
# of the seed (hashed: integer seeds a few thousand apart gave correlated
# first numbers, 38 of 100 below 0.25), so the main sequence is untouched:
# a seed that does not draw the member makes the same configuration as
# before.
CHOICE_KEEP = {"BACKEND_ARENA": 0.25}


def seed_from_env():
    s = os.environ.get("KCONFIG_SEED", "").strip()
    if s:
        try:
            return int(s, 0)
        except ValueError:
            sys.exit("*** randconfig: KCONFIG_SEED=%s is not a number" % s)
    return int.from_bytes(os.urandom(4), "little")


def active_range(sym):
    """(low, high) of the first range whose condition holds, or None."""
    for low, high, cond in sym.ranges:
        if kconfiglib.expr_value(cond):
            return int(low.str_value, 0), int(high.str_value, 0)
    return None


def draw_int(rng, sym):
    r = active_range(sym)
    if r is None:
        return  # no range: keep the default
    low, high = r
    pick = rng.randrange(4)
    if pick == 0:
        value = low
    elif pick == 1:
        value = high
    elif pick == 2:
        return  # the default
    else:
        value = rng.randint(low, high)
    sym.set_value(hex(value) if sym.type == kconfiglib.HEX else str(value))


def draw(kconf, rng, side):
    done = set()
    for node in kconf.node_iter():
        item = node.item
        if item in done or not isinstance(item, (kconfiglib.Symbol, kconfiglib.Choice)):
            continue
        done.add(item)
        if isinstance(item, kconfiglib.Choice):
            if any(s.name.startswith(FIXED_CHOICE_PREFIXES) for s in item.syms):
                continue
            members = [s for s in item.syms if s.visibility]
            if item.visibility and members:
                pick = rng.choice(members)
                others = [s for s in members if s is not pick]
                if others and side.random() >= CHOICE_KEEP.get(pick.name, 1.0):
                    pick = side.choice(others)
                pick.set_value(2)
            continue
        sym = item
        if sym.choice is not None or not sym.visibility:
            continue
        if sym.type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
            values = [v for v in sym.assignable if v != 1 or sym.type == kconfiglib.TRISTATE]
            if values:
                sym.set_value(rng.choice(values))
        elif sym.type in (kconfiglib.INT, kconfiglib.HEX):
            draw_int(rng, sym)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: randconfig.py KCONFIG")
    seed = seed_from_env()
    print("KCONFIG_SEED=0x%08x" % seed)
    rng = random.Random(seed)
    side = random.Random("choice-keep:%d" % seed)
    kconf = kconfiglib.Kconfig(sys.argv[1])
    kconf.warn_assign_undef = True
    draw(kconf, rng, side)
    kconf.load_allconfig("rand.config")
    print(kconf.write_config())


if __name__ == "__main__":
    main()
