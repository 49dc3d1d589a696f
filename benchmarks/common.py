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

__all__ = ["median_us", "floor_us", "figure", "rss_mb"]


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
