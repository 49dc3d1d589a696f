"""km.host() figures (issue 13): one snapshot of the running Linux (the /proc files but
pagetypeinfo, the CPU and node lists, the /sys/kernel/slab listing), the first read of
every slab cache's geometry from sysfs (object_size, align, flags: read once, kept across
refreshes), and /proc/pagetypeinfo, which is read when first asked for.

    PYTHONPATH=. python benchmarks/bench_host.py [--quick]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from common import figure, floor_us

import kmemlab as km


def _ms(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1e3)
    return statistics.median(runs)


def run(quick: bool = False) -> list[dict]:
    if not sys.platform.startswith("linux") or not os.path.exists("/proc/meminfo"):
        return []
    from kmemlab.helpers import for_each_slab_cache
    h = km.host()
    root = "as root" if h.is_root else "not root: slabinfo, vmallocinfo, pagetypeinfo unreadable"
    refresh = _ms(h.refresh, 5 if quick else 25)
    caches = list(for_each_slab_cache(h))

    def geometry():
        fresh = km.host()
        for s in for_each_slab_cache(fresh):
            try:
                s.object_size, s.align, s.flags, s.ctor
            except km.NotAvailable:
                pass
    geo = _ms(geometry, 1 if quick else 3)

    def pagetypeinfo():
        h._read("/proc/pagetypeinfo")
    pti = _ms(pagetypeinfo, 3 if quick else 10) if h.is_root else None
    fl = floor_us()
    return [figure("km.host() read of all files (refresh)", refresh, "ms", 50.0,
                   note=f"{root}; {len(caches)} slab caches; x floor {refresh * 1e3 / fl:.0f}"),
            figure("first read of every slab cache's geometry from sysfs", geo, "ms",
                   note=f"{len(caches)} caches x 11 files, once per Host; x floor {geo * 1e3 / fl:.0f}")] + (
           [figure("/proc/pagetypeinfo (read when first asked for)", pti, "ms",
                   note="the kernel counts every free block (up to 100000 a list) and pageblock: "
                        "grows with fragmentation")] if pti is not None else [])


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=1))
