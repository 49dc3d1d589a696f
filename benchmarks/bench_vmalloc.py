"""vmalloc benchmarks: a vmalloc(64 KiB)+vfree pair, a page-table walk and
vmalloc(64 MiB) on a 4 GiB machine, each with its target, against a same-run floor
(a bare dict insert+delete pair) so figures from different machines compare.

    PYTHONPATH=. python benchmarks/bench_vmalloc.py [--out bench_vmalloc.json]
"""

import argparse
import json
import statistics
import time

import kmemlab as km


def _median_us(fn, reps, inner=1):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t) / inner * 1e6)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    d = {}

    def floor():
        d[1] = 1
        del d[1]
    floor_us = _median_us(floor, 50, 2000)

    m = km.Machine(profile="x86_64", mem="4G")

    def pair():
        m.vfree(m.vmalloc(64 << 10, caller="bench+0x0/0x1"))
    pair_us = _median_us(pair, 50, 20)

    v = m.vmalloc(64 << 10, caller="bench+0x0/0x1")
    walk_us = _median_us(lambda: m.walk(v), 50, 200)

    big = []
    for _ in range(5):
        t = time.perf_counter()
        b = m.vmalloc(64 << 20, caller="bench+0x0/0x1")
        big.append(time.perf_counter() - t)
        m.vfree(b)
    big_s = statistics.median(big)
    m.check_invariants()

    res = {
        "floor_dict_insert_delete_us": floor_us,
        "vmalloc_64k_vfree_pair_us": pair_us, "vmalloc_64k_vfree_pair_target_us": 100,
        "vmalloc_64k_vfree_pair_ratio_to_floor": pair_us / floor_us,
        "walk_us": walk_us, "walk_target_us": 10, "walk_ratio_to_floor": walk_us / floor_us,
        "vmalloc_64m_on_4g_s": big_s, "vmalloc_64m_on_4g_target_s": 0.5,
        "vmalloc_64m_ratio_to_floor": big_s * 1e6 / floor_us,
    }
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
