"""SLUB sheaves figures (issue 18): the kmalloc(64)+kfree pair on 7.0 (main sheaf hit:
alloc_from_pcs / free_to_pcs) against 6.6 (CPU freelist hit), a 6.18 opted-in cache, and
a churn that goes through the spare swap, the barn and refill/flush, each with its ratio
to the same-run floor (benchmarks/common.py).

    PYTHONPATH=. python benchmarks/bench_sheaves.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys

from common import figure, floor_us, median_us

import kmemlab as km


def pair_of(m, size: int = 64):
    kmalloc, kfree = m.kmalloc, m.kfree

    def pair():
        kfree(kmalloc(size))
    return pair


def alternating(pairs: dict, rounds: int) -> dict:
    """Median per-pair time of each variant, measured in turns so load changes hit all."""
    res = {name: [] for name in pairs}
    for _ in range(rounds):
        for name, fn in pairs.items():
            res[name].append(median_us(fn, number=2000, repeat=3))
    return {name: statistics.median(v) for name, v in res.items()}


def run(quick: bool = False) -> list[dict]:
    out = []
    floor = floor_us()
    m66 = km.Machine(mem="256M", cpus=4, kernel="6.6")
    m70 = km.Machine(mem="256M", cpus=4, kernel="7.0")
    m618 = km.Machine(mem="256M", cpus=4, kernel="6.18")
    mt = m618.kmem_cache_create("maple_node", 256, sheaf_capacity=32)
    alloc, free = m618.kmem_cache_alloc, m618.kmem_cache_free

    def mt_pair():
        free(mt, alloc(mt))
    t = alternating({"6.6": pair_of(m66), "7.0": pair_of(m70), "6.18 maple_node": mt_pair},
                    5 if quick else 9)
    out.append(figure("6.6 kmalloc(64)+kfree pair (cpu freelist hit)", t["6.6"], "us"))
    out.append(figure("7.0 kmalloc(64)+kfree pair (main sheaf hit)", t["7.0"], "us"))
    out.append(figure("  7.0 pair in same-run floors (target <= 20x)", t["7.0"] / floor, "x", 20.0))
    out.append(figure("  7.0 pair / 6.6 pair", t["7.0"] / t["6.6"], "x",
                      note="the sheaf fast path against the CPU freelist fast path"))
    out.append(figure("6.18 kmem_cache_alloc+free pair on maple_node (sheaf_capacity 32)", t["6.18 maple_node"], "us"))

    n = 4096

    def churn(m):
        # 4096 kmalloc(128) then frees in two passes: main/spare swaps, barn exchanges,
        # refills (6.6: CPU partial lists; 7.0: refill_objects, sheaf flushes at the barn limit)
        def run_():
            ps = [m.kmalloc(128) for _ in range(n)]
            for p in ps[::2]:
                m.kfree(p)
            for p in ps[1::2]:
                m.kfree(p)
        return run_
    c66 = median_us(churn(m66), number=1, repeat=5 if quick else 9) / (2 * n)
    c70 = median_us(churn(m70), number=1, repeat=5 if quick else 9) / (2 * n)
    out.append(figure("6.6 kmalloc(128)/kfree churn over 128 slabs, per call", c66, "us"))
    out.append(figure("7.0 kmalloc(128)/kfree churn over 128 slabs, per call (sheaves, barn, refill/flush)",
                      c70, "us"))
    out.append(figure("  7.0 churn / 6.6 churn", c70 / c66, "x"))
    m70.check_invariants()
    return out


if __name__ == "__main__":
    for rec in run(quick="--quick" in sys.argv):
        print(json.dumps(rec))
