# SPDX-License-Identifier: MIT
"""A threaded, allocation-heavy Python workload with deterministic output.

Run by tests/programs/run.sh with /usr/bin/python3, once on glibc malloc and
once with LD_PRELOAD=libhakmem.so; the two outputs must be identical.

    workload.py [scale]

Eight threads (more than the cores) build and tear down dicts, lists,
strings, big integers, JSON and compressed data; objects cross threads
through queues, and the worker threads exit while their objects live on.
"""
import hashlib
import json
import queue
import re
import sys
import threading
import zlib

SCALE = int(sys.argv[1]) if len(sys.argv) > 1 else 1


def task(seed, rounds):
    h = hashlib.sha256()
    rnd = seed * 2654435761 % 2**32
    keep = []
    for r in range(rounds):
        rnd = (rnd * 1103515245 + 12345) % 2**31
        d = {f"k{rnd % 1000}-{i}": [i] * (i % 17) for i in range(200 + rnd % 300)}
        s = json.dumps(d, sort_keys=True)
        h.update(zlib.compress(s.encode(), 6))
        words = re.findall(r"k(\d+)-(\d+)", s)
        h.update(str(sorted(int(a) * int(b) for a, b in words)[-5:]).encode())
        big = pow(3 + r, 400 + rnd % 200, 2**4099 - 1)
        h.update(big.to_bytes(520, "little"))
        blob = bytearray(rnd % 70000 + 1)
        blob[::97] = b"x" * len(blob[::97])
        h.update(hashlib.md5(blob).digest())
        if r % 7 == 0:
            keep.append((s[:1000], blob))       # survives the thread
    return h.hexdigest(), keep


def main():
    nthreads = 8
    results = {}
    handoff = queue.Queue()
    lock = threading.Lock()

    def worker(i):
        digest, keep = task(i, 60 * SCALE)
        handoff.put((i, keep))
        with lock:
            results[i] = digest

    for generation in range(3):
        threads = [threading.Thread(target=worker, args=(generation * 100 + i,))
                   for i in range(nthreads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # Objects made by threads that have exited, consumed here.
    total = 0
    while not handoff.empty():
        i, keep = handoff.get()
        total += sum(len(s) + len(b) for s, b in keep)
    for k in sorted(results):
        print(k, results[k])
    print("kept bytes", total)


if __name__ == "__main__":
    main()
