"""6.7+ pcp auto-tuning on free: free_unref_page_commit() (6.14+ free_frozen_page_commit())
with nr_pcp_high() and nr_pcp_free(), checked against the kernel's formula after every free
of a long seeded workload.

BuddyAllocator.free_unref_page_commit returns early when the list is below ``high``, ``high``
is inside high_min .. high_max, the free is not a high-order run (free_high) and the zone is
not ZONE_BELOW_HIGH: every branch of nr_pcp_high() then leaves pcp->high as it is. This test
is what says that shortcut is exact: the expected state is worked out here from the kernel's
code (mm/page_alloc.c, 6.18; without PCPF_FREE_HIGH_BATCH, as kmemlab/kernel/pcp.py says),
not from kmemlab's, and compared field by field with what the machine did."""

import random

import pytest

import kmemlab as km
from kmemlab.kernel.buddy import WMARK_HIGH
from kmemlab.kernel.pcp import PAGE_ALLOC_COSTLY_ORDER, PCP_BATCH_SCALE_MAX, PCPF_PREV_FREE_HIGH_ORDER


def kernel_commit(pcp, below_high, order):
    """free_frozen_page_commit() up to the drain, on a copy of the fields: returns the fields
    it leaves, the count it passes to free_pcppages_bulk() (None: no drain) and free_high."""
    f = {n: getattr(pcp, n) for n in ("count", "high", "high_min", "high_max", "batch", "flags",
                                      "alloc_factor", "free_count")}
    f["alloc_factor"] >>= 1
    f["count"] += 1 << order
    batch = f["batch"]
    free_high = False
    if order and order <= PAGE_ALLOC_COSTLY_ORDER:
        free_high = (f["free_count"] >= batch + f["high_min"] // 2
                     and bool(f["flags"] & PCPF_PREV_FREE_HIGH_ORDER))
        f["flags"] |= PCPF_PREV_FREE_HIGH_ORDER
    elif f["flags"] & PCPF_PREV_FREE_HIGH_ORDER:
        f["flags"] &= ~PCPF_PREV_FREE_HIGH_ORDER
    if f["free_count"] < batch << PCP_BATCH_SCALE_MAX:
        f["free_count"] += 1 << order

    def nr_pcp_high():
        high_min, high_max = f["high_min"], f["high_max"]
        high = f["high"] = min(max(f["high"], high_min), high_max)          # clamp()
        if not high:
            return 0
        if free_high:
            f["high"] = max(high - (batch << PCP_BATCH_SCALE_MAX), high_min)
            return 0
        if high_min == high_max:
            return high
        if below_high:
            f["high"] = max(high - max(f["free_count"], batch), high_min)
            return max(f["count"], high_min)
        if f["count"] >= high:
            need_high = f["free_count"] + batch
            if f["high"] < need_high:
                f["high"] = min(max(need_high, high_min), high_max)
        return high

    def nr_pcp_free(high):
        if free_high:
            return min(f["count"], batch << PCP_BATCH_SCALE_MAX)
        if high < batch:
            return 1
        return min(max(f["free_count"], batch), high - batch)              # clamp_t()

    high = nr_pcp_high()
    return f, (nr_pcp_free(high) if f["count"] >= high else None), free_high


SCALARS = ("high", "high_min", "high_max", "batch", "flags", "alloc_factor", "free_count")


def check_every_commit(m, seen):
    """Wrap the machine's free_unref_page_commit (and record free_pcppages_bulk's count) so
    each free is compared with kernel_commit()."""
    b = m._k.buddy
    commit, bulk = b.free_unref_page_commit, b.free_pcppages_bulk
    drains = []

    def recording_bulk(z, count, pcp, pindex=0):
        drains.append(count)
        return bulk(z, count, pcp, pindex)

    def checked_commit(z, pcp, pfn, mt, order):
        below = z.below_high
        want, drain, free_high = kernel_commit(pcp, below, order)
        pindex = b.order_to_pindex(mt, order)
        lists = [lst[:] for lst in pcp.lists]
        lists[pindex].append(pfn)                         # list_add(): the head (stored last)
        drains.clear()
        commit(z, pcp, pfn, mt, order)
        assert {n: getattr(pcp, n) for n in SCALARS} == {n: want[n] for n in SCALARS}
        if drain is None:
            assert drains == [] and pcp.count == want["count"] and pcp.lists == lists
            assert z.below_high == below
            seen["kept" if not below else "kept_below_high"] += 1
        else:
            assert drains == [drain]
            still_below = below and not b.zone_watermark_ok(z, 0, z.watermark[WMARK_HIGH],
                                                            len(z.lowmem_reserve) - 1, 0)
            assert z.below_high == still_below
            seen["drained_below_high" if below else "drained"] += 1
        seen["free_high"] += free_high

    b.free_unref_page_commit = checked_commit
    b.free_pcppages_bulk = recording_bulk


@pytest.mark.parametrize("kernel", ["6.8", "6.18"])
def test_free_commit_matches_the_kernel_formula_over_a_long_random_workload(kernel):
    m = km.Machine(mem="256M", kernel=kernel, seed=7)
    seen = {k: 0 for k in ("kept", "kept_below_high", "drained", "drained_below_high", "free_high")}
    check_every_commit(m, seen)
    rng = random.Random(1234)
    held = []
    gfps = (km.GFP_KERNEL, km.GFP_HIGHUSER_MOVABLE)
    # phases: fill most of memory (the zone drops below its high watermark), then churn,
    # then give nearly everything back; high-order runs now and then (free_high)
    for phase in range(6):
        target = 44000 if phase % 2 == 0 else 200
        for _ in range(30000):
            grow = len(held) < target
            if rng.random() < (0.7 if grow else 0.3):
                order = rng.choice((0, 0, 0, 0, 0, 0, 1, 2, 3, 9)) if rng.random() < 0.1 else 0
                pg = m.alloc_pages(rng.choice(gfps) | km.__GFP_NOWARN, order)
                if pg is not None:
                    held.append((pg, order))
            elif held:
                i = rng.randrange(len(held))
                held[i], held[-1] = held[-1], held[i]
                pg, order = held.pop()
                m.free_pages(pg, order)
            if rng.random() < 0.0005:
                m.drain_all_pages()
    for pg, order in held:
        m.free_pages(pg, order)
    # the workload reached every branch the shortcut must agree with
    assert all(v > 0 for v in seen.values()), seen
