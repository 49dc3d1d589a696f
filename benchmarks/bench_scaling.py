"""How cost grows with live allocations (issue 9): a kmalloc+kfree pair, a vmalloc+vfree
pair and check_invariants() with 10^3 .. 10^6 objects alive, and the memory high-water
mark of a machine holding 1M live slab objects (measured in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

from common import figure, median_us

import kmemlab as km

_RSS_PROBE = """
import sys, json
sys.path[:0] = {path!r}
from common import rss_mb
import kmemlab as km
m = km.Machine(mem="1G")
r0 = rss_mb()
objs = [m.kmalloc(64) for _ in range(1_000_000)]
print(json.dumps({{"rss_mb": rss_mb() - r0, "live": sum(1 for p in objs if p)}}))
"""


def run(quick: bool = False) -> list[dict]:
    out = []
    sizes = [1_000, 10_000, 100_000] + ([] if quick else [1_000_000])
    for n in sizes:
        m = km.Machine(mem="2G")
        live = [m.kmalloc(64) for _ in range(n)]
        assert all(live)

        def kpair():
            m.kfree(m.kmalloc(64))

        def vpair():
            m.vfree(m.vmalloc(16384))
        out.append(figure(f"kmalloc(64)+kfree pair with {n} objects live", median_us(kpair), "us"))
        out.append(figure(f"vmalloc(16K)+vfree pair with {n} kmalloc objects live",
                          median_us(vpair, number=50, repeat=7), "us"))
        if n <= 100_000:
            out.append(figure(f"check_invariants() with {n} objects live",
                              median_us(m.check_invariants, number=1, repeat=3) / 1000, "ms"))
    if not quick:
        code = _RSS_PROBE.format(path=sys.path[:3])
        r = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                      check=True).stdout)
        out.append(figure("RSS growth for 1M live kmalloc(64) objects (1G machine)", r["rss_mb"], "MiB",
                          note=f"{r['live']} objects; their bytes live in simulated RAM pages"))
    return out


if __name__ == "__main__":
    for rec in run(quick="--quick" in sys.argv):
        print(json.dumps(rec))
