"""SLUB / kmalloc figures (issue 3 targets): kmalloc(64)+kfree pairs, 1M random kmalloc/kfree
calls, the cost of the tracing hooks, and how much of the random run the page allocator takes.

    PYTHONPATH=. python benchmarks/bench_slub.py [--quick]
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from common import figure, median_us

import kmemlab as km


def random_ops(n: int, seed: int = 0):
    """The random workload, drawn before timing so the figure is kmemlab's alone: each
    step frees a random live object (probability 1/2, when any is live) or kmallocs a
    size uniform in 8..16384 (half of them above 8 KiB: kmalloc_large, buddy order 2)."""
    rng = np.random.default_rng(seed)
    return (rng.random(n) < 0.5).tolist(), rng.integers(8, 16385, n).tolist(), rng.random(n).tolist()


def run_random(m, ops) -> tuple[float, int]:
    frees, sizes, picks = ops
    kmalloc, kfree = m.kmalloc, m.kfree
    live = []
    t = time.perf_counter()
    for f, size, r in zip(frees, sizes, picks):
        if f and live:
            i = int(r * len(live))
            p = live[i]
            live[i] = live[-1]         # O(1) removal of a random element
            live.pop()
            kfree(p)
        else:
            live.append(kmalloc(size))
    dt = time.perf_counter() - t
    return dt, len(live)


def buddy_share(ops) -> tuple[float, float]:
    """Run the workload with the page allocator's alloc/free timed: (buddy s, total s)."""
    m = km.Machine(mem="1G", cpus=4)
    b = m._k.buddy
    spent = [0.0]
    alloc, free = b.alloc, b.free
    clock = time.perf_counter

    def timed_alloc(*a, **kw):
        t = clock()
        r = alloc(*a, **kw)
        spent[0] += clock() - t
        return r

    def timed_free(*a):
        t = clock()
        free(*a)
        spent[0] += clock() - t
    b.alloc, b.free = timed_alloc, timed_free
    total, _ = run_random(m, ops)
    return spent[0], total


def hook_overhead(rounds: int = 9) -> tuple[float, float]:
    """kmalloc(64)+kfree with the tracing hooks (as shipped) and with copies of
    Slub.kmalloc / Slub.kfree whose `k.tracer is not None` branch is cut out,
    measured alternately so load changes hit both: (hooked us, bare us), medians."""
    import inspect
    import statistics
    import textwrap

    from kmemlab.kernel import slub as S

    def bare(fn):
        lines, out, skip = textwrap.dedent(inspect.getsource(fn)).split("\n"), [], False
        for line in lines:
            if "k.tracer is not None" in line:
                skip = True
                continue
            if skip:
                skip = False
                continue
            out.append(line)
        ns = {}
        exec("\n".join(out), vars(S), ns)
        return ns[fn.__name__]
    hooked = (S.Slub.kmalloc, S.Slub.kfree)
    variants = {"hooked": hooked, "bare": (bare(S.Slub.kmalloc), bare(S.Slub.kfree))}
    m = km.Machine(mem="256M", cpus=4)

    def pair():
        m.kfree(m.kmalloc(64))
    res = {"hooked": [], "bare": []}
    try:
        for _ in range(rounds):
            for name, (a, f) in variants.items():
                S.Slub.kmalloc, S.Slub.kfree = a, f
                res[name].append(median_us(pair, number=5000, repeat=3))
    finally:
        S.Slub.kmalloc, S.Slub.kfree = hooked
    return statistics.median(res["hooked"]), statistics.median(res["bare"])


def run(quick: bool = False) -> list[dict]:
    out = []
    hooked, bare = hook_overhead(5 if quick else 9)
    out.append(figure("tracing off: hook overhead on kmalloc(64)+kfree", 100 * (hooked / bare - 1), "%",
                      10.0, note=f"with hooks {hooked:.3f} us, same code without them {bare:.3f} us"))
    m = km.Machine(mem="256M", cpus=4)
    kmalloc, kfree = m.kmalloc, m.kfree

    def pair():
        kfree(kmalloc(64))
    pair_us = median_us(pair, number=2000)
    out.append(figure("kmalloc(64)+kfree pair (cpu freelist hit)", pair_us, "us", 3.0))

    def traced_pair():
        with m.trace():
            kfree(kmalloc(64))
    out.append(figure("kmalloc(64)+kfree pair inside `with m.trace()`", median_us(traced_pair, number=500),
                      "us", note="the traced path records ~10 calls; cost when tracing is off: "
                                 "see the pair figure (one `k.tracer is not None` test per call)"))
    large = lambda: kfree(kmalloc(12000))        # noqa: E731
    out.append(figure("kmalloc(12000)+kfree pair (kmalloc_large, buddy order 2)", median_us(large, number=1000), "us"))
    b = m._k.buddy
    bp = lambda: b.free(b.alloc(0xcc0 | 0x4000, 2, 7), 2)    # noqa: E731
    out.append(figure("  of which buddy alloc(order 2)+free alone", median_us(bp, number=1000), "us"))

    n = 200_000 if quick else 1_000_000
    ops = random_ops(n)
    dt, _ = run_random(km.Machine(mem="1G", cpus=4), ops)
    target = 5.0 if not quick else 1.0
    out.append(figure(f"{n // 1000}k random kmalloc(8..16k)/kfree calls", dt, "s", target,
                      note="half the kmallocs are above 8 KiB (kmalloc_large -> buddy order 2)"))
    out.append(figure(f"  per call ({n // 1000}k random)", dt / n * 1e6, "us"))
    bs, tot = buddy_share(random_ops(n // 5))
    out.append(figure("  share of the random run inside buddy alloc/free", 100 * bs / tot, "%",
                      note="measured on a fifth of the run with timers around buddy.alloc/free"))
    return out


if __name__ == "__main__":
    for rec in run(quick="--quick" in sys.argv):
        print(json.dumps(rec))
