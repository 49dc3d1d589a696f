"""Kernel generations (issue 17): boot and the kmalloc/kfree pair on every generation, and
what a generation costs on the hot path (kernel="6.18" against "6.6": target within 5 %).

    PYTHONPATH=. python benchmarks/bench_generations.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys
import time

from common import figure, median_us

import kmemlab as km
from kmemlab.kernel.generation import GENERATIONS


def boot_s(kernel: str, mem: str, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        km.Machine(mem=mem, cpus=2, kernel=kernel)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def pair_us(kernel: str, number: int, repeat: int) -> float:
    m = km.Machine(mem="4G", cpus=2, kernel=kernel)
    kmalloc, kfree = m.kmalloc, m.kfree
    kfree(kmalloc(64))                       # a CPU slab exists: the freelist fast path

    def pair():
        kfree(kmalloc(64))
    return median_us(pair, number=number, repeat=repeat)


def run(quick: bool = False) -> list[dict]:
    number, repeat = (2000, 5) if quick else (20000, 15)
    figs = []
    pairs = {}
    for g in GENERATIONS:
        figs.append(figure(f"boot 4G machine, kernel {g}", boot_s(g, "4G", 3 if quick else 7), "s"))
        pairs[g] = pair_us(g, number, repeat)
        figs.append(figure(f"kmalloc(64)+kfree pair, kernel {g}", pairs[g], "us"))
    # the same run, interleaved A/B, so load on the shared machine hits both alike
    a, b = [], []
    for _ in range(3 if quick else 7):
        a.append(pair_us("6.6", number, 5))
        b.append(pair_us("6.18", number, 5))
    ratio = statistics.median(b) / statistics.median(a)
    figs.append(figure("hot path: kmalloc/kfree pair 6.18 / 6.6", ratio, "ratio", target=1.05,
                       note="interleaved A/B medians; a generation must cost nothing on the fast path"))
    return figs


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
