#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
List the preprocessor conditionals on CONFIG_ symbols inside function
bodies of C files: make config-ifdefs.

  config-ifdefs.py FILE.c...

The project's rule (README, as in Linux): no #if/#ifdef/#ifndef/#elif on a
CONFIG_ symbol inside a function; IS_ENABLED() in a plain C condition, or
a static inline stub in a header, instead. Prints FILE:LINE: directive for
each one found and a total; exits 1 if there is any.

A function body is a brace block at file level whose opening brace follows
a closing parenthesis (a declarator), so struct, enum and initializer
blocks do not count. Comments, strings and the continuation lines of
directives are skipped.
"""

import re
import sys

COND = re.compile(r"#\s*(if|ifdef|ifndef|elif)\b.*\bCONFIG_")


def strip(src):
    """src without comments and string/char literals; newlines kept."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def scan(path):
    with open(path, errors="replace") as f:
        lines = strip(f.read()).split("\n")
    hits = []
    depth, in_func, before = 0, False, ""
    directive = False
    for ln, line in enumerate(lines, 1):
        s = line.strip()
        if directive or s.startswith("#"):
            if not directive and depth > 0 and in_func and COND.match(s):
                hits.append((ln, s))
            directive = line.rstrip().endswith("\\")
            continue
        for ch in line:
            if ch == "{":
                if depth == 0:
                    in_func = before.rstrip().endswith(")")
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    before = ""
            elif depth == 0:
                before = "" if ch == ";" else before + ch
        if depth == 0:
            before += " "
    return hits


def main():
    total = 0
    for path in sys.argv[1:]:
        for ln, s in scan(path):
            print("%s:%d: %s" % (path, ln, s))
            total += 1
    print("config-ifdefs: %d conditional(s) on CONFIG_ inside function bodies" % total)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
