"""Page allocator figures (issue 2 targets): boot of a 16 GiB machine, alloc+free pairs."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time

from common import figure, median_us

import kmemlab as km

_BOOT_PROBE = """
import sys, time, json
sys.path[:0] = {path!r}
from common import rss_mb
import kmemlab as km
km.Machine(profile="tiny")          # warm imports so only the boot itself is measured
r0 = rss_mb()
t = time.perf_counter()
m = km.Machine(mem={mem!r})
dt = time.perf_counter() - t
t = time.perf_counter(); m.proc.buddyinfo(); bi = time.perf_counter() - t
print(json.dumps({{"boot_s": dt, "rss_mb": rss_mb() - r0, "buddyinfo_s": bi}}))
"""


def boot_probe(mem: str) -> dict:
    """Boot in a fresh interpreter so RSS growth is the machine's alone."""
    code = _BOOT_PROBE.format(path=sys.path[:3], mem=mem)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def warm_machine(mem="4G", seed=1):
    """A machine in use: 20 000 order-0 pages allocated, half of them freed at random,
    so the free lists hold pages of every order as on a running system."""
    m = km.Machine(mem=mem)
    held = [m.alloc_pages(km.GFP_KERNEL, 0) for _ in range(20000)]
    random.Random(seed).shuffle(held)
    for pg in held[:10000]:
        m.free_pages(pg, 0)
    return m


def run(quick: bool = False) -> list[dict]:
    out = []
    sizes = ["128M", "1G", "4G", "16G"] + ([] if quick else ["64G"])
    for mem in sizes:
        r = boot_probe(mem)
        target = 0.5 if mem == "16G" else None
        out.append(figure(f"boot {mem} machine", r["boot_s"], "s", target))
        out.append(figure(f"boot {mem}: RSS growth", r["rss_mb"], "MiB", 150 if mem == "16G" else None))
        out.append(figure(f"buddyinfo on {mem}", r["buddyinfo_s"] * 1e6, "us"))
    for label, m in (("fresh", km.Machine(mem="4G")), ("warm", warm_machine())):
        for order in (0, 3):
            def pair(m=m, order=order):
                m.free_pages(m.alloc_pages(km.GFP_KERNEL, order), order)
            out.append(figure(f"alloc_pages+free_pages order-{order} pair, {label} 4G machine",
                              median_us(pair), "us", 3.0 if order == 0 else None,
                              note="fresh: splits and merges through all 10 orders; "
                                   "warm: free lists hold small blocks, as on a running system"))
        b = m._k.buddy
        raw = lambda b=b: b.free(b.alloc(0xcc0, 0, 5, 0, -1), 0)     # noqa: E731
        out.append(figure(f"  of which buddy alloc+free order 0 alone, {label} 4G machine", median_us(raw), "us",
                          note="the rest of the pair is Machine's argument checks "
                               "(check_gfp, Page handles, check_free)"))
    return out


if __name__ == "__main__":
    for rec in run(quick="--quick" in sys.argv):
        print(json.dumps(rec))
