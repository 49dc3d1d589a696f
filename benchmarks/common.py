"""Shared helpers for kmemlab's benchmarks: timing, the same-run floor, JSON records.

Every figure is reported with its ratio to a *floor* measured in the same run on the
same machine: a bare Python dict insert + delete pair. The ratio says how many "dict
operations" a kmemlab call costs, which stays comparable across machines when the
absolute microseconds do not.
"""

from __future__ import annotations

import gc
import statistics
import time

__all__ = ["median_us", "floor_us", "paired", "figure", "rss_mb"]


def median_us(fn, number: int = 200, repeat: int = 15) -> float:
    """Median over ``repeat`` runs of the per-call time of ``fn`` (microseconds)."""
    gc.collect()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t) / number * 1e6)
    return statistics.median(runs)


_floor = None


def floor_us() -> float:
    """A dict insert + delete pair: the floor every other figure is compared with."""
    global _floor
    if _floor is None:
        d = {}

        def pair():
            d[12345] = None
            del d[12345]
        _floor = median_us(pair, number=20000, repeat=15)
    return _floor


_d: dict = {}


def _floor_pair():
    _d[12345] = None
    del _d[12345]


def _cpu_us(fn, n: int) -> float:
    t = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t) / n * 1e6


def paired(fn, number: int = 1000, repeat: int = 25) -> tuple[float, float]:
    """(microseconds, ratio to the floor) for a short call: the fastest repeat of ``fn``
    and of the floor (the dict pair, called like ``fn``) timed just before each, in CPU
    time of this process. On cores shared with other work a wall-clock median swings by
    3x between two figures of one run; the fastest CPU-time repeats much less (the
    others' load only ever adds to either side)."""
    gc.collect()
    best_f = best_v = float("inf")
    for _ in range(repeat):
        best_f = min(best_f, _cpu_us(_floor_pair, 5000))
        best_v = min(best_v, _cpu_us(fn, number))
    return best_v, best_v / best_f


def figure(name: str, value: float, unit: str, target: float | None = None,
           lower_is_better: bool = True, note: str = "") -> dict:
    rec = {"name": name, "value": round(value, 4), "unit": unit, "target": target,
           "floor_us": round(floor_us(), 5), "note": note}
    if unit == "us":
        rec["floor_ratio"] = round(value / floor_us(), 1)
    if target is not None:
        rec["meets_target"] = value <= target if lower_is_better else value >= target
    return rec


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux /proc/self/status VmRSS)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
