"""vmalloc figures: a vmalloc(64 KiB)+vfree pair on 4.19 (pages one by one) and 6.6
(the bulk allocator), a page-table walk, vmalloc(64 MiB) on a 4 GiB machine, and the
kvmalloc pairs. Each is compared with the same-run floor (common.floor_us)."""

from __future__ import annotations

import json
import statistics
import sys
import time

from common import figure, median_us

import kmemlab as km


def run(quick: bool = False) -> list[dict]:
    out = []
    reps = 7 if quick else 15
    for kernel, note in (("6.6", "5.13+: vm_area_alloc_pages -> __alloc_pages_bulk, batched vfree"),
                         ("4.19", "4.x: alloc_page() per page, batched vfree")):
        m = km.Machine(profile="x86_64", mem="4G", kernel=kernel)

        def pair(m=m):
            m.vfree(m.vmalloc(64 << 10, caller="bench+0x0/0x1"))
        out.append(figure(f"vmalloc(64 KiB)+vfree pair, kernel {kernel}, 4G machine",
                          median_us(pair, number=100, repeat=reps), "us",
                          100.0 if kernel == "6.6" else None, note=note))
    m = km.Machine(profile="x86_64", mem="4G")
    v = m.vmalloc(64 << 10, caller="bench+0x0/0x1")
    out.append(figure("walk() of a vmalloc address", median_us(lambda: m.walk(v), 200, reps), "us", 10.0))

    def kv_small():
        m.kvfree(m.kvmalloc(100))

    def kv_large():
        m.kvfree(m.kvmalloc(64 << 10))
    out.append(figure("kvmalloc(100)+kvfree pair (slab)", median_us(kv_small, 500, reps), "us"))
    out.append(figure("kvmalloc(64 KiB)+kvfree pair (kmalloc_large)", median_us(kv_large, 200, reps), "us"))
    big = []
    for _ in range(3 if quick else 5):
        t = time.perf_counter()
        b = m.vmalloc(64 << 20, caller="bench+0x0/0x1")
        big.append(time.perf_counter() - t)
        m.vfree(b)
    out.append(figure("vmalloc(64 MiB) on a 4G machine", statistics.median(big), "s", 0.5))
    m.check_invariants()
    return out


if __name__ == "__main__":
    for rec in run(quick="--quick" in sys.argv):
        print(json.dumps(rec))
