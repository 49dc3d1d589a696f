"""The page allocator's free lists are stored reversed (the OrderedDict's last item is
the list head) and its alloc/free paths are inlined for speed. This pins that nothing
observable changed: the previous implementation (tests/buddy_reference.py, the file as
it was) runs side by side on a twin machine, and after every step of a random sequence
of alloc / free / alloc_bulk / free_bulk calls (every migratetype, so fallbacks and
pageblock steals happen; small machines, so the slow path and failures happen; some
calls traced) both return the same pfns and hold the same free lists in the same
order, the same counters, pageblock types, mem_map arrays, dmesg and traces."""

from buddy_reference import BuddyAllocator as RefBuddy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kmemlab as km
from kmemlab.kernel.mem_map import K_PAGES

NOWARN = km.__GFP_NOWARN
GFPS = [int(g) for g in (km.GFP_KERNEL, km.GFP_ATOMIC, km.GFP_KERNEL | km.GFP_DMA, km.GFP_HIGHUSER_MOVABLE,
                         km.GFP_KERNEL | km.__GFP_RECLAIMABLE, km.GFP_KERNEL | km.__GFP_ZERO | km.__GFP_COMP,
                         km.GFP_NOWAIT, km.GFP_KERNEL | NOWARN)]
CONFIGS = [dict(profile="x86_64", mem="64M"), dict(profile="tiny", mem="16M"),
           dict(profile="x86_64", mem="128M", nodes=2, cpus=4), dict(profile="i386", mem="64M")]


def twins(cfg):
    new = km.Machine(seed=3, kernel="6.6", **cfg)  # the frozen reference traces 6.6 names
    ref = km.Machine(seed=3, kernel="6.6", **cfg)
    b = ref._k.buddy
    b.__class__ = RefBuddy               # the old code on the same state...
    b._plans = {}
    for z in ref._k.zones:               # ...with its lists in the old (forward) order
        for per_order in z._lists:
            for i, fl in enumerate(per_order):
                per_order[i] = type(fl)((p, None) for p in reversed(fl))
    return new, ref


def state(m, reversed_lists):
    k = m._k
    zones = []
    for z in k.zones:
        lists = [[list(reversed(fl)) if reversed_lists else list(fl) for fl in per_order]
                 for per_order in z._lists]
        zones.append((lists, dict(z._head), z.nr_free_pages))
    mm = k.mem_map
    return zones, k.buddy.pageblock_mt.tobytes(), mm.kind.tobytes(), mm.order.tobytes(), \
        mm.flags.tobytes(), mm.owner.tobytes(), str(m.dmesg())


OPS = st.lists(st.one_of(
    st.tuples(st.just("alloc"), st.sampled_from(GFPS), st.integers(0, 10), st.integers(-1, 1), st.booleans()),
    st.tuples(st.just("free"), st.integers(0, 10**6), st.booleans()),
    st.tuples(st.just("bulk"), st.sampled_from(GFPS), st.integers(1, 120)),
    st.tuples(st.just("free_bulk"), st.integers(1, 200))), min_size=1, max_size=60)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=st.sampled_from(CONFIGS), ops=OPS)
def test_free_lists_and_results_identical_to_the_reference_allocator(cfg, ops):
    new, ref = twins(cfg)
    assert state(new, True) == state(ref, False)
    live = {id(new): [], id(ref): []}
    for m in (new, ref):                 # a used machine: small free blocks everywhere
        held = [m._k.buddy.alloc(GFPS[0], 0, K_PAGES, 7) for _ in range(600)]
        for i, pfn in enumerate(held):
            if i % 3:
                m._k.buddy.free(pfn, 0)
            else:
                live[id(m)].append((pfn, 0))
    assert state(new, True) == state(ref, False)

    def step(m, op):
        k, b, held = m._k, m._k.buddy, live[id(m)]
        if op[0] == "alloc":
            _, gfp, order, node, traced = op
            if node >= k.nr_nodes:
                node = -1
            if traced:
                with m.trace() as t:
                    pfn = b.alloc(gfp, order, K_PAGES, 7, node)
                out = (pfn, str(t))
            else:
                out = pfn = b.alloc(gfp, order, K_PAGES, 7, node)
            if pfn >= 0:
                held.append((pfn, order))
            return out
        if op[0] == "free":
            if not held:
                return None
            pfn, order = held.pop(op[1] % len(held))
            b.check_free(pfn, order)
            if op[2]:
                with m.trace() as t:
                    b.free(pfn, order)
                return str(t)
            b.free(pfn, order)
            return pfn
        if op[0] == "bulk":
            pfns = b.alloc_bulk(op[1], op[2], K_PAGES, 9)
            held.extend((p, 0) for p in pfns)
            return pfns
        pages = [p for p, o in held if o == 0][:op[1]]
        held[:] = [(p, o) for p, o in held if o or p not in set(pages)]
        b.free_bulk(pages)
        return pages

    for op in ops:
        assert step(new, op) == step(ref, op)
        assert state(new, True) == state(ref, False)
    new.check_invariants()


def test_free_list_reads_list_head_first():
    """free_area[o].free_list() is in kernel list order: after boot (every block freed
    to the tail, lowest first) the lowest pfn is the head; a block freed later (not
    likely to merge) goes to the head."""
    m = km.Machine(mem="256M")
    z = next(z for z in m.zones if z.name == "DMA32")
    top = z.free_area[10].free_list()
    assert top == sorted(top) and len(top) > 1
    pg = m.alloc_pages(km.GFP_HIGHUSER_MOVABLE, 10)
    assert pg.pfn == top[0]                         # the head is taken first
    assert z.free_area[10].free_list() == top[1:]
    m.free_pages(pg, 10)                            # order 10: no merge, back to the head
    assert z.free_area[10].free_list() == top
