"""Golden recordings of the page allocator: seeded workloads whose results, buddyinfo,
per-cpu list counts and a digest of the exact free lists are stored, step by step, in
tests/data/golden/buddy-*.json. tests/test_buddy_golden.py replays each workload and
compares every step, so any change to what the allocator does (a pfn handed out, a list
order, a merge, a pcp refill or drain, a trace) shows as the first step that differs.

The recordings change only on purpose. After a deliberate change to the allocator's
behaviour (or to the pristine boot state), regenerate them and review the diff:

    .venv/bin/python tests/golden_buddy.py --regenerate

Each workload runs on a pristine machine (``boot="bare"`` where the Machine has it):
alloc_pages of every order and migratetype (so fallbacks and pageblock steals happen),
frees in random order, the bulk allocator and vfree's bulk free, drain_all_pages(), on
small machines (so watermarks, the slow path and failures happen), some steps traced,
across generations, profiles and NUMA, with the per-cpu lists on and off.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import random
import sys
from pathlib import Path

import kmemlab as km
from kmemlab.kernel.mem_map import K_PAGES

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
NOWARN = int(km.__GFP_NOWARN)
GFPS = [int(g) for g in (km.GFP_KERNEL, km.GFP_ATOMIC, km.GFP_KERNEL | km.GFP_DMA, km.GFP_HIGHUSER_MOVABLE,
                         km.GFP_KERNEL | km.__GFP_RECLAIMABLE, km.GFP_KERNEL | km.__GFP_ZERO | km.__GFP_COMP,
                         km.GFP_NOWAIT, km.GFP_KERNEL | km.__GFP_NOWARN)]
#: name -> (Machine keyword arguments, seed, steps)
WORKLOADS = {
    "x86_64-64M-6.18": (dict(profile="x86_64", mem="64M", cpus=2, kernel="6.18"), 1, 400),
    "x86_64-64M-6.6": (dict(profile="x86_64", mem="64M", cpus=2, kernel="6.6"), 2, 400),
    "x86_64-64M-5.15": (dict(profile="x86_64", mem="64M", cpus=2, kernel="5.15"), 3, 300),
    "x86_64-64M-4.5": (dict(profile="x86_64", mem="64M", cpus=2, kernel="4.5"), 4, 300),
    "tiny-6.18": (dict(profile="tiny", mem="16M", cpus=4, kernel="6.18"), 5, 400),
    "i386-64M-6.12": (dict(profile="i386", mem="64M", cpus=2, kernel="6.12"), 6, 300),
    "x86_64-128M-2nodes-6.18": (dict(profile="x86_64", mem="128M", nodes=2, cpus=4, kernel="6.18"), 7, 300),
    "x86_64-64M-6.18-nopcp": (dict(profile="x86_64", mem="64M", cpus=2, kernel="6.18", pcp=False), 8, 300),
}


def machine(kw: dict) -> km.Machine:
    """A pristine machine: ``boot="bare"`` once Machine() boots into a post-init state."""
    extra = {"boot": "bare"} if "boot" in inspect.signature(km.Machine).parameters else {}
    return km.Machine(seed=0, **kw, **extra)


def digest(m: km.Machine) -> str:
    """sha1 of everything the allocator decides: each free list in list order, every
    per-cpu list in list order with its counters, the zone counters, pageblock types,
    the mem_map arrays and the log."""
    k = m._k
    h = hashlib.sha1()
    for z in k.zones:
        h.update(repr((z.nr_free_pages, z.below_high, z.vm_numa_event,
                       [[list(reversed(fl)) for fl in per_order] for per_order in z._lists])).encode())
        for p in z.per_cpu_pageset:
            h.update(repr((p.count, p.high, p.batch, p.high_min, p.high_max, p.free_count, p.free_factor,
                           p.alloc_factor, p.flags, [p.pcp_list(i) for i in range(len(p.lists))])).encode())
    mm = k.mem_map
    for arr in (k.buddy.pageblock_mt, mm.kind, mm.order, mm.flags, mm.owner):
        h.update(arr.tobytes())
    h.update(str(m.dmesg()).encode())
    return h.hexdigest()


def snapshot(m: km.Machine) -> dict:
    """What a step records besides the digest: buddyinfo's counts and pcp counts per zone."""
    return {"buddyinfo": [[fa.nr_free for fa in z.free_area] for z in m.zones if z.populated()],
            "pcp": [[p.count for p in z.per_cpu_pageset] for z in m.zones if z.populated()]}


def run(kw: dict, seed: int, steps: int) -> list[dict]:
    """The workload: ``steps`` seeded operations, each with its result and the state after."""
    m = machine(kw)
    b = m._k.buddy
    rng = random.Random(seed)
    held: list[tuple[int, int]] = []
    out = [{"op": ["boot"], "result": None, **snapshot(m), "digest": digest(m)}]
    for i in range(steps):
        r = rng.random()
        traced = rng.random() < 0.08
        if r < 0.45 or not held:
            gfp = rng.choice(GFPS) | NOWARN
            order = rng.choice((0, 0, 0, 0, 1, 2, 3, 3, 4, 6, 9, 10))
            node = rng.choice((-1, -1, 0, 1)) if m.nodes > 1 else -1
            op = ["alloc", gfp, order, node]
            call = lambda: b.alloc(gfp, order, K_PAGES, 7, node)            # noqa: E731
        elif r < 0.85:
            j = rng.randrange(len(held))
            pfn, order = held.pop(j)
            op = ["free", pfn, order]
            call = lambda: (b.check_free(pfn, order), b.free(pfn, order))[1]     # noqa: E731
        elif r < 0.93:
            gfp, nr = rng.choice(GFPS) | NOWARN, rng.randint(2, 100)
            op = ["alloc_bulk", gfp, nr]
            call = lambda: b.alloc_bulk(gfp, nr, K_PAGES, 9)                # noqa: E731
        elif r < 0.98:
            pages = [p for p, o in held if o == 0][:rng.randint(1, 120)]
            held[:] = [(p, o) for p, o in held if o or p not in set(pages)]
            op = ["free_bulk", len(pages)]
            call = lambda: b.free_bulk(pages)                               # noqa: E731
        else:
            op = ["drain_all_pages"]
            call = lambda: b.drain_all_pages()                              # noqa: E731
        cpu = rng.randrange(m.cpus)
        op.append(cpu)
        with m.on_cpu(cpu):
            if traced:
                with m.trace() as t:
                    result = call()
                trace = hashlib.sha1(str(t).encode()).hexdigest()
            else:
                result, trace = call(), None
        if op[0] == "alloc" and result >= 0:
            held.append((result, op[2]))
        elif op[0] == "alloc_bulk":
            held.extend((p, 0) for p in result)
        step = {"op": op, "result": result, **snapshot(m), "digest": digest(m)}
        if trace is not None:
            step["trace"] = trace
        out.append(step)
    m.check_invariants()
    return out


def path(name: str) -> Path:
    return GOLDEN / f"buddy-{name}.json"


def regenerate() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, (kw, seed, steps) in WORKLOADS.items():
        data = {"workload": name, "machine": kw, "seed": seed,
                "regenerate": "python tests/golden_buddy.py --regenerate", "steps": run(kw, seed, steps)}
        path(name).write_text(json.dumps(data, separators=(",", ":")) + "\n")
        print(f"wrote {path(name)} ({steps} steps)")


if __name__ == "__main__":
    if "--regenerate" not in sys.argv:
        sys.exit(__doc__)
    regenerate()
