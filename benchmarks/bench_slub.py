"""SLUB / kmalloc figures (issue 3 targets): kmalloc(64)+kfree pairs, 1M random kmalloc/kfree
calls, the cost of the tracing hooks, and how much of the random run the page allocator takes.

    PYTHONPATH=. python benchmarks/bench_slub.py [--quick]
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from common import figure, median_us, paired

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
        # drop each `if tr is not None:` (or `k.tracer is not None`) with the block under it
        lines, out, skip = textwrap.dedent(inspect.getsource(fn)).split("\n"), [], None
        for line in lines:
            indent = len(line) - len(line.lstrip())
            if skip is not None:
                if line.strip() and indent > skip:
                    continue
                skip = None
            if "if tr is not None" in line or "k.tracer is not None" in line:
                skip = indent
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


def random_run_with_refusals(n: int, seed: int = 1) -> tuple[int, int, int, float]:
    """Issue 19's long random run for the slab allocator: ``n`` steps spread over every
    profile (each with a kernel of its own), mixing kmalloc / kzalloc / kfree / krealloc /
    kmem_cache_* on two CPUs with calls the kernel refuses (kfree(-1), an ERR_PTR, krealloc
    of a vmalloc address, destroying a kmalloc cache, ksize(-1)). Every refused call must raise
    KernelBug and leave /proc/slabinfo and /proc/buddyinfo as they were; the invariants are
    checked every 20000 steps. Returns (steps, refused calls, violations, seconds)."""
    rng = np.random.default_rng(seed)
    plan = [("x86_64", "6.18"), ("x86_64-la57", "6.6"), ("i386", "5.10"), ("tiny", "4.19")]
    steps = refused = violations = 0
    t0 = time.perf_counter()
    for profile, kernel in plan:
        m = km.Machine(profile=profile, mem=None if profile == "tiny" else "128M", cpus=2, kernel=kernel,
                       seed=seed)
        caches = [m.kmem_cache_create("bench_a", 72), m.kmem_cache_create("bench_b", 72),
                  m.kmem_cache_create("bench_c", 200)]
        live: list[tuple[int, object]] = []
        vm = m.vmalloc(4096)                  # not the direct map: never kmalloc memory
        gfps = [km.GFP_KERNEL, km.GFP_KERNEL | km.__GFP_ZERO, km.GFP_KERNEL_ACCOUNT, km.GFP_NOWAIT]
        refusals = [lambda: m.kfree(-1), lambda: m.kfree(km.ERR_PTR(-km.ENOMEM)),
                    lambda: m.krealloc(vm, 64), lambda: m.kmem_cache_destroy(m.find_cache("kmalloc-64")),
                    lambda: m.ksize(-1)]
        ops = rng.integers(0, 100, n // len(plan)).tolist()
        sizes = rng.integers(1, 9000, n // len(plan)).tolist()
        picks = rng.random(n // len(plan)).tolist()
        for i, (op, size, r) in enumerate(zip(ops, sizes, picks)):
            with m.on_cpu(i & 1):
                if op < 1:
                    before = (m.proc.slabinfo(), m.proc.buddyinfo())
                    try:
                        refusals[int(r * len(refusals))]()
                        violations += 1                     # accepted: a violation
                    except km.KernelBug:
                        pass
                    if (m.proc.slabinfo(), m.proc.buddyinfo()) != before:
                        violations += 1
                    refused += 1
                elif op < 45 or not live:
                    if op < 12:
                        c = caches[int(r * len(caches))]
                        p = m.kmem_cache_alloc(c)
                        if p:
                            live.append((p, c))
                    else:
                        p = m.kmalloc(size if op < 40 else size * 4, gfps[op & 3])
                        if p:
                            live.append((p, None))
                elif op < 90:
                    j = int(r * len(live))
                    p, c = live[j]
                    live[j] = live[-1]
                    live.pop()
                    if c is None:
                        m.kfree(p)
                    else:
                        m.kmem_cache_free(c, p)
                else:
                    j = int(r * len(live))
                    p, c = live[j]
                    if c is None:
                        q = m.krealloc(p, size)
                        if q:
                            live[j] = (q, None)
            steps += 1
            if i % 20000 == 19999:
                try:
                    m.check_invariants()
                except AssertionError:
                    violations += 1
                m.dmesg(clear=True)
        try:
            m.check_invariants()
        except AssertionError:
            violations += 1
    return steps, refused, violations, time.perf_counter() - t0


def after_trace_snapshot(calls: int = 40_000, rounds: int = 9) -> dict[str, float]:
    """kmalloc(64)+kfree pairs on a machine after ``with m.trace(): pass``, on one after
    ``m.snapshot()``, and on one after ``m.restore(m.snapshot())``, each over a fresh
    machine (issue 19: Python 3.11 stopped specialising method calls on the Slub object
    once tracing or deepcopy had touched its instance dict). Interleaved rounds, CPU
    time, best of each; returns the three ratios (target ~1.0)."""
    def machine():
        m = km.Machine(mem="128M", seed=0)
        for p in [m.kmalloc(64) for _ in range(64)]:      # warm the CPU slab: the fast path
            m.kfree(p)
        return m
    fresh, traced, snapped, restored = machine(), machine(), machine(), machine()
    with traced.trace():
        pass
    snap = snapped.snapshot()                     # noqa: F841 - kept, as a notebook would
    restored.restore(restored.snapshot())

    def pair_s(m):
        kmalloc, kfree = m.kmalloc, m.kfree
        t = time.process_time()
        for _ in range(calls // 2):
            kfree(kmalloc(64))
        return time.process_time() - t
    sides = {"fresh": fresh, "trace": traced, "snapshot": snapped, "restore": restored}
    best = {k: float("inf") for k in sides}
    for _ in range(rounds):
        for k, m in sides.items():
            best[k] = min(best[k], pair_s(m))
    return {k: best[k] / best["fresh"] for k in ("trace", "snapshot", "restore")}


def run(quick: bool = False) -> list[dict]:
    out = []
    hooked, bare = hook_overhead(5 if quick else 9)
    out.append(figure("tracing off: hook overhead on kmalloc(64)+kfree", 100 * (hooked / bare - 1), "%",
                      10.0, note=f"with hooks {hooked:.3f} us, same code without them {bare:.3f} us"))
    m = km.Machine(mem="256M", cpus=4)
    kmalloc, kfree = m.kmalloc, m.kfree

    def pair():
        kfree(kmalloc(64))
    pair_us, ratio = paired(pair, repeat=7 if quick else 25)
    rec = figure("kmalloc(64)+kfree pair (cpu freelist hit)", pair_us, "us", 3.0)
    rec["floor_ratio"] = round(ratio, 1)
    out.append(rec)
    # the ratio from the fastest CPU-time repeats of the pair and of the floor, each right
    # after the other (common.paired): other processes' load only ever adds to either side
    out.append(figure("  the pair in same-run floors (target <= 20x)", ratio, "x", 20.0,
                      note="fastest CPU-time pair over fastest floor, timed alternately"))
    churn_m = km.Machine(mem="256M", cpus=4)
    churn_n = 4096

    def churn():
        # fill 128 slabs of kmalloc-128, free every other object (each slab goes onto the CPU
        # partial list, which drains to the node), then the rest: the slow paths of
        # ___slab_alloc() and __slab_free() with CPU partial lists on
        ps = [churn_m.kmalloc(128) for _ in range(churn_n)]
        for p in ps[::2]:
            churn_m.kfree(p)
        for p in ps[1::2]:
            churn_m.kfree(p)
    churn_us = median_us(churn, number=1, repeat=9) / (2 * churn_n)
    out.append(figure("kmalloc(128)/kfree churn over 128 slabs, per call (cpu partial lists on)", churn_us, "us",
                      note="allocation refills from the CPU partial and node partial lists, frees fill and drain "
                           "the CPU partial list (put_cpu_partial/__put_partials)"))

    def traced_pair():
        with m.trace():
            kfree(kmalloc(64))
    out.append(figure("kmalloc(64)+kfree pair inside `with m.trace()`", median_us(traced_pair, number=500),
                      "us", note="the traced path records ~10 calls; cost when tracing is off: "
                                 "see the pair figure (one `k.tracer is not None` test per call)"))
    after = after_trace_snapshot(20_000 if quick else 40_000, 5 if quick else 9)
    for what, how in (("trace", "`with m.trace(): pass`"), ("snapshot", "m.snapshot()"),
                      ("restore", "m.restore(m.snapshot())")):
        out.append(figure(f"kmalloc(64)+kfree pair after {how} / fresh machine", after[what], "ratio",
                          1.05, note="interleaved rounds, best of each (issue 19: the Slub object "
                                     "stays specialised)"))
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
    steps, refused, bad, secs = random_run_with_refusals(100_000 if quick else 1_000_000)
    out.append(figure(f"random slab run over 4 profiles: {steps} steps, {refused} refused calls mixed in",
                      bad, "violations", 0,
                      note=f"{secs:.1f} s; invariants every 20000 steps, refused calls compared with "
                           "/proc/slabinfo and /proc/buddyinfo"))
    return out


if __name__ == "__main__":
    for rec in run(quick="--quick" in sys.argv):
        print(json.dumps(rec))
